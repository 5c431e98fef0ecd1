//! Header rules of the proxy: hop-by-hop removal (RFC 9110 §7.6.1),
//! identity headers, forwarding headers and W3C trace context.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use rand::RngCore as _;
use warden_edge::credentials::Identity;
use warden_verify::AnyPrincipal;

const TRACEPARENT: &str = "traceparent";

/// Headers that describe one connection, never the message.
/// `HTTP2-Settings` belongs to the h2c upgrade (RFC 7540 §3.2.1), which is
/// never forwarded.
const HOP_BY_HOP: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
    "trailer",
    "http2-settings",
];

/// Removes every `X-Warden-*` header, whatever its case (header names are
/// lower-cased by the parser).
pub fn strip_identity(headers: &mut HeaderMap) {
    let spoofed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("x-warden-"))
        .cloned()
        .collect();
    for name in spoofed {
        headers.remove(&name);
    }
}

/// Whether the message asks to switch to a WebSocket and nothing else:
/// `Connection: upgrade` plus exactly one `Upgrade: websocket`. Every
/// other upgrade (h2c above all) is never forwarded; see
/// docs/decisions/0014-edge-limits.md.
pub fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    let mut upgrades = headers.get_all(header::UPGRADE).iter();
    let only_websocket = match (upgrades.next(), upgrades.next()) {
        (Some(value), None) => value
            .to_str()
            .is_ok_and(|v| v.trim().eq_ignore_ascii_case("websocket")),
        _ => false,
    };
    only_websocket && connection_tokens(headers).any(|t| t.eq_ignore_ascii_case("upgrade"))
}

fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Removes the hop-by-hop headers and those `Connection` names. `TE:
/// trailers` survives (it is the one TE value a proxy may pass on).
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = connection_tokens(headers)
        .filter_map(|t| HeaderName::from_bytes(t.to_ascii_lowercase().as_bytes()).ok())
        .collect();
    let trailers = headers
        .get_all(header::TE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("trailers"));
    for name in listed {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    if trailers {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
}

/// Adds the identity of a verified token: a user's or a service's.
pub fn set_identity(headers: &mut HeaderMap, principal: &AnyPrincipal) {
    let scopes = principal.scopes().join(" ");
    let identity = match principal {
        AnyPrincipal::User(user) => Identity::User {
            user: user.user_id.to_string(),
            session: user.session_id.to_string(),
            roles: &user.roles,
            acr: &user.acr,
            amr: user.amr.iter().map(String::as_str).collect(),
            client: user.client_id.as_deref(),
            scope: user.client_id.as_ref().map(|_| scopes.as_str()),
        },
        AnyPrincipal::Service(service) => Identity::Service {
            client: &service.client_id,
            scope: &scopes,
        },
    };
    for (name, value) in identity.headers() {
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

/// `X-Forwarded-For` gets the peer appended (the client's list is passed on
/// but never used for a decision here); `-Proto` and `-Host` say what this
/// gateway saw, replacing the client's.
pub fn set_forwarded(headers: &mut HeaderMap, peer: IpAddr, host: Option<HeaderValue>) {
    let name = HeaderName::from_static("x-forwarded-for");
    let previous: Vec<String> = headers
        .get_all(&name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect();
    let value = if previous.is_empty() {
        peer.to_string()
    } else {
        format!("{}, {peer}", previous.join(", "))
    };
    if let Ok(value) = HeaderValue::try_from(value) {
        headers.insert(name, value);
    }
    headers.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static("http"),
    );
    match host {
        Some(host) => {
            headers.insert(HeaderName::from_static("x-forwarded-host"), host);
        }
        None => {
            headers.remove("x-forwarded-host");
        }
    }
}

/// The trace id to log: the client's `traceparent` is forwarded untouched;
/// without one a fresh, valid one is added for the upstream.
pub fn ensure_traceparent(headers: &mut HeaderMap) -> String {
    if let Some(value) = headers.get(TRACEPARENT) {
        return value
            .to_str()
            .ok()
            .and_then(|v| v.split('-').nth(1))
            .unwrap_or("")
            .to_owned();
    }
    let mut rng = rand::thread_rng();
    let (mut trace, mut span) = ([0_u8; 16], [0_u8; 8]);
    // All-zero ids are invalid; the chance is negligible but cheap to exclude.
    while trace == [0; 16] {
        rng.fill_bytes(&mut trace);
    }
    while span == [0; 8] {
        rng.fill_bytes(&mut span);
    }
    let trace_id = to_hex(&trace);
    let value = format!("00-{trace_id}-{}-01", to_hex(&span));
    if let Ok(value) = HeaderValue::try_from(value) {
        headers.insert(HeaderName::from_static(TRACEPARENT), value);
    }
    trace_id
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// The value of cookie `name` across every `Cookie` header (the edge's rule).
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    warden_edge::credentials::cookie(
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
        name,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (k, v) in pairs {
            headers.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn identity_headers_from_clients_are_removed_in_any_case() {
        let mut headers = map(&[
            ("X-Warden-User", "admin"),
            ("x-warden-roles", "admin"),
            ("X-WARDEN-SESSION", "s"),
            ("X-Warden-Anything", "x"),
            ("x-wardenish", "kept"),
            ("accept", "*/*"),
        ]);
        strip_identity(&mut headers);
        assert_eq!(headers.len(), 2);
        assert!(headers.contains_key("x-wardenish"));
    }

    #[test]
    fn hop_by_hop_headers_and_connection_listed_ones_go() {
        let mut headers = map(&[
            ("connection", "keep-alive, X-Secret-Hop"),
            ("connection", "close"),
            ("keep-alive", "timeout=5"),
            ("x-secret-hop", "1"),
            ("close", "1"),
            ("proxy-connection", "keep-alive"),
            ("proxy-authorization", "Basic x"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("http2-settings", "AAMAAABkAAQCAAAAAAIAAAAA"),
            ("te", "gzip, trailers"),
            ("trailer", "x-checksum"),
            ("authorization", "Bearer t"),
            ("x-end", "1"),
        ]);
        remove_hop_by_hop(&mut headers);
        let mut left: Vec<_> = headers.keys().map(|k| k.as_str().to_owned()).collect();
        left.sort();
        assert_eq!(left, ["authorization", "te", "x-end"]);
        assert_eq!(headers["te"], "trailers");
        let mut headers = map(&[("te", "gzip")]);
        remove_hop_by_hop(&mut headers);
        assert!(headers.is_empty());
    }

    #[test]
    fn only_websocket_upgrades_are_recognised() {
        assert!(is_websocket_upgrade(&map(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "WebSocket")
        ])));
        assert!(!is_websocket_upgrade(&map(&[("upgrade", "websocket")])));
        assert!(!is_websocket_upgrade(&map(&[("connection", "upgrade")])));
        for other in ["h2c", "websocket, h2c", "TLS/1.2", "h2c, websocket"] {
            assert!(
                !is_websocket_upgrade(&map(&[("connection", "upgrade"), ("upgrade", other)])),
                "{other}"
            );
        }
        assert!(!is_websocket_upgrade(&map(&[
            ("connection", "upgrade"),
            ("upgrade", "websocket"),
            ("upgrade", "h2c"),
        ])));
    }

    #[test]
    fn forwarded_for_appends_and_proto_host_are_ours() {
        let mut headers = map(&[
            ("x-forwarded-for", "10.0.0.1"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
        ]);
        set_forwarded(
            &mut headers,
            "127.0.0.1".parse().unwrap(),
            Some(HeaderValue::from_static("gw.test")),
        );
        assert_eq!(headers["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
        assert_eq!(headers["x-forwarded-proto"], "http");
        assert_eq!(headers["x-forwarded-host"], "gw.test");
        let mut headers = map(&[("x-forwarded-host", "evil.example")]);
        set_forwarded(&mut headers, "::1".parse().unwrap(), None);
        assert_eq!(headers["x-forwarded-for"], "::1");
        assert!(!headers.contains_key("x-forwarded-host"));
    }

    #[test]
    fn traceparent_is_kept_or_generated_valid() {
        let sent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let mut headers = map(&[(TRACEPARENT, sent), ("tracestate", "a=b")]);
        assert_eq!(
            ensure_traceparent(&mut headers),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(headers[TRACEPARENT], sent);
        assert_eq!(headers["tracestate"], "a=b");
        let mut headers = HeaderMap::new();
        let id = ensure_traceparent(&mut headers);
        let value = headers[TRACEPARENT].to_str().unwrap();
        let parts: Vec<&str> = value.split('-').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[0], "00");
        assert_eq!(parts[1], id);
        assert_eq!(parts[1].len(), 32);
        assert_eq!(parts[2].len(), 16);
        assert!(value.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert_ne!(ensure_traceparent(&mut HeaderMap::new()), id);
    }

    #[test]
    fn cookies_are_found_across_headers() {
        let headers = map(&[
            ("cookie", "a=1; __Host-warden_at=tok"),
            ("cookie", "warden_csrf=c"),
        ]);
        assert_eq!(cookie(&headers, "__Host-warden_at"), Some("tok"));
        assert_eq!(cookie(&headers, "warden_csrf"), Some("c"));
        assert_eq!(cookie(&headers, "b"), None);
    }
}
