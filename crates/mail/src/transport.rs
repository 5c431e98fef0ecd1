//! Where a built message goes: the `log` transport (the zero-config
//! default: the log and an `.eml` file in the data dir) or an SMTP server
//! (lettre, rustls). A transport reports whether a failure is worth
//! retrying; the worker decides what to do about it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::{AsyncSmtpTransport, PoolConfig};
use lettre::{AsyncTransport as _, Message, Tokio1Executor};
use tokio::net::TcpStream;
use warden_core::mail::MailKind;

use crate::smtp_url::{SmtpUrl, TlsMode};
use crate::templates::Rendered;

/// One message on its way out.
pub struct Outgoing<'a> {
    /// Its kind (file names, logs).
    pub kind: MailKind,
    /// Its recipient.
    pub to: &'a str,
    /// The rendered parts (the log transport logs the text).
    pub rendered: &'a Rendered,
    /// The message itself.
    pub message: &'a Message,
}

/// Why a message was not delivered. `reason` holds no secret: no
/// credential, no link, only what went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct SendError {
    /// The server refused this message for good (a 5xx answer about the
    /// recipient or the message): retrying cannot help.
    pub is_permanent: bool,
    /// What went wrong.
    pub reason: String,
}

impl SendError {
    /// A failure worth retrying.
    pub fn transient(reason: impl Into<String>) -> Self {
        Self {
            is_permanent: false,
            reason: reason.into(),
        }
    }

    /// A failure retrying cannot fix.
    pub fn permanent(reason: impl Into<String>) -> Self {
        Self {
            is_permanent: true,
            reason: reason.into(),
        }
    }
}

/// A way of delivering mail.
#[async_trait]
pub trait Transport: Send + Sync + 'static {
    /// What it is, with credentials redacted (logs, `warden config check`).
    fn describe(&self) -> String;
    /// Delivers one message; `Ok` only once the destination has it (the
    /// file is written, the SMTP server accepted it).
    async fn send(&self, mail: &Outgoing<'_>) -> Result<(), SendError>;
}

/// The `log` transport: every message, links included, logged at INFO and
/// written to `<dir>/<time>-<kind>.eml`. For laptops and tests: nothing
/// leaves the machine.
#[derive(Debug, Clone)]
pub struct LogTransport {
    dir: PathBuf,
}

impl LogTransport {
    /// Writes into `dir` (created if missing, readable by the owner only:
    /// the files hold live links).
    pub fn new(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        create_private_dir(&dir)?;
        Ok(Self { dir })
    }

    /// Where the `.eml` files go.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[async_trait]
impl Transport for LogTransport {
    fn describe(&self) -> String {
        format!("log (.eml files in {})", self.dir.display())
    }

    async fn send(&self, mail: &Outgoing<'_>) -> Result<(), SendError> {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
        let base = format!("{stamp}-{}", mail.kind);
        let bytes = mail.message.formatted();
        let dir = self.dir.clone();
        let path = tokio::task::spawn_blocking(move || write_new(&dir, &base, &bytes))
            .await
            .map_err(|e| SendError::transient(format!("writing the .eml file: {e}")))?
            .map_err(|e| SendError::transient(format!("writing the .eml file: {e}")))?;
        // The point of this transport: a developer reads the link here.
        tracing::info!(
            kind = %mail.kind,
            to = mail.to,
            subject = %mail.rendered.subject,
            file = %path.display(),
            "mail (log transport, not sent):\n{}",
            mail.rendered.text
        );
        Ok(())
    }
}

/// Writes `bytes` to `<dir>/<base>.eml`, or `<base>-2.eml`, ... if taken.
fn write_new(dir: &Path, base: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    use std::io::Write as _;
    for n in 1..100 {
        let name = if n == 1 {
            format!("{base}.eml")
        } else {
            format!("{base}-{n}.eml")
        };
        let path = dir.join(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&path) {
            Ok(mut file) => {
                file.write_all(bytes)?;
                file.sync_all()?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("no free file name"))
}

/// SMTP settings beyond the URL.
#[derive(Debug, Clone)]
pub struct SmtpOptions {
    /// Limit of every SMTP operation (connect, each command) and, twice
    /// over, of one whole delivery.
    pub timeout: Duration,
    /// Extra trusted root certificates, PEM (a private relay's CA).
    pub ca_pem: Option<Vec<u8>>,
}

impl Default for SmtpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(15),
            ca_pem: None,
        }
    }
}

/// Delivery to an SMTP server.
pub struct SmtpTransport {
    url: SmtpUrl,
    client: Client,
    timeout: Duration,
}

/// How messages reach the server.
enum Client {
    /// Plain or STARTTLS: our own connection, with TCP_NODELAY.
    Direct(Box<Direct>),
    /// Implicit TLS (`smtps://`): lettre's pooled transport, whose sockets
    /// keep Nagle's algorithm on (lettre 0.11.23 has no way to change
    /// that, and its fix, lettre/lettre#1159, is not released yet).
    Lettre(AsyncSmtpTransport<Tokio1Executor>),
}

/// One SMTP connection, opened by us so that it sets TCP_NODELAY, and kept
/// for the next message while it is younger than [`IDLE_TIMEOUT`].
///
/// Why: lettre writes a message's body and its `.` terminator as two
/// writes. With Nagle's algorithm on, the five-byte terminator waits for
/// the server to acknowledge the body, and the server delays that ACK
/// (40 ms on Linux) because it has nothing to answer until the
/// terminator arrives: a fixed 40-50 ms per message, 20 messages/s on
/// loopback (docs/benchmarks.md, "Mail queue").
struct Direct {
    starttls: Option<TlsParameters>,
    credentials: Option<Credentials>,
    hello: ClientId,
    connection: tokio::sync::Mutex<Option<Open>>,
}

struct Open {
    connection: AsyncSmtpConnection,
    last_used: Instant,
}

/// Whether `pem` has at least one PEM certificate block.
fn holds_certificate(pem: &[u8]) -> bool {
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    pem.windows(BEGIN.len()).any(|w| w == BEGIN)
}

/// How long an unused connection is kept (lettre's pool used the same).
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

impl SmtpTransport {
    /// A client for `url`. Connects lazily, at the first message.
    pub fn new(url: SmtpUrl, options: &SmtpOptions) -> Result<Self, String> {
        let tls = match url.tls {
            TlsMode::None => None,
            _ => {
                let mut params = TlsParameters::builder(url.host.clone());
                if let Some(pem) = &options.ca_pem {
                    // lettre accepts a PEM file without a certificate in it
                    // and then trusts nothing extra: say so at start instead
                    // of failing every handshake later.
                    if !holds_certificate(pem) {
                        return Err(
                            "mail.smtp_ca_file: no PEM certificate (BEGIN CERTIFICATE) in the file"
                                .into(),
                        );
                    }
                    let cert = Certificate::from_pem(pem)
                        .map_err(|e| format!("mail.smtp_ca_file: not a PEM certificate: {e}"))?;
                    params = params.add_root_certificate(cert);
                }
                let params = params
                    .build_rustls()
                    .map_err(|e| format!("mail.smtp_url: TLS setup: {e}"))?;
                Some(params)
            }
        };
        let credentials = url.user.as_ref().map(|user| {
            Credentials::new(user.clone(), url.password().unwrap_or_default().to_owned())
        });
        let client = match (url.tls, tls) {
            (TlsMode::Implicit, Some(params)) => {
                let mut builder =
                    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(url.host.clone())
                        .port(url.port)
                        .tls(Tls::Wrapper(params))
                        .timeout(Some(options.timeout))
                        // One sender at a time; keep its connection for the next message.
                        .pool_config(PoolConfig::new().max_size(1).idle_timeout(IDLE_TIMEOUT));
                if let Some(credentials) = credentials {
                    builder = builder.credentials(credentials);
                }
                Client::Lettre(builder.build())
            }
            (_, starttls) => Client::Direct(Box::new(Direct {
                starttls,
                credentials,
                hello: ClientId::default(),
                connection: tokio::sync::Mutex::new(None),
            })),
        };
        Ok(Self {
            client,
            url,
            timeout: options.timeout,
        })
    }

    /// Sends over our own connection: reused while it is fresh and answers
    /// NOOP (as lettre's pool checks), dropped after any failure.
    async fn send_direct(&self, direct: &Direct, message: &Message) -> Result<(), SendError> {
        let mut slot = direct.connection.lock().await;
        let reusable = match slot.as_mut() {
            Some(open) => {
                !open.connection.has_broken()
                    && open.last_used.elapsed() < IDLE_TIMEOUT
                    && open.connection.test_connected().await
            }
            None => false,
        };
        let mut open = match slot.take() {
            Some(open) if reusable => open,
            stale => {
                if let Some(mut stale) = stale {
                    stale.connection.abort().await;
                }
                Open {
                    connection: self.connect(direct).await?,
                    last_used: Instant::now(),
                }
            }
        };
        match open
            .connection
            .send(message.envelope(), &message.formatted())
            .await
        {
            Ok(_response) => {
                open.last_used = Instant::now();
                *slot = Some(open);
                Ok(())
            }
            Err(e) => {
                open.connection.abort().await;
                Err(classify(&e))
            }
        }
    }

    /// Connects (TCP_NODELAY), says EHLO, upgrades with STARTTLS when
    /// configured (refusing a server that does not offer it) and
    /// authenticates.
    async fn connect(&self, direct: &Direct) -> Result<AsyncSmtpConnection, SendError> {
        let address = (self.url.host.as_str(), self.url.port);
        let tcp = match tokio::time::timeout(self.timeout, TcpStream::connect(address)).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(e)) => return Err(SendError::transient(format!("smtp: connection: {e}"))),
            Err(_) => {
                return Err(SendError::transient(format!(
                    "smtp: connection: no answer within {:?}",
                    self.timeout
                )));
            }
        };
        tcp.set_nodelay(true)
            .map_err(|e| SendError::transient(format!("smtp: connection: {e}")))?;
        let mut connection =
            AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &direct.hello)
                .await
                .map_err(|e| classify(&e))?;
        if let Some(params) = &direct.starttls {
            connection
                .starttls(params.clone(), &direct.hello)
                .await
                .map_err(|e| classify(&e))?;
        }
        if let Some(credentials) = &direct.credentials {
            connection
                .auth(DEFAULT_MECHANISMS, credentials)
                .await
                .map_err(|e| classify(&e))?;
        }
        Ok(connection)
    }
}

#[async_trait]
impl Transport for SmtpTransport {
    fn describe(&self) -> String {
        format!("smtp {} ({})", self.url.redacted(), self.url.tls.describe())
    }

    async fn send(&self, mail: &Outgoing<'_>) -> Result<(), SendError> {
        // lettre bounds each operation; this bounds the whole exchange
        // (connect, TLS, AUTH, MAIL, RCPT, DATA), which the worker's lease
        // outlives (see the worker).
        let whole = self.timeout * 2;
        let exchange = async {
            match &self.client {
                Client::Direct(direct) => self.send_direct(direct, mail.message).await,
                Client::Lettre(client) => client
                    .send(mail.message.clone())
                    .await
                    .map(|_response| ())
                    .map_err(|e| classify(&e)),
            }
        };
        match tokio::time::timeout(whole, exchange).await {
            Ok(result) => result,
            Err(_) => Err(SendError::transient(format!(
                "no answer from the SMTP server within {whole:?}"
            ))),
        }
    }
}

/// Whether an SMTP failure is the recipient's or the message's for good
/// (5xx, retrying cannot help) or anything else (4xx, network, TLS,
/// authentication: configuration or an outage, which retrying outlasts).
fn classify(error: &lettre::transport::smtp::Error) -> SendError {
    // lettre's messages quote the server's reply or the I/O error; never
    // our credentials (they are not in any reply) or the message.
    let reason = format!("smtp: {error}");
    let reason = reason.lines().next().unwrap_or_default().to_owned();
    match error.status().map(u16::from) {
        // 530/534/535/538: authentication required, too weak, or refused:
        // our configuration, not this message. Fixing it sends the queue.
        Some(530 | 534 | 535 | 538) => SendError::transient(reason),
        Some(_) if error.is_permanent() => SendError::permanent(reason),
        _ => SendError::transient(reason),
    }
}

/// The sender address: configured, or `<product> <no-reply@host>` of the
/// issuer's host.
pub fn default_from(product_name: &str, issuer_host: &str) -> Option<Mailbox> {
    format!("{product_name} <no-reply@{issuer_host}>")
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_log_transport_writes_one_eml_file_per_message() {
        let dir = tempfile::tempdir().unwrap();
        let transport = LogTransport::new(dir.path().join("mail")).unwrap();
        let rendered = Rendered {
            subject: "Confirm".into(),
            text: "https://x.example/verify-email?token=wml_1".into(),
            html: "<p>x</p>".into(),
        };
        let from: Mailbox = "Warden <no-reply@x.example>".parse().unwrap();
        let message = crate::message::build(
            warden_core::MailId::new(),
            &from,
            "a@example.com",
            &rendered,
            std::time::SystemTime::now(),
        )
        .unwrap();
        let outgoing = Outgoing {
            kind: MailKind::VerifyEmail,
            to: "a@example.com",
            rendered: &rendered,
            message: &message,
        };
        transport.send(&outgoing).await.unwrap();
        transport.send(&outgoing).await.unwrap();
        let mut files: Vec<_> = std::fs::read_dir(transport.dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert_eq!(files.len(), 2);
        for file in &files {
            let name = file.file_name().unwrap().to_str().unwrap();
            assert!(
                name.ends_with(".eml") && name.contains("-verify_email"),
                "{name}"
            );
            let text = std::fs::read_to_string(file).unwrap();
            assert!(text.contains("wml_1") && text.contains("multipart/alternative"));
        }
        assert!(transport.describe().starts_with("log"));
    }

    #[test]
    fn the_default_sender_comes_from_the_product_and_issuer() {
        let from = default_from("Acme ID", "auth.acme.test").unwrap();
        assert_eq!(from.name.as_deref(), Some("Acme ID"));
        assert_eq!(from.email.to_string(), "no-reply@auth.acme.test");
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_refused_at_start() {
        let url = SmtpUrl::parse("smtp://mail.example.com:587").unwrap();
        let options = SmtpOptions {
            ca_pem: Some(
                b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".to_vec(),
            ),
            ..SmtpOptions::default()
        };
        let err = SmtpTransport::new(url, &options).err().expect("refused");
        assert!(err.contains("smtp_ca_file"), "{err}");
    }
}
