//! ID-token verification (OpenID Connect Core 1.0, section 3.1.3.7): the
//! signature by the provider's key, then `iss`, `aud`/`azp`, the times and
//! the `nonce`, then the profile claims per kind. No I/O: the caller finds
//! the key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::Algorithm;
use jsonwebtoken::errors::ErrorKind;
use serde::Deserialize;

use crate::discovery::ExpectedIssuer;
use crate::jwks::VerifyingKey;
use crate::{ExternalProfile, IdTokenProblem, ProviderKind};

/// Clock skew tolerated on `exp`, `iat` and `nbf`.
const LEEWAY_SECS: f64 = 60.0;

/// Far above any real ID token; refuses absurd input before any parsing.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// What the token must match.
pub(crate) struct Expected<'a> {
    pub(crate) kind: ProviderKind,
    pub(crate) client_id: &'a str,
    pub(crate) issuer: &'a ExpectedIssuer,
    pub(crate) nonce: &'a str,
    pub(crate) now: DateTime<Utc>,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
    crit: Option<serde_json::Value>,
}

/// The token's algorithm and `kid`, read before the signature is checked so
/// that the key can be found; only asymmetric algorithms pass.
pub(crate) fn header(token: &str) -> Result<(Algorithm, Option<String>), IdTokenProblem> {
    let (encoded, rest) = token.split_once('.').ok_or(IdTokenProblem::Malformed)?;
    if token.len() > MAX_TOKEN_LEN || rest.split('.').count() != 2 {
        return Err(IdTokenProblem::Malformed);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| IdTokenProblem::Malformed)?;
    let header: RawHeader =
        serde_json::from_slice(&bytes).map_err(|_| IdTokenProblem::Malformed)?;
    // RFC 7515 4.1.11: an extension we do not understand must be refused.
    if header.crit.is_some() {
        return Err(IdTokenProblem::Malformed);
    }
    // `none` and the HS* family are refused here, before any key is sought:
    // an HMAC "signature" keyed with our client secret proves nothing.
    let algorithm = match header.alg.as_str() {
        "RS256" => Algorithm::RS256,
        "ES256" => Algorithm::ES256,
        "EdDSA" => Algorithm::EdDSA,
        _ => return Err(IdTokenProblem::Algorithm),
    };
    Ok((algorithm, header.kid))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// Apple sends some booleans as the strings `"true"` / `"false"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum LooseBool {
    Bool(bool),
    Text(String),
}

impl LooseBool {
    fn is_true(&self) -> bool {
        match self {
            Self::Bool(b) => *b,
            Self::Text(s) => s == "true",
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    azp: Option<String>,
    exp: Option<f64>,
    iat: Option<f64>,
    nbf: Option<f64>,
    nonce: Option<String>,
    email: Option<String>,
    email_verified: Option<LooseBool>,
    name: Option<String>,
    /// Google: the Workspace domain.
    hd: Option<String>,
    /// Microsoft: the tenant, which names the issuer.
    tid: Option<String>,
    /// Microsoft: the user's stable id across the tenant's apps.
    oid: Option<String>,
    /// Microsoft: the e-mail's domain is verified by the tenant (optional
    /// claim); Microsoft's `email` is otherwise unverified and mutable.
    xms_edov: Option<LooseBool>,
}

/// Verifies `token` with `key` against `expected`, and reads who it names.
pub(crate) fn verify(
    token: &str,
    algorithm: Algorithm,
    key: &VerifyingKey,
    expected: &Expected<'_>,
) -> Result<ExternalProfile, IdTokenProblem> {
    // A `kid` is bound to one algorithm: an RSA key must not verify an
    // ES256 token, whatever the header says.
    if key.algorithm != algorithm {
        return Err(IdTokenProblem::Algorithm);
    }
    let mut validation = jsonwebtoken::Validation::new(algorithm);
    // The library reads the wall clock and cannot do Microsoft's issuer;
    // every claim is checked below, against the caller's clock.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => IdTokenProblem::Signature,
            ErrorKind::InvalidAlgorithm => IdTokenProblem::Algorithm,
            _ => IdTokenProblem::Malformed,
        })?
        .claims;
    let issuer = check_issuer(&claims, expected.issuer)?;
    check_audience(&claims, expected.client_id)?;
    check_times(&claims, expected.now)?;
    match &claims.nonce {
        None => return Err(IdTokenProblem::MissingClaim),
        Some(nonce) if nonce != expected.nonce => return Err(IdTokenProblem::Nonce),
        Some(_) => {}
    }
    profile(claims, issuer, expected.kind)
}

fn check_issuer(claims: &Claims, expected: &ExpectedIssuer) -> Result<String, IdTokenProblem> {
    let iss = claims.iss.as_deref().ok_or(IdTokenProblem::MissingClaim)?;
    if expected.needs_tenant() && claims.tid.is_none() {
        return Err(IdTokenProblem::MissingClaim);
    }
    expected
        .accept(iss, claims.tid.as_deref())
        .ok_or(IdTokenProblem::Issuer)
}

fn check_audience(claims: &Claims, client_id: &str) -> Result<(), IdTokenProblem> {
    let audiences: &[String] = match &claims.aud {
        None => return Err(IdTokenProblem::MissingClaim),
        Some(Audience::One(one)) => std::slice::from_ref(one),
        Some(Audience::Many(many)) => many,
    };
    if !audiences.iter().any(|a| a == client_id) {
        return Err(IdTokenProblem::Audience);
    }
    // With other audiences, the token must have been issued to us (Core
    // 3.1.3.7 items 4 and 5); with one, a present `azp` must still be us.
    let azp_ok = match claims.azp.as_deref() {
        Some(azp) => azp == client_id,
        None => audiences.len() == 1,
    };
    if azp_ok {
        Ok(())
    } else {
        Err(IdTokenProblem::Audience)
    }
}

fn check_times(claims: &Claims, now: DateTime<Utc>) -> Result<(), IdTokenProblem> {
    let now = now.timestamp() as f64;
    let (exp, iat) = match (claims.exp, claims.iat) {
        (Some(exp), Some(iat)) => (exp, iat),
        _ => return Err(IdTokenProblem::MissingClaim),
    };
    let from_the_future = |t: f64| t > now + LEEWAY_SECS;
    if now > exp + LEEWAY_SECS || from_the_future(iat) || claims.nbf.is_some_and(from_the_future) {
        return Err(IdTokenProblem::Expired);
    }
    Ok(())
}

fn profile(
    claims: Claims,
    issuer: String,
    kind: ProviderKind,
) -> Result<ExternalProfile, IdTokenProblem> {
    let subject = match kind {
        // `sub` is pairwise per application at Microsoft; `oid` is the user.
        ProviderKind::Microsoft => claims.oid,
        _ => claims.sub,
    };
    let subject = subject
        .filter(|s| !s.is_empty())
        .ok_or(IdTokenProblem::MissingClaim)?;
    let email = claims.email.filter(|e| !e.is_empty());
    let is_true = |claim: &Option<LooseBool>| claim.as_ref().is_some_and(LooseBool::is_true);
    let email_verified = email.is_some()
        && (is_true(&claims.email_verified)
            || (kind == ProviderKind::Microsoft && is_true(&claims.xms_edov)));
    Ok(ExternalProfile {
        issuer,
        subject,
        email,
        email_verified,
        name: claims.name.filter(|n| !n.is_empty()),
        hosted_domain: claims.hd.filter(|_| kind == ProviderKind::Google),
    })
}
