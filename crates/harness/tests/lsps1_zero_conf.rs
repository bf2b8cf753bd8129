//! LSPS1 on-chain payments at 0 confirmations, with the real LSP service on the simulated chain:
//! the runner reads unconfirmed deposits from the chain source's mempool
//! (`ChainSource::mempool_payments`) and counts one only when the order allows 0 confirmations
//! and the deposit's fee rate exceeds `min_fee_for_0conf`.

use std::sync::Arc;

use inbound_harness::{wait_for, HarnessResult, Network, TestNode, DEFAULT_TIMEOUT};
use inbound_service::lsps1::{Lsps1Config, OrderStatus};
use inbound_service::{Clock, ManualClock};
use lsps::lsps1::{CreateOrderRequest, GetOrderRequest, Order, OrderState, PaymentState};
use lsps::method::{Request, Response};
use lsps::schema::SatAmount;

/// sat/kWU the deposit must exceed to count unconfirmed.
const MIN_FEE_FOR_0CONF: u64 = 1_000;

fn zero_conf_config() -> Lsps1Config {
    Lsps1Config { onchain_payment_confirmations: 0, min_fee_for_0conf: Some(MIN_FEE_FOR_0CONF), ..Default::default() }
}

async fn call(wallet: &TestNode, lsp: &TestNode, request: Request) -> Order {
    match wallet.client().call(lsp.node_id(), request).await {
        Ok(Response::Lsps1CreateOrder(order)) | Ok(Response::Lsps1GetOrder(order)) => order,
        other => panic!("LSPS1 call: {other:?}"),
    }
}

async fn order_paid_on_chain(
    network: Network,
    fee_rate_sat_per_kwu: u32,
) -> HarnessResult<(Network, Arc<TestNode>, Arc<TestNode>, Order)> {
    let clock = Arc::new(ManualClock::starting_now()) as Arc<dyn Clock>;
    let lsp = network.add_lsps1_lsp("lsp", zero_conf_config(), "sqlite::memory:", clock).await?;
    let wallet = network.add_wallet("wallet").await?;
    network.fund(&lsp, 1_000_000).await?;
    network.fund(&wallet, 1_000_000).await?;
    network.connect(&wallet, &lsp).await?;
    let request = CreateOrderRequest {
        lsp_balance_sat: SatAmount(100_000),
        client_balance_sat: SatAmount(20_000),
        required_channel_confirmations: 0,
        funding_confirms_within_blocks: 6,
        channel_expiry_blocks: 144,
        token: None,
        refund_onchain_address: Some(wallet.node().new_onchain_address()?.into()),
        announce_channel: false,
    };
    let order = call(&wallet, &lsp, Request::Lsps1CreateOrder(request)).await;
    let onchain = order.payment.onchain.clone().expect("onchain offered");
    assert_eq!(onchain.min_onchain_payment_confirmations, 0);
    assert_eq!(onchain.min_fee_for_0conf.map(|fee| fee.0), Some(MIN_FEE_FOR_0CONF));
    let address = onchain.address.require_network(bitcoin::Network::Regtest).expect("regtest");
    let tx =
        wallet.node().wallet().build_send_transaction(&address, onchain.order_total_sat.get(), fee_rate_sat_per_kwu)?;
    wallet.node().broadcast_transaction(&tx);
    network.wait_in_mempool(tx.compute_txid(), DEFAULT_TIMEOUT).await?;
    Ok((network, lsp, wallet, order))
}

async fn wait_state(wallet: &TestNode, lsp: &TestNode, id: &str, state: OrderState) -> Order {
    wait_for("order state", DEFAULT_TIMEOUT, || async {
        let order = call(wallet, lsp, Request::Lsps1GetOrder(GetOrderRequest { order_id: id.to_owned() })).await;
        (order.order_state == state).then_some(order)
    })
    .await
    .expect("order state")
}

/// Proves: a deposit paying more than `min_fee_for_0conf` opens the ordered channel while still
/// unconfirmed: the order completes before any block is mined after the payment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_conf_deposit_with_enough_fee_opens_before_a_block() -> HarnessResult<()> {
    zero_conf_deposit_on(Network::sim().await?).await
}

/// The same on a real bcoin regtest chain: the mempool and the deposit's parents are read over
/// JSON-RPC (`getrawmempool`, `getrawtransaction` with bcoin's transaction index).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_conf_deposit_with_enough_fee_opens_before_a_block_on_bcoin() -> HarnessResult<()> {
    zero_conf_deposit_on(Network::bcoin().await?).await
}

async fn zero_conf_deposit_on(network: Network) -> HarnessResult<()> {
    let (network, lsp, wallet, order) = order_paid_on_chain(network, 2_500).await?;
    let height = lsp.node().sync_chain().await?.height;
    let done = wait_state(&wallet, &lsp, &order.order_id, OrderState::Completed).await;
    assert_eq!(done.payment.onchain.as_ref().map(|o| o.state), Some(PaymentState::Paid));
    assert!(done.channel.is_some());
    assert_eq!(lsp.node().sync_chain().await?.height, height, "no block was mined");
    network.shutdown().await
}

/// Proves: a deposit below `min_fee_for_0conf` is seen in the mempool (the order records the
/// amount) but is not counted until it confirms; then the order completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_fee_deposit_waits_for_a_confirmation() -> HarnessResult<()> {
    let (network, lsp, wallet, order) = order_paid_on_chain(Network::sim().await?, 253).await?;
    let total = order.payment.onchain.as_ref().expect("onchain").order_total_sat.get();
    let service = lsp.lsps1_service();
    service.tick().await.expect("tick");
    service.tick().await.expect("tick");
    let stored = service.order(&order.order_id).await.expect("store").expect("order");
    assert_eq!(stored.status, OrderStatus::AwaitingPayment { onchain_seen_sat: total }, "seen, not counted");
    network.mine(1).await?;
    let done = wait_state(&wallet, &lsp, &order.order_id, OrderState::Completed).await;
    assert_eq!(done.payment.onchain.as_ref().map(|o| o.state), Some(PaymentState::Paid));
    network.shutdown().await
}
