//! [`Lsps1Service`] against a recording fake node, a manual clock and SQLite in memory:
//! `get_info` / `create_order` / `get_order` and their errors, through the [`LspsServer`].

use std::sync::Arc;

use bitcoin::secp256k1::PublicKey;
use inbound_store::{Kind, Store};
use lsps::lsps1::{Order, OrderState, PaymentState};
use lsps::method::Protocol;
use serde_json::{json, Value};

use super::fake::{key, Call, FakeNode};
use super::ops::OrderLightning;
use super::{Lsps1Config, Lsps1Service};
use crate::{Clock, ManualClock};
use crate::{LspsServer, LspsServerConfig};

pub(crate) struct Setup {
    pub service: Arc<Lsps1Service>,
    pub fake: Arc<FakeNode>,
    pub clock: Arc<ManualClock>,
    pub store: Arc<dyn Store>,
    pub server: Arc<LspsServer>,
}

pub(super) async fn setup_with(config: Lsps1Config, store: Arc<dyn Store>) -> Setup {
    let clock = Arc::new(ManualClock::starting_now());
    let fake = Arc::new(FakeNode::new());
    let service = Lsps1Service::new(config, Arc::clone(&store), Arc::clone(&clock) as Arc<dyn Clock>).expect("config");
    service.attach(Arc::clone(&fake) as Arc<dyn OrderLightning>);
    let server = LspsServer::new(LspsServerConfig { enabled_protocols: vec![Protocol::Lsps1], ..Default::default() });
    server.register(service.protocol_handler());
    fake.connect(client());
    Setup { service, fake, clock, store, server }
}

pub(crate) async fn setup() -> Setup {
    let store = inbound_store::open("sqlite::memory:").await.expect("store");
    setup_with(Lsps1Config::default(), store).await
}

pub(super) fn client() -> PublicKey {
    key(9)
}

pub(super) async fn call(setup: &Setup, peer: PublicKey, method: &str, params: Value) -> Value {
    let request = json!({"jsonrpc": "2.0", "id": "x", "method": method, "params": params});
    let answer = setup.server.call(peer, request.to_string().as_bytes()).await.expect("an answer");
    serde_json::from_slice(&answer).expect("json")
}

pub(super) fn request(refund: Option<&str>) -> Value {
    let mut params = json!({
        "lsp_balance_sat": "100000",
        "client_balance_sat": "10000",
        "required_channel_confirmations": 0,
        "funding_confirms_within_blocks": 6,
        "channel_expiry_blocks": 144,
        "announce_channel": false,
    });
    if let Some(refund) = refund {
        params["refund_onchain_address"] = json!(refund);
    }
    params
}

pub(super) async fn create(setup: &Setup, params: Value) -> Order {
    let answer = call(setup, client(), "lsps1.create_order", params).await;
    serde_json::from_value(answer["result"].clone()).unwrap_or_else(|_| panic!("an order: {answer}"))
}

pub(super) const REFUND: &str = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";

#[tokio::test]
async fn get_info_announces_the_config() {
    let s = setup().await;
    let answer = call(&s, client(), "lsps1.get_info", json!({})).await;
    assert_eq!(answer["result"]["max_initial_lsp_balance_sat"], "10000000");
    assert_eq!(answer["result"]["min_funding_confirms_within_blocks"], 6);
}

#[tokio::test]
async fn create_order_prices_persists_and_answers() {
    let s = setup().await;
    let order = create(&s, request(Some(REFUND))).await;
    assert_eq!(order.order_state, OrderState::Created);
    assert_eq!(order.token.as_deref(), Some(""), "bLIP-51: \"\" when the client sent none");
    assert!(order.order_id.len() <= 64 && order.order_id.len() == 36);
    let bolt11 = order.payment.bolt11.as_ref().expect("bolt11");
    let fee = Lsps1Config::default().fee_sat(100_000, 253).expect("fee");
    assert_eq!(bolt11.fee_total_sat.get(), fee);
    assert_eq!(bolt11.order_total_sat.get(), fee + 10_000);
    assert_eq!(bolt11.state, PaymentState::ExpectPayment);
    let onchain = order.payment.onchain.as_ref().expect("onchain offered with a refund address");
    assert_eq!(onchain.order_total_sat.get(), onchain.fee_total_sat.get() + 10_000);
    assert_eq!(onchain.refund_onchain_address.as_ref().map(|a| a.as_str()), Some(REFUND));
    assert!(s.fake.calls().contains(&Call::Invoice(
        s.service.order(&order.order_id).await.unwrap().unwrap().bolt11.unwrap().payment_hash.0,
        (fee + 10_000) * 1000
    )));
    // Persisted before the answer, and get_order returns the same order.
    let record = s.store.get(Kind::Lsps1Order, &order.order_id).await.expect("store").expect("stored");
    assert_eq!(record.client_node_id, Some(lsps::schema::NodeId(client()).to_string()));
    let answer = call(&s, client(), "lsps1.get_order", json!({"order_id": order.order_id})).await;
    let again: Order = serde_json::from_value(answer["result"].clone()).expect("order");
    assert_eq!(again, order);
    let sent: lsps::lsps1::CreateOrderRequest = serde_json::from_value(request(Some(REFUND))).expect("request");
    assert!(lsps::lsps1::check_order(&order, &sent).is_acceptable());
}

#[tokio::test]
async fn a_quote_is_the_price_create_order_charges_and_is_checked_the_same_way() {
    let s = setup().await;
    let sent: lsps::lsps1::CreateOrderRequest = serde_json::from_value(request(Some(REFUND))).expect("request");
    let quote = s.service.quote(&sent).expect("a quote");
    let order = create(&s, request(Some(REFUND))).await;
    let (bolt11, onchain) = (order.payment.bolt11.expect("bolt11"), order.payment.onchain.expect("onchain"));
    assert_eq!((quote.fee_sat, quote.order_total_sat), (bolt11.fee_total_sat.get(), bolt11.order_total_sat.get()));
    let offered = quote.onchain.expect("the on-chain option is quoted");
    assert_eq!(
        (offered.fee_sat, offered.order_total_sat),
        (onchain.fee_total_sat.get(), onchain.order_total_sat.get())
    );
    let mut too_big = sent.clone();
    too_big.lsp_balance_sat = lsps::schema::SatAmount(u64::MAX / 2);
    let error = s.service.quote(&too_big).expect_err("out of range");
    assert_eq!(error.code, 100);
    assert_eq!(error.data.as_ref().and_then(|data| data["property"].as_str()), Some("max_initial_lsp_balance_sat"));
}

#[tokio::test]
async fn no_refund_address_no_onchain_option() {
    let s = setup().await;
    let order = create(&s, request(None)).await;
    assert!(order.payment.onchain.is_none());
}

#[tokio::test]
async fn another_clients_order_is_not_found() {
    let s = setup().await;
    let order = create(&s, request(None)).await;
    let answer = call(&s, key(10), "lsps1.get_order", json!({"order_id": order.order_id})).await;
    assert_eq!(answer["error"]["code"], 101);
    assert_eq!(answer["error"]["data"], json!({}));
    let answer = call(&s, client(), "lsps1.get_order", json!({"order_id": "x".repeat(500)})).await;
    assert_eq!(answer["error"]["code"], 101);
}

#[tokio::test]
async fn validation_errors_per_the_digest() {
    let s = setup().await;
    let mut bad = request(None);
    bad["announce_channel"] = json!("yes");
    let answer = call(&s, client(), "lsps1.create_order", bad).await;
    assert_eq!(answer["error"]["code"], -32602);
    assert_eq!(answer["error"]["data"]["property"], "announce_channel");
    let mut zero = request(None);
    zero["lsp_balance_sat"] = json!("0");
    assert_eq!(call(&s, client(), "lsps1.create_order", zero).await["error"]["data"]["property"], "lsp_balance_sat");
    let mut big = request(None);
    big["lsp_balance_sat"] = json!("50000000");
    let answer = call(&s, client(), "lsps1.create_order", big).await;
    assert_eq!(answer["error"]["code"], 100);
    assert_eq!(answer["error"]["data"]["property"], "max_initial_lsp_balance_sat");
    let mut long = request(None);
    long["channel_expiry_blocks"] = json!(1_000_000);
    assert_eq!(
        call(&s, client(), "lsps1.create_order", long).await["error"]["data"]["property"],
        "max_channel_expiry_blocks"
    );
    let mut token = request(None);
    token["token"] = json!("SPRING2025");
    let answer = call(&s, client(), "lsps1.create_order", token).await;
    assert_eq!((answer["error"]["code"].clone(), answer["error"]["data"].clone()), (json!(102), json!({})));
    let mainnet = request(Some("bc1qgnqkxgyrwjcsc9ey68ysqntfh5tkmzse0wraan"));
    let answer = call(&s, client(), "lsps1.create_order", mainnet).await;
    assert_eq!(answer["error"]["data"]["property"], "refund_onchain_address");
    // Nothing was created by any of these.
    assert_eq!(
        s.store.count_active_by_client(Kind::Lsps1Order, &lsps::schema::NodeId(client()).to_string()).await.unwrap(),
        0
    );
    assert!(s.fake.calls().is_empty());
}

#[tokio::test]
async fn known_tokens_pass_and_the_per_client_cap_rejects_with_code_1() {
    let store = inbound_store::open("sqlite::memory:").await.expect("store");
    let config = Lsps1Config { tokens: vec!["VIP".into()], max_open_orders_per_client: 2, ..Default::default() };
    let s = setup_with(config, store).await;
    let mut vip = request(None);
    vip["token"] = json!("VIP");
    assert_eq!(create(&s, vip.clone()).await.token.as_deref(), Some("VIP"));
    create(&s, request(None)).await;
    let answer = call(&s, client(), "lsps1.create_order", request(None)).await;
    assert_eq!(answer["error"]["code"], 1);
    // Another client is not affected.
    let answer = call(&s, key(10), "lsps1.create_order", request(None)).await;
    assert!(answer["result"].is_object());
}

/// The LSPS1 request vectors of `vectors.json` that do not depend on stored state answer
/// exactly as recorded (mainnet LSP with the default terms).
#[tokio::test]
async fn lsps1_error_vectors() {
    let s = setup().await;
    *s.fake.network.lock().unwrap() = bitcoin::Network::Bitcoin;
    let file: Value = serde_json::from_str(include_str!("../../../lsps/tests/vectors.json")).expect("vectors");
    let mut checked = 0;
    for vector in file["vectors"].as_array().expect("array") {
        let id = vector["id"].as_str().unwrap_or("");
        if !matches!(
            id,
            "lsps1.create_order.option_mismatch"
                | "lsps1.create_order.invalid_params"
                | "lsps1.create_order.bad_token"
                | "lsps1.get_order.not_found"
        ) {
            continue;
        }
        let answer = s.server.call(client(), vector["request"].to_string().as_bytes()).await.expect("answer");
        let answer: Value = serde_json::from_slice(&answer).expect("json");
        let mut expected = vector["response"].clone();
        if id == "lsps1.create_order.invalid_params" {
            // The message text is ours; the code and the property are the spec's.
            assert_eq!(answer["error"]["code"], expected["error"]["code"], "{id}");
            assert_eq!(answer["error"]["data"]["property"], expected["error"]["data"]["property"], "{id}");
            assert_eq!(answer["error"]["data"]["unrecognized"], json!([]), "{id}");
        } else {
            expected["id"] = answer["id"].clone();
            assert_eq!(answer, expected, "{id}");
        }
        checked += 1;
    }
    assert_eq!(checked, 4);
}
