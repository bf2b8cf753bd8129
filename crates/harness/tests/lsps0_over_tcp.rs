//! LSPS0 between real LDK nodes over loopback TCP (BOLT8): discovery, and the LSP's answers to
//! malformed input.

mod common;

use std::time::Instant;

use common::*;
use inbound_harness::{Network, DEFAULT_TIMEOUT};
use inbound_node::{LspsSendError, NodeRole, MAX_LSPS_PAYLOAD_BYTES};
use inbound_service::LspsServerConfig;
use lsps::method::{Protocol, Request};
use serde_json::json;

/// Proves: a wallet's `list_protocols` reaches the LSP over a real connection and the answer is
/// the set the LSP serves (enabled *and* with a handler: LSPS1 is enabled without one), and a
/// request for a registered handler is dispatched asynchronously and answered over the wire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_protocols_over_tcp_answers_the_enabled_set() {
    let started = Instant::now();
    let network = Network::sim().await.expect("network");
    let config = LspsServerConfig {
        enabled_protocols: vec![Protocol::Lsps1, Protocol::Lsps2, Protocol::Lsps5],
        ..Default::default()
    };
    let handlers = vec![
        TestHandler::answering(Protocol::Lsps2) as std::sync::Arc<dyn inbound_service::ProtocolHandler>,
        TestHandler::answering(Protocol::Lsps5),
    ];
    let lsp = network.add_lsp_with("lsp", config, handlers).await.expect("lsp");
    let wallet = network.add_wallet("wallet").await.expect("wallet");
    network.connect(&wallet, &lsp).await.expect("connect");

    let protocols = wallet.client().list_protocols(lsp.node_id()).await.expect("list_protocols");
    assert_eq!(protocols, vec![2, 5]);
    let served: Vec<u16> = lsp.server().served_protocols().iter().map(|p| p.number()).collect();
    assert_eq!(protocols, served);

    let response = wallet
        .client()
        .call(lsp.node_id(), Request::Lsps5ListWebhooks(lsps::lsps5::ListWebhooksRequest {}))
        .await
        .expect("lsps5 answered by its handler");
    assert_eq!(response.to_value(), json!({"app_names": ["harness"], "max_webhooks": 1}));
    let rejected = wallet
        .client()
        .call(lsp.node_id(), Request::Lsps1GetInfo(lsps::lsps1::GetInfoRequest {}))
        .await
        .expect_err("LSPS1 has no handler");
    assert!(matches!(rejected, inbound_client::ClientError::LspRejected(e) if e.code == -32601));

    let stats = lsp.server().stats();
    assert_eq!((stats.requests, stats.answered, stats.parse_errors, stats.pending), (3, 3, 0, 0));
    network.shutdown().await.expect("shutdown");
    println!("list_protocols_over_tcp_answers_the_enabled_set took {:?}", started.elapsed());
}

/// Proves: every `lsps0.bad_message_format.*` vector, sent as a raw type-37913 payload over a
/// real connection, is answered with exactly the vector's expected response (-32700, `id: null`),
/// and so are a two-request JSON-RPC batch and a payload over 65,533 bytes. The oversized payload
/// cannot cross BOLT8 (the sender's transport refuses it, and LDK could not encrypt it), so it is
/// injected at the LSP's message handler, as the peer; the answer still travels the wire. After
/// all of it, the same connection still serves a valid `list_protocols`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_payloads_get_parse_error_and_the_connection_keeps_working() {
    let started = Instant::now();
    let network = Network::sim().await.expect("network");
    let lsp = network.add_lsp("lsp").await.expect("lsp");
    let peer = network.add_raw("raw-client", NodeRole::Wallet).await.expect("raw client");
    network.connect(&peer, &lsp).await.expect("connect");
    let (lsp_id, peer_id) = (lsp.node_id(), peer.node_id());

    let vectors = vectors("lsps0.bad_message_format.");
    assert!(vectors.len() >= 7, "found {} vectors", vectors.len());
    let mut expected = 0;
    for vector in &vectors {
        let payload = hex(vector["payload_hex"].as_str().expect("payload_hex"));
        peer.node().send_lsps_message(lsp_id, payload).expect("send vector");
        expected += 1;
        peer.raw().wait_for_count(expected, DEFAULT_TIMEOUT).await.expect("answer");
        let answer = parse(&peer.raw().payload(expected - 1).expect("recorded"));
        assert_eq!(answer, vector["expected_lsp_response"], "{}", vector["id"]);
    }

    let batch = format!(
        "[{},{}]",
        String::from_utf8(request("b1", "lsps0.list_protocols")).expect("utf8"),
        String::from_utf8(request("b2", "lsps0.list_protocols")).expect("utf8")
    );
    peer.node().send_lsps_message(lsp_id, batch.into_bytes()).expect("send batch");
    expected += 1;
    peer.raw().wait_for_count(expected, DEFAULT_TIMEOUT).await.expect("batch answer");
    assert_eq!(parse(&peer.raw().payload(expected - 1).expect("recorded")), parse_error());

    let oversized = [request("big", "lsps0.list_protocols"), vec![b' '; MAX_LSPS_PAYLOAD_BYTES]].concat();
    assert_eq!(
        peer.node().send_lsps_message(lsp_id, oversized.clone()),
        Err(LspsSendError::PayloadTooLarge { len_bytes: oversized.len() }),
        "the sender's transport refuses it"
    );
    lsp.server().on_message(peer_id, &oversized);
    expected += 1;
    peer.raw().wait_for_count(expected, DEFAULT_TIMEOUT).await.expect("oversized answer");
    assert_eq!(parse(&peer.raw().payload(expected - 1).expect("recorded")), parse_error());

    peer.node().send_lsps_message(lsp_id, request("ok", "lsps0.list_protocols")).expect("send valid");
    expected += 1;
    peer.raw().wait_for_count(expected, DEFAULT_TIMEOUT).await.expect("valid answer");
    let answer = parse(&peer.raw().payload(expected - 1).expect("recorded"));
    assert_eq!(answer, json!({"jsonrpc": "2.0", "id": "ok", "result": {"protocols": []}}));
    assert!(peer.node().connected_peers().contains(&lsp_id), "never disconnected");

    let stats = lsp.server().stats();
    let malformed = vectors.len() as u64 + 2;
    assert_eq!((stats.parse_errors, stats.answered, stats.dropped_sends), (malformed, malformed + 1, 0));
    network.shutdown().await.expect("shutdown");
    println!("malformed_payloads_get_parse_error_and_the_connection_keeps_working took {:?}", started.elapsed());
}
