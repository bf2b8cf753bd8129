//! [`Lsps5Node`] for `inbound_node::Node`: the one file of the LSPS5 service that names the
//! node.

use bitcoin::secp256k1::{PublicKey, SecretKey};
use inbound_node::Node;

use super::ops::Lsps5Node;

impl Lsps5Node for Node {
    fn node_secret_key(&self) -> SecretKey {
        self.keys_manager().get_node_secret_key()
    }

    fn is_connected(&self, client: &PublicKey) -> bool {
        self.peer_manager().peer_by_node_id(client).is_some()
    }

    fn has_channel_with(&self, client: &PublicKey) -> bool {
        self.list_channels().iter().any(|channel| channel.counterparty.node_id == *client)
    }
}
