//! The wallet's LSPS1 client ([`Lsps1Client`]) against the real LSPS1 service, end to end over
//! real LDK nodes: over the BOLT8 connection (LSPS0) and over HTTP (`inbound-http` sharing the
//! LSP's `LspsServer`, with and without the node-id proof), paid by Lightning (hold invoice)
//! or on chain, until the order is COMPLETED and the wallet has the ordered channel.

use std::sync::Arc;
use std::time::Duration;

use inbound_client::lsps1::{payment_for, HttpTransport, Lsps1Client, PayWith, Payment, PeerTransport, Progress};
use inbound_harness::{wait_until, HarnessResult, Network, TestNode, DEFAULT_TIMEOUT};
use inbound_http::{HttpConfig, HttpState};
use inbound_service::lsps1::Lsps1Config;
use inbound_service::{Clock, ManualClock};
use lsps::lsps1::{Order, OrderState, PaymentState};

const LSP_BALANCE_SAT: u64 = 100_000;
const CLIENT_BALANCE_SAT: u64 = 20_000;
const MAX_FEE_SAT: u64 = 10_000;
const POLL: Duration = Duration::from_millis(200);

struct Setup {
    network: Network,
    lsp: Arc<TestNode>,
    wallet: Arc<TestNode>,
}

async fn setup_on(network: Network) -> HarnessResult<Setup> {
    let clock = Arc::new(ManualClock::starting_now());
    let lsp = network
        .add_lsps1_lsp("lsp", Lsps1Config::default(), &network.sqlite_store("lsp"), clock as Arc<dyn Clock>)
        .await?;
    let wallet = network.add_wallet("wallet").await?;
    network.fund(&lsp, 1_000_000).await?;
    network.fund(&wallet, 1_000_000).await?;
    network.connect(&wallet, &lsp).await?;
    Ok(Setup { network, lsp, wallet })
}

fn peer_client(wallet: &TestNode, lsp: &TestNode) -> Lsps1Client {
    let transport = PeerTransport::new(Arc::clone(wallet.client()), lsp.node_id());
    Lsps1Client::new(Arc::new(transport), bitcoin::Network::Regtest).with_poll_interval(POLL)
}

/// get_info → create_order → pay with `pay_with` from the wallet → `wait_for` COMPLETED →
/// the wallet sees the ordered channel with the ordered balances. Returns the final order.
async fn buy_channel(network: &Network, client: &Lsps1Client, wallet: &TestNode, pay_with: PayWith) -> Order {
    let info = client.get_info().await.expect("get_info");
    let refund = match pay_with {
        PayWith::Onchain => Some(wallet.node().new_onchain_address().expect("address").into()),
        PayWith::Lightning => None,
    };
    let request =
        client.request(LSP_BALANCE_SAT, CLIENT_BALANCE_SAT, info.max_channel_expiry_blocks.min(4_320), refund);
    let checked = client.create_order(&request).await.expect("create_order passes the client checks");
    assert!(checked.warnings.is_empty(), "{:?}", checked.warnings);
    let order = checked.order;
    assert_eq!(order.order_state, OrderState::Created);
    match payment_for(&order, pay_with, MAX_FEE_SAT, bitcoin::Network::Regtest).expect("payable") {
        Payment::Lightning { invoice, order_total_sat, fee_total_sat } => {
            assert_eq!(order_total_sat, CLIENT_BALANCE_SAT + fee_total_sat);
            wallet.pay(&invoice).await.expect("paid");
        }
        Payment::Onchain { address, order_total_sat, .. } => {
            let tx = wallet.node().wallet().build_send_transaction(&address, order_total_sat, 253).expect("tx");
            wallet.node().broadcast_transaction(&tx);
            network.wait_in_mempool(tx.compute_txid(), DEFAULT_TIMEOUT).await.expect("in mempool");
            network.mine(1).await.expect("mined");
        }
    }
    let mut seen = Vec::new();
    let done = client
        .wait_for(
            &order.order_id,
            Some(&request),
            DEFAULT_TIMEOUT,
            |o| o.order_state == OrderState::Completed,
            |o| seen.push(Progress::of(o)),
        )
        .await
        .expect("order completed");
    assert!(!seen.is_empty());
    let paid = match pay_with {
        PayWith::Lightning => done.payment.bolt11.as_ref().map(|b| b.state),
        PayWith::Onchain => done.payment.onchain.as_ref().map(|o| o.state),
    };
    assert_eq!(paid, Some(PaymentState::Paid));
    let funding = done.channel.as_ref().expect("channel object").funding_outpoint.0;
    let wallet_node = wallet.node();
    wait_until("the wallet sees the ordered channel", DEFAULT_TIMEOUT, || {
        wallet_node.list_channels().iter().any(|c| c.funding_txo.map(|o| o.into_bitcoin_outpoint()) == Some(funding))
    })
    .await
    .expect("channel");
    let channel = wallet_node
        .list_channels()
        .into_iter()
        .find(|c| c.funding_txo.map(|o| o.into_bitcoin_outpoint()) == Some(funding))
        .expect("channel");
    assert_eq!(channel.channel_value_satoshis, LSP_BALANCE_SAT + CLIENT_BALANCE_SAT);
    assert!(!channel.is_announced);
    let reserve_msat = channel.unspendable_punishment_reserve.unwrap_or(0) * 1000;
    assert_eq!(channel.outbound_capacity_msat + reserve_msat, CLIENT_BALANCE_SAT * 1000, "{channel:?}");
    done
}

/// Proves: the client buys a channel from the real service over the peer connection, paying
/// the hold invoice over a channel the wallet opened to the LSP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_buys_a_channel_over_the_peer_connection() -> HarnessResult<()> {
    peer_lightning_on(Network::sim().await?).await
}

/// The same on a real bcoin regtest chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_buys_a_channel_over_the_peer_connection_on_bcoin() -> HarnessResult<()> {
    peer_lightning_on(Network::bcoin().await?).await
}

async fn peer_lightning_on(network: Network) -> HarnessResult<()> {
    let Setup { network, lsp, wallet } = setup_on(network).await?;
    network.open_channel(&wallet, &lsp, 500_000, 0).await?;
    let client = peer_client(&wallet, &lsp);
    buy_channel(&network, &client, &wallet, PayWith::Lightning).await;
    network.shutdown().await
}

/// Proves: an on-chain-paid order through the client completes and opens the channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_buys_a_channel_paid_on_chain() -> HarnessResult<()> {
    let Setup { network, lsp, wallet } = setup_on(Network::sim().await?).await?;
    let client = peer_client(&wallet, &lsp);
    buy_channel(&network, &client, &wallet, PayWith::Onchain).await;
    network.shutdown().await
}

/// Serves `lsp`'s `LspsServer` over HTTP on loopback; returns the URL and the stopper.
async fn serve_http(
    lsp: &TestNode,
    config: HttpConfig,
) -> (String, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<std::io::Result<()>>) {
    let state = HttpState::new(Arc::clone(lsp.server()), config).expect("http config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/lsps", listener.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(inbound_http::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    (url, stop, serving)
}

/// Proves: the client buys channels over HTTP from the same service, first with the node-id
/// proof (an endpoint requiring it), then with the node id only claimed (an endpoint that does
/// not): the service attributes both orders to the wallet and opens both channels to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_buys_channels_over_http_signed_and_unsigned() -> HarnessResult<()> {
    let Setup { network, lsp, wallet } = setup_on(Network::sim().await?).await?;
    network.open_channel(&wallet, &lsp, 500_000, 0).await?;
    let node = wallet.node();

    let signed = HttpConfig { require_node_signature: true, ..HttpConfig::default() };
    let (url, stop, serving) = serve_http(&lsp, signed).await;
    let unsigned = HttpTransport::new(&url, node.node_id(), Duration::from_secs(10)).expect("transport");
    let unsigned = Lsps1Client::new(Arc::new(unsigned), bitcoin::Network::Regtest);
    unsigned.get_info().await.expect("get_info is not bound to the client: no proof needed");
    let refused = unsigned.create_order(&unsigned.request(LSP_BALANCE_SAT, CLIENT_BALANCE_SAT, 144, None)).await;
    assert!(refused.is_err(), "an endpoint requiring the proof refuses an unsigned order: {refused:?}");
    let http = HttpTransport::new(&url, node.node_id(), Duration::from_secs(10))
        .expect("transport")
        .with_node_key(node.keys_manager().get_node_secret_key());
    let client = Lsps1Client::new(Arc::new(http), bitcoin::Network::Regtest).with_poll_interval(POLL);
    let first = buy_channel(&network, &client, &wallet, PayWith::Lightning).await;
    stop.send(()).expect("stop");
    serving.await.expect("task").expect("served");

    let (url, stop, serving) = serve_http(&lsp, HttpConfig::default()).await;
    let http = HttpTransport::new(&url, node.node_id(), Duration::from_secs(10)).expect("transport");
    let client = Lsps1Client::new(Arc::new(http), bitcoin::Network::Regtest).with_poll_interval(POLL);
    let second = buy_channel(&network, &client, &wallet, PayWith::Lightning).await;
    assert_ne!(first.order_id, second.order_id);
    for order in [&first, &second] {
        let stored = lsp.lsps1_service().order(&order.order_id).await.expect("store").expect("order");
        assert_eq!(stored.order_state(), OrderState::Completed);
    }
    stop.send(()).expect("stop");
    serving.await.expect("task").expect("served");
    network.shutdown().await
}

/// Proves: a wallet that is not peer-connected orders over HTTP, naming its listening address
/// (`x-inbound-node-address`); anyone (here a payer with a channel to the LSP) pays the hold
/// invoice; the LSP connects to the wallet at that address (loopback allowed by
/// `connect_private_addresses`), opens the ordered channel and completes the order, which
/// keeps the address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_order_from_an_unconnected_wallet_completes() -> HarnessResult<()> {
    let network = Network::sim().await?;
    let clock = Arc::new(ManualClock::starting_now());
    let config = Lsps1Config { connect_private_addresses: true, ..Lsps1Config::default() };
    let lsp = network.add_lsps1_lsp("lsp", config, &network.sqlite_store("lsp"), clock as Arc<dyn Clock>).await?;
    let wallet = network.add_wallet("wallet").await?;
    let payer = network.add_wallet("payer").await?;
    network.fund(&lsp, 1_000_000).await?;
    network.fund(&payer, 1_000_000).await?;
    network.connect(&payer, &lsp).await?;
    network.open_channel(&payer, &lsp, 500_000, 0).await?;
    assert!(lsp.node().peer_manager().peer_by_node_id(&wallet.node_id()).is_none(), "the wallet is not connected");

    let state = HttpState::new(Arc::clone(lsp.server()), HttpConfig::default())
        .expect("http config")
        .with_address_book(Arc::clone(lsp.lsps1_service().client_addresses()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/lsps", listener.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(inbound_http::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    let node = wallet.node();
    let bad = HttpTransport::new(&url, node.node_id(), Duration::from_secs(10))
        .expect("transport")
        .with_node_key(node.keys_manager().get_node_secret_key())
        .with_node_address("not an address");
    let bad = Lsps1Client::new(Arc::new(bad), bitcoin::Network::Regtest);
    let refused = bad.create_order(&bad.request(LSP_BALANCE_SAT, CLIENT_BALANCE_SAT, 144, None)).await;
    assert!(format!("{refused:?}").contains("x-inbound-node-address"), "{refused:?}");

    let http = HttpTransport::new(&url, node.node_id(), Duration::from_secs(10))
        .expect("transport")
        .with_node_key(node.keys_manager().get_node_secret_key())
        .with_node_address(wallet.address().to_string());
    let client = Lsps1Client::new(Arc::new(http), bitcoin::Network::Regtest).with_poll_interval(POLL);
    let request = client.request(LSP_BALANCE_SAT, CLIENT_BALANCE_SAT, 144, None);
    let order = client.create_order(&request).await.expect("create_order").order;
    let stored = lsp.lsps1_service().order(&order.order_id).await.expect("store").expect("order");
    assert_eq!(stored.client_address, Some(wallet.address().to_string()), "the order keeps the address");
    let Payment::Lightning { invoice, .. } =
        payment_for(&order, PayWith::Lightning, MAX_FEE_SAT, bitcoin::Network::Regtest).expect("payable")
    else {
        panic!("asked for Lightning")
    };
    payer.pay(&invoice).await?;
    let done = client
        .wait_for(&order.order_id, Some(&request), DEFAULT_TIMEOUT, |o| o.order_state == OrderState::Completed, |_| {})
        .await
        .expect("order completed");
    let funding = done.channel.expect("channel object").funding_outpoint.0;
    wait_until("the wallet sees the ordered channel", DEFAULT_TIMEOUT, || {
        node.list_channels().iter().any(|c| {
            c.funding_txo.map(|o| o.into_bitcoin_outpoint()) == Some(funding)
                && c.channel_value_satoshis == LSP_BALANCE_SAT + CLIENT_BALANCE_SAT
        })
    })
    .await?;
    stop.send(()).expect("stop");
    serving.await.expect("task").expect("served");
    network.shutdown().await
}
