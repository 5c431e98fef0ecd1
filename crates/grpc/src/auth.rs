//! `warden.v1.AuthService`: each method parses the message, calls the same
//! `AuthService` use case as the HTTP handler, and translates the result.

use std::sync::Arc;

use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};
use warden_core::{AuthService, CoreError, Principal, RequestContext, SecondFactor};

use crate::convert;
use crate::error::{GrpcError, OrStatus as _};
use crate::pb;
use crate::pb::auth_service_server::AuthService as AuthRpc;

/// The `warden.v1.AuthService` implementation.
#[derive(Clone)]
pub struct AuthApi {
    auth: Arc<AuthService>,
}

impl AuthApi {
    /// Serves `auth`.
    pub fn new(auth: Arc<AuthService>) -> Self {
        Self { auth }
    }
}

/// The bearer token of the `authorization` metadata, if any; a malformed
/// value is an error, never "anonymous".
pub(crate) fn bearer(metadata: &MetadataMap) -> Result<Option<String>, Status> {
    let Some(value) = metadata.get("authorization") else {
        return Ok(None);
    };
    let malformed = || -> Status {
        GrpcError::invalid_token("the authorization metadata must be `Bearer <token>`").into()
    };
    let text = value.to_str().map_err(|_| malformed())?;
    let token = warden_edge::credentials::bearer(text).map_err(|_| malformed())?;
    Ok(Some(token.to_owned()))
}

/// The caller, checked by the same `AuthService::validate` as HTTP.
pub(crate) async fn authenticate(
    auth: &AuthService,
    metadata: &MetadataMap,
) -> Result<Principal, Status> {
    let token = bearer_token(metadata)?;
    auth.validate(&token).await.or_status()
}

/// The bearer token of the metadata, required.
fn bearer_token(metadata: &MetadataMap) -> Result<String, Status> {
    bearer(metadata)?.ok_or_else(|| {
        Status::from(GrpcError::invalid_token(
            "no access token: send `authorization: Bearer <token>` metadata",
        ))
    })
}

/// Who is calling, for the audit log and the per-IP sign-in limit: the TCP
/// peer (gRPC does not read `X-Forwarded-For`) and the user agent.
pub(crate) fn context<T>(request: &Request<T>) -> RequestContext {
    RequestContext {
        ip: request.remote_addr().map(|addr| addr.ip().to_string()),
        user_agent: request
            .metadata()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect()),
    }
}

#[tonic::async_trait]
impl AuthRpc for AuthApi {
    async fn sign_up(
        &self,
        request: Request<pb::SignUpRequest>,
    ) -> Result<Response<pb::SignUpResponse>, Status> {
        let ctx = context(&request);
        let body = request.into_inner();
        let (user, tokens) = self
            .auth
            .sign_up(&body.email, &body.password, body.username.as_deref(), &ctx)
            .await
            .or_status()?;
        Ok(Response::new(pb::SignUpResponse {
            user: Some(convert::user(&user)),
            tokens: tokens.as_ref().map(convert::tokens),
        }))
    }

    async fn sign_in(
        &self,
        request: Request<pb::SignInRequest>,
    ) -> Result<Response<pb::SignInResponse>, Status> {
        let ctx = context(&request);
        let body = request.into_inner();
        let tokens = match self.auth.sign_in(&body.email, &body.password, &ctx).await {
            Err(CoreError::MfaRequired { mfa_token, methods }) => {
                return Ok(Response::new(pb::SignInResponse {
                    tokens: None,
                    mfa: Some(pb::MfaChallenge {
                        mfa_token,
                        methods: methods.into_iter().map(str::to_owned).collect(),
                    }),
                }));
            }
            result => result.or_status()?,
        };
        Ok(Response::new(pb::SignInResponse {
            tokens: Some(convert::tokens(&tokens)),
            mfa: None,
        }))
    }

    async fn sign_in_mfa(
        &self,
        request: Request<pb::SignInMfaRequest>,
    ) -> Result<Response<pb::SignInMfaResponse>, Status> {
        let ctx = context(&request);
        let body = request.into_inner();
        let factor = match (body.totp_code.as_deref(), body.recovery_code.as_deref()) {
            (Some(code), None) => SecondFactor::Totp(code),
            (None, Some(code)) => SecondFactor::RecoveryCode(code),
            _ => {
                return Err(GrpcError::invalid_request(
                    "give exactly one of `totp_code` and `recovery_code`",
                )
                .into());
            }
        };
        let tokens = self
            .auth
            .sign_in_mfa(&body.mfa_token, factor, &ctx)
            .await
            .or_status()?;
        Ok(Response::new(pb::SignInMfaResponse {
            tokens: Some(convert::tokens(&tokens)),
        }))
    }

    async fn sign_out(
        &self,
        request: Request<pb::SignOutRequest>,
    ) -> Result<Response<pb::SignOutResponse>, Status> {
        let ctx = context(&request);
        // As over HTTP: a bearer token wins over a refresh token.
        if bearer(request.metadata())?.is_some() {
            let who = authenticate(&self.auth, request.metadata()).await?;
            self.auth.sign_out(&who, &ctx).await.or_status()?;
        } else if let Some(refresh) = request.into_inner().refresh_token {
            self.auth
                .sign_out_with_refresh(&refresh, &ctx)
                .await
                .or_status()?;
        } else {
            return Err(GrpcError::invalid_token(
                "send `authorization: Bearer <token>` metadata or a refresh_token",
            )
            .into());
        }
        Ok(Response::new(pb::SignOutResponse {}))
    }

    async fn refresh(
        &self,
        request: Request<pb::RefreshRequest>,
    ) -> Result<Response<pb::RefreshResponse>, Status> {
        let ctx = context(&request);
        let body = request.into_inner();
        let tokens = self
            .auth
            .refresh(&body.refresh_token, &ctx)
            .await
            .or_status()?;
        Ok(Response::new(pb::RefreshResponse {
            tokens: Some(convert::tokens(&tokens)),
        }))
    }

    async fn validate(
        &self,
        request: Request<pb::ValidateRequest>,
    ) -> Result<Response<pb::ValidateResponse>, Status> {
        let caller = if request.get_ref().token.is_empty() {
            let token = bearer_token(request.metadata())?;
            self.auth.validate_caller(&token).await.or_status()?
        } else {
            self.auth
                .validate_caller(&request.get_ref().token)
                .await
                .or_status()?
        };
        Ok(Response::new(convert::identity(caller)))
    }

    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::GetUserResponse>, Status> {
        let who = authenticate(&self.auth, request.metadata()).await?;
        let user = self.auth.me(&who).await.or_status()?;
        Ok(Response::new(pb::GetUserResponse {
            user: Some(convert::user(&user)),
        }))
    }
}
