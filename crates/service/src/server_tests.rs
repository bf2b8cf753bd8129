//! [`LspsServer`] driven without a node: payloads in through `on_message`, answers recorded by
//! a fake [`LspsOutbound`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use lsps::lsps5::{ListWebhooksResponse, RemoveWebhookResponse};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::*;
use crate::node_adapter::LspsSendError;

fn peer(byte: u8) -> PublicKey {
    let secp = bitcoin::secp256k1::Secp256k1::signing_only();
    let secret = bitcoin::secp256k1::SecretKey::from_slice(&[byte; 32]).expect("valid key");
    PublicKey::from_secret_key(&secp, &secret)
}

/// Records answers; refuses them while `refuse` is set.
#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<(PublicKey, Value)>>,
    refuse: Mutex<Option<LspsSendError>>,
}

impl LspsOutbound for Recorder {
    fn send(&self, peer: PublicKey, payload: Vec<u8>) -> Result<(), LspsSendError> {
        if let Some(error) = self.refuse.lock().expect("lock").clone() {
            return Err(error);
        }
        let value = serde_json::from_slice(&payload).expect("the server sends JSON");
        self.sent.lock().expect("lock").push((peer, value));
        Ok(())
    }
}

impl Recorder {
    fn sent(&self) -> Vec<Value> {
        self.sent.lock().expect("lock").iter().map(|(_, value)| value.clone()).collect()
    }

    async fn wait_for(&self, count: usize) -> Vec<Value> {
        for _ in 0..5_000 {
            if self.sent.lock().expect("lock").len() >= count {
                return self.sent();
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("expected {count} answers, got {:?}", self.sent());
    }
}

/// An LSPS5 handler whose `remove_webhook` waits for the gate named by `app_name`, whose
/// `list_webhooks` answers at once, and whose `set_webhook` panics or answers another method.
#[derive(Default)]
struct Lsps5Handler {
    gates: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Lsps5Handler {
    fn gate(&self, name: &str) -> Arc<Semaphore> {
        Arc::clone(
            self.gates.lock().expect("lock").entry(name.to_owned()).or_insert_with(|| Arc::new(Semaphore::new(0))),
        )
    }
}

impl ProtocolHandler for Lsps5Handler {
    fn protocol(&self) -> Protocol {
        Protocol::Lsps5
    }

    fn handle(&self, _peer: PublicKey, request: Request) -> BoxFuture<'static, Result<Response, RpcError>> {
        match request {
            Request::Lsps5ListWebhooks(_) => Box::pin(async {
                Ok(Response::Lsps5ListWebhooks(ListWebhooksResponse { app_names: vec!["app".into()], max_webhooks: 3 }))
            }),
            Request::Lsps5RemoveWebhook(params) => {
                let gate = self.gate(&params.app_name);
                Box::pin(async move {
                    let _permit = gate.acquire().await.map_err(|_| RpcError::internal_error())?;
                    Ok(Response::Lsps5RemoveWebhook(RemoveWebhookResponse {}))
                })
            }
            Request::Lsps5SetWebhook(params) if params.app_name == "panic" => Box::pin(async { panic!("handler bug") }),
            Request::Lsps5SetWebhook(params) if params.app_name == "reject" => {
                Box::pin(async { Err(RpcError::client_rejected("not served here")) })
            }
            _ => Box::pin(async { Ok(Response::Lsps5RemoveWebhook(RemoveWebhookResponse {})) }),
        }
    }
}

fn server_with(config: LspsServerConfig) -> (Arc<LspsServer>, Arc<Recorder>, Arc<Lsps5Handler>) {
    let server = LspsServer::new(config);
    let recorder = Arc::new(Recorder::default());
    server.attach(Arc::clone(&recorder) as Arc<dyn LspsOutbound>);
    let handler = Arc::new(Lsps5Handler::default());
    server.register(Arc::clone(&handler) as Arc<dyn ProtocolHandler>);
    (server, recorder, handler)
}

fn lsps5_config(per_peer: usize, total: usize) -> LspsServerConfig {
    LspsServerConfig {
        enabled_protocols: vec![Protocol::Lsps5],
        max_pending_per_peer: per_peer,
        max_pending_total: total,
        compat: crate::Compat::Spec,
    }
}

fn request(id: &str, method: &str, params: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})).expect("json")
}

fn parse_error() -> Value {
    json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "parse error"}})
}

#[test]
fn list_protocols_lists_enabled_protocols_with_handlers() {
    let config = LspsServerConfig { enabled_protocols: vec![Protocol::Lsps1, Protocol::Lsps5], ..Default::default() };
    let (server, recorder, _) = server_with(config);
    server.on_message(peer(1), &request("a", "lsps0.list_protocols", json!({})));
    // LSPS1 is enabled but has no handler: neither listed nor served.
    server.on_message(peer(1), &request("b", "lsps1.get_info", json!({})));
    server.on_message(peer(1), &request("c", "lsps2.get_info", json!({})));
    server.on_message(peer(1), &request("d", "lsps9.nothing", json!({})));
    let sent = recorder.sent();
    assert_eq!(sent[0], json!({"jsonrpc": "2.0", "id": "a", "result": {"protocols": [5]}}));
    for (answer, id) in sent[1..].iter().zip(["b", "c", "d"]) {
        assert_eq!(answer["id"], id);
        assert_eq!(answer["error"]["code"], -32601);
    }
    assert_eq!(server.served_protocols(), vec![Protocol::Lsps5]);
}

#[test]
fn every_bad_message_format_vector_gets_parse_error_and_changes_nothing() {
    let file: Value = serde_json::from_str(include_str!("../../lsps/tests/vectors.json")).expect("vectors");
    let vectors: Vec<&Value> = file["vectors"]
        .as_array()
        .expect("array")
        .iter()
        .filter(|v| v["id"].as_str().is_some_and(|id| id.starts_with("lsps0.bad_message_format.")))
        .collect();
    assert!(vectors.len() >= 7);
    let (server, recorder, _) = server_with(LspsServerConfig::default());
    for (index, vector) in vectors.iter().enumerate() {
        let hex = vector["payload_hex"].as_str().expect("hex");
        let payload: Vec<u8> =
            (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect();
        server.on_message(peer(1), &payload);
        assert_eq!(recorder.sent()[index], vector["expected_lsp_response"], "{}", vector["id"]);
    }
    server.on_message(peer(1), &vec![b' '; lsps::framing::MAX_PAYLOAD_BYTES + 1]);
    assert_eq!(recorder.sent().last(), Some(&parse_error()));
    let stats = server.stats();
    assert_eq!(
        (stats.parse_errors, stats.answered, stats.pending),
        (vectors.len() as u64 + 1, vectors.len() as u64 + 1, 0)
    );
}

#[test]
fn notifications_are_never_answered() {
    let (server, recorder, _) = server_with(lsps5_config(10, 10));
    server.on_message(peer(1), br#"{"jsonrpc":"2.0","method":"lsps0.list_protocols","params":{}}"#);
    server.on_message(peer(1), br#"{"jsonrpc":"2.0","method":"lsps5.list_webhooks"}"#);
    assert!(recorder.sent().is_empty());
    assert_eq!(server.stats().notifications, 2);
}

#[test]
fn bad_params_get_invalid_params_and_numeric_ids_are_echoed() {
    let (server, recorder, _) = server_with(LspsServerConfig::default());
    server.on_message(peer(1), br#"{"jsonrpc":"2.0","id":7,"method":"lsps0.list_protocols","params":{"x":1}}"#);
    let answer = &recorder.sent()[0];
    assert_eq!(answer["id"], 7);
    assert_eq!(answer["error"]["code"], -32602);
    assert_eq!(answer["error"]["data"]["unrecognized"], json!(["x"]));
}

#[tokio::test]
async fn handled_requests_are_answered_asynchronously_and_out_of_order() {
    let (server, recorder, handler) = server_with(lsps5_config(10, 10));
    server.on_message(peer(1), &request("1", "lsps5.remove_webhook", json!({"app_name": "first"})));
    server.on_message(peer(1), &request("2", "lsps5.remove_webhook", json!({"app_name": "second"})));
    assert!(recorder.sent().is_empty(), "handle() does not wait for handlers");
    assert_eq!(server.stats().pending, 2);
    handler.gate("second").add_permits(1);
    assert_eq!(recorder.wait_for(1).await[0]["id"], "2");
    handler.gate("first").add_permits(1);
    assert_eq!(recorder.wait_for(2).await[1], json!({"jsonrpc": "2.0", "id": "1", "result": {}}));
    wait_until_idle(&server).await;
}

async fn wait_until_idle(server: &LspsServer) {
    for _ in 0..5_000 {
        if server.stats().pending == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("still pending: {:?}", server.stats());
}

#[tokio::test]
async fn requests_over_a_cap_are_refused_at_once_and_not_processed() {
    let (server, recorder, handler) = server_with(lsps5_config(2, 3));
    let (alice, bob) = (peer(1), peer(2));
    for id in ["a1", "a2", "a3"] {
        server.on_message(alice, &request(id, "lsps5.remove_webhook", json!({"app_name": "gate"})));
    }
    server.on_message(bob, &request("b1", "lsps5.remove_webhook", json!({"app_name": "gate"})));
    server.on_message(bob, &request("b2", "lsps5.remove_webhook", json!({"app_name": "gate"})));
    let refused = recorder.sent();
    assert_eq!(refused.len(), 2, "a3 (per-peer cap) and b2 (total cap)");
    for (answer, id) in refused.iter().zip(["a3", "b2"]) {
        assert_eq!(answer["id"], id);
        assert_eq!(answer["error"], json!({"code": TOO_MANY_PENDING_CODE, "message": TOO_MANY_PENDING_MESSAGE}));
    }
    // LSPS0 itself is never refused: it holds no slot.
    server.on_message(alice, &request("a4", "lsps0.list_protocols", json!({})));
    assert_eq!(recorder.sent()[2]["result"], json!({"protocols": [5]}));
    let stats = server.stats();
    assert_eq!((stats.pending, stats.peak_pending, stats.rejected_over_limit, stats.peers_with_pending), (3, 3, 2, 2));
    assert_eq!((server.pending_for(&alice), server.pending_for(&bob)), (2, 1));

    handler.gate("gate").add_permits(3);
    let answers = recorder.wait_for(6).await;
    let mut answered: Vec<&str> = answers[3..].iter().filter_map(|a| a["id"].as_str()).collect();
    answered.sort_unstable();
    assert_eq!(answered, vec!["a1", "a2", "b1"], "refused requests were never processed");
    wait_until_idle(&server).await;
    assert_eq!(server.stats().peers_with_pending, 0);
}

#[tokio::test]
async fn a_panicking_handler_is_answered_with_internal_error_and_frees_its_slot() {
    let (server, recorder, _) = server_with(lsps5_config(1, 1));
    server.on_message(peer(1), &request("p", "lsps5.set_webhook", json!({"app_name": "panic", "webhook": "x"})));
    let answer = &recorder.wait_for(1).await[0];
    assert_eq!((answer["id"].as_str(), answer["error"]["code"].as_i64()), (Some("p"), Some(-32603)));
    wait_until_idle(&server).await;
    server.on_message(peer(1), &request("q", "lsps5.list_webhooks", json!({})));
    assert_eq!(recorder.wait_for(2).await[1]["result"]["app_names"], json!(["app"]));
}

#[tokio::test(start_paused = true)]
async fn a_hung_handler_is_answered_with_internal_error_after_the_timeout_and_frees_its_slot() {
    let (server, recorder, _) = server_with(lsps5_config(1, 1));
    // The gate is never opened: the handler hangs.
    server.on_message(peer(1), &request("h", "lsps5.remove_webhook", json!({"app_name": "never"})));
    tokio::time::sleep(crate::server::HANDLER_TIMEOUT - Duration::from_secs(1)).await;
    assert!(recorder.sent().is_empty(), "not answered before the timeout");
    assert_eq!(server.stats().pending, 1);
    let answer = &recorder.wait_for(1).await[0];
    assert_eq!((answer["id"].as_str(), answer["error"]["code"].as_i64()), (Some("h"), Some(-32603)));
    wait_until_idle(&server).await;
    server.on_message(peer(1), &request("q", "lsps5.list_webhooks", json!({})));
    assert_eq!(recorder.wait_for(2).await[1]["result"]["app_names"], json!(["app"]), "the slot was freed");
}

#[tokio::test]
async fn an_answer_for_another_method_becomes_internal_error() {
    let (server, recorder, _) = server_with(lsps5_config(1, 1));
    server.on_message(peer(1), &request("w", "lsps5.set_webhook", json!({"app_name": "a", "webhook": "x"})));
    assert_eq!(recorder.wait_for(1).await[0]["error"]["code"], -32603);
}

#[tokio::test]
async fn failed_sends_are_counted_not_fatal() {
    let server = LspsServer::new(LspsServerConfig::default());
    server.on_message(peer(1), b"{");
    assert_eq!(server.stats().dropped_sends, 1, "no transport attached yet");
    let recorder = Arc::new(Recorder::default());
    *recorder.refuse.lock().expect("lock") = Some(LspsSendError::PeerQueueFull { limit: 1 });
    server.attach(Arc::clone(&recorder) as Arc<dyn LspsOutbound>);
    for _ in 0..100 {
        server.on_message(peer(1), &request("x", "lsps0.list_protocols", json!({})));
    }
    let stats = server.stats();
    assert_eq!((stats.requests, stats.answered, stats.dropped_sends), (101, 0, 101));
    *recorder.refuse.lock().expect("lock") = None;
    server.on_message(peer(1), &request("y", "lsps0.list_protocols", json!({})));
    assert_eq!(recorder.sent().len(), 1);
}

#[tokio::test]
async fn a_disconnected_peer_keeps_its_slots_until_its_handlers_return() {
    let (server, recorder, handler) = server_with(lsps5_config(1, 10));
    server.on_message(peer(1), &request("1", "lsps5.remove_webhook", json!({"app_name": "g"})));
    server.on_peer_disconnected(peer(1));
    server.on_message(peer(1), &request("2", "lsps5.remove_webhook", json!({"app_name": "g"})));
    assert_eq!(recorder.sent()[0]["error"]["code"], TOO_MANY_PENDING_CODE, "reconnecting does not reset the cap");
    *recorder.refuse.lock().expect("lock") = Some(LspsSendError::PeerNotConnected);
    handler.gate("g").add_permits(1);
    wait_until_idle(&server).await;
    assert_eq!(server.stats().dropped_sends, 1);
    assert_eq!(server.stats().peers_with_pending, 0);
}

#[test]
fn lsps0_handlers_are_ignored() {
    struct Impostor;
    impl ProtocolHandler for Impostor {
        fn protocol(&self) -> Protocol {
            Protocol::Lsps0
        }
        fn handle(&self, _peer: PublicKey, _request: Request) -> BoxFuture<'static, Result<Response, RpcError>> {
            Box::pin(async { Err(RpcError::internal_error()) })
        }
    }
    let config = LspsServerConfig { enabled_protocols: vec![Protocol::Lsps0], ..Default::default() };
    let (server, recorder, _) = server_with(config);
    server.register(Arc::new(Impostor));
    server.on_message(peer(1), &request("a", "lsps0.list_protocols", json!({})));
    assert_eq!(recorder.sent()[0]["result"], json!({"protocols": []}));
}

fn json_of(answer: Option<Vec<u8>>) -> Value {
    serde_json::from_slice(&answer.expect("an answer")).expect("the server answers JSON")
}

#[tokio::test]
async fn call_returns_what_on_message_would_send_and_sends_nothing() {
    let (server, recorder, _) = server_with(lsps5_config(10, 10));
    let payloads = [
        request("l", "lsps0.list_protocols", json!({})),
        request("w", "lsps5.list_webhooks", json!({})),
        request("u", "lsps9.nope", json!({})),
        request("b", "lsps5.remove_webhook", json!({"app_name": 5})),
        b"{".to_vec(),
    ];
    let mut called = Vec::new();
    for payload in &payloads {
        called.push(json_of(server.call(peer(1), payload).await));
    }
    assert!(recorder.sent().is_empty(), "call() returns its answers, it does not send them");
    for payload in &payloads {
        server.on_message(peer(1), payload);
    }
    let mut sent = recorder.wait_for(payloads.len()).await;
    // The handled request is answered from its task, after the immediate answers.
    let handled = sent.remove(sent.iter().position(|a| a["id"] == "w").expect("w answered"));
    sent.insert(1, handled);
    assert_eq!(called, sent);
    assert_eq!(called[0]["result"], json!({"protocols": [5]}));
    assert_eq!(called[1]["result"]["app_names"], json!(["app"]));
    assert_eq!(
        (called[2]["error"]["code"].as_i64(), called[3]["error"]["code"].as_i64()),
        (Some(-32601), Some(-32602))
    );
    assert_eq!(called[4], parse_error());
    let stats = server.stats();
    assert_eq!((stats.requests, stats.answered, stats.parse_errors, stats.dropped_sends), (10, 10, 2, 0));
}

#[tokio::test]
async fn call_returns_none_for_notifications() {
    let (server, _, _) = server_with(lsps5_config(10, 10));
    let notification = br#"{"jsonrpc":"2.0","method":"lsps5.list_webhooks","params":{}}"#;
    assert_eq!(server.call(peer(1), notification).await, None);
    assert_eq!(server.stats().notifications, 1);
}

#[tokio::test]
async fn call_shares_the_pending_caps_with_peer_messages() {
    let (server, recorder, handler) = server_with(lsps5_config(1, 10));
    server.on_message(peer(1), &request("m", "lsps5.remove_webhook", json!({"app_name": "gate"})));
    let refused = json_of(server.call(peer(1), &request("c", "lsps5.list_webhooks", json!({}))).await);
    assert_eq!(refused["error"]["code"], TOO_MANY_PENDING_CODE);
    assert_eq!(json_of(server.call(peer(2), &request("o", "lsps5.list_webhooks", json!({}))).await)["id"], "o");
    handler.gate("gate").add_permits(1);
    assert_eq!(recorder.wait_for(1).await[0]["id"], "m");
    wait_until_idle(&server).await;
    assert_eq!(json_of(server.call(peer(1), &request("d", "lsps5.list_webhooks", json!({}))).await)["id"], "d");
}

#[tokio::test]
async fn a_dropped_call_keeps_its_slot_until_the_handler_returns() {
    let (server, _, handler) = server_with(lsps5_config(1, 1));
    let payload = request("x", "lsps5.remove_webhook", json!({"app_name": "gate"}));
    let call = tokio::time::timeout(Duration::from_millis(20), server.call(peer(1), &payload)).await;
    assert!(call.is_err(), "the handler is still waiting at its gate");
    assert_eq!(server.pending_for(&peer(1)), 1, "the caller went away, the handler did not");
    handler.gate("gate").add_permits(1);
    wait_until_idle(&server).await;
}

#[tokio::test(start_paused = true)]
async fn a_hung_handler_behind_call_is_answered_with_internal_error_after_the_timeout() {
    let (server, _, _) = server_with(lsps5_config(1, 1));
    let answer =
        json_of(server.call(peer(1), &request("h", "lsps5.remove_webhook", json!({"app_name": "never"}))).await);
    assert_eq!((answer["id"].as_str(), answer["error"]["code"].as_i64()), (Some("h"), Some(-32603)));
    assert_eq!(server.stats().pending, 0);
}

#[tokio::test]
async fn error_data_is_an_object_by_default_and_a_string_in_ldk_compat() {
    let reject = request("r", "lsps5.set_webhook", json!({"app_name": "reject", "webhook": "x"}));
    let unknown = request("u", "lsps5.list_webhooks", json!({"extra": 1}));
    let (spec, _, _) = server_with(lsps5_config(10, 10));
    let answer = json_of(spec.call(peer(1), &reject).await);
    assert_eq!(answer["error"]["code"], 1);
    assert_eq!(answer["error"]["data"], json!({"message": "not served here"}));

    let compat_config = LspsServerConfig { compat: crate::Compat::Ldk, ..lsps5_config(10, 10) };
    let (compat, _, _) = server_with(compat_config);
    let answer = json_of(compat.call(peer(1), &reject).await);
    assert_eq!(answer["error"]["code"], 1);
    assert_eq!(answer["error"]["data"], json!("not served here"));
    // -32602 keeps the `data.unrecognized` object LSPS0 requires.
    let answer = json_of(compat.call(peer(1), &unknown).await);
    assert_eq!(answer["error"]["code"], -32602);
    assert_eq!(answer["error"]["data"]["unrecognized"], json!(["extra"]));
}
