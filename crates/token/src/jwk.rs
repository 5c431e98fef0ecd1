//! JSON Web Keys (RFC 7517) for Warden's public verification keys.
//!
//! A [`Jwk`] only ever holds public members. Deserializing a JWK that carries
//! private members (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`) fails, and a
//! [`JwkSet`] containing such a key fails as a whole. Other keys in a set
//! that cannot be understood (unknown `kty`/`alg`, missing members) are
//! skipped, as RFC 7517 §5 recommends.
//!
//! ```
//! use warden_token::{Algorithm, JwkSet, SigningKey};
//!
//! let key = SigningKey::generate(Algorithm::ES256)?;
//! let jwk = key.public_jwk();
//! assert_eq!(jwk.kty, "EC");
//! assert_eq!(jwk.thumbprint()?, key.kid());
//! let json = serde_json::to_string(&JwkSet { keys: vec![jwk] })?;
//! let parsed: JwkSet = serde_json::from_str(&json)?;
//! assert_eq!(parsed.keys.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

use crate::algorithm::Algorithm;
use crate::keys::KeyError;
use crate::{MAX_RSA_BITS, MIN_RSA_BITS, b64};

/// JWK members that only private or symmetric keys have.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A public JSON Web Key. Optional members are omitted when `None`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawJwk")]
pub struct Jwk {
    /// Key type: `OKP`, `EC` or `RSA`.
    pub kty: String,
    /// Key id (Warden uses the RFC 7638 SHA-256 thumbprint).
    pub kid: String,
    /// The single algorithm this key may be used with.
    pub alg: Algorithm,
    /// Public key use; always `"sig"`. Serialized as `use`.
    #[serde(rename = "use")]
    pub use_: String,
    /// Curve (`Ed25519`, `P-256`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// OKP public key / EC x coordinate (base64url).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate (base64url).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus (base64url).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent (base64url).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

/// Deserialization shadow of [`Jwk`] that also notices private members.
#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    kid: String,
    alg: Algorithm,
    #[serde(rename = "use", default = "sig")]
    use_: String,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

fn sig() -> String {
    "sig".to_owned()
}

impl TryFrom<RawJwk> for Jwk {
    type Error = KeyError;

    fn try_from(raw: RawJwk) -> Result<Self, KeyError> {
        if PRIVATE_MEMBERS.iter().any(|m| raw.rest.contains_key(*m)) {
            return Err(KeyError::PrivateMembers);
        }
        Ok(Jwk {
            kty: raw.kty,
            kid: raw.kid,
            alg: raw.alg,
            use_: raw.use_,
            crv: raw.crv,
            x: raw.x,
            y: raw.y,
            n: raw.n,
            e: raw.e,
        })
    }
}

/// A JWK Set (`{"keys": [...]}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

impl<'de> Deserialize<'de> for JwkSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct RawSet {
            keys: Vec<serde_json::Value>,
        }
        let raw = RawSet::deserialize(deserializer)?;
        let mut keys = Vec::with_capacity(raw.keys.len());
        for value in raw.keys {
            if let Some(obj) = value.as_object()
                && PRIVATE_MEMBERS.iter().any(|m| obj.contains_key(*m))
            {
                return Err(serde::de::Error::custom(KeyError::PrivateMembers));
            }
            // RFC 7517 §5: ignore keys we do not understand.
            if let Ok(jwk) = Jwk::deserialize(value) {
                keys.push(jwk);
            }
        }
        Ok(JwkSet { keys })
    }
}

/// Validated public key material extracted from a [`Jwk`].
pub(crate) enum PublicKey {
    Ed { x: String },
    Ec { x: String, y: String },
    Rsa { n: String, e: String },
}

fn require<'a>(v: &'a Option<String>, what: &'static str) -> Result<&'a str, KeyError> {
    v.as_deref().ok_or(KeyError::InvalidJwk(what))
}

fn forbid(v: &Option<String>, what: &'static str) -> Result<(), KeyError> {
    if v.is_some() {
        Err(KeyError::InvalidJwk(what))
    } else {
        Ok(())
    }
}

fn decode_exact(v: &str, len: usize, what: &'static str) -> Result<Vec<u8>, KeyError> {
    match b64::decode(v) {
        Some(bytes) if bytes.len() == len => Ok(bytes),
        _ => Err(KeyError::InvalidJwk(what)),
    }
}

/// Decode a base64urlUInt, which must use the minimal number of octets.
fn decode_uint(v: &str, what: &'static str) -> Result<Vec<u8>, KeyError> {
    match b64::decode(v) {
        Some(bytes) if bytes.first().is_some_and(|b| *b != 0) => Ok(bytes),
        _ => Err(KeyError::InvalidJwk(what)),
    }
}

impl Jwk {
    /// Check that the key is a well-formed public key consistent with its
    /// `kty`, `alg`, `crv` and `use`, and return its validated members.
    pub(crate) fn validate(&self) -> Result<PublicKey, KeyError> {
        if self.use_ != "sig" {
            return Err(KeyError::InvalidJwk("use must be \"sig\""));
        }
        if self.kid.is_empty() {
            return Err(KeyError::InvalidJwk("empty kid"));
        }
        if self.kty != self.alg.kty() {
            return Err(KeyError::InvalidJwk("kty does not match alg"));
        }
        match self.alg {
            Algorithm::EdDSA => {
                if self.crv.as_deref() != Some("Ed25519") {
                    return Err(KeyError::InvalidJwk("crv must be Ed25519"));
                }
                forbid(&self.y, "unexpected y")?;
                forbid(&self.n, "unexpected n")?;
                forbid(&self.e, "unexpected e")?;
                let x = require(&self.x, "missing x")?;
                let bytes = decode_exact(x, 32, "bad x")?;
                let mut arr = [0u8; 32];
                arr.copy_from_slice(&bytes);
                let vk = ed25519_dalek::VerifyingKey::from_bytes(&arr)
                    .map_err(|_| KeyError::InvalidJwk("bad x"))?;
                if vk.is_weak() {
                    return Err(KeyError::InvalidJwk("weak Ed25519 key"));
                }
                Ok(PublicKey::Ed { x: x.to_owned() })
            }
            Algorithm::ES256 => {
                if self.crv.as_deref() != Some("P-256") {
                    return Err(KeyError::InvalidJwk("crv must be P-256"));
                }
                forbid(&self.n, "unexpected n")?;
                forbid(&self.e, "unexpected e")?;
                let x = require(&self.x, "missing x")?;
                let y = require(&self.y, "missing y")?;
                let mut sec1 = Vec::with_capacity(65);
                sec1.push(0x04);
                sec1.extend_from_slice(&decode_exact(x, 32, "bad x")?);
                sec1.extend_from_slice(&decode_exact(y, 32, "bad y")?);
                p256::PublicKey::from_sec1_bytes(&sec1)
                    .map_err(|_| KeyError::InvalidJwk("point not on P-256"))?;
                Ok(PublicKey::Ec {
                    x: x.to_owned(),
                    y: y.to_owned(),
                })
            }
            Algorithm::RS256 => {
                forbid(&self.crv, "unexpected crv")?;
                forbid(&self.x, "unexpected x")?;
                forbid(&self.y, "unexpected y")?;
                let n = require(&self.n, "missing n")?;
                let e = require(&self.e, "missing e")?;
                let n_bytes = decode_uint(n, "bad n")?;
                let e_bytes = decode_uint(e, "bad e")?;
                let n_int = rsa::BigUint::from_bytes_be(&n_bytes);
                let e_int = rsa::BigUint::from_bytes_be(&e_bytes);
                let bits = n_int.bits();
                if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
                    return Err(KeyError::InvalidJwk("RSA modulus size out of range"));
                }
                let odd = |b: &[u8]| b.last().is_some_and(|l| l & 1 == 1);
                if !odd(&e_bytes) || !odd(&n_bytes) {
                    return Err(KeyError::InvalidJwk("bad RSA key"));
                }
                rsa::RsaPublicKey::new(n_int, e_int)
                    .map_err(|_| KeyError::InvalidJwk("bad RSA key"))?;
                Ok(PublicKey::Rsa {
                    n: n.to_owned(),
                    e: e.to_owned(),
                })
            }
        }
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url) of this key.
    /// The key is validated first.
    pub fn thumbprint(&self) -> Result<String, KeyError> {
        Ok(self.validate()?.thumbprint())
    }
}

impl PublicKey {
    /// RFC 7638: required members only, lexicographic order, no whitespace.
    /// All values are base64url or fixed names, so no JSON escaping is needed.
    pub(crate) fn thumbprint(&self) -> String {
        let canonical = match self {
            PublicKey::Ed { x } => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#),
            PublicKey::Ec { x, y } => {
                format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#)
            }
            PublicKey::Rsa { n, e } => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
        };
        b64::encode(Sha256::digest(canonical.as_bytes()))
    }

    pub(crate) fn to_jwk(&self, kid: String, alg: Algorithm) -> Jwk {
        let mut jwk = Jwk {
            kty: alg.kty().to_owned(),
            kid,
            alg,
            use_: sig(),
            crv: None,
            x: None,
            y: None,
            n: None,
            e: None,
        };
        match self {
            PublicKey::Ed { x } => {
                jwk.crv = Some("Ed25519".to_owned());
                jwk.x = Some(x.clone());
            }
            PublicKey::Ec { x, y } => {
                jwk.crv = Some("P-256".to_owned());
                jwk.x = Some(x.clone());
                jwk.y = Some(y.clone());
            }
            PublicKey::Rsa { n, e } => {
                jwk.n = Some(n.clone());
                jwk.e = Some(e.clone());
            }
        }
        jwk
    }

    pub(crate) fn decoding_key(&self) -> Result<jsonwebtoken::DecodingKey, KeyError> {
        let key = match self {
            PublicKey::Ed { x } => jsonwebtoken::DecodingKey::from_ed_components(x),
            PublicKey::Ec { x, y } => jsonwebtoken::DecodingKey::from_ec_components(x, y),
            PublicKey::Rsa { n, e } => jsonwebtoken::DecodingKey::from_rsa_components(n, e),
        };
        key.map_err(|_| KeyError::InvalidJwk("unusable key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rsa_jwk(n: &str, e: &str) -> Jwk {
        Jwk {
            kty: "RSA".into(),
            kid: "k".into(),
            alg: Algorithm::RS256,
            use_: "sig".into(),
            crv: None,
            x: None,
            y: None,
            n: Some(n.into()),
            e: Some(e.into()),
        }
    }

    /// RFC 7638 §3.1 example.
    #[test]
    fn rfc7638_rsa_vector() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let jwk = rsa_jwk(n, "AQAB");
        assert_eq!(
            jwk.thumbprint().unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    /// RFC 8037 §A.3 example.
    #[test]
    fn rfc8037_ed25519_vector() {
        let jwk = Jwk {
            kty: "OKP".into(),
            kid: "k".into(),
            alg: Algorithm::EdDSA,
            use_: "sig".into(),
            crv: Some("Ed25519".into()),
            x: Some("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into()),
            y: None,
            n: None,
            e: None,
        };
        assert_eq!(
            jwk.thumbprint().unwrap(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn private_members_rejected() {
        for m in PRIVATE_MEMBERS {
            let json = format!(
                r#"{{"kty":"OKP","kid":"k","alg":"EdDSA","use":"sig","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","{m}":"AAAA"}}"#
            );
            assert!(serde_json::from_str::<Jwk>(&json).is_err(), "{m}");
            let set = format!(r#"{{"keys":[{json}]}}"#);
            assert!(serde_json::from_str::<JwkSet>(&set).is_err(), "{m}");
        }
    }

    #[test]
    fn unknown_keys_skipped_in_set() {
        let set = r#"{"keys":[
            {"kty":"EC","kid":"a","alg":"ES384","crv":"P-384","x":"AA","y":"AA"},
            {"kty":"OKP","kid":"b","alg":"EdDSA","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            "junk"
        ]}"#;
        let parsed: JwkSet = serde_json::from_str(set).unwrap();
        assert_eq!(parsed.keys.len(), 1);
        assert_eq!(parsed.keys[0].kid, "b");
        assert_eq!(parsed.keys[0].use_, "sig");
    }

    #[test]
    fn small_rsa_rejected() {
        let n = b64::encode([0xC3u8; 128]); // 1024-bit
        assert!(matches!(
            rsa_jwk(&n, "AQAB").validate(),
            Err(KeyError::InvalidJwk(_))
        ));
        let n = b64::encode([0xC3u8; 256]);
        assert!(rsa_jwk(&n, "AAEAAQ").validate().is_err()); // non-minimal e
    }
}
