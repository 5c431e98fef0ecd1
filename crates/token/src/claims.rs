//! Access-token claims.

use serde::{Deserialize, Serialize};

/// The claims of a Warden access token. All members but the three of
/// authentication context and the two of OAuth are required when decoding;
/// unknown extra claims are ignored. `amr`, `acr` and `auth_time` may be
/// missing from tokens minted before Warden emitted them: such a token
/// reads as one factor. `client_id` and `scope` are present only on tokens
/// issued to an OAuth client, so a first-party token stays as it was.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Subject (user id).
    pub sub: String,
    /// Audience.
    pub aud: Audience,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Issued-at, Unix seconds.
    pub iat: i64,
    /// Not-before, Unix seconds.
    pub nbf: i64,
    /// Unique token id.
    pub jti: String,
    /// Session id.
    pub sid: String,
    /// Roles granted to the subject.
    pub roles: Vec<String>,
    /// How the subject authenticated (RFC 8176 values: `pwd`, `otp`,
    /// `hwk`, `swk`, `user`, `fed`, `mfa`).
    #[serde(default)]
    pub amr: Vec<String>,
    /// Assurance level: `aal1` (one factor) or `aal2` (two).
    #[serde(default = "single_factor")]
    pub acr: String,
    /// When the subject authenticated, Unix seconds (0: unknown).
    #[serde(default)]
    pub auth_time: i64,
    /// The OAuth client the token was issued to (RFC 9068 section 2.2),
    /// for tokens issued through the authorization server; a service
    /// token (client credentials) also has it as `sub`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The granted scopes, space-separated (RFC 9068 section 2.2.3), for
    /// tokens issued through the authorization server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

fn single_factor() -> String {
    "aal1".to_owned()
}

impl AccessClaims {
    /// Whether the token is a service's own (client credentials): no
    /// session, and the subject is the client itself.
    pub fn is_service(&self) -> bool {
        self.sid.is_empty() && self.client_id.as_deref() == Some(self.sub.as_str())
    }

    /// Whether the token says two factors were presented (`acr` is `aal2`
    /// and `amr` holds `mfa`: both, so neither alone can be talked up).
    pub fn is_multi_factor(&self) -> bool {
        self.acr == "aal2" && self.amr.iter().any(|m| m == "mfa")
    }
}

/// The `aud` claim: a single string (what Warden emits) or an array.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `aud` is (one of) the audience(s).
    pub fn contains(&self, aud: &str) -> bool {
        match self {
            Audience::One(a) => a == aud,
            Audience::Many(v) => v.iter().any(|a| a == aud),
        }
    }
}

impl From<String> for Audience {
    fn from(s: String) -> Self {
        Audience::One(s)
    }
}

impl From<&str> for Audience {
    fn from(s: &str) -> Self {
        Audience::One(s.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authentication_context_defaults_to_one_factor() {
        let old = r#"{"iss":"i","sub":"s","aud":"a","exp":2,"iat":1,"nbf":1,"jti":"j","sid":"x","roles":[]}"#;
        let claims: AccessClaims = serde_json::from_str(old).unwrap();
        assert_eq!(claims.acr, "aal1");
        assert!(claims.amr.is_empty() && claims.auth_time == 0);
        assert!(!claims.is_multi_factor());
        let mut two = claims.clone();
        two.amr = vec!["pwd".into(), "otp".into(), "mfa".into()];
        assert!(!two.is_multi_factor(), "amr alone does not make aal2");
        two.acr = "aal2".into();
        assert!(two.is_multi_factor());
    }

    #[test]
    fn oauth_claims_appear_only_when_set() {
        let old = r#"{"iss":"i","sub":"s","aud":"a","exp":2,"iat":1,"nbf":1,"jti":"j","sid":"x","roles":[]}"#;
        let mut claims: AccessClaims = serde_json::from_str(old).unwrap();
        assert_eq!(
            (claims.client_id.as_deref(), claims.scope.as_deref()),
            (None, None)
        );
        let json = serde_json::to_value(&claims).unwrap();
        assert!(json.get("client_id").is_none() && json.get("scope").is_none());

        claims.client_id = Some("app".into());
        claims.scope = Some("openid profile".into());
        let json = serde_json::to_value(&claims).unwrap();
        assert_eq!(json["client_id"], "app");
        assert_eq!(json["scope"], "openid profile");
        assert_eq!(
            serde_json::from_value::<AccessClaims>(json).unwrap(),
            claims
        );
    }

    #[test]
    fn a_service_token_is_its_clients_own_without_a_session() {
        let user = r#"{"iss":"i","sub":"0190c6f0-0000-7000-8000-000000000001","aud":"a","exp":2,"iat":1,"nbf":1,"jti":"j","sid":"x","roles":[],"client_id":"app"}"#;
        let mut claims: AccessClaims = serde_json::from_str(user).unwrap();
        assert!(!claims.is_service(), "a user's token issued to a client");
        claims.sub = "app".into();
        assert!(!claims.is_service(), "a session makes it a user's");
        claims.sid = String::new();
        assert!(claims.is_service());
        claims.client_id = Some("other".into());
        assert!(!claims.is_service(), "sub must be the client itself");
        claims.client_id = None;
        assert!(!claims.is_service());
    }

    #[test]
    fn audience_serde() {
        let one: Audience = serde_json::from_str("\"a\"").unwrap();
        assert_eq!(one, Audience::One("a".into()));
        assert_eq!(serde_json::to_string(&one).unwrap(), "\"a\"");
        let many: Audience = serde_json::from_str("[\"a\",\"b\"]").unwrap();
        assert!(many.contains("b") && !many.contains("c"));
        assert!(serde_json::from_str::<Audience>("1").is_err());
        assert!(serde_json::from_str::<Audience>("[1]").is_err());
        assert!(serde_json::from_str::<Audience>("null").is_err());
    }
}
