//! Reading a posted form: `application/x-www-form-urlencoded` only, at most
//! [`BODY_LIMIT`] bytes, every failure a value the page can show next to a
//! field (never a 4xx without a page, never a 500).

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{HeaderMap, header};
use http_body_util::BodyExt as _;

/// Largest form accepted: the API's body limit.
pub const BODY_LIMIT: usize = warden_http::BODY_LIMIT;

/// A posted form's fields (the first value of each name).
#[derive(Debug, Default, Clone)]
pub struct Form {
    fields: HashMap<String, String>,
}

/// Why a posted form could not be read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormProblem {
    /// Not a urlencoded form, or the body broke off.
    Unreadable,
    /// Over [`BODY_LIMIT`]; the field being written when the limit was hit,
    /// when one was (the long one).
    TooLarge {
        /// That field's name.
        field: Option<String>,
    },
}

impl Form {
    /// The value of `name`, if sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// The value of `name`, or empty.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// Parses a urlencoded body. Invalid UTF-8 becomes U+FFFD, so nothing
    /// a browser or an attacker sends fails here.
    pub fn parse(bytes: &[u8]) -> Self {
        let mut fields = HashMap::new();
        for (name, value) in form_urlencoded::parse(bytes) {
            fields
                .entry(name.into_owned())
                .or_insert_with(|| value.into_owned());
        }
        Self { fields }
    }

    /// Reads and parses the request body.
    pub async fn read(headers: &HeaderMap, body: Body) -> Result<Self, FormProblem> {
        let essence = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase());
        if essence.as_deref() != Some("application/x-www-form-urlencoded") {
            return Err(FormProblem::Unreadable);
        }
        let bytes = read_limited(body).await?;
        Ok(Self::parse(&bytes))
    }
}

/// Collects the body up to the limit; past it, names the field that was
/// being written (the last, unfinished `name=value` of what was read).
async fn read_limited(mut body: Body) -> Result<Vec<u8>, FormProblem> {
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| FormProblem::Unreadable)?;
        if let Some(data) = frame.data_ref() {
            bytes.extend_from_slice(data);
            if bytes.len() > BODY_LIMIT {
                return Err(FormProblem::TooLarge {
                    field: unfinished_field(&bytes[..BODY_LIMIT]),
                });
            }
        }
    }
    Ok(bytes)
}

fn unfinished_field(prefix: &[u8]) -> Option<String> {
    let last = prefix.rsplit(|b| *b == b'&').next()?;
    let name = last.split(|b| *b == b'=').next()?;
    form_urlencoded::parse(name)
        .next()
        .map(|(name, _)| name.into_owned())
        .filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn form_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        headers
    }

    #[tokio::test]
    async fn a_form_is_read_with_its_first_values() {
        let form = Form::read(
            &form_headers(),
            Body::from("email=a%40b.co&password=x+y&email=other"),
        )
        .await
        .unwrap();
        assert_eq!(form.get("email"), Some("a@b.co"));
        assert_eq!(form.get("password"), Some("x y"));
        assert_eq!(form.get("missing"), None);
        let broken = Form::parse(b"email=%ff%fe&%zz=1&=&&x");
        assert_eq!(broken.get("email"), Some("\u{fffd}\u{fffd}"));
    }

    #[tokio::test]
    async fn other_content_types_are_unreadable() {
        let mut json = HeaderMap::new();
        json.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert_eq!(
            Form::read(&json, Body::from("{}")).await.unwrap_err(),
            FormProblem::Unreadable
        );
        assert_eq!(
            Form::read(&HeaderMap::new(), Body::from("a=b"))
                .await
                .unwrap_err(),
            FormProblem::Unreadable
        );
    }

    #[tokio::test]
    async fn an_oversize_form_names_the_long_field() {
        let body = format!("email=a%40b.co&password={}", "x".repeat(BODY_LIMIT));
        assert_eq!(
            Form::read(&form_headers(), Body::from(body))
                .await
                .unwrap_err(),
            FormProblem::TooLarge {
                field: Some("password".into())
            }
        );
        let nameless = "&".repeat(BODY_LIMIT + 1);
        assert_eq!(
            Form::read(&form_headers(), Body::from(nameless))
                .await
                .unwrap_err(),
            FormProblem::TooLarge { field: None }
        );
    }
}
