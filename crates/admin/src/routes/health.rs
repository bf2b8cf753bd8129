//! `GET /healthz` (the process answers) and `GET /readyz` (the node runs, the store answers
//! and the node is within `max_chain_lag_blocks` of its chain backend). No key needed: they
//! tell whether the LSP works and, on failure, which check failed.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::app::AdminState;
use crate::node_view::NodeHealth;

/// How long `/readyz` waits for the chain backend and the store.
pub const READY_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// `/readyz`'s answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// Every check passed.
    pub ready: bool,
    /// `ok`, or why the node is down.
    pub node: String,
    /// `ok`, `not used` (no flows), or why the store did not answer.
    pub store: String,
    /// `ok (tip N, synced M)`, or why the chain backend did not answer or the node lags.
    pub chain: String,
}

pub(crate) async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

pub(crate) async fn readyz(State(state): State<AdminState>) -> (StatusCode, Json<Readiness>) {
    let (node_ok, node) = match state.node.health() {
        NodeHealth::Running => (true, "ok".to_owned()),
        NodeHealth::Down(reason) => (false, reason),
    };
    let (store_ok, store) = match &state.operator {
        None => (true, "not used".to_owned()),
        Some(operator) => match tokio::time::timeout(READY_CHECK_TIMEOUT, operator.ping()).await {
            Ok(Ok(_)) => (true, "ok".to_owned()),
            Ok(Err(error)) => (false, format!("the store failed: {error}")),
            Err(_) => (false, format!("the store did not answer within {} s", READY_CHECK_TIMEOUT.as_secs())),
        },
    };
    let synced = state.node.info().synced_height;
    let (chain_ok, chain) = match tokio::time::timeout(READY_CHECK_TIMEOUT, state.node.chain_tip()).await {
        Ok(Ok(tip)) if tip.saturating_sub(synced) <= state.max_chain_lag_blocks => {
            (true, format!("ok (tip {tip}, synced {synced})"))
        }
        Ok(Ok(tip)) => (false, format!("the node is {} blocks behind (tip {tip}, synced {synced})", tip - synced)),
        Ok(Err(error)) => (false, format!("the chain backend failed: {error}")),
        Err(_) => (false, format!("the chain backend did not answer within {} s", READY_CHECK_TIMEOUT.as_secs())),
    };
    let ready = node_ok && store_ok && chain_ok;
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(Readiness { ready, node, store, chain }))
}
