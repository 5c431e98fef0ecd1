//! Warden's edge contract, in one place: what every edge (the HTTP API, the
//! gateway, warden-verify and Envoy's `ext_authz`) says on the wire and how it
//! reads a request. The problem+json body ([`problem`]), the 401 challenge
//! ([`challenge`]), credential extraction ([`credentials`]), the CSRF and
//! Origin checks ([`csrf`]), the sign-in redirect ([`sign_in`]), and, here,
//! request-path normalisation and longest-prefix route tables: the gateway's
//! routes, the forward-auth rules of `/v1/verify` and the Envoy `ext_authz`
//! check all decide on the same canonical path.
//!
//! An access rule is only as strong as the agreement between the component
//! that checks the path and the one that serves it. `/%61dmin`, `//admin`,
//! `/public/../admin`, `/admin;x` and `/ADMIN` all reach an admin handler in
//! some upstream framework, so a rule on `/admin` must see them as `/admin`.
//! [`normalize`] therefore:
//!
//! - decodes percent-encoded unreserved characters (`%61` is `a`, `%2e` is `.`),
//!   and upper-cases the hex digits of the encodings it keeps;
//! - refuses what cannot be given one meaning: an encoded `/` or `\`, a raw
//!   `\`, control characters, broken `%` escapes, dot segments carrying
//!   parameters (`..;x`, which Tomcat treats as `..`), a double-encoded
//!   `%25xx` (an upstream that decodes twice reads `%2e%2e` as `..`), a
//!   segment ending in `.` or a space (Windows servers trim them: `/admin.`
//!   is `/admin` there), and anything not ASCII once decoded (some servers
//!   fold full-width or accented letters into ASCII ones);
//! - collapses repeated slashes and resolves `.` and `..` (never above the root);
//! - keeps the result for forwarding ([`Normalized::path`]) and derives the
//!   matching key ([`Normalized::key`]): each segment's `;parameters` dropped
//!   and ASCII letters lower-cased.
//!
//! Forward [`Normalized::path`], not the raw path, so the upstream serves
//! exactly what the rule was decided on.
//!
//! [`Table`] matches whole segments: the prefix `/admin` (or `/admin/`)
//! covers `/admin`, `/admin/` and `/admin/users`, never `/administrator`.
//!
//! ```
//! use warden_edge::{normalize, Table};
//!
//! let routes = Table::new([("/api/tickets/", "tickets"), ("/admin/", "admin")]).unwrap();
//! let request = normalize("/API/tickets/../..//%61dmin;x/users").unwrap();
//! let found = routes.lookup(&request.key).unwrap();
//! assert_eq!(*found.value, "admin");
//! assert_eq!(request.path, "/admin;x/users");
//! assert_eq!(request.key, "/admin/users");
//! assert_eq!(request.strip_segments(found.segments), "/users");
//! ```

#![deny(missing_docs)]

pub mod challenge;
pub mod credentials;
pub mod csrf;
pub mod problem;
pub mod sign_in;

use std::collections::HashMap;
use std::fmt;

/// A request path in canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    /// The canonical path to forward: starts with `/`, no empty, `.` or `..`
    /// segments; keeps a trailing slash and `;parameters`.
    pub path: String,
    /// The key rules match on: like `path`, without `;parameters`, ASCII
    /// lower-cased, no trailing slash (the root is `/`).
    pub key: String,
}

impl Normalized {
    /// The forwarded path with its first `segments` segments removed, as a
    /// gateway route with `strip_prefix` sends it upstream (`/` at least).
    pub fn strip_segments(&self, segments: usize) -> &str {
        if segments == 0 {
            return &self.path;
        }
        // Segments are never empty, so the (n+1)-th slash starts the rest.
        match self.path.match_indices('/').nth(segments) {
            Some((at, _)) => &self.path[at..],
            None => "/",
        }
    }
}

/// Why a path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// It does not start with `/`.
    NotAbsolute,
    /// `%2F` or `%5C`: a separator inside a segment means different things
    /// to different servers.
    EncodedSeparator,
    /// A raw backslash, which some servers read as a separator.
    Backslash,
    /// A control character, raw or percent-encoded (including NUL).
    ControlCharacter,
    /// A `%` not followed by two hex digits.
    BadPercentEncoding,
    /// `.;x` or `..;x`: a dot segment with parameters.
    DotSegmentWithParameters,
    /// `%25` followed by two hex digits: decoded twice, it is another path.
    DoubleEncoding,
    /// A segment ending in `.` or a space, which some servers trim.
    TrailingDotOrSpace,
    /// A byte outside ASCII, raw or percent-encoded.
    NonAscii,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathError::NotAbsolute => "the path must start with '/'",
            PathError::EncodedSeparator => "the path contains an encoded '/' or '\\'",
            PathError::Backslash => "the path contains a backslash",
            PathError::ControlCharacter => "the path contains a control character",
            PathError::BadPercentEncoding => "the path contains a malformed percent-encoding",
            PathError::DotSegmentWithParameters => {
                "the path contains a dot segment with parameters"
            }
            PathError::DoubleEncoding => "the path contains a double percent-encoding",
            PathError::TrailingDotOrSpace => "a path segment ends in '.' or a space",
            PathError::NonAscii => "the path contains non-ASCII characters",
        })
    }
}

impl std::error::Error for PathError {}

/// Puts `raw` (a request path without the query) in canonical form, or
/// refuses it. See the crate documentation for the rules.
pub fn normalize(raw: &str) -> Result<Normalized, PathError> {
    if !raw.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    let decoded = decode_unreserved(raw)?;
    let trailing_slash = decoded.ends_with('/');
    let mut segments: Vec<&str> = Vec::new();
    let mut ends_in_directory = trailing_slash;
    for segment in decoded.split('/').filter(|s| !s.is_empty()) {
        let (base, has_params) = match segment.split_once(';') {
            Some((base, _)) => (base, true),
            None => (segment, false),
        };
        if base == "." || base == ".." {
            if has_params {
                return Err(PathError::DotSegmentWithParameters);
            }
            if base == ".." {
                segments.pop();
            }
            ends_in_directory = true;
            continue;
        }
        // Checked on the segment's name and on each parameter: IIS and
        // Windows file systems drop a trailing dot or space.
        if segment
            .split(';')
            .any(|part| part.ends_with('.') || part.ends_with("%20"))
        {
            return Err(PathError::TrailingDotOrSpace);
        }
        ends_in_directory = trailing_slash;
        segments.push(segment);
    }
    let mut path = String::with_capacity(decoded.len());
    let mut key = String::with_capacity(decoded.len());
    for segment in &segments {
        path.push('/');
        path.push_str(segment);
        key.push('/');
        let base = segment.split_once(';').map_or(*segment, |(base, _)| base);
        key.extend(base.chars().map(|c| c.to_ascii_lowercase()));
    }
    if segments.is_empty() || ends_in_directory {
        path.push('/');
    }
    if key.is_empty() {
        key.push('/');
    }
    Ok(Normalized { path, key })
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

fn decode_unreserved(raw: &str) -> Result<String, PathError> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        match byte {
            b'%' => {
                let (Some(hi), Some(lo)) = (
                    bytes.get(i + 1).copied().and_then(hex_value),
                    bytes.get(i + 2).copied().and_then(hex_value),
                ) else {
                    return Err(PathError::BadPercentEncoding);
                };
                let value = hi << 4 | lo;
                match value {
                    b'/' | b'\\' => return Err(PathError::EncodedSeparator),
                    0..=0x1f | 0x7f => return Err(PathError::ControlCharacter),
                    0x80..=0xff => return Err(PathError::NonAscii),
                    b'%' if bytes.get(i + 3).copied().and_then(hex_value).is_some()
                        && bytes.get(i + 4).copied().and_then(hex_value).is_some() =>
                    {
                        return Err(PathError::DoubleEncoding);
                    }
                    v if is_unreserved(v) => out.push(char::from(v)),
                    v => {
                        const HEX: &[u8; 16] = b"0123456789ABCDEF";
                        out.push('%');
                        out.push(char::from(HEX[usize::from(v >> 4)]));
                        out.push(char::from(HEX[usize::from(v & 0xf)]));
                    }
                }
                i += 3;
            }
            b'\\' => return Err(PathError::Backslash),
            0..=0x1f | 0x7f => return Err(PathError::ControlCharacter),
            0x80..=0xff => return Err(PathError::NonAscii),
            _ => {
                out.push(char::from(byte));
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Why a route table could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// A prefix is not a valid path.
    InvalidPrefix {
        /// The prefix as configured.
        prefix: String,
        /// Why.
        reason: PathError,
    },
    /// Two prefixes match the same requests (after normalisation).
    Duplicate {
        /// The second one as configured.
        prefix: String,
    },
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::InvalidPrefix { prefix, reason } => {
                write!(f, "route prefix {prefix:?} is invalid: {reason}")
            }
            RouteError::Duplicate { prefix } => {
                write!(f, "route prefix {prefix:?} duplicates an earlier one")
            }
        }
    }
}

impl std::error::Error for RouteError {}

/// The route a path fell into.
#[derive(Debug, PartialEq, Eq)]
pub struct Match<'a, T> {
    /// The prefix as configured.
    pub prefix: &'a str,
    /// What was stored with it.
    pub value: &'a T,
    /// How many path segments the prefix covers (for
    /// [`Normalized::strip_segments`]).
    pub segments: usize,
}

/// Prefixes to values; the longest prefix (in whole segments) wins.
#[derive(Debug, Clone)]
pub struct Table<T> {
    // Key without its leading slash ("" is the root) -> entry.
    by_key: HashMap<String, usize>,
    entries: Vec<(String, usize, T)>,
}

impl<T> Table<T> {
    /// Builds a table; prefixes go through [`normalize`] and match
    /// case-insensitively, with or without a trailing slash.
    pub fn new<P: Into<String>>(
        routes: impl IntoIterator<Item = (P, T)>,
    ) -> Result<Self, RouteError> {
        let mut table = Table {
            by_key: HashMap::new(),
            entries: Vec::new(),
        };
        for (prefix, value) in routes {
            let prefix: String = prefix.into();
            let normalized = normalize(&prefix).map_err(|reason| RouteError::InvalidPrefix {
                prefix: prefix.clone(),
                reason,
            })?;
            let key = normalized.key.trim_start_matches('/').to_owned();
            let segments = if key.is_empty() {
                0
            } else {
                key.split('/').count()
            };
            if table.by_key.contains_key(&key) {
                return Err(RouteError::Duplicate { prefix });
            }
            table.by_key.insert(key, table.entries.len());
            table.entries.push((prefix, segments, value));
        }
        Ok(table)
    }

    /// The longest prefix covering `key` (a [`Normalized::key`]).
    pub fn lookup(&self, key: &str) -> Option<Match<'_, T>> {
        // Drop one trailing segment at a time: `a/b/c`, `a/b`, `a`, "".
        let mut candidate = key.strip_prefix('/').unwrap_or(key);
        loop {
            if let Some(&index) = self.by_key.get(candidate) {
                let (prefix, segments, value) = &self.entries[index];
                return Some(Match {
                    prefix,
                    value,
                    segments: *segments,
                });
            }
            if candidate.is_empty() {
                return None;
            }
            candidate = candidate.rfind('/').map_or("", |at| &candidate[..at]);
        }
    }

    /// The routes in configuration order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.entries.iter().map(|(p, _, v)| (p.as_str(), v))
    }

    /// How many routes there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(raw: &str) -> String {
        normalize(raw).expect(raw).key
    }

    fn path(raw: &str) -> String {
        normalize(raw).expect(raw).path
    }

    #[test]
    fn path_tricks_all_reach_the_same_key() {
        for raw in [
            "/admin/x",
            "/%61dmin/x",
            "/%61%64%6D%69%6E/x",
            "//admin/x",
            "/admin//x",
            "/admin/../admin/x",
            "/public/../admin/x",
            "/./admin/./x",
            "/%2e%2e/admin/x",
            "/public/%2E%2E/admin/x",
            "/admin;x/x",
            "/admin;jsessionid=1/x;y",
            "/ADMIN/x",
            "/Admin/X",
            "/../../admin/x",
        ] {
            assert_eq!(key(raw), "/admin/x", "{raw}");
        }
    }

    #[test]
    fn forwarded_path_keeps_case_parameters_and_trailing_slash() {
        assert_eq!(path("/Admin;v=1/x/"), "/Admin;v=1/x/");
        assert_eq!(path("/a//b/./c/../d"), "/a/b/d");
        assert_eq!(path("/a/b/.."), "/a/");
        assert_eq!(path("/"), "/");
        assert_eq!(path("//"), "/");
        assert_eq!(path("/.."), "/");
        assert_eq!(path("/%7euser/%41"), "/~user/A");
    }

    #[test]
    fn reserved_encodings_stay_encoded_with_upper_case_hex() {
        assert_eq!(path("/a%3bb/%3f%20c"), "/a%3Bb/%3F%20c");
        // A ';' that was encoded is data, not a parameter.
        assert_eq!(key("/Admin%3Bx"), "/admin%3bx");
        // A lone encoded '%' is data.
        assert_eq!(path("/100%25"), "/100%25");
        assert_eq!(path("/100%25x"), "/100%25x");
    }

    #[test]
    fn ambiguous_paths_are_refused() {
        for (raw, error) in [
            ("admin", PathError::NotAbsolute),
            ("", PathError::NotAbsolute),
            ("*", PathError::NotAbsolute),
            ("/public/..%2fadmin", PathError::EncodedSeparator),
            ("/public/..%2Fadmin", PathError::EncodedSeparator),
            ("/a%5cb", PathError::EncodedSeparator),
            ("/public\\..\\admin", PathError::Backslash),
            ("/a%00b", PathError::ControlCharacter),
            ("/a\u{0}b", PathError::ControlCharacter),
            ("/a%0d%0aX-Warden-User:%20x", PathError::ControlCharacter),
            ("/a\tb", PathError::ControlCharacter),
            ("/a%7f", PathError::ControlCharacter),
            ("/a%", PathError::BadPercentEncoding),
            ("/a%4", PathError::BadPercentEncoding),
            ("/a%zz", PathError::BadPercentEncoding),
            ("/public/..;/admin", PathError::DotSegmentWithParameters),
            ("/public/.;x/admin", PathError::DotSegmentWithParameters),
            ("/%252e%252e/admin", PathError::DoubleEncoding),
            ("/public/%2561dmin", PathError::DoubleEncoding),
            ("/admin./x", PathError::TrailingDotOrSpace),
            ("/admin%2e/x", PathError::TrailingDotOrSpace),
            ("/admin%20/x", PathError::TrailingDotOrSpace),
            ("/admin.;x/y", PathError::TrailingDotOrSpace),
            ("/admin;x./y", PathError::TrailingDotOrSpace),
            ("/admin...", PathError::TrailingDotOrSpace),
            ("/caf\u{e9}", PathError::NonAscii),
            ("/caf%C3%A9", PathError::NonAscii),
            ("/%EF%BC%A1dmin", PathError::NonAscii),
        ] {
            assert_eq!(normalize(raw), Err(error), "{raw:?}");
        }
    }

    fn table() -> Table<&'static str> {
        Table::new([
            ("/", "root"),
            ("/api/", "api"),
            ("/api/tickets/", "tickets"),
            ("/admin", "admin"),
        ])
        .unwrap()
    }

    fn route(raw: &str) -> Option<&'static str> {
        let table = table();
        let normalized = normalize(raw).unwrap();
        table.lookup(&normalized.key).map(|m| *m.value)
    }

    #[test]
    fn longest_whole_segment_prefix_wins() {
        assert_eq!(route("/api/tickets/5"), Some("tickets"));
        assert_eq!(route("/api/tickets"), Some("tickets"));
        assert_eq!(route("/api/tickets/"), Some("tickets"));
        assert_eq!(route("/api/ticketsx"), Some("api"));
        assert_eq!(route("/api"), Some("api"));
        assert_eq!(route("/apix"), Some("root"));
        assert_eq!(route("/administrator"), Some("root"));
        assert_eq!(route("/"), Some("root"));
        assert_eq!(route("/%61dmin/users"), Some("admin"));
        assert_eq!(route("/public/../ADMIN;x/users"), Some("admin"));
    }

    #[test]
    fn no_route_without_a_covering_prefix() {
        let table = Table::new([("/api/", 1)]).unwrap();
        assert!(table.lookup(&key("/")).is_none());
        assert!(table.lookup(&key("/apix/1")).is_none());
        assert!(table.lookup(&key("/other")).is_none());
        let empty: Table<u8> = Table::new(Vec::<(&str, u8)>::new()).unwrap();
        assert!(empty.lookup("/").is_none());
        assert!(empty.is_empty());
    }

    #[test]
    fn strip_segments_removes_the_matched_prefix() {
        let table = table();
        for (raw, rest) in [
            ("/api/tickets/5?x", "/5?x"),
            ("/api/tickets", "/"),
            ("/api/tickets/", "/"),
            ("/API/Tickets/A/b/", "/A/b/"),
            ("/anything", "/anything"),
        ] {
            let (raw_path, query) = raw.split_once('?').map_or((raw, ""), |(p, q)| (p, q));
            let normalized = normalize(raw_path).unwrap();
            let found = table.lookup(&normalized.key).unwrap();
            let mut out = normalized.strip_segments(found.segments).to_owned();
            if !query.is_empty() {
                out.push('?');
                out.push_str(query);
            }
            assert_eq!(out, rest, "{raw}");
        }
    }

    #[test]
    fn bad_and_duplicate_prefixes_are_refused() {
        assert_eq!(
            Table::new([("/api/", 1), ("/API", 2)]).unwrap_err(),
            RouteError::Duplicate {
                prefix: "/API".into()
            }
        );
        assert!(matches!(
            Table::new([("api", 1)]).unwrap_err(),
            RouteError::InvalidPrefix {
                reason: PathError::NotAbsolute,
                ..
            }
        ));
        let table = Table::new([("/b", 2), ("/a", 1)]).unwrap();
        assert_eq!(
            table.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            ["/b", "/a"]
        );
        assert_eq!(table.len(), 2);
    }
}
