//! `BitcoindRpc`, the production Bitcoin Core chain source, against a real bcoin 1.0.2 regtest
//! node that the test starts itself (installing bcoin from npm on first use).

use std::sync::Arc;
use std::time::{Duration, Instant};

use inbound_node::bitcoin::Network;
use inbound_node::chain::{BlockFetcher, ChainSource, FALLBACK_FEE_RATE_SAT_PER_KWU};
use inbound_node::lightning::chain::chaininterface::ConfirmationTarget;
use inbound_node::lightning::util::logger::Level;
use inbound_node::{BitcoindRpc, BitcoindRpcConfig, NodeBuilder, NodeRole};
use inbound_regtest::{bcoin_address, Bcoin};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

/// Proves: against bcoin, the RPC client reads raw headers and blocks, falls back to 253 sat/kWU
/// when `estimatesmartfee` has no estimate, a node built on it catches up to the tip (its wallet
/// sees mined coinbase outputs), and a wallet transaction broadcast through the node reaches
/// bcoin's mempool and confirms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bitcoind_rpc_against_bcoin() {
    let bcoin = Bcoin::start().await.expect("bcoin regtest node");
    let url = bcoin.rpc_url().to_owned();
    let started = Instant::now();
    let mut rpc_config = BitcoindRpcConfig::new(url);
    rpc_config.poll_interval = Duration::from_millis(100);
    let rpc = Arc::new(BitcoindRpc::new(rpc_config).expect("rpc url"));

    // Raw genesis header decodes to the regtest genesis.
    let genesis = inbound_node::bitcoin::constants::genesis_block(Network::Regtest).block_hash();
    let header = rpc.get_header(&genesis).await.expect("getblockheader false");
    assert_eq!(header.block_hash(), genesis);
    rpc.update_fee_estimates().await.expect("fees");
    assert_eq!(rpc.fee_rate_sat_per_kwu(ConfirmationTarget::NonAnchorChannelFee), FALLBACK_FEE_RATE_SAT_PER_KWU);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut builder = NodeBuilder::new(dir.path());
    builder
        .set_network(Network::Regtest)
        .set_alias("bcoin-lsp")
        .set_role(NodeRole::Lsp)
        .set_listen_address(None)
        .set_log_level(Level::Warn)
        .set_chain_source(Arc::clone(&rpc) as Arc<dyn ChainSource>);
    let node = builder.build().await.expect("build on bcoin");
    node.start().await.expect("start");

    let address = node.new_onchain_address().expect("address");
    let mined = Instant::now();
    // Five coinbases that mature, a hundred blocks on top, then two that are still immature.
    bcoin.mine(5, Some(&address)).await.expect("mine to node");
    bcoin.mine(100, None).await.expect("mature");
    bcoin.mine(2, Some(&address)).await.expect("mine to node");
    let tip = rpc.get_best_block().await.expect("tip");
    println!("mined 107 blocks in {:?}", mined.elapsed());
    let synced = Instant::now();
    assert_eq!(node.sync_chain().await.expect("sync").height, tip.height);
    println!("node synced to {} in {:?}", tip.height, synced.elapsed());
    assert_eq!(node.channel_manager().current_best_block().block_hash, tip.block_hash);
    let balance = node.onchain_balance();
    assert!(balance.confirmed_sat > 0 && balance.immature_sat > 0, "coinbase outputs seen: {balance:?}");

    // A wallet spend goes out through the node's broadcaster and confirms.
    let destination = node.new_onchain_address().expect("address");
    let tx = node.wallet().build_send_transaction(&destination, 100_000, 253).expect("build tx");
    let txid = tx.compute_txid();
    node.broadcast_transaction(&tx);
    let deadline = Instant::now() + WAIT;
    loop {
        let mempool = rpc.call("getrawmempool", json!([])).await.expect("getrawmempool");
        if mempool.as_array().is_some_and(|txids| txids.iter().any(|t| t.as_str() == Some(&txid.to_string()))) {
            break;
        }
        assert!(Instant::now() < deadline, "transaction {txid} never reached bcoin's mempool");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    rpc.call("generatetoaddress", json!([1, bcoin_address(&destination).expect("segwit")])).await.expect("mine");
    node.sync_chain().await.expect("sync");
    let block_hash = rpc.get_best_block().await.expect("tip").block_hash;
    let block = BlockFetcher::block(&*rpc, &block_hash).await.expect("getblock 0");
    assert!(block.txdata.iter().any(|t| t.compute_txid() == txid), "mined");
    node.stop().await.expect("stop");
    println!("bitcoind_rpc_against_bcoin took {:?}", started.elapsed());
}
