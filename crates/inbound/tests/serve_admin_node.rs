//! Node operations through `inbound admin` on a real `inbound serve` and bcoin: fund the LSP at
//! a fresh address, open a channel to a wallet, refuse a forced close without its confirmation,
//! close it cooperatively, force-close a second one with the confirmation, and withdraw to the
//! wallet's address.

mod common;

use std::time::{Duration, Instant};

use common::lsp::{regtest_config, Serve, WAIT};
use inbound::wallet::{start_wallet, WalletOptions};
use inbound_node::bitcoin::Network;
use inbound_node::BitcoindRpcConfig;
use inbound_regtest::Bcoin;

const STOP_TIMEOUT: Duration = Duration::from_secs(30);

async fn in_mempool(bcoin: &Bcoin, txid: inbound_node::bitcoin::Txid) {
    let deadline = Instant::now() + WAIT;
    while !bcoin.mempool().await.expect("mempool").contains(&txid) {
        assert!(Instant::now() < deadline, "{txid} never reached the mempool");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_funds_opens_closes_and_withdraws_through_the_cli() {
    let bcoin = Bcoin::start().await.expect("bcoin regtest node");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = regtest_config(dir.path(), bcoin.rpc_url(), "");
    let mut lsp = Serve::start(dir.path(), &config);
    let (node_id, listen) = (lsp.node_id, lsp.listen);

    // Fund the LSP at a fresh address of its wallet.
    lsp.fund(&bcoin).await;

    // A wallet connects; the operator opens a channel to it.
    let wallet = start_wallet(WalletOptions {
        data_dir: dir.path().join("wallet"),
        network: Network::Regtest,
        alias: "wallet".into(),
        chain: BitcoindRpcConfig::new(bcoin.rpc_url()),
    })
    .await
    .expect("wallet node");
    wallet.node.connect_peer(node_id, listen, false).await.expect("connect to the LSP");
    let peer = wallet.node.node_id().to_string();
    let opened = lsp.admin_json(&["open-channel", &peer, "--amount-sat", "200000", "--push-msat", "5000000"]);
    assert!(opened["user_channel_id"].as_str().is_some(), "{opened}");
    let pending = lsp
        .wait_for(&["channels"], "the funding to be published", |channels| channels[0]["funding_outpoint"].is_string())
        .await;
    assert_eq!(pending[0]["capacity_sat"], 200_000);
    assert_eq!(pending[0]["peer"], peer.as_str());
    assert_eq!(pending[0]["public"], false);
    let funding = pending[0]["funding_outpoint"].as_str().and_then(|outpoint| outpoint.split(':').next());
    let funding: inbound_node::bitcoin::Txid = funding.expect("outpoint").parse().expect("a txid");
    in_mempool(&bcoin, funding).await;
    bcoin.mine(6, None).await.expect("confirm the funding");
    let usable =
        lsp.wait_for(&["channels"], "the channel to be usable", |channels| channels[0]["state"] == "usable").await;
    let channel_id = usable[0]["channel_id"].as_str().expect("channel id").to_owned();
    let inbound_msat = usable[0]["inbound_msat"].as_u64().expect("inbound");
    assert!(inbound_msat > 0 && inbound_msat <= 5_000_000, "the push is the wallet's: {usable}");

    // A forced close needs its confirmation; a cooperative close goes through.
    let unconfirmed = lsp.admin(&["close-channel", &channel_id, "--force"]);
    assert_eq!(unconfirmed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unconfirmed.stderr).contains("force-close"), "{unconfirmed:?}");
    let unknown = lsp.admin(&["close-channel", &"00".repeat(32)]);
    assert_eq!(unknown.status.code(), Some(1));
    let closing = lsp.admin_json(&["close-channel", &channel_id]);
    assert_eq!(closing["closing"], true);
    lsp.wait_for(&["channels"], "the channel to close", |channels| channels.as_array().is_some_and(Vec::is_empty))
        .await;

    // A second channel, force-closed with the confirmation: it is gone at once and the LSP's
    // commitment transaction is broadcast.
    let before = bcoin.mempool().await.expect("mempool").len();
    lsp.admin_json(&["open-channel", &peer, "--amount-sat", "100000"]);
    let pending =
        lsp.wait_for(&["channels"], "the second funding", |channels| channels[0]["funding_outpoint"].is_string()).await;
    let funding = pending[0]["funding_outpoint"].as_str().and_then(|outpoint| outpoint.split(':').next());
    in_mempool(&bcoin, funding.expect("outpoint").parse().expect("a txid")).await;
    bcoin.mine(6, None).await.expect("confirm the funding");
    let usable = lsp
        .wait_for(&["channels"], "the second channel to be usable", |channels| channels[0]["state"] == "usable")
        .await;
    let second = usable[0]["channel_id"].as_str().expect("channel id").to_owned();
    let forced = lsp.admin_json(&["close-channel", &second, "--force", "--yes-force-close"]);
    assert_eq!((forced["closing"].clone(), forced["force"].clone()), (true.into(), true.into()), "{forced}");
    lsp.wait_for(&["channels"], "the forced close", |channels| channels.as_array().is_some_and(Vec::is_empty)).await;
    let deadline = Instant::now() + WAIT;
    while bcoin.mempool().await.expect("mempool").len() <= before {
        assert!(Instant::now() < deadline, "no commitment transaction was broadcast");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Withdraw to the wallet: the transaction reaches the mempool; another network's address
    // and more than the wallet holds are refused.
    let to = wallet.node.new_onchain_address().expect("wallet address").to_string();
    let mainnet = lsp.admin(&["send", "bc1qgnqkxgyrwjcsc9ey68ysqntfh5tkmzse0wraan", "--amount-sat", "1000"]);
    assert_eq!(mainnet.status.code(), Some(1), "{}", String::from_utf8_lossy(&mainnet.stderr));
    let too_much = lsp.admin(&["send", &to, "--amount-sat", "100000000000"]);
    assert!(String::from_utf8_lossy(&too_much.stderr).contains("422"), "{}", String::from_utf8_lossy(&too_much.stderr));
    let sent = lsp.admin_json(&["send", &to, "--amount-sat", "50000", "--fee-rate", "2"]);
    let txid: inbound_node::bitcoin::Txid = sent["txid"].as_str().expect("txid").parse().expect("a txid");
    in_mempool(&bcoin, txid).await;

    wallet.stop().await.expect("stop wallet");
    lsp.daemon.terminate();
    let status = lsp.daemon.wait_exit(STOP_TIMEOUT);
    let log = lsp.daemon.log.join("\n");
    assert!(status.success(), "exit status {status}; log:\n{log}");
    assert!(log.contains("admin API: opening a channel"), "{log}");
}
