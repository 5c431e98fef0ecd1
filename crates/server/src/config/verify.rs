//! `[verify]`: forward-auth rules of `/v1/verify` and Envoy `ext_authz`.

use anyhow::bail;
use serde::{Deserialize, Serialize};
use warden_core::access::{AccessPolicy, AccessRule, Requirement};
pub use warden_http::sign_in::SignInRedirect;

/// `[verify]`: what a request behind a forward-auth proxy (or Envoy) needs,
/// by its original path. Without rules every request needs a valid token.
#[derive(Debug, Clone, Default)]
pub struct VerifySection {
    /// The `[[verify.rule]]`s; the longest matching prefix wins.
    pub policy: AccessPolicy,
    /// Where `/v1/verify` sends a browser page load without a valid token
    /// (302, with `rd` = where it was going) instead of answering 401: an
    /// `https://` URL or a path on the proxied host. Unset: always 401.
    pub sign_in: Option<SignInRedirect>,
}

/// One `[[verify.rule]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRule {
    /// Path prefix, matched on whole segments of the normalised path
    /// (`/admin/` covers `/admin`, `/ADMIN/x`, `/%61dmin;x/y`).
    pub prefix: String,
    /// Limit the rule to these methods; omitted: all.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Any one of these roles is needed (403 otherwise).
    #[serde(default)]
    pub roles: Vec<String>,
    /// No token needed; no identity passed on. Not with `roles`.
    #[serde(default)]
    pub public: bool,
    /// The session must have presented a second factor (`aal2`); a
    /// one-factor token gets 401 `insufficient_user_authentication`
    /// (RFC 9470). Not with `public`.
    #[serde(default)]
    pub mfa: bool,
    /// Any one of these scopes is needed (403 `insufficient_scope`
    /// otherwise): a service's token (client credentials) or a user's
    /// issued to an OAuth client with it. Not with `public`, `roles` or
    /// `mfa`.
    #[serde(default)]
    pub scopes: Vec<String>,
}

impl VerifyRule {
    /// The rules as the domain uses them: what `[[verify.rule]]` becomes.
    pub fn policy(rules: &[VerifyRule]) -> anyhow::Result<AccessPolicy> {
        let mut parsed = Vec::with_capacity(rules.len());
        for rule in rules {
            if !rule.scopes.is_empty() {
                if rule.public || rule.mfa || !rule.roles.is_empty() {
                    bail!(
                        "verify rule {:?}: `scopes` excludes `public`, `mfa` and `roles`",
                        rule.prefix
                    );
                }
                parsed.push(AccessRule {
                    prefix: rule.prefix.clone(),
                    methods: rule.methods.clone(),
                    requirement: Requirement::AnyScope(rule.scopes.clone()),
                });
                continue;
            }
            let requirement = match (rule.public, rule.mfa, rule.roles.is_empty()) {
                (true, true, _) => bail!(
                    "verify rule {:?}: `public` and `mfa` exclude each other",
                    rule.prefix
                ),
                (true, _, false) => bail!(
                    "verify rule {:?}: `public` and `roles` exclude each other",
                    rule.prefix
                ),
                (true, false, true) => Requirement::Public,
                (false, true, _) => Requirement::MultiFactor(rule.roles.clone()),
                (false, false, true) => Requirement::SignedIn,
                (false, false, false) => Requirement::AnyRole(rule.roles.clone()),
            };
            parsed.push(AccessRule {
                prefix: rule.prefix.clone(),
                methods: rule.methods.clone(),
                requirement,
            });
        }
        Ok(AccessPolicy::new(parsed)?)
    }
}

impl From<&AccessRule> for VerifyRule {
    fn from(rule: &AccessRule) -> Self {
        Self {
            prefix: rule.prefix.clone(),
            methods: rule.methods.clone(),
            roles: rule.requirement.roles().to_vec(),
            public: rule.requirement == Requirement::Public,
            mfa: matches!(rule.requirement, Requirement::MultiFactor(_)),
            scopes: match &rule.requirement {
                Requirement::AnyScope(scopes) => scopes.clone(),
                _ => Vec::new(),
            },
        }
    }
}

/// `[verify]` as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawVerify {
    rule: Vec<VerifyRule>,
    sign_in_url: Option<String>,
}

impl From<&VerifySection> for RawVerify {
    fn from(verify: &VerifySection) -> Self {
        Self {
            rule: verify.policy.rules().iter().map(VerifyRule::from).collect(),
            sign_in_url: verify.sign_in.as_ref().map(|page| page.as_str().to_owned()),
        }
    }
}

impl TryFrom<RawVerify> for VerifySection {
    type Error = anyhow::Error;

    fn try_from(raw: RawVerify) -> anyhow::Result<Self> {
        let policy = VerifyRule::policy(&raw.rule)?;
        let sign_in = raw
            .sign_in_url
            .as_deref()
            .map(SignInRedirect::parse)
            .transpose()
            .map_err(|err| anyhow::anyhow!("verify.{err}"))?;
        Ok(Self { policy, sign_in })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::test_env as env;
    use crate::config::{Config, Overrides, SignInRedirect};

    #[test]
    fn verify_rules_come_from_the_file_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("warden.toml");
        std::fs::write(
            &path,
            "[[verify.rule]]\nprefix = \"/admin/\"\nroles = [\"admin\"]\n\n\
             [[verify.rule]]\nprefix = \"/api/\"\nmethods = [\"DELETE\"]\n\n\
             [[verify.rule]]\nprefix = \"/public/\"\npublic = true\n",
        )
        .unwrap();
        let config = Config::load(Some(&path), &[], &Overrides::default()).unwrap();
        assert_eq!(config.verify.policy.rules().len(), 3);
        assert_eq!(config.verify.policy.rules()[1].methods, vec!["DELETE"]);
        assert!(config.verify.policy.has_rules());
        assert!(config.to_redacted_toml().unwrap().contains("/admin/"));
        for bad in [
            "[[verify.rule]]\nprefix = \"/a/\"\npublic = true\nroles = [\"x\"]\n",
            "[[verify.rule]]\nprefix = \"a\"\n",
            "[[verify.rule]]\nprefix = \"/%2f\"\n",
            "[[verify.rule]]\nprefix = \"/a/\"\n[[verify.rule]]\nprefix = \"/A\"\n",
            "[[verify.rule]]\nprefix = \"/a/\"\nrole = \"x\"\n",
            "[verify]\nsign_in_url = \"//evil.example/login\"\n",
            "[verify]\nsign_in_url = \"javascript:alert(1)\"\n",
        ] {
            std::fs::write(&path, bad).unwrap();
            assert!(
                Config::load(Some(&path), &[], &Overrides::default()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_sign_in_page_comes_from_the_environment() {
        let config = Config::load(
            None,
            &env(&[(
                "WARDEN_VERIFY_SIGN_IN_URL",
                "https://auth.example.com/sign-in",
            )]),
            &Overrides::default(),
        )
        .unwrap();
        // Parsed once, at load: what `/v1/verify` and ext_authz use.
        assert_eq!(
            config.verify.sign_in.as_ref().map(SignInRedirect::as_str),
            Some("https://auth.example.com/sign-in")
        );
    }
}
