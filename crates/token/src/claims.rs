//! Access-token claims.

use serde::{Deserialize, Serialize};

/// The claims of a Warden access token. All members are required when
/// decoding; unknown extra claims are ignored.
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
