//! The social sign-in flow cookie (`__Host-warden_oauth`): what the start of
//! a flow must hand its callback (state, nonce, PKCE verifier, where to go
//! afterwards), bound to the browser that started it. Sealed with
//! AES-256-GCM under a key every instance derives from the key-encryption
//! key, so any instance can finish a flow another began, and the browser can
//! neither read the verifier nor change where the flow ends.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key};
use axum_extra::extract::cookie::{Cookie, SameSite};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use warden_core::UserId;

/// The cookie's name. `__Host-`: only this origin, over HTTPS, path `/`,
/// can set it, so a sibling subdomain cannot plant a flow.
pub const FLOW_COOKIE: &str = "__Host-warden_oauth";

/// How long a flow may take at the provider.
pub const FLOW_LIFETIME_SECS: i64 = 600;

/// Bound to the sealed bytes, so a cookie of another purpose sealed under
/// the same key can never pass for a flow.
const AAD: &[u8] = b"warden oauth flow v1";

/// One flow in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    /// The provider's id.
    pub provider: String,
    /// The `state` sent to the provider.
    pub state: String,
    /// The `nonce` sent to the provider.
    pub nonce: String,
    /// Our PKCE verifier with the provider, when it takes PKCE.
    pub verifier: Option<String>,
    /// Where the browser goes afterwards (a checked path or allowed URL).
    pub redirect_to: String,
    /// `intent=link`: the account that asked.
    pub link_to: Option<UserId>,
    /// The app's own PKCE challenge: answer with a `wxc_` code, not cookies.
    pub app_challenge: Option<String>,
    /// Unix seconds after which the flow is void.
    pub expires_at: i64,
}

/// Seals and opens flows.
#[derive(Clone)]
pub struct FlowSealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for FlowSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FlowSealer([redacted])")
    }
}

impl FlowSealer {
    /// A sealer under `key` (derived from the key-encryption key).
    pub fn new(key: &[u8; 32]) -> Self {
        let key: &Key<Aes256Gcm> = key.into();
        Self {
            cipher: Aes256Gcm::new(key),
        }
    }

    /// The cookie holding `flow`.
    pub fn cookie(&self, flow: &Flow) -> Cookie<'static> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let plain = serde_json::to_vec(flow).unwrap_or_default();
        // Encryption cannot fail for inputs this small; an empty cookie
        // would simply fail to open at the callback.
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: &plain,
                    aad: AAD,
                },
            )
            .unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Cookie::build((FLOW_COOKIE, URL_SAFE_NO_PAD.encode(bytes)))
            .http_only(true)
            .secure(true)
            // Lax: the provider's redirect back is a top-level navigation
            // from another site, which Lax cookies follow and Strict do not.
            .same_site(SameSite::Lax)
            .path("/")
            .max_age(time::Duration::seconds(FLOW_LIFETIME_SECS))
            .build()
    }

    /// The flow in `value`, if it was sealed by us and is not past
    /// `now_secs`.
    pub fn open(&self, value: &str, now_secs: i64) -> Option<Flow> {
        let bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
        if bytes.len() < 12 {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        let plain = self
            .cipher
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: sealed,
                    aad: AAD,
                },
            )
            .ok()?;
        let flow: Flow = serde_json::from_slice(&plain).ok()?;
        (flow.expires_at > now_secs).then_some(flow)
    }
}

/// The cookie that ends the flow.
pub fn expired_cookie() -> Cookie<'static> {
    Cookie::build((FLOW_COOKIE, ""))
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(time::Duration::seconds(0))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(expires_at: i64) -> Flow {
        Flow {
            provider: "google".into(),
            state: "s".repeat(43),
            nonce: "n".repeat(43),
            verifier: Some("v".repeat(43)),
            redirect_to: "/account".into(),
            link_to: None,
            app_challenge: None,
            expires_at,
        }
    }

    #[test]
    fn a_sealed_flow_opens_until_it_expires() {
        let sealer = FlowSealer::new(&[7; 32]);
        let cookie = sealer.cookie(&flow(1_000));
        assert_eq!(cookie.name(), FLOW_COOKIE);
        assert!(cookie.http_only().unwrap_or(false) && cookie.secure().unwrap_or(false));
        assert_eq!(cookie.same_site(), Some(SameSite::Lax));
        assert!(!cookie.value().contains("/account"), "the flow is readable");
        assert_eq!(sealer.open(cookie.value(), 999), Some(flow(1_000)));
        assert_eq!(sealer.open(cookie.value(), 1_000), None);
    }

    #[test]
    fn another_key_or_a_changed_byte_opens_nothing() {
        let sealer = FlowSealer::new(&[7; 32]);
        let value = sealer.cookie(&flow(1_000)).value().to_owned();
        assert_eq!(FlowSealer::new(&[8; 32]).open(&value, 0), None);
        let mut bytes = URL_SAFE_NO_PAD.decode(&value).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(sealer.open(&URL_SAFE_NO_PAD.encode(bytes), 0), None);
        assert_eq!(sealer.open("", 0), None);
        assert_eq!(sealer.open("not base64!", 0), None);
    }
}
