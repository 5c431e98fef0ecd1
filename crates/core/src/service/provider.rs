//! Warden as an OAuth 2.0 / OpenID Connect provider (front-door contract,
//! section 7): checking authorization requests, issuing codes, the token
//! endpoint's grants, userinfo, introspection and revocation. The pages
//! (sign-in, consent) and the HTTP shapes are the adapters'.

use chrono::{DateTime, Duration, Utc};
use warden_token::{AccessClaims, Audience, IdTokenClaims};

use super::{AuthService, Caller, Principal, RequestContext};
use crate::audit::Audit;
use crate::clients::{ClientId, ClientKind, GrantType, OAuthClient};
use crate::error::CoreError;
use crate::ids::SessionId;
use crate::mfa::URI_COMPONENT;
use crate::model::{RefreshRecord, Session, User, UserStatus};
use crate::opaque::{OpaqueToken, REFRESH_PREFIX};
use crate::provider::{
    AuthorizationCode, CODE_PREFIX, CODE_TTL_SECS, Consent, OAuthError, Prompt, Redemption,
    STANDARD_SCOPES, ScopeSet, is_pkce_text, pkce_matches,
};

/// Longest `state` and `nonce` accepted: they come back verbatim in a URL
/// or a token, and real ones are a few dozen characters.
const MAX_OPAQUE_PARAM: usize = 512;

/// The query of `GET /oauth2/authorize` (or the consent form's copy of it),
/// as the adapter read it. A parameter given twice is `Err` in the adapter
/// already (RFC 6749 section 3.1).
#[derive(Debug, Clone, Default)]
pub struct AuthorizeParams {
    /// `response_type`.
    pub response_type: Option<String>,
    /// `client_id`.
    pub client_id: Option<String>,
    /// `redirect_uri`.
    pub redirect_uri: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// `state`.
    pub state: Option<String>,
    /// `nonce`.
    pub nonce: Option<String>,
    /// `code_challenge`.
    pub code_challenge: Option<String>,
    /// `code_challenge_method`.
    pub code_challenge_method: Option<String>,
    /// `prompt`.
    pub prompt: Option<String>,
    /// `max_age`.
    pub max_age: Option<String>,
    /// `login_hint`.
    pub login_hint: Option<String>,
    /// `response_mode`.
    pub response_mode: Option<String>,
    /// `request` / `request_uri` (OpenID Connect Core 6): not supported.
    pub request_object: bool,
}

/// A checked authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// The client asking.
    pub client: OAuthClient,
    /// Where the answer goes: one of the client's, exactly.
    pub redirect_uri: String,
    /// What it asks for.
    pub scope: ScopeSet,
    /// Returned as given.
    pub state: Option<String>,
    /// Returned in the ID token.
    pub nonce: Option<String>,
    /// The PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// What the person must be asked again.
    pub prompt: Prompt,
    /// The oldest sign-in acceptable, in seconds before now.
    pub max_age: Option<i64>,
    /// The address the client expects (prefills the sign-in page).
    pub login_hint: Option<String>,
}

/// Why an authorization (or logout) request cannot go on.
#[derive(Debug)]
pub enum AuthorizeFailure {
    /// The client or its redirect URI cannot be trusted: say so to the
    /// person, never redirect (RFC 6749 section 4.1.2.1).
    Refused(&'static str),
    /// Tell the client, at its redirect URI.
    Redirect {
        /// The checked redirect URI.
        redirect_uri: String,
        /// The request's `state`.
        state: Option<String>,
        /// What went wrong.
        error: OAuthError,
    },
    /// The store failed.
    Core(CoreError),
}

impl From<CoreError> for AuthorizeFailure {
    fn from(err: CoreError) -> Self {
        Self::Core(err)
    }
}

/// A failure at the token, introspection or revocation endpoint.
#[derive(Debug)]
pub enum ProviderError {
    /// An OAuth error (RFC 6749 section 5.2).
    OAuth(OAuthError),
    /// Anything else (the store failed).
    Core(CoreError),
}

impl From<CoreError> for ProviderError {
    fn from(err: CoreError) -> Self {
        Self::Core(err)
    }
}

impl From<crate::error::StoreError> for ProviderError {
    fn from(err: crate::error::StoreError) -> Self {
        Self::Core(err.into())
    }
}

impl From<OAuthError> for ProviderError {
    fn from(err: OAuthError) -> Self {
        Self::OAuth(err)
    }
}

/// How a client authenticated at the token endpoint (RFC 6749 2.3.1).
#[derive(Debug, Clone, Default)]
pub struct ClientCredentials {
    /// `client_id` from Basic or the body.
    pub client_id: Option<String>,
    /// The secret, from Basic or the body.
    pub secret: Option<String>,
    /// Whether the credentials came in an `Authorization: Basic` header.
    pub basic: bool,
}

/// What the token endpoint hands out.
#[derive(Debug, Clone)]
pub struct OAuthTokens {
    /// The access token (a JWT).
    pub access_token: String,
    /// Its lifetime in seconds.
    pub expires_in: i64,
    /// A refresh token, when the client has the grant.
    pub refresh_token: Option<String>,
    /// An ID token, when `openid` was granted.
    pub id_token: Option<String>,
    /// The granted scopes.
    pub scope: String,
}

/// What introspection (RFC 7662) says of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenActivity {
    /// Not usable (unknown, expired, revoked, or not the caller's).
    Inactive,
    /// A live access token.
    Access {
        /// `sub`.
        sub: String,
        /// `client_id`, when issued to a client.
        client_id: Option<String>,
        /// `scope`.
        scope: Option<String>,
        /// `exp`.
        exp: i64,
        /// `iat`.
        iat: i64,
        /// `sid`, when of a session.
        sid: Option<String>,
    },
}

impl AuthService {
    /// Checks an authorization request: first the client and redirect URI
    /// (a failure there is shown, not redirected), then the rest (a failure
    /// there goes back to the client).
    pub async fn check_authorization(
        &self,
        params: &AuthorizeParams,
    ) -> Result<AuthorizationRequest, AuthorizeFailure> {
        let client_id = params
            .client_id
            .as_deref()
            .and_then(ClientId::parse)
            .ok_or(AuthorizeFailure::Refused("unknown_client"))?;
        let client = self
            .store
            .find_client(&client_id)
            .await
            .map_err(CoreError::from)?
            .ok_or(AuthorizeFailure::Refused("unknown_client"))?;
        let redirect_uri = params
            .redirect_uri
            .as_deref()
            .filter(|uri| client.redirect_uris.iter().any(|r| r.as_str() == *uri))
            .ok_or(AuthorizeFailure::Refused("redirect_uri"))?
            .to_owned();
        let state = params.state.clone();
        let fail = |error: OAuthError| AuthorizeFailure::Redirect {
            redirect_uri: redirect_uri.clone(),
            state: state.clone(),
            error,
        };
        if state.as_ref().is_some_and(|s| s.len() > MAX_OPAQUE_PARAM) {
            return Err(fail(OAuthError::invalid_request("state is too long")));
        }
        if params.request_object {
            return Err(fail(OAuthError::new(
                "request_not_supported",
                "request objects are not supported",
            )));
        }
        match params.response_type.as_deref() {
            None => {
                return Err(fail(OAuthError::invalid_request(
                    "response_type is required",
                )));
            }
            Some("code") => {}
            Some(_) => {
                return Err(fail(OAuthError::new(
                    "unsupported_response_type",
                    "only response_type=code is supported",
                )));
            }
        }
        if params
            .response_mode
            .as_deref()
            .is_some_and(|mode| mode != "query")
        {
            return Err(fail(OAuthError::invalid_request(
                "only response_mode=query is supported",
            )));
        }
        if !client.allows_grant(GrantType::AuthorizationCode) {
            return Err(fail(OAuthError::unauthorized_client(
                "the client may not use the authorization-code grant",
            )));
        }
        let scope = ScopeSet::parse(params.scope.as_deref().unwrap_or(""))
            .ok_or_else(|| fail(OAuthError::invalid_scope("scope is malformed")))?;
        if let Some(unknown) = scope.iter().find(|s| !may_request(&client, s)) {
            return Err(fail(OAuthError::invalid_scope(format!(
                "scope `{unknown}` is not allowed for this client"
            ))));
        }
        let nonce = params.nonce.clone();
        if nonce.as_ref().is_some_and(|n| n.len() > MAX_OPAQUE_PARAM) {
            return Err(fail(OAuthError::invalid_request("nonce is too long")));
        }
        let code_challenge = match (
            params.code_challenge.as_deref(),
            params.code_challenge_method.as_deref(),
        ) {
            (None, None) => None,
            (Some(challenge), Some("S256")) if is_pkce_text(challenge) => {
                Some(challenge.to_owned())
            }
            (Some(_), Some("S256")) => {
                return Err(fail(OAuthError::invalid_request(
                    "code_challenge is malformed",
                )));
            }
            (Some(_), None | Some("plain")) => {
                return Err(fail(OAuthError::invalid_request(
                    "code_challenge_method must be S256",
                )));
            }
            _ => {
                return Err(fail(OAuthError::invalid_request(
                    "code_challenge_method must be S256, with a code_challenge",
                )));
            }
        };
        if code_challenge.is_none() && self.settings.oauth_require_pkce {
            return Err(fail(OAuthError::invalid_request(
                "PKCE is required: send code_challenge with code_challenge_method=S256",
            )));
        }
        if code_challenge.is_none() && client.kind == ClientKind::Public {
            return Err(fail(OAuthError::invalid_request(
                "a public client must use PKCE (S256)",
            )));
        }
        let prompt = Prompt::parse(params.prompt.as_deref().unwrap_or("")).map_err(&fail)?;
        let max_age = match params.max_age.as_deref() {
            None => None,
            Some(raw) => Some(
                raw.parse::<i64>()
                    .ok()
                    .filter(|age| *age >= 0)
                    .ok_or_else(|| fail(OAuthError::invalid_request("max_age is malformed")))?,
            ),
        };
        Ok(AuthorizationRequest {
            client,
            redirect_uri,
            scope,
            state,
            nonce,
            code_challenge,
            prompt,
            max_age,
            login_hint: params.login_hint.clone().filter(|h| h.len() <= 320),
        })
    }

    /// Whether `who` must sign in (again) before this request. The page
    /// that sends the person to sign in adds when it did so
    /// (`signed_in_after`): a sign-in since then satisfies `prompt=login`
    /// and `max_age` both, however long the sign-in took. Without it,
    /// `prompt=login` always asks, and `max_age` when the sign-in is older.
    pub fn needs_sign_in(
        &self,
        who: &Principal,
        request: &AuthorizationRequest,
        signed_in_after: Option<DateTime<Utc>>,
    ) -> bool {
        let at = who.authentication.at;
        match signed_in_after {
            Some(after) => at < after,
            None => {
                request.prompt.login
                    || request
                        .max_age
                        .is_some_and(|age| at + Duration::seconds(age) < self.clock.now())
            }
        }
    }

    /// Whether the person must be asked before the client gets what it
    /// asks for: never for first-party clients, always with
    /// `prompt=consent`, else unless an earlier consent covers the scopes.
    pub async fn needs_consent(
        &self,
        who: &Principal,
        request: &AuthorizationRequest,
    ) -> Result<bool, CoreError> {
        if request.client.first_party {
            return Ok(false);
        }
        if request.prompt.consent {
            return Ok(true);
        }
        let given = self
            .store
            .find_consent(who.user_id, &request.client.id)
            .await?;
        Ok(!given.is_some_and(|c| {
            ScopeSet::parse(&c.scope).is_some_and(|scope| scope.covers(&request.scope))
        }))
    }

    /// Grants the request to `who`: remembers the consent (when one was
    /// just given) and returns the URL to send the browser to, with a new
    /// code, `state` and `iss` (RFC 9207).
    pub async fn grant_authorization(
        &self,
        who: &Principal,
        request: &AuthorizationRequest,
        consented: bool,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        let now = self.clock.now();
        if consented {
            let earlier = self
                .store
                .find_consent(who.user_id, &request.client.id)
                .await?
                .and_then(|c| ScopeSet::parse(&c.scope))
                .unwrap_or_default();
            self.store
                .save_consent(&Consent {
                    user_id: who.user_id,
                    client_id: request.client.id.clone(),
                    scope: earlier.union(&request.scope).to_param(),
                    granted_at: now,
                })
                .await?;
            self.record(
                Audit::success("oauth_consent")
                    .actor(who.user_id)
                    .target(who.user_id)
                    .detail(request.client.id.as_str()),
                ctx,
            )
            .await;
        }
        let code = OpaqueToken::generate(CODE_PREFIX);
        self.store
            .create_authorization_code(&AuthorizationCode {
                code_hash: code.hash(),
                client_id: request.client.id.clone(),
                user_id: who.user_id,
                browser_session: who.session_id,
                redirect_uri: request.redirect_uri.clone(),
                scope: request.scope.to_param(),
                nonce: request.nonce.clone(),
                code_challenge: request.code_challenge.clone(),
                authentication: who.authentication.clone(),
                created_at: now,
                expires_at: now + Duration::seconds(CODE_TTL_SECS),
            })
            .await?;
        let mut params = vec![("code", code.expose())];
        if let Some(state) = &request.state {
            params.push(("state", state));
        }
        params.push(("iss", &self.settings.issuer));
        Ok(with_query(&request.redirect_uri, &params))
    }

    /// The client a token-endpoint request comes from (RFC 6749 2.3.1):
    /// a confidential client by its secret (Basic or the body, not both), a
    /// public one by its id alone.
    pub async fn authenticate_client(
        &self,
        credentials: &ClientCredentials,
    ) -> Result<OAuthClient, ProviderError> {
        let id = presented_client_id(credentials)?;
        let client = self
            .store
            .find_client(&id)
            .await?
            .ok_or_else(client_auth_failed)?;
        check_client_secret(client, credentials)
    }

    /// [`Self::authenticate_client`] for introspection, which only reads:
    /// the client's record may be up to `session_cache_ttl` old, so a
    /// resource server's every check does not cost a store read. This
    /// instance forgets a client it changes at once; on the others a
    /// rotated or deleted client's old secret can introspect that much
    /// longer, which mints or extends nothing. Unknown ids are never
    /// remembered (each costs a read, as before).
    pub async fn authenticate_reader(
        &self,
        credentials: &ClientCredentials,
    ) -> Result<OAuthClient, ProviderError> {
        let id = presented_client_id(credentials)?;
        let now = self.clock.now();
        let remembered = self
            .client_checks
            .get(&id)
            .filter(|(_, at)| now - *at < self.settings.session_cache_ttl && *at <= now);
        let client = match remembered {
            Some((client, _)) => client,
            None => {
                let client = self
                    .store
                    .find_client(&id)
                    .await?
                    .ok_or_else(client_auth_failed)?;
                self.client_checks.insert(id, (client.clone(), now));
                client
            }
        };
        check_client_secret(client, credentials)
    }

    /// `grant_type=authorization_code`: one exchange per code; a second
    /// one revokes what the first issued (RFC 6749 section 4.1.2).
    pub async fn exchange_authorization_code(
        &self,
        client: &OAuthClient,
        code: &str,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<OAuthTokens, ProviderError> {
        let bad = || OAuthError::invalid_grant("the code is invalid, expired or used");
        if !client.allows_grant(GrantType::AuthorizationCode) {
            return Err(OAuthError::unauthorized_client(
                "the client may not use the authorization-code grant",
            )
            .into());
        }
        let presented = OpaqueToken::parse(code, CODE_PREFIX).ok_or_else(bad)?;
        let now = self.clock.now();
        let issued = SessionId::new();
        let grant = match self
            .store
            .redeem_authorization_code(&presented.hash(), issued, now)
            .await?
        {
            Redemption::NotFound => return Err(bad().into()),
            Redemption::Replayed { issued } => {
                self.revoke_replayed(issued, client, ctx).await?;
                return Err(bad().into());
            }
            Redemption::Redeemed(grant) => grant,
        };
        if grant.client_id != client.id || grant.expires_at <= now {
            return Err(bad().into());
        }
        if redirect_uri != Some(grant.redirect_uri.as_str()) {
            return Err(OAuthError::invalid_grant(
                "redirect_uri differs from the authorization request's",
            )
            .into());
        }
        match (&grant.code_challenge, code_verifier) {
            (Some(challenge), Some(verifier)) if pkce_matches(challenge, verifier) => {}
            (None, None) => {}
            (Some(_), _) => {
                return Err(OAuthError::invalid_grant("code_verifier does not match").into());
            }
            (None, Some(_)) => {
                return Err(OAuthError::invalid_grant(
                    "code_verifier sent, but the authorization request had no challenge",
                )
                .into());
            }
        }
        let user = self.active_user(grant.user_id).await?;
        let session = Session {
            id: issued,
            user_id: user.id,
            created_at: now,
            last_used_at: now,
            expires_at: now + self.settings.session_ttl,
            revoked_at: None,
            user_agent: None,
            ip: ctx.ip.clone(),
            authentication: grant.authentication.clone(),
            client_id: Some(client.id.clone()),
            scope: Some(grant.scope.clone()),
        };
        let refresh = OpaqueToken::generate(REFRESH_PREFIX);
        self.store
            .create_session(
                &session,
                &RefreshRecord {
                    token_hash: refresh.hash(),
                    session_id: session.id,
                    created_at: now,
                },
                &[],
            )
            .await?;
        self.record(
            Audit::success("oauth_authorize")
                .actor(user.id)
                .target(user.id)
                .detail(client.id.as_str()),
            ctx,
        )
        .await;
        self.client_tokens(
            client,
            &user,
            &session,
            refresh,
            grant.nonce.as_deref(),
            grant.browser_session,
            now,
        )
        .await
    }

    /// `grant_type=refresh_token`: rotation with reuse detection, on the
    /// session family the code exchange opened, for that client only.
    pub async fn refresh_for_client(
        &self,
        client: &OAuthClient,
        refresh_token: &str,
        scope: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<OAuthTokens, ProviderError> {
        if !client.allows_grant(GrantType::RefreshToken) {
            return Err(OAuthError::unauthorized_client(
                "the client may not use the refresh-token grant",
            )
            .into());
        }
        let bad = || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
        let presented = OpaqueToken::parse(refresh_token, REFRESH_PREFIX).ok_or_else(bad)?;
        let owner = self
            .store
            .find_session_by_refresh(&presented.hash())
            .await?
            .ok_or_else(bad)?;
        if owner.client_id.as_ref() != Some(&client.id) {
            return Err(bad().into());
        }
        let granted = ScopeSet::parse(owner.scope.as_deref().unwrap_or("")).unwrap_or_default();
        if let Some(asked) = scope {
            let asked = ScopeSet::parse(asked)
                .ok_or_else(|| OAuthError::invalid_scope("scope is malformed"))?;
            // A narrower scope on refresh (RFC 6749 section 6) would need a
            // session per scope set; asking for the same or less is honoured
            // by returning what was granted, never more.
            if !granted.covers(&asked) {
                return Err(OAuthError::invalid_scope(
                    "a refresh cannot add scopes to what was granted",
                )
                .into());
            }
        }
        let (user, session, refresh, _) = self
            .rotate_refresh(refresh_token, Some(&client.id), ctx)
            .await
            .map_err(|err| match err {
                CoreError::InvalidRefreshToken
                | CoreError::RefreshTokenReused
                | CoreError::SessionRevoked => ProviderError::OAuth(bad()),
                other => ProviderError::Core(other),
            })?;
        let now = self.clock.now();
        // The ID token of a refresh names the session itself: the browser
        // session of the sign-in may have ended since.
        self.client_tokens(client, &user, &session, refresh, None, session.id, now)
            .await
    }

    /// `grant_type=client_credentials`: a service's own token (`sub` = its
    /// client id), no refresh token, no session.
    pub async fn client_credentials(
        &self,
        client: &OAuthClient,
        scope: Option<&str>,
    ) -> Result<OAuthTokens, ProviderError> {
        if client.kind != ClientKind::Confidential
            || !client.allows_grant(GrantType::ClientCredentials)
        {
            return Err(OAuthError::unauthorized_client(
                "the client may not use the client-credentials grant",
            )
            .into());
        }
        let allowed: ScopeSet = ScopeSet::parse(
            &client
                .scopes
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        )
        .unwrap_or_default();
        let scope = match scope {
            None => allowed,
            Some(raw) => {
                let asked = ScopeSet::parse(raw)
                    .ok_or_else(|| OAuthError::invalid_scope("scope is malformed"))?;
                if let Some(unknown) = asked.iter().find(|s| !allowed.contains(s)) {
                    return Err(OAuthError::invalid_scope(format!(
                        "scope `{unknown}` is not allowed for this client"
                    ))
                    .into());
                }
                asked
            }
        };
        let now = self.clock.now();
        let ttl = self.settings.access_token_ttl.num_seconds();
        let claims = AccessClaims {
            iss: self.settings.issuer.clone(),
            sub: client.id.to_string(),
            aud: Audience::One(self.settings.audience.clone()),
            exp: now.timestamp() + ttl,
            iat: now.timestamp(),
            nbf: now.timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
            sid: String::new(),
            roles: Vec::new(),
            amr: Vec::new(),
            acr: String::new(),
            auth_time: 0,
            client_id: Some(client.id.to_string()),
            scope: Some(scope.to_param()),
        };
        let access_token = self
            .keys
            .ring()
            .signer
            .sign(&claims)
            .map_err(|e| CoreError::Unexpected(format!("signing failed: {e}")))?;
        Ok(OAuthTokens {
            access_token,
            expires_in: ttl,
            refresh_token: None,
            id_token: None,
            scope: scope.to_param(),
        })
    }

    /// The claims `GET|POST /oauth2/userinfo` returns for an access token
    /// issued with `openid` (OpenID Connect Core 5.3).
    pub async fn userinfo(&self, token: &str) -> Result<serde_json::Value, CoreError> {
        // A service's token is valid but speaks for no user: like a token
        // without `openid`, it may not read claims.
        let who = self.validate(token).await.map_err(|err| match err {
            CoreError::UserRequired => CoreError::InsufficientAuthentication,
            other => other,
        })?;
        let scope = who
            .scope
            .as_deref()
            .and_then(ScopeSet::parse)
            .unwrap_or_default();
        if who.client_id.is_none() || !scope.contains("openid") {
            return Err(CoreError::InsufficientAuthentication);
        }
        let user = self.active_user(who.user_id).await.map_err(|e| match e {
            ProviderError::Core(err) => err,
            ProviderError::OAuth(_) => CoreError::TokenRevoked,
        })?;
        let mut claims = serde_json::json!({ "sub": user.id.to_string() });
        add_profile_claims(&mut claims, &user, &scope);
        Ok(claims)
    }

    /// RFC 7662: whether an access token is live, for a confidential client.
    pub async fn introspect(
        &self,
        caller: &OAuthClient,
        token: &str,
    ) -> Result<TokenActivity, ProviderError> {
        if caller.kind != ClientKind::Confidential {
            return Err(OAuthError::invalid_client("introspection needs a client secret").into());
        }
        // Refresh tokens are the client's own business, never a resource
        // server's: introspection describes access tokens only.
        if token.starts_with(REFRESH_PREFIX) {
            return Ok(TokenActivity::Inactive);
        }
        match self.validate_any(token).await {
            Ok(activity) => Ok(activity),
            Err(err) if is_token_error(&err) => Ok(TokenActivity::Inactive),
            Err(err) => Err(err.into()),
        }
    }

    /// RFC 7009: ends what `token` stands for, if the caller may. Unknown
    /// tokens and other clients' tokens are ignored (the answer is the
    /// same, so it tells nothing).
    pub async fn revoke_for_client(
        &self,
        caller: &OAuthClient,
        token: &str,
        ctx: &RequestContext,
    ) -> Result<(), ProviderError> {
        let session = if let Some(presented) = OpaqueToken::parse(token, REFRESH_PREFIX) {
            self.store
                .find_session_by_refresh(&presented.hash())
                .await?
        } else {
            match self.validate(token).await {
                Ok(who) if who.client_id.as_deref() == Some(caller.id.as_str()) => {
                    self.store.find_session(who.session_id).await?
                }
                // A service's own token has no session to end: it lapses
                // within `access_ttl`, or at once when the client is deleted.
                Ok(_) | Err(CoreError::UserRequired) => None,
                Err(err) if is_token_error(&err) => None,
                Err(err) => return Err(err.into()),
            }
        };
        let Some(session) = session.filter(|s| s.client_id.as_ref() == Some(&caller.id)) else {
            return Ok(());
        };
        self.revoke_session(session.id, session.user_id, self.clock.now())
            .await?;
        self.record(
            Audit::success("oauth_revoke")
                .actor(session.user_id)
                .target(session.user_id)
                .detail(caller.id.as_str()),
            ctx,
        )
        .await;
        Ok(())
    }

    async fn revoke_replayed(
        &self,
        issued: SessionId,
        client: &OAuthClient,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let Some(session) = self.store.find_session(issued).await? else {
            return Ok(());
        };
        tracing::warn!(client_id = %client.id, session_id = %issued, "authorization code replayed: its tokens revoked");
        self.revoke_session(issued, session.user_id, self.clock.now())
            .await?;
        self.record(
            Audit::failure("oauth_code_replay")
                .target(session.user_id)
                .detail(client.id.as_str()),
            ctx,
        )
        .await;
        Ok(())
    }

    async fn active_user(&self, id: crate::ids::UserId) -> Result<User, ProviderError> {
        let user = self
            .store
            .find_user_by_id(id)
            .await?
            .filter(|u| u.status == UserStatus::Active)
            .ok_or_else(|| OAuthError::invalid_grant("the account is not active"))?;
        Ok(user)
    }

    async fn validate_any(&self, token: &str) -> Result<TokenActivity, CoreError> {
        Ok(match self.validate_caller(token).await? {
            Caller::User(who) => TokenActivity::Access {
                sub: who.user_id.to_string(),
                client_id: who.client_id,
                scope: who.scope,
                exp: who.expires_at,
                iat: who.issued_at,
                sid: Some(who.session_id.to_string()),
            },
            Caller::Service(service) => TokenActivity::Access {
                sub: service.client_id.clone(),
                client_id: Some(service.client_id),
                scope: Some(service.scope),
                exp: service.expires_at,
                iat: service.issued_at,
                sid: None,
            },
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn client_tokens(
        &self,
        client: &OAuthClient,
        user: &User,
        session: &Session,
        refresh: OpaqueToken,
        nonce: Option<&str>,
        browser_session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<OAuthTokens, ProviderError> {
        let (access_token, expires_in) = self.mint(user, session, now)?;
        let scope = ScopeSet::parse(session.scope.as_deref().unwrap_or("")).unwrap_or_default();
        let id_token = if scope.contains("openid") {
            let signer = self.keys.id_token_signer(client.id_token_alg).await?;
            let authentication = &session.authentication;
            let mut claims = IdTokenClaims {
                iss: self.settings.issuer.clone(),
                sub: user.id.to_string(),
                aud: client.id.to_string(),
                exp: now.timestamp() + expires_in,
                iat: now.timestamp(),
                auth_time: authentication.at.timestamp(),
                nonce: nonce.map(str::to_owned),
                acr: authentication.acr().to_owned(),
                amr: authentication
                    .amr()
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
                at_hash: Some(warden_token::token_hash(client.id_token_alg, &access_token)),
                sid: Some(browser_session.to_string()),
                azp: None,
                email: None,
                email_verified: None,
            };
            if scope.contains("email") {
                claims.email = Some(user.email.as_str().to_owned());
                claims.email_verified = Some(user.email_verified);
            }
            Some(
                signer
                    .sign_id_token(&claims)
                    .map_err(|e| CoreError::Unexpected(format!("signing failed: {e}")))?,
            )
        } else {
            None
        };
        let refresh_token = client
            .allows_grant(GrantType::RefreshToken)
            .then(|| refresh.expose().to_owned());
        Ok(OAuthTokens {
            access_token,
            expires_in,
            refresh_token,
            id_token,
            scope: scope.to_param(),
        })
    }
}

/// A checked RP-initiated logout request (OpenID Connect RP-Initiated
/// Logout 1.0).
#[derive(Debug, Clone)]
pub struct LogoutRequest {
    /// The client that asked, by `id_token_hint` or `client_id`.
    pub client: Option<OAuthClient>,
    /// Where to go afterwards (a registered `post_logout_redirect_uri`
    /// with `state`), if asked.
    pub redirect: Option<String>,
    /// The user the hint names: a signed-in visitor who is that user is
    /// signed out at once, anyone else is asked first.
    pub hint_subject: Option<crate::ids::UserId>,
}

impl AuthService {
    /// Checks a logout request. `Refused` names what cannot be trusted
    /// (the hint, the client, the redirect URI): the page says so and
    /// sends nobody anywhere.
    pub async fn check_logout(
        &self,
        id_token_hint: Option<&str>,
        client_id: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
        state: Option<&str>,
    ) -> Result<LogoutRequest, AuthorizeFailure> {
        use AuthorizeFailure::Refused;
        let hint = match id_token_hint {
            Some(token) => Some(
                self.keys
                    .ring()
                    .verifier
                    .verify_id_token_hint(token, self.clock.now().timestamp())
                    .map_err(|_| Refused("id_token_hint"))?,
            ),
            None => None,
        };
        let client_id = match (hint.as_ref().map(|h| h.aud.as_str()), client_id) {
            (Some(aud), Some(id)) if aud != id => return Err(Refused("client_id")),
            (Some(aud), _) => Some(aud),
            (None, id) => id,
        };
        let client = match client_id {
            Some(id) => Some(
                self.store
                    .find_client(&ClientId::parse(id).ok_or(Refused("client_id"))?)
                    .await
                    .map_err(CoreError::from)?
                    .ok_or(Refused("client_id"))?,
            ),
            None => None,
        };
        let redirect = match post_logout_redirect_uri {
            None => None,
            Some(uri) => {
                let registered = client.as_ref().is_some_and(|c| {
                    c.post_logout_redirect_uris
                        .iter()
                        .any(|r| r.as_str() == uri)
                });
                if !registered {
                    return Err(Refused("post_logout_redirect_uri"));
                }
                Some(match state {
                    Some(state) => with_query(uri, &[("state", state)]),
                    None => uri.to_owned(),
                })
            }
        };
        Ok(LogoutRequest {
            client,
            redirect,
            hint_subject: hint.and_then(|h| h.sub.parse().ok()),
        })
    }
}

/// Whether a scope may be asked of this client: the standard ones by any
/// client of the authorization-code grant, others when registered.
fn may_request(client: &OAuthClient, scope: &str) -> bool {
    STANDARD_SCOPES.contains(&scope) || client.scopes.iter().any(|s| s.as_str() == scope)
}

fn is_token_error(err: &CoreError) -> bool {
    matches!(
        err,
        CoreError::InvalidToken
            | CoreError::TokenExpired
            | CoreError::TokenRevoked
            | CoreError::WrongIssuer { .. }
    )
}

/// The userinfo claims the granted scopes allow.
fn add_profile_claims(claims: &mut serde_json::Value, user: &User, scope: &ScopeSet) {
    if scope.contains("email") {
        claims["email"] = user.email.as_str().into();
        claims["email_verified"] = user.email_verified.into();
    }
    if scope.contains("profile")
        && let Some(name) = &user.username
    {
        claims["preferred_username"] = name.as_str().into();
        claims["name"] = name.as_str().into();
    }
}

/// `uri` with `params` added to its query (it may have one already).
pub fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    let mut out = uri.to_owned();
    let mut sep = if uri.contains('?') { '&' } else { '?' };
    for (name, value) in params {
        out.push(sep);
        out.push_str(name);
        out.push('=');
        out.extend(percent_encoding::utf8_percent_encode(value, URI_COMPONENT));
        sep = '&';
    }
    out
}

/// Where an authorization error goes: the redirect URI with `error`,
/// `error_description`, `state` and `iss`.
pub fn error_redirect(
    redirect_uri: &str,
    state: Option<&str>,
    error: &OAuthError,
    issuer: &str,
) -> String {
    let mut params = vec![
        ("error", error.code),
        ("error_description", error.description.as_str()),
    ];
    if let Some(state) = state {
        params.push(("state", state));
    }
    params.push(("iss", issuer));
    with_query(redirect_uri, &params)
}

/// The one answer to every client-authentication failure (which of them
/// it was is not told).
fn client_auth_failed() -> OAuthError {
    OAuthError::invalid_client("client authentication failed")
}

/// The client id a request presents, if it is one.
fn presented_client_id(credentials: &ClientCredentials) -> Result<ClientId, OAuthError> {
    credentials
        .client_id
        .as_deref()
        .and_then(ClientId::parse)
        .ok_or_else(client_auth_failed)
}

/// The presented secret against a client (RFC 6749 2.3.1): a confidential
/// client by its secret, a public one by its id alone.
fn check_client_secret(
    client: OAuthClient,
    credentials: &ClientCredentials,
) -> Result<OAuthClient, ProviderError> {
    match (client.kind, credentials.secret.as_deref()) {
        (ClientKind::Confidential, Some(secret)) if client.verify_secret(secret) => Ok(client),
        (ClientKind::Public, None) => Ok(client),
        _ => Err(client_auth_failed().into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_added_encoded() {
        assert_eq!(
            with_query(
                "https://a.example/cb",
                &[("code", "woc_x"), ("state", "a b&c")]
            ),
            "https://a.example/cb?code=woc_x&state=a%20b%26c"
        );
        assert_eq!(
            with_query("https://a.example/cb?x=1", &[("code", "c")]),
            "https://a.example/cb?x=1&code=c"
        );
        let err = OAuthError::new("access_denied", "no");
        assert_eq!(
            error_redirect("http://127.0.0.1/cb", Some("s"), &err, "http://i"),
            "http://127.0.0.1/cb?error=access_denied&error_description=no&state=s&iss=http%3A%2F%2Fi"
        );
    }
}
