//! The one error type of the gRPC surface and its mapping to status codes.
//!
//! Client errors carry a message meant for the operator (the field and the bad value). Server
//! errors reach the client as `Internal "internal error"`; their detail rides along as the
//! status' source, which the call layer logs once (see [`super::layer`]) and tonic never sends.

use std::sync::Arc;

use tonic::{Code, Status};

use crate::agents::{InputError, RidError};
use crate::alloy::RenderError;
use crate::store::StoreError;
use crate::tokens::RoleError;

/// The message every internal failure shows the client.
pub const INTERNAL_MESSAGE: &str = "internal error";
/// The message a call shows while the database cannot be reached: the client may retry.
pub const UNAVAILABLE_MESSAGE: &str = "the agent database is unavailable; try again";

/// Why a gRPC call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is invalid; the message names the field and value.
    #[error("{0}")]
    InvalidArgument(String),
    /// No agent has that resource id.
    #[error("agent not found")]
    NotFound,
    /// An agent with that hostname exists.
    #[error("agent already exists")]
    AlreadyExists,
    /// The database cannot be reached now; the detail is logged, never sent.
    #[error("{0}")]
    Unavailable(Box<dyn std::error::Error + Send + Sync>),
    /// Finch failed; the detail is logged, never sent.
    #[error("{0}")]
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

// === impl ApiError ===

impl From<InputError> for ApiError {
    fn from(error: InputError) -> Self {
        ApiError::InvalidArgument(error.to_string())
    }
}

impl From<RidError> for ApiError {
    fn from(error: RidError) -> Self {
        ApiError::InvalidArgument(error.to_string())
    }
}

impl From<RoleError> for ApiError {
    fn from(_: RoleError) -> Self {
        // 1.x's text, which finchctl users know.
        ApiError::InvalidArgument("invalid role".into())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::AlreadyExists => ApiError::AlreadyExists,
            unavailable @ StoreError::Unavailable(_) => {
                ApiError::Unavailable(Box::new(unavailable))
            }
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

impl From<RenderError> for ApiError {
    fn from(error: RenderError) -> Self {
        ApiError::Internal(Box::new(error))
    }
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::InvalidArgument(message) => Status::invalid_argument(message),
            ApiError::NotFound => Status::not_found("agent not found"),
            ApiError::AlreadyExists => Status::already_exists("agent already exists"),
            ApiError::Unavailable(source) => {
                with_source(Code::Unavailable, UNAVAILABLE_MESSAGE, source)
            }
            ApiError::Internal(source) => with_source(Code::Internal, INTERNAL_MESSAGE, source),
        }
    }
}

/// A status with a fixed message for the client and the real cause kept for the call's log.
fn with_source(
    code: Code,
    message: &str,
    source: Box<dyn std::error::Error + Send + Sync>,
) -> Status {
    let mut status = Status::new(code, message);
    status.set_source(Arc::from(source));
    status
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn store_errors_map_to_codes_and_hide_database_text() {
        let status = Status::from(ApiError::from(StoreError::NotFound));
        assert_eq!(
            (status.code(), status.message()),
            (Code::NotFound, "agent not found")
        );
        let status = Status::from(ApiError::from(StoreError::AlreadyExists));
        assert_eq!(
            (status.code(), status.message()),
            (Code::AlreadyExists, "agent already exists")
        );
        let db = StoreError::Database("disk I/O error at /var/lib/finch/finch.db".into());
        let status = Status::from(ApiError::from(db));
        assert_eq!(
            (status.code(), status.message()),
            (Code::Internal, "internal error")
        );
        let source = status
            .source()
            .expect("source kept for the log")
            .to_string();
        assert!(source.contains("disk I/O error"), "{source}");
    }

    #[test]
    fn an_unreachable_database_is_unavailable_and_its_text_stays_in_the_log() {
        let down = StoreError::Unavailable("connection refused to db.internal:5432".into());
        let status = Status::from(ApiError::from(down));
        assert_eq!(
            (status.code(), status.message()),
            (Code::Unavailable, UNAVAILABLE_MESSAGE)
        );
        let source = status
            .source()
            .expect("source kept for the log")
            .to_string();
        assert!(source.contains("connection refused"), "{source}");
    }

    #[test]
    fn client_errors_are_invalid_argument_with_their_message() {
        let status = Status::from(ApiError::from(RidError::Empty));
        assert_eq!(
            (status.code(), status.message()),
            (Code::InvalidArgument, "resource ID is required")
        );
        let status = Status::from(ApiError::from(InputError::HostnameRequired));
        assert_eq!(status.message(), "hostname is required");
    }
}
