//! Where revocations come from: the polled feed (`GET /v1/revocations`) and,
//! optionally, the event bus.

use std::time::Duration;

use warden_token::revocation::RevocationPage;

/// How a [`Verifier`](crate::Verifier) learns of revocations.
///
/// The feed is polled at `poll_interval` (it bootstraps the deny-list at
/// start and catches up whatever the bus missed); a bus, when configured,
/// brings each revocation in as it happens.
#[derive(Clone)]
pub struct RevocationFeed {
    pub(crate) enabled: bool,
    pub(crate) poll_interval: Duration,
    pub(crate) service_token: Option<String>,
    pub(crate) bus_url: Option<String>,
    #[cfg(any(feature = "nats", feature = "amqp"))]
    pub(crate) bus_names: warden_events::BusNames,
}

impl std::fmt::Debug for RevocationFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevocationFeed")
            .field("enabled", &self.enabled)
            .field("poll_interval", &self.poll_interval)
            .field(
                "service_token",
                &self.service_token.as_ref().map(|_| "[redacted]"),
            )
            .field("bus", &self.bus_url.is_some())
            .finish()
    }
}

impl Default for RevocationFeed {
    fn default() -> Self {
        Self::poll(Duration::from_secs(5))
    }
}

impl RevocationFeed {
    /// Poll the issuer's feed every `interval` (the default: 5 s).
    pub fn poll(interval: Duration) -> Self {
        Self {
            enabled: true,
            poll_interval: interval.max(Duration::from_millis(100)),
            service_token: None,
            bus_url: None,
            #[cfg(any(feature = "nats", feature = "amqp"))]
            bus_names: warden_events::BusNames::default(),
        }
    }

    /// No revocations at all: tokens stay valid until they expire even after
    /// a sign-out or ban. Only for tests and offline tools.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// The credential for `GET /v1/revocations` (Warden's
    /// `WARDEN_REVOCATIONS_TOKEN`); without one the feed only answers
    /// clients on Warden's loopback interface.
    pub fn service_token(mut self, token: impl Into<String>) -> Self {
        let token = token.into();
        self.service_token = (!token.is_empty()).then_some(token);
        self
    }

    /// Also subscribe to the event bus at `url` (`nats://...` or
    /// `amqp://...`, with the matching feature), for sub-second revocation.
    #[cfg(any(feature = "nats", feature = "amqp"))]
    pub fn bus(mut self, url: impl Into<String>) -> Self {
        self.bus_url = Some(url.into());
        self
    }

    /// Broker names, when Warden was configured with non-default ones.
    #[cfg(any(feature = "nats", feature = "amqp"))]
    pub fn bus_names(mut self, names: warden_events::BusNames) -> Self {
        self.bus_names = names;
        self
    }
}

/// One page from the feed.
pub(crate) async fn fetch_page(
    http: &reqwest::Client,
    issuer: &str,
    token: Option<&str>,
    since: Option<&str>,
) -> Result<RevocationPage, String> {
    let url = format!("{}/v1/revocations", issuer.trim_end_matches('/'));
    let mut request = http.get(url);
    if let Some(since) = since {
        request = request.query(&[("since", since)]);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if !response.status().is_success() {
        return Err(format!("revocation feed answered {}", response.status()));
    }
    response
        .json::<RevocationPage>()
        .await
        .map_err(|e| format!("revocation feed: {}", e.without_url()))
}
