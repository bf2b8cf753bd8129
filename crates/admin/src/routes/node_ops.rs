//! The operator's node operations: `POST /v1/onchain/address`, `/v1/onchain/send`,
//! `/v1/peers/connect`, `/v1/channels/open`, `/v1/channels/close`. They act on the node
//! directly (they are not LSPS flows); each is logged with what it did.

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::Json;
use bitcoin::secp256k1::PublicKey;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::AdminState;
use crate::error::{AdminError, ErrorCode};
use crate::node_control::ControlError;
use crate::routes::json_body;

/// What a forced close must carry in `confirm`.
pub const FORCE_CLOSE_CONFIRMATION: &str = "force-close";

impl From<ControlError> for AdminError {
    fn from(error: ControlError) -> Self {
        match error {
            ControlError::Invalid(message) => AdminError::new(ErrorCode::InvalidRequest, message),
            ControlError::Refused(message) => AdminError::new(ErrorCode::NodeRefused, message),
        }
    }
}

fn node_id(text: &str) -> Result<PublicKey, AdminError> {
    text.parse()
        .map_err(|_| AdminError::new(ErrorCode::InvalidRequest, format!("{text:?} is not a node id (66 hex digits)")))
}

/// `host:port`, resolved (the first address).
async fn socket_address(text: &str) -> Result<SocketAddr, AdminError> {
    let invalid = || AdminError::new(ErrorCode::InvalidRequest, format!("{text:?} is not a reachable host:port"));
    let mut addresses = tokio::net::lookup_host(text).await.map_err(|_| invalid())?;
    addresses.next().ok_or_else(invalid)
}

pub(crate) async fn new_address(State(state): State<AdminState>) -> Result<Json<Value>, AdminError> {
    let address = state.control.new_address()?;
    Ok(Json(json!({ "address": address })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SendRequest {
    address: String,
    amount_sat: Option<u64>,
    #[serde(default)]
    all: bool,
    fee_rate_sat_per_vb: Option<u64>,
}

pub(crate) async fn send(
    State(state): State<AdminState>,
    request: Result<Json<SendRequest>, JsonRejection>,
) -> Result<Json<Value>, AdminError> {
    let request = json_body(request)?;
    let amount = match (request.amount_sat, request.all) {
        (Some(amount), false) => Some(amount),
        (None, true) => None,
        _ => return Err(AdminError::new(ErrorCode::InvalidRequest, "give either amount_sat or all = true")),
    };
    let txid = state.control.send(&request.address, amount, request.fee_rate_sat_per_vb)?;
    tracing::info!(%txid, address = %request.address, amount_sat = ?amount, "admin API: on-chain send");
    Ok(Json(json!({ "txid": txid })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConnectRequest {
    node_id: String,
    address: String,
}

pub(crate) async fn connect(
    State(state): State<AdminState>,
    request: Result<Json<ConnectRequest>, JsonRejection>,
) -> Result<Json<Value>, AdminError> {
    let request = json_body(request)?;
    let peer = node_id(&request.node_id)?;
    let address = socket_address(&request.address).await?;
    state.control.connect(peer, address).await?;
    tracing::info!(%peer, %address, "admin API: connected to a peer");
    Ok(Json(json!({ "node_id": peer.to_string(), "connected": true })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OpenRequest {
    node_id: String,
    address: Option<String>,
    amount_sat: u64,
    #[serde(default)]
    push_msat: u64,
    #[serde(default)]
    public: bool,
}

pub(crate) async fn open_channel(
    State(state): State<AdminState>,
    request: Result<Json<OpenRequest>, JsonRejection>,
) -> Result<Json<crate::node_control::OpenedChannel>, AdminError> {
    let request = json_body(request)?;
    let peer = node_id(&request.node_id)?;
    if let Some(address) = &request.address {
        let address = socket_address(address).await?;
        state.control.connect(peer, address).await?;
    }
    if request.push_msat > request.amount_sat.saturating_mul(1_000) {
        return Err(AdminError::new(ErrorCode::InvalidRequest, "push_msat is more than the channel"));
    }
    let opened = state.control.open_channel(peer, request.amount_sat, request.push_msat, request.public)?;
    tracing::info!(%peer, amount_sat = request.amount_sat, public = request.public, user_channel_id = %opened.user_channel_id, "admin API: opening a channel");
    Ok(Json(opened))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CloseRequest {
    channel_id: String,
    #[serde(default)]
    force: bool,
    confirm: Option<String>,
}

pub(crate) async fn close_channel(
    State(state): State<AdminState>,
    request: Result<Json<CloseRequest>, JsonRejection>,
) -> Result<Json<Value>, AdminError> {
    let request = json_body(request)?;
    if request.force && request.confirm.as_deref() != Some(FORCE_CLOSE_CONFIRMATION) {
        return Err(AdminError::new(
            ErrorCode::InvalidRequest,
            format!("a forced close broadcasts the latest commitment and locks our funds for the CSV delay: send \"confirm\": \"{FORCE_CLOSE_CONFIRMATION}\""),
        ));
    }
    state.control.close_channel(&request.channel_id, request.force)?;
    tracing::warn!(channel_id = %request.channel_id, force = request.force, "admin API: closing a channel");
    Ok(Json(json!({ "channel_id": request.channel_id, "closing": true, "force": request.force })))
}
