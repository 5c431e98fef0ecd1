//! `[verify]`: forward-auth rules of `/v1/verify` and Envoy `ext_authz`.

use anyhow::bail;
use serde::{Deserialize, Serialize};

/// `[verify]`: what a request behind a forward-auth proxy (or Envoy) needs,
/// by its original path. Without rules every request needs a valid token.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerifySection {
    /// `[[verify.rule]]`s; the longest matching prefix wins.
    pub rule: Vec<VerifyRule>,
    /// Where `/v1/verify` sends a browser page load without a valid token
    /// (302, with `rd` = where it was going) instead of answering 401: an
    /// `https://` URL or a path on the proxied host. Unset: always 401.
    pub sign_in_url: Option<String>,
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
}

impl VerifySection {
    /// The sign-in redirect, checked.
    pub fn sign_in(&self) -> anyhow::Result<Option<warden_http::sign_in::SignInRedirect>> {
        self.sign_in_url
            .as_deref()
            .map(warden_http::sign_in::SignInRedirect::parse)
            .transpose()
            .map_err(|err| anyhow::anyhow!("verify.{err}"))
    }

    /// The rules as the domain uses them.
    pub fn policy(&self) -> anyhow::Result<warden_core::access::AccessPolicy> {
        use warden_core::access::{AccessPolicy, AccessRule, Requirement};
        let mut rules = Vec::with_capacity(self.rule.len());
        for rule in &self.rule {
            let requirement = match (rule.public, rule.roles.is_empty()) {
                (true, false) => bail!(
                    "verify rule {:?}: `public` and `roles` exclude each other",
                    rule.prefix
                ),
                (true, true) => Requirement::Public,
                (false, true) => Requirement::SignedIn,
                (false, false) => Requirement::AnyRole(rule.roles.clone()),
            };
            rules.push(AccessRule {
                prefix: rule.prefix.clone(),
                methods: rule.methods.clone(),
                requirement,
            });
        }
        Ok(AccessPolicy::new(rules)?)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::test_env as env;
    use crate::config::{Config, Overrides};

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
        assert_eq!(config.verify.rule.len(), 3);
        assert_eq!(config.verify.rule[1].methods, vec!["DELETE"]);
        assert!(config.verify.policy().unwrap().has_rules());
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
        assert_eq!(
            config.verify.sign_in_url.as_deref(),
            Some("https://auth.example.com/sign-in")
        );
        assert!(config.verify.sign_in().unwrap().is_some());
    }
}
