//! Forward-auth access rules: what a request arriving at a proxy needs,
//! decided on its original method and path (nginx `auth_request`, Caddy
//! `forward_auth`, Traefik `forwardAuth`, Envoy `ext_authz`).
//!
//! The path goes through [`warden_edge::normalize`] and the rule table
//! matches the canonical key, so `/%61dmin`, `//admin`, `/admin/../admin`,
//! `/admin;x` and `/ADMIN` all fall under a rule on `/admin/`. A path that
//! cannot be given one meaning is refused, never allowed.
//!
//! ```
//! use warden_core::access::{AccessPolicy, AccessRule, OriginalRequest, Requirement};
//!
//! let policy = AccessPolicy::new(vec![
//!     AccessRule::new("/admin/", Requirement::AnyRole(vec!["admin".into()])),
//!     AccessRule::new("/public/", Requirement::Public),
//! ])
//! .unwrap();
//! let request = OriginalRequest { method: Some("GET"), uri: Some("/%61dmin;x/users?page=2") };
//! assert_eq!(
//!     policy.requirement(&request).unwrap(),
//!     &Requirement::AnyRole(vec!["admin".into()])
//! );
//! ```

use std::fmt;

use warden_edge::{Table, normalize};

use crate::error::{CoreError, FieldError};

/// What a request needs to pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// Nothing: passes without a token, and without identity headers.
    Public,
    /// A valid, unrevoked token.
    SignedIn,
    /// A valid token carrying at least one of these roles (403 otherwise).
    AnyRole(Vec<String>),
    /// A valid token of a session that presented two factors (`aal2`; a
    /// one-factor token gets RFC 9470's `insufficient_user_authentication`),
    /// with at least one of these roles when any are named.
    MultiFactor(Vec<String>),
    /// A valid token granted at least one of these scopes: a service's
    /// (client credentials) or a user's issued to an OAuth client (403
    /// `insufficient_scope` otherwise).
    AnyScope(Vec<String>),
}

impl Requirement {
    /// The roles of which one is needed; empty: none.
    pub fn roles(&self) -> &[String] {
        match self {
            Requirement::AnyRole(roles) | Requirement::MultiFactor(roles) => roles,
            Requirement::Public | Requirement::SignedIn | Requirement::AnyScope(_) => &[],
        }
    }
}

/// One `[[verify.rule]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRule {
    /// Path prefix, matched on whole segments after normalisation.
    pub prefix: String,
    /// Methods the rule is limited to (upper case); empty: every method.
    pub methods: Vec<String>,
    /// What a matching request needs.
    pub requirement: Requirement,
}

impl AccessRule {
    /// A rule for every method.
    pub fn new(prefix: impl Into<String>, requirement: Requirement) -> Self {
        Self {
            prefix: prefix.into(),
            methods: Vec::new(),
            requirement,
        }
    }
}

/// Why the rules could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RuleError(String);

/// The request as the proxy saw it, before any rewriting.
#[derive(Debug, Clone, Copy, Default)]
pub struct OriginalRequest<'a> {
    /// `GET`, `POST` ...
    pub method: Option<&'a str>,
    /// The request target: origin form (`/a/b?q`) or absolute form
    /// (`https://host/a/b?q`, as ingress-nginx's `X-Original-URL`).
    pub uri: Option<&'a str>,
}

/// Rules sharing a prefix: the method-specific ones first, in
/// configuration order, then the one for every method, if any.
#[derive(Debug, Clone)]
struct Entry {
    by_method: Vec<(Vec<String>, Requirement)>,
    any_method: Option<Requirement>,
}

/// The configured rules. Without any, every request needs a valid token
/// and the original path is not looked at.
#[derive(Clone, Default)]
pub struct AccessPolicy {
    table: Option<Table<Entry>>,
    /// The rules as given, for showing the configuration back.
    rules: Vec<AccessRule>,
}

impl fmt::Debug for AccessPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessPolicy")
            .field("rules", &self.table.as_ref().map_or(0, Table::len))
            .finish()
    }
}

static SIGNED_IN: Requirement = Requirement::SignedIn;

impl AccessPolicy {
    /// Builds the table; refuses prefixes that do not normalise, a prefix
    /// configured twice for the same methods, and rules that name no role.
    pub fn new(rules: Vec<AccessRule>) -> Result<Self, RuleError> {
        if rules.is_empty() {
            return Ok(Self::default());
        }
        let given = rules.clone();
        let mut entries: Vec<(String, String, Entry)> = Vec::new();
        for rule in rules {
            // Roles are optional on a two-factor rule, never empty names.
            let roles = rule.requirement.roles();
            let needs_one = matches!(rule.requirement, Requirement::AnyRole(_));
            if (needs_one && roles.is_empty()) || roles.iter().any(|r| r.trim().is_empty()) {
                return Err(RuleError(format!(
                    "verify rule {:?}: roles must name at least one role, none empty",
                    rule.prefix
                )));
            }
            if let Requirement::AnyScope(scopes) = &rule.requirement
                && (scopes.is_empty()
                    || scopes
                        .iter()
                        .any(|s| s.trim().is_empty() || s.contains(' ')))
            {
                return Err(RuleError(format!(
                    "verify rule {:?}: scopes must name at least one scope, none empty or with spaces",
                    rule.prefix
                )));
            }
            let key = normalize(&rule.prefix)
                .map_err(|e| RuleError(format!("verify rule {:?}: {e}", rule.prefix)))?
                .key;
            let methods: Vec<String> = rule
                .methods
                .iter()
                .map(|m| m.trim().to_ascii_uppercase())
                .collect();
            if methods
                .iter()
                .any(|m| m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()))
            {
                return Err(RuleError(format!(
                    "verify rule {:?}: methods must be names like GET or POST",
                    rule.prefix
                )));
            }
            let index = match entries.iter().position(|(_, k, _)| *k == key) {
                Some(index) => index,
                None => {
                    entries.push((
                        rule.prefix.clone(),
                        key,
                        Entry {
                            by_method: Vec::new(),
                            any_method: None,
                        },
                    ));
                    entries.len() - 1
                }
            };
            let entry = &mut entries[index].2;
            let duplicate = if methods.is_empty() {
                entry.any_method.replace(rule.requirement).is_some()
            } else {
                let taken = entry
                    .by_method
                    .iter()
                    .any(|(ms, _)| ms.iter().any(|m| methods.contains(m)));
                entry.by_method.push((methods, rule.requirement));
                taken
            };
            if duplicate {
                return Err(RuleError(format!(
                    "verify rule {:?} repeats an earlier rule for the same path and method",
                    rule.prefix
                )));
            }
        }
        let table = Table::new(
            entries
                .into_iter()
                .map(|(prefix, _, entry)| (prefix, entry)),
        )
        .map_err(|e| RuleError(e.to_string()))?;
        Ok(Self {
            table: Some(table),
            rules: given,
        })
    }

    /// The rules as given to [`AccessPolicy::new`], in their order.
    pub fn rules(&self) -> &[AccessRule] {
        &self.rules
    }

    /// Whether any rule is configured.
    pub fn has_rules(&self) -> bool {
        self.table.is_some()
    }

    /// What `request` needs. With rules configured, a missing or
    /// unnormalisable path (or a method a rule needs but the proxy did not
    /// send) is an error: refused, never allowed.
    pub fn requirement(&self, request: &OriginalRequest<'_>) -> Result<&Requirement, CoreError> {
        let Some(table) = &self.table else {
            return Ok(&SIGNED_IN);
        };
        let uri = request.uri.ok_or_else(|| {
            invalid("the proxy must send the original URI (X-Original-URI or X-Forwarded-Uri)")
        })?;
        let path =
            path_of(uri).ok_or_else(|| invalid("the original URI is not a request target"))?;
        let normalized = normalize(path).map_err(|e| invalid(format!("the original URI: {e}")))?;
        let Some(found) = table.lookup(&normalized.key) else {
            return Ok(&SIGNED_IN);
        };
        let entry = found.value;
        if !entry.by_method.is_empty() {
            let method = request
                .method
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .ok_or_else(|| {
                    invalid("the proxy must send the original method (X-Original-Method or X-Forwarded-Method)")
                })?;
            if let Some((_, requirement)) = entry
                .by_method
                .iter()
                .find(|(methods, _)| methods.iter().any(|m| m.eq_ignore_ascii_case(method)))
            {
                return Ok(requirement);
            }
        }
        Ok(entry.any_method.as_ref().unwrap_or(&SIGNED_IN))
    }
}

fn invalid(message: impl Into<String>) -> CoreError {
    CoreError::InvalidInput(FieldError::new("original_uri", message))
}

/// The path of a request target: origin form without query and fragment,
/// or the path of an absolute URI. `None` for anything else.
fn path_of(target: &str) -> Option<&str> {
    let target = target.trim();
    let rest = if target.starts_with('/') {
        target
    } else {
        let (scheme, after) = target.split_once("://")?;
        if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphabetic()) {
            return None;
        }
        // An empty path after the authority is the root.
        match after.find(['/', '?', '#']) {
            Some(at) if after.as_bytes()[at] == b'/' => &after[at..],
            _ => "/",
        }
    };
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin_policy() -> AccessPolicy {
        AccessPolicy::new(vec![
            AccessRule::new("/admin/", Requirement::AnyRole(vec!["admin".into()])),
            AccessRule::new("/public/", Requirement::Public),
            AccessRule {
                prefix: "/api/".into(),
                methods: vec!["delete".into()],
                requirement: Requirement::AnyRole(vec!["editor".into()]),
            },
            AccessRule::new("/api/", Requirement::Public),
        ])
        .unwrap()
    }

    fn needs<'a>(policy: &'a AccessPolicy, method: &str, uri: &str) -> &'a Requirement {
        policy
            .requirement(&OriginalRequest {
                method: Some(method),
                uri: Some(uri),
            })
            .unwrap()
    }

    #[test]
    fn the_rules_are_kept_as_given() {
        let policy = admin_policy();
        assert_eq!(policy.rules().len(), 4);
        assert_eq!(policy.rules()[2].methods, ["delete"]);
        assert_eq!(policy.rules()[3].requirement, Requirement::Public);
        assert!(AccessPolicy::default().rules().is_empty());
    }

    #[test]
    fn path_tricks_fall_under_the_admin_rule() {
        let policy = admin_policy();
        let admin = Requirement::AnyRole(vec!["admin".into()]);
        for uri in [
            "/admin/x",
            "/%61dmin/x",
            "//admin/x",
            "/admin/../admin/x",
            "/public/../admin/x",
            "/admin;x",
            "/admin;x/y",
            "/ADMIN/x",
            "/./admin",
            "/admin?x=/public/",
            "https://app.example/admin/x?y",
        ] {
            assert_eq!(needs(&policy, "GET", uri), &admin, "{uri}");
        }
        assert_eq!(needs(&policy, "GET", "/administrator"), &SIGNED_IN);
        assert_eq!(needs(&policy, "GET", "/public/x"), &Requirement::Public);
        assert_eq!(needs(&policy, "GET", "/"), &SIGNED_IN);
        assert_eq!(needs(&policy, "GET", "https://app.example"), &SIGNED_IN);
    }

    #[test]
    fn unnormalisable_or_missing_paths_are_refused() {
        let policy = admin_policy();
        for uri in [
            "/%2fadmin/x",
            "/admin%5cx",
            "/\\admin",
            "/..;/admin",
            "/%zz",
            "admin/x",
            "",
        ] {
            let result = policy.requirement(&OriginalRequest {
                method: Some("GET"),
                uri: Some(uri),
            });
            assert!(
                matches!(result, Err(CoreError::InvalidInput(_))),
                "{uri}: {result:?}"
            );
        }
        assert!(policy.requirement(&OriginalRequest::default()).is_err());
    }

    #[test]
    fn method_rules_come_before_the_rule_for_every_method() {
        let policy = admin_policy();
        let editor = Requirement::AnyRole(vec!["editor".into()]);
        assert_eq!(needs(&policy, "DELETE", "/api/x"), &editor);
        assert_eq!(needs(&policy, "delete", "/api/x"), &editor);
        assert_eq!(needs(&policy, "GET", "/api/x"), &Requirement::Public);
        // The method is needed where a rule depends on it.
        assert!(
            policy
                .requirement(&OriginalRequest {
                    method: None,
                    uri: Some("/api/x")
                })
                .is_err()
        );
        assert_eq!(
            policy
                .requirement(&OriginalRequest {
                    method: None,
                    uri: Some("/public/x")
                })
                .unwrap(),
            &Requirement::Public
        );
    }

    #[test]
    fn without_rules_every_request_needs_a_token_and_paths_are_ignored() {
        let policy = AccessPolicy::default();
        assert!(!policy.has_rules());
        assert_eq!(
            policy.requirement(&OriginalRequest::default()).unwrap(),
            &SIGNED_IN
        );
    }

    #[test]
    fn bad_rules_are_refused() {
        for rules in [
            vec![AccessRule::new("admin", Requirement::SignedIn)],
            vec![AccessRule::new("/a/", Requirement::AnyRole(vec![]))],
            vec![AccessRule::new(
                "/a/",
                Requirement::AnyRole(vec![" ".into()]),
            )],
            vec![
                AccessRule::new("/a/", Requirement::SignedIn),
                AccessRule::new("/A", Requirement::Public),
            ],
            vec![AccessRule {
                prefix: "/a/".into(),
                methods: vec!["GET /".into()],
                requirement: Requirement::Public,
            }],
            vec![
                AccessRule {
                    prefix: "/a/".into(),
                    methods: vec!["GET".into(), "POST".into()],
                    requirement: Requirement::Public,
                },
                AccessRule {
                    prefix: "/a".into(),
                    methods: vec!["post".into()],
                    requirement: Requirement::SignedIn,
                },
            ],
        ] {
            assert!(AccessPolicy::new(rules.clone()).is_err(), "{rules:?}");
        }
    }
}
