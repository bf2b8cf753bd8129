//! One file per group of endpoints.

pub(crate) mod clients;
pub(crate) mod flows;
pub(crate) mod health;
pub(crate) mod metrics;
pub(crate) mod node;
pub(crate) mod node_ops;
pub(crate) mod orders;
pub(crate) mod vouchers;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::Query;
use axum::Json;

use crate::error::{AdminError, ErrorCode};

/// A JSON body, or the API's 400 with axum's reason (instead of axum's plain-text answer).
pub(crate) fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, AdminError> {
    body.map(|Json(value)| value).map_err(|rejection| AdminError::new(ErrorCode::InvalidRequest, rejection.body_text()))
}

/// Query parameters, or the API's 400 with axum's reason.
pub(crate) fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, AdminError> {
    query
        .map(|Query(value)| value)
        .map_err(|rejection| AdminError::new(ErrorCode::InvalidRequest, rejection.body_text()))
}
