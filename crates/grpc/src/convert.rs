//! Domain values to `warden.v1` messages.

use chrono::SecondsFormat;
use warden_core::service::{Caller, TokenKind};
use warden_core::{IssuedTokens, User};

use crate::pb;

pub(crate) fn user(user: &User) -> pb::User {
    pb::User {
        id: user.id.to_string(),
        email: user.email.as_str().to_owned(),
        username: user.username.clone(),
        roles: user.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        status: user.status.as_str().to_owned(),
        // The same form the JSON API gives.
        created_at: user.created_at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        email_verified: user.email_verified,
        has_password: user.has_password,
    }
}

pub(crate) fn tokens(tokens: &IssuedTokens) -> pb::Tokens {
    pb::Tokens {
        access_token: tokens.access_token.clone(),
        token_type: "Bearer".to_owned(),
        expires_in: tokens.expires_in,
        refresh_token: tokens.refresh_token.expose().to_owned(),
        session_id: tokens.session_id.to_string(),
    }
}

pub(crate) fn identity(caller: Caller) -> pb::ValidateResponse {
    match caller {
        Caller::User(principal) => pb::ValidateResponse {
            active: true,
            sub: principal.user_id.to_string(),
            sid: principal.session_id.to_string(),
            token_type: principal.kind.token_type().to_owned(),
            roles: principal.roles,
            exp: principal.expires_at,
            iat: principal.issued_at,
            amr: principal
                .authentication
                .amr()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            acr: principal.authentication.acr().to_owned(),
            auth_time: principal.authentication.at.timestamp(),
            kind: "user".to_owned(),
            client_id: principal.client_id.unwrap_or_default(),
            scope: principal.scope.unwrap_or_default(),
        },
        Caller::Service(service) => pb::ValidateResponse {
            active: true,
            sub: service.client_id.clone(),
            sid: String::new(),
            token_type: TokenKind::Jwt.token_type().to_owned(),
            roles: Vec::new(),
            exp: service.expires_at,
            iat: service.issued_at,
            amr: Vec::new(),
            acr: String::new(),
            auth_time: 0,
            kind: "service".to_owned(),
            client_id: service.client_id,
            scope: service.scope,
        },
    }
}
