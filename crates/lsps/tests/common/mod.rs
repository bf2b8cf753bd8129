//! Loads the conformance vectors (`crates/lsps/tests/vectors.json`, the companion of
//! `docs/spec/lsps-digest.md`, kept in the repository so the tests stand alone).

#![allow(dead_code)]

use std::sync::OnceLock;

use lsps::client::{self, IncomingMessage};
use lsps::jsonrpc::RpcError;
use lsps::method::{Protocol, Request};
use lsps::server;
use serde_json::Value;

/// Every vector, in file order.
pub fn vectors() -> &'static [Value] {
    static VECTORS: OnceLock<Vec<Value>> = OnceLock::new();
    VECTORS.get_or_init(|| {
        let text = include_str!("../vectors.json");
        let file: Value = serde_json::from_str(text).expect("vectors.json is valid JSON");
        file["vectors"].as_array().expect("vectors array").clone()
    })
}

/// The vector with this id; panics if the file has none, so a renamed vector fails loudly.
pub fn vector(id: &str) -> &'static Value {
    vectors().iter().find(|v| v["id"] == id).unwrap_or_else(|| panic!("no vector {id}"))
}

/// Every vector whose id starts with `prefix`.
pub fn vectors_with_prefix(prefix: &str) -> Vec<&'static Value> {
    vectors().iter().filter(|v| v["id"].as_str().is_some_and(|id| id.starts_with(prefix))).collect()
}

/// A JSON value re-serialised compactly, as bytes.
pub fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("serialisable")
}

/// Decodes lowercase or uppercase hex.
pub fn hex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex")).collect()
}

/// Decodes a vector's request as the LSP does (every protocol enabled), checking the id.
pub fn lsp_decodes(vector: &Value) -> Result<Request, RpcError> {
    let incoming = server::decode_request(&bytes(&vector["request"])).expect("passes the format checks");
    assert_eq!(incoming.id.as_ref().and_then(|id| id.as_str()), vector["request"]["id"].as_str());
    incoming.into_request(&Protocol::ALL)
}

/// Decodes a vector's response as the client does: the `result` or the `error`.
pub fn client_decodes(vector: &Value) -> Result<Value, RpcError> {
    match client::decode_message(&bytes(&vector["response"])).expect("passes the format checks") {
        IncomingMessage::Response(response) => {
            assert_eq!(response.id.as_ref().and_then(|id| id.as_str()), vector["response"]["id"].as_str());
            response.outcome
        }
        other => panic!("not a response: {other:?}"),
    }
}
