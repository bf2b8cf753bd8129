//! LSPS1 end to end with the real LSP service over TCP on the simulated chain: a wallet orders
//! a channel with raw LSPS1 requests (wire types through `LspsClient`), pays the hold invoice
//! or the deposit address, and the LSP opens the channel, or fails the HTLC back.

use std::str::FromStr;

use bitcoin::hashes::Hash;
use std::sync::Arc;

use inbound_harness::{wait_for, wait_until, HarnessResult, Network, TestNode, DEFAULT_TIMEOUT};
use inbound_node::lightning::events::Event;
use inbound_node::lightning_invoice::Bolt11Invoice;
use inbound_service::lsps1::order::RefundStatus;
use inbound_service::lsps1::{Lsps1Config, OrderStatus};
use inbound_service::{Clock, ManualClock};
use lsps::lsps1::{CreateOrderRequest, GetOrderRequest, Order, OrderState, PaymentState};
use lsps::method::{Request, Response};
use lsps::schema::SatAmount;

const LSP_BALANCE_SAT: u64 = 100_000;
const CLIENT_BALANCE_SAT: u64 = 20_000;

fn request(refund: Option<&TestNode>) -> CreateOrderRequest {
    CreateOrderRequest {
        lsp_balance_sat: SatAmount(LSP_BALANCE_SAT),
        client_balance_sat: SatAmount(CLIENT_BALANCE_SAT),
        required_channel_confirmations: 0,
        funding_confirms_within_blocks: 6,
        channel_expiry_blocks: 144,
        token: None,
        refund_onchain_address: refund.map(|node| node.node().new_onchain_address().expect("address").into()),
        announce_channel: false,
    }
}

async fn create_order(wallet: &TestNode, lsp: &TestNode, request: CreateOrderRequest) -> Order {
    match wallet.client().call(lsp.node_id(), Request::Lsps1CreateOrder(request)).await {
        Ok(Response::Lsps1CreateOrder(order)) => order,
        other => panic!("create_order: {other:?}"),
    }
}

async fn get_order(wallet: &TestNode, lsp: &TestNode, order_id: &str) -> Order {
    let request = GetOrderRequest { order_id: order_id.to_owned() };
    match wallet.client().call(lsp.node_id(), Request::Lsps1GetOrder(request)).await {
        Ok(Response::Lsps1GetOrder(order)) => order,
        other => panic!("get_order: {other:?}"),
    }
}

async fn wait_order(wallet: &TestNode, lsp: &TestNode, id: &str, what: &str, done: impl Fn(&Order) -> bool) -> Order {
    wait_for(what, DEFAULT_TIMEOUT, || async {
        let order = get_order(wallet, lsp, id).await;
        done(&order).then_some(order)
    })
    .await
    .expect(what)
}

struct Setup {
    network: Network,
    lsp: Arc<TestNode>,
    wallet: Arc<TestNode>,
    clock: Arc<ManualClock>,
}

async fn setup_on(network: Network, config: Lsps1Config) -> HarnessResult<Setup> {
    let clock = Arc::new(ManualClock::starting_now());
    let lsp = network
        .add_lsps1_lsp("lsp", config, &network.sqlite_store("lsp"), Arc::clone(&clock) as Arc<dyn Clock>)
        .await?;
    let wallet = network.add_wallet("wallet").await?;
    network.fund(&lsp, 1_000_000).await?;
    network.fund(&wallet, 1_000_000).await?;
    network.connect(&wallet, &lsp).await?;
    Ok(Setup { network, lsp, wallet, clock })
}

/// Proves: a hold-invoice order paid over the wallet's channel is held (HOLD) while the LSP
/// opens the ordered channel (capacity lsp + client balance, client balance pushed), the
/// preimage is released once the funding is published (PAID, COMPLETED, channel object),
/// and the wallet sees the channel with its balance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_invoice_order_opens_the_ordered_channel() -> HarnessResult<()> {
    hold_invoice_order_on(Network::sim().await?).await
}

/// The same on a real bcoin regtest chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_invoice_order_opens_the_ordered_channel_on_bcoin() -> HarnessResult<()> {
    hold_invoice_order_on(Network::bcoin().await?).await
}

async fn hold_invoice_order_on(network: Network) -> HarnessResult<()> {
    let Setup { network, lsp, wallet, .. } = setup_on(network, Lsps1Config::default()).await?;
    network.open_channel(&wallet, &lsp, 500_000, 0).await?;
    let order = create_order(&wallet, &lsp, request(None)).await;
    assert_eq!(order.order_state, OrderState::Created);
    assert!(order.payment.onchain.is_none());
    let bolt11 = order.payment.bolt11.clone().expect("bolt11");
    let invoice = Bolt11Invoice::from_str(&bolt11.invoice).expect("invoice");
    assert_eq!(invoice.amount_milli_satoshis(), Some(bolt11.order_total_sat.get() * 1000));
    let preimage = wallet.pay(&invoice).await?;
    assert_eq!(
        bitcoin::hashes::sha256::Hash::hash(&preimage.0).to_byte_array(),
        invoice.payment_hash().to_byte_array()
    );

    let done =
        wait_order(&wallet, &lsp, &order.order_id, "order completed", |o| o.order_state == OrderState::Completed).await;
    assert_eq!(done.payment.bolt11.as_ref().map(|b| b.state), Some(PaymentState::Paid));
    let channel = done.channel.expect("channel object");
    let wallet_node = wallet.node();
    let ordered = wallet_node
        .list_channels()
        .into_iter()
        .find(|c| c.funding_txo.map(|o| o.into_bitcoin_outpoint()) == Some(channel.funding_outpoint.0))
        .expect("the wallet sees the ordered channel");
    assert_eq!(ordered.channel_value_satoshis, LSP_BALANCE_SAT + CLIENT_BALANCE_SAT);
    assert!(!ordered.is_announced);
    // The pushed client balance is the wallet's, less its channel reserve (the LSP, the
    // funder, pays the commitment fees).
    let reserve_msat = ordered.unspendable_punishment_reserve.unwrap_or(0) * 1000;
    assert_eq!(ordered.outbound_capacity_msat + reserve_msat, CLIENT_BALANCE_SAT * 1000, "{ordered:?}");
    network.wait_in_mempool(channel.funding_outpoint.txid(), DEFAULT_TIMEOUT).await?;
    network.mine(1).await?;
    wait_until("ordered channel confirmed", DEFAULT_TIMEOUT, || {
        wallet_node.list_channels().iter().any(|c| c.channel_id == ordered.channel_id && c.is_channel_ready)
    })
    .await?;
    network.shutdown().await
}

/// Proves: when the client cannot be reached, the held HTLC is not claimed; at the order's
/// deadline it is failed back (the payer's payment fails), and the order is FAILED/REFUNDED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_wallet_order_expires_and_the_payment_fails_back() -> HarnessResult<()> {
    let Setup { network, lsp, wallet, clock } = setup_on(Network::sim().await?, Lsps1Config::default()).await?;
    let payer = network.add_wallet("payer").await?;
    network.fund(&payer, 1_000_000).await?;
    network.connect(&payer, &lsp).await?;
    network.open_channel(&payer, &lsp, 500_000, 0).await?;
    let order = create_order(&wallet, &lsp, request(None)).await;
    network.stop(&wallet).await?;
    let invoice = Bolt11Invoice::from_str(&order.payment.bolt11.clone().expect("bolt11").invoice).expect("invoice");
    let payment_id = payer.node().pay_invoice(&invoice)?;
    let service = Arc::clone(lsp.lsps1_service());
    let id = order.order_id.clone();
    wait_for("payment held", DEFAULT_TIMEOUT, || async {
        let stored = service.order(&id).await.ok().flatten()?;
        (stored.bolt11_state() == PaymentState::Hold).then_some(())
    })
    .await?;
    clock.advance(2 * 3_600);
    let failed = payer
        .wait_for_event(
            "PaymentFailed",
            DEFAULT_TIMEOUT,
            |e| matches!(e, Event::PaymentFailed { payment_id: p, .. } if *p == payment_id),
        )
        .await;
    assert!(failed.is_ok(), "the held HTLC was failed back");
    let stored = service.order(&order.order_id).await.expect("store").expect("order");
    assert_eq!((stored.order_state(), stored.bolt11_state()), (OrderState::Failed, PaymentState::Refunded));
    assert!(!payer.events().snapshot().iter().any(|e| matches!(e, Event::PaymentSent { .. })));
    network.shutdown().await
}

/// Proves: an on-chain order paid to the LSP's deposit address opens the channel once the
/// payment has its confirmation, and completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onchain_order_opens_after_the_payment_confirms() -> HarnessResult<()> {
    let Setup { network, lsp, wallet, .. } = setup_on(Network::sim().await?, Lsps1Config::default()).await?;
    let order = create_order(&wallet, &lsp, request(Some(&wallet))).await;
    let onchain = order.payment.onchain.clone().expect("onchain offered");
    let address = onchain.address.require_network(bitcoin::Network::Regtest).expect("regtest");
    let tx = wallet.node().wallet().build_send_transaction(&address, onchain.order_total_sat.get(), 253)?;
    wallet.node().broadcast_transaction(&tx);
    network.wait_in_mempool(tx.compute_txid(), DEFAULT_TIMEOUT).await?;
    network.mine(1).await?;
    let done =
        wait_order(&wallet, &lsp, &order.order_id, "order completed", |o| o.order_state == OrderState::Completed).await;
    assert_eq!(done.payment.onchain.as_ref().map(|o| o.state), Some(PaymentState::Paid));
    assert_eq!(done.payment.bolt11.as_ref().map(|b| b.state), Some(PaymentState::ExpectPayment));
    let funding = done.channel.expect("channel").funding_outpoint;
    wait_until("the wallet sees the channel", DEFAULT_TIMEOUT, || {
        wallet
            .node()
            .list_channels()
            .iter()
            .any(|c| c.funding_txo.map(|o| o.into_bitcoin_outpoint()) == Some(funding.0))
    })
    .await?;
    network.shutdown().await
}

/// Proves: an under-paid on-chain order is refunded at expiry to the client's refund address,
/// on chain: the refund transaction is broadcast once, confirms, and pays the deposit minus
/// its fee; the order shows FAILED / REFUNDED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn underpaid_onchain_order_is_refunded_on_chain() -> HarnessResult<()> {
    underpaid_refund_on(Network::sim().await?).await
}

/// The same on a real bcoin regtest chain: bcoin accepts the refund transaction and mines it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn underpaid_onchain_order_is_refunded_on_bcoin() -> HarnessResult<()> {
    underpaid_refund_on(Network::bcoin().await?).await
}

async fn underpaid_refund_on(network: Network) -> HarnessResult<()> {
    let Setup { network, lsp, wallet, clock } = setup_on(network, Lsps1Config::default()).await?;
    let refund_address = wallet.node().new_onchain_address()?;
    let mut order_request = request(None);
    order_request.refund_onchain_address = Some(refund_address.clone().into());
    let order = create_order(&wallet, &lsp, order_request).await;
    let onchain = order.payment.onchain.clone().expect("onchain offered");
    let deposit = onchain.address.require_network(bitcoin::Network::Regtest).expect("regtest");
    let paid_sat = onchain.order_total_sat.get() / 2;
    let tx = wallet.node().wallet().build_send_transaction(&deposit, paid_sat, 253)?;
    wallet.node().broadcast_transaction(&tx);
    network.wait_in_mempool(tx.compute_txid(), DEFAULT_TIMEOUT).await?;
    network.mine(1).await?;
    let service = Arc::clone(lsp.lsps1_service());
    let id = order.order_id.clone();
    wait_for("under-payment seen", DEFAULT_TIMEOUT, || async {
        let stored = service.order(&id).await.ok().flatten()?;
        matches!(stored.status, OrderStatus::AwaitingPayment { onchain_seen_sat } if onchain_seen_sat == paid_sat)
            .then_some(())
    })
    .await?;
    clock.advance(2 * 3_600);
    let refund_txid = wait_for("refund built", DEFAULT_TIMEOUT, || async {
        match service.order(&id).await.ok().flatten()?.refund()?.status.clone() {
            RefundStatus::Built { txid, .. } => Some(txid),
            _ => None,
        }
    })
    .await?;
    let refund_txid = bitcoin::Txid::from_str(&refund_txid).expect("txid");
    network.wait_in_mempool(refund_txid, DEFAULT_TIMEOUT).await?;
    network.mine(1).await?;
    let wallet_node = wallet.node();
    wait_until("refund received", DEFAULT_TIMEOUT, || {
        wallet_node.received_to_address(&refund_address).received_sat > 0
    })
    .await?;
    let refunded = wallet_node.received_to_address(&refund_address).received_sat;
    assert!(refunded < paid_sat && refunded + 2_000 > paid_sat, "refund {refunded} of {paid_sat}");
    let confirmed = wait_for("refund confirmed in the order", DEFAULT_TIMEOUT, || async {
        match service.order(&id).await.ok().flatten()?.refund()?.status.clone() {
            RefundStatus::Confirmed { txid } => Some(txid),
            _ => None,
        }
    })
    .await?;
    assert_eq!(confirmed, refund_txid.to_string(), "the refund confirmed without a replacement");
    let done = get_order(&wallet, &lsp, &order.order_id).await;
    assert_eq!(done.order_state, OrderState::Failed);
    assert_eq!(done.payment.onchain.map(|o| o.state), Some(PaymentState::Refunded));
    if let Some(chain) = network.sim_chain() {
        let spends = chain.mempool().len();
        assert_eq!(spends, 0, "nothing else (no second refund) waits in the mempool");
    }
    network.shutdown().await
}

/// Proves: an LSP restarted while it holds an order's HTLC for an offline client resumes the
/// order from its store, opens the channel once the client is back, claims the payment, and
/// opens exactly one channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lsp_restart_while_holding_the_payment_resumes_the_order() -> HarnessResult<()> {
    let Setup { network, lsp, wallet, .. } = setup_on(Network::sim().await?, Lsps1Config::default()).await?;
    let payer = network.add_wallet("payer").await?;
    network.fund(&payer, 1_000_000).await?;
    network.connect(&payer, &lsp).await?;
    network.open_channel(&payer, &lsp, 500_000, 0).await?;
    let order = create_order(&wallet, &lsp, request(None)).await;
    network.stop(&wallet).await?;
    let invoice = Bolt11Invoice::from_str(&order.payment.bolt11.clone().expect("bolt11").invoice).expect("invoice");
    let payment_id = payer.node().pay_invoice(&invoice)?;
    let id = order.order_id.clone();
    let held = |lsp: Arc<TestNode>| {
        let id = id.clone();
        async move {
            wait_for("payment held", DEFAULT_TIMEOUT, || async {
                let stored = lsp.lsps1_service().order(&id).await.ok().flatten()?;
                (stored.bolt11_state() == PaymentState::Hold).then_some(())
            })
            .await
        }
    };
    held(Arc::clone(&lsp)).await?;
    network.restart(&lsp).await?;
    held(Arc::clone(&lsp)).await?;
    network.restart(&wallet).await?;
    // No clock movement: the open is retried as soon as the client is connected again.
    network.connect(&wallet, &lsp).await?;
    let sent = payer
        .wait_for_event(
            "PaymentSent",
            DEFAULT_TIMEOUT,
            |e| matches!(e, Event::PaymentSent { payment_id: Some(p), .. } if *p == payment_id),
        )
        .await;
    assert!(sent.is_ok(), "the held payment was claimed after the restart");
    let done =
        wait_order(&wallet, &lsp, &order.order_id, "order completed", |o| o.order_state == OrderState::Completed).await;
    let funding = done.channel.expect("channel").funding_outpoint;
    let opened: Vec<_> =
        lsp.node().list_channels().into_iter().filter(|c| c.counterparty.node_id == wallet.node_id()).collect();
    assert_eq!(opened.len(), 1, "exactly one channel to the wallet");
    assert_eq!(opened[0].funding_txo.map(|o| o.into_bitcoin_outpoint()), Some(funding.0));
    network.shutdown().await
}
