//! The one place domain errors become gRPC statuses (the contract's table in
//! docs/api.md "gRPC").

use tonic::metadata::MetadataValue;
use tonic::{Code, Status};
use warden_core::{CoreError, ErrorKind};

/// Trailer carrying the stable error code (also the message's prefix).
pub const CODE_TRAILER: &str = "warden-code";

/// A status on its way to the client. `From<CoreError>` is the mapping;
/// the orphan rule keeps it off `tonic::Status` itself.
#[derive(Debug)]
pub struct GrpcError {
    status: Status,
    /// The stable code, kept apart so no caller parses it back out of the
    /// message.
    stable: &'static str,
    detail: String,
}

impl GrpcError {
    /// A status with `code`, the stable `stable` code and a human `detail`.
    pub fn new(code: Code, stable: &'static str, detail: impl AsRef<str>) -> Self {
        let detail = detail.as_ref().to_owned();
        let mut status = Status::new(code, format!("{stable}: {detail}"));
        status
            .metadata_mut()
            .insert(CODE_TRAILER, MetadataValue::from_static(stable));
        GrpcError {
            status,
            stable,
            detail,
        }
    }

    /// The stable code (`invalid_token`, ...).
    pub fn stable_code(&self) -> &'static str {
        self.stable
    }

    /// The human detail, without the code prefix.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// UNAUTHENTICATED `invalid_token`.
    pub fn invalid_token(detail: impl AsRef<str>) -> Self {
        Self::new(Code::Unauthenticated, "invalid_token", detail)
    }

    /// INVALID_ARGUMENT `invalid_request`.
    pub fn invalid_request(detail: impl AsRef<str>) -> Self {
        Self::new(Code::InvalidArgument, "invalid_request", detail)
    }

    fn retry_after(mut self, secs: u64) -> Self {
        self.status
            .metadata_mut()
            .insert("retry-after", MetadataValue::from(secs));
        self
    }
}

impl From<GrpcError> for Status {
    fn from(err: GrpcError) -> Self {
        err.status
    }
}

impl From<CoreError> for GrpcError {
    fn from(err: CoreError) -> Self {
        if let CoreError::Unexpected(cause) = &err {
            // Logged once here; the status says nothing internal.
            tracing::error!(%cause, "unexpected error");
        }
        let status = GrpcError::new(code_of(err.kind()), err.code(), err.public_detail());
        match err.retry_after() {
            Some(secs) => status.retry_after(secs),
            None => status,
        }
    }
}

/// The gRPC code of each kind of domain error (docs/api.md "gRPC").
pub fn code_of(kind: ErrorKind) -> Code {
    match kind {
        ErrorKind::InvalidRequest | ErrorKind::Unprocessable => Code::InvalidArgument,
        ErrorKind::Conflict => Code::AlreadyExists,
        ErrorKind::Unauthenticated => Code::Unauthenticated,
        ErrorKind::Forbidden => Code::PermissionDenied,
        ErrorKind::NotFound => Code::NotFound,
        ErrorKind::TooManyRequests => Code::ResourceExhausted,
        ErrorKind::Unavailable => Code::Unavailable,
        ErrorKind::Internal => Code::Internal,
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
