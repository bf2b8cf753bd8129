//! The block poller follows a SimChain reorg.

mod common;

use common::*;
use inbound_node::{NodeRole, SimChain};

/// Proves: after the top blocks are replaced, every consumer is rewound to the fork point and
/// moved to the new tip (the channel manager's best block is the new tip's hash), and the wallet
/// still counts a payment whose block was reorged out and re-mined.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poller_follows_a_reorg() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chain = SimChain::new();
    chain.mine_blocks(3);
    let node = start_node(&dir.path().join("n"), "n", NodeRole::Wallet, &chain, false).await;
    fund_wallet(&chain, &node.node, 40_000).await;
    chain.mine_blocks(2);
    node.node.sync_chain().await.expect("sync");
    let old_tip = chain.tip();

    let new_tip = chain.reorg(3);
    assert_ne!(new_tip.block_hash, old_tip.block_hash);
    assert_eq!(new_tip.height, old_tip.height + 1);
    assert_eq!(node.node.sync_chain().await.expect("sync").block_hash, new_tip.block_hash);
    assert_eq!(node.node.channel_manager().current_best_block().block_hash, new_tip.block_hash);
    assert_eq!(node.node.wallet().best_block().block_hash, new_tip.block_hash);
    assert_eq!(node.node.onchain_balance().confirmed_sat, 40_000);
    node.node.stop().await.expect("stop");
}
