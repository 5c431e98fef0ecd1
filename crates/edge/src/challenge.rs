//! The `WWW-Authenticate` challenge of a 401, the same at every edge (the
//! API, the gateway, forward auth, ext_authz and warden-verify), following
//! RFC 6750, section 3: a request that presented no credential gets no error
//! code; a token that was presented and refused gets `invalid_token`, which
//! tells a client to refresh or sign in again rather than retry.

/// The challenge for a request that presented no credential.
pub const NO_TOKEN: &str = "Bearer realm=\"warden\"";

/// The challenge for a token that was presented and refused (malformed,
/// forged, expired or revoked).
pub const INVALID_TOKEN: &str = "Bearer realm=\"warden\", error=\"invalid_token\"";

/// [`INVALID_TOKEN`] when a token was presented, else [`NO_TOKEN`].
pub const fn bearer(token_presented: bool) -> &'static str {
    if token_presented {
        INVALID_TOKEN
    } else {
        NO_TOKEN
    }
}

/// The challenge for a token with one factor where two are needed: RFC
/// 9470's step-up, naming the assurance level to come back with.
pub const INSUFFICIENT_USER_AUTHENTICATION: &str = "Bearer realm=\"warden\", \
     error=\"insufficient_user_authentication\", \
     error_description=\"A sign-in with a second factor is required\", acr_values=\"aal2\"";
