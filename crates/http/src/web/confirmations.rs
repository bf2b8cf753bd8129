//! `GET /widget/api/confirmations?order_id=…&node=…`: how deep the funding transaction of a
//! completed order is buried (`lsps1.get_order` does not say), for the order's own node only:
//! `{"confirmations": n}`, or 404 for anything else (unknown order, another node's, not
//! completed), so the answer tells nothing about other nodes' orders.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bitcoin::secp256k1::PublicKey;
use serde_json::json;
use tracing::error;

use super::{not_served, secured};
use crate::app::{rate_limit, HttpState};

pub(crate) async fn confirmations(State(state): State<HttpState>, request: Request) -> Response {
    let Some(web) = &state.web else { return not_served() };
    if let Err(error) = rate_limit(&state, &request) {
        return error.into_response();
    }
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes()).into_owned().collect();
    let value = |name: &str| query.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    let (Some(order_id), Some(node)) =
        (value("order_id"), value("node").and_then(|node| node.parse::<PublicKey>().ok()))
    else {
        return secured(
            (StatusCode::BAD_REQUEST, "order_id and node (a node id) are needed").into_response(),
            "'none'",
        );
    };
    let response = match web.lsps1.funding_confirmations(node, order_id).await {
        Ok(Some(confirmations)) => Json(json!({ "confirmations": confirmations })).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(store) => {
            error!(%store, "cannot read an order for the widget");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    };
    secured(response, "'none'")
}
