//! The one file that connects the server to `inbound-node`: the transport trait it sends
//! through and the message-handler trait the node calls.
//!
//! Keeping these here means the rest of the crate sees only `lsps` types and
//! [`LspsOutbound`], so tests drive [`LspsServer`] with a recording outbound and no node.

use bitcoin::secp256k1::PublicKey;
use inbound_node::LspsMessageHandler;

use crate::server::LspsServer;

/// Where the server queues its answers. Re-exported from `inbound-node`, which implements it
/// for its `Lsps0Transport`; pass `Arc::clone(node.lsps_transport())` to
/// [`LspsServer::attach`].
pub use inbound_node::lsps0::LspsOutbound;

/// Why an answer could not be queued (re-exported from `inbound-node`).
pub use inbound_node::LspsSendError;

impl LspsMessageHandler for LspsServer {
    fn handle(&self, peer: PublicKey, payload: Vec<u8>) {
        self.on_message(peer, &payload);
    }

    fn peer_connected(&self, _peer: PublicKey, _peer_advertises_lsps: bool) {
        // LSPS0: the LSP never speaks first, so there is nothing to do until the peer asks.
    }

    fn peer_disconnected(&self, peer: PublicKey) {
        self.on_peer_disconnected(peer);
    }
}
