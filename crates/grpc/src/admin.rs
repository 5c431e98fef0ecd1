//! `warden.v1.AdminService`: the caller must hold the `admin` role now
//! (`AuthService::authorize_admin`, as for HTTP) before anything runs.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use warden_core::{AuthService, User, UserId};

use crate::auth::{authenticate, context};
use crate::convert;
use crate::error::{GrpcError, OrStatus as _};
use crate::pb;
use crate::pb::admin_service_server::AdminService as AdminRpc;

/// The `warden.v1.AdminService` implementation.
#[derive(Clone)]
pub struct AdminApi {
    auth: Arc<AuthService>,
}

impl AdminApi {
    /// Serves `auth`.
    pub fn new(auth: Arc<AuthService>) -> Self {
        Self { auth }
    }

    /// The calling admin, or UNAUTHENTICATED / PERMISSION_DENIED.
    async fn admin<T>(&self, request: &Request<T>) -> Result<User, Status> {
        let who = authenticate(&self.auth, request.metadata()).await?;
        self.auth.authorize_admin(&who).await.or_status()
    }
}

/// A target user id; a malformed one is "not found", as over HTTP.
fn target(raw: &str) -> Result<UserId, Status> {
    raw.parse()
        .map_err(|_| GrpcError::new(tonic::Code::NotFound, "not_found", "user not found").into())
}

#[tonic::async_trait]
impl AdminRpc for AdminApi {
    async fn ban_user(
        &self,
        request: Request<pb::BanUserRequest>,
    ) -> Result<Response<pb::BanUserResponse>, Status> {
        let admin = self.admin(&request).await?;
        let ctx = context(&request);
        let body = request.into_inner();
        let user = self
            .auth
            .ban(
                admin.id,
                target(&body.user_id)?,
                body.reason.as_deref(),
                &ctx,
            )
            .await
            .or_status()?;
        Ok(Response::new(pb::BanUserResponse {
            user: Some(convert::user(&user)),
        }))
    }

    async fn unban_user(
        &self,
        request: Request<pb::UnbanUserRequest>,
    ) -> Result<Response<pb::UnbanUserResponse>, Status> {
        let admin = self.admin(&request).await?;
        let ctx = context(&request);
        let body = request.into_inner();
        let user = self
            .auth
            .unban(admin.id, target(&body.user_id)?, &ctx)
            .await
            .or_status()?;
        Ok(Response::new(pb::UnbanUserResponse {
            user: Some(convert::user(&user)),
        }))
    }

    async fn set_roles(
        &self,
        request: Request<pb::SetRolesRequest>,
    ) -> Result<Response<pb::SetRolesResponse>, Status> {
        let admin = self.admin(&request).await?;
        let ctx = context(&request);
        let body = request.into_inner();
        let user = self
            .auth
            .set_roles(admin.id, target(&body.user_id)?, &body.roles, &ctx)
            .await
            .or_status()?;
        Ok(Response::new(pb::SetRolesResponse {
            user: Some(convert::user(&user)),
        }))
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        self.admin(&request).await?;
        let body = request.into_inner();
        let page = self
            .auth
            .list_users(body.q.as_deref(), body.cursor.as_deref(), body.limit)
            .await
            .or_status()?;
        Ok(Response::new(pb::ListUsersResponse {
            users: page.items.iter().map(convert::user).collect(),
            next_cursor: page.next_cursor,
        }))
    }
}
