//! `POST /v1/vouchers` (issue a batch), `GET /v1/vouchers?state=&limit=&offset=` and
//! `POST /v1/vouchers/{id}/revoke`: prepaid channel vouchers, claimed by LNURL-channel. A
//! voucher's secret (`k1`, and the LNURL that carries it) is in the issue answer only: the
//! store keeps its SHA-256 (the voucher id).

use std::time::Duration;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use inbound_service::flow::Applied;
use inbound_service::vouchers::{IssueRequest, Voucher, VoucherError, VoucherStatus, VoucherTerms, Vouchers};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::app::AdminState;
use crate::error::{AdminError, ErrorCode};

/// The body of `POST /v1/vouchers`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IssueBody {
    count: u32,
    lsp_balance_sat: u64,
    channel_expiry_blocks: u32,
    valid_days: u32,
    #[serde(default)]
    batch: String,
}

/// A voucher as the operator sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherView {
    /// Hex SHA-256 of its `k1`.
    pub id: String,
    /// The batch label.
    pub batch: String,
    /// `issued`, `claimed`, `revoked` or `expired`.
    pub state: String,
    /// The LSP's side of the channel.
    pub lsp_balance_sat: u64,
    /// The lease, in blocks.
    pub channel_expiry_blocks: u32,
    /// When issued (Unix milliseconds).
    pub created_at_unix_ms: u64,
    /// When it stops being claimable (Unix milliseconds).
    pub expires_at_unix_ms: u64,
    /// Claims made.
    pub claims: u32,
    /// The node that claimed it last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The LSPS1 order delivering its channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
}

impl From<&Voucher> for VoucherView {
    fn from(voucher: &Voucher) -> VoucherView {
        let (client, order_id) = match &voucher.status {
            VoucherStatus::Claimed { client, order_id, .. } => (Some(client.to_string()), Some(order_id.clone())),
            _ => (None, None),
        };
        VoucherView {
            id: voucher.id.clone(),
            batch: voucher.batch.clone(),
            state: voucher.state_name().to_owned(),
            lsp_balance_sat: voucher.terms.lsp_balance_sat,
            channel_expiry_blocks: voucher.terms.channel_expiry_blocks,
            created_at_unix_ms: voucher.created_at.unix_millis(),
            expires_at_unix_ms: voucher.expires_at.unix_millis(),
            claims: voucher.claims,
            client,
            order_id,
        }
    }
}

/// One voucher just issued, with what goes on its QR code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedView {
    /// The voucher.
    #[serde(flatten)]
    pub voucher: VoucherView,
    /// Its secret (hex), shown only now.
    pub k1: String,
    /// The URL the LNURL encodes.
    pub url: String,
    /// `LNURL1…`, for the QR code.
    pub lnurl: String,
}

fn vouchers(state: &AdminState) -> Result<&Vouchers, AdminError> {
    state.vouchers.as_deref().ok_or_else(|| AdminError::new(ErrorCode::NoFlows, "vouchers need LSPS1 and a store"))
}

fn failed(error: VoucherError) -> AdminError {
    match error {
        VoucherError::Invalid(_) | VoucherError::Terms(_) => {
            AdminError::new(ErrorCode::InvalidRequest, error.to_string())
        }
        VoucherError::NoNode => AdminError::new(ErrorCode::NodeRefused, error.to_string()),
        other => AdminError::new(ErrorCode::StoreFailed, other.to_string()),
    }
}

fn store_failed(error: inbound_service::flow::FlowError) -> AdminError {
    AdminError::new(ErrorCode::StoreFailed, error.to_string())
}

pub(crate) async fn issue(
    State(state): State<AdminState>,
    body: Result<Json<IssueBody>, JsonRejection>,
) -> Result<Json<Vec<IssuedView>>, AdminError> {
    let body = crate::routes::json_body(body)?;
    let Some(lnurl) = state.lnurl.as_deref() else {
        return Err(AdminError::new(
            ErrorCode::InvalidRequest,
            "vouchers need [lnurl] public_url and node_address (the LNURLs point there)",
        ));
    };
    let request = IssueRequest {
        count: body.count,
        terms: VoucherTerms {
            lsp_balance_sat: body.lsp_balance_sat,
            channel_expiry_blocks: body.channel_expiry_blocks,
        },
        valid_for: Duration::from_secs(u64::from(body.valid_days).saturating_mul(24 * 3600)),
        batch: body.batch,
    };
    let issued = vouchers(&state)?.issue(request).await.map_err(failed)?;
    Ok(Json(
        issued
            .iter()
            .map(|item| {
                let url = lnurl.voucher_url(&item.k1);
                IssuedView {
                    voucher: VoucherView::from(&item.voucher),
                    k1: item.k1.to_string(),
                    lnurl: lsps::lnurl::encode(&url),
                    url: url.to_string(),
                }
            })
            .collect(),
    ))
}

/// `GET /v1/vouchers` filters.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VoucherFilter {
    state: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

pub(crate) async fn list(
    State(state): State<AdminState>,
    query: Result<Query<VoucherFilter>, QueryRejection>,
) -> Result<Json<Vec<VoucherView>>, AdminError> {
    let filter = crate::routes::query(query)?;
    let limit = filter.limit.unwrap_or(inbound_service::operator::DEFAULT_LIST_LIMIT);
    let list = vouchers(&state)?.list(filter.state, limit, filter.offset.unwrap_or(0)).await.map_err(store_failed)?;
    Ok(Json(list.iter().map(VoucherView::from).collect()))
}

pub(crate) async fn revoke(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<VoucherView>, AdminError> {
    let service = vouchers(&state)?;
    match service.revoke(&id, json!({ "actor": "operator" })).await.map_err(store_failed)? {
        Applied::Done => {}
        Applied::NotFound => return Err(AdminError::new(ErrorCode::NotFound, format!("no voucher {id}"))),
        Applied::Refused(_) | Applied::Unchanged => {
            return Err(AdminError::new(
                ErrorCode::Conflict,
                format!("voucher {id} is not issued (claimed, revoked or expired)"),
            ))
        }
    }
    let voucher = service
        .get(&id)
        .await
        .map_err(store_failed)?
        .ok_or_else(|| AdminError::new(ErrorCode::NotFound, format!("no voucher {id}")))?;
    Ok(Json(VoucherView::from(&voucher)))
}
