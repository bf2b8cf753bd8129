//! Two nodes over loopback TCP on a SimChain exchange raw LSPS0 (type 37913) messages.

mod common;

use std::time::Instant;

use common::*;
use inbound_node::{LspsSendError, NodeRole, SimChain, MAX_LSPS_PAYLOAD_BYTES};

/// Proves: the init exchange reports feature bit 729 (set by the LSP only); a request goes
/// client → LSP and a response LSP → client byte for byte; a 65,534-byte payload is refused and
/// logged without being sent, while a maximal 65,533-byte payload and later messages still flow
/// over the same connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lsps0_raw_round_trip_and_size_limit() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let (lsp, client) = connected_pair(dir.path()).await;
    let (lsp_id, client_id) = (lsp.node.node_id(), client.node.node_id());
    assert_eq!(client.lsps.connected_as(&lsp_id), Some(true), "LSP advertises bit 729");
    assert_eq!(lsp.lsps.connected_as(&client_id), Some(false), "client does not");

    // Client -> LSP: raw bytes arrive untouched (including whitespace; nothing is parsed).
    let request =
        b" {\"jsonrpc\":\"2.0\",\"id\":\"3f1a9c\",\"method\":\"lsps0.list_protocols\",\"params\":{}} ".to_vec();
    client.node.send_lsps_message(lsp_id, request.clone()).expect("send request");
    wait_until("LSP got the request", WAIT, || !lsp.lsps.messages().is_empty()).await;
    assert_eq!(lsp.lsps.messages(), vec![(client_id, request)]);

    // LSP -> client.
    let response = b"{\"jsonrpc\":\"2.0\",\"id\":\"3f1a9c\",\"result\":{\"protocols\":[2]}}".to_vec();
    lsp.node.send_lsps_message(client_id, response.clone()).expect("send response");
    wait_until("client got the response", WAIT, || !client.lsps.messages().is_empty()).await;
    assert_eq!(client.lsps.messages(), vec![(lsp_id, response)]);

    // One byte over the limit: refused, nothing queued.
    let too_big = vec![b' '; MAX_LSPS_PAYLOAD_BYTES + 1];
    assert_eq!(too_big.len(), 65_534);
    assert_eq!(
        lsp.node.send_lsps_message(client_id, too_big),
        Err(LspsSendError::PayloadTooLarge { len_bytes: 65_534 })
    );
    assert_eq!(lsp.node.lsps_transport().queued_messages(), 0);

    // Exactly the limit still goes through, and so does a normal message after it.
    let maximal = vec![b'x'; MAX_LSPS_PAYLOAD_BYTES];
    lsp.node.send_lsps_message(client_id, maximal.clone()).expect("send maximal");
    lsp.node.send_lsps_message(client_id, b"{}".to_vec()).expect("send after");
    wait_until("client got both", WAIT, || client.lsps.messages().len() == 3).await;
    let received = client.lsps.messages();
    assert_eq!(received[1].1, maximal);
    assert_eq!(received[2].1, b"{}".to_vec());
    assert!(client.node.connected_peers().contains(&lsp_id), "connection survived");
    assert!(lsp.lsps.disconnected.lock().expect("lock").is_empty());

    // Sending to a peer that is not connected is refused.
    client.node.disconnect_peer(lsp_id);
    wait_until("LSP saw the disconnect", WAIT, || !lsp.lsps.disconnected.lock().expect("lock").is_empty()).await;
    assert_eq!(lsp.node.send_lsps_message(client_id, b"{}".to_vec()), Err(LspsSendError::PeerNotConnected));

    client.node.stop().await.expect("stop client");
    lsp.node.stop().await.expect("stop lsp");
    println!("lsps0_raw_round_trip_and_size_limit took {:?}", started.elapsed());
}

/// Proves the peer socket driver under back-pressure: each node in turn sends 160 maximal
/// payloads (10 MiB, more than the kernel's socket buffers hold) at once, so writes come back
/// short and wait for space. Every payload arrives, intact and in order, and the connection
/// survives.
///
/// Not both directions at the same moment: LDK's `PeerManager` stops reading from a peer while
/// its outbound buffer to that peer is full, so two peers flooding each other both stop reading
/// and stall (lightning-net-tokio shows the same); the LSP only ever answers requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_larger_than_the_socket_buffers_arrives_whole_each_way() {
    const COUNT: usize = 160;
    let dir = tempfile::tempdir().expect("tempdir");
    let (lsp, client) = connected_pair(dir.path()).await;
    let (lsp_id, client_id) = (lsp.node.node_id(), client.node.node_id());

    send_all(&lsp.node, client_id, 1, COUNT).await;
    wait_until("all payloads reached the client", WAIT * 2, || client.lsps.messages().len() == COUNT).await;
    send_all(&client.node, lsp_id, 2, COUNT).await;
    wait_until("all payloads reached the LSP", WAIT * 2, || lsp.lsps.messages().len() == COUNT).await;
    for (received, from) in [(client.lsps.messages(), 1u8), (lsp.lsps.messages(), 2u8)] {
        for (index, (_, bytes)) in received.iter().enumerate() {
            assert!(*bytes == payload(from, index), "payload {index} from node {from} arrived intact and in order");
        }
    }
    assert!(client.node.connected_peers().contains(&lsp_id), "connection survived");
    assert!(lsp.lsps.disconnected.lock().expect("lock").is_empty());

    client.node.stop().await.expect("stop client");
    lsp.node.stop().await.expect("stop lsp");
}

/// The `index`-th burst payload from node `from`: maximal, and different for every index.
fn payload(from: u8, index: usize) -> Vec<u8> {
    let mut bytes = vec![from.wrapping_add(index as u8); MAX_LSPS_PAYLOAD_BYTES];
    bytes[..8].copy_from_slice(&(index as u64).to_be_bytes());
    bytes
}

/// Sends `count` burst payloads to `to`, waiting for room when the transport's queue is full
/// (it bounds what waits per peer), as a real sender would.
async fn send_all(node: &inbound_node::Node, to: bitcoin::secp256k1::PublicKey, from: u8, count: usize) {
    for index in 0..count {
        loop {
            match node.send_lsps_message(to, payload(from, index)) {
                Ok(()) => break,
                Err(LspsSendError::PeerQueueFull { .. } | LspsSendError::TotalQueueFull { .. }) => {
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await
                }
                Err(other) => panic!("send {index}: {other:?}"),
            }
        }
    }
}

/// An LSP and a wallet node on a fresh SimChain in `dir`, the wallet connected to the LSP and the
/// `init` exchange seen on both sides.
async fn connected_pair(dir: &std::path::Path) -> (TestNode, TestNode) {
    let chain = SimChain::new();
    chain.mine_blocks(1);
    let lsp = start_node(&dir.join("lsp"), "lsp", NodeRole::Lsp, &chain, true).await;
    let client = start_node(&dir.join("client"), "client", NodeRole::Wallet, &chain, false).await;
    let (lsp_id, client_id) = (lsp.node.node_id(), client.node.node_id());
    let address = lsp.node.listening_address().expect("listening");
    client.node.connect_peer(lsp_id, address, false).await.expect("connect");
    wait_until("both sides saw init", WAIT, || {
        lsp.lsps.connected_as(&client_id).is_some() && client.lsps.connected_as(&lsp_id).is_some()
    })
    .await;
    (lsp, client)
}
