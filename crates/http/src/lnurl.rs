//! LNURL-channel (LUD-02) for prepaid vouchers: `GET /lnurlc/<k1>` answers the channel
//! request, `GET /lnurlc/callback?k1=…&remoteid=…&private=…` (or `&cancel=1`) claims it. Every
//! answer is LUD JSON (`{"status":"ERROR","reason":…}` for a refusal, with HTTP 200 as wallets
//! expect); the per-IP rate limit of the LSPS endpoint applies, so k1s cannot be tried fast.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use inbound_service::vouchers::{LnurlConfig, VoucherError, Vouchers};
use lsps::lnurl::{Callback, ChannelRequest, LnurlStatus, K1};
use tracing::{error, info};

use crate::app::{query_pairs, rate_limit, HttpState};
use crate::error::ApiError;

/// The longest callback query read, in bytes.
const MAX_QUERY_BYTES: usize = 1024;

/// The vouchers and where wallets reach the LSP.
#[derive(Clone)]
pub(crate) struct LnurlState {
    pub vouchers: Arc<Vouchers>,
    pub config: Arc<LnurlConfig>,
}

fn status(status: LnurlStatus) -> Response {
    Json(status).into_response()
}

fn refusal(error: &VoucherError) -> Response {
    match error {
        VoucherError::Refused(_) | VoucherError::Terms(_) => status(LnurlStatus::error(error.to_string())),
        VoucherError::Unknown | VoucherError::Invalid(_) => status(LnurlStatus::error("unknown voucher")),
        VoucherError::NoNode | VoucherError::Flow(_) => {
            error!(%error, "cannot serve a voucher claim");
            status(LnurlStatus::error("the LSP cannot take claims right now; try again later"))
        }
    }
}

/// `GET /lnurlc/<k1>`: the channel request of a claimable voucher.
pub(crate) async fn channel_request(
    State(state): State<HttpState>,
    Path(k1): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    rate_limit(&state, &request)?;
    let Some(lnurl) = &state.lnurl else { return Err(ApiError::NotFound) };
    let Ok(k1) = k1.parse::<K1>() else { return Ok(status(LnurlStatus::error("unknown voucher"))) };
    match lnurl.vouchers.claimable(&k1).await {
        Ok(_) => {
            Ok(Json(ChannelRequest { uri: lnurl.config.node_uri.clone(), callback: lnurl.config.callback_url(), k1 })
                .into_response())
        }
        Err(error) => Ok(refusal(&error)),
    }
}

/// `GET /lnurlc/callback?…`: claims (or declines) a voucher for the wallet's node.
pub(crate) async fn callback(State(state): State<HttpState>, request: Request) -> Result<Response, ApiError> {
    rate_limit(&state, &request)?;
    let Some(lnurl) = &state.lnurl else { return Err(ApiError::NotFound) };
    let query = request.uri().query().unwrap_or_default();
    if query.len() > MAX_QUERY_BYTES {
        return Ok(status(LnurlStatus::error("the request is too long")));
    }
    let pairs = query_pairs(&request);
    let callback = match Callback::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        Ok(callback) => callback,
        Err(error) => return Ok(status(LnurlStatus::error(error.to_string()))),
    };
    match callback {
        Callback::Cancel { k1, remote_id } => match lnurl.vouchers.claimable(&k1).await {
            // Nothing was reserved for the wallet: the voucher simply stays claimable.
            Ok(_) => {
                info!(client = %remote_id, "a wallet declined a voucher");
                Ok(status(LnurlStatus::Ok))
            }
            Err(error) => Ok(refusal(&error)),
        },
        Callback::Open { k1, remote_id, private } => match lnurl.vouchers.claim(&k1, remote_id, private).await {
            Ok(voucher) => {
                info!(voucher = %voucher.id, client = %remote_id, private, "voucher claimed over LNURL-channel");
                Ok(status(LnurlStatus::Ok))
            }
            Err(error) => Ok(refusal(&error)),
        },
    }
}
