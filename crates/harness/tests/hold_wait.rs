//! Notify-and-wait over an existing channel, on real LDK nodes wired by `LspBuilder`: a wallet
//! with a channel to the LSP gets its hold SCID through the SDK (`HoldClient`), makes an invoice
//! routed through it, and goes offline; the payer's HTLC is held by the LSP, which POSTs a signed
//! `payment_incoming`; the wallet comes back and is paid once. Also: a wallet that never comes
//! back (the payment fails at about `hold_secs`), and an online wallet (forwarded at once, no POST).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use inbound_client::hold::{HoldClient, HoldInvoice, HoldInvoiceRequest, NO_CHANNEL_CODE};
use inbound_client::{ClientError, WalletNode};
use inbound_harness::{open_store, wait_for, HarnessResult, Network, TestNode, DEFAULT_TIMEOUT};
use inbound_node::lightning::events::Event;
use inbound_service::lsps5::Lsps5Config;
use inbound_service::{Clock, LspBuilder, SystemClock};
use lsps::lsps5::{verify_webhook_request, Notification, SetWebhookRequest, DEFAULT_MAX_SKEW_SECS};
use lsps::method::{Request, Response};

#[path = "support/webhook.rs"]
mod webhook;
use webhook::{now, start_webhook, Received};

const PAYMENT_MSAT: u64 = 10_000_000;

struct Setup {
    network: Network,
    lsp: Arc<TestNode>,
    payer: Arc<TestNode>,
    wallet: Arc<TestNode>,
    received: Arc<Mutex<Vec<Received>>>,
    _dir: tempfile::TempDir,
}

impl Setup {
    fn posts(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    async fn invoice(&self) -> HoldInvoice {
        let client = HoldClient::new(Arc::clone(self.wallet.client()), self.wallet.node() as Arc<dyn WalletNode>);
        let request = HoldInvoiceRequest {
            lsp: self.lsp.node_id(),
            amount_msat: Some(PAYMENT_MSAT),
            description: "hold".into(),
            expiry_secs: 600,
        };
        client.invoice(request).await.expect("hold invoice")
    }
}

/// payer → LSP → wallet with channels, the wallet's webhook registered (and its
/// `webhook_registered` received), the LSP holding for `hold_secs`.
async fn setup(hold_secs: u64) -> HarnessResult<Setup> {
    let network = Network::sim().await?;
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, ca_file, received) = start_webhook(dir.path()).await;
    let lsps5 = Lsps5Config {
        allow_private_destinations: true,
        extra_ca_file: Some(ca_file),
        hold_secs,
        ..Lsps5Config::default()
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = open_store(&network.sqlite_store("lsp")).await?;
    let lsp = network.add_lsp_serving("lsp", LspBuilder::new(clock).store(store).lsps5(lsps5)).await?;
    let payer = network.add_wallet("payer").await?;
    let wallet = network.add_wallet("wallet").await?;
    network.connect(&payer, &lsp).await?;
    network.connect(&wallet, &lsp).await?;
    network.fund(&payer, 1_000_000).await?;
    network.fund(&lsp, 2_000_000).await?;
    network.open_channel(&payer, &lsp, 500_000, 0).await?;

    // No channel yet: no hold SCID.
    let client = HoldClient::new(Arc::clone(wallet.client()), wallet.node() as Arc<dyn WalletNode>);
    match client.hold_scid(lsp.node_id()).await {
        Err(ClientError::LspRejected(error)) => assert_eq!(error.code, NO_CHANNEL_CODE),
        other => panic!("a hold SCID without a channel: {other:?}"),
    }
    network.open_channel(&lsp, &wallet, 500_000, 0).await?;

    let set = Request::Lsps5SetWebhook(SetWebhookRequest { app_name: "hold wallet".into(), webhook: url });
    match wallet.client().call(lsp.node_id(), set).await {
        Ok(Response::Lsps5SetWebhook(answer)) => assert_eq!(answer.num_webhooks, 1),
        other => panic!("set_webhook with a channel: {other:?}"),
    }
    let setup = Setup { network, lsp, payer, wallet, received, _dir: dir };
    wait_for("webhook_registered", DEFAULT_TIMEOUT, || async { (setup.posts().len() == 1).then_some(()) }).await?;
    Ok(setup)
}

/// Proves: the wallet's hold SCID is stable, its invoice's hint goes through it, an offline
/// wallet is woken by a signed `payment_incoming`, and paid exactly once, the invoice amount,
/// after it reconnects (the payer pays the hint's fee on top).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_wallet_with_a_channel_is_woken_and_paid_once() -> HarnessResult<()> {
    let setup = setup(60).await?;
    let held = setup.invoice().await;
    let again = setup.invoice().await;
    assert_eq!(held.hold_scid, again.hold_scid, "one hold SCID per client");
    let hints = held.invoice.route_hints();
    assert_eq!(hints.len(), 1);
    let hop = &hints[0].0[0];
    assert_eq!((hop.src_node_id, hop.short_channel_id), (setup.lsp.node_id(), held.hold_scid.0));
    assert_eq!(hop.fees.base_msat, held.hint.fee_base_msat);

    setup.network.stop(&setup.wallet).await?;
    let paid_at = Instant::now();
    setup.payer.node().pay_invoice(&held.invoice)?;
    wait_for("payment_incoming", DEFAULT_TIMEOUT, || async { (setup.posts().len() == 2).then_some(()) }).await?;
    let (headers, body) = setup.posts()[1].clone();
    let notification = verify_webhook_request(headers, &body, &setup.lsp.node_id(), now(), DEFAULT_MAX_SKEW_SECS)
        .expect("signed by the LSP");
    assert_eq!(notification, Notification::PaymentIncoming);
    assert_eq!(setup.lsp.hold_service().waiting(), 1);

    setup.network.restart(&setup.wallet).await?;
    let claimed = setup
        .wallet
        .wait_for_event("PaymentClaimed", DEFAULT_TIMEOUT, |event| matches!(event, Event::PaymentClaimed { .. }))
        .await?;
    let Event::PaymentClaimed { amount_msat, .. } = claimed else { unreachable!("matched above") };
    assert_eq!(amount_msat, PAYMENT_MSAT, "the wallet receives the invoice amount");
    let sent = setup
        .payer
        .wait_for_event("PaymentSent", DEFAULT_TIMEOUT, |event| matches!(event, Event::PaymentSent { .. }))
        .await?;
    let Event::PaymentSent { fee_paid_msat, .. } = sent else { unreachable!("matched above") };
    let expected_fee = u64::from(held.hint.fee_base_msat)
        + PAYMENT_MSAT * u64::from(held.hint.fee_proportional_millionths) / 1_000_000;
    assert_eq!(fee_paid_msat, Some(expected_fee), "the payer pays the hint's fee on top");
    assert!(paid_at.elapsed() < Duration::from_secs(60), "forwarded before hold_secs");
    assert_eq!(setup.lsp.hold_service().waiting(), 0);
    // Exactly once: no second claim, and the LSP's webhook got nothing more.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(setup.wallet.events().take(|event| matches!(event, Event::PaymentClaimed { .. })).is_none());
    assert_eq!(setup.posts().len(), 2);
    setup.network.shutdown().await
}

/// Proves: a wallet that never comes back does not leave the payer's HTLC stuck: the LSP fails
/// it back at about `hold_secs`, and the payment fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_that_never_returns_fails_the_payment_at_hold_secs() -> HarnessResult<()> {
    const HOLD_SECS: u64 = 3;
    let setup = setup(HOLD_SECS).await?;
    let held = setup.invoice().await;
    setup.network.stop(&setup.wallet).await?;
    let started = Instant::now();
    setup.payer.node().pay_invoice(&held.invoice)?;
    setup
        .payer
        .wait_for_event("PaymentFailed", DEFAULT_TIMEOUT, |event| matches!(event, Event::PaymentFailed { .. }))
        .await?;
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(HOLD_SECS - 1), "held first: {took:?}");
    assert!(took < Duration::from_secs(HOLD_SECS + 4), "failed at about hold_secs: {took:?}");
    assert_eq!(setup.lsp.hold_service().waiting(), 0);
    // Not stuck: no HTLC is left on the payer's or the LSP's channels.
    for node in [&setup.payer, &setup.lsp] {
        let channels = node.node().list_channels();
        assert!(channels.iter().all(|c| c.pending_outbound_htlcs.is_empty() && c.pending_inbound_htlcs.is_empty()));
    }
    assert_eq!(setup.posts().len(), 2, "woken once");
    setup.network.shutdown().await
}

/// Proves: an online wallet is paid over its hold SCID at once, without a webhook POST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_wallet_is_forwarded_at_once_without_a_post() -> HarnessResult<()> {
    let setup = setup(60).await?;
    let held = setup.invoice().await;
    let started = Instant::now();
    setup.payer.pay(&held.invoice).await?;
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    let claimed = setup
        .wallet
        .wait_for_event("PaymentClaimed", DEFAULT_TIMEOUT, |event| matches!(event, Event::PaymentClaimed { .. }))
        .await?;
    let Event::PaymentClaimed { amount_msat, .. } = claimed else { unreachable!("matched above") };
    assert_eq!(amount_msat, PAYMENT_MSAT);
    assert_eq!(setup.lsp.hold_service().waiting(), 0);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(setup.posts().len(), 1, "only webhook_registered");
    setup.network.shutdown().await
}
