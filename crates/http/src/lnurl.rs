//! LNURL-channel (LUD-02) for prepaid vouchers: `GET /lnurlc/<k1>` answers the channel
//! request, `GET /lnurlc/callback?k1=…&remoteid=…&private=…` (or `&cancel=1`) claims it. Every
//! answer is LUD JSON (`{"status":"ERROR","reason":…}` for a refusal, with HTTP 200 as wallets
//! expect); the per-IP rate limit of the LSPS endpoint applies, so k1s cannot be tried fast.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use inbound_service::vouchers::{VoucherError, Vouchers};
use lsps::lnurl::{Callback, ChannelRequest, LnurlStatus, NodeUri, K1};
use tracing::{debug, error, info};
use url::Url;

use crate::app::{HttpState, FORWARDED_FOR};
use crate::error::ApiError;
use crate::forwarded::client_ip;

/// The path prefix of the LNURL routes.
pub const LNURL_PREFIX: &str = "/lnurlc";
/// The longest callback query read, in bytes.
const MAX_QUERY_BYTES: usize = 1024;

/// Where wallets reach this LSP: the public base URL in the LNURLs (behind the TLS proxy) and
/// the node they connect to.
#[derive(Clone, Debug)]
pub struct LnurlConfig {
    /// `https://lsp.example` (a path prefix is kept: `https://example.com/lsp`).
    pub public_url: Url,
    /// `<node id>@<host>:<port>`.
    pub node_uri: NodeUri,
}

impl LnurlConfig {
    /// The URL an LNURL for `k1` encodes.
    pub fn voucher_url(&self, k1: &K1) -> Url {
        join(&self.public_url, &format!("{}/{k1}", LNURL_PREFIX.trim_start_matches('/')))
    }

    /// The callback URL of every channel request.
    pub fn callback_url(&self) -> Url {
        join(&self.public_url, &format!("{}/callback", LNURL_PREFIX.trim_start_matches('/')))
    }
}

fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let prefix = base.path().trim_end_matches('/');
    url.set_path(&format!("{prefix}/{path}"));
    url.set_query(None);
    url
}

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

fn limited(state: &HttpState, request: &Request) -> Result<(), ApiError> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| addr.ip());
    let forwarded = request.headers().get_all(FORWARDED_FOR).iter().filter_map(|value| value.to_str().ok());
    let ip = client_ip(peer, forwarded, &state.config.trusted_proxies);
    if state.limiter.allow(ip) {
        Ok(())
    } else {
        debug!(%ip, "LNURL request rate limited");
        Err(ApiError::RateLimited)
    }
}

/// `GET /lnurlc/<k1>`: the channel request of a claimable voucher.
pub(crate) async fn channel_request(
    State(state): State<HttpState>,
    Path(k1): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    limited(&state, &request)?;
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
    limited(&state, &request)?;
    let Some(lnurl) = &state.lnurl else { return Err(ApiError::NotFound) };
    let query = request.uri().query().unwrap_or_default();
    if query.len() > MAX_QUERY_BYTES {
        return Ok(status(LnurlStatus::error("the request is too long")));
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base: &str) -> LnurlConfig {
        let node = "02e6411d8e0ae3b715dedde8e9dfc9d3759eeca9899d168984c34e6ff5aa213606";
        let node_uri = format!("{node}@lsp.example:9735").parse().expect("uri");
        LnurlConfig { public_url: Url::parse(base).expect("url"), node_uri }
    }

    #[test]
    fn urls_keep_the_public_prefix() {
        let k1 = K1([0xab; 32]);
        let plain = config("https://lsp.example");
        assert_eq!(plain.voucher_url(&k1).as_str(), format!("https://lsp.example/lnurlc/{k1}"));
        assert_eq!(plain.callback_url().as_str(), "https://lsp.example/lnurlc/callback");
        let prefixed = config("https://example.com/lsp/");
        assert_eq!(prefixed.voucher_url(&k1).as_str(), format!("https://example.com/lsp/lnurlc/{k1}"));
        assert_eq!(prefixed.callback_url().as_str(), "https://example.com/lsp/lnurlc/callback");
    }
}
