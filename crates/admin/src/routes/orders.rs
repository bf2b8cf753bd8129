//! `POST /v1/orders/{id}/cancel`, `/refund` and `/retry-open`: the operator's actions on an
//! LSPS1 order, and `POST /v1/sessions/{id}/fail` on an LSPS2 session (its held HTLCs failed
//! back; only while no open is in flight), each each an input to the order's flow with the operator's note in its history
//! (see `inbound_service::lsps1::OrderAction` for what each applies to). The body is JSON:
//! `{"reason": "…"}` (optional), and for a refund `"address"` (optional, the LSP's network).
//! 200 with the order's state after the action; 409 when the action does not apply as the order
//! stands; 404 for an unknown order.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::Json;
use inbound_service::flow::Applied;
use inbound_service::lsps1::{Lsps1Service, OrderAction, OrderActionError};
use inbound_service::lsps2::OperatorFailError;
use serde::{Deserialize, Serialize};

use crate::app::AdminState;
use crate::error::{AdminError, ErrorCode};

/// The body of an order action.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActionRequest {
    reason: Option<String>,
    address: Option<String>,
}

/// The answer of an order action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionView {
    /// The order.
    pub order_id: String,
    /// The action taken.
    pub action: String,
    /// The order's state after it.
    pub state: String,
}

/// The longest reason kept with an action.
const MAX_REASON_BYTES: usize = 256;

fn service(state: &AdminState) -> Result<&Lsps1Service, AdminError> {
    state
        .lsps1
        .as_deref()
        .ok_or_else(|| AdminError::new(ErrorCode::NoFlows, "this LSP does not serve LSPS1 (lsps.enabled)"))
}

/// The body, with a reason of at most [`MAX_REASON_BYTES`].
fn checked(body: Result<Json<ActionRequest>, JsonRejection>) -> Result<ActionRequest, AdminError> {
    let request = crate::routes::json_body(body)?;
    if request.reason.as_ref().is_some_and(|reason| reason.len() > MAX_REASON_BYTES) {
        return Err(AdminError::new(
            ErrorCode::InvalidRequest,
            format!("the reason is longer than {MAX_REASON_BYTES} bytes"),
        ));
    }
    Ok(request)
}

async fn act(
    state: AdminState,
    id: String,
    name: &'static str,
    body: Result<Json<ActionRequest>, JsonRejection>,
    action: impl FnOnce(&ActionRequest) -> Result<OrderAction, AdminError>,
) -> Result<Json<ActionView>, AdminError> {
    let request = checked(body)?;
    let action = action(&request)?;
    let service = service(&state)?;
    let applied = service.operator_action(&id, action, request.reason.clone()).await.map_err(|error| match error {
        OrderActionError::Address(_) => AdminError::new(ErrorCode::InvalidRequest, error.to_string()),
        OrderActionError::NotAttached | OrderActionError::Flow(_) => {
            AdminError::new(ErrorCode::StoreFailed, error.to_string())
        }
    })?;
    match applied {
        Applied::Done => {}
        Applied::NotFound => return Err(AdminError::new(ErrorCode::NotFound, format!("no order {id}"))),
        Applied::Refused(error) => {
            return Err(AdminError::new(
                ErrorCode::Conflict,
                format!("{name} does not apply to an order in state {}", error.state),
            ))
        }
        Applied::Unchanged => {
            return Err(AdminError::new(ErrorCode::Conflict, format!("{name} changes nothing for this order")))
        }
    }
    let order =
        service.order(&id).await?.ok_or_else(|| AdminError::new(ErrorCode::NotFound, format!("no order {id}")))?;
    Ok(Json(ActionView { order_id: id, action: name.to_owned(), state: order.state_name().to_owned() }))
}

fn no_address(request: &ActionRequest) -> Result<(), AdminError> {
    match request.address {
        Some(_) => Err(AdminError::new(ErrorCode::InvalidRequest, "only a refund takes an address")),
        None => Ok(()),
    }
}

pub(crate) async fn cancel(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    body: Result<Json<ActionRequest>, JsonRejection>,
) -> Result<Json<ActionView>, AdminError> {
    act(state, id, "cancel", body, |request| no_address(request).map(|()| OrderAction::Cancel)).await
}

pub(crate) async fn refund(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    body: Result<Json<ActionRequest>, JsonRejection>,
) -> Result<Json<ActionView>, AdminError> {
    act(state, id, "refund", body, |request| Ok(OrderAction::Refund { address: request.address.clone() })).await
}

pub(crate) async fn retry_open(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    body: Result<Json<ActionRequest>, JsonRejection>,
) -> Result<Json<ActionView>, AdminError> {
    act(state, id, "retry-open", body, |request| no_address(request).map(|()| OrderAction::RetryOpen)).await
}

/// The answer of `POST /v1/sessions/{id}/fail`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionActionView {
    /// The session.
    pub session_id: String,
    /// Its state after the action.
    pub state: String,
}

pub(crate) async fn fail_session(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    body: Result<Json<ActionRequest>, JsonRejection>,
) -> Result<Json<SessionActionView>, AdminError> {
    let request = checked(body)?;
    no_address(&request)?;
    let service = state
        .lsps2
        .as_deref()
        .ok_or_else(|| AdminError::new(ErrorCode::NoFlows, "this LSP does not serve LSPS2 (lsps.enabled)"))?;
    let applied = service.operator_fail(&id, request.reason).await.map_err(|error| match error {
        OperatorFailError::NotAttached | OperatorFailError::Flow(_) => {
            AdminError::new(ErrorCode::StoreFailed, error.to_string())
        }
    })?;
    match applied {
        Applied::Done => Ok(Json(SessionActionView { session_id: id, state: "failed".to_owned() })),
        Applied::NotFound => Err(AdminError::new(ErrorCode::NotFound, format!("no session {id}"))),
        Applied::Refused(error) => Err(AdminError::new(
            ErrorCode::Conflict,
            format!(
                "fail does not apply to a session in state {} (only while it collects or holds a payment)",
                error.state
            ),
        )),
        Applied::Unchanged => Err(AdminError::new(ErrorCode::Conflict, "fail changes nothing for this session")),
    }
}
