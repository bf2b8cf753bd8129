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

use super::not_served;
use crate::app::{query_pairs, HttpState};

pub(crate) async fn confirmations(State(state): State<HttpState>, request: Request) -> Response {
    let Some(web) = &state.web else { return not_served() };
    let query = query_pairs(&request);
    let value = |name: &str| query.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    let (Some(order_id), Some(node)) =
        (value("order_id"), value("node").and_then(|node| node.parse::<PublicKey>().ok()))
    else {
        return (StatusCode::BAD_REQUEST, "order_id and node (a node id) are needed").into_response();
    };
    match web.lsps1.funding_confirmations(node, order_id).await {
        Ok(Some(confirmations)) => Json(json!({ "confirmations": confirmations })).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(store) => {
            error!(%store, "cannot read an order for the widget");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
