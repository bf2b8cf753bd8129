//! What the LSPS5 service needs from the node, as a trait (`lightning.rs` implements it for
//! `inbound_node::Node`; tests use a fake).

use bitcoin::secp256k1::{PublicKey, SecretKey};

/// The node as the LSPS5 service sees it.
pub trait Lsps5Node: Send + Sync {
    /// The node's secret key, which signs every notification (bLIP-55: "signs with its node
    /// key").
    fn node_secret_key(&self) -> SecretKey;
    /// Whether the client is connected now (a connected client is not woken).
    fn is_connected(&self, client: &PublicKey) -> bool;
    /// Whether the LSP has a channel with the client (for `require_channel_or_flow`).
    fn has_channel_with(&self, client: &PublicKey) -> bool;
}
