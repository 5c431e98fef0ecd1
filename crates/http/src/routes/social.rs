//! Social sign-in (front-door contract, section 4): the providers, the
//! start and the callback of a flow, the exchange of an app's code, and
//! the caller's linked identities.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use warden_core::identity::{
    AuthorizationRequest, Intent, ProviderCallback, is_pkce_challenge, pkce_challenge,
};
use warden_core::opaque::OpaqueToken;
use warden_core::ports::SocialProvider;
use warden_core::{CoreError, IdentityId};

use crate::cookies::set_session_cookies;
use crate::dto::TokensBody;
use crate::extract::{ApiJson, ApiQuery, Authenticated, Client, presented_token};
use crate::oauth_flow::{FLOW_COOKIE, FLOW_LIFETIME_SECS, Flow, expired_cookie};
use crate::openapi::{BadRequest, Conflict, JsonBodyErrors, NotFound, Unauthorized, Unavailable};
use crate::problem::ApiError;
use crate::routes::accounts::RequestParts;
use crate::state::AppState;

/// `GET /v1/oauth/providers`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProvidersBody {
    /// The configured providers, in configuration order.
    pub providers: Vec<ProviderBody>,
}

/// One provider.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderBody {
    /// The path segment.
    pub id: String,
    /// The button's text.
    pub label: String,
    /// `google`, `github`, `microsoft`, `apple`, `gitlab` or `oidc`.
    pub kind: String,
}

/// The providers a sign-in page offers.
#[utoipa::path(get, path = "/v1/oauth/providers", tag = "social",
    responses((status = 200, body = ProvidersBody)))]
pub async fn providers(State(state): State<AppState>) -> Json<ProvidersBody> {
    Json(ProvidersBody {
        providers: state
            .config
            .social
            .providers
            .iter()
            .map(|p| ProviderBody {
                id: p.id().to_owned(),
                label: p.label().to_owned(),
                kind: p.kind().to_owned(),
            })
            .collect(),
    })
}

/// The query of `/v1/oauth/{id}/start`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StartQuery {
    /// A path on this site, or a URL on an allowed origin; default `/`.
    pub redirect_to: Option<String>,
    /// `signin` (default) or `link` (attach to the signed-in account).
    pub intent: Option<String>,
    /// An app's own PKCE S256 challenge: the callback answers with a `wxc_`
    /// code for `POST /v1/oauth/exchange` instead of cookies.
    pub code_challenge: Option<String>,
    /// `S256` (the only method).
    pub code_challenge_method: Option<String>,
}

/// Where a flow may end: the rule of every sign-in redirect (a path on
/// this site, or a URL on an allowed origin), within a sane length.
pub fn checked_redirect(raw: &str, allowed_origins: &[String]) -> Option<String> {
    if raw.is_empty() || raw.len() > 2048 {
        return None;
    }
    warden_edge::sign_in::safe_return(raw, allowed_origins).map(str::to_owned)
}

/// 256 random bits, base64url: a `state`, `nonce` or PKCE verifier.
fn random() -> String {
    OpaqueToken::generate("").expose().to_owned()
}

fn provider(state: &AppState, id: &str) -> Result<Arc<dyn SocialProvider>, ApiError> {
    state
        .config
        .social
        .providers
        .iter()
        .find(|p| p.id() == id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("no provider `{id}` is configured")))
}

fn callback_url(state: &AppState, id: &str) -> String {
    format!(
        "{}/v1/oauth/{id}/callback",
        state.auth.settings().public_url.trim_end_matches('/')
    )
}

fn now_secs(state: &AppState) -> i64 {
    state.auth.now().timestamp()
}

/// Start a social sign-in: off to the provider, with the flow bound to this
/// browser by a cookie.
#[utoipa::path(get, path = "/v1/oauth/{id}/start", tag = "social",
    params(("id" = String, Path, description = "the provider's id"), StartQuery),
    responses((status = 302, description = "to the provider; sets `__Host-warden_oauth`"),
        BadRequest, Unauthorized, NotFound, Unavailable))]
pub async fn start(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<StartQuery>,
    RequestParts(parts): RequestParts,
    jar: CookieJar,
) -> Result<Response, ApiError> {
    let provider = provider(&state, &id)?;
    let redirect_to = match query.redirect_to.as_deref() {
        None => "/".to_owned(),
        Some(raw) => checked_redirect(raw, &state.config.allowed_origins).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_redirect",
                "redirect_to must be a path on this site or a URL on an allowed origin",
            )
        })?,
    };
    let link_to = match query.intent.as_deref() {
        None | Some("signin") => None,
        Some("link") => {
            let (token, _) = presented_token(&parts)?.ok_or_else(|| {
                ApiError::missing_token("linking a provider needs a signed-in session")
            })?;
            Some(state.auth.validate(&token).await?.user_id)
        }
        Some(_) => {
            return Err(ApiError::invalid_request(
                "intent must be `signin` or `link`",
            ));
        }
    };
    let app_challenge = match (query.code_challenge, query.code_challenge_method.as_deref()) {
        (None, None) => None,
        (Some(challenge), None | Some("S256")) if is_pkce_challenge(&challenge) => Some(challenge),
        (Some(_), None | Some("S256")) => {
            return Err(ApiError::invalid_request(
                "code_challenge must be an S256 challenge: 43 base64url characters",
            ));
        }
        _ => {
            return Err(ApiError::invalid_request(
                "code_challenge_method must be S256, with a code_challenge",
            ));
        }
    };
    let verifier = provider.uses_pkce().then(random);
    let flow = Flow {
        provider: id.clone(),
        state: random(),
        nonce: random(),
        verifier,
        redirect_to,
        link_to,
        app_challenge,
        expires_at: now_secs(&state) + FLOW_LIFETIME_SECS,
    };
    let challenge = flow.verifier.as_deref().map(pkce_challenge);
    let location = provider.authorization_url(&AuthorizationRequest {
        redirect_uri: &callback_url(&state, &id),
        state: &flow.state,
        nonce: &flow.nonce,
        pkce_challenge: challenge.as_deref(),
    });
    let jar = jar.add(state.config.social.sealer.cookie(&flow));
    Ok((
        StatusCode::FOUND,
        jar,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response())
}

/// What a provider sends back (query or form).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackParams {
    /// The authorization code.
    pub code: Option<String>,
    /// The state the flow sent.
    pub state: Option<String>,
    /// The provider's refusal (`access_denied` ...).
    pub error: Option<String>,
}

fn see_other(location: &str) -> [(header::HeaderName, String); 2] {
    [
        (header::LOCATION, location.to_owned()),
        (header::CACHE_CONTROL, "no-store".to_owned()),
    ]
}

fn with_param(base: &str, name: &str, value: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    let value: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
    format!("{base}{sep}{name}={value}")
}

/// Where a flow whose own `redirect_to` is unknown sends its errors.
const SIGN_IN_PAGE: &str = "/signin";

/// The provider's answer (GET). Ends at `redirect_to`: signed in by cookies,
/// with `?code=wxc_...` for an app, or with `?error=<code>`.
#[utoipa::path(get, path = "/v1/oauth/{id}/callback", tag = "social",
    params(("id" = String, Path, description = "the provider's id"), CallbackParams),
    responses((status = 303, description = "to `redirect_to`, signed in, with `code`, or with `error`")))]
pub async fn callback(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<CallbackParams>,
    Client(ctx): Client,
    RequestParts(parts): RequestParts,
    jar: CookieJar,
) -> Response {
    let flow = jar
        .get(FLOW_COOKIE)
        .and_then(|c| state.config.social.sealer.open(c.value(), now_secs(&state)));
    // The flow ends here whatever happens: a replayed callback finds no
    // cookie.
    let jar = jar.add(expired_cookie());
    let fail = |to: &str, code: &str| {
        state.metrics.record_social(code);
        (
            StatusCode::SEE_OTHER,
            jar.clone(),
            see_other(&with_param(to, "error", code)),
        )
            .into_response()
    };
    let Some(flow) = flow else {
        return fail(SIGN_IN_PAGE, "state_mismatch");
    };
    let state_matches = params.state.as_deref().is_some_and(|s| {
        use subtle::ConstantTimeEq as _;
        bool::from(s.as_bytes().ct_eq(flow.state.as_bytes()))
    });
    if flow.provider != id || !state_matches {
        return fail(&flow.redirect_to, "state_mismatch");
    }
    if let Some(error) = params.error.as_deref() {
        tracing::info!(provider = %id, error = %error.chars().take(64).collect::<String>(), "provider refused the sign-in");
        return fail(&flow.redirect_to, "provider_error");
    }
    let Some(code) = params.code.as_deref() else {
        return fail(&flow.redirect_to, "provider_error");
    };
    let Ok(provider) = provider(&state, &id) else {
        return fail(&flow.redirect_to, "provider_error");
    };
    let intent = match flow.link_to {
        None => Intent::SignIn,
        // Still the same account: the session that asked must be the one
        // finishing.
        Some(asked) => match current_user(&state, &parts).await {
            Some(now) if now == asked => Intent::Link(asked),
            _ => return fail(&flow.redirect_to, "state_mismatch"),
        },
    };
    let assertion = match provider
        .finish(&ProviderCallback {
            code,
            redirect_uri: &callback_url(&state, &id),
            nonce: &flow.nonce,
            pkce_verifier: flow.verifier.as_deref(),
        })
        .await
    {
        Ok(assertion) => assertion,
        Err(failure) => {
            tracing::warn!(provider = %id, detail = %failure.0, "social sign-in failed at the provider");
            return fail(&flow.redirect_to, "provider_error");
        }
    };
    let account = match state
        .auth
        .social_account(
            &assertion,
            intent,
            provider.allow_sign_up(),
            state.config.social.auto_link_verified_email,
            &ctx,
        )
        .await
    {
        Ok(account) => account,
        Err(err) => return fail(&flow.redirect_to, error_code(&err)),
    };
    if let Some(challenge) = flow.app_challenge.as_deref() {
        return match state.auth.issue_exchange_code(&account, challenge).await {
            Ok(code) => {
                state.metrics.record_social("success");
                (
                    StatusCode::SEE_OTHER,
                    jar,
                    see_other(&with_param(&flow.redirect_to, "code", code.expose())),
                )
                    .into_response()
            }
            Err(err) => fail(&flow.redirect_to, error_code(&err)),
        };
    }
    match state.auth.open_social_session(&account, &ctx).await {
        // The second step happens on the sign-in page's MFA step, which
        // finds the token in its HttpOnly cookie.
        Err(CoreError::MfaRequired { mfa_token, .. }) => {
            state.metrics.record_social("mfa_required");
            let jar = jar.add(crate::cookies::mfa_cookie(&mfa_token));
            (
                StatusCode::SEE_OTHER,
                jar,
                see_other(&with_param(&flow.redirect_to, "error", "mfa_required")),
            )
                .into_response()
        }
        Ok(tokens) => {
            state.metrics.record_social("success");
            let jar = set_session_cookies(
                jar,
                &tokens,
                state.auth.settings().session_ttl.num_seconds(),
                &crate::cookies::refresh_path(&state.auth.settings().issuer),
            );
            (StatusCode::SEE_OTHER, jar, see_other(&flow.redirect_to)).into_response()
        }
        Err(err) => fail(&flow.redirect_to, error_code(&err)),
    }
}

/// The redirect's `error`: the refusal's own code, or `provider_error` for
/// anything this side could not finish (the log has the cause).
fn error_code(err: &CoreError) -> &'static str {
    match err {
        CoreError::SocialRefused(refusal) => refusal.code(),
        err => {
            if let CoreError::Unexpected(cause) = err {
                tracing::error!(%cause, "social sign-in failed");
            }
            "server_error"
        }
    }
}

async fn current_user(
    state: &AppState,
    parts: &axum::http::request::Parts,
) -> Option<warden_core::UserId> {
    let (token, _) = presented_token(parts).ok()??;
    state.auth.validate(&token).await.ok().map(|p| p.user_id)
}

/// The provider's answer as a cross-site form POST (Apple's
/// `response_mode=form_post`): re-sent to the GET, so that the flow's Lax
/// cookie, which a cross-site POST does not carry, arrives.
#[utoipa::path(post, path = "/v1/oauth/{id}/callback", tag = "social",
    params(("id" = String, Path, description = "the provider's id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "`code`, `state` and `error` as the provider sends them; other fields are ignored"),
    responses((status = 303, description = "to the GET callback with the same parameters"),
        JsonBodyErrors))]
pub async fn callback_form(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    if !is_form {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the callback takes application/x-www-form-urlencoded",
        ));
    }
    let params = parse_form(&body).ok_or_else(|| {
        ApiError::invalid_request("the form is not UTF-8, or a field is over 4096 bytes")
    })?;
    let base = state
        .auth
        .settings()
        .public_url
        .trim_end_matches('/')
        .to_owned();
    let prefix = base
        .parse::<axum::http::Uri>()
        .map(|uri| uri.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    let mut location = format!("{prefix}/v1/oauth/{id}/callback");
    for (name, value) in [
        ("code", params.code),
        ("state", params.state),
        ("error", params.error),
    ] {
        if let Some(value) = value {
            location = with_param(&location, name, &value);
        }
    }
    Ok((StatusCode::SEE_OTHER, see_other(&location)).into_response())
}

fn parse_form(body: &[u8]) -> Option<CallbackParams> {
    std::str::from_utf8(body).ok()?;
    let mut params = CallbackParams::default();
    for (name, value) in form_urlencoded::parse(body) {
        let slot = match name.as_ref() {
            "code" => &mut params.code,
            "state" => &mut params.state,
            "error" => &mut params.error,
            _ => continue,
        };
        if value.len() > 4096 {
            return None;
        }
        *slot = Some(value.into_owned());
    }
    Some(params)
}

/// `POST /v1/oauth/exchange`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequest {
    /// The `wxc_` code from the redirect.
    pub code: String,
    /// The app's PKCE verifier of the `code_challenge` it started with.
    pub code_verifier: String,
}

/// Trade an app's `wxc_` code (60 s, single use, PKCE-bound) for tokens.
#[utoipa::path(post, path = "/v1/oauth/exchange", tag = "social", request_body = ExchangeRequest,
    responses((status = 200, body = TokensBody), JsonBodyErrors, Unavailable))]
pub async fn exchange(
    State(state): State<AppState>,
    Client(ctx): Client,
    ApiJson(body): ApiJson<ExchangeRequest>,
) -> Result<Response, ApiError> {
    let tokens = state
        .auth
        .exchange_code(&body.code, &body.code_verifier, &ctx)
        .await?;
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(TokensBody::new(&tokens, false)),
    )
        .into_response())
}

/// `GET /v1/me/identities`.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdentitiesBody {
    /// Oldest first.
    pub identities: Vec<IdentityBody>,
}

/// One linked identity.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityBody {
    /// UUIDv7.
    pub id: String,
    /// The provider's id.
    pub provider: String,
    /// The address the provider last asserted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// When it was linked.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When it last signed in.
    pub last_used_at: chrono::DateTime<chrono::Utc>,
}

/// The caller's linked identities.
#[utoipa::path(get, path = "/v1/me/identities", tag = "social", security(("bearer" = [])),
    responses((status = 200, body = IdentitiesBody), Unauthorized, Unavailable))]
pub async fn identities(
    State(state): State<AppState>,
    who: Authenticated,
) -> Result<Json<IdentitiesBody>, ApiError> {
    let identities = state.auth.identities(who.principal.user_id).await?;
    Ok(Json(IdentitiesBody {
        identities: identities
            .into_iter()
            .map(|i| IdentityBody {
                id: i.id.to_string(),
                provider: i.key.provider,
                email: i.email,
                created_at: i.created_at,
                last_used_at: i.last_used_at,
            })
            .collect(),
    }))
}

/// Unlink one of the caller's identities.
#[utoipa::path(delete, path = "/v1/me/identities/{id}", tag = "social", security(("bearer" = [])),
    params(("id" = String, Path, description = "the identity's id")),
    responses((status = 204), BadRequest, Unauthorized, NotFound, Conflict, Unavailable))]
pub async fn unlink(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Client(ctx): Client,
    who: Authenticated,
) -> Result<StatusCode, ApiError> {
    let id: IdentityId = id
        .parse()
        .map_err(|_| ApiError::invalid_request("id must be a UUID"))?;
    state
        .auth
        .unlink_identity(who.principal.user_id, id, &ctx)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_stay_on_this_site_or_an_allowed_origin() {
        let allowed = vec!["https://app.example.com".to_owned()];
        let ok = |raw: &str| checked_redirect(raw, &allowed);
        assert_eq!(ok("/account").as_deref(), Some("/account"));
        assert_eq!(ok("/a?b=c").as_deref(), Some("/a?b=c"));
        assert_eq!(
            ok("https://app.example.com/done").as_deref(),
            Some("https://app.example.com/done")
        );
        for bad in [
            "//evil.example.com/x",
            "/\\evil.example.com",
            "https://evil.example.com/",
            "https://app.example.com.evil.test/",
            "https://user@app.example.com/",
            "http://app.example.com/",
            "javascript:alert(1)",
            "",
            "/a\nb",
        ] {
            assert_eq!(ok(bad), None, "{bad:?} was allowed");
        }
    }

    #[test]
    fn params_are_appended_encoded() {
        assert_eq!(
            with_param("/account", "error", "state_mismatch"),
            "/account?error=state_mismatch"
        );
        assert_eq!(
            with_param("/a?x=1", "code", "wxc_a b"),
            "/a?x=1&code=wxc_a+b"
        );
    }
}
