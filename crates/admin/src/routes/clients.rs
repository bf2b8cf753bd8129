//! `GET /v1/clients/banned`, `POST /v1/clients/{node_id}/ban` (`{"reason": "…"}`) and
//! `POST /v1/clients/{node_id}/unban`: the operator's bans, through the flow kernel (each one
//! recorded in the client's history with the operator's note). A banned client's LSPS1, LSPS2
//! and LSPS5 requests are answered with code 1, "Client rejected".

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::Json;
use bitcoin::secp256k1::PublicKey;
use inbound_service::clients::{BanError, ClientBans};
use inbound_service::flow::Applied;
use serde::{Deserialize, Serialize};

use crate::app::AdminState;
use crate::error::{AdminError, ErrorCode};

/// A ban in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanView {
    /// The client's node id.
    pub client: String,
    /// Why.
    pub reason: String,
    /// Since when (Unix milliseconds).
    pub since_unix_ms: u64,
}

/// The body of `POST /v1/clients/{node_id}/ban`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BanRequest {
    reason: String,
}

/// The answer of a ban or unban.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandingView {
    /// The client's node id.
    pub client: String,
    /// Whether it is banned now.
    pub banned: bool,
}

fn bans(state: &AdminState) -> Result<&ClientBans, AdminError> {
    state.bans.as_deref().ok_or_else(|| {
        AdminError::new(ErrorCode::NoFlows, "this LSP keeps no client state (no LSPS1, LSPS2 or LSPS5 enabled)")
    })
}

fn node_id(text: &str) -> Result<PublicKey, AdminError> {
    text.parse()
        .map_err(|_| AdminError::new(ErrorCode::InvalidRequest, format!("{text:?} is not a node id (66 hex digits)")))
}

fn answer(client: PublicKey, banned: bool, applied: Applied) -> Result<Json<StandingView>, AdminError> {
    match applied {
        Applied::Done => Ok(Json(StandingView { client: client.to_string(), banned })),
        Applied::Refused(_) | Applied::Unchanged | Applied::NotFound => Err(AdminError::new(
            ErrorCode::Conflict,
            match banned {
                true => format!("{client} is banned already"),
                false => format!("{client} is not banned"),
            },
        )),
    }
}

pub(crate) async fn ban(
    State(state): State<AdminState>,
    Path(client): Path<String>,
    body: Result<Json<BanRequest>, JsonRejection>,
) -> Result<Json<StandingView>, AdminError> {
    let client = node_id(&client)?;
    let request = crate::routes::json_body(body)?;
    match bans(&state)?.ban(client, request.reason).await {
        Ok(applied) => answer(client, true, applied),
        Err(BanError::ReasonTooLong) => {
            Err(AdminError::new(ErrorCode::InvalidRequest, BanError::ReasonTooLong.to_string()))
        }
        Err(BanError::Flow(error)) => Err(AdminError::new(ErrorCode::StoreFailed, error.to_string())),
    }
}

pub(crate) async fn unban(
    State(state): State<AdminState>,
    Path(client): Path<String>,
) -> Result<Json<StandingView>, AdminError> {
    let client = node_id(&client)?;
    let applied = bans(&state)?
        .unban(client)
        .await
        .map_err(|error| AdminError::new(ErrorCode::StoreFailed, error.to_string()))?;
    answer(client, false, applied)
}

pub(crate) async fn banned(State(state): State<AdminState>) -> Result<Json<Vec<BanView>>, AdminError> {
    let list =
        bans(&state)?.list().await.map_err(|error| AdminError::new(ErrorCode::StoreFailed, error.to_string()))?;
    Ok(Json(
        list.into_iter()
            .filter_map(|standing| {
                let ban = standing.ban?;
                Some(BanView {
                    client: standing.client.to_string(),
                    reason: ban.reason,
                    since_unix_ms: ban.since.unix_millis(),
                })
            })
            .collect(),
    ))
}
