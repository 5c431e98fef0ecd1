//! The HTTP API. Every ticket route takes a [`Viewer`], which exists only
//! for a request whose bearer token warden-verify accepted (signature,
//! issuer, audience, expiry, not revoked) and whose roles allow tickets, so
//! a handler cannot forget to check.
//!
//! | route | |
//! |---|---|
//! | `POST /api/tickets` `{title, body?}` | 201 the ticket |
//! | `GET /api/tickets?limit=&cursor=` | 200 `{tickets, next_cursor}`, newest first |
//! | `GET /api/tickets/{id}` | 200 the ticket |
//! | `PATCH /api/tickets/{id}` `{title?, body?, status?}` | 200 the ticket |
//! | `GET /healthz`, `GET /readyz` | liveness; readiness of store, keys, bus |

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRef, FromRequest, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Router, extract::DefaultBodyLimit};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;
use warden_events::SubscriptionStatus;
use warden_verify::{Principal, Verifier};

use crate::domain::{Body, Change, Invalid, PageRequest, Status, Ticket, Title, Viewer};
use crate::store::{Store, StoreError};

/// Largest accepted request body, as Warden's own API.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The role that may use tickets at all.
pub const USER_ROLE: &str = "user";
/// The role that sees and changes everyone's tickets.
pub const ADMIN_ROLE: &str = "admin";

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    verifier: Verifier,
    store: Arc<Store>,
    events: Option<Arc<SubscriptionStatus>>,
}

impl AppState {
    /// State over a verifier and a store; `events` is the bus subscription's
    /// status, when there is one (readiness reports it).
    pub fn new(
        verifier: Verifier,
        store: Arc<Store>,
        events: Option<Arc<SubscriptionStatus>>,
    ) -> Self {
        Self {
            verifier,
            store,
            events,
        }
    }
}

// The warden-verify extractors find the verifier through this.
impl FromRef<AppState> for Verifier {
    fn from_ref(state: &AppState) -> Verifier {
        state.verifier.clone()
    }
}

/// The API's routes over `state`.
pub fn router(state: AppState) -> Router {
    let collection = get(list_tickets).post(create_ticket);
    Router::new()
        // The gateway routes the prefix `/api/tickets/`; accept both spellings.
        .route("/api/tickets", collection.clone())
        .route("/api/tickets/", collection)
        .route("/api/tickets/{id}", get(read_ticket).patch(update_ticket))
        .route("/healthz", get(|| async { StatusCode::OK }))
        .route("/readyz", get(readyz))
        .fallback(|| async { ApiError::NotFound })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

impl<S> FromRequestParts<S> for Viewer
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // 401 (and 503 while keys are unavailable) come from warden-verify.
        let principal = Principal::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let is_admin = principal.has_role(ADMIN_ROLE);
        if !is_admin && !principal.has_role(USER_ROLE) {
            return Err(ApiError::Forbidden.into_response());
        }
        Ok(Viewer {
            user_id: principal.user_id,
            is_admin,
        })
    }
}

/// An error answer, as RFC 9457 problem+json in Warden's shape.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No such ticket, or not one the caller may see.
    #[error("not found")]
    NotFound,
    /// A field broke a rule.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The body or query is not what the API takes.
    #[error("{0}")]
    Malformed(String),
    /// The body is over [`BODY_LIMIT`].
    #[error("payload too large")]
    TooLarge,
    /// The token's roles do not allow tickets.
    #[error("forbidden")]
    Forbidden,
    /// The store failed; the client learns nothing more.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::TooLarge;
        }
        // serde's message names the field and the expected type; it never
        // echoes the input.
        ApiError::Malformed(rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::Malformed(rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, detail) = match &self {
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found", "no such ticket".into()),
            ApiError::Invalid(invalid) => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                invalid.to_string(),
            ),
            ApiError::Malformed(detail) => {
                (StatusCode::BAD_REQUEST, "invalid_request", detail.clone())
            }
            ApiError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body is over {BODY_LIMIT} bytes"),
            ),
            ApiError::Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("tickets need the role `{USER_ROLE}` or `{ADMIN_ROLE}`"),
            ),
            ApiError::Store(e) => {
                tracing::error!(error = %e, "store failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "something went wrong on our side".into(),
                )
            }
        };
        let mut body = json!({
            "type": format!("https://warden.dev/errors/{code}"),
            "title": status.canonical_reason().unwrap_or("error"),
            "status": status.as_u16(),
            "code": code,
            "detail": detail,
        });
        if let ApiError::Invalid(invalid) = &self {
            body["field"] = invalid.field.into();
        }
        let mut response = (status, body.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

/// `axum::Json` with this API's errors.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
struct Json<T>(T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query` with this API's errors.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
struct Query<T>(T);

/// A ticket as the API shows it.
#[derive(Debug, Serialize)]
struct TicketView {
    id: Uuid,
    owner_id: Uuid,
    owner_email: Option<String>,
    title: String,
    body: String,
    status: Status,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Ticket> for TicketView {
    fn from(t: Ticket) -> Self {
        TicketView {
            id: t.id,
            owner_id: t.owner_id,
            owner_email: t.owner_email,
            title: t.title.as_str().to_owned(),
            body: t.body.as_str().to_owned(),
            status: t.status,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTicket {
    title: String,
    #[serde(default)]
    body: String,
}

async fn create_ticket(
    State(state): State<AppState>,
    viewer: Viewer,
    Json(input): Json<CreateTicket>,
) -> Result<(StatusCode, Json<TicketView>), ApiError> {
    let ticket = Ticket::new(
        viewer.user_id,
        Title::parse(&input.title)?,
        Body::parse(&input.body)?,
        now(),
    );
    state.store.create_ticket(&ticket).await?;
    // Read back: the store adds what it knows of the owner.
    let ticket = state
        .store
        .find_ticket(ticket.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((StatusCode::CREATED, Json(ticket.into())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Serialize)]
struct TicketList {
    tickets: Vec<TicketView>,
    next_cursor: Option<Uuid>,
}

async fn list_tickets(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(params): Query<ListParams>,
) -> Result<Json<TicketList>, ApiError> {
    let after = params
        .cursor
        .map(|c| Uuid::parse_str(&c).map_err(|_| Invalid::new("cursor", "is not a cursor")))
        .transpose()?;
    let page = state
        .store
        .list_tickets(
            viewer.owner_filter(),
            PageRequest::new(params.limit, after)?,
        )
        .await?;
    Ok(Json(TicketList {
        tickets: page.tickets.into_iter().map(TicketView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// The ticket `id` if `viewer` may see it; 404 alike for a missing ticket,
/// someone else's, and an id that cannot be one.
async fn visible_ticket(state: &AppState, viewer: Viewer, id: &str) -> Result<Ticket, ApiError> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound)?;
    match state.store.find_ticket(id).await? {
        Some(ticket) if viewer.can_see(&ticket) => Ok(ticket),
        _ => Err(ApiError::NotFound),
    }
}

async fn read_ticket(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Json<TicketView>, ApiError> {
    Ok(Json(visible_ticket(&state, viewer, &id).await?.into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateTicket {
    title: Option<String>,
    body: Option<String>,
    status: Option<Status>,
}

async fn update_ticket(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Json(input): Json<UpdateTicket>,
) -> Result<Json<TicketView>, ApiError> {
    // Validate before looking the ticket up, so bad input is 400 whoever's
    // ticket it names, and 404 never depends on the body.
    let change = Change::new(
        input.title.as_deref().map(Title::parse).transpose()?,
        input.body.as_deref().map(Body::parse).transpose()?,
        input.status,
    )?;
    let mut ticket = visible_ticket(&state, viewer, &id).await?;
    ticket.apply(change, now());
    // `false`: deleted between the read and the write (its owner was).
    if !state.store.update_ticket(&ticket).await? {
        return Err(ApiError::NotFound);
    }
    Ok(Json(ticket.into()))
}

/// Now, to the millisecond the store keeps, so a ticket reads back exactly
/// as it was answered.
fn now() -> DateTime<Utc> {
    use chrono::SubsecRound as _;
    Utc::now().trunc_subsecs(3)
}

async fn readyz(State(state): State<AppState>) -> Response {
    let store = state.store.ping().await.is_ok();
    let keys = state.verifier.is_ready();
    let bus = state.events.as_ref().map(|s| s.is_connected());
    let ready = store && keys && bus != Some(false);
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": {
            "store": word(store),
            "verifier": word(keys),
            "bus": bus.map_or("not_configured", word),
        }
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}
