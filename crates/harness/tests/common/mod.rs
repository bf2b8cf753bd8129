//! Protocol handlers and payload helpers shared by the harness tests.

#![allow(dead_code)]

use std::sync::Arc;

use bitcoin::secp256k1::PublicKey;
use inbound_service::{BoxFuture, ProtocolHandler};
use lsps::jsonrpc::RpcError;
use lsps::method::{Protocol, Request, Response};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

/// An LSPS handler for `protocol` that answers `lsps5.list_webhooks` with one app name, after
/// taking a permit of `gate` when there is one, and everything else with -32603.
pub struct TestHandler {
    pub protocol: Protocol,
    pub gate: Option<Arc<Semaphore>>,
}

impl TestHandler {
    pub fn answering(protocol: Protocol) -> Arc<TestHandler> {
        Arc::new(TestHandler { protocol, gate: None })
    }

    /// An LSPS5 handler whose every answer waits for a permit of the returned semaphore.
    pub fn gated() -> (Arc<TestHandler>, Arc<Semaphore>) {
        let gate = Arc::new(Semaphore::new(0));
        (Arc::new(TestHandler { protocol: Protocol::Lsps5, gate: Some(Arc::clone(&gate)) }), gate)
    }
}

impl ProtocolHandler for TestHandler {
    fn protocol(&self) -> Protocol {
        self.protocol
    }

    fn handle(&self, _peer: PublicKey, request: Request) -> BoxFuture<'static, Result<Response, RpcError>> {
        let gate = self.gate.clone();
        Box::pin(async move {
            if let Some(gate) = gate {
                gate.acquire_owned().await.map_err(|_| RpcError::internal_error())?.forget();
            }
            match request {
                Request::Lsps5ListWebhooks(_) => Ok(Response::Lsps5ListWebhooks(lsps::lsps5::ListWebhooksResponse {
                    app_names: vec!["harness".into()],
                    max_webhooks: 1,
                })),
                _ => Err(RpcError::internal_error()),
            }
        })
    }
}

/// A request payload as a well-behaved client would send it.
pub fn request(id: &str, method: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": {}})).expect("json")
}

/// Parses a payload the test received.
pub fn parse(payload: &[u8]) -> Value {
    serde_json::from_slice(payload).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(payload)))
}

/// The answer LSPS0 prescribes for every malformed payload.
pub fn parse_error() -> Value {
    json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "parse error"}})
}

/// Every vector of `crates/lsps/tests/vectors.json` whose id starts with `prefix`.
pub fn vectors(prefix: &str) -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../lsps/tests/vectors.json");
    let text = std::fs::read_to_string(path).expect("vectors.json");
    let file: Value = serde_json::from_str(&text).expect("vectors.json is JSON");
    file["vectors"]
        .as_array()
        .expect("vectors array")
        .iter()
        .filter(|v| v["id"].as_str().is_some_and(|id| id.starts_with(prefix)))
        .cloned()
        .collect()
}

pub fn hex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex")).collect()
}
