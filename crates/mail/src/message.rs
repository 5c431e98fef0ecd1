//! A rendered message put in its envelope: an RFC 5322
//! `multipart/alternative` message (text, then HTML) with From, To,
//! Subject, Date and a Message-ID derived from the queue id, so a
//! message sent twice (the server accepted it but the worker died before
//! recording that) carries the same Message-ID both times.

use std::time::SystemTime;

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use warden_core::MailId;

use crate::templates::Rendered;

/// Why a message could not be built: a permanent problem with this
/// message (a recipient address that is not one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BuildError(String);

/// Builds the message `id` from `from` to `to`, dated `date`.
pub fn build(
    id: MailId,
    from: &Mailbox,
    to: &str,
    rendered: &Rendered,
    date: SystemTime,
) -> Result<Message, BuildError> {
    let to: Mailbox = to
        .parse()
        .map_err(|_| BuildError("the recipient is not a valid e-mail address".into()))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(rendered.subject.clone())
        .date(date)
        .message_id(Some(format!("<{id}@{}>", from.email.domain())))
        .multipart(MultiPart::alternative_plain_html(
            rendered.text.clone(),
            rendered.html.clone(),
        ))
        .map_err(|e| BuildError(format!("building the message: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_multipart_alternative_with_its_headers() {
        let rendered = Rendered {
            subject: "Reset your Warden password".into(),
            text: "Open https://x.example/reset?token=wml_1".into(),
            html: "<p>Open it</p>".into(),
        };
        let id = MailId::new();
        let from: Mailbox = "Warden <no-reply@auth.example.com>".parse().unwrap();
        let message = build(id, &from, "alice@example.com", &rendered, SystemTime::now()).unwrap();
        let text = String::from_utf8(message.formatted()).unwrap();
        for needle in [
            "From: Warden <no-reply@auth.example.com>",
            "To: alice@example.com",
            "Subject: Reset your Warden password",
            &format!("Message-ID: <{id}@auth.example.com>"),
            "Date: ",
            "MIME-Version: 1.0",
            "Content-Type: multipart/alternative",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Type: text/html; charset=utf-8",
        ] {
            assert!(text.contains(needle), "{needle} missing in:\n{text}");
        }
        assert!(text.find("text/plain") < text.find("text/html"));

        for bad in ["not an address", "a@b@c", "alice@example.com\r\nBcc: x@y"] {
            assert!(
                build(id, &from, bad, &rendered, SystemTime::now()).is_err(),
                "{bad}"
            );
        }
    }
}
