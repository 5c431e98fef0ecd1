//! Access tokens: issuing them (JWT or `wst_` session token), rotating
//! refresh tokens, and validating what callers present, including the
//! forward-auth decision proxies ask for.

use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};
use warden_token::{AccessClaims, Audience, VerifyError};

use super::sessions::session_revoked_event;
use super::{
    AuthService, Caller, IssuedTokens, Principal, RequestContext, ServicePrincipal, TokenKind,
    role_names,
};
use crate::access::{OriginalRequest, Requirement};
use crate::audit::Audit;
use crate::error::CoreError;
use crate::ids::SessionId;
use crate::model::{
    AuthMethod, Authentication, RefreshRecord, Revocation, RevocationKind, Role, RotateOutcome,
    Session, SessionTokenRecord, User, UserStatus,
};
use crate::opaque::{OpaqueToken, REFRESH_PREFIX, SESSION_PREFIX};
use crate::ports::ReuseRevocation;
use crate::settings::AccessTokenKind;

impl AuthService {
    /// Exchanges a refresh token for a new pair; a reused token revokes its session.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        ctx: &RequestContext,
    ) -> Result<IssuedTokens, CoreError> {
        let (user, session, next, session_token) =
            self.rotate_refresh(refresh_token, None, ctx).await?;
        let now = self.clock.now();
        let (access_token, expires_in) = match session_token {
            Some(issued) => issued,
            None => self.mint(&user, &session, now)?,
        };
        Ok(IssuedTokens {
            access_token,
            expires_in,
            refresh_token: next,
            session_id: session.id,
        })
    }

    /// Rotates a refresh token of a session opened for `client` (`None`:
    /// Warden's own sign-ins; a token of another kind of session is
    /// unknown here). Returns the user, the session, the new refresh token
    /// and, in session-token mode for Warden's own sessions, the new
    /// access token.
    #[allow(clippy::type_complexity)]
    pub(super) async fn rotate_refresh(
        &self,
        refresh_token: &str,
        client: Option<&crate::clients::ClientId>,
        ctx: &RequestContext,
    ) -> Result<(User, Session, OpaqueToken, Option<(String, i64)>), CoreError> {
        let presented = OpaqueToken::parse(refresh_token, REFRESH_PREFIX)
            .ok_or(CoreError::InvalidRefreshToken)?;
        let hash = presented.hash();
        let now = self.clock.now();
        let session = self
            .store
            .find_session_by_refresh(&hash)
            .await?
            .ok_or(CoreError::InvalidRefreshToken)?;
        let session_id = session.id;
        if session.revoked_at.is_some() {
            return Err(CoreError::SessionRevoked);
        }
        if !session.is_live(now, self.settings.idle_timeout) {
            return Err(CoreError::InvalidRefreshToken);
        }
        // A client's refresh token works only for that client (RFC 6749
        // section 6): at /v1/token it would turn a scoped grant into a
        // full session.
        if session.client_id.as_ref() != client {
            return Err(CoreError::InvalidRefreshToken);
        }
        // A session token only needs the session, so it is stored before
        // the rotation: a store failure then leaves the refresh token unused.
        // Clients always get JWTs (they carry `client_id` and `scope`).
        let session_token = match self.settings.access_token_kind {
            AccessTokenKind::Session if client.is_none() => {
                Some(self.issue_session_token(session_id, now).await?)
            }
            _ => None,
        };
        let next = OpaqueToken::generate(REFRESH_PREFIX);
        let record = RefreshRecord {
            token_hash: next.hash(),
            session_id,
            created_at: now,
        };
        let until = now + self.settings.revocation_ttl();
        let user_id = session.user_id;
        let event_for = move |sid: SessionId| session_revoked_event(sid, user_id, until, now);
        let grace = self.settings.refresh_reuse_grace;
        let on_reuse = ReuseRevocation {
            until,
            event_for: &event_for,
            retry_since: (grace > chrono::Duration::zero()).then(|| now - grace),
        };
        let (session, retried) = match self
            .store
            .rotate_refresh_token(&hash, &record, now, &on_reuse)
            .await?
        {
            RotateOutcome::NotFound => return Err(CoreError::InvalidRefreshToken),
            RotateOutcome::Reused { session_id } => {
                tracing::warn!(%session_id, "refresh token reused: session revoked");
                self.denylist.insert(&Revocation {
                    kind: RevocationKind::Session,
                    id: session_id.as_uuid(),
                    not_before: None,
                    until,
                });
                self.record(
                    Audit::failure("refresh_reuse")
                        .actor(session.user_id)
                        .target(session.user_id)
                        .detail("session revoked"),
                    ctx,
                )
                .await;
                return Err(CoreError::RefreshTokenReused);
            }
            RotateOutcome::Rotated { session } => (session, false),
            RotateOutcome::Retried { session } => (session, true),
        };
        if session.revoked_at.is_some() {
            return Err(CoreError::SessionRevoked);
        }
        let user = self
            .store
            .find_user_by_id(session.user_id)
            .await?
            .ok_or(CoreError::InvalidRefreshToken)?;
        if user.status == UserStatus::Banned {
            return Err(CoreError::SessionRevoked);
        }
        if retried {
            // Not reuse, but worth a trace: a thief inside the window gets
            // the same answer, and the owner's next refresh (with the voided
            // successor) then revokes the family.
            self.record(
                Audit::success("refresh_retry")
                    .actor(user.id)
                    .target(user.id)
                    .detail("retried within the grace window"),
                ctx,
            )
            .await;
        }
        Ok((user, session, next, session_token))
    }

    /// Checks a user's access token of either kind: a JWT (signature,
    /// claims) or a `wst_` session token (the store), then the deny-list.
    /// A service's token is refused (403 `user_required`): whatever takes
    /// a [`Principal`] acts for a user.
    pub async fn validate(&self, token: &str) -> Result<Principal, CoreError> {
        match self.validate_caller(token).await? {
            Caller::User(principal) => Ok(principal),
            Caller::Service(_) => Err(CoreError::UserRequired),
        }
    }

    /// Checks an access token of a user or of a service (client
    /// credentials): for the checks that answer for any caller.
    pub async fn validate_caller(&self, token: &str) -> Result<Caller, CoreError> {
        if token.starts_with(SESSION_PREFIX) {
            self.validate_session_token(token).await.map(Caller::User)
        } else {
            self.validate_jwt(token)
        }
    }

    /// A user who holds the `admin` role now (read from the store, so a
    /// demotion or ban takes effect at once, whatever the token says).
    pub async fn authorize_admin(&self, who: &Principal) -> Result<User, CoreError> {
        let user = self.me(who).await?;
        // Every transport's admin calls pass here, so `[mfa]
        // required_for_roles` holds for gRPC's AdminService as for HTTP. The
        // roles granted now, not the token's: a one-factor token carries no
        // gated role (`token_roles`), and one minted before a promotion must
        // not pass as an admin's either.
        if !who.is_multi_factor() && self.holds_gated_role(&user.roles) {
            return Err(CoreError::MfaEnrollmentRequired);
        }
        if !user.has_role("admin") || user.status != UserStatus::Active {
            return Err(CoreError::Forbidden {
                any_of: vec!["admin".to_owned()],
            });
        }
        Ok(user)
    }

    /// Whether `who` holds a role of `[mfa] required_for_roles` on a
    /// one-factor token: such a caller reaches only enrolment (403
    /// `mfa_enrollment_required` elsewhere). A holder who has a factor
    /// signs in with it, so a one-factor token means there is none yet (or
    /// the token predates it: signing in again fixes that).
    ///
    /// The roles are the account's, read from the store (and remembered for
    /// `session_cache_ttl`): a one-factor token leaves the gated roles out
    /// (`token_roles`), so it cannot say. Two-factor tokens, and every token
    /// when no role is gated, need no read.
    pub async fn needs_mfa_enrollment(&self, who: &Principal) -> Result<bool, CoreError> {
        if who.is_multi_factor() || self.settings.mfa_required_for_roles.is_empty() {
            return Ok(false);
        }
        let now = self.clock.now();
        let ttl = self.settings.session_cache_ttl;
        if let Some((held, checked_at)) = self.gated_role_checks.get(&who.user_id)
            && now < checked_at + ttl
        {
            return Ok(held);
        }
        let held = self
            .store
            .find_user_by_id(who.user_id)
            .await?
            .is_some_and(|user| self.holds_gated_role(&user.roles));
        if ttl > chrono::Duration::zero() {
            self.gated_role_checks.insert(who.user_id, (held, now));
        }
        Ok(held)
    }

    /// Whether `roles` include one of `[mfa] required_for_roles`.
    fn holds_gated_role(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| {
            self.settings
                .mfa_required_for_roles
                .iter()
                .any(|g| g == r.as_str())
        })
    }

    /// The forward-auth decision for a request a proxy asks about: the
    /// configured rule for its original path and method, then the token
    /// (required unless the rule is public), then `role` if the caller
    /// demands one more (`/v1/verify?role=R`). `Ok(None)`: public, no
    /// identity to pass on.
    pub async fn authorize_forwarded(
        &self,
        token: Option<&str>,
        request: &OriginalRequest<'_>,
        role: Option<&str>,
    ) -> Result<Option<Caller>, CoreError> {
        let requirement = self.settings().access_policy.requirement(request)?;
        if *requirement == Requirement::Public && role.is_none() {
            return Ok(None);
        }
        let caller = self
            .validate_caller(token.ok_or(CoreError::InvalidToken)?)
            .await?;
        if let Requirement::AnyScope(scopes) = requirement
            && !scopes.iter().any(|s| caller.has_scope(s))
        {
            return Err(CoreError::InsufficientScope {
                any_of: scopes.clone(),
            });
        }
        let principal = match &caller {
            Caller::User(principal) => principal,
            // A service has no roles and no second factor: a rule that asks
            // for either is for people.
            Caller::Service(_) => {
                let roles = requirement.roles();
                if matches!(requirement, Requirement::MultiFactor(_)) || !roles.is_empty() {
                    return Err(CoreError::UserRequired);
                }
                if let Some(role) = role {
                    return Err(CoreError::Forbidden {
                        any_of: vec![role.to_owned()],
                    });
                }
                return Ok(Some(caller));
            }
        };
        if self.needs_mfa_enrollment(principal).await? {
            return Err(CoreError::MfaEnrollmentRequired);
        }
        let roles = requirement.roles();
        if !roles.is_empty() && !roles.iter().any(|r| principal.has_role(r)) {
            return Err(CoreError::Forbidden {
                any_of: roles.to_vec(),
            });
        }
        if matches!(requirement, Requirement::MultiFactor(_)) && !principal.is_multi_factor() {
            return Err(CoreError::InsufficientAuthentication);
        }
        if let Some(role) = role
            && !principal.has_role(role)
        {
            return Err(CoreError::Forbidden {
                any_of: vec![role.to_owned()],
            });
        }
        Ok(Some(caller))
    }

    /// Checks a session token against the store, or a check of it made
    /// less than `session_cache_ttl` ago; every hit also consults the
    /// deny-list, which every revocation updates, so a revoked session's
    /// token fails at once on this instance whatever the cache holds.
    async fn validate_session_token(&self, token: &str) -> Result<Principal, CoreError> {
        let presented = OpaqueToken::parse(token, SESSION_PREFIX).ok_or(CoreError::InvalidToken)?;
        let now = self.clock.now();
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let ttl = self.settings.session_cache_ttl;
        let cached = self
            .session_checks
            .get(&key)
            .filter(|(p, checked_at)| now < *checked_at + ttl && p.expires_at > now.timestamp())
            .map(|(p, _)| p);
        let principal = match cached {
            Some(principal) => principal,
            None => {
                let owner = self
                    .store
                    .find_session_token(&presented.hash())
                    .await?
                    .ok_or(CoreError::InvalidToken)?;
                if owner.expires_at <= now {
                    return Err(CoreError::TokenExpired);
                }
                if owner.session_revoked_at.is_some()
                    || owner.user_status != UserStatus::Active
                    || owner.session_expires_at <= now
                {
                    return Err(CoreError::TokenRevoked);
                }
                let principal = Principal {
                    user_id: owner.user_id,
                    session_id: owner.session_id,
                    roles: token_roles(
                        role_names(&owner.roles),
                        &self.settings.mfa_required_for_roles,
                        &owner.authentication,
                    ),
                    expires_at: owner.expires_at.timestamp(),
                    issued_at: owner.issued_at.timestamp(),
                    kind: TokenKind::Session,
                    authentication: owner.authentication,
                    client_id: None,
                    scope: None,
                };
                if ttl > chrono::Duration::zero() {
                    self.session_checks.insert(key, (principal.clone(), now));
                }
                principal
            }
        };
        if self.denylist.is_revoked(
            principal.user_id.as_uuid(),
            principal.session_id.as_uuid(),
            principal.issued_at,
        ) {
            self.session_checks.remove(&key);
            return Err(CoreError::TokenRevoked);
        }
        Ok(principal)
    }

    /// Checks a JWT: signature, claims, and the deny-list.
    fn validate_jwt(&self, token: &str) -> Result<Caller, CoreError> {
        if token.len() > warden_token::MAX_TOKEN_LEN {
            return Err(CoreError::InvalidToken);
        }
        let now = self.clock.now().timestamp();
        let ring = self.keys.ring();
        let cache = (self.verified.as_ref()).map(|c| (c, warden_token::token_digest(token)));
        let cached = cache
            .as_ref()
            .and_then(|(c, digest)| c.get(digest, &ring, now));
        let caller = match cached {
            Some(caller) => caller,
            None => {
                let claims = ring.verifier.verify(token, now).map_err(|e| match e {
                    VerifyError::Expired => CoreError::TokenExpired,
                    VerifyError::WrongIssuer {
                        issued_by,
                        expected,
                    } => CoreError::WrongIssuer {
                        issued_by,
                        expected,
                    },
                    _ => CoreError::InvalidToken,
                })?;
                let caller = match caller_of(claims)? {
                    Caller::User(mut principal) => {
                        // A token minted before one-factor tokens left gated
                        // roles out reads as one minted now.
                        principal.roles = token_roles(
                            principal.roles,
                            &self.settings.mfa_required_for_roles,
                            &principal.authentication,
                        );
                        Caller::User(principal)
                    }
                    service => service,
                };
                if let Some((c, digest)) = cache {
                    c.put(digest, caller.clone(), ring, caller.expires_at());
                }
                caller
            }
        };
        let revoked = match &caller {
            Caller::User(principal) => self.denylist.is_revoked(
                principal.user_id.as_uuid(),
                principal.session_id.as_uuid(),
                principal.issued_at,
            ),
            Caller::Service(service) => self.denylist.is_revoked(
                warden_token::revocation::service_subject(&service.client_id),
                uuid::Uuid::nil(),
                service.issued_at,
            ),
        };
        if revoked {
            return Err(CoreError::TokenRevoked);
        }
        Ok(caller)
    }

    /// A new `wst_` token for `session`, stored hashed; lives as long as a JWT would.
    pub(super) async fn issue_session_token(
        &self,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<(String, i64), CoreError> {
        let token = OpaqueToken::generate(SESSION_PREFIX);
        let ttl = self.settings.access_token_ttl;
        self.store
            .create_session_token(&SessionTokenRecord {
                token_hash: token.hash(),
                session_id: session,
                created_at: now,
                expires_at: now + ttl,
            })
            .await?;
        Ok((token.expose().to_owned(), ttl.num_seconds()))
    }

    pub(super) fn mint(
        &self,
        user: &User,
        session: &Session,
        now: DateTime<Utc>,
    ) -> Result<(String, i64), CoreError> {
        let ttl = self.settings.access_token_ttl.num_seconds();
        let authentication = &session.authentication;
        let claims = AccessClaims {
            iss: self.settings.issuer.clone(),
            sub: user.id.to_string(),
            aud: Audience::One(self.settings.audience.clone()),
            exp: now.timestamp() + ttl,
            iat: now.timestamp(),
            nbf: now.timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
            sid: session.id.to_string(),
            roles: token_roles(
                role_names(&user.roles),
                &self.settings.mfa_required_for_roles,
                authentication,
            ),
            amr: authentication
                .amr()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            acr: authentication.acr().to_owned(),
            auth_time: authentication.at.timestamp(),
            client_id: session.client_id.as_ref().map(ToString::to_string),
            scope: session.scope.clone(),
        };
        let token = self
            .keys
            .ring()
            .signer
            .sign(&claims)
            .map_err(|e| CoreError::Unexpected(format!("signing failed: {e}")))?;
        Ok((token, ttl))
    }
}

/// The roles a token of a session authenticated as `authentication`
/// carries: all of `roles`, but on one factor none that `[mfa]
/// required_for_roles` names (`gated`). Whoever reads the token downstream
/// (`/v1/validate`'s callers, the gateway, warden-verify) sees its roles and
/// cannot know that setting, so a gated role it sees must already stand for
/// two factors. Warden's own gate reads the account's roles instead
/// (`needs_mfa_enrollment`).
pub(crate) fn token_roles(
    roles: Vec<String>,
    gated: &[String],
    authentication: &Authentication,
) -> Vec<String> {
    if authentication.is_multi_factor() || gated.is_empty() {
        return roles;
    }
    roles.into_iter().filter(|r| !gated.contains(r)).collect()
}

fn caller_of(claims: AccessClaims) -> Result<Caller, CoreError> {
    if claims.is_service() {
        return Ok(Caller::Service(ServicePrincipal {
            client_id: claims.sub,
            scope: claims.scope.unwrap_or_default(),
            expires_at: claims.exp,
            issued_at: claims.iat,
        }));
    }
    // A token minted before the claims existed has no `amr`: one factor.
    let methods: Vec<AuthMethod> = claims
        .amr
        .iter()
        .filter_map(|m| AuthMethod::parse(m))
        .collect();
    let auth_time = if claims.auth_time > 0 {
        claims.auth_time
    } else {
        claims.iat
    };
    let authentication = Authentication::new(
        &methods,
        DateTime::from_timestamp(auth_time, 0).ok_or(CoreError::InvalidToken)?,
    );
    Ok(Caller::User(Principal {
        user_id: claims.sub.parse().map_err(|_| CoreError::InvalidToken)?,
        session_id: claims.sid.parse().map_err(|_| CoreError::InvalidToken)?,
        roles: claims.roles,
        expires_at: claims.exp,
        issued_at: claims.iat,
        kind: TokenKind::Jwt,
        authentication,
        client_id: claims.client_id,
        scope: claims.scope,
    }))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn roles(names: &[&str]) -> Vec<String> {
        names.iter().map(|r| (*r).to_owned()).collect()
    }

    #[test]
    fn a_one_factor_token_leaves_the_gated_roles_out() {
        let one = Authentication::new(&[AuthMethod::Pwd], Utc::now());
        let gated = roles(&["admin", "auditor"]);
        assert_eq!(
            token_roles(roles(&["admin", "user", "auditor"]), &gated, &one),
            roles(&["user"])
        );
        let social = Authentication::new(&[AuthMethod::Fed], Utc::now());
        assert_eq!(
            token_roles(roles(&["admin"]), &gated, &social),
            Vec::<String>::new()
        );
    }

    #[test]
    fn two_factors_or_no_gated_role_keep_every_role() {
        let two = Authentication::new(&[AuthMethod::Pwd, AuthMethod::Otp], Utc::now());
        assert!(two.is_multi_factor());
        let gated = roles(&["admin"]);
        assert_eq!(
            token_roles(roles(&["admin", "user"]), &gated, &two),
            roles(&["admin", "user"])
        );
        let one = Authentication::new(&[AuthMethod::Pwd], Utc::now());
        assert_eq!(
            token_roles(roles(&["admin", "user"]), &[], &one),
            roles(&["admin", "user"])
        );
    }
}
