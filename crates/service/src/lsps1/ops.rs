//! What the LSPS1 service needs from the node, as a trait ([`OrderLightning`], implemented
//! for `inbound_node::Node` in `lightning.rs`); tests use a fake.

use bitcoin::secp256k1::PublicKey;
use bitcoin::Network;

pub use crate::OpsError;

/// What the wallet received to an order's address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Receipt {
    /// Total received.
    pub received_sat: u64,
    /// Confirmations of the least-confirmed output (`None`: nothing received).
    pub confirmations: Option<u32>,
}

/// Unconfirmed deposits to one address, seen in the chain source's mempool and not yet known
/// to the wallet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnconfirmedReceipt {
    /// The address paid.
    pub address: String,
    /// Total of the unconfirmed outputs paying it.
    pub received_sat: u64,
    /// The lowest fee rate (sat/kWU) of the paying transactions; `None` if one's fee is unknown.
    pub min_fee_rate_sat_per_kwu: Option<u64>,
}

/// Opening an ordered channel (bLIP-51 §"Channel object and opening duties").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderOpen {
    /// The client.
    pub client: PublicKey,
    /// Capacity: `lsp_balance_sat + client_balance_sat`.
    pub capacity_sat: u64,
    /// Pushed to the client: `client_balance_sat`.
    pub push_sat: u64,
    /// The order's `user_channel_id`.
    pub user_channel_id: u128,
    /// Announce the channel.
    pub announce: bool,
    /// `required_channel_confirmations == 0`: the LSP may send channel_ready at once.
    pub zero_conf: bool,
}

/// The Lightning node and wallet, as the LSPS1 service uses them.
pub trait OrderLightning: Send + Sync {
    /// 32 random bytes (preimages).
    fn random_bytes(&self) -> [u8; 32];
    /// The network the node runs on.
    fn network(&self) -> Network;
    /// The chain height the node has processed.
    fn height(&self) -> u32;
    /// The current fee rate for funding transactions, sat/kWU.
    fn fee_rate_sat_per_kwu(&self) -> u32;
    /// Whether `peer` is connected now.
    fn is_connected(&self, peer: &PublicKey) -> bool;
    /// A hold invoice for `payment_hash`; returns the encoded invoice.
    fn create_hold_invoice(
        &self,
        payment_hash: [u8; 32],
        amount_msat: u64,
        expiry_secs: u32,
        min_final_cltv_expiry_delta: u16,
    ) -> Result<String, OpsError>;
    /// Releases the preimage of a held payment (idempotent).
    fn claim_payment(&self, preimage: [u8; 32]);
    /// Fails back the HTLCs of `payment_hash` (idempotent).
    fn fail_payment(&self, payment_hash: [u8; 32]);
    /// A fresh deposit address of the wallet.
    fn new_address(&self) -> Result<String, OpsError>;
    /// What the wallet received to `address`.
    fn received_to(&self, address: &str) -> Receipt;
    /// Unconfirmed deposits to `addresses` in the chain source's mempool that the wallet does
    /// not know yet (bounded by the chain source). The default sees none.
    fn unconfirmed_to<'a>(&'a self, addresses: &'a [String]) -> crate::BoxFuture<'a, Vec<UnconfirmedReceipt>> {
        let _ = addresses;
        Box::pin(async { Vec::new() })
    }
    /// Whether a channel with this `user_channel_id` exists (being opened or open).
    fn has_channel(&self, user_channel_id: u128) -> bool;
    /// Starts opening the channel.
    fn open_channel(&self, request: &OrderOpen) -> Result<(), OpsError>;
    /// Builds and signs (does not broadcast) a transaction paying `amount_sat` to `address` at
    /// `fee_rate_sat_per_kwu`; returns `(txid, hex)`.
    fn build_refund(
        &self,
        address: &str,
        amount_sat: u64,
        fee_rate_sat_per_kwu: u32,
    ) -> Result<(String, String), OpsError>;
    /// Broadcasts a transaction (idempotent: the same transaction twice is harmless).
    fn broadcast(&self, tx_hex: &str) -> Result<(), OpsError>;
    /// Confirmations of one of the wallet's transactions (`None`: unknown, `Some(0)`: unconfirmed).
    fn tx_confirmations(&self, txid: &str) -> Option<u32>;
    /// Builds and signs (does not broadcast) an RBF replacement of our unconfirmed `txid` at
    /// `fee_rate_sat_per_kwu`; returns `(txid, hex)`.
    fn bump_refund(&self, txid: &str, fee_rate_sat_per_kwu: u32) -> Result<(String, String), OpsError>;
    /// Closes the channel of `user_channel_id` cooperatively if no HTLC is in flight on it.
    /// `Ok(false)`: it is busy, try later; `Ok(true)`: closing, or already gone.
    fn close_if_idle(&self, user_channel_id: u128) -> Result<bool, OpsError>;
    /// Starts connecting to `peer` at `address` (`host:port`, already validated) in the
    /// background, refusing non-public IPs unless `allow_private`. The default does nothing.
    fn connect_in_background(&self, peer: &PublicKey, address: &str, allow_private: bool) {
        let _ = (peer, address, allow_private);
    }
}
