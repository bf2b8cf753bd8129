//! One peer floods the LSP with 10,000 requests over a real connection.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use inbound_harness::{wait_until, Network, DEFAULT_TIMEOUT};
use inbound_node::config::{DEFAULT_LSPS_MAX_QUEUED_PER_PEER, DEFAULT_LSPS_MAX_QUEUED_TOTAL};
use inbound_node::{LspsSendError, NodeRole};
use inbound_service::{LspsServerConfig, ProtocolHandler, TOO_MANY_PENDING_CODE};
use lsps::method::Protocol;

const FLOOD: usize = 10_000;

/// Resident set size of this process, from /proc (Linux only; `None` elsewhere).
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Proves: 10,000 LSPS5 requests from one peer, whose handler never finishes during the flood,
/// leave at most `max_pending_per_peer` requests in flight (the rest are answered at once with
/// -32000 and never processed), the LSP's outbound queue stays within its bounds, answers that
/// do not fit are counted as dropped rather than blocking, and another peer's `list_protocols`
/// is answered promptly during the flood. Opening the gate then drains every pending request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_peer_stays_within_caps_and_others_are_served() {
    let started = Instant::now();
    let network = Network::sim().await.expect("network");
    let (handler, gate) = TestHandler::gated();
    let config = LspsServerConfig { enabled_protocols: vec![Protocol::Lsps5], ..Default::default() };
    let lsp =
        network.add_lsp_with("lsp", config.clone(), vec![handler as Arc<dyn ProtocolHandler>]).await.expect("lsp");
    let flooder = network.add_raw("flooder", NodeRole::Wallet).await.expect("flooder");
    let wallet = network.add_wallet("wallet").await.expect("wallet");
    network.connect(&flooder, &lsp).await.expect("connect flooder");
    network.connect(&wallet, &lsp).await.expect("connect wallet");
    let (lsp_id, flooder_id) = (lsp.node_id(), flooder.node_id());
    let rss_before = rss_bytes();

    let flood = {
        let node = flooder.node();
        tokio::spawn(async move {
            for index in 0..FLOOD {
                let payload = request(&format!("flood-{index}"), "lsps5.list_webhooks");
                loop {
                    match node.send_lsps_message(lsp_id, payload.clone()) {
                        Ok(()) => break,
                        Err(LspsSendError::PeerQueueFull { .. } | LspsSendError::TotalQueueFull { .. }) => {
                            tokio::task::yield_now().await
                        }
                        Err(error) => panic!("flood send failed: {error}"),
                    }
                }
            }
        })
    };

    // Another peer during the flood.
    wait_until("flood under way", DEFAULT_TIMEOUT, || lsp.server().stats().requests > 1_000).await.expect("flood");
    let asked = Instant::now();
    let protocols = wallet.client().list_protocols(lsp_id).await.expect("answered during the flood");
    let during_flood = asked.elapsed();
    assert_eq!(protocols, vec![5]);

    flood.await.expect("flood task");
    let lsp_node = lsp.node();
    let mut peak_queue = 0;
    wait_until("LSP received the whole flood", Duration::from_secs(25), || {
        peak_queue = peak_queue.max(lsp_node.lsps_transport().queued_messages());
        lsp.server().stats().requests > FLOOD as u64 // the flood plus the wallet's call
    })
    .await
    .expect("flood received");
    let stats = lsp.server().stats();
    println!("after the flood: {stats:?}, peak outbound queue seen {peak_queue}");
    assert_eq!(stats.pending, config.max_pending_per_peer, "the gate is closed: a full per-peer cap");
    assert_eq!(lsp.server().pending_for(&flooder_id), config.max_pending_per_peer);
    assert!(stats.peak_pending <= config.max_pending_per_peer && stats.peak_pending <= config.max_pending_total);
    assert_eq!(stats.rejected_over_limit, (FLOOD - config.max_pending_per_peer) as u64);
    assert_eq!(stats.parse_errors, 0);
    assert_eq!(stats.answered + stats.dropped_sends + stats.pending as u64, stats.requests, "nothing unaccounted");
    assert!(peak_queue <= DEFAULT_LSPS_MAX_QUEUED_TOTAL.min(DEFAULT_LSPS_MAX_QUEUED_PER_PEER * 2));

    // Refusals that reached the flooder carry the documented code.
    flooder.raw().wait_for_count(1, DEFAULT_TIMEOUT).await.expect("some answers arrived");
    let first = parse(&flooder.raw().payload(0).expect("recorded"));
    assert_eq!(first["error"]["code"], TOO_MANY_PENDING_CODE);

    // Still prompt after the flood.
    let asked = Instant::now();
    assert_eq!(wallet.client().list_protocols(lsp_id).await.expect("answered after the flood"), vec![5]);
    let after_flood = asked.elapsed();

    gate.add_permits(config.max_pending_per_peer);
    wait_until("pending requests drained", DEFAULT_TIMEOUT, || lsp.server().stats().pending == 0).await.expect("drain");
    let final_stats = lsp.server().stats();
    assert_eq!(final_stats.peers_with_pending, 0);
    assert_eq!(final_stats.answered + final_stats.dropped_sends, final_stats.requests);

    let rss_after = rss_bytes();
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        println!("RSS delta over the flood: {} KiB", (after as i64 - before as i64) / 1024);
    }
    println!("list_protocols during the flood: {during_flood:?}, after: {after_flood:?}");
    assert!(during_flood < Duration::from_secs(5), "another peer waited {during_flood:?}");
    assert!(after_flood < Duration::from_secs(1), "another peer waited {after_flood:?}");
    network.shutdown().await.expect("shutdown");
    println!("a_flood_from_one_peer_stays_within_caps_and_others_are_served took {:?}", started.elapsed());
}
