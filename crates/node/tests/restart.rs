//! A node restarted from its data directory keeps its node id, its channel and its wallet.

mod common;

use std::time::Instant;

use common::*;
use inbound_node::{NodeRole, SimChain};

/// Proves: after a graceful stop and a rebuild from the same data directory (seed file, channel
/// manager, monitors, wallet changesets), the node id is unchanged, the channel is still there
/// with the same id and capacity, the wallet balance is unchanged, the node catches up on blocks
/// mined while it was down, and the channel becomes usable again once the peer reconnects
/// (through the reconnect loop, from the persisted address book).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_node_id_channel_and_wallet() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let chain = SimChain::new();
    chain.mine_blocks(1);
    let lsp = start_node(&dir.path().join("lsp"), "lsp", NodeRole::Lsp, &chain, true).await;
    let payer_dir = dir.path().join("payer");
    let payer = start_node(&payer_dir, "payer", NodeRole::Wallet, &chain, false).await;
    let lsp_id = lsp.node.node_id();

    fund_wallet(&chain, &payer.node, 1_000_000).await;
    let address = lsp.node.listening_address().expect("listening");
    payer.node.connect_peer(lsp_id, address, true).await.expect("connect");
    let channel_id = open_confirmed_channel(&chain, &payer, &lsp, 200_000, 7).await;

    let node_id_before = payer.node.node_id();
    let balance_before = payer.node.onchain_balance();
    assert!(balance_before.confirmed_sat + balance_before.trusted_pending_sat < 1_000_000 - 200_000 + 1);
    println!("channel open at {:?}", started.elapsed());
    payer.node.stop().await.expect("stop");
    drop(payer);
    println!("stopped at {:?}", started.elapsed());

    // Blocks arrive while the payer is down.
    chain.mine_blocks(3);

    let payer = start_node(&payer_dir, "payer", NodeRole::Wallet, &chain, false).await;
    assert_eq!(payer.node.node_id(), node_id_before, "node id survives the restart");
    let channels = payer.node.list_channels();
    assert_eq!(channels.len(), 1);
    assert_eq!(channels[0].channel_id, channel_id);
    assert_eq!(channels[0].channel_value_satoshis, 200_000);
    assert_eq!(channels[0].user_channel_id, 7);
    assert_eq!(payer.node.channel_manager().current_best_block().height, chain.tip().height);
    assert_eq!(payer.node.onchain_balance(), balance_before, "wallet survives the restart");

    println!("restarted at {:?}", started.elapsed());
    wait_until("reconnected", WAIT, || payer.node.connected_peers().contains(&lsp_id)).await;
    println!("reconnected at {:?}", started.elapsed());
    wait_until("reconnected and usable", WAIT, || payer.node.channel_manager().list_usable_channels().len() == 1).await;

    payer.node.stop().await.expect("stop payer");
    lsp.node.stop().await.expect("stop lsp");
    println!("restart_keeps_node_id_channel_and_wallet took {:?}", started.elapsed());
}
