//! The OpenAPI document, generated from the handlers' annotations.
//!
//! Every error answer is one of the reusable problem+json responses below
//! (`#/components/responses/...`), so its content type, schema and headers
//! (`WWW-Authenticate` on 401, `Retry-After` on 429) are written once. A
//! handler lists what it can answer with the [`IntoResponses`] sets, named
//! after what causes them:
//!
//! ```text
//! #[utoipa::path(post, path = "/v1/password", security(("bearer" = [])),
//!     responses((status = 204), JsonBodyErrors, Unauthorized, Forbidden, Unavailable))]
//! ```
//!
//! `schemathesis` checks the served document against the real binary in
//! `.ci/run` (`crates/server/tests/schemathesis/run_schemathesis.py`).

use std::collections::BTreeMap;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, ObjectBuilder, Ref, RefOr, Type};
use utoipa::{IntoResponses, Modify, OpenApi};

use crate::{dto, problem, routes};

/// The content type of every error answer (RFC 9457).
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// The whole API.
#[derive(OpenApi)]
#[openapi(
    info(title = "Warden", description = "Authentication for microservice systems."),
    paths(
        routes::accounts::signup, routes::accounts::signin, routes::accounts::refresh,
        routes::accounts::signout, routes::accounts::revoke_refresh, routes::accounts::signout_all, routes::accounts::me,
        routes::accounts::sessions, routes::accounts::delete_session, routes::accounts::change_password,
        routes::lifecycle::send_verification, routes::lifecycle::verify_email,
        routes::lifecycle::forgot_password, routes::lifecycle::reset_password,
        routes::lifecycle::change_email, routes::lifecycle::delete_me,
        routes::tokens::validate, routes::tokens::verify, routes::tokens::revocations,
        routes::admin::list_users, routes::admin::get_user, routes::admin::ban, routes::admin::unban,
        routes::admin::set_roles, routes::admin::delete_user, routes::admin::audit,
        routes::clients::list_clients, routes::clients::create_client, routes::clients::get_client,
        routes::clients::update_client, routes::clients::rotate_client_secret,
        routes::clients::delete_client,
        routes::ops::healthz, routes::ops::readyz, routes::ops::metrics, routes::ops::openapi,
        routes::ops::jwks, routes::ops::openid_configuration,
        routes::social::providers, routes::social::start, routes::social::callback,
        routes::social::callback_form, routes::social::exchange, routes::social::identities,
        routes::social::unlink,
        routes::mfa::signin_mfa, routes::mfa::start_totp, routes::mfa::confirm_totp,
        routes::mfa::remove_totp, routes::mfa::recovery_codes, routes::mfa::admin_reset,
        routes::passkeys::register_options, routes::passkeys::register, routes::passkeys::list,
        routes::passkeys::delete, routes::passkeys::signin_options, routes::passkeys::signin,
    ),
    components(schemas(problem::Problem, dto::TokensBody, dto::UserBody)),
    modifiers(&BearerAuth, &ProblemResponses)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
        }
    }
}

/// A reusable problem+json answer: its component name, status, meaning and
/// the headers it carries.
struct Answer {
    name: &'static str,
    status: u16,
    description: &'static str,
    headers: &'static [AnswerHeader],
}

struct AnswerHeader {
    name: &'static str,
    description: &'static str,
    pattern: Option<&'static str>,
    /// Sent with every such answer (utoipa's `Header` cannot say so; see
    /// [`document`]).
    is_required: bool,
}

const WWW_AUTHENTICATE: AnswerHeader = AnswerHeader {
    name: "WWW-Authenticate",
    description: "Always sent: the Bearer challenge (RFC 6750); names `error=\"invalid_token\"` \
                  when a presented token was refused.",
    pattern: Some("^Bearer"),
    is_required: true,
};

const RETRY_AFTER: AnswerHeader = AnswerHeader {
    name: "Retry-After",
    description: "Seconds to wait before trying again.",
    pattern: Some("^[0-9]+$"),
    is_required: true,
};

const MAYBE_RETRY_AFTER: AnswerHeader = AnswerHeader {
    description: "Seconds to wait before trying again (with `overloaded`).",
    is_required: false,
    ..RETRY_AFTER
};

const BAD_REQUEST: Answer = Answer {
    name: "BadRequest",
    status: 400,
    description: "`invalid_request`: the body is not valid JSON or a field is missing or \
                  wrong, or a query parameter or header is invalid; `detail` names it. \
                  `invalid_link`: a mailed link's token is unknown, used, expired or not \
                  for this endpoint.",
    headers: &[],
};
const UNAUTHORIZED: Answer = Answer {
    name: "Unauthorized",
    status: 401,
    description: "No valid credential: `invalid_token`, `token_expired`, `token_revoked`, \
                  `session_revoked`, or on the account endpoints `invalid_credentials`, \
                  `invalid_refresh_token`, `refresh_token_reused`.",
    headers: &[WWW_AUTHENTICATE],
};
const FORBIDDEN: Answer = Answer {
    name: "Forbidden",
    status: 403,
    description: "Refused: `forbidden` (a role or service credential is missing), \
                  `csrf_failed` (a cookie-authenticated change without the CSRF token or an \
                  allowed Origin), `account_banned`, `email_not_verified` (sign-in needs a \
                  verified address; a new link was mailed), `signup_disabled`.",
    headers: &[],
};
const NOT_FOUND: Answer = Answer {
    name: "NotFound",
    status: 404,
    description: "`not_found`: no such resource (or one the caller may not see).",
    headers: &[],
};
const CONFLICT: Answer = Answer {
    name: "Conflict",
    status: 409,
    description: "`email_taken`: an account with this e-mail (or one that looks like it) \
                  already exists; `already_verified`: the address is verified already.",
    headers: &[],
};
const PAYLOAD_TOO_LARGE: Answer = Answer {
    name: "PayloadTooLarge",
    status: 413,
    description: "`payload_too_large`: the body is larger than 64 KiB.",
    headers: &[],
};
const UNSUPPORTED_MEDIA_TYPE: Answer = Answer {
    name: "UnsupportedMediaType",
    status: 415,
    description: "`unsupported_media_type`: a body was sent without \
                  `Content-Type: application/json`.",
    headers: &[],
};
const UNPROCESSABLE: Answer = Answer {
    name: "UnprocessableEntity",
    status: 422,
    description: "`weak_password`: the new password breaks the password policy.",
    headers: &[],
};
const TOO_MANY_REQUESTS: Answer = Answer {
    name: "TooManyRequests",
    status: 429,
    description: "`too_many_attempts`: too many failed sign-ins from this client or for \
                  this account; `too_many_requests`: a mail was asked for too soon after the \
                  last one (per address or account: one a minute, five an hour; per client).",
    headers: &[RETRY_AFTER],
};
const UNAVAILABLE: Answer = Answer {
    name: "ServiceUnavailable",
    status: 503,
    description: "`store_unavailable` (the database is unreachable), `overloaded` (too many \
                  password hashes queued; with `Retry-After`) or `timeout` (the request ran \
                  past its deadline). Retry shortly.",
    headers: &[MAYBE_RETRY_AFTER],
};

const ALL_ANSWERS: &[&Answer] = &[
    &BAD_REQUEST,
    &UNAUTHORIZED,
    &FORBIDDEN,
    &NOT_FOUND,
    &CONFLICT,
    &PAYLOAD_TOO_LARGE,
    &UNSUPPORTED_MEDIA_TYPE,
    &UNPROCESSABLE,
    &TOO_MANY_REQUESTS,
    &UNAVAILABLE,
];

impl Answer {
    fn response(&self) -> Response {
        let schema = Ref::from_schema_name("Problem");
        let mut response = ResponseBuilder::new()
            .description(self.description)
            .content(
                PROBLEM_CONTENT_TYPE,
                ContentBuilder::new().schema(Some(schema)).build(),
            );
        for header in self.headers {
            let schema = ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(header.pattern);
            response = response.header(
                header.name,
                HeaderBuilder::new()
                    .schema(schema)
                    .description(Some(header.description))
                    .build(),
            );
        }
        response.build()
    }
}

/// The document as served: [`ApiDoc`] with `required: true` on the answer
/// headers that are always sent, which utoipa's `Header` has no field for.
pub fn document() -> serde_json::Value {
    let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    for answer in ALL_ANSWERS {
        for header in answer.headers.iter().filter(|h| h.is_required) {
            if let Some(header) = document
                .pointer_mut(&format!(
                    "/components/responses/{}/headers/{}",
                    answer.name, header.name
                ))
                .and_then(serde_json::Value::as_object_mut)
            {
                header.insert("required".to_owned(), serde_json::Value::Bool(true));
            }
        }
    }
    document
}

/// Puts every [`Answer`] under `#/components/responses`.
struct ProblemResponses;

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            for answer in ALL_ANSWERS {
                components
                    .responses
                    .insert(answer.name.to_owned(), RefOr::T(answer.response()));
            }
        }
    }
}

fn references(answers: &[&Answer]) -> BTreeMap<String, RefOr<Response>> {
    answers
        .iter()
        .map(|answer| {
            (
                answer.status.to_string(),
                RefOr::Ref(Ref::from_response_name(answer.name)),
            )
        })
        .collect()
}

macro_rules! answer_sets {
    ($($(#[$doc:meta])* $set:ident = [$($answer:ident),+];)+) => {$(
        $(#[$doc])*
        pub struct $set;

        impl IntoResponses for $set {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                references(&[$(&$answer),+])
            }
        }
    )+};
}

answer_sets! {
    /// What a JSON body (`ApiJson`, `OptionalJson`) can be refused with:
    /// 400, 413, 415.
    JsonBodyErrors = [BAD_REQUEST, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE];
    /// 400: a query string (`ApiQuery`) or header that does not parse.
    BadRequest = [BAD_REQUEST];
    /// 401 with `WWW-Authenticate`: what `Authenticated` refuses with.
    Unauthorized = [UNAUTHORIZED];
    /// 401 and 403: what `AdminUser` refuses with.
    AdminErrors = [UNAUTHORIZED, FORBIDDEN];
    /// 403.
    Forbidden = [FORBIDDEN];
    /// 404.
    NotFound = [NOT_FOUND];
    /// 409.
    Conflict = [CONFLICT];
    /// 422.
    Unprocessable = [UNPROCESSABLE];
    /// 429 with `Retry-After`.
    TooManyRequests = [TOO_MANY_REQUESTS];
    /// 503: the store, the hashing pool or the request deadline.
    Unavailable = [UNAVAILABLE];
}
