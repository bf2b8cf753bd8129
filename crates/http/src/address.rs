//! The client's listening address (`x-inbound-node-address`, an Inbound extension): where an
//! LSP may connect to a wallet that ordered over HTTP and is not peer-connected.

use axum::http::HeaderValue;
use bitcoin::secp256k1::PublicKey;
use lsps::jsonrpc::RpcError;
use lsps::server::{decode_request, encode_response};
use serde_json::Value;

use crate::app::HttpState;
use crate::identity::{Refusal, ANONYMOUS_PEER};

/// The envelope member (and HTTP header) naming the client node's `host:port`.
pub const NODE_ADDRESS_MEMBER: &str = "x-inbound-node-address";

/// Reads the address from the envelope member, else the header; checks it
/// ([`inbound_service::validate_node_address`]) and, for a request attributed to a real node
/// id, remembers it in the state's address book (if one is attached). A malformed address is
/// -32602 naming [`NODE_ADDRESS_MEMBER`]; anonymous requests' addresses are ignored.
pub(crate) fn note_client_address(
    state: &HttpState,
    peer: PublicKey,
    header: Option<&HeaderValue>,
    body: &[u8],
) -> Result<(), Refusal> {
    let member = serde_json::from_slice::<serde_json::Map<String, Value>>(body)
        .ok()
        .and_then(|mut object| object.remove(NODE_ADDRESS_MEMBER));
    let address = match (member, header) {
        (Some(Value::String(text)), _) => text,
        (Some(_), _) => return refuse(body, "must be a string, host:port"),
        (None, Some(value)) => match value.to_str() {
            Ok(text) => text.to_owned(),
            Err(_) => return refuse(body, "must be host:port in ASCII"),
        },
        (None, None) => return Ok(()),
    };
    if let Err(reason) = inbound_service::validate_node_address(&address) {
        return refuse(body, &reason);
    }
    if let Some(book) = state.addresses.as_ref().filter(|_| peer != *ANONYMOUS_PEER) {
        book.note(peer, address);
    }
    Ok(())
}

fn refuse(body: &[u8], message: &str) -> Result<(), Refusal> {
    // Only requests with an id get here with a refusal worth sending; notifications are silent.
    match decode_request(body).ok().and_then(|incoming| incoming.id) {
        Some(id) => Err(Refusal::Answer(encode_response(
            Some(&id),
            Err(&RpcError::invalid_param(NODE_ADDRESS_MEMBER, message)),
        ))),
        None => Ok(()),
    }
}
