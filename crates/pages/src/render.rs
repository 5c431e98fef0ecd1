//! The template environment: the built-in templates (embedded in the
//! binary), each replaceable by a file of the same name in `[ui]
//! templates_dir`, compiled once at start so a broken override stops the
//! server with the template's name and line instead of failing a page.

use std::path::Path;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::{Environment, UndefinedBehavior, Value};
use serde::Serialize;

/// The built-in templates: `(name, source)`.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("signin.html", include_str!("../templates/signin.html")),
    ("signup.html", include_str!("../templates/signup.html")),
    ("mfa.html", include_str!("../templates/mfa.html")),
    ("account.html", include_str!("../templates/account.html")),
    ("message.html", include_str!("../templates/message.html")),
    ("consent.html", include_str!("../templates/consent.html")),
    ("continue.html", include_str!("../templates/continue.html")),
    ("logout.html", include_str!("../templates/logout.html")),
    ("forgot.html", include_str!("../templates/forgot.html")),
    ("reset.html", include_str!("../templates/reset.html")),
    ("verify.html", include_str!("../templates/verify.html")),
    (
        "admin/layout.html",
        include_str!("../templates/admin/layout.html"),
    ),
    (
        "admin/users.html",
        include_str!("../templates/admin/users.html"),
    ),
    (
        "admin/overview.html",
        include_str!("../templates/admin/overview.html"),
    ),
    (
        "admin/audit.html",
        include_str!("../templates/admin/audit.html"),
    ),
    (
        "admin/client_fields.html",
        include_str!("../templates/admin/client_fields.html"),
    ),
    (
        "admin/clients.html",
        include_str!("../templates/admin/clients.html"),
    ),
    (
        "admin/client.html",
        include_str!("../templates/admin/client.html"),
    ),
    (
        "admin/secret.html",
        include_str!("../templates/admin/secret.html"),
    ),
    (
        "admin/user.html",
        include_str!("../templates/admin/user.html"),
    ),
    (
        "admin/confirm.html",
        include_str!("../templates/admin/confirm.html"),
    ),
];

/// A template that does not compile or render, or an unreadable override.
#[derive(Debug, thiserror::Error)]
#[error("template {name}: {message}")]
pub struct TemplateError {
    name: String,
    message: String,
}

impl TemplateError {
    fn new(name: &str, err: impl std::fmt::Display) -> Self {
        Self {
            name: name.to_owned(),
            message: err.to_string(),
        }
    }
}

/// Builds the environment: built-ins, overrides from `templates_dir`, and
/// the globals every page reads (`m`, `ui`, `assets`, `base`, `lang`).
pub fn environment(
    templates_dir: Option<&Path>,
    globals: &[(&'static str, Value)],
) -> Result<Environment<'static>, TemplateError> {
    let mut env = Environment::new();
    // A misspelt variable or message key is an error in the tests, never a
    // silent blank on a page.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_formatter(html_formatter);
    for (name, source) in TEMPLATES {
        let source = match templates_dir.map(|dir| dir.join(name)) {
            Some(path) if path.exists() => std::fs::read_to_string(&path).map_err(|e| {
                TemplateError::new(name, format!("reading {}: {e}", path.display()))
            })?,
            _ => (*source).to_owned(),
        };
        env.add_template_owned(*name, source)
            .map_err(|e| TemplateError::new(name, e))?;
    }
    for (name, value) in globals {
        env.add_global(*name, value.clone());
    }
    Ok(env)
}

/// HTML escaping of the five characters that matter (`& < > " '`).
/// minijinja's default also escapes `/`, which is harmless but turns
/// every path on a page into `&#x2f;` entities.
fn html_formatter(
    out: &mut minijinja::Output,
    state: &mut minijinja::State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    let text = value
        .as_str()
        .filter(|_| matches!(state.auto_escape(), minijinja::AutoEscape::Html) && !value.is_safe());
    let Some(text) = text else {
        return minijinja::escape_formatter(out, state, value);
    };
    let mut last = 0;
    for (i, c) in text.char_indices() {
        let entity = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' => "&quot;",
            '\'' => "&#39;",
            _ => continue,
        };
        out.write_str(&text[last..i]).map_err(write_failed)?;
        out.write_str(entity).map_err(write_failed)?;
        last = i + 1;
    }
    out.write_str(&text[last..]).map_err(write_failed)
}

fn write_failed(_: std::fmt::Error) -> minijinja::Error {
    minijinja::Error::new(
        minijinja::ErrorKind::WriteFailure,
        "writing the page failed",
    )
}

/// Renders `name` with `context` into an HTML response with `status`. A
/// render failure (a broken override) is logged and answered with a plain
/// 500: there is no page left to show it on.
pub fn page(
    env: &Environment<'static>,
    name: &str,
    status: StatusCode,
    context: impl Serialize,
) -> Response {
    match render(env, name, context) {
        Ok(html) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            html,
        )
            .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "a page template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "something went wrong on our side",
            )
                .into_response()
        }
    }
}

/// Renders `name` to a string.
pub fn render(
    env: &Environment<'static>,
    name: &str,
    context: impl Serialize,
) -> Result<String, TemplateError> {
    env.get_template(name)
        .and_then(|t| t.render(minijinja::value::Serde(context)))
        .map_err(|e| TemplateError::new(name, e))
}
