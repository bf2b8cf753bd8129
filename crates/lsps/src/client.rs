//! The wallet's side of the JSON-RPC profile: encode a request, decode what the LSP sends.
//!
//! LSPS0 rules the caller must keep, which this module makes easy:
//! * ids are random and at least 80 bits ([`RequestId::from_entropy`] takes 128);
//! * a response whose id the client did not send is ignored;
//! * a payload that fails [`decode_message`] is dropped, logged, and the client stops
//!   sending LSPS messages to that LSP until it reconnects.

use serde_json::{Map, Value};

use crate::jsonrpc::{self, check_version, parse_object, take_params, FormatError, RpcError};
use crate::method::Request;

pub use crate::jsonrpc::RequestId;

/// Encodes a request for the wire.
pub fn encode_request(id: &RequestId, request: &Request) -> Vec<u8> {
    jsonrpc::encode_request_object(id, request.method().name(), &request.params())
}

/// Something an LSP sent that passed the client-side format checks.
#[derive(Clone, Debug, PartialEq)]
pub enum IncomingMessage {
    /// An answer to a request.
    Response(IncomingResponse),
    /// A notification. No LSPS method defines one over this transport; clients log and
    /// ignore unknown ones.
    Notification {
        /// The notification's method name.
        method: String,
        /// Its by-name params.
        params: Map<String, Value>,
    },
}

/// A JSON-RPC response as the client received it.
#[derive(Clone, Debug, PartialEq)]
pub struct IncomingResponse {
    /// The id it answers. `None` (`id: null`) means the LSP could not read something the
    /// client sent; it correlates with no request.
    pub id: Option<RequestId>,
    /// The `result` object, or the `error`.
    pub outcome: Result<Value, RpcError>,
}

/// Applies the client-side format checks: one object, no NUL, and a JSON-RPC 2.0 response
/// (exactly one of an object `result` or a well-formed `error`) or notification.
///
/// `error.data` may be any JSON value, because LDK sends a string there.
pub fn decode_message(payload: &[u8]) -> Result<IncomingMessage, FormatError> {
    const EXPECTED: &str = "response or notification";
    let mut object = parse_object(payload)?;
    check_version(&object, EXPECTED)?;
    let Some(id) = object.remove("id") else {
        return match object.remove("method") {
            Some(Value::String(method)) => {
                Ok(IncomingMessage::Notification { params: take_params(&mut object, EXPECTED)?, method })
            }
            _ => Err(FormatError::NotJsonRpc { expected: EXPECTED, reason: "neither an id nor a method" }),
        };
    };
    let id = match id {
        Value::Null => None,
        other => Some(
            RequestId::from_value(&other)
                .ok_or(FormatError::NotJsonRpc { expected: EXPECTED, reason: "id must be a string, number or null" })?,
        ),
    };
    let outcome = match (object.remove("result"), object.remove("error")) {
        (Some(Value::Object(result)), None) => Ok(Value::Object(result)),
        (Some(_), None) => {
            return Err(FormatError::NotJsonRpc { expected: EXPECTED, reason: "every LSPS result is an object" })
        }
        (None, Some(error)) => Err(serde_json::from_value::<RpcError>(error)
            .map_err(|_| FormatError::NotJsonRpc { expected: EXPECTED, reason: "malformed error object" })?),
        _ => {
            return Err(FormatError::NotJsonRpc { expected: EXPECTED, reason: "need exactly one of result and error" })
        }
    };
    Ok(IncomingMessage::Response(IncomingResponse { id, outcome }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_and_notifications() {
        let ok = decode_message(br#"{"jsonrpc":"2.0","id":"a","result":{"x":1}}"#).unwrap();
        assert!(matches!(ok, IncomingMessage::Response(IncomingResponse { id: Some(_), outcome: Ok(_) })));
        let ldk_error =
            decode_message(br#"{"jsonrpc":"2.0","id":"a","error":{"code":-32602,"message":"m","data":"text"}}"#)
                .unwrap();
        assert!(matches!(
            ldk_error,
            IncomingMessage::Response(IncomingResponse { outcome: Err(RpcError { code: -32602, .. }), .. })
        ));
        let null_id =
            decode_message(br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}"#).unwrap();
        assert!(matches!(null_id, IncomingMessage::Response(IncomingResponse { id: None, .. })));
        let notification = decode_message(br#"{"jsonrpc":"2.0","method":"lsps9.hello","params":{"a":1}}"#).unwrap();
        assert!(matches!(notification, IncomingMessage::Notification { .. }));
        for bad in [
            &br#"{"jsonrpc":"2.0","id":"a"}"#[..],
            br#"{"jsonrpc":"2.0","id":"a","result":{},"error":{"code":1,"message":"x"}}"#,
            br#"{"jsonrpc":"2.0","id":"a","result":5}"#,
            br#"{"jsonrpc":"2.0","id":"a","error":{"code":"1","message":"x"}}"#,
            br#"{"jsonrpc":"2.0","id":"a","error":{"code":99999999999,"message":"x"}}"#,
            br#"{"jsonrpc":"2.0","id":[],"result":{}}"#,
            br#"{"jsonrpc":"2.0","method":"x","params":[]}"#,
            br#"{"jsonrpc":"2.0","id":"a","method":"lsps0.list_protocols","params":{}}"#,
        ] {
            assert!(decode_message(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
