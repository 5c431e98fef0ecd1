//! `/admin/clients`: the OAuth clients (apps and services) Warden serves as
//! a provider: register one, edit its redirect URIs and scopes, give a
//! confidential client a new secret (shown this once), delete it.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use warden_core::clients::{ClientKind, ClientSecret, ClientSettings, GrantType, OAuthClient};
use warden_core::model::Actor;
use warden_core::service::MAX_PAGE;
use warden_core::{CoreError, ErrorKind};
use warden_http::extract::Client;

use super::{
    Admin, Change, Chrome, admin, admin_form, confirm, confirmed, day, page, problem_page,
};
use crate::PageState;
use crate::form::Form;
use crate::routes::{Errors, query, redirect, unavailable};

#[derive(Serialize)]
struct ListPage<'a> {
    #[serde(flatten)]
    chrome: Chrome<'a>,
    clients: Vec<ClientRow>,
    /// The registration form as typed (after an error) or empty.
    new: Fields,
}

#[derive(Serialize)]
struct ClientRow {
    id: String,
    name: String,
    kind: &'static str,
    first_party: bool,
    grants: String,
    redirect_uris: Vec<String>,
    scopes: String,
    created_on: String,
}

impl From<&OAuthClient> for ClientRow {
    fn from(c: &OAuthClient) -> Self {
        Self {
            id: c.id.to_string(),
            name: c.name.clone(),
            kind: c.kind.as_str(),
            first_party: c.first_party,
            grants: c
                .grant_types
                .iter()
                .map(GrantType::as_str)
                .collect::<Vec<_>>()
                .join(", "),
            redirect_uris: c
                .redirect_uris
                .iter()
                .map(|u| u.as_str().to_owned())
                .collect(),
            scopes: c
                .scopes
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            created_on: day(c.created_at),
        }
    }
}

/// A client's settings as the form holds them.
#[derive(Serialize, Default)]
struct Fields {
    name: String,
    kind: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    scopes: String,
    grant_authorization_code: bool,
    grant_refresh_token: bool,
    grant_client_credentials: bool,
    first_party: bool,
}

impl Fields {
    fn of_form(form: &Form) -> Self {
        let on = |name: &str| form.get(name).is_some();
        Self {
            name: form.text("name").trim().to_owned(),
            kind: form.text("type").to_owned(),
            redirect_uris: form.text("redirect_uris").to_owned(),
            post_logout_redirect_uris: form.text("post_logout_redirect_uris").to_owned(),
            scopes: form.text("scopes").to_owned(),
            grant_authorization_code: on("grant_authorization_code"),
            grant_refresh_token: on("grant_refresh_token"),
            grant_client_credentials: on("grant_client_credentials"),
            first_party: on("first_party"),
        }
    }

    fn of_client(c: &OAuthClient) -> Self {
        let has = |g: GrantType| c.grant_types.contains(&g);
        let lines = |uris: &[warden_core::clients::RedirectUri]| {
            uris.iter()
                .map(|u| u.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        };
        Self {
            name: c.name.clone(),
            kind: c.kind.as_str().to_owned(),
            redirect_uris: lines(&c.redirect_uris),
            post_logout_redirect_uris: lines(&c.post_logout_redirect_uris),
            scopes: c
                .scopes
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            grant_authorization_code: has(GrantType::AuthorizationCode),
            grant_refresh_token: has(GrantType::RefreshToken),
            grant_client_credentials: has(GrantType::ClientCredentials),
            first_party: c.first_party,
        }
    }

    /// The form's fields to post again from the confirmation page (a
    /// hidden field holds no line breaks: the URI lists go space-separated,
    /// which the form reads the same).
    fn hidden(&self) -> Vec<(&'static str, String)> {
        let mut fields = vec![
            ("name", self.name.clone()),
            ("type", self.kind.clone()),
            ("redirect_uris", words(&self.redirect_uris)),
            (
                "post_logout_redirect_uris",
                words(&self.post_logout_redirect_uris),
            ),
            ("scopes", self.scopes.clone()),
        ];
        for (name, on) in [
            ("grant_authorization_code", self.grant_authorization_code),
            ("grant_refresh_token", self.grant_refresh_token),
            ("grant_client_credentials", self.grant_client_credentials),
            ("first_party", self.first_party),
        ] {
            if on {
                fields.push((name, "on".to_owned()));
            }
        }
        fields
    }

    /// `text` with the client's name, URIs, grants and scopes put in: what
    /// the confirmation page says it will have.
    fn fill(&self, none: &str, text: String) -> String {
        let settings = self.settings(None);
        let or_none = |list: Vec<String>| {
            if list.is_empty() {
                none.to_owned()
            } else {
                list.join(", ")
            }
        };
        let grants = settings
            .grant_types
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect();
        text.replace("{name}", &self.name)
            .replace("{uris}", &or_none(settings.redirect_uris))
            .replace("{grants}", &or_none(grants))
            .replace("{scopes}", &or_none(settings.scopes))
    }

    /// The settings to save; `keep` supplies what the form does not edit
    /// (the ID token's algorithm).
    fn settings(&self, keep: Option<&OAuthClient>) -> ClientSettings {
        let list =
            |raw: &str| -> Vec<String> { raw.split_whitespace().map(str::to_owned).collect() };
        let mut grant_types = Vec::new();
        if self.grant_authorization_code {
            grant_types.push(GrantType::AuthorizationCode);
        }
        if self.grant_refresh_token {
            grant_types.push(GrantType::RefreshToken);
        }
        if self.grant_client_credentials {
            grant_types.push(GrantType::ClientCredentials);
        }
        let defaults = ClientSettings::default();
        ClientSettings {
            name: self.name.clone(),
            redirect_uris: list(&self.redirect_uris),
            post_logout_redirect_uris: list(&self.post_logout_redirect_uris),
            grant_types,
            scopes: list(&self.scopes),
            first_party: self.first_party,
            id_token_alg: keep.map_or(defaults.id_token_alg, |c| c.id_token_alg),
        }
    }
}

fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The form fields a domain error may name, by the domain's name.
const FIELDS: &[(&str, &str)] = &[
    ("name", "name"),
    ("redirect_uris", "redirect_uris"),
    ("post_logout_redirect_uris", "post_logout_redirect_uris"),
    ("grant_types", "grant_authorization_code"),
    ("scopes", "scopes"),
    ("type", "type"),
];

async fn render_list(
    state: &PageState,
    admin: &Admin,
    status: StatusCode,
    errors: Errors,
    notice: Option<String>,
    new: Fields,
) -> Response {
    let mut clients = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let Ok(page) = state
            .app
            .auth
            .clients()
            .list(cursor.as_deref(), Some(MAX_PAGE))
            .await
        else {
            return unavailable(state);
        };
        clients.extend(page.items.iter().map(ClientRow::from));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut chrome = Chrome::new(admin, "clients");
    chrome.errors = errors;
    chrome.notice = notice;
    page(
        state,
        admin,
        "admin/clients.html",
        status,
        ListPage {
            chrome,
            clients,
            new,
        },
    )
}

/// `GET /admin/clients`.
pub async fn list(State(state): State<PageState>, uri: Uri, headers: HeaderMap) -> Response {
    let admin = match admin(&state, &headers, "/admin/clients").await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let notice = super::users::notice(&state, query(&uri).get("notice"));
    let new = Fields {
        kind: "confidential".to_owned(),
        grant_authorization_code: true,
        ..Fields::default()
    };
    render_list(
        &state,
        &admin,
        StatusCode::OK,
        Errors::default(),
        notice,
        new,
    )
    .await
}

#[derive(Serialize)]
struct SecretPage<'a> {
    #[serde(flatten)]
    chrome: Chrome<'a>,
    heading: String,
    client_id: String,
    client_name: String,
    secret: Option<String>,
    back: String,
}

/// The page that shows a new secret, this once (never cached).
fn secret_page(
    state: &PageState,
    admin: &Admin,
    client: &OAuthClient,
    secret: Option<&ClientSecret>,
    heading_key: &str,
) -> Response {
    let catalogue = &state.pages.catalogue;
    let context = SecretPage {
        chrome: Chrome::new(admin, "clients"),
        heading: catalogue.text(heading_key).replace("{name}", &client.name),
        client_id: client.id.to_string(),
        client_name: client.name.clone(),
        secret: secret.map(|s| s.expose().to_owned()),
        back: format!("{}/admin/clients/{}", state.pages.base, client.id),
    };
    let mut response = page(state, admin, "admin/secret.html", StatusCode::OK, context);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.into_response()
}

/// `POST /admin/clients`: checks the form, asks to confirm, then registers
/// the client; the next page shows its id and, for a confidential client,
/// its secret this once.
pub async fn create(
    State(state): State<PageState>,
    Client(ctx): Client,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (admin, form) = match admin_form(&state, &headers, body, "/admin/clients").await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let catalogue = &state.pages.catalogue;
    let fields = Fields::of_form(&form);
    let kind = match ClientKind::parse(&fields.kind) {
        Some(kind) => kind,
        None => {
            let errors = Errors::one("type", catalogue.text("admin.client_bad_type"));
            return render_list(
                &state,
                &admin,
                StatusCode::BAD_REQUEST,
                errors,
                None,
                fields,
            )
            .await;
        }
    };
    let settings = fields.settings(None);
    if let Err(err) = OAuthClient::check_settings(kind, &settings) {
        let (status, errors) = crate::routes::domain_error(&err.into(), FIELDS, "name", catalogue);
        return render_list(&state, &admin, status, errors, None, fields).await;
    }
    if !confirmed(&form) {
        let none = catalogue.text("admin.none");
        let mut change = Change::new(
            catalogue,
            "register",
            |text| fields.fill(&none, text),
            "/admin/clients".to_owned(),
            "/admin/clients".to_owned(),
            "clients",
        );
        change.fields = fields.hidden();
        return confirm(&state, &admin, change, None);
    }
    let created = state
        .app
        .auth
        .clients()
        .create(Some(Actor::User(admin.user.id)), kind, settings, &ctx)
        .await;
    match created {
        Ok((client, secret)) => secret_page(
            &state,
            &admin,
            &client,
            secret.as_ref(),
            "admin.client_created_heading",
        ),
        Err(err) => {
            let (status, errors) = crate::routes::domain_error(&err, FIELDS, "name", catalogue);
            render_list(&state, &admin, status, errors, None, fields).await
        }
    }
}

#[derive(Serialize)]
struct ClientPage<'a> {
    #[serde(flatten)]
    chrome: Chrome<'a>,
    client: ClientRow,
    confidential: bool,
    fields: Fields,
    secret_rotated_on: Option<String>,
}

async fn render_client(
    state: &PageState,
    admin: &Admin,
    client: &OAuthClient,
    status: StatusCode,
    errors: Errors,
    notice: Option<String>,
    fields: Fields,
) -> Response {
    let mut chrome = Chrome::new(admin, "clients");
    chrome.errors = errors;
    chrome.notice = notice;
    let context = ClientPage {
        chrome,
        client: ClientRow::from(client),
        confidential: client.kind == ClientKind::Confidential,
        fields,
        secret_rotated_on: client.secret_rotated_at.map(day),
    };
    page(state, admin, "admin/client.html", status, context)
}

fn client_not_found(state: &PageState, admin: &Admin) -> Response {
    problem_page(
        state,
        admin,
        StatusCode::NOT_FOUND,
        &state.pages.catalogue.text("admin.client_not_found"),
        "/admin/clients",
    )
}

async fn find(state: &PageState, admin: &Admin, id: &str) -> Result<OAuthClient, Response> {
    match state.app.auth.clients().get(id).await {
        Ok(client) => Ok(client),
        Err(CoreError::NotFound(_) | CoreError::InvalidInput(_)) => {
            Err(client_not_found(state, admin))
        }
        Err(_) => Err(unavailable(state)),
    }
}

/// `GET /admin/clients/{id}`.
pub async fn show(
    State(state): State<PageState>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let admin = match admin(&state, &headers, &format!("/admin/clients/{id}")).await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let client = match find(&state, &admin, &id).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    let notice = super::users::notice(&state, query(&uri).get("notice"));
    let fields = Fields::of_client(&client);
    render_client(
        &state,
        &admin,
        &client,
        StatusCode::OK,
        Errors::default(),
        notice,
        fields,
    )
    .await
}

/// `POST /admin/clients/{id}/{action}`: `settings` saves the form,
/// `rotate-secret` makes a new secret, `delete` deletes; each asks first.
pub async fn act(
    State(state): State<PageState>,
    Client(ctx): Client,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let back = format!("/admin/clients/{id}");
    let (admin, form) = match admin_form(&state, &headers, body, &back).await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let client = match find(&state, &admin, &id).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    let catalogue = &state.pages.catalogue;
    let registry = state.app.auth.clients();
    let actor = Some(Actor::User(admin.user.id));
    let base = &state.pages.base;
    match action.as_str() {
        "settings" => {
            let mut fields = Fields::of_form(&form);
            fields.kind = client.kind.as_str().to_owned();
            let settings = fields.settings(Some(&client));
            if let Err(err) = OAuthClient::check_settings(client.kind, &settings) {
                let (status, errors) =
                    crate::routes::domain_error(&err.into(), FIELDS, "name", catalogue);
                return render_client(&state, &admin, &client, status, errors, None, fields).await;
            }
            if !confirmed(&form) {
                let none = catalogue.text("admin.none");
                let mut change = Change::new(
                    catalogue,
                    "settings",
                    |text| fields.fill(&none, text),
                    format!("{back}/settings"),
                    back.clone(),
                    "clients",
                );
                change.fields = fields.hidden();
                return confirm(&state, &admin, change, None);
            }
            match registry.update(actor, &id, settings, &ctx).await {
                Ok(_) => redirect(&format!("{base}{back}?notice=client_updated")),
                Err(err) => {
                    let (status, errors) =
                        crate::routes::domain_error(&err, FIELDS, "name", catalogue);
                    render_client(&state, &admin, &client, status, errors, None, fields).await
                }
            }
        }
        "rotate-secret" | "delete" if !confirmed(&form) => {
            let key = if action == "delete" {
                "delete_client"
            } else {
                "rotate_secret"
            };
            let mut change = Change::new(
                catalogue,
                key,
                |text| text.replace("{name}", &client.name),
                format!("{back}/{action}"),
                back.clone(),
                "clients",
            );
            change.danger = true;
            confirm(&state, &admin, change, None)
        }
        "rotate-secret" => match registry.rotate_secret(actor, &id, &ctx).await {
            Ok((client, secret)) => secret_page(
                &state,
                &admin,
                &client,
                Some(&secret),
                "admin.secret_rotated_heading",
            ),
            Err(err) => failed(&state, &admin, &client, &err).await,
        },
        "delete" => match registry.delete(actor, &id, &ctx).await {
            Ok(()) => redirect(&format!("{base}/admin/clients?notice=client_deleted")),
            Err(err) => failed(&state, &admin, &client, &err).await,
        },
        _ => client_not_found(&state, &admin),
    }
}

async fn failed(
    state: &PageState,
    admin: &Admin,
    client: &OAuthClient,
    err: &CoreError,
) -> Response {
    if matches!(err.kind(), ErrorKind::Unavailable | ErrorKind::Internal) {
        return unavailable(state);
    }
    let (status, errors) =
        crate::routes::domain_error(err, &[], "actions-heading", &state.pages.catalogue);
    render_client(
        state,
        admin,
        client,
        status,
        errors,
        None,
        Fields::of_client(client),
    )
    .await
}
