//! A real SMTP server for tests: Python's aiosmtpd (`smtp_server.py`, run
//! with `WARDEN_TEST_PYTHON`, a Python with `aiosmtpd==1.4.6`) on port 0 of
//! loopback, plain, with STARTTLS or with implicit TLS, optionally
//! requiring credentials or refusing recipients. It writes every message it
//! accepts into a directory of its own, which the test reads back as a mail
//! client would.
//!
//! Its certificate (for `localhost`) is issued by a test CA made for each
//! server, as a private relay's would be: Warden trusts it only through
//! the CA ([`SmtpServer::ca_pem`], or the file [`SmtpServer::ca_file`] for
//! `[mail] smtp_ca_file`).
//!
//! ```no_run
//! # async fn example() {
//! use std::time::Duration;
//! use warden_testkit::smtp::{ServerOptions, SmtpServer, Tls};
//!
//! let Some(server) = SmtpServer::start(&ServerOptions::new(Tls::StartTls)) else {
//!     return; // skipped: no WARDEN_TEST_PYTHON
//! };
//! let url = format!("smtp://localhost:{}", server.port());
//! // ... configure Warden with `url` and `server.ca_file()`, make it mail ...
//! let message = server
//!     .wait_for_message(Duration::from_secs(20), |m| m.to == "alice@example.com")
//!     .await;
//! assert_eq!(message.content_type, "multipart/alternative");
//! # }
//! ```

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

/// The Python interpreter with aiosmtpd (`WARDEN_TEST_PYTHON`), or `None`
/// with a printed skip; a panic when `WARDEN_TEST_REQUIRE_SERVICES=1`.
pub fn python() -> Option<PathBuf> {
    match std::env::var("WARDEN_TEST_PYTHON") {
        Ok(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ if std::env::var("WARDEN_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") => {
            panic!("WARDEN_TEST_PYTHON is unset but WARDEN_TEST_REQUIRE_SERVICES=1")
        }
        _ => {
            crate::skipped("set WARDEN_TEST_PYTHON to a python with aiosmtpd==1.4.6");
            None
        }
    }
}

fn script() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src/smtp_server.py"))
}

/// How the server speaks TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// STARTTLS offered and required before MAIL and AUTH (port 587 style).
    StartTls,
    /// TLS from the first byte (`smtps://`, port 465 style).
    Implicit,
    /// Plain text only, no STARTTLS offered.
    None,
}

impl Tls {
    fn as_arg(self) -> &'static str {
        match self {
            Self::StartTls => "starttls",
            Self::Implicit => "implicit",
            Self::None => "none",
        }
    }
}

/// What the server demands and refuses.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// TLS mode.
    pub tls: Tls,
    /// User and password that AUTH must present (only over TLS); `None`:
    /// no AUTH.
    pub user: Option<(String, String)>,
    /// Recipients answered with 550 at RCPT TO.
    pub refuse: Vec<String>,
}

impl ServerOptions {
    /// A server in `tls` mode, without AUTH, accepting every recipient.
    pub fn new(tls: Tls) -> Self {
        Self {
            tls,
            user: None,
            refuse: Vec::new(),
        }
    }

    /// These options, with AUTH required as `user`/`password`.
    pub fn user(mut self, user: &str, password: &str) -> Self {
        self.user = Some((user.to_owned(), password.to_owned()));
        self
    }

    /// These options, with RCPT TO:<`address`> refused for good (550).
    pub fn refuse(mut self, address: &str) -> Self {
        self.refuse.push(address.to_owned());
        self
    }
}

/// One part of a delivered message, decoded.
#[derive(Debug, Clone, Deserialize)]
pub struct Part {
    /// `text/plain`, `text/html`, ...
    #[serde(rename = "type")]
    pub content_type: String,
    /// The decoded body.
    pub body: String,
}

/// A message as the server received it and a mail client reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct Delivered {
    /// The envelope's sender (MAIL FROM).
    pub envelope_from: String,
    /// The envelope's recipients (RCPT TO), comma-separated.
    pub envelope_to: String,
    /// How it came: `starttls TLSv1.3`, `implicit TLSv1.3` or `none`.
    pub tls: String,
    /// `From`, decoded.
    pub from: String,
    /// `To`, decoded.
    pub to: String,
    /// `Subject`, decoded.
    pub subject: String,
    /// `Message-ID`.
    pub message_id: String,
    /// `Date`.
    pub date: String,
    /// The top-level content type (`multipart/alternative`).
    pub content_type: String,
    /// The leaf parts, in order.
    pub parts: Vec<Part>,
}

impl Delivered {
    /// The content types of the parts, in order.
    pub fn part_types(&self) -> Vec<&str> {
        self.parts
            .iter()
            .map(|part| part.content_type.as_str())
            .collect()
    }

    /// The body of the first part of `content_type`.
    pub fn body(&self, content_type: &str) -> Option<&str> {
        self.parts
            .iter()
            .find(|part| part.content_type == content_type)
            .map(|part| part.body.as_str())
    }
}

/// A test CA and the `localhost` certificate it issued to the server, as
/// PEM files.
struct TestCert {
    ca_file: PathBuf,
    ca_pem: Vec<u8>,
    cert: PathBuf,
    key: PathBuf,
}

impl TestCert {
    fn create(dir: &Path) -> Self {
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA");
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Warden test SMTP CA");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let ca = ca_params.self_signed(&ca_key).expect("CA certificate");

        let key = rcgen::KeyPair::generate().expect("server key");
        let params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("server params");
        let cert = params
            .signed_by(&key, &ca, &ca_key)
            .expect("server certificate");

        let ca_pem = ca.pem();
        let paths = Self {
            ca_file: dir.join("ca.pem"),
            ca_pem: ca_pem.clone().into_bytes(),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        std::fs::write(&paths.ca_file, ca_pem).expect("write the CA");
        std::fs::write(&paths.cert, cert.pem()).expect("write the certificate");
        std::fs::write(&paths.key, key.serialize_pem()).expect("write the key");
        paths
    }
}

/// A running aiosmtpd on loopback with a temporary directory of its own
/// (certificates and received mail); stopped and removed when dropped.
pub struct SmtpServer {
    python: PathBuf,
    options: ServerOptions,
    cert: TestCert,
    maildir: PathBuf,
    port: u16,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl SmtpServer {
    /// Starts a server on a free port; `None` (a printed skip) without
    /// `WARDEN_TEST_PYTHON`, a panic then under
    /// `WARDEN_TEST_REQUIRE_SERVICES=1`.
    pub fn start(options: &ServerOptions) -> Option<Self> {
        let python = python()?;
        let dir = tempfile::tempdir().expect("temp dir");
        let maildir = dir.path().join("maildir");
        std::fs::create_dir(&maildir).expect("maildir");
        let cert = TestCert::create(dir.path());
        let mut server = Self {
            python,
            options: options.clone(),
            cert,
            maildir,
            port: 0,
            child: None,
            _dir: dir,
        };
        server.spawn();
        Some(server)
    }

    /// Starts the script on `self.port` (0: any) and learns the port from
    /// its `READY <port>` line, printed once it accepts connections.
    fn spawn(&mut self) {
        let mut command = Command::new(&self.python);
        command
            .arg(script())
            .args(["--tls", self.options.tls.as_arg()])
            .args(["--port", &self.port.to_string()])
            .arg("--cert")
            .arg(&self.cert.cert)
            .arg("--key")
            .arg(&self.cert.key)
            .arg("--maildir")
            .arg(&self.maildir);
        if let Some((user, password)) = &self.options.user {
            command.args(["--user", user, "--password", password]);
        }
        for address in &self.options.refuse {
            command.args(["--refuse", address]);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the SMTP server's first line");
        let Some(port) = line
            .trim()
            .strip_prefix("READY ")
            .and_then(|p| p.parse().ok())
        else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("SMTP server did not start: {line:?}");
        };
        self.port = port;
        self.child = Some(child);
    }

    /// The port it listens on (on 127.0.0.1; `localhost` matches the
    /// certificate). It keeps it across [`stop`](Self::stop) and
    /// [`restart`](Self::restart).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The test CA, PEM.
    pub fn ca_pem(&self) -> &[u8] {
        &self.cert.ca_pem
    }

    /// The test CA's PEM file, for `[mail] smtp_ca_file`.
    pub fn ca_file(&self) -> &Path {
        &self.cert.ca_file
    }

    /// Stops the server (connections are refused) keeping what it received.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, certificate and mail directory.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// The files of the messages received so far, oldest first.
    fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.maildir)
            .expect("read the maildir")
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
            .collect();
        files.sort();
        files
    }

    /// Every message received so far, oldest first, as Python's `email`
    /// package parses it.
    pub fn delivered(&self) -> Vec<Delivered> {
        let files = self.files();
        if files.is_empty() {
            return Vec::new();
        }
        let out = Command::new(&self.python)
            .arg(script())
            .arg("parse")
            .args(&files)
            .output()
            .expect("run the message parser");
        assert!(out.status.success(), "parsing the messages: {out:?}");
        out.stdout
            .split(|&byte| byte == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| serde_json::from_slice(line).expect("a parsed message"))
            .collect()
    }

    /// Waits for the first received message that `matches` (failing after
    /// `patience`) and returns it.
    pub async fn wait_for_message(
        &self,
        patience: Duration,
        matches: impl Fn(&Delivered) -> bool,
    ) -> Delivered {
        let deadline = Instant::now() + patience;
        let mut seen = 0;
        loop {
            // Parsing starts Python: only when something new arrived.
            let count = self.files().len();
            if count > seen {
                seen = count;
                if let Some(found) = self.delivered().into_iter().find(&matches) {
                    return found;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no matching message within {patience:?}; received: {:#?}",
                self.delivered()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}
