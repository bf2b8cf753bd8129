//! The one file that connects the client to `inbound-node`: the transport trait it sends
//! through and the message-handler trait the node calls.

use bitcoin::secp256k1::PublicKey;
use inbound_node::LspsMessageHandler;

use crate::client::LspsClient;

/// Where the client queues its requests. Re-exported from `inbound-node`, which implements it
/// for its `Lsps0Transport`; pass `Arc::clone(node.lsps_transport())` to
/// [`LspsClient::attach`].
pub use inbound_node::lsps0::LspsOutbound;

/// Why a request could not be queued (re-exported from `inbound-node`).
pub use inbound_node::LspsSendError;

impl LspsMessageHandler for LspsClient {
    fn handle(&self, peer: PublicKey, payload: Vec<u8>) {
        self.on_message(peer, &payload);
    }

    fn peer_connected(&self, peer: PublicKey, _peer_advertises_lsps: bool) {
        // A new connection starts clean: a mute lasts "for the rest of this connection" only.
        self.on_connection_change(peer);
    }

    fn peer_disconnected(&self, peer: PublicKey) {
        self.on_connection_change(peer);
    }
}
