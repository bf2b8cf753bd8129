//! [`Lsps1Client`] against a real [`LspsServer`] whose LSPS1 handler answers from the spec
//! vectors, over both transports: the peer transport (an [`LspsClient`] piped into
//! [`LspsServer::call`]) and real HTTP (the `inbound-http` app on 127.0.0.1:0).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::Network;
use inbound_http::{HttpConfig, HttpState};
use inbound_service::{LspsServer, LspsServerConfig, ProtocolHandler};
use lsps::jsonrpc::RpcError;
use lsps::lsps1::{CreateOrderRequest, Order, OrderState, PaymentState};
use lsps::method::{Method, Protocol, Request, Response};
use serde_json::Value;

use super::*;
use crate::{ClientConfig, LspsClient, LspsOutbound, LspsSendError};

const ORDER_ID: &str = "4f1c2a8e-6b3d-4e57-9a0f-2d8c7b6e5a41";

fn vector(id: &str) -> Value {
    let vectors: Value = serde_json::from_str(include_str!("../../../lsps/tests/vectors.json")).expect("vectors");
    vectors["vectors"].as_array().expect("array").iter().find(|v| v["id"] == id).cloned().expect(id)
}

fn result_of(id: &str) -> Value {
    vector(id)["response"]["result"].clone()
}

fn order_of(id: &str) -> Order {
    serde_json::from_value(result_of(id)).expect("order")
}

/// The vectors' `create_order` request.
fn vector_request() -> CreateOrderRequest {
    let params = vector("lsps1.create_order.ok")["request"]["params"].clone();
    let mut request: CreateOrderRequest = serde_json::from_value(params).expect("request");
    request.token = None;
    request
}

/// An LSPS1 handler answering from the vectors: `create_order` with the vector order (or
/// `created`, when set), `get_order` with the queued orders then the last one forever.
#[derive(Default)]
struct VectorLsps1 {
    peers: Mutex<Vec<PublicKey>>,
    created: Mutex<Option<Order>>,
    queue: Mutex<VecDeque<Order>>,
    last: Mutex<Option<Order>>,
}

impl ProtocolHandler for VectorLsps1 {
    fn protocol(&self) -> Protocol {
        Protocol::Lsps1
    }

    fn handle(
        &self,
        peer: PublicKey,
        request: Request,
    ) -> inbound_service::BoxFuture<'static, Result<Response, RpcError>> {
        self.peers.lock().unwrap().push(peer);
        let answer = match request {
            Request::Lsps1GetInfo(_) => {
                Ok(Response::decode(Method::Lsps1GetInfo, result_of("lsps1.get_info.ok")).unwrap())
            }
            Request::Lsps1CreateOrder(_) => {
                let order = self.created.lock().unwrap().clone().unwrap_or_else(|| order_of("lsps1.create_order.ok"));
                Ok(Response::Lsps1CreateOrder(order))
            }
            Request::Lsps1GetOrder(get) if get.order_id != ORDER_ID => {
                Err(serde_json::from_value(vector("lsps1.get_order.not_found")["response"]["error"].clone()).unwrap())
            }
            Request::Lsps1GetOrder(_) => {
                let next = self.queue.lock().unwrap().pop_front();
                let mut last = self.last.lock().unwrap();
                if let Some(next) = next {
                    *last = Some(next);
                }
                Ok(Response::Lsps1GetOrder(last.clone().unwrap_or_else(|| order_of("lsps1.create_order.ok"))))
            }
            _ => Err(RpcError::internal_error()),
        };
        Box::pin(async move { answer })
    }
}

fn lsp_server() -> (Arc<LspsServer>, Arc<VectorLsps1>) {
    let server = LspsServer::new(LspsServerConfig { enabled_protocols: vec![Protocol::Lsps1], ..Default::default() });
    let handler = Arc::new(VectorLsps1::default());
    server.register(Arc::clone(&handler) as Arc<dyn ProtocolHandler>);
    (server, handler)
}

fn wallet_key() -> (SecretKey, PublicKey) {
    let secret = SecretKey::from_slice(&[0x21; 32]).unwrap();
    (secret, secret.public_key(&Secp256k1::signing_only()))
}

/// Sends each request to the server as `wallet` and feeds the answer back to the client.
struct Pipe {
    server: Arc<LspsServer>,
    client: Mutex<Option<Arc<LspsClient>>>,
    wallet: PublicKey,
}

impl LspsOutbound for Pipe {
    fn send(&self, lsp: PublicKey, payload: Vec<u8>) -> Result<(), LspsSendError> {
        let server = Arc::clone(&self.server);
        let client = self.client.lock().unwrap().clone().ok_or(LspsSendError::PeerNotConnected)?;
        let wallet = self.wallet;
        tokio::spawn(async move {
            if let Some(answer) = server.call(wallet, &payload).await {
                client.on_message(lsp, &answer);
            }
        });
        Ok(())
    }
}

fn peer_client(server: &Arc<LspsServer>) -> Lsps1Client {
    let (_, wallet) = wallet_key();
    let lsp = PublicKey::from_secret_key(&Secp256k1::signing_only(), &SecretKey::from_slice(&[0x33; 32]).unwrap());
    let client = LspsClient::new(ClientConfig::default());
    let pipe = Arc::new(Pipe { server: Arc::clone(server), client: Mutex::new(Some(Arc::clone(&client))), wallet });
    client.attach(pipe as Arc<dyn LspsOutbound>);
    Lsps1Client::new(Arc::new(PeerTransport::new(client, lsp)), Network::Bitcoin)
        .with_poll_interval(Duration::from_millis(5))
}

/// Serves `server` over real HTTP on 127.0.0.1:0 and returns the endpoint URL.
async fn http_endpoint(server: &Arc<LspsServer>, config: HttpConfig) -> String {
    let state = HttpState::new(Arc::clone(server), config).expect("valid http config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(inbound_http::serve(listener, state, std::future::pending()));
    format!("http://{address}/lsps")
}

async fn http_client(server: &Arc<LspsServer>, config: HttpConfig, sign: bool) -> Lsps1Client {
    let url = http_endpoint(server, config).await;
    let (secret, wallet) = wallet_key();
    let mut transport = HttpTransport::new(&url, wallet, Duration::from_secs(10)).expect("transport");
    if sign {
        transport = transport.with_node_key(secret);
    }
    Lsps1Client::new(Arc::new(transport), Network::Bitcoin).with_poll_interval(Duration::from_millis(5))
}

/// get_info, create_order, the fee cap, and waiting through HOLD to COMPLETED.
async fn full_flow(client: &Lsps1Client, handler: &VectorLsps1) {
    let info = client.get_info().await.expect("get_info");
    assert_eq!(info.max_channel_expiry_blocks, 52560);
    let request = vector_request();
    let checked = client.create_order(&request).await.expect("create_order");
    assert_eq!(checked.order.order_id, ORDER_ID);
    assert!(checked.warnings.is_empty(), "{:?}", checked.warnings);

    match payment_for(&checked.order, PayWith::Lightning, 12_345, Network::Bitcoin).expect("fee at the cap") {
        Payment::Lightning { invoice, fee_total_sat, order_total_sat } => {
            assert_eq!((fee_total_sat, order_total_sat), (12_345, 112_345));
            assert_eq!(invoice.amount_milli_satoshis(), Some(112_345_000));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        payment_for(&checked.order, PayWith::Lightning, 12_344, Network::Bitcoin),
        Err(Lsps1Error::FeeAboveCap { fee_total_sat: 12_345, max_fee_sat: 12_344 })
    );
    match payment_for(&checked.order, PayWith::Onchain, 20_000, Network::Bitcoin).expect("onchain") {
        Payment::Onchain { order_total_sat, .. } => assert_eq!(order_total_sat, 115_000),
        other => panic!("{other:?}"),
    }

    handler.queue.lock().unwrap().extend([
        order_of("lsps1.create_order.ok"),
        order_of("lsps1.get_order.hold"),
        order_of("lsps1.get_order.hold"),
        order_of("lsps1.get_order.completed"),
    ]);
    let mut seen = Vec::new();
    let done = client
        .wait_for(
            ORDER_ID,
            Some(&request),
            Duration::from_secs(30),
            |order| order.order_state == OrderState::Completed,
            |order| seen.push(Progress::of(order)),
        )
        .await
        .expect("completed");
    assert_eq!(done.order_state, OrderState::Completed);
    let states: Vec<(OrderState, PaymentState, bool)> =
        seen.iter().map(|p| (p.order_state, p.payments[0].state, p.funding_outpoint.is_some())).collect();
    assert_eq!(
        states,
        vec![
            (OrderState::Created, PaymentState::ExpectPayment, false),
            (OrderState::Created, PaymentState::Hold, false),
            (OrderState::Completed, PaymentState::Paid, true),
        ],
        "each change reported once"
    );
    assert!(seen[2].describe().contains("channel cf96bdca"), "{}", seen[2].describe());

    let missing = client.get_order("00000000-0000-4000-8000-000000000000", None).await;
    match missing {
        Err(Lsps1Error::Call(ClientError::LspRejected(error))) => assert_eq!(error.code, 101),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_whole_flow_over_the_peer_transport() {
    let (server, handler) = lsp_server();
    full_flow(&peer_client(&server), &handler).await;
    assert!(handler.peers.lock().unwrap().iter().all(|peer| *peer == wallet_key().1));
}

#[tokio::test]
async fn the_whole_flow_over_real_http_with_a_node_id_proof() {
    let (server, handler) = lsp_server();
    let client = http_client(&server, HttpConfig { require_node_signature: true, ..HttpConfig::default() }, true).await;
    full_flow(&client, &handler).await;
    let peers = handler.peers.lock().unwrap();
    assert!(!peers.is_empty() && peers.iter().all(|peer| *peer == wallet_key().1), "dispatched as the wallet");
}

#[tokio::test]
async fn http_without_the_key_is_refused_when_proof_is_required() {
    let (server, handler) = lsp_server();
    let client =
        http_client(&server, HttpConfig { require_node_signature: true, ..HttpConfig::default() }, false).await;
    // get_info describes the LSP only: no proof needed.
    client.get_info().await.expect("get_info");
    match client.create_order(&vector_request()).await {
        Err(Lsps1Error::Call(ClientError::LspRejected(error))) => {
            assert_eq!(error.code, -32602);
            assert_eq!(error.data.as_ref().unwrap()["property"], "x-inbound-node-sig");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(handler.peers.lock().unwrap().len(), 1, "only get_info reached the handler");
    // Without the requirement, the claimed node id is enough.
    let client = http_client(&server, HttpConfig::default(), false).await;
    client.create_order(&vector_request()).await.expect("claimed node id");
}

#[tokio::test]
async fn bad_orders_are_refused_before_paying() {
    let (server, handler) = lsp_server();
    let client = http_client(&server, HttpConfig::default(), false).await;
    let request = vector_request();

    // A mirror that does not match the request.
    let mut order = order_of("lsps1.create_order.ok");
    order.lsp_balance_sat = SatAmount(1);
    *handler.created.lock().unwrap() = Some(order);
    assert!(matches!(client.create_order(&request).await, Err(Lsps1Error::BadOrder(_))));

    // A consistent fee whose invoice asks another amount.
    let mut order = order_of("lsps1.create_order.ok");
    let bolt11 = order.payment.bolt11.as_mut().unwrap();
    bolt11.fee_total_sat = SatAmount(12_346);
    bolt11.order_total_sat = SatAmount(112_346);
    *handler.created.lock().unwrap() = Some(order);
    assert!(matches!(client.create_order(&request).await, Err(Lsps1Error::Invoice(_))));

    // A mainnet order for a regtest wallet: the invoice currency, then the address network.
    *handler.created.lock().unwrap() = None;
    let url = http_endpoint(&server, HttpConfig::default()).await;
    let transport = HttpTransport::new(&url, wallet_key().1, Duration::from_secs(10)).unwrap();
    let regtest = Lsps1Client::new(Arc::new(transport), Network::Regtest);
    assert!(matches!(regtest.create_order(&request).await, Err(Lsps1Error::Invoice(_))));
    let mut order = order_of("lsps1.create_order.ok");
    order.payment.bolt11 = None;
    *handler.created.lock().unwrap() = Some(order);
    assert!(matches!(regtest.create_order(&request).await, Err(Lsps1Error::AddressNetwork { .. })));

    // An option already paid is not paid again; a missing one cannot be.
    let held = order_of("lsps1.get_order.hold");
    assert!(matches!(
        payment_for(&held, PayWith::Lightning, 100_000, Network::Bitcoin),
        Err(Lsps1Error::NotPayable { state: PaymentState::Hold, .. })
    ));
    let mut no_onchain = order_of("lsps1.create_order.ok");
    no_onchain.payment.onchain = None;
    assert!(matches!(
        payment_for(&no_onchain, PayWith::Onchain, 100_000, Network::Bitcoin),
        Err(Lsps1Error::OptionUnavailable(_))
    ));
}

#[tokio::test]
async fn waiting_ends_on_failure_and_on_timeout() {
    let (server, handler) = lsp_server();
    let client = peer_client(&server);
    handler.queue.lock().unwrap().push_back(order_of("lsps1.get_order.failed"));
    let failed =
        client.wait_for(ORDER_ID, None, Duration::from_secs(30), |o| o.order_state == OrderState::Completed, |_| {});
    assert_eq!(failed.await, Err(Lsps1Error::OrderFailed(ORDER_ID.into())));

    let (server, handler) = lsp_server();
    handler.queue.lock().unwrap().push_back(order_of("lsps1.get_order.hold"));
    let client = peer_client(&server);
    let mut changes = 0;
    let waited = client
        .wait_for(
            ORDER_ID,
            None,
            Duration::from_millis(50),
            |o| o.order_state == OrderState::Completed,
            |_| changes += 1,
        )
        .await;
    assert!(matches!(waited, Err(Lsps1Error::WaitTimeout { state: OrderState::Created, .. })), "{waited:?}");
    assert_eq!(changes, 1, "the unchanging order is reported once");
}

#[test]
fn http_transport_urls() {
    let (_, wallet) = wallet_key();
    for bad in ["ftp://lsp.example/lsps", "not a url", "https://"] {
        assert!(
            matches!(HttpTransport::new(bad, wallet, Duration::from_secs(1)), Err(ClientError::InvalidRequest(_))),
            "{bad}"
        );
    }
    // The rustls client builds (the TLS backend is compiled in and initialises).
    let https = HttpTransport::new("https://lsp.example/lsps", wallet, Duration::from_secs(1)).expect("https");
    assert_eq!(https.describe(), "https://lsp.example/lsps");
    let (secret, _) = wallet_key();
    assert_eq!(https.with_node_key(secret).node_id(), wallet);
}

#[tokio::test]
async fn get_order_without_the_request_still_checks_the_order() {
    let (server, handler) = lsp_server();
    let client = peer_client(&server);
    let completed = order_of("lsps1.get_order.completed");
    handler.queue.lock().unwrap().push_back(completed.clone());
    assert_eq!(client.get_order(ORDER_ID, None).await.expect("consistent order"), completed);
    let mut inconsistent = completed;
    inconsistent.payment.onchain.as_mut().unwrap().order_total_sat = SatAmount(1);
    handler.queue.lock().unwrap().push_back(inconsistent);
    assert!(matches!(client.get_order(ORDER_ID, None).await, Err(Lsps1Error::BadOrder(_))));
}
