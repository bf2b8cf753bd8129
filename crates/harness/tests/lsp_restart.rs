//! The LSP restarted from its data directory.

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::*;
use inbound_harness::{wait_until, Network, DEFAULT_TIMEOUT};
use inbound_node::lightning::events::Event;
use inbound_service::{LspsServerConfig, ProtocolHandler};
use lsps::method::Protocol;

/// Proves: after a payer opened a channel to the LSP and paid it, a graceful stop and a rebuild
/// of the LSP from the same data directory (same listening address) keeps its node id and its
/// channel (id, capacity, balance); the payer's reconnect loop reconnects; the same
/// `LspsServer`, re-attached to the new node, answers LSPS0; and a second payment flows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_lsp_keeps_node_id_and_channels() {
    let started = Instant::now();
    let network = Network::sim().await.expect("network");
    let config = LspsServerConfig { enabled_protocols: vec![Protocol::Lsps5], ..Default::default() };
    let handlers = vec![TestHandler::answering(Protocol::Lsps5) as Arc<dyn ProtocolHandler>];
    let lsp = network.add_lsp_with("lsp", config, handlers).await.expect("lsp");
    let payer = network.add_wallet("payer").await.expect("payer");
    network.fund(&payer, 1_000_000).await.expect("fund");
    network.connect(&payer, &lsp).await.expect("connect");
    let channel_id = network.open_channel(&payer, &lsp, 400_000, 0).await.expect("channel");
    payer.pay(&lsp.invoice(25_000_000).expect("invoice")).await.expect("first payment");
    lsp.wait_for_event("PaymentClaimed", DEFAULT_TIMEOUT, |e| matches!(e, Event::PaymentClaimed { .. }))
        .await
        .expect("claimed");
    let lsp_node = lsp.node();
    wait_until("LSP balance settled", DEFAULT_TIMEOUT, || {
        lsp_node.list_channels().first().is_some_and(|c| c.outbound_capacity_msat > 0)
    })
    .await
    .expect("settled");
    drop(lsp_node);
    let node_id = lsp.node_id();
    let before = lsp.node().list_channels();
    assert_eq!(before.len(), 1);
    let address = lsp.address();
    println!("channel open and paid at {:?}", started.elapsed());

    network.restart(&lsp).await.expect("restart");
    assert_eq!(lsp.node_id(), node_id, "node id survives the restart");
    assert_eq!(lsp.address(), address, "same listening address");
    let after = lsp.node().list_channels();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].channel_id, channel_id);
    assert_eq!(after[0].channel_value_satoshis, 400_000);
    assert_eq!(after[0].user_channel_id, before[0].user_channel_id);
    assert_eq!(after[0].outbound_capacity_msat, before[0].outbound_capacity_msat);
    println!("restarted at {:?}", started.elapsed());

    let (lsp_node, payer_node) = (lsp.node(), payer.node());
    wait_until("channel usable again after reconnect", DEFAULT_TIMEOUT, || {
        payer_node.channel_manager().list_usable_channels().len() == 1
            && lsp_node.channel_manager().list_usable_channels().len() == 1
    })
    .await
    .expect("reconnected");
    println!("reconnected at {:?}", started.elapsed());
    assert_eq!(payer.client().list_protocols(node_id).await.expect("LSPS0 after restart"), vec![5]);
    payer.pay(&lsp.invoice(5_000_000).expect("invoice")).await.expect("payment after restart");

    network.shutdown().await.expect("shutdown");
    println!("restarted_lsp_keeps_node_id_and_channels took {:?}", started.elapsed());
}
