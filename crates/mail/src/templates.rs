//! The mail templates: built-in English text and HTML per [`MailKind`],
//! rendered with minijinja, each file overridable from `[mail]
//! templates_dir`.
//!
//! Per kind there are three templates, `<kind>.subject.txt`, `<kind>.txt`
//! and `<kind>.html`, plus the shared `layout.txt`, `layout.html` and
//! `button.html` they extend and include. A file of the same name in the
//! templates directory replaces the built-in one; the others stay. HTML is
//! auto-escaped (a value is never markup), text and subjects are not.
//!
//! Every template sees the queued message's values (for example `link`,
//! `new_email`; see [`required_values`]) plus `product_name` (`[ui]
//! product_name`), `recipient` (the address it goes to), and
//! `accent_color` / `on_accent` (`[ui] accent_color` and the text colour
//! that reads on it, for buttons). An undefined
//! value is an error, never an empty string: a mail with a hole where its
//! link should be must not go out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::{Environment, UndefinedBehavior, Value};
use warden_core::mail::MailKind;

/// The built-in templates, by file name.
const BUILT_IN: &[(&str, &str)] = &[
    ("layout.html", include_str!("../templates/layout.html")),
    ("layout.txt", include_str!("../templates/layout.txt")),
    ("button.html", include_str!("../templates/button.html")),
    (
        "verify_email.subject.txt",
        include_str!("../templates/verify_email.subject.txt"),
    ),
    (
        "verify_email.txt",
        include_str!("../templates/verify_email.txt"),
    ),
    (
        "verify_email.html",
        include_str!("../templates/verify_email.html"),
    ),
    (
        "password_reset.subject.txt",
        include_str!("../templates/password_reset.subject.txt"),
    ),
    (
        "password_reset.txt",
        include_str!("../templates/password_reset.txt"),
    ),
    (
        "password_reset.html",
        include_str!("../templates/password_reset.html"),
    ),
    (
        "email_change.subject.txt",
        include_str!("../templates/email_change.subject.txt"),
    ),
    (
        "email_change.txt",
        include_str!("../templates/email_change.txt"),
    ),
    (
        "email_change.html",
        include_str!("../templates/email_change.html"),
    ),
    (
        "email_changed.subject.txt",
        include_str!("../templates/email_changed.subject.txt"),
    ),
    (
        "email_changed.txt",
        include_str!("../templates/email_changed.txt"),
    ),
    (
        "email_changed.html",
        include_str!("../templates/email_changed.html"),
    ),
    (
        "password_changed.subject.txt",
        include_str!("../templates/password_changed.subject.txt"),
    ),
    (
        "password_changed.txt",
        include_str!("../templates/password_changed.txt"),
    ),
    (
        "password_changed.html",
        include_str!("../templates/password_changed.html"),
    ),
    (
        "mfa_changed.subject.txt",
        include_str!("../templates/mfa_changed.subject.txt"),
    ),
    (
        "mfa_changed.txt",
        include_str!("../templates/mfa_changed.txt"),
    ),
    (
        "mfa_changed.html",
        include_str!("../templates/mfa_changed.html"),
    ),
    (
        "identity_linked.subject.txt",
        include_str!("../templates/identity_linked.subject.txt"),
    ),
    (
        "identity_linked.txt",
        include_str!("../templates/identity_linked.txt"),
    ),
    (
        "identity_linked.html",
        include_str!("../templates/identity_linked.html"),
    ),
];

/// The values a use case must queue with a message of `kind` (the
/// templates may also use `expires_in`, and `change` for `mfa_changed`,
/// when given).
pub fn required_values(kind: MailKind) -> &'static [&'static str] {
    match kind {
        MailKind::VerifyEmail | MailKind::PasswordReset => &["link"],
        MailKind::EmailChange => &["link", "new_email"],
        MailKind::EmailChanged => &["new_email"],
        MailKind::PasswordChanged | MailKind::MfaChanged => &[],
        MailKind::IdentityLinked => &["provider"],
    }
}

/// A rendered message, ready to be put in an envelope.
#[derive(Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The subject line (one line, trimmed).
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
}

impl std::fmt::Debug for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The bodies hold links.
        f.debug_struct("Rendered")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Why a template could not be loaded or rendered.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// A file of the templates directory could not be read.
    #[error("mail template {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A template does not parse, or refers to something missing.
    #[error("mail template {name}: {detail}")]
    Template {
        /// The template's file name.
        name: String,
        /// minijinja's description (it names the line, never a value).
        detail: String,
    },
}

/// The loaded templates.
pub struct Templates {
    env: Environment<'static>,
    product_name: String,
    accent: Accent,
}

/// The colours of a mail's button: `[ui] accent_color` and the text that
/// reads on it (the pages compute both; the mail crate only carries them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accent {
    /// The button's background, `#rrggbb`.
    pub color: String,
    /// The button's text colour.
    pub text: String,
}

impl Default for Accent {
    fn default() -> Self {
        Self {
            color: "#2563eb".into(),
            text: "#ffffff".into(),
        }
    }
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("product_name", &self.product_name)
            .finish_non_exhaustive()
    }
}

impl Templates {
    /// The built-in templates, with `product_name`.
    pub fn built_in(product_name: impl Into<String>) -> Result<Self, TemplateError> {
        Self::load(product_name, None)
    }

    /// The built-in templates with the files of `dir` (if given) in their
    /// place. Every template is parsed here, so a broken override is an
    /// error at start, not at the first delivery.
    pub fn load(
        product_name: impl Into<String>,
        dir: Option<&Path>,
    ) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_formatter(html_formatter);
        for (name, source) in BUILT_IN {
            let source = match dir.map(|dir| dir.join(name)) {
                Some(path) if path.is_file() => std::fs::read_to_string(&path)
                    .map_err(|source| TemplateError::Read { path, source })?,
                _ => (*source).to_owned(),
            };
            env.add_template_owned(*name, source)
                .map_err(|e| template_error(name, &e))?;
        }
        let templates = Self {
            env,
            product_name: product_name.into(),
            accent: Accent::default(),
        };
        // Render every kind once with placeholder values: an override that
        // uses a value no message has fails now.
        for kind in MailKind::ALL {
            let values = required_values(kind)
                .iter()
                .map(|key| ((*key).to_owned(), format!("example-{key}")))
                .collect();
            templates.render(kind, "someone@example.com", &values)?;
        }
        Ok(templates)
    }

    /// The same templates with the button in `accent`'s colours.
    pub fn with_accent(mut self, accent: Accent) -> Self {
        self.accent = accent;
        self
    }

    /// Renders a message of `kind` to `recipient` with `values`.
    pub fn render(
        &self,
        kind: MailKind,
        recipient: &str,
        values: &BTreeMap<String, String>,
    ) -> Result<Rendered, TemplateError> {
        let mut context: BTreeMap<String, Value> = values
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        context.insert(
            "product_name".into(),
            Value::from(self.product_name.as_str()),
        );
        context.insert("recipient".into(), Value::from(recipient));
        context.insert(
            "accent_color".into(),
            Value::from(self.accent.color.as_str()),
        );
        context.insert("on_accent".into(), Value::from(self.accent.text.as_str()));
        let context = Value::from(context);
        let render = |name: String| -> Result<String, TemplateError> {
            self.env
                .get_template(&name)
                .and_then(|t| t.render(&context))
                .map_err(|e| template_error(&name, &e))
        };
        let subject = render(format!("{kind}.subject.txt"))?;
        Ok(Rendered {
            // One line: a newline in a subject would start a header.
            subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
            text: render(format!("{kind}.txt"))?,
            html: render(format!("{kind}.html"))?,
        })
    }
}

/// HTML escaping of the five characters that matter (`& < > " '`) and no
/// more: minijinja's default also escapes `/`, which turns every link into
/// `https:&#x2f;&#x2f;...`; valid, but the text a person copies from a
/// mail client that shows source, and a link checker reads, should be the
/// link.
fn html_formatter(
    out: &mut minijinja::Output,
    state: &mut minijinja::State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    if !matches!(state.auto_escape(), minijinja::AutoEscape::Html) || value.is_safe() {
        return minijinja::escape_formatter(out, state, value);
    }
    let text = value.to_string();
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    out.write_str(&escaped)
        .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string()))
}

fn template_error(name: &str, error: &minijinja::Error) -> TemplateError {
    let mut detail = error.kind().to_string();
    if let Some(d) = error.detail() {
        detail.push_str(": ");
        detail.push_str(d);
    }
    if let Some(line) = error.line() {
        detail.push_str(&format!(" (line {line})"));
    }
    TemplateError::Template {
        name: name.to_owned(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str = "https://auth.example.com/reset-password?token=wml_abc&x=<1>";

    fn values(kind: MailKind) -> BTreeMap<String, String> {
        required_values(kind)
            .iter()
            .map(|key| {
                let value = if *key == "link" {
                    LINK.to_owned()
                } else {
                    format!("value-of-{key}")
                };
                ((*key).to_owned(), value)
            })
            .collect()
    }

    #[test]
    fn every_kind_renders_in_both_forms_with_its_values() {
        let templates = Templates::built_in("Acme ID").unwrap();
        for kind in MailKind::ALL {
            let rendered = templates
                .render(kind, "alice@example.com", &values(kind))
                .unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert!(rendered.subject.contains("Acme ID"), "{kind}: {rendered:?}");
            assert!(!rendered.subject.contains('\n'));
            for body in [&rendered.text, &rendered.html] {
                assert!(body.contains("Acme ID"), "{kind}");
                assert!(body.contains("alice@example.com"), "{kind}");
                for key in required_values(kind).iter().filter(|k| **k != "link") {
                    assert!(body.contains(&format!("value-of-{key}")), "{kind}: {key}");
                }
            }
            assert!(rendered.html.starts_with("<!DOCTYPE html>"), "{kind}");
            assert!(
                !rendered.text.contains("<p") && !rendered.text.contains("<a "),
                "{kind}: markup in the text"
            );
            if kind.carries_link() {
                assert!(rendered.text.contains(LINK), "{kind}: text link");
                // In HTML the link is escaped, as the button and as text.
                let escaped =
                    "https://auth.example.com/reset-password?token=wml_abc&amp;x=&lt;1&gt;";
                assert_eq!(rendered.html.matches(escaped).count(), 3, "{kind}");
                assert!(!rendered.html.contains("x=<1>"), "{kind}: unescaped");
            }
        }
    }

    #[test]
    fn a_missing_value_is_an_error_not_a_hole() {
        let templates = Templates::built_in("Warden").unwrap();
        for kind in MailKind::ALL {
            for missing in required_values(kind) {
                let mut values = values(kind);
                values.remove(*missing);
                let err = templates
                    .render(kind, "a@example.com", &values)
                    .expect_err("rendered without a value");
                assert!(err.to_string().contains("undefined"), "{kind}: {err}");
            }
        }
    }

    #[test]
    fn optional_values_appear_when_given() {
        let templates = Templates::built_in("Warden").unwrap();
        let mut values = values(MailKind::PasswordReset);
        values.insert("expires_in".into(), "1 hour".into());
        let rendered = templates
            .render(MailKind::PasswordReset, "a@example.com", &values)
            .unwrap();
        assert!(rendered.text.contains("works for 1 hour"));
        assert!(rendered.html.contains("works for 1 hour"));
    }

    #[test]
    fn the_button_takes_the_configured_accent() {
        let values = values(MailKind::VerifyEmail);
        let plain = Templates::built_in("Warden").unwrap();
        let html = plain
            .render(MailKind::VerifyEmail, "a@example.com", &values)
            .unwrap()
            .html;
        assert!(html.contains("background-color:#2563eb"), "{html}");
        let branded = Templates::built_in("Warden").unwrap().with_accent(Accent {
            color: "#ffcc00".into(),
            text: "#111318".into(),
        });
        let html = branded
            .render(MailKind::VerifyEmail, "a@example.com", &values)
            .unwrap()
            .html;
        assert!(html.contains("background-color:#ffcc00"), "{html}");
        assert!(html.contains("color:#111318;text-decoration"), "{html}");
    }

    #[test]
    fn a_templates_dir_overrides_single_files_and_is_checked_at_load() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("password_reset.subject.txt"),
            "{{ product_name }}: new password\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("password_reset.txt"),
            "Reset here: {{ link }}\n",
        )
        .unwrap();
        let templates = Templates::load("Acme", Some(dir.path())).unwrap();
        let rendered = templates
            .render(
                MailKind::PasswordReset,
                "a@example.com",
                &values(MailKind::PasswordReset),
            )
            .unwrap();
        assert_eq!(rendered.subject, "Acme: new password");
        assert_eq!(rendered.text, format!("Reset here: {LINK}"));
        // Not overridden: the built-in HTML.
        assert!(rendered.html.contains("Choose a new password"));

        // An override using a value the kind does not have fails at load.
        std::fs::write(dir.path().join("password_changed.txt"), "{{ link }}").unwrap();
        let err = Templates::load("Acme", Some(dir.path())).unwrap_err();
        assert!(err.to_string().contains("password_changed.txt"), "{err}");
        std::fs::write(dir.path().join("password_changed.txt"), "{% if %}").unwrap();
        let err = Templates::load("Acme", Some(dir.path())).unwrap_err();
        assert!(err.to_string().contains("password_changed.txt"), "{err}");
    }
}
