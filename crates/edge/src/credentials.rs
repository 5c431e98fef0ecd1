//! Where a request carries its credential, and the one rule for reading it,
//! shared by every edge so that no two accept different spellings.

/// The access-token cookie of browser mode (`__Host-`: Secure, Path=/, no Domain).
pub const ACCESS_COOKIE: &str = "__Host-warden_at";
/// The refresh-token cookie, sent only to `/v1/token`.
pub const REFRESH_COOKIE: &str = "__Secure-warden_rt";
/// The double-submit CSRF cookie, readable by the page's scripts.
pub const CSRF_COOKIE: &str = "warden_csrf";
/// The header that must repeat [`CSRF_COOKIE`] on a cookie-authenticated
/// state change.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The identity headers an edge sets for its upstream (and strips from
/// clients): user id, session id, comma-separated roles, the assurance
/// level (`aal1`/`aal2`), the comma-separated `amr`, then the caller's
/// kind (`user` or `service`), the OAuth client and the granted scopes
/// (space-separated) of a token issued to a client.
pub const IDENTITY_HEADERS: [&str; 8] = [
    "x-warden-user",
    "x-warden-session",
    "x-warden-roles",
    "x-warden-acr",
    "x-warden-amr",
    "x-warden-kind",
    "x-warden-client",
    "x-warden-scope",
];

/// Who a request passed as, in the terms of the identity headers: what
/// every edge (`/v1/verify`, ext_authz, the gateway) tells its upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity<'a> {
    /// A user's token.
    User {
        /// The user id.
        user: String,
        /// The session id.
        session: String,
        /// The roles.
        roles: &'a [String],
        /// `aal1` or `aal2`.
        acr: &'a str,
        /// The `amr` values.
        amr: Vec<&'a str>,
        /// The OAuth client the token was issued to, if any.
        client: Option<&'a str>,
        /// Its granted scopes, if issued to a client.
        scope: Option<&'a str>,
    },
    /// A service's own token (client credentials).
    Service {
        /// The client id.
        client: &'a str,
        /// The granted scopes.
        scope: &'a str,
    },
}

impl Identity<'_> {
    /// The identity headers and their values (names in lower case). A
    /// header with nothing to say is left out, never sent empty, but for
    /// the roles and `amr` of a user, which upstreams have always had.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let [user, session, roles, acr, amr, kind, client, scope] = IDENTITY_HEADERS;
        match self {
            Identity::User {
                user: id,
                session: sid,
                roles: granted,
                acr: level,
                amr: methods,
                client: issued_to,
                scope: scopes,
            } => {
                let mut headers = vec![
                    (user, id.clone()),
                    (session, sid.clone()),
                    (roles, granted.join(",")),
                    (acr, (*level).to_owned()),
                    (amr, methods.join(",")),
                    (kind, "user".to_owned()),
                ];
                if let Some(issued_to) = issued_to {
                    headers.push((client, (*issued_to).to_owned()));
                }
                if let Some(scopes) = scopes.filter(|s| !s.is_empty()) {
                    headers.push((scope, scopes.to_owned()));
                }
                headers
            }
            Identity::Service {
                client: id,
                scope: scopes,
            } => {
                let mut headers = vec![(kind, "service".to_owned()), (client, (*id).to_owned())];
                if !scopes.is_empty() {
                    headers.push((scope, (*scopes).to_owned()));
                }
                headers
            }
        }
    }
}
/// Longest `Authorization` value read: a maximal token (8 KiB, as
/// `warden_token::MAX_TOKEN_LEN`) plus its scheme.
pub const MAX_AUTHORIZATION: usize = 8 * 1024 + 16;

/// An `Authorization` value that is not `Bearer <token>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// The token of an `Authorization` value: the scheme `Bearer` in any case,
/// then the token, surrounding spaces ignored; an empty token, a token with
/// a space inside, another scheme or an oversized value is [`Malformed`].
pub fn bearer(authorization: &str) -> Result<&str, Malformed> {
    if authorization.len() > MAX_AUTHORIZATION {
        return Err(Malformed);
    }
    let (scheme, token) = authorization.split_once(' ').ok_or(Malformed)?;
    let token = token.trim();
    if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' ') {
        Ok(token)
    } else {
        Err(Malformed)
    }
}

/// The value of cookie `name` across the given `Cookie` header values
/// (several headers, or one joined with `; `), quotes removed.
pub fn cookie<'a>(
    cookie_headers: impl IntoIterator<Item = &'a str>,
    name: &str,
) -> Option<&'a str> {
    cookie_headers
        .into_iter()
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_headers_say_who_passed_and_nothing_empty() {
        let roles = vec!["admin".to_owned(), "ops".to_owned()];
        let first_party = Identity::User {
            user: "u".into(),
            session: "s".into(),
            roles: &roles,
            acr: "aal2",
            amr: vec!["pwd", "otp", "mfa"],
            client: None,
            scope: None,
        };
        assert_eq!(
            first_party.headers(),
            [
                ("x-warden-user", "u".to_owned()),
                ("x-warden-session", "s".to_owned()),
                ("x-warden-roles", "admin,ops".to_owned()),
                ("x-warden-acr", "aal2".to_owned()),
                ("x-warden-amr", "pwd,otp,mfa".to_owned()),
                ("x-warden-kind", "user".to_owned()),
            ]
        );
        let through_app = Identity::User {
            user: "u".into(),
            session: "s".into(),
            roles: &[],
            acr: "aal1",
            amr: vec!["pwd"],
            client: Some("app"),
            scope: Some("openid email"),
        };
        let headers = through_app.headers();
        assert!(headers.contains(&("x-warden-client", "app".to_owned())));
        assert!(headers.contains(&("x-warden-scope", "openid email".to_owned())));
        let service = Identity::Service {
            client: "billing",
            scope: "",
        };
        assert_eq!(
            service.headers(),
            [
                ("x-warden-kind", "service".to_owned()),
                ("x-warden-client", "billing".to_owned()),
            ]
        );
        for (name, _) in through_app.headers().iter().chain(&service.headers()) {
            assert!(
                IDENTITY_HEADERS.contains(name),
                "{name} is stripped from clients"
            );
        }
    }

    #[test]
    fn one_bearer_rule() {
        assert_eq!(bearer("Bearer abc"), Ok("abc"));
        assert_eq!(bearer("bearer abc"), Ok("abc"));
        assert_eq!(bearer("BEARER   abc  "), Ok("abc"));
        for bad in ["Bearer", "Bearer ", "Bearer a b", "Basic abc", "abc", ""] {
            assert_eq!(bearer(bad), Err(Malformed), "{bad:?}");
        }
        let huge = format!("Bearer {}", "a".repeat(MAX_AUTHORIZATION));
        assert_eq!(bearer(&huge), Err(Malformed));
    }

    #[test]
    fn cookies_are_found_across_headers() {
        let headers = ["a=1; b=2", "__Host-warden_at=\"tok\""];
        assert_eq!(cookie(headers, ACCESS_COOKIE), Some("tok"));
        assert_eq!(cookie(headers, "b"), Some("2"));
        assert_eq!(cookie(headers, "c"), None);
    }
}
