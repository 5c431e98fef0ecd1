//! Every call to a provider goes through here: a deadline on the whole
//! exchange, a cap on the body, and errors that name the URL but never a
//! secret, code or token.

use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::OAuthError;

/// No provider call may hold a sign-in longer than this.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The largest body read from a provider: a JWKS or profile is a few KiB; a
/// hostile or broken endpoint must not make us buffer without bound.
const MAX_BODY: usize = 256 * 1024;

/// Sends `request` and parses a successful answer's JSON body as `T`.
/// `what` names the call in errors ("discovery", "token endpoint", ...).
pub(crate) async fn fetch_json<T: DeserializeOwned>(
    http: &reqwest::Client,
    provider: &str,
    what: &str,
    request: reqwest::RequestBuilder,
) -> Result<T, OAuthError> {
    let request = request
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| OAuthError::provider(provider, format!("{what}: {}", describe(&e))))?;
    // The URL is ours (configured or discovered) and never carries a secret.
    let url = request.url().clone();
    let fail =
        |detail: String| OAuthError::provider(provider, format!("{what} at {url}: {detail}"));
    let (status, body) = tokio::time::timeout(TIMEOUT, send(http, request))
        .await
        .map_err(|_| fail(format!("no answer within {} s", TIMEOUT.as_secs())))?
        .map_err(fail)?;
    if !status.is_success() {
        return Err(fail(match error_code(&body) {
            Some(code) => format!("HTTP {status}, error {code}"),
            None => format!("HTTP {status}"),
        }));
    }
    serde_json::from_slice(&body).map_err(|e| fail(format!("unreadable JSON ({e})")))
}

async fn send(
    http: &reqwest::Client,
    request: reqwest::Request,
) -> Result<(reqwest::StatusCode, Vec<u8>), String> {
    let mut response = http.execute(request).await.map_err(|e| describe(&e))?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("body larger than {MAX_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

/// The OAuth `error` code of an error body (RFC 6749 section 5.2).
fn error_code(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        error: String,
    }
    let body = serde_json::from_slice::<ErrorBody>(body).ok()?;
    Some(printable_error_code(&body.error))
}

/// An `error` code fit for a log line: the provider's own text only when
/// it is a plain token. `error_description` is never shown, as it is free
/// text a provider could fill with anything.
pub(crate) fn printable_error_code(code: &str) -> String {
    let is_token = !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    if is_token {
        code.to_owned()
    } else {
        "(not shown)".to_owned()
    }
}

/// reqwest's own message is terse ("error sending request"); the cause
/// chain says what an operator needs (refused, DNS, TLS). The URL is left
/// out here because the caller names it once.
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(&format!(" for url ({url})"), "");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
