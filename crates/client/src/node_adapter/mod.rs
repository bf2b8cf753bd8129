//! The one module that names `inbound-node` types (feature `node`): `inbound-node`'s node is the
//! batteries-included implementation of the SDK's traits.
//!
//! * [`LspsClient`] is the node's `LspsMessageHandler`, and its `Lsps0Transport` the client's
//!   [`LspsOutbound`].
//! * `Node` is a [`WalletNode`]: its channel manager and keys manager.
//! * [`lsps2`]: `Lsps2Client::new` / `with_config` (purchases in the node's data directory), the
//!   channel acceptor, and [`WalletEventHandler`], the node's event handler.

mod events;
mod lsps2;

use bitcoin::secp256k1::ecdsa::RecoverableSignature;
use bitcoin::secp256k1::PublicKey;
use bitcoin::Network;
use inbound_node::lightning::ln::channel_state::CounterpartyForwardingInfo;
use inbound_node::lightning::sign::{NodeSigner, Recipient};
use inbound_node::lightning::types::payment::{PaymentHash, PaymentPreimage, PaymentSecret};
use inbound_node::lightning_invoice::RawBolt11Invoice;
use inbound_node::lsps0::Lsps0Transport;
use inbound_node::{LspsMessageHandler, Node};

pub use events::WalletEventHandler;
pub use lsps2::{JitChannelAcceptor, RejectingAcceptor};

use crate::client::LspsClient;
use crate::wallet_node::{LspsOutbound, LspsSendError, WalletNode, WalletNodeError};

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

impl LspsOutbound for Lsps0Transport {
    fn send(&self, peer: PublicKey, payload: Vec<u8>) -> Result<(), LspsSendError> {
        Lsps0Transport::send(self, peer, payload).map_err(|error| match error {
            inbound_node::LspsSendError::PeerNotConnected => LspsSendError::PeerNotConnected,
            other => LspsSendError::Refused(other.to_string()),
        })
    }
}

impl WalletNode for Node {
    fn node_id(&self) -> PublicKey {
        Node::node_id(self)
    }

    fn network(&self) -> Network {
        self.config().network
    }

    fn create_inbound_payment(
        &self,
        amount_msat: Option<u64>,
        expiry_secs: u32,
        min_final_cltv_expiry_delta: u16,
    ) -> Result<(PaymentHash, PaymentSecret), WalletNodeError> {
        self.channel_manager()
            .create_inbound_payment(amount_msat, expiry_secs, Some(min_final_cltv_expiry_delta))
            .map_err(|()| WalletNodeError("the channel manager refused the amount or expiry".into()))
    }

    fn sign_invoice(&self, invoice: &RawBolt11Invoice) -> Result<RecoverableSignature, WalletNodeError> {
        self.keys_manager()
            .sign_invoice(invoice, Recipient::Node)
            .map_err(|()| WalletNodeError("the node key could not sign".into()))
    }

    fn claim_funds(&self, preimage: PaymentPreimage) {
        self.channel_manager().claim_funds(preimage);
    }

    fn fail_htlc_backwards(&self, payment_hash: &PaymentHash) {
        self.channel_manager().fail_htlc_backwards(payment_hash);
    }

    fn counterparty_forwarding_info(&self, peer: &PublicKey) -> Option<CounterpartyForwardingInfo> {
        self.list_channels()
            .into_iter()
            .filter(|channel| channel.counterparty.node_id == *peer)
            .find_map(|channel| channel.counterparty.forwarding_info)
    }
}

#[cfg(test)]
mod tests;
