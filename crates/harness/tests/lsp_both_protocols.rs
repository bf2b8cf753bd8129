//! One LSP serving LSPS1 and LSPS2 together, wired by the production `LspBuilder` (as `inbound
//! serve` wires it): a JIT payment to a new wallet and a channel order paid by hold invoice,
//! against the same node, server and store, over TCP on the simulated chain.

use std::str::FromStr;
use std::sync::Arc;

use inbound_client::lsps2::{JitInvoiceRequest, Lsps2ClientConfig};
use inbound_harness::{open_store, wait_for, HarnessResult, Network, DEFAULT_TIMEOUT};
use inbound_node::lightning::events::Event;
use inbound_node::lightning_invoice::Bolt11Invoice;
use inbound_service::lsps1::Lsps1Config;
use inbound_service::lsps2::{FeeTier, JitState, Lsps2Config, TrustMode};
use inbound_service::{Clock, LspBuilder, SystemClock};
use inbound_store::Kind;
use lsps::lsps1::{CreateOrderRequest, GetOrderRequest, OrderState};
use lsps::method::{Request, Response};
use lsps::schema::SatAmount;

const MIN_FEE_MSAT: u64 = 1_000_000;
const PAYMENT_MSAT: u64 = 10_000_000;

fn lsps2_config() -> Lsps2Config {
    Lsps2Config {
        public_menu: vec![FeeTier {
            min_fee_msat: MIN_FEE_MSAT,
            proportional: 10_000,
            min_payment_size_msat: 1_000_000,
            max_payment_size_msat: 200_000_000,
        }],
        trust: TrustMode::Never,
        ..Lsps2Config::default()
    }
}

/// Proves: `LspBuilder` serves both protocols on one LSP: `list_protocols` says [1, 2], a JIT
/// payment reaches a wallet without a channel (payment − fee) while a payer's order over its
/// existing channel completes with the ordered channel, and both flows share one store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_lsp_sells_a_jit_channel_and_an_ordered_channel() -> HarnessResult<()> {
    let network = Network::sim().await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = open_store(&network.sqlite_store("lsp")).await?;
    let builder = LspBuilder::new(clock).store(Arc::clone(&store)).lsps1(Lsps1Config::default()).lsps2(lsps2_config());
    let lsp = network.add_lsp_serving("lsp", builder).await?;
    let payer = network.add_wallet("payer").await?;
    let wallet = network.add_jit_wallet("wallet", Lsps2ClientConfig::default()).await?;
    network.connect(&payer, &lsp).await?;
    network.connect(&wallet, &lsp).await?;
    network.fund(&payer, 1_000_000).await?;
    network.fund(&lsp, 2_000_000).await?;
    network.open_channel(&payer, &lsp, 500_000, 0).await?;

    match payer.client().call(lsp.node_id(), Request::Lsps0ListProtocols(Default::default())).await {
        Ok(Response::Lsps0ListProtocols(answer)) => assert_eq!(answer.protocols, vec![1, 2]),
        other => panic!("list_protocols: {other:?}"),
    }

    // LSPS2: the wallet buys a JIT invoice; the payer pays it.
    let request = JitInvoiceRequest {
        lsp: lsp.node_id(),
        amount_msat: Some(PAYMENT_MSAT),
        max_fee_msat: 5 * MIN_FEE_MSAT,
        description: "jit".into(),
        expiry_secs: 600,
        token: None,
    };
    let invoice = wallet.lsps2().jit_invoice(request).await.expect("jit_invoice");
    payer.pay(&invoice.invoice).await?;
    let claimed = wallet
        .wait_for_event("PaymentClaimed", DEFAULT_TIMEOUT, |event| matches!(event, Event::PaymentClaimed { .. }))
        .await?;
    let Event::PaymentClaimed { amount_msat, .. } = claimed else { unreachable!("matched above") };
    assert_eq!(amount_msat, PAYMENT_MSAT - MIN_FEE_MSAT);

    // LSPS1: the payer orders a channel and pays the hold invoice over its channel to the LSP.
    let order_request = CreateOrderRequest {
        lsp_balance_sat: SatAmount(100_000),
        client_balance_sat: SatAmount(20_000),
        required_channel_confirmations: 0,
        funding_confirms_within_blocks: 6,
        channel_expiry_blocks: 144,
        token: None,
        refund_onchain_address: None,
        announce_channel: false,
    };
    let order = match payer.client().call(lsp.node_id(), Request::Lsps1CreateOrder(order_request)).await {
        Ok(Response::Lsps1CreateOrder(order)) => order,
        other => panic!("create_order: {other:?}"),
    };
    let bolt11 = order.payment.bolt11.clone().expect("bolt11");
    payer.pay(&Bolt11Invoice::from_str(&bolt11.invoice).expect("invoice")).await?;
    let order_id = order.order_id.clone();
    let done = wait_for("order completed", DEFAULT_TIMEOUT, || async {
        let request = GetOrderRequest { order_id: order_id.clone() };
        match payer.client().call(lsp.node_id(), Request::Lsps1GetOrder(request)).await {
            Ok(Response::Lsps1GetOrder(order)) if order.order_state == OrderState::Completed => Some(order),
            _ => None,
        }
    })
    .await?;
    assert!(done.channel.is_some(), "the channel object is filled in");
    let capacities: Vec<u64> = payer.node().list_channels().iter().map(|c| c.channel_value_satoshis).collect();
    assert!(capacities.contains(&120_000), "the ordered channel: {capacities:?}");

    // One store holds both flows, each finished as the services report.
    let session = lsp.lsps2_service().session_by_scid(invoice.intercept_scid.0).await.expect("store").expect("session");
    assert!(matches!(session.state, JitState::Paid { fee_msat: MIN_FEE_MSAT, .. }), "{:?}", session.state);
    let order = lsp.lsps1_service().order(&done.order_id).await.expect("store").expect("order");
    assert_eq!(order.order_state(), OrderState::Completed);
    assert_eq!(
        store
            .history(Kind::Lsps2Session, &inbound_service::lsps2::session_id(session.user_channel_id))
            .await
            .expect("history")[0]
            .detail["input"],
        "buy"
    );
    assert_eq!(
        store.history(Kind::Lsps1Order, &done.order_id).await.expect("history")[0].detail["input"],
        "create_order"
    );
    network.shutdown().await?;
    Ok(())
}
