//! The wallet's LSPS1 client between real LDK nodes: over the BOLT8 connection (LSPS0) and over
//! real HTTP to the same LSP's `LspsServer`, signed with the wallet node's own key, so the LSP
//! sees the same node id either way. The LSP's LSPS1 handler answers from the spec vectors (the
//! real LSPS1 service lives in `inbound-service` once merged).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bitcoin::secp256k1::PublicKey;
use inbound_client::lsps1::{HttpTransport, Lsps1Client, PeerTransport, Progress, Transport};
use inbound_harness::Network;
use inbound_http::{HttpConfig, HttpState};
use inbound_service::{BoxFuture, LspsServerConfig, ProtocolHandler};
use lsps::jsonrpc::RpcError;
use lsps::lsps1::{CreateOrderRequest, Order, OrderState};
use lsps::method::{Method, Protocol, Request, Response};
use serde_json::Value;

fn vector(id: &str) -> Value {
    let vectors: Value = serde_json::from_str(include_str!("../../lsps/tests/vectors.json")).expect("vectors");
    vectors["vectors"].as_array().expect("array").iter().find(|v| v["id"] == id).cloned().expect(id)
}

fn order_of(id: &str) -> Order {
    serde_json::from_value(vector(id)["response"]["result"].clone()).expect("order")
}

/// Answers LSPS1 from the vectors; `get_order` walks `queue` then repeats its last answer.
#[derive(Default)]
struct VectorLsps1 {
    peers: Mutex<Vec<PublicKey>>,
    queue: Mutex<VecDeque<Order>>,
    last: Mutex<Option<Order>>,
}

impl ProtocolHandler for VectorLsps1 {
    fn protocol(&self) -> Protocol {
        Protocol::Lsps1
    }

    fn handle(&self, peer: PublicKey, request: Request) -> BoxFuture<'static, Result<Response, RpcError>> {
        self.peers.lock().unwrap().push(peer);
        let answer = match request {
            Request::Lsps1GetInfo(_) => {
                Response::decode(Method::Lsps1GetInfo, vector("lsps1.get_info.ok")["response"]["result"].clone())
                    .map_err(|_| RpcError::internal_error())
            }
            Request::Lsps1CreateOrder(_) => Ok(Response::Lsps1CreateOrder(order_of("lsps1.create_order.ok"))),
            Request::Lsps1GetOrder(_) => {
                let next = self.queue.lock().unwrap().pop_front();
                let mut last = self.last.lock().unwrap();
                if next.is_some() {
                    *last = next;
                }
                Ok(Response::Lsps1GetOrder(last.clone().unwrap_or_else(|| order_of("lsps1.create_order.ok"))))
            }
            _ => Err(RpcError::internal_error()),
        };
        Box::pin(async move { answer })
    }
}

async fn order_and_wait(client: &Lsps1Client, handler: &VectorLsps1) -> Vec<Progress> {
    let params = vector("lsps1.create_order.ok")["request"]["params"].clone();
    let mut request: CreateOrderRequest = serde_json::from_value(params).expect("request");
    request.token = None;
    client.get_info().await.expect("get_info");
    let order = client.create_order(&request).await.expect("create_order").order;
    handler.queue.lock().unwrap().extend([order_of("lsps1.get_order.hold"), order_of("lsps1.get_order.completed")]);
    let mut seen = Vec::new();
    let done = client
        .wait_for(
            &order.order_id,
            Some(&request),
            Duration::from_secs(30),
            |o| o.order_state == OrderState::Completed,
            |o| seen.push(Progress::of(o)),
        )
        .await
        .expect("completed");
    assert!(done.channel.is_some());
    seen
}

/// Proves: the LSPS1 client works over a real BOLT8 connection and over real HTTP with a proof
/// by the wallet node's key, and the LSP attributes every call to the wallet's node id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lsps1_client_over_bolt8_and_signed_http() {
    let started = Instant::now();
    let network = Network::sim().await.expect("network");
    let handler = Arc::new(VectorLsps1::default());
    let config = LspsServerConfig { enabled_protocols: vec![Protocol::Lsps1], ..Default::default() };
    let lsp =
        network.add_lsp_with("lsp", config, vec![Arc::clone(&handler) as Arc<dyn ProtocolHandler>]).await.expect("lsp");
    let wallet = network.add_wallet("wallet").await.expect("wallet");
    network.connect(&wallet, &lsp).await.expect("connect");

    let peer = PeerTransport::new(Arc::clone(wallet.client()), lsp.node_id());
    let over_peer =
        Lsps1Client::new(Arc::new(peer), bitcoin::Network::Bitcoin).with_poll_interval(Duration::from_millis(10));
    let seen = order_and_wait(&over_peer, &handler).await;
    assert_eq!(seen.len(), 2, "held, then completed, each reported once: {seen:?}");

    let state =
        HttpState::new(Arc::clone(lsp.server()), HttpConfig { require_node_signature: true, ..HttpConfig::default() })
            .expect("http config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/lsps", listener.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(inbound_http::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    let node = wallet.node();
    let http = HttpTransport::new(&url, node.node_id(), Duration::from_secs(10))
        .expect("transport")
        .with_node_key(node.keys_manager().get_node_secret_key());
    assert_eq!(http.describe(), url);
    let over_http =
        Lsps1Client::new(Arc::new(http), bitcoin::Network::Bitcoin).with_poll_interval(Duration::from_millis(10));
    let seen = order_and_wait(&over_http, &handler).await;
    assert_eq!(seen.last().map(|p| p.order_state), Some(OrderState::Completed));

    let peers = handler.peers.lock().unwrap().clone();
    assert!(peers.len() >= 8, "{peers:?}");
    assert!(peers.iter().all(|peer| *peer == wallet.node_id()), "every call, BOLT8 or HTTP, is the wallet's");
    stop.send(()).expect("stop");
    serving.await.expect("task").expect("served");
    network.shutdown().await.expect("shutdown");
    println!("lsps1_client_over_bolt8_and_signed_http took {:?}", started.elapsed());
}
