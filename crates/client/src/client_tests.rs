//! [`LspsClient`] driven without a node: requests recorded by a fake [`LspsOutbound`], answers
//! fed through `on_message`.

use std::time::Duration;

use lsps::method::Method;
use serde_json::json;
use tokio::task::JoinHandle;

use super::*;

fn key(byte: u8) -> PublicKey {
    let secp = bitcoin::secp256k1::Secp256k1::signing_only();
    let secret = bitcoin::secp256k1::SecretKey::from_slice(&[byte; 32]).expect("valid key");
    PublicKey::from_secret_key(&secp, &secret)
}

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
        let request: Value = serde_json::from_slice(&payload).expect("the client sends JSON");
        self.sent.lock().expect("lock").push((peer, request));
        Ok(())
    }
}

impl Recorder {
    fn count(&self) -> usize {
        self.sent.lock().expect("lock").len()
    }

    /// Waits for the `n`th request (1-based) and returns its id.
    async fn request_id(&self, n: usize) -> String {
        for _ in 0..5_000 {
            if let Some((_, request)) = self.sent.lock().expect("lock").get(n - 1) {
                return request["id"].as_str().expect("string id").to_owned();
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("request {n} was never sent");
    }
}

fn setup(config: ClientConfig) -> (Arc<LspsClient>, Arc<Recorder>) {
    let client = LspsClient::new(config);
    let recorder = Arc::new(Recorder::default());
    client.attach(Arc::clone(&recorder) as Arc<dyn LspsOutbound>);
    (client, recorder)
}

fn spawn_list(client: &Arc<LspsClient>, lsp: PublicKey) -> JoinHandle<Result<Vec<u16>, ClientError>> {
    let client = Arc::clone(client);
    tokio::spawn(async move { client.list_protocols(lsp).await })
}

fn answer(id: &str, result: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "result": result})).expect("json")
}

#[tokio::test]
async fn a_call_sends_a_random_id_and_decodes_the_answer() {
    let (client, recorder) = setup(ClientConfig::default());
    let lsp = key(1);
    let call = spawn_list(&client, lsp);
    let id = recorder.request_id(1).await;
    assert_eq!(id.len(), 32);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    let sent = recorder.sent.lock().expect("lock")[0].clone();
    assert_eq!(sent.0, lsp);
    assert_eq!(sent.1, json!({"jsonrpc": "2.0", "id": id, "method": "lsps0.list_protocols", "params": {}}));
    client.on_message(lsp, &answer(&id, json!({"protocols": [1, 2], "extra": true})));
    assert_eq!(call.await.expect("task"), Ok(vec![1, 2]));
    assert_eq!(client.pending_calls(&lsp), 0);

    let second = spawn_list(&client, lsp);
    let second_id = recorder.request_id(2).await;
    assert_ne!(second_id, id, "ids are random, never reused");
    client.on_message(lsp, &answer(&second_id, json!({"protocols": []})));
    assert_eq!(second.await.expect("task"), Ok(vec![]));
}

#[tokio::test]
async fn error_answers_and_malformed_results() {
    let (client, recorder) = setup(ClientConfig::default());
    let lsp = key(1);
    let call = spawn_list(&client, lsp);
    let id = recorder.request_id(1).await;
    let error = json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32000, "message": "too many pending requests"}});
    client.on_message(lsp, &serde_json::to_vec(&error).expect("json"));
    let outcome = call.await.expect("task").expect_err("rejected");
    assert!(matches!(&outcome, ClientError::LspRejected(e) if e.code == -32000));
    assert!(outcome.is_temporary());

    let call = spawn_list(&client, lsp);
    let id = recorder.request_id(2).await;
    client.on_message(lsp, &answer(&id, json!({"protocols": "1,2"})));
    let outcome = call.await.expect("task").expect_err("malformed");
    assert!(matches!(outcome, ClientError::MalformedResult(_)));
    assert!(!client.is_muted(&lsp), "a well-formed response with a bad result does not mute");
}

#[tokio::test]
async fn unknown_and_null_ids_are_ignored() {
    let (client, recorder) = setup(ClientConfig::default());
    let lsp = key(1);
    let call = spawn_list(&client, lsp);
    let id = recorder.request_id(1).await;
    client.on_message(lsp, &answer("0123456789abcdef0123456789abcdef", json!({"protocols": [9]})));
    client.on_message(lsp, br#"{"jsonrpc":"2.0","id":7,"result":{"protocols":[9]}}"#);
    client.on_message(lsp, br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}"#);
    client.on_message(lsp, br#"{"jsonrpc":"2.0","method":"lsps9.news","params":{}}"#);
    // The same id from another peer is not an answer either.
    client.on_message(key(2), &answer(&id, json!({"protocols": [9]})));
    assert_eq!(client.pending_calls(&lsp), 1);
    assert!(!client.is_muted(&lsp));
    client.on_message(lsp, &answer(&id, json!({"protocols": [5]})));
    assert_eq!(call.await.expect("task"), Ok(vec![5]));
}

#[tokio::test]
async fn garbage_mutes_the_lsp_until_it_reconnects() {
    let (client, recorder) = setup(ClientConfig::default());
    let (lsp, other) = (key(1), key(2));
    let other_call = spawn_list(&client, other);
    let other_id = recorder.request_id(1).await;
    let pending = spawn_list(&client, lsp);
    recorder.request_id(2).await;
    client.on_message(lsp, b"{\"jsonrpc\":\"2.0\",");
    assert_eq!(pending.await.expect("task"), Err(ClientError::Muted));
    assert!(client.is_muted(&lsp));
    let sent_before = recorder.count();
    assert_eq!(client.list_protocols(lsp).await, Err(ClientError::Muted), "fails fast");
    assert_eq!(recorder.count(), sent_before, "nothing more is sent to a muted LSP");

    // Another LSP is unaffected.
    client.on_message(other, &answer(&other_id, json!({"protocols": [2]})));
    assert_eq!(other_call.await.expect("task"), Ok(vec![2]));

    client.on_connection_change(lsp);
    assert!(!client.is_muted(&lsp));
    let call = spawn_list(&client, lsp);
    let id = recorder.request_id(sent_before + 1).await;
    client.on_message(lsp, &answer(&id, json!({"protocols": [1]})));
    assert_eq!(call.await.expect("task"), Ok(vec![1]));
}

#[tokio::test(start_paused = true)]
async fn timeouts_forget_the_id() {
    let config = ClientConfig { request_timeout: Duration::from_secs(5), ..Default::default() };
    let (client, recorder) = setup(config);
    let lsp = key(1);
    let call = spawn_list(&client, lsp);
    let id = recorder.request_id(1).await;
    assert_eq!(call.await.expect("task"), Err(ClientError::Timeout));
    assert_eq!(client.pending_calls(&lsp), 0);
    client.on_message(lsp, &answer(&id, json!({"protocols": [1]})));
    assert!(!client.is_muted(&lsp), "a late answer is only ignored");
}

#[tokio::test]
async fn pending_calls_are_bounded_and_fail_on_disconnect() {
    let (client, recorder) = setup(ClientConfig { max_pending_per_lsp: 2, ..Default::default() });
    let lsp = key(1);
    let first = spawn_list(&client, lsp);
    let second = spawn_list(&client, lsp);
    recorder.request_id(2).await;
    assert_eq!(client.list_protocols(lsp).await, Err(ClientError::TooManyPending));
    assert_eq!(recorder.count(), 2);
    client.on_connection_change(lsp);
    assert_eq!(first.await.expect("task"), Err(ClientError::NotConnected));
    assert_eq!(second.await.expect("task"), Err(ClientError::NotConnected));
    assert_eq!(client.pending_calls(&lsp), 0);
}

#[tokio::test]
async fn send_failures_map_to_errors() {
    let lsp = key(1);
    let detached = LspsClient::new(ClientConfig::default());
    assert!(matches!(detached.list_protocols(lsp).await, Err(ClientError::Transport(_))));
    let (client, recorder) = setup(ClientConfig::default());
    *recorder.refuse.lock().expect("lock") = Some(LspsSendError::PeerNotConnected);
    assert_eq!(client.list_protocols(lsp).await, Err(ClientError::NotConnected));
    *recorder.refuse.lock().expect("lock") = Some(LspsSendError::Refused("queue full (1 message)".into()));
    assert_eq!(client.list_protocols(lsp).await, Err(ClientError::Transport("queue full (1 message)".into())));
    assert_eq!(client.pending_calls(&lsp), 0, "failed sends leave no entry");
}

#[tokio::test]
async fn call_returns_the_methods_typed_response() {
    let (client, recorder) = setup(ClientConfig::default());
    let lsp = key(1);
    let caller = Arc::clone(&client);
    let call =
        tokio::spawn(
            async move { caller.call(lsp, Request::Lsps5ListWebhooks(lsps::lsps5::ListWebhooksRequest {})).await },
        );
    let id = recorder.request_id(1).await;
    client.on_message(lsp, &answer(&id, json!({"app_names": ["a"], "max_webhooks": 2})));
    let response = call.await.expect("task").expect("answer");
    assert_eq!(response.method(), Method::Lsps5ListWebhooks);
}
