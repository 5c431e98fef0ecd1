//! Where a provider's endpoints are: OIDC discovery for every OIDC kind,
//! fixed URLs for GitHub. Also which `iss` its ID tokens must carry.

use serde::Deserialize;

use crate::config::is_allowed_url;
use crate::{OAuthError, PkceMode, ProviderConfig, ProviderKind};

/// Microsoft's multi-tenant discovery names the issuer with this
/// placeholder; each token's `tid` fills it in.
const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// A provider's resolved endpoints.
#[derive(Debug)]
pub(crate) struct Endpoints {
    pub(crate) authorization: String,
    pub(crate) token: String,
    /// OIDC kinds only.
    pub(crate) jwks_uri: Option<String>,
    /// GitHub only: the REST API base.
    pub(crate) api: Option<String>,
    pub(crate) issuer: ExpectedIssuer,
    pub(crate) uses_pkce: bool,
}

/// What an ID token's `iss` must be.
#[derive(Debug)]
pub(crate) enum ExpectedIssuer {
    /// This issuer. Google's tokens may also say it without `https://`.
    Exact {
        issuer: String,
        alias: Option<String>,
    },
    /// Microsoft multi-tenant: the template with the token's `tid` in place
    /// of `{tenantid}`.
    Tenant { template: String },
}

impl ExpectedIssuer {
    /// The issuer of a token claiming `iss` (and `tid`), or `None` when the
    /// token is not from this provider. The result is the canonical issuer
    /// recorded with the identity.
    pub(crate) fn accept(&self, iss: &str, tid: Option<&str>) -> Option<String> {
        match self {
            Self::Exact { issuer, alias } => {
                (iss == issuer || alias.as_deref() == Some(iss)).then(|| issuer.clone())
            }
            Self::Tenant { template } => {
                let tid = tid.filter(|t| is_tenant_segment(t))?;
                let expected = template.replace(TENANT_PLACEHOLDER, tid);
                (iss == expected).then_some(expected)
            }
        }
    }

    /// Whether a token must carry `tid` to be checked at all.
    pub(crate) fn needs_tenant(&self) -> bool {
        matches!(self, Self::Tenant { .. })
    }
}

#[derive(Deserialize)]
struct Document {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    code_challenge_methods_supported: Vec<String>,
}

/// Resolves `config`'s endpoints; calls discovery for OIDC kinds.
pub(crate) async fn resolve(
    config: &ProviderConfig,
    http: &reqwest::Client,
) -> Result<Endpoints, OAuthError> {
    let id = &config.id;
    let issuer = config
        .issuer()
        .ok_or_else(|| OAuthError::provider(id, "no issuer configured"))?;
    if config.kind == ProviderKind::Github {
        return Ok(crate::github::endpoints(config, &issuer));
    }
    let url = format!("{issuer}/.well-known/openid-configuration");
    let document: Document = crate::http::fetch_json(http, id, "discovery", http.get(&url)).await?;
    let invalid = |why: String| OAuthError::provider(id, format!("discovery at {url}: {why}"));
    let expected = expected_issuer(config.kind, &issuer, &document.issuer).ok_or_else(|| {
        invalid(format!(
            "the document's issuer {:?} is not the configured {issuer:?}",
            document.issuer
        ))
    })?;
    for (name, endpoint) in [
        ("authorization_endpoint", &document.authorization_endpoint),
        ("token_endpoint", &document.token_endpoint),
        ("jwks_uri", &document.jwks_uri),
    ] {
        let allowed = if name == "authorization_endpoint" {
            is_https_with_query(endpoint)
        } else {
            is_allowed_url(endpoint)
        };
        if !allowed {
            return Err(invalid(format!("{name} {endpoint:?} is not an https URL")));
        }
    }
    let lists_s256 = document
        .code_challenge_methods_supported
        .iter()
        .any(|m| m == "S256");
    Ok(Endpoints {
        authorization: document.authorization_endpoint,
        token: document.token_endpoint,
        jwks_uri: Some(document.jwks_uri),
        api: None,
        issuer: expected,
        uses_pkce: match config.pkce {
            PkceMode::Auto => lists_s256,
            PkceMode::Always => true,
            PkceMode::Never => false,
        },
    })
}

/// An authorization endpoint may carry its own query (some IdPs route by
/// it); we append to it, so only the scheme rule applies.
fn is_https_with_query(endpoint: &str) -> bool {
    reqwest::Url::parse(endpoint).is_ok_and(|u| u.fragment().is_none())
        && is_allowed_url(endpoint.split('?').next().unwrap_or_default())
}

/// The `iss` rule, when the document's issuer is the configured one. For
/// Microsoft it may instead be the `{tenantid}` template of it (`common`,
/// `organizations`), or the tenant's own issuer when the tenant was
/// configured by name (`consumers`, `contoso.onmicrosoft.com`): the tenant's
/// GUID then replaces the name.
fn expected_issuer(kind: ProviderKind, configured: &str, document: &str) -> Option<ExpectedIssuer> {
    let document = document.trim_end_matches('/');
    let exact = |issuer: &str| ExpectedIssuer::Exact {
        issuer: issuer.to_owned(),
        alias: (kind == ProviderKind::Google)
            .then(|| issuer.strip_prefix("https://").map(str::to_owned))
            .flatten(),
    };
    if document == configured {
        return Some(exact(configured));
    }
    if kind != ProviderKind::Microsoft {
        return None;
    }
    let (configured_base, configured_tenant, configured_tail) = split_tenant(configured)?;
    let (base, tenant, tail) = split_tenant(document)?;
    if (base, tail) != (configured_base, configured_tail) || !is_tenant_segment(configured_tenant) {
        return None;
    }
    if tenant == TENANT_PLACEHOLDER {
        Some(ExpectedIssuer::Tenant {
            template: document.to_owned(),
        })
    } else {
        is_tenant_segment(tenant).then(|| exact(document))
    }
}

/// `https://host/{tenant}/v2.0` as (`https://host`, tenant, `v2.0`).
fn split_tenant(issuer: &str) -> Option<(&str, &str, &str)> {
    let (head, tail) = issuer.rsplit_once('/')?;
    let (base, tenant) = head.rsplit_once('/')?;
    Some((base, tenant, tail))
}

/// A tenant id or name as one path segment: it is substituted into a URL we
/// then compare, so nothing may change the URL's structure.
fn is_tenant_segment(tenant: &str) -> bool {
    !tenant.is_empty()
        && tenant.len() <= 64
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";

    #[test]
    fn microsoft_multi_tenant_issuer_is_the_template_with_tid() {
        let rule = expected_issuer(
            ProviderKind::Microsoft,
            "https://login.microsoftonline.com/common/v2.0",
            TEMPLATE,
        );
        let Some(rule) = rule else {
            panic!("template refused")
        };
        assert_eq!(
            rule.accept("https://login.microsoftonline.com/t1/v2.0", Some("t1")),
            Some("https://login.microsoftonline.com/t1/v2.0".to_owned())
        );
        assert_eq!(
            rule.accept("https://login.microsoftonline.com/t2/v2.0", Some("t1")),
            None
        );
        assert_eq!(
            rule.accept("https://login.microsoftonline.com/t1/v2.0", None),
            None
        );
        assert_eq!(
            rule.accept("https://evil.example/v2.0", Some("x/../..")),
            None
        );
    }

    #[test]
    fn a_microsoft_tenant_named_in_config_may_be_its_guid_in_discovery() {
        let rule = expected_issuer(
            ProviderKind::Microsoft,
            "https://login.microsoftonline.com/consumers/v2.0",
            "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
        );
        assert!(matches!(rule, Some(ExpectedIssuer::Exact { .. })));
        let elsewhere = expected_issuer(
            ProviderKind::Microsoft,
            "https://login.microsoftonline.com/consumers/v2.0",
            "https://evil.example/9188040d/v2.0",
        );
        assert!(elsewhere.is_none());
    }

    #[test]
    fn a_template_is_only_accepted_for_microsoft() {
        assert!(
            expected_issuer(
                ProviderKind::Oidc,
                "https://idp/common/v2.0",
                "https://idp/{tenantid}/v2.0"
            )
            .is_none()
        );
    }

    #[test]
    fn google_tokens_may_name_the_issuer_without_scheme() {
        let rule = expected_issuer(
            ProviderKind::Google,
            "https://accounts.google.com",
            "https://accounts.google.com",
        );
        let Some(rule) = rule else {
            panic!("issuer refused")
        };
        assert_eq!(
            rule.accept("accounts.google.com", None),
            Some("https://accounts.google.com".to_owned())
        );
    }
}
