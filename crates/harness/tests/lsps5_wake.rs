//! LSPS5 on real LDK nodes, wired by the production `LspBuilder`: a wallet that bought a JIT
//! invoice registers a webhook served by a local HTTPS server, goes offline, and is woken by a
//! signed `lsps5.payment_incoming` when its payment arrives; it then connects and is paid.

use std::sync::Arc;

use inbound_client::lsps2::{JitInvoiceRequest, Lsps2ClientConfig};
use inbound_harness::{open_store, wait_for, HarnessResult, Network, DEFAULT_TIMEOUT};
use inbound_node::lightning::events::Event;
use inbound_service::lsps2::{FeeTier, Lsps2Config, TrustMode};
use inbound_service::lsps5::{DeliveryStatus, Lsps5Config};
use inbound_service::{Clock, LspBuilder, SystemClock};
use lsps::lsps5::{verify_webhook_request, Notification, SetWebhookRequest, DEFAULT_MAX_SKEW_SECS};
use lsps::method::{Request, Response};

const MIN_FEE_MSAT: u64 = 1_000_000;
const PAYMENT_MSAT: u64 = 10_000_000;

#[path = "support/webhook.rs"]
mod webhook;
use webhook::{now, start_webhook};

/// Proves: with LSPS2 and LSPS5 on one LSP, a wallet with an open purchase may register a
/// webhook (the default `require_channel_or_flow`), the webhook gets `webhook_registered`, and
/// when the JIT payment arrives while the wallet is offline the webhook gets
/// `payment_incoming` signed by the LSP's node key; the wallet then connects and is paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_wallet_is_woken_by_a_signed_webhook_and_paid() -> HarnessResult<()> {
    let network = Network::sim().await?;
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, ca_file, received) = start_webhook(dir.path()).await;
    let lsps2 = Lsps2Config {
        public_menu: vec![FeeTier {
            min_fee_msat: MIN_FEE_MSAT,
            proportional: 10_000,
            min_payment_size_msat: 1_000_000,
            max_payment_size_msat: 200_000_000,
        }],
        trust: TrustMode::Never,
        ..Lsps2Config::default()
    };
    let lsps5 =
        Lsps5Config { allow_private_destinations: true, extra_ca_file: Some(ca_file), ..Lsps5Config::default() };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = open_store(&network.sqlite_store("lsp")).await?;
    let lsp = network.add_lsp_serving("lsp", LspBuilder::new(clock).store(store).lsps2(lsps2).lsps5(lsps5)).await?;
    let payer = network.add_wallet("payer").await?;
    let wallet = network.add_jit_wallet("wallet", Lsps2ClientConfig::default()).await?;
    network.connect(&payer, &lsp).await?;
    network.connect(&wallet, &lsp).await?;
    network.fund(&payer, 1_000_000).await?;
    network.fund(&lsp, 2_000_000).await?;
    network.open_channel(&payer, &lsp, 500_000, 0).await?;

    let set = |app_name: &str| {
        Request::Lsps5SetWebhook(SetWebhookRequest { app_name: app_name.into(), webhook: url.clone() })
    };
    match wallet.client().call(lsp.node_id(), set("harness wallet")).await {
        Err(inbound_client::ClientError::LspRejected(error)) => assert_eq!(error.code, 1003, "no flow, no channel yet"),
        other => panic!("a stranger registered: {other:?}"),
    }
    let request = JitInvoiceRequest {
        lsp: lsp.node_id(),
        amount_msat: Some(PAYMENT_MSAT),
        max_fee_msat: 5 * MIN_FEE_MSAT,
        description: "jit".into(),
        expiry_secs: 600,
        token: None,
    };
    let invoice = wallet.lsps2().jit_invoice(request).await.expect("jit_invoice");
    match wallet.client().call(lsp.node_id(), set("harness wallet")).await {
        Ok(Response::Lsps5SetWebhook(answer)) => assert_eq!((answer.num_webhooks, answer.no_change), (1, false)),
        other => panic!("set_webhook with an open purchase: {other:?}"),
    }
    let posts = || received.lock().expect("lock").clone();
    wait_for("webhook_registered", DEFAULT_TIMEOUT, || async { (posts().len() == 1).then_some(()) }).await?;

    network.disconnect(&wallet, &lsp).await?;
    payer.node().pay_invoice(&invoice.invoice)?;
    wait_for("payment_incoming", DEFAULT_TIMEOUT, || async { (posts().len() == 2).then_some(()) }).await?;
    let notifications: Vec<Notification> = posts()
        .into_iter()
        .map(|(headers, body)| {
            verify_webhook_request(headers, &body, &lsp.node_id(), now(), DEFAULT_MAX_SKEW_SECS)
                .expect("signed by the LSP")
        })
        .collect();
    assert_eq!(notifications, [Notification::WebhookRegistered, Notification::PaymentIncoming]);

    network.connect(&wallet, &lsp).await?;
    let claimed = wallet
        .wait_for_event("PaymentClaimed", DEFAULT_TIMEOUT, |event| matches!(event, Event::PaymentClaimed { .. }))
        .await?;
    let Event::PaymentClaimed { amount_msat, .. } = claimed else { unreachable!("matched above") };
    assert_eq!(amount_msat, PAYMENT_MSAT - MIN_FEE_MSAT);
    let log = lsp.lsps5_service().delivery_log(&wallet.node_id(), 10).await.expect("delivery log");
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|delivery| matches!(delivery.status, DeliveryStatus::Delivered { http_status: 200, .. })));
    network.shutdown().await
}
