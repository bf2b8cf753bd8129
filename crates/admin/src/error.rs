//! The admin API's errors: an HTTP status and a stable code in a JSON body,
//! `{"error": {"code": "not_found", "message": "…"}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// A stable error code; scripts match on it, people read the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No `Authorization: Bearer` header, or not the admin key (401).
    Unauthorized,
    /// Too many failed authentications; wait (429).
    RateLimited,
    /// No such order, session or path (404).
    NotFound,
    /// A query parameter or body is invalid (400).
    InvalidRequest,
    /// The LSP serves no flows (no store), so there is nothing to list (404).
    NoFlows,
    /// The store failed (500).
    StoreFailed,
    /// Metrics are not recorded in this process (404).
    NoMetrics,
    /// The action does not apply as things stand (banning a banned client, …) (409).
    Conflict,
    /// The node refused or failed to do it (not enough funds, the peer refused, …) (422).
    NodeRefused,
}

impl ErrorCode {
    /// The HTTP status that carries this code.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::NotFound | ErrorCode::NoFlows | ErrorCode::NoMetrics => StatusCode::NOT_FOUND,
            ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorCode::StoreFailed => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::NodeRefused => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

/// An error answer of the admin API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct AdminError {
    /// The stable code.
    pub code: ErrorCode,
    /// What went wrong, for people.
    pub message: String,
}

impl AdminError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> AdminError {
        AdminError { code, message: message.into() }
    }
}

/// The JSON body of an error answer.
#[derive(Serialize, Deserialize)]
pub(crate) struct ErrorBody {
    pub(crate) error: AdminError,
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let unauthorized = self.code == ErrorCode::Unauthorized;
        let mut response = (status, axum::Json(ErrorBody { error: self })).into_response();
        if unauthorized {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<inbound_store::StoreError> for AdminError {
    fn from(error: inbound_store::StoreError) -> Self {
        tracing::warn!("admin API: the store failed: {error}");
        AdminError::new(ErrorCode::StoreFailed, error.to_string())
    }
}
