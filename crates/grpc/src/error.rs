//! The one place domain errors become gRPC statuses (the contract's table in
//! docs/api.md "gRPC").

use tonic::metadata::MetadataValue;
use tonic::{Code, Status};
use warden_core::CoreError;

/// Trailer carrying the stable error code (also the message's prefix).
pub const CODE_TRAILER: &str = "warden-code";

/// A status on its way to the client. `From<CoreError>` is the mapping;
/// the orphan rule keeps it off `tonic::Status` itself.
#[derive(Debug)]
pub struct GrpcError(Status);

impl GrpcError {
    /// A status with `code`, the stable `stable` code and a human `detail`.
    pub fn new(code: Code, stable: &'static str, detail: impl AsRef<str>) -> Self {
        let mut status = Status::new(code, format!("{stable}: {}", detail.as_ref()));
        status
            .metadata_mut()
            .insert(CODE_TRAILER, MetadataValue::from_static(stable));
        GrpcError(status)
    }

    /// UNAUTHENTICATED `invalid_token`.
    pub fn invalid_token(detail: impl AsRef<str>) -> Self {
        Self::new(Code::Unauthenticated, "invalid_token", detail)
    }

    /// INVALID_ARGUMENT `invalid_request`.
    pub fn invalid_request(detail: impl AsRef<str>) -> Self {
        Self::new(Code::InvalidArgument, "invalid_request", detail)
    }

    /// The gRPC status code.
    pub(crate) fn code(&self) -> Code {
        self.0.code()
    }

    fn retry_after(mut self, secs: u64) -> Self {
        self.0
            .metadata_mut()
            .insert("retry-after", MetadataValue::from(secs));
        self
    }
}

impl From<GrpcError> for Status {
    fn from(err: GrpcError) -> Self {
        err.0
    }
}

impl From<CoreError> for GrpcError {
    fn from(err: CoreError) -> Self {
        use Code as C;
        match err {
            CoreError::InvalidInput(field) => GrpcError::invalid_request(field.to_string()),
            CoreError::WeakPassword(why) => GrpcError::new(
                C::InvalidArgument,
                "weak_password",
                format!("password {why}"),
            ),
            CoreError::EmailTaken => GrpcError::new(
                C::AlreadyExists,
                "email_taken",
                "an account with this e-mail already exists",
            ),
            CoreError::InvalidCredentials => GrpcError::new(
                C::Unauthenticated,
                "invalid_credentials",
                "the e-mail or password is wrong",
            ),
            CoreError::WrongCurrentPassword => GrpcError::new(
                C::Unauthenticated,
                "invalid_credentials",
                "the current password is wrong",
            ),
            CoreError::AccountBanned => GrpcError::new(
                C::PermissionDenied,
                "account_banned",
                "this account has been banned",
            ),
            CoreError::TooManyAttempts { retry_after_secs } => GrpcError::new(
                C::ResourceExhausted,
                "too_many_attempts",
                format!("too many failed sign-ins; retry in {retry_after_secs} s"),
            )
            .retry_after(retry_after_secs),
            CoreError::InvalidRefreshToken => GrpcError::new(
                C::Unauthenticated,
                "invalid_refresh_token",
                "the refresh token is unknown or expired",
            ),
            CoreError::RefreshTokenReused => GrpcError::new(
                C::Unauthenticated,
                "refresh_token_reused",
                "this refresh token was already used; the session has been revoked",
            ),
            CoreError::SessionRevoked => GrpcError::new(
                C::Unauthenticated,
                "session_revoked",
                "the session has been revoked; sign in again",
            ),
            CoreError::InvalidToken => {
                GrpcError::invalid_token("the token is malformed, forged or unknown")
            }
            e @ CoreError::WrongIssuer { .. } => GrpcError::invalid_token(format!(
                "the token was {e}; instances sharing a database need the same issuer"
            )),
            CoreError::TokenExpired => GrpcError::new(
                C::Unauthenticated,
                "token_expired",
                "the access token has expired",
            ),
            CoreError::TokenRevoked => GrpcError::new(
                C::Unauthenticated,
                "token_revoked",
                "the access token has been revoked",
            ),
            CoreError::NotFound(what) => {
                GrpcError::new(C::NotFound, "not_found", format!("{what} not found"))
            }
            e @ CoreError::Forbidden { .. } => {
                GrpcError::new(C::PermissionDenied, "forbidden", e.to_string())
            }
            CoreError::Overloaded => GrpcError::new(
                C::Unavailable,
                "overloaded",
                "too many sign-ins at once; retry shortly",
            )
            .retry_after(1),
            CoreError::StoreUnavailable => GrpcError::new(
                C::Unavailable,
                "store_unavailable",
                "the database is unreachable; retry shortly",
            ),
            CoreError::Unexpected(cause) => {
                // Logged once here; the status says nothing internal.
                tracing::error!(%cause, "unexpected error");
                GrpcError::new(
                    C::Internal,
                    "internal_error",
                    "something went wrong on our side",
                )
            }
        }
    }
}

/// The stable code of a status Warden sent (from the `warden-code`
/// trailer, else the message prefix), for clients.
pub fn error_code(status: &Status) -> Option<&str> {
    status
        .metadata()
        .get(CODE_TRAILER)
        .and_then(|v| v.to_str().ok())
        .or_else(|| status.message().split_once(": ").map(|(code, _)| code))
}

/// `?` for use-case results inside a service method.
pub(crate) trait OrStatus<T> {
    /// Maps the error through the table above.
    fn or_status(self) -> Result<T, Status>;
}

impl<T> OrStatus<T> for Result<T, CoreError> {
    fn or_status(self) -> Result<T, Status> {
        self.map_err(|e| GrpcError::from(e).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_table_maps_each_error_once_with_its_code() {
        let cases = [
            (
                CoreError::InvalidCredentials,
                Code::Unauthenticated,
                "invalid_credentials",
            ),
            (
                CoreError::AccountBanned,
                Code::PermissionDenied,
                "account_banned",
            ),
            (
                CoreError::TooManyAttempts {
                    retry_after_secs: 7,
                },
                Code::ResourceExhausted,
                "too_many_attempts",
            ),
            (CoreError::EmailTaken, Code::AlreadyExists, "email_taken"),
            (
                CoreError::InvalidInput(warden_core::FieldError::new("email", "is not valid")),
                Code::InvalidArgument,
                "invalid_request",
            ),
            (
                CoreError::StoreUnavailable,
                Code::Unavailable,
                "store_unavailable",
            ),
            (
                CoreError::Unexpected("db password=hunter2".into()),
                Code::Internal,
                "internal_error",
            ),
        ];
        for (err, code, stable) in cases {
            let status = Status::from(GrpcError::from(err));
            assert_eq!(status.code(), code, "{stable}");
            assert_eq!(error_code(&status), Some(stable));
            assert!(
                status.message().starts_with(&format!("{stable}: ")),
                "{status:?}"
            );
            assert!(!status.message().contains("hunter2"));
        }
        let throttled = Status::from(GrpcError::from(CoreError::TooManyAttempts {
            retry_after_secs: 7,
        }));
        assert_eq!(throttled.metadata().get("retry-after").unwrap(), "7");
    }
}
