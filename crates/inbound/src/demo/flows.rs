//! The demo's flows. Each is one `async fn` over the running [`DemoNet`] that returns its section
//! of the [`DemoReport`](super::DemoReport); a failure stops the demo and becomes its `"error"`.

use anyhow::{anyhow, bail, Context, Result};
use inbound_client::lsps2::JitInvoiceRequest;
use inbound_node::bitcoin::Txid;
use inbound_node::lightning::events::Event;
use inbound_node::lightning::types::payment::PaymentHash;
use inbound_node::FundingBroadcast;
use serde::Serialize;

use super::{poll_until, DemoNet, STEP_TIMEOUT};
use crate::events::wait_for_event;

/// Capacity of the payer→LSP channel: room for [`PAYMENT_AMOUNT_MSAT`] plus
/// [`JIT_PAYMENT_MSAT`] and routing fees, above the payer's reserve.
pub const CHANNEL_CAPACITY_SAT: u64 = 1_000_000;
/// The amount the payer pays the LSP.
pub const PAYMENT_AMOUNT_MSAT: u64 = 50_000_000;
/// The amount of the wallet's JIT invoice.
pub const JIT_PAYMENT_MSAT: u64 = 50_000_000;
/// The highest opening fee the wallet accepts for it (the default menu asks 2 000 sat).
pub const JIT_MAX_FEE_MSAT: u64 = 5_000_000;
/// Blocks mined on top of the JIT channel's funding transaction.
pub const JIT_FUNDING_CONFIRMATIONS: u32 = 1;
/// `user_channel_id` of the payer→LSP channel.
const PAYER_CHANNEL_USER_ID: u128 = 1;

/// `"lsps0"`: what the LSP answered to `lsps0.list_protocols`.
#[derive(Debug, Clone, Serialize)]
pub struct Lsps0Report {
    /// Protocol numbers besides LSPS0 (which is never listed, bLIP-50).
    pub protocols: Vec<u16>,
}

/// `"chain"`: the chain the demo ran on.
#[derive(Debug, Clone, Serialize)]
pub struct ChainReport {
    /// Always `"bcoin"`.
    pub backend: &'static str,
    /// The tip height at the end.
    pub height: u32,
}

/// `"channel"`: the payer→LSP channel, once usable on both sides.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelReport {
    /// Its capacity.
    pub payer_lsp_capacity_sat: u64,
    /// Its funding transaction.
    pub funding_txid: Txid,
    /// Blocks mined on top of the funding transaction before it was usable.
    pub confirmations: u32,
}

/// `"payment"`: the payer's payment of an LSP invoice over the channel.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentReport {
    /// What the LSP received.
    pub amount_msat: u64,
    /// The invoice's payment hash.
    pub payment_hash: String,
}

/// Opens a channel from the payer to the LSP, funded by the payer's wallet, mines it to the
/// depth the LSP asks for and waits until both sides can use it.
pub async fn channel(net: &DemoNet<'_>) -> Result<ChannelReport> {
    let lsp_id = net.lsp.node.node_id();
    let address = net.lsp.listening_address()?;
    net.payer.node.connect_peer(lsp_id, address, true).await.context("payer connecting to the LSP")?;
    let mut payer_events = net.payer.events.subscribe();
    net.payer
        .node
        .open_channel(lsp_id, CHANNEL_CAPACITY_SAT, 0, PAYER_CHANNEL_USER_ID, FundingBroadcast::Automatic, None)
        .context("opening the channel")?;
    let is_ours = |id: &u128| *id == PAYER_CHANNEL_USER_ID;
    let funding_txid = wait_for_event(&mut payer_events, "ChannelPending", STEP_TIMEOUT, |event| match event {
        Event::ChannelPending { user_channel_id, funding_txo, .. } if is_ours(user_channel_id) => {
            Some(Ok(funding_txo.txid))
        }
        Event::ChannelClosed { user_channel_id, reason, .. } if is_ours(user_channel_id) => {
            Some(Err(anyhow!("the channel closed before funding: {reason}")))
        }
        _ => None,
    })
    .await?;
    poll_until("the funding transaction to reach bcoin's mempool", STEP_TIMEOUT, || async {
        Ok(net.bcoin.mempool().await?.contains(&funding_txid))
    })
    .await?;

    let confirmations = inbound_node::config::DEFAULT_MIN_FUNDING_CONFIRMATIONS;
    net.bcoin.mine(confirmations, None).await.context("mining the funding transaction")?;
    net.payer.node.sync_chain().await.context("syncing the payer")?;
    net.lsp.node.sync_chain().await.context("syncing the LSP")?;
    wait_for_event(&mut payer_events, "ChannelReady", STEP_TIMEOUT, |event| match event {
        Event::ChannelReady { user_channel_id, .. } if is_ours(user_channel_id) => Some(Ok(())),
        Event::ChannelClosed { user_channel_id, reason, .. } if is_ours(user_channel_id) => {
            Some(Err(anyhow!("the channel closed before it was ready: {reason}")))
        }
        _ => None,
    })
    .await?;
    for (name, node) in [("payer", &net.payer.node), ("LSP", &net.lsp.node)] {
        poll_until(&format!("the channel to become usable at the {name}"), STEP_TIMEOUT, || async move {
            let usable = node.channel_manager().list_usable_channels();
            Ok(usable.iter().any(|channel| channel.funding_txo.is_some_and(|txo| txo.txid == funding_txid)))
        })
        .await?;
    }
    Ok(ChannelReport { payer_lsp_capacity_sat: CHANNEL_CAPACITY_SAT, funding_txid, confirmations })
}

/// Asks the LSP for its protocols from the wallet, over the wallet's Lightning connection.
pub async fn lsps0(net: &DemoNet<'_>) -> Result<Lsps0Report> {
    let protocols = net.wallet.client.list_protocols(net.lsp.node.node_id()).await.context("lsps0.list_protocols")?;
    Ok(Lsps0Report { protocols })
}

/// Pays an invoice of the LSP from the payer over the channel and waits until the payer has the
/// preimage and the LSP has claimed.
pub async fn payment(net: &DemoNet<'_>) -> Result<PaymentReport> {
    let invoice = net.lsp.node.create_invoice(Some(PAYMENT_AMOUNT_MSAT), "inbound demo", 3600)?;
    let payment_hash = PaymentHash(*invoice.payment_hash().as_ref());
    let mut payer_events = net.payer.events.subscribe();
    let mut lsp_events = net.lsp.events.subscribe();
    let payment_id = net.payer.node.pay_invoice(&invoice)?;
    wait_for_event(&mut payer_events, "PaymentSent", STEP_TIMEOUT, |event| match event {
        Event::PaymentSent { payment_id: Some(id), .. } if *id == payment_id => Some(Ok(())),
        Event::PaymentFailed { payment_id: id, reason, .. } if *id == payment_id => {
            Some(Err(anyhow!("the payment failed: {reason:?}")))
        }
        _ => None,
    })
    .await?;
    let amount_msat = wait_for_event(&mut lsp_events, "PaymentClaimed", STEP_TIMEOUT, |event| match event {
        Event::PaymentClaimed { payment_hash: hash, amount_msat, .. } if *hash == payment_hash => {
            Some(Ok(*amount_msat))
        }
        _ => None,
    })
    .await?;
    if amount_msat != PAYMENT_AMOUNT_MSAT {
        bail!("the LSP received {amount_msat} msat instead of {PAYMENT_AMOUNT_MSAT}");
    }
    Ok(PaymentReport { amount_msat, payment_hash: payment_hash.to_string() })
}

/// `"lsps2"`: the payer's payment of the wallet's JIT invoice (bLIP-52).
#[derive(Debug, Clone, Serialize)]
pub struct Lsps2Report {
    /// The invoice amount the payer paid.
    pub paid_msat: u64,
    /// What the wallet claimed: `paid_msat − fee_msat`.
    pub received_msat: u64,
    /// The opening fee the LSP skimmed, as agreed in `lsps2.buy`.
    pub fee_msat: u64,
    /// The JIT channel the LSP opened to the wallet.
    pub channel_capacity_sat: u64,
    /// Its funding transaction.
    pub funding_txid: Txid,
    /// Its confirmations as the wallet sees them once mined.
    pub funding_confirmations: u32,
}

/// The wallet (which has no channel) buys a JIT invoice from the LSP, the payer pays it over its
/// channel to the LSP, the LSP opens a 0-conf channel to the wallet and forwards the payment
/// minus the opening fee; then the funding transaction is mined until the wallet sees it
/// confirmed.
pub async fn lsps2(net: &DemoNet<'_>) -> Result<Lsps2Report> {
    let lsp_id = net.lsp.node.node_id();
    let client = net.wallet.lsps2.as_ref().ok_or_else(|| anyhow!("the demo wallet does not buy JIT channels"))?;
    if net.wallet.node.list_channels().iter().any(|channel| channel.counterparty.node_id == lsp_id) {
        bail!("the wallet already has a channel with the LSP; a JIT channel would not be needed");
    }
    let jit = client
        .jit_invoice(JitInvoiceRequest {
            lsp: lsp_id,
            amount_msat: Some(JIT_PAYMENT_MSAT),
            max_fee_msat: JIT_MAX_FEE_MSAT,
            description: "inbound demo JIT".to_string(),
            expiry_secs: 3600,
            token: None,
        })
        .await
        .context("buying a JIT channel (lsps2.get_info, lsps2.buy)")?;
    let fee_msat = jit.opening_fee_msat.ok_or_else(|| anyhow!("a fixed-amount JIT invoice without its fee"))?;
    eprintln!(
        "[demo]     JIT invoice: fee {fee_msat} msat, scid {}, client_trusts_lsp {}",
        jit.intercept_scid, jit.client_trusts_lsp
    );
    let payment_hash = PaymentHash(*jit.invoice.payment_hash().as_ref());
    let mut payer_events = net.payer.events.subscribe();
    let mut wallet_events = net.wallet.events.subscribe();
    let payment_id = net.payer.node.pay_invoice(&jit.invoice)?;
    wait_for_event(&mut payer_events, "PaymentSent (JIT)", STEP_TIMEOUT, |event| match event {
        Event::PaymentSent { payment_id: Some(id), .. } if *id == payment_id => Some(Ok(())),
        Event::PaymentFailed { payment_id: id, reason, .. } if *id == payment_id => {
            Some(Err(anyhow!("the JIT payment failed: {reason:?}")))
        }
        _ => None,
    })
    .await?;
    let received_msat = wait_for_event(&mut wallet_events, "PaymentClaimed (JIT)", STEP_TIMEOUT, |event| match event {
        Event::PaymentClaimed { payment_hash: hash, amount_msat, .. } if *hash == payment_hash => {
            Some(Ok(*amount_msat))
        }
        _ => None,
    })
    .await?;
    if received_msat.checked_add(fee_msat) != Some(JIT_PAYMENT_MSAT) {
        bail!("the wallet received {received_msat} msat; expected {JIT_PAYMENT_MSAT} − {fee_msat} (the fee)");
    }

    let channel = net
        .wallet
        .node
        .list_channels()
        .into_iter()
        .find(|channel| channel.counterparty.node_id == lsp_id)
        .ok_or_else(|| anyhow!("the wallet has no channel with the LSP after the JIT payment"))?;
    let channel_capacity_sat = channel.channel_value_satoshis;
    let funding_txid =
        channel.funding_txo.map(|txo| txo.txid).ok_or_else(|| anyhow!("the JIT channel has no funding transaction"))?;
    poll_until("the JIT funding transaction to reach bcoin's mempool", STEP_TIMEOUT, || async {
        Ok(net.bcoin.mempool().await?.contains(&funding_txid))
    })
    .await?;
    net.bcoin.mine(JIT_FUNDING_CONFIRMATIONS, None).await.context("mining the JIT funding transaction")?;
    net.lsp.node.sync_chain().await.context("syncing the LSP")?;
    let confirmations = || {
        net.wallet
            .node
            .list_channels()
            .into_iter()
            .find(|channel| channel.funding_txo.is_some_and(|txo| txo.txid == funding_txid))
            .and_then(|channel| channel.confirmations)
            .unwrap_or(0)
    };
    poll_until("the wallet to see the JIT channel confirmed", STEP_TIMEOUT, || async {
        net.wallet.node.sync_chain().await.context("syncing the wallet")?;
        Ok(confirmations() >= JIT_FUNDING_CONFIRMATIONS)
    })
    .await?;
    let funding_confirmations = confirmations();
    Ok(Lsps2Report {
        paid_msat: JIT_PAYMENT_MSAT,
        received_msat,
        fee_msat,
        channel_capacity_sat,
        funding_txid,
        funding_confirmations,
    })
}

/// Reads the chain tip.
pub async fn chain(net: &DemoNet<'_>) -> Result<ChainReport> {
    Ok(ChainReport { backend: "bcoin", height: net.bcoin.height().await? })
}
