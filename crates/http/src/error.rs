//! [`ApiError`]: every non-JSON-RPC HTTP answer.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Why a request was refused before reaching the dispatcher. JSON-RPC errors are not
/// `ApiError`s: they are answers, sent with status 200.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The client IP's token bucket is empty, or too many IPs are tracked.
    #[error("too many requests")]
    RateLimited,
    /// The `Content-Type` is not `application/json`.
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    /// The body is over the configured size.
    #[error("request body too large")]
    PayloadTooLarge,
    /// The body did not arrive in time.
    #[error("request body timed out")]
    BodyTimeout,
    /// The body could not be read (connection error).
    #[error("could not read the request body")]
    BadBody,
    /// Nothing is served here (LNURL routes without vouchers configured).
    #[error("not found")]
    NotFound,
}

impl ApiError {
    /// The HTTP status this error is answered with.
    pub fn status(self) -> StatusCode {
        match self {
            ApiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::BadBody => StatusCode::BAD_REQUEST,
            ApiError::NotFound => StatusCode::NOT_FOUND,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({ "error": self.to_string() }));
        if self == ApiError::RateLimited {
            return (self.status(), [(header::RETRY_AFTER, "1")], body).into_response();
        }
        (self.status(), body).into_response()
    }
}
