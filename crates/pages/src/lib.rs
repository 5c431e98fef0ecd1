//! Warden's hosted pages (front-door contract, section 6): sign-in,
//! sign-up, forgotten passwords, e-mail verification and the account page, server-rendered from minijinja templates
//! embedded in the binary, with their assets and message catalogue.
//!
//! The pages call the domain service directly (no HTTP round trip to the
//! API), sign people in with the cookies of the API's cookie mode
//! ([`warden_http::cookies`]), and keep them signed in for the session's
//! lifetime: when the 15-minute access cookie has lapsed, a page sends the
//! browser once through `/v1/token/resume`, where the refresh cookie is
//! sent, and back (decision 0022). Every form carries the double-submit
//! token of cookie mode as a hidden field and works without JavaScript.
//!
//! ```no_run
//! # fn run(app: warden_http::AppState) -> Result<(), warden_pages::PagesError> {
//! use std::sync::Arc;
//! let pages = Arc::new(warden_pages::Pages::build(&warden_pages::PagesConfig::default(), "http://127.0.0.1:8080")?);
//! let router = warden_http::router_with(app.clone(), warden_pages::router(app, pages));
//! # let _ = router; Ok(()) }
//! ```

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod assets;
pub mod branding;
pub mod catalogue;
mod csrf;
pub mod form;
mod headers;
pub mod render;
mod routes;
mod session;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::http::HeaderValue;
use axum::routing::{get, post};
use minijinja::{Environment, Value};
use warden_http::AppState;

pub use branding::{AccentColor, Branding, BrandingError};
pub use catalogue::{Catalogue, CatalogueError};
pub use render::TemplateError;

/// What the pages are built from.
#[derive(Debug, Clone, Default)]
pub struct PagesConfig {
    /// `[ui]`.
    pub branding: Branding,
    /// Origins a form may post to or be redirected to after posting,
    /// besides this one (the CSP's `form-action`): the origins `rd` may
    /// return to, and later the sign-in providers'.
    pub form_action_origins: Vec<String>,
}

/// Why the pages could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PagesError {
    /// A template (built in or overridden) does not compile.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// The message catalogue does not parse.
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    /// The CSP built from the configuration is not a header value.
    #[error("the pages' Content-Security-Policy is not a valid header: {0}")]
    Csp(String),
}

/// Everything the pages need, built once at start.
pub struct Pages {
    env: Environment<'static>,
    catalogue: Catalogue,
    assets: assets::Assets,
    csp: HeaderValue,
    /// The issuer's path: links and redirects are prefixed with it, so the
    /// pages work behind a gateway prefix.
    base: String,
    /// `[ui] product_name`, for texts built in code.
    product: String,
}

impl Pages {
    /// Compiles the templates (built-in and overrides), loads the
    /// catalogue, hashes the assets and builds the CSP.
    pub fn build(config: &PagesConfig, issuer: &str) -> Result<Self, PagesError> {
        let base = issuer
            .parse::<axum::http::Uri>()
            .map(|uri| uri.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        let catalogue = Catalogue::english()?;
        let branding = &config.branding;
        let assets = assets::Assets::build(branding.accent_color, &base);
        let ui = Value::from(minijinja::value::Serde(serde_ui(branding)));
        let asset_paths = Value::from(minijinja::value::Serde(std::collections::BTreeMap::from([
            ("css", assets.css.as_str()),
            ("theme", assets.theme.as_str()),
            ("js", assets.js.as_str()),
            ("admin", assets.admin.as_str()),
        ])));
        let env = render::environment(
            branding.templates_dir.as_deref(),
            &[
                ("m", catalogue.to_value()),
                ("ui", ui),
                ("assets", asset_paths),
                ("base", Value::from(base.clone())),
                ("lang", Value::from(catalogue.lang())),
            ],
        )?;
        let csp = headers::content_security_policy(
            branding.logo_origin().as_deref(),
            &config.form_action_origins,
        );
        let csp = HeaderValue::from_str(&csp).map_err(|_| PagesError::Csp(csp))?;
        Ok(Self {
            env,
            catalogue,
            assets,
            csp,
            base,
            product: branding.product_name.clone(),
        })
    }

    /// Bytes of CSS and JavaScript every public page loads.
    pub fn asset_bytes(&self) -> usize {
        self.assets.page_bytes()
    }

    /// Bytes of CSS and JavaScript an admin console page loads.
    pub fn admin_asset_bytes(&self) -> usize {
        self.assets.total_bytes()
    }
}

fn serde_ui(branding: &Branding) -> std::collections::BTreeMap<&'static str, Option<String>> {
    std::collections::BTreeMap::from([
        ("product_name", Some(branding.product_name.clone())),
        ("logo_url", branding.logo_url.clone()),
    ])
}

/// The pages' handlers' state: the API's state and the built pages.
#[derive(Clone)]
pub struct PageState {
    app: AppState,
    pages: Arc<Pages>,
}

impl FromRef<PageState> for AppState {
    fn from_ref(state: &PageState) -> Self {
        state.app.clone()
    }
}

/// The pages' routes, ready to merge into the API router
/// ([`warden_http::router_with`]), which adds its layers.
pub fn router<S>(app: AppState, pages: Arc<Pages>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let state = PageState { app, pages };
    Router::new()
        .route(
            "/signin",
            get(routes::signin::show).post(routes::signin::submit),
        )
        .route(
            "/oauth2/logout",
            get(routes::logout::show).post(routes::logout::confirm),
        )
        .route(
            "/oauth2/authorize",
            get(routes::authorize::show).post(routes::authorize::decide),
        )
        .route(
            "/signin/mfa",
            get(routes::mfa::show).post(routes::mfa::submit),
        )
        .route(
            "/signup",
            get(routes::signup::show).post(routes::signup::submit),
        )
        .route("/account", get(routes::account::show))
        .route("/account/password", post(routes::account::change_password))
        .route("/account/email", post(routes::account::change_email))
        .route(
            "/account/email/verify",
            post(routes::account::send_verification),
        )
        .route("/account/delete", post(routes::account::delete_account))
        .route("/account/mfa/totp", post(routes::account::start_totp))
        .route(
            "/account/mfa/totp/confirm",
            post(routes::account::confirm_totp),
        )
        .route(
            "/account/mfa/totp/remove",
            post(routes::account::remove_totp),
        )
        .route(
            "/account/mfa/recovery-codes",
            post(routes::account::new_recovery_codes),
        )
        .route("/account/passkeys", post(routes::account::add_passkey))
        .route(
            "/account/passkeys/options",
            post(routes::account::passkey_options),
        )
        .route(
            "/account/passkeys/{id}/remove",
            post(routes::account::remove_passkey),
        )
        .route("/signin/passkey", post(routes::signin::passkey))
        .route(
            "/forgot-password",
            get(routes::recovery::show_forgot).post(routes::recovery::submit_forgot),
        )
        .route(
            "/reset-password",
            get(routes::recovery::show_reset).post(routes::recovery::submit_reset),
        )
        .route(
            "/verify-email",
            get(routes::verify::show).post(routes::verify::submit),
        )
        .route(
            "/account/sessions/{id}/revoke",
            post(routes::account::revoke_session),
        )
        .route(
            "/account/identities/{id}/unlink",
            post(routes::account::unlink_identity),
        )
        .route("/signout", post(routes::account::sign_out))
        .route("/admin", get(routes::admin::overview::show))
        .route("/admin/audit", get(routes::admin::audit::show))
        .route("/admin/audit.csv", get(routes::admin::audit::export))
        .route(
            "/admin/clients",
            get(routes::admin::clients::list).post(routes::admin::clients::create),
        )
        .route("/admin/clients/{id}", get(routes::admin::clients::show))
        .route(
            "/admin/clients/{id}/{action}",
            post(routes::admin::clients::act),
        )
        .route("/admin/users", get(routes::admin::users::list))
        .route("/admin/users/{id}", get(routes::admin::users::show))
        .route(
            "/admin/users/{id}/sessions/{session}/revoke",
            post(routes::admin::users::revoke_session),
        )
        .route(
            "/admin/users/{id}/{action}",
            post(routes::admin::users::act),
        )
        .route(session::RESUME_PATH, get(session::resume))
        .route("/assets/{name}", get(routes::asset))
        .layer(axum::middleware::map_response_with_state(
            state.clone(),
            headers::secure,
        ))
        .with_state(state)
}

#[cfg(test)]
mod tests;
