//! The JSON-RPC 2.0 profile of LSPS0 (bLIP-50, "JSON-RPC 2.0 Profile"): ids, error
//! objects, and the format checks every type-37913 payload must pass.
//!
//! The role-specific halves live in [`crate::server`] (the LSP decodes requests) and
//! [`crate::client`] (the wallet decodes responses). Both start with [`parse_object`], which
//! applies the checks that LSPS0 lumps together as "bad message format":
//!
//! 1. the payload is at most [`MAX_PAYLOAD_BYTES`](crate::framing::MAX_PAYLOAD_BYTES);
//! 2. it contains no `0x00` byte;
//! 3. it is valid UTF-8 holding exactly one JSON value, and that value is an object
//!    (so a batch, which is an array, fails);
//! 4. (ours) it nests at most [`MAX_JSON_DEPTH`] levels.

use serde::de::{self, Deserializer};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

use crate::framing::MAX_PAYLOAD_BYTES;

/// The only JSON-RPC version LSPS speaks.
pub const JSONRPC_VERSION: &str = "2.0";

/// How deeply objects and arrays may nest in one payload. No LSPS message needs more than
/// four levels; the cap keeps hostile payloads cheap to reject.
pub const MAX_JSON_DEPTH: usize = 32;

/// Error codes shared by every LSPS (JSON-RPC's own codes plus LSPS0's code 1).
pub mod codes {
    /// The payload failed an LSPS0 format check. Sent with `id: null`.
    pub const PARSE_ERROR: i32 = -32700;
    /// JSON-RPC "invalid request". LSPS0 folds these into [`PARSE_ERROR`]; kept for clients
    /// that meet other servers.
    pub const INVALID_REQUEST: i32 = -32600;
    /// The method does not exist.
    pub const METHOD_NOT_FOUND: i32 = -32601;
    /// A parameter is unknown, missing or malformed.
    pub const INVALID_PARAMS: i32 = -32602;
    /// The server failed; retryable at the client's discretion.
    pub const INTERNAL_ERROR: i32 = -32603;
    /// LSPS0 code 1: the LSP will not serve this client.
    pub const CLIENT_REJECTED: i32 = 1;
}

/// A JSON-RPC request id.
///
/// Clients must send high-entropy strings (LSPS0); an LSP echoes whatever string or number it
/// received so that even a non-conforming client can correlate the answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RequestId {
    /// A string id, the only kind an LSPS client may send.
    String(String),
    /// A numeric id, echoed verbatim.
    Number(serde_json::Number),
}

impl RequestId {
    /// The id as a string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            RequestId::String(id) => Some(id),
            RequestId::Number(_) => None,
        }
    }

    /// Builds an id from a JSON value; only strings and numbers qualify.
    pub fn from_value(value: &Value) -> Option<RequestId> {
        match value {
            Value::String(id) => Some(RequestId::String(id.clone())),
            Value::Number(id) => Some(RequestId::Number(id.clone())),
            _ => None,
        }
    }

    /// A string id from 16 bytes of entropy, hex encoded (128 bits, as LSPS0 asks: ≥ 80).
    pub fn from_entropy(bytes: [u8; 16]) -> RequestId {
        let mut id = String::with_capacity(32);
        for byte in bytes {
            id.push_str(&format!("{byte:02x}"));
        }
        RequestId::String(id)
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestId::String(id) => f.write_str(id),
            RequestId::Number(id) => write!(f, "{id}"),
        }
    }
}

impl Serialize for RequestId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            RequestId::String(id) => serializer.serialize_str(id),
            RequestId::Number(id) => id.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for RequestId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        RequestId::from_value(&value).ok_or_else(|| de::Error::custom("id must be a string or a number"))
    }
}

/// A JSON-RPC error object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RpcError {
    /// The error code; see [`codes`] and the per-LSPS error enums.
    pub code: i32,
    /// Human-readable text. Clients must not show it raw to users (LSPS0); see
    /// [`RpcError::sanitized_message`].
    pub message: String,
    /// Structured details, shaped per code. LDK sends a string here, so clients accept any
    /// JSON value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl RpcError {
    /// An error with no `data`.
    pub fn new(code: i32, message: impl Into<String>) -> RpcError {
        RpcError { code, message: message.into(), data: None }
    }

    /// An error with a `data` object.
    pub fn with_data(code: i32, message: impl Into<String>, data: Value) -> RpcError {
        RpcError { code, message: message.into(), data: Some(data) }
    }

    /// -32700, the answer to every failed format check.
    pub fn parse_error() -> RpcError {
        RpcError::new(codes::PARSE_ERROR, "parse error")
    }

    /// -32601 for a method this LSP does not serve.
    pub fn method_not_found() -> RpcError {
        RpcError::new(codes::METHOD_NOT_FOUND, "Method not found")
    }

    /// -32602 for parameters the method does not know. LSPS0 requires `data.unrecognized`.
    pub fn unrecognized_params(names: Vec<String>) -> RpcError {
        let message = format!("Unrecognized parameter: {}", names.join(", "));
        let property = names.first().cloned().unwrap_or_default();
        RpcError::with_data(
            codes::INVALID_PARAMS,
            "Invalid params",
            serde_json::json!({ "property": property, "message": message, "unrecognized": names }),
        )
    }

    /// -32602 for a malformed or missing value. LSPS1 wants `data.property` (dotted path) and
    /// `data.message`; LSPS0 wants `data.unrecognized`, which is empty here.
    pub fn invalid_param(property: impl Into<String>, message: impl Into<String>) -> RpcError {
        RpcError::with_data(
            codes::INVALID_PARAMS,
            "Invalid params",
            serde_json::json!({ "property": property.into(), "message": message.into(), "unrecognized": [] }),
        )
    }

    /// -32603: the LSP failed. The detail belongs in the LSP's log, not in the message.
    pub fn internal_error() -> RpcError {
        RpcError::new(codes::INTERNAL_ERROR, "Internal error")
    }

    /// LSPS0 code 1, "Client rejected", with the `data.message` LSPS0 defines.
    pub fn client_rejected(message: impl Into<String>) -> RpcError {
        RpcError::with_data(codes::CLIENT_REJECTED, "Client rejected", serde_json::json!({ "message": message.into() }))
    }

    /// The message with everything LSPS0 says to strip before logging or display removed:
    /// NUL, `<`, newlines and other control characters. Capped at 256 characters.
    pub fn sanitized_message(&self) -> String {
        sanitize_text(&self.message)
    }

    /// `data.property`, if the error carries one (LSPS1 -32602 and 100).
    pub fn property(&self) -> Option<&str> {
        self.data.as_ref()?.get("property")?.as_str()
    }

    /// `data.unrecognized`, if the error carries it (LSPS0 -32602).
    pub fn unrecognized(&self) -> Option<Vec<&str>> {
        let names = self.data.as_ref()?.get("unrecognized")?.as_array()?;
        Some(names.iter().filter_map(Value::as_str).collect())
    }
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LSPS error {}: {}", self.code, self.sanitized_message())
    }
}

impl std::error::Error for RpcError {}

/// Removes characters LSPS0 says must never reach a log or a screen raw, and caps the length.
pub fn sanitize_text(text: &str) -> String {
    text.chars().filter(|c| !c.is_control() && *c != '<').take(256).collect()
}

/// Why a payload failed LSPS0's "bad message format" checks.
///
/// At the LSP every variant becomes -32700 with `id: null`; at the client every variant means
/// "drop it, log it, and stop talking LSPS to this LSP until reconnect".
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum FormatError {
    /// Larger than one BOLT8 message can carry.
    #[error("payload of {0} bytes is larger than {MAX_PAYLOAD_BYTES}")]
    TooLarge(usize),
    /// Contains a 0x00 byte.
    #[error("payload contains a NUL byte")]
    NulByte,
    /// Not UTF-8, not JSON, or more than one JSON value.
    #[error("not exactly one JSON value: {0}")]
    Json(String),
    /// Nests deeper than [`MAX_JSON_DEPTH`].
    #[error("JSON nests deeper than {MAX_JSON_DEPTH} levels")]
    TooDeep,
    /// One JSON value, but not an object (an array is how a batch would look).
    #[error("top-level JSON value is not an object")]
    NotAnObject,
    /// An object, but not the JSON-RPC message this side expects.
    #[error("not a valid JSON-RPC {expected}: {reason}")]
    NotJsonRpc {
        /// "request" at the LSP, "response or notification" at the client.
        expected: &'static str,
        /// What was wrong, for the log.
        reason: &'static str,
    },
}

/// Applies the format checks shared by both sides and returns the top-level object.
pub fn parse_object(payload: &[u8]) -> Result<Map<String, Value>, FormatError> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(FormatError::TooLarge(payload.len()));
    }
    if payload.contains(&0) {
        return Err(FormatError::NulByte);
    }
    if nesting_depth(payload) > MAX_JSON_DEPTH {
        return Err(FormatError::TooDeep);
    }
    // `from_slice` checks UTF-8, accepts only JSON whitespace around the value, and refuses
    // a second value ("trailing characters").
    let value: Value = serde_json::from_slice(payload).map_err(|error| FormatError::Json(error.to_string()))?;
    match value {
        Value::Object(object) => Ok(object),
        _ => Err(FormatError::NotAnObject),
    }
}

/// The deepest nesting of `{`/`[` outside strings. Cheap and allocation-free; it may
/// mis-measure invalid JSON, which the parser rejects anyway.
fn nesting_depth(payload: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &byte in payload {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Checks the `jsonrpc` member.
pub(crate) fn check_version(object: &Map<String, Value>, expected: &'static str) -> Result<(), FormatError> {
    match object.get("jsonrpc") {
        Some(Value::String(version)) if version == JSONRPC_VERSION => Ok(()),
        _ => Err(FormatError::NotJsonRpc { expected, reason: "jsonrpc member is not \"2.0\"" }),
    }
}

/// Takes by-name `params` out of a message; absent means `{}`, an array (by-position) fails.
pub(crate) fn take_params(
    object: &mut Map<String, Value>,
    expected: &'static str,
) -> Result<Map<String, Value>, FormatError> {
    match object.remove("params") {
        None => Ok(Map::new()),
        Some(Value::Object(params)) => Ok(params),
        Some(_) => Err(FormatError::NotJsonRpc { expected, reason: "params must be a by-name object" }),
    }
}

/// Serialises a request: `{"jsonrpc":"2.0","id":…,"method":…,"params":{…}}`.
pub(crate) fn encode_request_object(id: &RequestId, method: &str, params: &Value) -> Vec<u8> {
    struct Envelope<'a> {
        id: &'a RequestId,
        method: &'a str,
        params: &'a Value,
    }
    impl Serialize for Envelope<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut envelope = serializer.serialize_struct("Request", 4)?;
            envelope.serialize_field("jsonrpc", JSONRPC_VERSION)?;
            envelope.serialize_field("id", self.id)?;
            envelope.serialize_field("method", self.method)?;
            envelope.serialize_field("params", self.params)?;
            envelope.end()
        }
    }
    to_vec(&Envelope { id, method, params })
}

/// Serialises a response: `{"jsonrpc":"2.0","id":…,"result":…}` or `…,"error":…}`.
/// `id` is `None` only for -32700 answers, which carry `id: null`.
pub(crate) fn encode_response_object(id: Option<&RequestId>, outcome: Result<&Value, &RpcError>) -> Vec<u8> {
    struct Envelope<'a> {
        id: Option<&'a RequestId>,
        outcome: Result<&'a Value, &'a RpcError>,
    }
    impl Serialize for Envelope<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut envelope = serializer.serialize_struct("Response", 3)?;
            envelope.serialize_field("jsonrpc", JSONRPC_VERSION)?;
            envelope.serialize_field("id", &self.id)?;
            match self.outcome {
                Ok(result) => envelope.serialize_field("result", result)?,
                Err(error) => envelope.serialize_field("error", error)?,
            }
            envelope.end()
        }
    }
    to_vec(&Envelope { id, outcome })
}

/// Serialises a notification: `{"jsonrpc":"2.0","method":…,"params":{…}}` (no id).
pub fn encode_notification(method: &str, params: &Value) -> Vec<u8> {
    struct Envelope<'a> {
        method: &'a str,
        params: &'a Value,
    }
    impl Serialize for Envelope<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut envelope = serializer.serialize_struct("Notification", 3)?;
            envelope.serialize_field("jsonrpc", JSONRPC_VERSION)?;
            envelope.serialize_field("method", self.method)?;
            envelope.serialize_field("params", self.params)?;
            envelope.end()
        }
    }
    to_vec(&Envelope { method, params })
}

/// Serialising a `Value` or one of our envelopes cannot fail: keys are strings and there are
/// no non-finite floats in a `Value`.
fn to_vec<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|_| {
        br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"Internal error"}}"#.to_vec()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_checks() {
        assert!(parse_object(b" { } ").is_ok());
        assert!(matches!(parse_object(b"{"), Err(FormatError::Json(_))));
        assert_eq!(parse_object(b" [ ] "), Err(FormatError::NotAnObject));
        assert!(matches!(parse_object(b" { } { "), Err(FormatError::Json(_))));
        assert!(matches!(parse_object(b" { } { } "), Err(FormatError::Json(_))));
        assert_eq!(parse_object(b"{}\0"), Err(FormatError::NulByte));
        assert!(matches!(parse_object(&[0xff, 0xfe]), Err(FormatError::Json(_))));
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        assert_eq!(parse_object(deep.as_bytes()), Err(FormatError::TooDeep));
        let big = vec![b' '; MAX_PAYLOAD_BYTES + 1];
        assert_eq!(parse_object(&big), Err(FormatError::TooLarge(MAX_PAYLOAD_BYTES + 1)));
    }

    #[test]
    fn brackets_inside_strings_do_not_count_as_depth() {
        let payload = format!(r#"{{"a":"{}"}}"#, "[".repeat(100));
        assert!(parse_object(payload.as_bytes()).is_ok());
        let payload = r#"{"a":"\"[[[[","b":{}}"#;
        assert_eq!(nesting_depth(payload.as_bytes()), 2);
    }

    #[test]
    fn ids_from_entropy_are_hex() {
        let id = RequestId::from_entropy([0xab; 16]);
        assert_eq!(id.as_str().unwrap().len(), 32);
        assert!(id.as_str().unwrap().chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn sanitizing_removes_dangerous_characters() {
        let error = RpcError::new(5, "a<script>\n\0b\u{1b}[31m");
        assert_eq!(error.sanitized_message(), "ascript>b[31m");
    }

    #[test]
    fn encodings_keep_member_order() {
        let id = RequestId::String("x".into());
        let bytes = encode_request_object(&id, "lsps0.list_protocols", &serde_json::json!({}));
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"jsonrpc":"2.0","id":"x","method":"lsps0.list_protocols","params":{}}"#
        );
        let bytes = encode_response_object(None, Err(&RpcError::parse_error()));
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}"#
        );
    }
}
