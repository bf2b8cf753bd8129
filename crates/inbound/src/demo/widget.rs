//! The demo's web widget flow, over HTTP as the page runs it (the browser itself is driven in
//! `tests/widget_browser.rs`): the page is served under its Content-Security-Policy, the quote
//! for a size is fetched, the order is created over `POST /lsps` for the wallet's node id, the
//! payer pays its invoice, and `lsps1.get_order` is polled until the channel is open.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use inbound_node::lightning_invoice::Bolt11Invoice;
use serde::Serialize;
use serde_json::{json, Value};

use super::{poll_until, DemoNet, STEP_TIMEOUT};
use crate::endpoint::Endpoint;

/// The channel bought through the widget's API.
pub const WIDGET_LSP_BALANCE_SAT: u64 = 300_000;
/// Its lease, in blocks.
const WIDGET_EXPIRY_BLOCKS: u32 = 4_320;
/// How often the page polls the order.
const WIDGET_POLL: Duration = Duration::from_millis(200);

/// `"widget"`: an order placed the way the web widget places it.
#[derive(Debug, Clone, Serialize)]
pub struct WidgetReport {
    /// The page's Content-Security-Policy.
    pub content_security_policy: String,
    /// The fee `/widget/api/quote` showed before the order.
    pub quoted_fee_sat: u64,
    /// The fee the order charged (equal to the quote).
    pub order_fee_sat: u64,
    /// The order.
    pub order_id: String,
    /// Its final `order_state` (`COMPLETED`).
    pub order_state: String,
    /// The channel's funding output.
    pub funding_outpoint: String,
}

/// Runs the flow against the HTTP front end `http`.
pub async fn widget(net: &DemoNet<'_>, http: &Endpoint) -> Result<WidgetReport> {
    let base = format!("http://{}", http.bound);
    let client = reqwest::Client::builder().timeout(STEP_TIMEOUT).no_proxy().build()?;
    let page = client.get(format!("{base}/")).send().await.context("GET /")?;
    let csp = page
        .headers()
        .get("content-security-policy")
        .and_then(|value| value.to_str().ok())
        .context("the page has no Content-Security-Policy")?
        .to_owned();
    if csp.contains("unsafe-inline") || !csp.contains("script-src 'self'") {
        bail!("the page's policy allows more than its own scripts: {csp}");
    }
    let query = [
        ("lsp_balance_sat", WIDGET_LSP_BALANCE_SAT.to_string()),
        ("client_balance_sat", "0".to_owned()),
        ("channel_expiry_blocks", WIDGET_EXPIRY_BLOCKS.to_string()),
    ];
    let quote: Value = serde_json::from_slice(
        &client.get(format!("{base}/widget/api/quote")).query(&query).send().await?.bytes().await?,
    )?;
    let quoted_fee_sat = quote["fee_sat"].as_u64().with_context(|| format!("no quote: {quote}"))?;

    let node_id = net.wallet.node.node_id().to_string();
    let info = rpc(&client, &base, "lsps1.get_info", json!({}), None).await?;
    let params = json!({
        "lsp_balance_sat": WIDGET_LSP_BALANCE_SAT.to_string(),
        "client_balance_sat": "0",
        "required_channel_confirmations": info["min_required_channel_confirmations"],
        "funding_confirms_within_blocks": info["min_funding_confirms_within_blocks"],
        "channel_expiry_blocks": WIDGET_EXPIRY_BLOCKS,
        "announce_channel": false,
    });
    let order = rpc(&client, &base, "lsps1.create_order", params, Some(&node_id)).await?;
    let order_id = order["order_id"].as_str().context("an order id")?.to_owned();
    let bolt11 = &order["payment"]["bolt11"];
    let order_fee_sat = bolt11["fee_total_sat"].as_str().and_then(|fee| fee.parse().ok()).context("the order's fee")?;
    if order_fee_sat != quoted_fee_sat {
        bail!("the order charged {order_fee_sat} sat; the widget quoted {quoted_fee_sat} sat");
    }
    let invoice: Bolt11Invoice =
        bolt11["invoice"].as_str().context("an invoice")?.parse().context("a BOLT11 invoice")?;
    net.payer.node.pay_invoice(&invoice).context("the payer paying the widget's invoice")?;

    let done = std::sync::Mutex::new(Value::Null);
    poll_until("the widget's order to complete", STEP_TIMEOUT, || async {
        tokio::time::sleep(WIDGET_POLL).await;
        let order = rpc(&client, &base, "lsps1.get_order", json!({ "order_id": order_id }), Some(&node_id)).await?;
        let complete = order["order_state"] == "COMPLETED";
        *done.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = order;
        Ok(complete)
    })
    .await?;
    let done = done.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
    Ok(WidgetReport {
        content_security_policy: csp,
        quoted_fee_sat,
        order_fee_sat,
        order_id,
        order_state: done["order_state"].as_str().unwrap_or_default().to_owned(),
        funding_outpoint: done["channel"]["funding_outpoint"].as_str().unwrap_or_default().to_owned(),
    })
}

/// One JSON-RPC call to `POST /lsps`, as the page makes it (`x-inbound-node-id` for the node).
async fn rpc(client: &reqwest::Client, base: &str, method: &str, params: Value, node: Option<&str>) -> Result<Value> {
    let mut body = json!({ "jsonrpc": "2.0", "id": format!("demo-{method}"), "method": method, "params": params });
    if let Some(node) = node {
        body["x-inbound-node-id"] = json!(node);
    }
    let response = client
        .post(format!("{base}/lsps"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await?;
    let answer: Value = serde_json::from_slice(&response.bytes().await?)?;
    match answer.get("result") {
        Some(result) => Ok(result.clone()),
        None => bail!("{method} was refused: {}", answer["error"]),
    }
}
