//! Who a request is from: the claimed node id (`x-inbound-node-id`), and the optional proof
//! that the caller holds its key ([`lsps::node_proof`]).

use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::HeaderValue;
use bitcoin::hashes::{sha256, Hash};
use bitcoin::secp256k1::PublicKey;
use lsps::jsonrpc::RpcError;
use lsps::method::{Method, Protocol};
use lsps::node_proof::{
    signed_message, verify_request, ProofError, MAX_CLOCK_SKEW_SECS, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use lsps::server::{decode_request, encode_response};
use serde_json::Value;

use crate::app::HttpState;
use crate::replay::Seen;

/// The top-level envelope member that carries the client's node id (an Inbound extension).
pub const NODE_ID_MEMBER: &str = "x-inbound-node-id";

/// The pseudo-peer of requests that carry no node id and need none: the secp256k1 generator
/// (secret key 1, so nobody's real node). It may not be claimed as a node id.
pub static ANONYMOUS_PEER: LazyLock<PublicKey> = LazyLock::new(|| {
    "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798".parse().expect("the generator point")
});

/// The proof headers of one request, as received.
#[derive(Default)]
pub(crate) struct ProofHeaders {
    pub(crate) signature: Option<HeaderValue>,
    pub(crate) timestamp: Option<HeaderValue>,
}

/// Why a request does not reach the dispatcher.
pub(crate) enum Refusal {
    /// An encoded JSON-RPC error answer (-32602 naming the member or header).
    Answer(Vec<u8>),
    /// The replay cache is full of unexpired proofs: try again later (429).
    Busy,
}

/// The peer to dispatch as, or the refusal.
///
/// Bodies that fail LSPS0's format checks, notifications and methods this LSP does not serve go
/// to the dispatcher as they are (as anonymous), so they get the same answers as over BOLT8
/// (-32700, none, -32601). A node id that is malformed, or missing for a method bound to the
/// client, is -32602 naming [`NODE_ID_MEMBER`]. A proof, when present, must verify; when
/// `require_node_signature` is set, methods bound to the client need one.
pub(crate) fn client_identity(state: &HttpState, proof: &ProofHeaders, body: &[u8]) -> Result<PublicKey, Refusal> {
    let Ok(incoming) = decode_request(body) else { return Ok(*ANONYMOUS_PEER) };
    let Some(id) = incoming.id else { return Ok(*ANONYMOUS_PEER) };
    let refuse = |property: &str, message: &str| {
        Err(Refusal::Answer(encode_response(Some(&id), Err(&RpcError::invalid_param(property, message)))))
    };
    let bound = Method::from_name(&incoming.method)
        .is_some_and(|method| needs_identity(method) && state.server.served_protocols().contains(&method.protocol()));
    // The body is one JSON object: decode_request checked.
    let claimed = serde_json::from_slice::<serde_json::Map<String, Value>>(body)
        .ok()
        .and_then(|mut object| object.remove(NODE_ID_MEMBER));
    let claimed = match claimed {
        Some(Value::String(hex)) => match parse_node_id(&hex) {
            Some(peer) => Some(peer),
            None => {
                return refuse(
                    NODE_ID_MEMBER,
                    "must be a 33-byte compressed secp256k1 public key in hex (66 characters)",
                )
            }
        },
        Some(_) => return refuse(NODE_ID_MEMBER, "must be a string of 66 hex characters"),
        None if bound => return refuse(NODE_ID_MEMBER, "missing: this method is bound to the client's node id"),
        None => None,
    };
    let proven = match (proof.signature.as_ref(), proof.timestamp.as_ref(), claimed) {
        (None, None, _) => false,
        (Some(_), Some(_), None) => {
            return refuse(NODE_ID_MEMBER, &format!("missing: the {SIGNATURE_HEADER} header proves a node id"))
        }
        (Some(_), None, _) => return refuse(TIMESTAMP_HEADER, &format!("missing: required with {SIGNATURE_HEADER}")),
        (None, Some(_), _) => return refuse(SIGNATURE_HEADER, &format!("missing: required with {TIMESTAMP_HEADER}")),
        (Some(signature), Some(timestamp), Some(node_id)) => {
            let Some(timestamp) = parse_timestamp(timestamp) else {
                return refuse(TIMESTAMP_HEADER, "must be Unix seconds in decimal");
            };
            let Ok(signature) = signature.to_str() else {
                return refuse(SIGNATURE_HEADER, "must be a zbase32 ln_signature");
            };
            let now = unix_now();
            match verify_request(&node_id, timestamp, body, signature, now) {
                Ok(()) => {}
                Err(error @ ProofError::Stale { .. }) => return refuse(TIMESTAMP_HEADER, &error.to_string()),
                Err(error) => return refuse(SIGNATURE_HEADER, &error.to_string()),
            }
            let key = sha256::Hash::hash(&signed_message(timestamp, body)).to_byte_array();
            match state.replay.insert(key, timestamp.saturating_add(MAX_CLOCK_SKEW_SECS), now) {
                Seen::Fresh => true,
                Seen::Replayed => {
                    return refuse(SIGNATURE_HEADER, "replayed: this proof was used already; sign every request afresh")
                }
                Seen::Full => return Err(Refusal::Busy),
            }
        }
    };
    match claimed {
        Some(_) if bound && state.config.require_node_signature && !proven => refuse(
            SIGNATURE_HEADER,
            "missing: this LSP requires proof of the node id (x-inbound-node-sig and x-inbound-node-sig-timestamp headers)",
        ),
        // An unproven claim may not spend that node's pending slots when proofs are required.
        Some(_) if state.config.require_node_signature && !proven => Ok(*ANONYMOUS_PEER),
        Some(peer) => Ok(peer),
        None => Ok(*ANONYMOUS_PEER),
    }
}

fn parse_node_id(hex: &str) -> Option<PublicKey> {
    let valid_shape = hex.len() == 66 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    let peer: PublicKey = hex.parse().ok().filter(|_| valid_shape)?;
    (peer != *ANONYMOUS_PEER).then_some(peer)
}

fn parse_timestamp(value: &HeaderValue) -> Option<u64> {
    let text = value.to_str().ok()?;
    let digits = !text.is_empty() && text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit());
    text.parse().ok().filter(|_| digits)
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

/// Every method but the two that only describe the LSP binds its answer or its effect to the
/// client.
fn needs_identity(method: Method) -> bool {
    !(method.protocol() == Protocol::Lsps0 || method == Method::Lsps1GetInfo)
}
