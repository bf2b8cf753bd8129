//! `inbound serve` with LSPS1 (and LSPS2) enabled, as a real child process on a bcoin regtest
//! chain: it lists both protocols, answers `lsps1.get_info` with the configured terms, creates
//! an order (persisted in the shared store), finds it again with `lsps1.get_order`, and hides
//! it from another client.

mod common;

use std::str::FromStr;
use std::time::Duration;

use common::{field, inbound, write_file, Daemon};
use inbound::wallet::{start_wallet, WalletOptions};
use inbound_node::bitcoin::secp256k1::PublicKey;
use inbound_node::bitcoin::Network;
use inbound_node::BitcoindRpcConfig;
use inbound_regtest::Bcoin;
use lsps::lsps1::{CreateOrderRequest, GetInfoRequest, GetOrderRequest, OrderState};
use lsps::method::{Request, Response};
use lsps::schema::SatAmount;

const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
const ANSWER: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_lsps1_takes_orders() {
    let bcoin = Bcoin::start().await.expect("bcoin regtest node");
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("lsp");
    let config = write_file(
        dir.path(),
        "inbound.toml",
        &format!(
            "network = \"regtest\"\ndata_dir = {:?}\n[node]\nlisten = \"127.0.0.1:0\"\n\
             [chain]\nurl = {:?}\npoll_interval_secs = 1\n[lsps]\nenabled = [\"lsps1\", \"lsps2\"]\n\
             [lsps1]\nfee_base_sat = 2000\nmax_lsp_balance_sat = 5000000\n",
            data_dir.display().to_string(),
            bcoin.rpc_url()
        ),
    );
    let mut command = inbound();
    command.arg("serve").arg("--config").arg(&config);
    let mut daemon = Daemon::spawn(command);
    let line = daemon.wait_for_line("LSP started", START_TIMEOUT);
    let node_id = field(&line, "node_id").and_then(|id| PublicKey::from_str(id).ok()).expect("node_id=");
    let listen = field(&line, "listen").and_then(|address| address.parse().ok()).expect("listen=");
    assert!(daemon.log.iter().any(|line| line.contains("LSPS1 service running")), "{}", daemon.log.join("\n"));

    let mut wallets = Vec::new();
    for name in ["a", "b"] {
        let wallet = start_wallet(WalletOptions {
            data_dir: dir.path().join(name),
            network: Network::Regtest,
            alias: format!("wallet-{name}"),
            chain: BitcoindRpcConfig::new(bcoin.rpc_url()),
        })
        .await
        .expect("wallet node");
        wallet.node.connect_peer(node_id, listen, false).await.expect("connect to the daemon");
        wallets.push(wallet);
    }
    let call = |index: usize, request: Request| {
        let client = wallets[index].client.clone();
        async move { tokio::time::timeout(ANSWER, client.call(node_id, request)).await.expect("answer in time") }
    };
    let protocols = tokio::time::timeout(ANSWER, wallets[0].client.list_protocols(node_id)).await.expect("in time");
    assert_eq!(protocols, Ok(vec![1, 2]));
    let Ok(Response::Lsps1GetInfo(info)) = call(0, Request::Lsps1GetInfo(GetInfoRequest {})).await else {
        panic!("get_info")
    };
    assert_eq!(info.max_initial_lsp_balance_sat, SatAmount(5_000_000));
    let request = CreateOrderRequest {
        lsp_balance_sat: SatAmount(100_000),
        client_balance_sat: SatAmount(0),
        required_channel_confirmations: 0,
        funding_confirms_within_blocks: 6,
        channel_expiry_blocks: 144,
        token: None,
        refund_onchain_address: None,
        announce_channel: false,
    };
    let Ok(Response::Lsps1CreateOrder(order)) = call(0, Request::Lsps1CreateOrder(request)).await else {
        panic!("create_order")
    };
    assert_eq!(order.order_state, OrderState::Created);
    assert!(order.payment.bolt11.as_ref().is_some_and(|b| b.fee_total_sat.get() >= 2_000 + 500));
    let get = GetOrderRequest { order_id: order.order_id.clone() };
    let Ok(Response::Lsps1GetOrder(again)) = call(0, Request::Lsps1GetOrder(get.clone())).await else {
        panic!("get_order")
    };
    assert_eq!(again, order);
    match call(1, Request::Lsps1GetOrder(get)).await {
        Err(inbound_client::ClientError::LspRejected(error)) => assert_eq!(error.code, 101, "{error:?}"),
        other => panic!("another client's order must be 101 Not found: {other:?}"),
    }

    for wallet in &wallets {
        wallet.stop().await.expect("stop wallet");
    }
    daemon.terminate();
    let status = daemon.wait_exit(STOP_TIMEOUT);
    assert!(status.success(), "exit status {status}; log:\n{}", daemon.log.join("\n"));
}
