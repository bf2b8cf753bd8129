//! The demo's LSPS5 flow: a phone-like wallet ("sleeper") registers a webhook with the push
//! relay the demo runs, goes offline (its node stops), is paid through a JIT invoice, is woken
//! by the LSP's signed `lsps5.payment_incoming` (verified by the relay), starts again and
//! receives the payment.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use inbound_client::lsps2::JitInvoiceRequest;
use inbound_client::lsps5::Lsps5Client;
use inbound_node::lightning::events::Event;
use inbound_node::lightning::types::payment::PaymentHash;
use inbound_push_relay::{NotificationVerifier, PushRelay, RelayLimits, TlsConfig, Wake};
use lsps::lsps5::Notification;
use serde::Serialize;
use tokio::sync::mpsc;

use super::flows::{JIT_MAX_FEE_MSAT, JIT_PAYMENT_MSAT};
use super::{setup, DemoNet, STEP_TIMEOUT};
use crate::events::wait_for_event;
use crate::wallet::Wallet;

/// The app name the sleeper registers.
pub const DEMO_APP_NAME: &str = "inbound-demo";

/// `"lsps5"`: the wake-up of an offline wallet.
#[derive(Debug, Clone, Serialize)]
pub struct Lsps5Report {
    /// Webhooks the LSP holds for the sleeper after `lsps5.set_webhook`.
    pub webhooks_registered: u32,
    /// Notifications the relay accepted (`webhook_registered`, `payment_incoming`).
    pub notifications_received: u64,
    /// Whether every POST the relay received verified (signature, freshness, no replay).
    pub signatures_valid: bool,
    /// What the sleeper claimed after it was woken: the JIT invoice minus the opening fee.
    pub paid_after_wake_msat: u64,
    /// From the relay accepting `payment_incoming` to the restarted sleeper claiming the
    /// payment (node start, connection, channel open, forward, claim).
    pub wake_to_paid_ms: u64,
}

/// Waits for the next wake-up and checks that it is `expected`.
async fn next_wake(wakes: &mut mpsc::Receiver<Wake>, expected: &Notification) -> Result<Wake> {
    let wake = tokio::time::timeout(STEP_TIMEOUT, wakes.recv())
        .await
        .map_err(|_| anyhow!("timed out after {STEP_TIMEOUT:?} waiting for {}", expected.method_name()))?
        .ok_or_else(|| anyhow!("the push relay stopped"))?;
    if &wake.notification != expected {
        bail!("the relay received {} where {} was due", wake.notification.method_name(), expected.method_name());
    }
    eprintln!("[demo]     push relay: verified {} for {}", wake.notification.method_name(), wake.target);
    Ok(wake)
}

/// Runs the flow; `relay` and `sleeper` hold what it starts, for the teardown.
pub async fn lsps5(
    net: &DemoNet<'_>,
    tls: Arc<TlsConfig>,
    root: &Path,
    relay: &mut Option<PushRelay>,
    sleeper: &mut Option<Wallet>,
) -> Result<Lsps5Report> {
    let lsp_id = net.lsp.node.node_id();
    let lsp_address = net.lsp.listening_address()?;
    // The LSP sells JIT channels from confirmed coins only, and the LSPS1 flow before this one
    // may have left its change unconfirmed.
    net.bcoin.mine(1, None).await.context("confirming the LSP's change")?;
    net.lsp.node.sync_chain().await.context("syncing the LSP")?;
    let verifier = Arc::new(NotificationVerifier::new(lsp_id));
    let listen = "127.0.0.1:0".parse().context("relay address")?;
    let (started, mut wakes) = PushRelay::start(listen, tls, verifier, RelayLimits::default()).await?;
    let url = format!("https://localhost:{}/wake/demo-sleeper", started.local_addr().port());
    let relay = relay.insert(started);

    // The sleeper buys a JIT invoice (an open purchase lets it register) and registers.
    let asleep = sleeper.insert(setup::start_wallet(net.bcoin, root, "sleeper", true).await?);
    asleep.node.connect_peer(lsp_id, lsp_address, false).await.context("sleeper connecting to the LSP")?;
    let lsps2 = asleep.lsps2.as_ref().ok_or_else(|| anyhow!("the sleeper does not buy JIT channels"))?;
    let jit = lsps2
        .jit_invoice(JitInvoiceRequest {
            lsp: lsp_id,
            amount_msat: Some(JIT_PAYMENT_MSAT),
            max_fee_msat: JIT_MAX_FEE_MSAT,
            description: "inbound demo: paid while asleep".to_string(),
            expiry_secs: 3600,
            token: None,
        })
        .await
        .context("the sleeper buying a JIT invoice")?;
    let set = Lsps5Client::new(Arc::clone(&asleep.client))
        .set_webhook(lsp_id, DEMO_APP_NAME, &url)
        .await
        .context("lsps5.set_webhook")?;
    next_wake(&mut wakes, &Notification::WebhookRegistered).await?;

    // Offline: the node stops, as a phone app is suspended.
    asleep.stop().await?;
    *sleeper = None;
    let mut payer_events = net.payer.events.subscribe();
    let payment_id = net.payer.node.pay_invoice(&jit.invoice)?;
    next_wake(&mut wakes, &Notification::PaymentIncoming).await?;
    let woken = Instant::now();

    // Woken: the app starts the node and connects; the LSP opens the channel and forwards.
    let awake = sleeper.insert(setup::start_wallet(net.bcoin, root, "sleeper", true).await?);
    let mut sleeper_events = awake.events.subscribe();
    awake.node.connect_peer(lsp_id, lsp_address, false).await.context("sleeper reconnecting to the LSP")?;
    let payment_hash = PaymentHash(*jit.invoice.payment_hash().as_ref());
    let claimed_msat =
        wait_for_event(&mut sleeper_events, "PaymentClaimed (after wake)", STEP_TIMEOUT, |event| match event {
            Event::PaymentClaimed { payment_hash: hash, amount_msat, .. } if *hash == payment_hash => {
                Some(Ok(*amount_msat))
            }
            _ => None,
        })
        .await?;
    let wake_to_paid = woken.elapsed();
    wait_for_event(&mut payer_events, "PaymentSent (after wake)", STEP_TIMEOUT, |event| match event {
        Event::PaymentSent { payment_id: Some(id), .. } if *id == payment_id => Some(Ok(())),
        Event::PaymentFailed { payment_id: id, reason, .. } if *id == payment_id => {
            Some(Err(anyhow!("the payment to the sleeper failed: {reason:?}")))
        }
        _ => None,
    })
    .await?;
    let fee_msat = jit.opening_fee_msat.ok_or_else(|| anyhow!("a fixed-amount JIT invoice without its fee"))?;
    if claimed_msat.checked_add(fee_msat) != Some(JIT_PAYMENT_MSAT) {
        bail!("the sleeper received {claimed_msat} msat; expected {JIT_PAYMENT_MSAT} − {fee_msat} (the fee)");
    }
    let stats = relay.stats();
    Ok(Lsps5Report {
        webhooks_registered: set.num_webhooks,
        notifications_received: stats.accepted,
        signatures_valid: stats.refused == 0 && stats.accepted == 2,
        paid_after_wake_msat: claimed_msat,
        wake_to_paid_ms: u64::try_from(wake_to_paid.as_millis()).unwrap_or(u64::MAX),
    })
}
