//! `[mail] smtp_url`: where and how to submit mail, parsed once.
//!
//! - `smtp://user:pass@host:587`: STARTTLS, required (a server that does
//!   not offer it is an error; nothing is sent in the clear).
//! - `smtps://user:pass@host:465`: implicit TLS.
//! - `smtp://host:25?tls=none`: no TLS, accepted only for a loopback host
//!   (a local relay such as Postfix on the same machine).
//!
//! The password never leaves this module but through
//! [`SmtpUrl::password`]; [`SmtpUrl`]'s `Debug` and
//! [`SmtpUrl::redacted`] show `[redacted]` in its place, and parse errors
//! never quote the URL.

use std::fmt;
use std::net::IpAddr;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain connection upgraded with STARTTLS, which must succeed.
    StartTls,
    /// TLS from the first byte (`smtps://`).
    Implicit,
    /// No TLS (`?tls=none`, loopback hosts only).
    None,
}

impl TlsMode {
    /// A word for logs and `warden config check`.
    pub fn describe(self) -> &'static str {
        match self {
            TlsMode::StartTls => "STARTTLS required",
            TlsMode::Implicit => "implicit TLS",
            TlsMode::None => "no TLS (loopback)",
        }
    }
}

/// A parsed SMTP URL.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    /// The server's host name or address (without IPv6 brackets).
    pub host: String,
    /// The port (default 587 for `smtp://`, 465 for `smtps://`).
    pub port: u16,
    /// Connection protection.
    pub tls: TlsMode,
    /// User name, percent-decoded.
    pub user: Option<String>,
    password: Option<String>,
}

/// Why an SMTP URL was refused. Never contains the URL itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mail.smtp_url: {0}")]
pub struct SmtpUrlError(String);

fn refuse(reason: impl Into<String>) -> SmtpUrlError {
    SmtpUrlError(reason.into())
}

impl SmtpUrl {
    /// Parses `smtp://[user[:pass]@]host[:port][?tls=none]` or `smtps://...`.
    pub fn parse(raw: &str) -> Result<Self, SmtpUrlError> {
        let raw = raw.trim();
        let (scheme, rest) = raw
            .split_once("://")
            .ok_or_else(|| refuse("must start with smtp:// or smtps://"))?;
        let implicit = match scheme.to_ascii_lowercase().as_str() {
            "smtp" => false,
            "smtps" => true,
            _ => return Err(refuse("must start with smtp:// or smtps://")),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query)),
            None => (rest, None),
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains('/') {
            return Err(refuse("takes no path"));
        }
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            Some(info) => {
                let (user, pass) = match info.split_once(':') {
                    Some((user, pass)) => (user, Some(pass)),
                    None => (info, None),
                };
                let user = percent_decode(user).ok_or_else(|| refuse("bad user name encoding"))?;
                let pass = pass
                    .map(|p| percent_decode(p).ok_or_else(|| refuse("bad password encoding")))
                    .transpose()?;
                (Some(user).filter(|u| !u.is_empty()), pass)
            }
            None => (None, None),
        };
        let (host, port) = split_host_port(hostport)?;
        let port = port.unwrap_or(if implicit { 465 } else { 587 });
        let mut tls = if implicit {
            TlsMode::Implicit
        } else {
            TlsMode::StartTls
        };
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            match pair.split_once('=') {
                Some(("tls", "none")) if !implicit => tls = TlsMode::None,
                Some(("tls", "required")) if !implicit => tls = TlsMode::StartTls,
                Some(("tls", _)) => {
                    return Err(refuse(
                        "tls must be `none` or `required` (smtps:// is always TLS)",
                    ));
                }
                _ => return Err(refuse("the only query parameter is tls")),
            }
        }
        if tls == TlsMode::None && !is_loopback(&host) {
            return Err(refuse(
                "tls=none is accepted only for a loopback host (localhost, 127.0.0.1, ::1): \
                 credentials and links must not cross a network in the clear",
            ));
        }
        if password.is_some() && user.is_none() {
            return Err(refuse("a password needs a user name"));
        }
        Ok(Self {
            host,
            port,
            tls,
            user,
            password,
        })
    }

    /// The password, for the SMTP client only.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// The URL with the password replaced: fit for logs and output.
    pub fn redacted(&self) -> String {
        let scheme = if self.tls == TlsMode::Implicit {
            "smtps"
        } else {
            "smtp"
        };
        let user = match (&self.user, &self.password) {
            (Some(user), Some(_)) => format!("{user}:[redacted]@"),
            (Some(user), None) => format!("{user}@"),
            _ => String::new(),
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let query = if self.tls == TlsMode::None {
            "?tls=none"
        } else {
            ""
        };
        format!("{scheme}://{user}{host}:{}{query}", self.port)
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

fn split_host_port(hostport: &str) -> Result<(String, Option<u16>), SmtpUrlError> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| refuse("unclosed [ in the host"))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| refuse("bad port"))?),
        };
        (host, port)
    } else {
        match hostport.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'))
    {
        return Err(refuse("needs a host name or address"));
    }
    let port = port
        .map(|p| p.parse::<u16>().ok().filter(|p| *p != 0))
        .map(|p| p.ok_or_else(|| refuse("bad port")))
        .transpose()?;
    Ok((host.to_ascii_lowercase(), port))
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `%XX` decoding of a URL's user or password; `None` on a bad escape or
/// bytes that are not UTF-8.
fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = raw.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_choose_the_protection_and_the_default_port() {
        let url = SmtpUrl::parse("smtp://mailer:s3cr%40t@smtp.example.com:587").unwrap();
        assert_eq!(url.host, "smtp.example.com");
        assert_eq!(url.port, 587);
        assert_eq!(url.tls, TlsMode::StartTls);
        assert_eq!(url.user.as_deref(), Some("mailer"));
        assert_eq!(url.password(), Some("s3cr@t"));
        assert_eq!(
            url.redacted(),
            "smtp://mailer:[redacted]@smtp.example.com:587"
        );
        assert!(!format!("{url:?}").contains("s3cr"));

        let url = SmtpUrl::parse("smtps://smtp.example.com").unwrap();
        assert_eq!((url.port, url.tls), (465, TlsMode::Implicit));
        assert_eq!(url.user, None);

        let url = SmtpUrl::parse("smtp://127.0.0.1:2525?tls=none").unwrap();
        assert_eq!((url.port, url.tls), (2525, TlsMode::None));
        assert_eq!(url.redacted(), "smtp://127.0.0.1:2525?tls=none");
        let url = SmtpUrl::parse("smtp://u:p@[::1]:25?tls=none").unwrap();
        assert_eq!(url.host, "::1");
        assert_eq!(url.redacted(), "smtp://u:[redacted]@[::1]:25?tls=none");
        assert!(SmtpUrl::parse("smtp://localhost?tls=none").is_ok());
    }

    #[test]
    fn bad_urls_are_refused_without_quoting_them() {
        for bad in [
            "http://user:hunter2@mail.example.com",
            "smtp://user:hunter2@mail.example.com:587?tls=none",
            "smtp://user:hunter2@10.0.0.5:25?tls=none",
            "smtps://user:hunter2@mail.example.com?tls=none",
            "smtp://user:hunter2@mail.example.com:0",
            "smtp://user:hunter2@mail.example.com:99999",
            "smtp://user:hunter2@:587",
            "smtp://user:hunter2@mail.example.com/path",
            "smtp://user:hunter2@mail.example.com?x=1",
            "smtp://user:hunter2%zz@mail.example.com",
            "smtp://:hunter2@mail.example.com",
            "mail.example.com",
        ] {
            let err = SmtpUrl::parse(bad).expect_err(bad).to_string();
            assert!(!err.contains("hunter2"), "{bad}: {err}");
            assert!(err.starts_with("mail.smtp_url"), "{err}");
        }
    }
}
