//! The wallet's LSPS0 client against an LSP that sends garbage, over a real connection.

mod common;

use std::time::Instant;

use common::*;
use inbound_client::ClientError;
use inbound_harness::{Network, DEFAULT_TIMEOUT};
use inbound_node::NodeRole;
use serde_json::json;

/// Proves: when the LSP (played by a raw node advertising bit 729) answers with a malformed
/// payload, the pending call fails with `Muted`, the LSP stays muted (further calls fail at once
/// and send nothing; even well-formed answers are dropped) until the connection is dropped, and
/// after reconnecting the client talks to it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_lsp_that_sends_garbage_is_muted_until_reconnect() {
    let started = Instant::now();
    let network = Network::sim().await.expect("network");
    let bad_lsp = network.add_raw("bad-lsp", NodeRole::Lsp).await.expect("bad lsp");
    let wallet = network.add_wallet("wallet").await.expect("wallet");
    network.connect(&wallet, &bad_lsp).await.expect("connect");
    let (bad_id, wallet_id) = (bad_lsp.node_id(), wallet.node_id());
    assert_eq!(bad_lsp.raw().connected_as(&wallet_id), Some(false), "the wallet does not advertise bit 729");

    let client = std::sync::Arc::clone(wallet.client());
    let call = tokio::spawn(async move { client.list_protocols(bad_id).await });
    bad_lsp.raw().wait_for_count(1, DEFAULT_TIMEOUT).await.expect("request arrived");
    let first = parse(&bad_lsp.raw().payload(0).expect("recorded"));
    assert_eq!(first["method"], "lsps0.list_protocols");
    let first_id = first["id"].as_str().expect("string id").to_owned();
    assert_eq!(first_id.len(), 32, "128 random bits, hex");

    bad_lsp.node().send_lsps_message(wallet_id, b"{\"jsonrpc\":\"2.0\",\"id\":".to_vec()).expect("send garbage");
    assert_eq!(call.await.expect("task"), Err(ClientError::Muted));
    assert!(wallet.client().is_muted(&bad_id));
    assert_eq!(wallet.client().list_protocols(bad_id).await, Err(ClientError::Muted), "fails fast");

    // A well-formed answer now is dropped too; the client stays muted.
    let late = serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": first_id, "result": {"protocols": [1]}}));
    bad_lsp.node().send_lsps_message(wallet_id, late.expect("json")).expect("send");
    assert_eq!(wallet.client().list_protocols(bad_id).await, Err(ClientError::Muted));
    assert!(wallet.client().is_muted(&bad_id));

    network.disconnect(&wallet, &bad_lsp).await.expect("disconnect");
    assert!(!wallet.client().is_muted(&bad_id), "a disconnect clears the mute");
    network.connect(&wallet, &bad_lsp).await.expect("reconnect");

    let client = std::sync::Arc::clone(wallet.client());
    let call = tokio::spawn(async move { client.list_protocols(bad_id).await });
    bad_lsp.raw().wait_for_count(2, DEFAULT_TIMEOUT).await.expect("second request arrived");
    assert_eq!(bad_lsp.raw().count(), 2, "nothing was sent while muted");
    let second = parse(&bad_lsp.raw().payload(1).expect("recorded"));
    let second_id = second["id"].as_str().expect("string id");
    assert_ne!(second_id, first_id);
    let answer = serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": second_id, "result": {"protocols": [1, 2]}}));
    bad_lsp.node().send_lsps_message(wallet_id, answer.expect("json")).expect("send answer");
    assert_eq!(call.await.expect("task"), Ok(vec![1, 2]));

    network.shutdown().await.expect("shutdown");
    println!("an_lsp_that_sends_garbage_is_muted_until_reconnect took {:?}", started.elapsed());
}
