//! `EsploraClient`, the Esplora HTTP chain source, end to end against a real bcoin 1.0.2 regtest
//! node that the test starts itself (installing bcoin from npm on first use).
//!
//! No esplora/electrs binary can be obtained in this environment, so the Esplora endpoints are
//! served by [`EsploraServer`], a thin in-process translation to bcoin's JSON-RPC under an `/api`
//! prefix: the HTTP server under test is ours; the blocks, headers, hashes, transaction
//! validation and mempool are bcoin's, and every answer is validated by the client as it would
//! validate electrs or mempool.space.

use std::sync::Arc;
use std::time::{Duration, Instant};

use inbound_node::bitcoin::Network;
use inbound_node::chain::{ChainSource, FALLBACK_FEE_RATE_SAT_PER_KWU};
use inbound_node::lightning::chain::chaininterface::ConfirmationTarget;
use inbound_node::lightning::util::logger::Level;
use inbound_node::{EsploraClient, EsploraConfig, NodeBuilder, NodeRole};
use inbound_regtest::{Bcoin, EsploraServer};

const WAIT: Duration = Duration::from_secs(30);

/// Proves: over the Esplora API with bcoin behind it, the client reads the tip, raw headers and
/// binary blocks (answering `None` beyond the tip), falls back to 253 sat/kWU when there are no
/// fee estimates, a node built on it catches up to bcoin's tip and sees its coinbase outputs
/// mature into a spendable balance, and a wallet transaction broadcast through the node goes out
/// as `POST /tx`, reaches bcoin's mempool and confirms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn esplora_client_against_bcoin() {
    let bcoin = Bcoin::start().await.expect("bcoin regtest node");
    let started = Instant::now();
    let server = EsploraServer::start(bcoin.rpc_url(), "/api").await.expect("esplora server");
    let mut config = EsploraConfig::new(server.url());
    config.poll_interval = Duration::from_millis(100);
    let esplora = Arc::new(EsploraClient::new(config).expect("esplora url"));

    let tip = esplora.get_best_block().await.expect("tip");
    assert_eq!(tip, bcoin.rpc().get_best_block().await.expect("rpc tip"));
    let genesis = inbound_node::bitcoin::constants::genesis_block(Network::Regtest).block_hash();
    assert_eq!(esplora.get_block_hash(0).await.expect("height 0"), Some(genesis));
    assert_eq!(esplora.get_header(&genesis).await.expect("header").block_hash(), genesis);
    assert_eq!(esplora.get_block(&tip.block_hash).await.expect("raw block").block_hash(), tip.block_hash);
    assert_eq!(esplora.get_block_hash(tip.height + 1).await.expect("beyond the tip"), None);
    esplora.update_fee_estimates().await.expect("fees");
    assert_eq!(esplora.fee_rate_sat_per_kwu(ConfirmationTarget::NonAnchorChannelFee), FALLBACK_FEE_RATE_SAT_PER_KWU);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut builder = NodeBuilder::new(dir.path());
    builder
        .set_network(Network::Regtest)
        .set_alias("esplora-lsp")
        .set_role(NodeRole::Lsp)
        .set_listen_address(None)
        .set_log_level(Level::Warn)
        .set_chain_source(Arc::clone(&esplora) as Arc<dyn ChainSource>);
    let node = builder.build().await.expect("build on esplora");
    node.start().await.expect("start");

    let address = node.new_onchain_address().expect("address");
    let mined = Instant::now();
    // Five coinbases that mature under a hundred blocks, then two that are still immature.
    bcoin.mine(5, Some(&address)).await.expect("mine to node");
    bcoin.mine(100, None).await.expect("mature");
    bcoin.mine(2, Some(&address)).await.expect("mine to node");
    let tip = bcoin.rpc().get_best_block().await.expect("tip");
    println!("mined 107 blocks in {:?}", mined.elapsed());
    let synced = Instant::now();
    assert_eq!(node.sync_chain().await.expect("sync").height, tip.height);
    println!("node synced to {} over esplora in {:?}", tip.height, synced.elapsed());
    assert_eq!(node.channel_manager().current_best_block().block_hash, tip.block_hash);
    let balance = node.onchain_balance();
    assert!(balance.confirmed_sat > 0 && balance.immature_sat > 0, "coinbase outputs seen: {balance:?}");

    // A wallet spend goes out through the node's broadcaster as POST /tx and confirms.
    let destination = node.new_onchain_address().expect("address");
    let tx = node.wallet().build_send_transaction(&destination, 100_000, 253).expect("build tx");
    let txid = tx.compute_txid();
    node.broadcast_transaction(&tx);
    let deadline = Instant::now() + WAIT;
    while !bcoin.mempool().await.expect("mempool").contains(&txid) {
        assert!(Instant::now() < deadline, "transaction {txid} never reached bcoin's mempool");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(server.requests().iter().any(|request| request == "POST /api/tx"), "broadcast went through POST /tx");
    // Broadcasting it again is not an error (bcoin's sendrawtransaction accepts duplicates).
    esplora.broadcast(&tx).await.expect("rebroadcast");

    // The unconfirmed payment is visible with its fee, over Esplora and over bcoin's JSON-RPC
    // (getrawmempool, getrawtransaction on the index-tx node for the confirmed parents).
    let scripts = [destination.script_pubkey()];
    let over_esplora = esplora.mempool_payments(&scripts).await.expect("esplora mempool");
    let over_rpc = bcoin.rpc().mempool_payments(&scripts).await.expect("rpc mempool");
    assert_eq!(over_esplora, over_rpc);
    assert_eq!(over_esplora.len(), 1, "{over_esplora:?}");
    let payment = &over_esplora[0];
    assert_eq!((payment.txid, payment.value_sat), (txid, 100_000));
    let rate = payment.fee_rate_sat_per_kwu().expect("the fee is known");
    assert!((253..300).contains(&rate), "paid at about 253 sat/kWU: {rate}");
    assert!(server.requests().iter().any(|request| request.starts_with("GET /api/scripthash/")));

    bcoin.mine(1, None).await.expect("mine");
    let tip = node.sync_chain().await.expect("sync");
    let block = esplora.get_block(&tip.block_hash).await.expect("raw block");
    assert!(block.txdata.iter().any(|t| t.compute_txid() == txid), "mined");
    assert!(!bcoin.mempool().await.expect("mempool").contains(&txid));
    assert!(esplora.mempool_payments(&scripts).await.expect("esplora mempool").is_empty(), "confirmed");
    node.stop().await.expect("stop");
    println!("esplora_client_against_bcoin took {:?} after bcoin started", started.elapsed());
}
