//! The demo's LSPS1 flow: the wallet buys a channel from the LSP (bLIP-51) with the wallet's
//! [`Lsps1Client`] over its Lightning connection, the payer pays the order's hold invoice over
//! its channel to the LSP (anyone may pay an order), and the LSP opens the ordered channel to
//! the wallet and claims the payment once the funding is published.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use inbound_client::lsps1::{payment_for, Lsps1Client, PayWith, Payment, PeerTransport};
use inbound_node::bitcoin::{Network, Txid};
use inbound_node::lightning::events::Event;
use lsps::lsps1::OrderState;
use serde::Serialize;

use super::{poll_until, DemoNet, STEP_TIMEOUT};
use crate::events::wait_for_event;

/// The LSP's side of the ordered channel.
pub const LSPS1_LSP_BALANCE_SAT: u64 = 200_000;
/// The wallet's side of the ordered channel (paid for in the order's total).
pub const LSPS1_CLIENT_BALANCE_SAT: u64 = 10_000;
/// The lease asked for, in blocks.
pub const LSPS1_CHANNEL_EXPIRY_BLOCKS: u32 = 4_320;
/// The highest fee the wallet pays for the order.
pub const LSPS1_MAX_FEE_SAT: u64 = 20_000;
/// How often the wallet polls `lsps1.get_order`.
const LSPS1_POLL: Duration = Duration::from_millis(100);

/// `"lsps1"`: the wallet's channel order.
#[derive(Debug, Clone, Serialize)]
pub struct Lsps1Report {
    /// The LSP's order id.
    pub order_id: String,
    /// The order's final `order_state` (`COMPLETED`).
    pub order_state: OrderState,
    /// How it was paid (`bolt11`).
    pub payment_method: String,
    /// The LSP's fee, in the total paid.
    pub fee_total_sat: u64,
    /// What the payer paid: `client_balance_sat + fee_total_sat`.
    pub order_total_sat: u64,
    /// The channel's capacity as the wallet sees it.
    pub channel_capacity_sat: u64,
    /// The ordered LSP side.
    pub lsp_balance_sat: u64,
    /// The ordered wallet side.
    pub client_balance_sat: u64,
    /// The channel's funding transaction.
    pub funding_txid: Txid,
}

/// Orders a channel from the wallet, has the payer pay it, waits for COMPLETED and for the
/// wallet to see the channel with the ordered capacity.
pub async fn lsps1(net: &DemoNet<'_>) -> Result<Lsps1Report> {
    let lsp_id = net.lsp.node.node_id();
    let transport = PeerTransport::new(Arc::clone(&net.wallet.client), lsp_id);
    let client = Lsps1Client::new(Arc::new(transport), Network::Regtest).with_poll_interval(LSPS1_POLL);
    let info = client.get_info().await.context("lsps1.get_info")?;
    let expiry = info.max_channel_expiry_blocks.min(LSPS1_CHANNEL_EXPIRY_BLOCKS);
    let request = client.request(LSPS1_LSP_BALANCE_SAT, LSPS1_CLIENT_BALANCE_SAT, expiry, None);
    let order = client.create_order(&request).await.context("lsps1.create_order")?.order;
    let (invoice, fee_total_sat, order_total_sat) =
        match payment_for(&order, PayWith::Lightning, LSPS1_MAX_FEE_SAT, Network::Regtest)? {
            Payment::Lightning { invoice, fee_total_sat, order_total_sat } => (invoice, fee_total_sat, order_total_sat),
            Payment::Onchain { .. } => bail!("asked for the Lightning payment, got the on-chain one"),
        };
    eprintln!("[demo]     LSPS1 order {}: {order_total_sat} sat incl. fee {fee_total_sat} sat", order.order_id);

    let mut payer_events = net.payer.events.subscribe();
    let payment_id = net.payer.node.pay_invoice(&invoice)?;
    let done = client
        .wait_for(
            &order.order_id,
            Some(&request),
            STEP_TIMEOUT,
            |o| o.order_state == OrderState::Completed,
            |o| eprintln!("[demo]     LSPS1 order: {}", inbound_client::lsps1::Progress::of(o).describe()),
        )
        .await
        .context("waiting for the order to complete")?;
    wait_for_event(&mut payer_events, "PaymentSent (LSPS1)", STEP_TIMEOUT, |event| match event {
        Event::PaymentSent { payment_id: Some(id), .. } if *id == payment_id => Some(Ok(())),
        Event::PaymentFailed { payment_id: id, reason, .. } if *id == payment_id => {
            Some(Err(anyhow!("the order's payment failed: {reason:?}")))
        }
        _ => None,
    })
    .await?;
    let funding =
        done.channel.as_ref().ok_or_else(|| anyhow!("a COMPLETED order without its channel"))?.funding_outpoint.0;
    let ordered = || {
        net.wallet
            .node
            .list_channels()
            .into_iter()
            .find(|c| c.funding_txo.map(|o| o.into_bitcoin_outpoint()) == Some(funding))
    };
    poll_until("the wallet to see the ordered channel", STEP_TIMEOUT, || async { Ok(ordered().is_some()) }).await?;
    let channel = ordered().ok_or_else(|| anyhow!("the ordered channel vanished"))?;
    if channel.channel_value_satoshis != LSPS1_LSP_BALANCE_SAT + LSPS1_CLIENT_BALANCE_SAT {
        bail!("the ordered channel has {} sat", channel.channel_value_satoshis);
    }
    Ok(Lsps1Report {
        order_id: done.order_id,
        order_state: done.order_state,
        payment_method: PayWith::Lightning.option().to_string(),
        fee_total_sat,
        order_total_sat,
        channel_capacity_sat: channel.channel_value_satoshis,
        lsp_balance_sat: done.lsp_balance_sat.get(),
        client_balance_sat: done.client_balance_sat.get(),
        funding_txid: funding.txid,
    })
}
