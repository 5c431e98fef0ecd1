//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{dto, problem, routes};

/// The whole API.
#[derive(OpenApi)]
#[openapi(
    info(title = "Warden", description = "Authentication for microservice systems."),
    paths(
        routes::accounts::signup, routes::accounts::signin, routes::accounts::refresh,
        routes::accounts::signout, routes::accounts::revoke_refresh, routes::accounts::signout_all, routes::accounts::me,
        routes::accounts::sessions, routes::accounts::delete_session, routes::accounts::change_password,
        routes::tokens::validate, routes::tokens::verify, routes::tokens::revocations,
        routes::admin::list_users, routes::admin::get_user, routes::admin::ban, routes::admin::unban,
        routes::admin::set_roles, routes::admin::delete_user, routes::admin::audit,
        routes::ops::healthz, routes::ops::readyz, routes::ops::metrics, routes::ops::openapi,
        routes::ops::jwks, routes::ops::openid_configuration,
    ),
    components(schemas(problem::Problem, dto::TokensBody, dto::UserBody)),
    modifiers(&BearerAuth)
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
