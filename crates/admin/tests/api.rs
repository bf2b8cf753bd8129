//! The admin API over a real listener and HTTP client, with a scripted node and a real SQLite
//! store: authentication, readiness, listings and the Prometheus text it serves.

use std::sync::{Arc, Mutex};

use inbound_admin::{
    AdminClient, AdminClientError, AdminKey, AdminState, Balances, ChannelView, ConnectFuture, ControlError, ErrorCode,
    NodeControl, NodeHealth, NodeInfo, NodeView, OpenedChannel, TipFuture, AUTH_FAILURE_BURST,
};
use inbound_service::operator::Operator;
use inbound_store::{Kind, NewRecord, Store};

/// A node whose answers the test sets; what it is asked to do is recorded.
struct ScriptedNode {
    health: Mutex<NodeHealth>,
    synced: u32,
    tip: Mutex<Result<u32, String>>,
    done: Mutex<Vec<String>>,
}

impl NodeControl for ScriptedNode {
    fn new_address(&self) -> Result<String, ControlError> {
        self.done.lock().expect("lock").push("new_address".into());
        Ok("bcrt1qscripted".into())
    }

    fn send(&self, address: &str, amount_sat: Option<u64>, _fee: Option<u64>) -> Result<String, ControlError> {
        self.done.lock().expect("lock").push(format!("send {address} {amount_sat:?}"));
        match amount_sat {
            Some(amount) if amount > 1_234 => Err(ControlError::Refused("insufficient funds".into())),
            _ => Ok("ab".repeat(32)),
        }
    }

    fn connect(&self, node_id: bitcoin::secp256k1::PublicKey, address: std::net::SocketAddr) -> ConnectFuture<'_> {
        self.done.lock().expect("lock").push(format!("connect {node_id} {address}"));
        Box::pin(async { Ok(()) })
    }

    fn open_channel(
        &self,
        node_id: bitcoin::secp256k1::PublicKey,
        amount_sat: u64,
        push_msat: u64,
        public: bool,
    ) -> Result<OpenedChannel, ControlError> {
        self.done.lock().expect("lock").push(format!("open {node_id} {amount_sat} {push_msat} {public}"));
        Ok(OpenedChannel { user_channel_id: "7".into(), channel_id: "cd".repeat(32) })
    }

    fn close_channel(&self, channel_id: &str, force: bool) -> Result<(), ControlError> {
        self.done.lock().expect("lock").push(format!("close {channel_id} {force}"));
        Ok(())
    }
}

impl NodeView for ScriptedNode {
    fn info(&self) -> NodeInfo {
        NodeInfo {
            node_id: "02".repeat(33),
            alias: "scripted".into(),
            network: "regtest".into(),
            listen: Some("127.0.0.1:9735".into()),
            synced_height: self.synced,
            peers: vec!["03".repeat(33), "02".repeat(33)],
            channels: 1,
            usable_channels: 1,
        }
    }

    fn balances(&self) -> Balances {
        Balances { onchain_confirmed_sat: 1_234, lightning_outbound_msat: 5_000, ..Balances::default() }
    }

    fn channels(&self) -> Vec<ChannelView> {
        vec![ChannelView {
            channel_id: "ab".repeat(32),
            peer: "03".repeat(33),
            short_channel_id: Some("101x1x0".into()),
            funding_outpoint: None,
            capacity_sat: 100_000,
            outbound_msat: 5_000,
            inbound_msat: 90_000_000,
            state: "usable",
            public: false,
            outbound: true,
            confirmations: Some(6),
        }]
    }

    fn health(&self) -> NodeHealth {
        self.health.lock().expect("lock").clone()
    }

    fn chain_tip(&self) -> TipFuture<'_> {
        let tip = self.tip.lock().expect("lock").clone();
        Box::pin(async move { tip })
    }
}

struct Api {
    url: String,
    key: String,
    node: Arc<ScriptedNode>,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

impl Api {
    fn client(&self) -> AdminClient {
        AdminClient::new(&self.url, self.key.clone()).expect("client")
    }

    fn client_with(&self, key: &str) -> AdminClient {
        AdminClient::new(&self.url, key.to_owned()).expect("client")
    }
}

async fn start(with_store: bool) -> Api {
    let dir = tempfile::tempdir().expect("dir");
    let key_path = dir.path().join("admin.key");
    let key = Arc::new(AdminKey::load_or_create(&key_path).expect("key"));
    let node = Arc::new(ScriptedNode {
        health: Mutex::new(NodeHealth::Running),
        synced: 120,
        tip: Mutex::new(Ok(121)),
        done: Mutex::new(Vec::new()),
    });
    let store = inbound_store::open("sqlite::memory:").await.expect("store");
    let operator = with_store.then(|| Operator::new(Arc::clone(&store)));
    let metrics = inbound_admin::install_metrics_recorder().expect("recorder");
    let control = Arc::clone(&node) as Arc<dyn NodeControl>;
    let state = AdminState::new(Arc::clone(&node) as Arc<dyn NodeView>, control, operator, key).with_metrics(metrics);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(inbound_admin::serve(listener, state, std::future::pending()));
    Api { url, key: AdminKey::read(&key_path).expect("key"), node, store, _dir: dir }
}

fn api_error(result: Result<serde_json::Value, AdminClientError>) -> (u16, ErrorCode) {
    match result {
        Err(AdminClientError::Api { status, error }) => (status, error.code),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn every_v1_path_needs_the_key_and_health_does_not() {
    let api = start(true).await;
    let answer = reqwest::get(format!("{}/healthz", api.url)).await.expect("healthz");
    assert_eq!(answer.status(), 200);

    let missing = reqwest::get(format!("{}/v1/node", api.url)).await.expect("no key");
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.headers().get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer"));
    for path in ["/v1/node", "/v1/balances", "/v1/channels", "/v1/orders", "/v1/sessions", "/v1/flows", "/metrics"] {
        let wrong = api.client_with(&"0".repeat(64)).get_json(path, &[]).await;
        assert_eq!(api_error(wrong), (401, ErrorCode::Unauthorized), "{path}");
    }
    let info = api.client().get_json("/v1/node", &[]).await.expect("node");
    assert_eq!(info["node_id"], "02".repeat(33));
    assert_eq!(info["peers"].as_array().map(Vec::len), Some(2));
    let balances = api.client().get_json("/v1/balances", &[]).await.expect("balances");
    assert_eq!(balances["onchain_confirmed_sat"], 1_234);
    let channels = api.client().get_json("/v1/channels", &[]).await.expect("channels");
    assert_eq!(channels[0]["short_channel_id"], "101x1x0");
    let unknown = api.client().get_json("/v2/nothing", &[]).await;
    assert_eq!(api_error(unknown), (404, ErrorCode::NotFound));
}

#[tokio::test]
async fn guessing_the_key_runs_out_of_budget() {
    let api = start(true).await;
    let guesser = api.client_with(&"f".repeat(64));
    for _ in 0..AUTH_FAILURE_BURST {
        assert_eq!(api_error(guesser.get_json("/v1/node", &[]).await).0, 401);
    }
    // The budget is empty: even the right key waits now (the check is skipped, not answered).
    let limited = api.client().get_json("/v1/node", &[]).await;
    assert_eq!(api_error(limited), (429, ErrorCode::RateLimited));
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert!(api.client().get_json("/v1/node", &[]).await.is_ok(), "the budget refills");
}

#[tokio::test]
async fn readiness_names_the_check_that_failed() {
    let api = start(true).await;
    let ready = api.client().readiness().await.expect("readyz");
    assert!(ready.ready, "{ready:?}");
    assert_eq!(ready.store, "ok");
    assert!(ready.chain.starts_with("ok (tip 121, synced 120)"), "{}", ready.chain);

    *api.node.tip.lock().expect("lock") = Ok(130);
    let lagging = api.client().readiness().await.expect("readyz");
    assert!(!lagging.ready);
    assert!(lagging.chain.contains("10 blocks behind"), "{}", lagging.chain);

    *api.node.tip.lock().expect("lock") = Err("connection refused".into());
    let no_backend = api.client().readiness().await.expect("readyz");
    assert!(!no_backend.ready && no_backend.chain.contains("connection refused"), "{no_backend:?}");

    *api.node.tip.lock().expect("lock") = Ok(120);
    *api.node.health.lock().expect("lock") = NodeHealth::Down("LDK's background processor: persist failed".into());
    let down = api.client().readiness().await.expect("readyz");
    assert!(!down.ready && down.node.contains("persist failed"), "{down:?}");
    assert_eq!(down.chain, "ok (tip 120, synced 120)");

    api.store.close().await.expect("close");
    *api.node.health.lock().expect("lock") = NodeHealth::Running;
    let no_store = api.client().readiness().await.expect("readyz");
    assert!(!no_store.ready && no_store.store.starts_with("the store failed"), "{no_store:?}");
}

#[tokio::test]
async fn listings_check_their_filters_and_say_when_there_are_no_flows() {
    let api = start(true).await;
    let empty = api.client().get_json("/v1/orders", &[("state", "completed".into())]).await.expect("orders");
    assert_eq!(empty["items"], serde_json::json!([]));
    let bad_limit = api.client().get_json("/v1/orders", &[("limit", "many".into())]).await;
    assert_eq!(api_error(bad_limit), (400, ErrorCode::InvalidRequest));
    let unknown = api.client().get_json("/v1/sessions", &[("colour", "red".into())]).await;
    assert_eq!(api_error(unknown), (400, ErrorCode::InvalidRequest));
    let missing = api.client().get_json("/v1/orders/no-such-order", &[]).await;
    assert_eq!(api_error(missing), (404, ErrorCode::NotFound));

    // A stored body that is not an order is reported, not fatal.
    let record = NewRecord {
        kind: Kind::Lsps1Order,
        id: "broken-order".into(),
        state: "completed".into(),
        terminal: true,
        client_node_id: Some("03".repeat(33)),
        scid: None,
        deadline_unix_ms: None,
        body: serde_json::json!({ "not": "an order" }),
        created_at_unix_ms: 1_700_000_000_000,
    };
    api.store.insert(record, serde_json::json!({}), vec![]).await.expect("insert");
    let listed = api.client().get_json("/v1/orders", &[]).await.expect("orders");
    assert_eq!(listed["items"], serde_json::json!([]));
    assert!(listed["unreadable"][0].as_str().is_some_and(|line| line.contains("broken-order")), "{listed}");
    let shown = api.client().get_json("/v1/orders/broken-order", &[]).await;
    assert_eq!(api_error(shown), (500, ErrorCode::StoreFailed));
    let counts = api.client().get_json("/v1/flows", &[]).await.expect("flows");
    let orders = counts.as_array().and_then(|kinds| kinds.iter().find(|kind| kind["kind"] == "lsps1_order"));
    assert_eq!(orders.map(|kind| kind["states"][0]["count"].clone()), Some(serde_json::json!(1)));

    let without = start(false).await;
    let no_flows = without.client().get_json("/v1/orders", &[]).await;
    assert_eq!(api_error(no_flows), (404, ErrorCode::NoFlows));
    assert!(without.client().readiness().await.expect("readyz").ready);
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_the_scrape_time_gauges() {
    let api = start(true).await;
    for (id, state) in [("o-1", "completed"), ("o-2", "completed"), ("o-3", "awaiting_payment")] {
        let record = NewRecord {
            kind: Kind::Lsps1Order,
            id: id.into(),
            state: state.into(),
            terminal: state == "completed",
            client_node_id: None,
            scid: None,
            deadline_unix_ms: None,
            body: serde_json::json!({}),
            created_at_unix_ms: 1,
        };
        api.store.insert(record, serde_json::json!({}), vec![]).await.expect("insert");
    }
    let text = api.client().get_text("/metrics").await.expect("metrics");
    let lines = text.lines().map(|line| Ok(line.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    let value = |name: &str, labels: &[(&str, &str)]| {
        scrape
            .samples
            .iter()
            .find(|sample| sample.metric == name && labels.iter().all(|(k, v)| sample.labels.get(k) == Some(*v)))
            .map(|sample| match sample.value {
                prometheus_parse::Value::Gauge(value) | prometheus_parse::Value::Counter(value) => value,
                prometheus_parse::Value::Untyped(value) => value,
                _ => f64::NAN,
            })
    };
    assert_eq!(value("inbound_peers", &[]), Some(2.0));
    assert_eq!(value("inbound_chain_synced_height", &[]), Some(120.0));
    assert_eq!(value("inbound_flows", &[("kind", "lsps1_order"), ("state", "completed")]), Some(2.0));
    assert_eq!(value("inbound_flows", &[("kind", "lsps1_order"), ("state", "awaiting_payment")]), Some(1.0));
    assert_eq!(value("inbound_channels", &[("state", "usable")]), Some(1.0));
    assert_eq!(value("inbound_onchain_balance_sat", &[("status", "confirmed")]), Some(1_234.0));
}

#[tokio::test]
async fn actions_check_their_input_and_need_their_service() {
    let api = start(true).await;
    let client = api.client();
    let bad_id = client.post_json("/v1/clients/not-a-node/ban", &serde_json::json!({"reason": "x"})).await;
    assert_eq!(api_error(bad_id).0, 400);
    let node = "02".repeat(33);
    // This LSP was started without the ban list, LSPS1 or LSPS2: each action says so.
    let no_bans = client.post_json(&format!("/v1/clients/{node}/ban"), &serde_json::json!({"reason": "x"})).await;
    assert_eq!(api_error(no_bans), (404, ErrorCode::NoFlows));
    let no_lsps1 = client.post_json("/v1/orders/some-order/cancel", &serde_json::json!({})).await;
    assert_eq!(api_error(no_lsps1), (404, ErrorCode::NoFlows));
    let no_lsps2 = client.post_json("/v1/sessions/some-session/fail", &serde_json::json!({"reason": null})).await;
    assert_eq!(api_error(no_lsps2), (404, ErrorCode::NoFlows));
    // Bodies are checked before anything is done.
    let unknown = client.post_json("/v1/orders/some-order/cancel", &serde_json::json!({"colour": "red"})).await;
    assert_eq!(api_error(unknown), (400, ErrorCode::InvalidRequest));
    let address = client.post_json("/v1/orders/some-order/retry-open", &serde_json::json!({"address": "bc1q"})).await;
    assert_eq!(api_error(address), (400, ErrorCode::InvalidRequest));
    let long = client.post_json("/v1/orders/some-order/cancel", &serde_json::json!({"reason": "x".repeat(300)})).await;
    assert_eq!(api_error(long), (400, ErrorCode::InvalidRequest));
    let wrong_key = api.client_with(&"0".repeat(64)).post_json("/v1/orders/o/cancel", &serde_json::json!({})).await;
    assert_eq!(api_error(wrong_key), (401, ErrorCode::Unauthorized));
}

#[tokio::test]
async fn node_operations_check_their_input_and_a_forced_close_needs_its_confirmation() {
    let api = start(true).await;
    let client = api.client();
    let done = || api.node.done.lock().expect("lock").clone();
    let address = client.post_json("/v1/onchain/address", &serde_json::json!({})).await.expect("address");
    assert_eq!(address["address"], "bcrt1qscripted");

    let both =
        client.post_json("/v1/onchain/send", &serde_json::json!({"address": "x", "amount_sat": 5, "all": true})).await;
    assert_eq!(api_error(both), (400, ErrorCode::InvalidRequest));
    let neither = client.post_json("/v1/onchain/send", &serde_json::json!({"address": "x"})).await;
    assert_eq!(api_error(neither), (400, ErrorCode::InvalidRequest));
    let poor = client.post_json("/v1/onchain/send", &serde_json::json!({"address": "x", "amount_sat": 5_000})).await;
    assert_eq!(api_error(poor), (422, ErrorCode::NodeRefused));
    let sent = client.post_json("/v1/onchain/send", &serde_json::json!({"address": "x", "all": true})).await;
    assert_eq!(sent.expect("send")["txid"], "ab".repeat(32));

    let peer = "02".repeat(33);
    let bad_peer =
        client.post_json("/v1/peers/connect", &serde_json::json!({"node_id": "02", "address": "127.0.0.1:9735"})).await;
    assert_eq!(api_error(bad_peer), (400, ErrorCode::InvalidRequest));
    let bad_address =
        client.post_json("/v1/peers/connect", &serde_json::json!({"node_id": peer, "address": "nowhere"})).await;
    assert_eq!(api_error(bad_address), (400, ErrorCode::InvalidRequest));
    let opened = client
        .post_json(
            "/v1/channels/open",
            &serde_json::json!({"node_id": peer, "address": "127.0.0.1:9735", "amount_sat": 100_000, "public": true}),
        )
        .await
        .expect("open");
    assert_eq!(opened["user_channel_id"], "7");
    let overpushed = client
        .post_json("/v1/channels/open", &serde_json::json!({"node_id": peer, "amount_sat": 1, "push_msat": 1_001}))
        .await;
    assert_eq!(api_error(overpushed), (400, ErrorCode::InvalidRequest));

    let channel = "cd".repeat(32);
    let unconfirmed =
        client.post_json("/v1/channels/close", &serde_json::json!({"channel_id": channel, "force": true})).await;
    assert_eq!(api_error(unconfirmed), (400, ErrorCode::InvalidRequest));
    let forced = serde_json::json!({"channel_id": channel, "force": true, "confirm": "force-close"});
    assert_eq!(client.post_json("/v1/channels/close", &forced).await.expect("close")["force"], true);
    assert_eq!(
        done(),
        [
            "new_address".to_owned(),
            "send x Some(5000)".into(),
            "send x None".into(),
            format!("connect {peer} 127.0.0.1:9735"),
            format!("open {peer} 100000 0 true"),
            format!("close {channel} true"),
        ],
        "refused requests never reached the node"
    );
}
