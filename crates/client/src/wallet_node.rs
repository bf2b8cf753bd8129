//! What the SDK needs from the wallet's Lightning node: two small traits, so that a wallet on
//! any LDK-based node can use it.
//!
//! * [`LspsOutbound`]: send an LSPS0 message (peer message type 37913) to a connected peer. The
//!   other direction is a call: the node hands each received type-37913 payload to
//!   [`LspsClient::on_message`](crate::LspsClient::on_message), and reports connects and
//!   disconnects to [`LspsClient::on_connection_change`](crate::LspsClient::on_connection_change).
//! * [`WalletNode`]: what [`Lsps2Client`](crate::lsps2::Lsps2Client) needs to make and settle a
//!   JIT invoice: the node id and network, an inbound payment (hash and secret), the node key's
//!   invoice signature, and claiming or failing back a payment. Inbound channels are the node's
//!   to decide; it asks [`Lsps2Client::is_jit_channel`](crate::lsps2::Lsps2Client::is_jit_channel).
//!
//! With the default `node` feature, `inbound-node` implements both (`node_adapter`), and
//! [`LspsClient`](crate::LspsClient) is its LSPS message handler.

use bitcoin::secp256k1::ecdsa::RecoverableSignature;
use bitcoin::secp256k1::PublicKey;
use bitcoin::Network;
use lightning::ln::channel_state::CounterpartyForwardingInfo;
use lightning::types::payment::{PaymentHash, PaymentPreimage, PaymentSecret};
use lightning_invoice::RawBolt11Invoice;

/// Where the [`LspsClient`](crate::LspsClient) queues its requests.
pub trait LspsOutbound: Send + Sync {
    /// Queues `payload` (one JSON-RPC message, at most 65,533 bytes) for `peer` as a type-37913
    /// message, without blocking.
    ///
    /// # Errors
    /// [`LspsSendError`]; nothing was queued when an error is returned.
    fn send(&self, peer: PublicKey, payload: Vec<u8>) -> Result<(), LspsSendError>;
}

/// Why an LSPS0 message could not be queued.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LspsSendError {
    /// The peer is not connected (LSPS0 messages are never stored for later).
    #[error("peer is not connected")]
    PeerNotConnected,
    /// Any other reason: payload too large, queue full, …
    #[error("{0}")]
    Refused(String),
}

/// The wallet node could not do what the SDK asked (register a payment, sign an invoice).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WalletNodeError(pub String);

/// What [`Lsps2Client`](crate::lsps2::Lsps2Client) needs from the wallet's Lightning node. Every
/// method maps onto one LDK call, named below.
pub trait WalletNode: Send + Sync {
    /// The node id: the JIT invoice's payee (`ChannelManager::get_our_node_id`).
    fn node_id(&self) -> PublicKey;

    /// The chain the node runs on: the JIT invoice's currency.
    fn network(&self) -> Network;

    /// Registers an inbound payment and returns its hash and secret
    /// (`ChannelManager::create_inbound_payment`): `amount_msat` (`None`: any amount), valid for
    /// `expiry_secs`, and `min_final_cltv_expiry_delta` as the node enforces it when the payment
    /// arrives.
    ///
    /// # Errors
    /// If the node refuses the values.
    fn create_inbound_payment(
        &self,
        amount_msat: Option<u64>,
        expiry_secs: u32,
        min_final_cltv_expiry_delta: u16,
    ) -> Result<(PaymentHash, PaymentSecret), WalletNodeError>;

    /// Signs `invoice` with the node key (`NodeSigner::sign_invoice(invoice, Recipient::Node)`).
    ///
    /// # Errors
    /// If the signer refuses.
    fn sign_invoice(&self, invoice: &RawBolt11Invoice) -> Result<RecoverableSignature, WalletNodeError>;

    /// Claims a payment that passed the LSPS2 checks (`ChannelManager::claim_funds`).
    fn claim_funds(&self, preimage: PaymentPreimage);

    /// Fails a payment back (`ChannelManager::fail_htlc_backwards`).
    fn fail_htlc_backwards(&self, payment_hash: &PaymentHash);

    /// The forwarding terms `peer` announced for its channel towards this node
    /// (`ChannelDetails::counterparty.forwarding_info`), for route hints through it. The
    /// default knows none, and the SDK then uses what the LSP answered.
    fn counterparty_forwarding_info(&self, peer: &PublicKey) -> Option<CounterpartyForwardingInfo> {
        let _ = peer;
        None
    }
}
