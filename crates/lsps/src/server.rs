//! The LSP's side of the JSON-RPC profile: decode a request, encode the answer.
//!
//! ```text
//! payload ──decode_request──▶ IncomingRequest ──into_request(enabled)──▶ Request
//!    │ FormatError                    │ notification: ignore          │ RpcError
//!    ▼                                ▼                               ▼
//! parse_error_response()          (no answer)                 encode_response(Err)
//! ```

use serde_json::{Map, Value};

use crate::jsonrpc::{self, check_version, parse_object, take_params, FormatError, RequestId, RpcError};
use crate::method::{Method, Protocol, Request, Response};

/// A payload that passed every LSPS0 format check at the LSP.
#[derive(Clone, Debug, PartialEq)]
pub struct IncomingRequest {
    /// The request id; `None` for a notification, which the LSP must not answer.
    pub id: Option<RequestId>,
    /// The method name as sent (not yet looked up).
    pub method: String,
    /// By-name params (`{}` when absent).
    pub params: Map<String, Value>,
}

impl IncomingRequest {
    /// Looks the method up among the `enabled` protocols and decodes its params.
    ///
    /// A method that is unknown, or belongs to a protocol this LSP does not serve, is
    /// -32601. `lsps0.list_protocols` is always served.
    pub fn into_request(self, enabled: &[Protocol]) -> Result<Request, RpcError> {
        let method = Method::from_name(&self.method)
            .filter(|method| method.protocol() == Protocol::Lsps0 || enabled.contains(&method.protocol()))
            .ok_or_else(RpcError::method_not_found)?;
        Request::decode(method, self.params)
    }
}

/// Applies the LSP-side format checks: one object, no NUL, a JSON-RPC 2.0 request with
/// by-name params and a string or number id.
///
/// Any error here is answered with [`parse_error_response`] (-32700, `id: null`).
/// Envelope members other than `jsonrpc`, `id`, `method` and `params` are ignored.
pub fn decode_request(payload: &[u8]) -> Result<IncomingRequest, FormatError> {
    const EXPECTED: &str = "request";
    let mut object = parse_object(payload)?;
    check_version(&object, EXPECTED)?;
    let method = match object.remove("method") {
        Some(Value::String(method)) => method,
        _ => return Err(FormatError::NotJsonRpc { expected: EXPECTED, reason: "method is missing or not a string" }),
    };
    let id = match object.get("id") {
        None => None,
        Some(value) => Some(
            RequestId::from_value(value)
                .ok_or(FormatError::NotJsonRpc { expected: EXPECTED, reason: "id must be a string or a number" })?,
        ),
    };
    if object.contains_key("result") || object.contains_key("error") {
        return Err(FormatError::NotJsonRpc { expected: EXPECTED, reason: "a request has no result or error" });
    }
    let params = take_params(&mut object, EXPECTED)?;
    Ok(IncomingRequest { id, method, params })
}

/// The -32700 answer (`id: null`) to a payload that failed a format check.
pub fn parse_error_response() -> Vec<u8> {
    jsonrpc::encode_response_object(None, Err(&RpcError::parse_error()))
}

/// Encodes the answer to a request.
pub fn encode_response(id: Option<&RequestId>, outcome: Result<&Response, &RpcError>) -> Vec<u8> {
    match outcome {
        Ok(response) => jsonrpc::encode_response_object(id, Ok(&response.to_value())),
        Err(error) => jsonrpc::encode_response_object(id, Err(error)),
    }
}

/// Runs one payload through the whole server pipeline with a synchronous handler:
/// format checks, method lookup, param decoding, the handler, and encoding.
///
/// Returns the payload to send back, or `None` when nothing may be sent (a notification).
pub fn handle_payload(
    payload: &[u8],
    enabled: &[Protocol],
    handler: impl FnOnce(Request) -> Result<Response, RpcError>,
) -> Option<Vec<u8>> {
    let incoming = match decode_request(payload) {
        Ok(incoming) => incoming,
        Err(_) => return Some(parse_error_response()),
    };
    let id = incoming.id.clone()?;
    let outcome = incoming.into_request(enabled).and_then(handler);
    Some(encode_response(Some(&id), outcome.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_and_odd_ids() {
        let notification = decode_request(br#"{"jsonrpc":"2.0","method":"lsps0.list_protocols"}"#).unwrap();
        assert_eq!(notification.id, None);
        assert!(notification.params.is_empty());
        let numeric = decode_request(br#"{"jsonrpc":"2.0","id":7,"method":"x","params":{}}"#).unwrap();
        assert_eq!(numeric.id, Some(RequestId::Number(7.into())));
        for bad in [
            &br#"{"jsonrpc":"2.0","id":null,"method":"x","params":{}}"#[..],
            br#"{"jsonrpc":"2.0","id":{},"method":"x","params":{}}"#,
            br#"{"jsonrpc":"1.0","id":"a","method":"x","params":{}}"#,
            br#"{"id":"a","method":"x","params":{}}"#,
            br#"{"jsonrpc":"2.0","id":"a","method":5,"params":{}}"#,
            br#"{"jsonrpc":"2.0","id":"a","method":"x","params":"{}"}"#,
            br#"{"jsonrpc":"2.0","id":"a","result":{}}"#,
            br#"{"jsonrpc":"2.0","id":"a","method":"x","result":{}}"#,
        ] {
            assert!(decode_request(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn disabled_protocols_look_unknown() {
        let incoming = decode_request(br#"{"jsonrpc":"2.0","id":"a","method":"lsps2.get_info","params":{}}"#).unwrap();
        assert_eq!(incoming.clone().into_request(&[Protocol::Lsps1]).unwrap_err().code, -32601);
        assert!(incoming.into_request(&[Protocol::Lsps2]).is_ok());
    }

    #[test]
    fn handle_payload_never_answers_notifications() {
        let answer = handle_payload(br#"{"jsonrpc":"2.0","method":"lsps0.list_protocols","params":{}}"#, &[], |_| {
            Err(RpcError::internal_error())
        });
        assert_eq!(answer, None);
        let answer = handle_payload(b"[]", &[], |_| Err(RpcError::internal_error())).unwrap();
        assert_eq!(answer, parse_error_response());
    }
}
