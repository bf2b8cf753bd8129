//! The demo's voucher flow: the operator issues a prepaid voucher through the admin API (as
//! `inbound admin voucher create` does), the payer claims it by LNURL-channel over the HTTP
//! front end (as `inbound client lnurl-channel` does: fetch the channel request, connect, call
//! back) and gets a new channel from the LSP, delivered by a prepaid LSPS1 order; the same
//! voucher is then refused to the wallet.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use inbound_admin::{AdminClient, IssuedView};
use serde::Serialize;
use serde_json::json;

use super::DemoNet;
use crate::client_lnurl::{fetch_request, http_client, Claim};
use crate::config::Config;
use crate::endpoint::{bind_http, Endpoint};

/// The LSP's side of the voucher's channel.
pub const VOUCHER_LSP_BALANCE_SAT: u64 = 150_000;
/// The voucher's lease, in blocks.
pub const VOUCHER_EXPIRY_BLOCKS: u32 = 1_008;
/// Timeout of each LNURL HTTP request.
const LNURL_TIMEOUT: Duration = Duration::from_secs(10);

/// `"vouchers"`: one voucher claimed, and refused the second time.
#[derive(Debug, Clone, Serialize)]
pub struct VouchersReport {
    /// The voucher (hex SHA-256 of its secret).
    pub voucher_id: String,
    /// The LNURL printed on its QR code.
    pub lnurl: String,
    /// The prepaid LSPS1 order that delivered the channel.
    pub order_id: String,
    /// The order's state at the end (`completed`).
    pub order_state: String,
    /// The channel as the payer sees it.
    pub channel_capacity_sat: u64,
    /// Its funding output.
    pub funding_outpoint: String,
    /// What the LSP answered the wallet that scanned the same voucher.
    pub reuse_refused: String,
}

/// Starts the HTTP front end (LSPS over HTTP and `/lnurlc`) as `inbound serve` does.
pub async fn start_http(config: &Config, net: &DemoNet<'_>) -> Result<Endpoint> {
    let listener = bind_http(config).await?.context("the demo's configuration enables [http]")?;
    crate::endpoint::start_http(listener, config, net.lsp)
}

/// Issues one voucher, claims it from the payer, waits for its channel, and has the wallet
/// try the same voucher.
pub async fn vouchers(config: &Config, admin: &Endpoint, http: &Endpoint, net: &DemoNet<'_>) -> Result<VouchersReport> {
    let key = inbound_admin::AdminKey::read(&config.admin_key_path())?;
    let client = AdminClient::new(&format!("http://{}", admin.bound), key)?;
    let body = json!({
        "count": 1, "lsp_balance_sat": VOUCHER_LSP_BALANCE_SAT, "channel_expiry_blocks": VOUCHER_EXPIRY_BLOCKS,
        "valid_days": 1, "batch": "demo",
    });
    let issued: Vec<IssuedView> = serde_json::from_value(client.post_json("/v1/vouchers", &body).await?)
        .context("POST /v1/vouchers did not answer a list of vouchers")?;
    let voucher = issued.into_iter().next().context("POST /v1/vouchers issued nothing")?;
    eprintln!("[demo]     voucher {} on {}: {}", voucher.voucher.id, http.bound, voucher.lnurl);

    let lnurl_http = http_client(LNURL_TIMEOUT)?;
    let request = fetch_request(&lnurl_http, &voucher.lnurl).await?;
    let claim = Claim::start(&lnurl_http, &request, &net.payer.node, LNURL_TIMEOUT, false, true).await?;
    // The wallet accepts the LSP's channel after its usual confirmations.
    let mut channel = None;
    for _ in 0..12 {
        net.bcoin.mine(1, None).await.context("mining")?;
        net.payer.node.sync_chain().await.context("syncing the payer")?;
        net.lsp.node.sync_chain().await.context("syncing the LSP")?;
        if let Ok(ready) = claim.wait_until_ready(&net.payer.node, Duration::from_millis(500), |_| {}).await {
            channel = Some(ready);
            break;
        }
    }
    let channel = channel.context("the voucher's channel was not ready at the payer after 12 blocks")?;
    if channel.capacity_sat != VOUCHER_LSP_BALANCE_SAT {
        bail!("the voucher's channel has {} sat, not {VOUCHER_LSP_BALANCE_SAT}", channel.capacity_sat);
    }

    let reuse = Claim::start(&lnurl_http, &request, &net.wallet.node, LNURL_TIMEOUT, false, true).await;
    let reuse_refused = match reuse {
        Ok(_) => bail!("the LSP accepted the same voucher a second time"),
        Err(error) => format!("{error:#}"),
    };
    let listed = client.get_json("/v1/vouchers", &[("state", "claimed".to_owned())]).await?;
    let order_id = listed[0]["order_id"].as_str().context("the claimed voucher's order")?.to_owned();
    let order = client.get_json(&format!("/v1/orders/{order_id}"), &[]).await?;
    if order["payment"] != "voucher" {
        bail!("the voucher's order {order_id} is not paid by voucher: {order}");
    }
    Ok(VouchersReport {
        voucher_id: voucher.voucher.id,
        lnurl: voucher.lnurl,
        order_id,
        order_state: order["state"].as_str().unwrap_or_default().to_owned(),
        channel_capacity_sat: channel.capacity_sat,
        funding_outpoint: channel.funding_outpoint.unwrap_or_default(),
        reuse_refused,
    })
}
