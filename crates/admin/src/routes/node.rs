//! `GET /v1/node`, `/v1/balances`, `/v1/channels`: the node as LDK and the wallet see it.

use axum::extract::State;
use axum::Json;

use crate::app::AdminState;
use crate::node_view::{Balances, ChannelView, NodeInfo};

pub(crate) async fn info(State(state): State<AdminState>) -> Json<NodeInfo> {
    Json(state.node.info())
}

pub(crate) async fn balances(State(state): State<AdminState>) -> Json<Balances> {
    Json(state.node.balances())
}

pub(crate) async fn channels(State(state): State<AdminState>) -> Json<Vec<ChannelView>> {
    Json(state.node.channels())
}
