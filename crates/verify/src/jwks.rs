//! Fetching the issuer's keys: discovery, then the JWKS. Only the issuer's
//! own discovery document says where keys live; nothing in a token does.

use std::time::Duration;

use serde::Deserialize;
use warden_token::JwkSet;

/// Bounds of the refresh period taken from `Cache-Control: max-age`.
const MIN_MAX_AGE: Duration = Duration::from_secs(30);
const MAX_MAX_AGE: Duration = Duration::from_secs(3600);
/// Used when the JWKS response names no max-age.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

/// Why keys could not be fetched; logged, never shown to token holders.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("request failed: {0}")]
    Http(String),
    #[error("{0}")]
    Invalid(String),
}

fn same_issuer(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// The JWKS URL the issuer's discovery document names, after checking the
/// document is the issuer's own (its `issuer` must match exactly: mix-up
/// defence).
pub(crate) async fn discover(http: &reqwest::Client, issuer: &str) -> Result<String, FetchError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let doc: Discovery = http
        .get(&url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| FetchError::Http(e.without_url().to_string()))?
        .json()
        .await
        .map_err(|e| FetchError::Invalid(format!("discovery document: {}", e.without_url())))?;
    if !same_issuer(&doc.issuer, issuer) {
        return Err(FetchError::Invalid(format!(
            "discovery names issuer {:?}, expected {issuer:?}",
            doc.issuer
        )));
    }
    if !(doc.jwks_uri.starts_with("https://") || doc.jwks_uri.starts_with("http://")) {
        return Err(FetchError::Invalid("jwks_uri is not an http(s) URL".into()));
    }
    Ok(doc.jwks_uri)
}

/// The key set and how long it may be cached.
pub(crate) async fn fetch(
    http: &reqwest::Client,
    jwks_uri: &str,
) -> Result<(JwkSet, Duration), FetchError> {
    let response = http
        .get(jwks_uri)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| FetchError::Http(e.without_url().to_string()))?;
    let max_age = response
        .headers()
        .get(reqwest::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_max_age)
        .unwrap_or(DEFAULT_MAX_AGE)
        .clamp(MIN_MAX_AGE, MAX_MAX_AGE);
    let set: JwkSet = response
        .json()
        .await
        .map_err(|e| FetchError::Invalid(format!("JWKS: {}", e.without_url())))?;
    Ok((set, max_age))
}

fn parse_max_age(header: &str) -> Option<Duration> {
    header.split(',').find_map(|directive| {
        let (name, value) = directive.trim().split_once('=')?;
        name.eq_ignore_ascii_case("max-age")
            .then(|| value.trim().parse::<u64>().ok())
            .flatten()
            .map(Duration::from_secs)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            parse_max_age("public, max-age=300"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(parse_max_age("no-store"), None);
        assert_eq!(parse_max_age("max-age=abc"), None);
    }

    #[test]
    fn issuers_compare_without_a_trailing_slash() {
        assert!(same_issuer("https://a.example/", "https://a.example"));
        assert!(!same_issuer("https://a.example", "https://b.example"));
        assert!(!same_issuer(
            "http://localhost:9500",
            "http://127.0.0.1:9500"
        ));
    }
}
