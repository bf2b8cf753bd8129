//! What the LSPS2 service needs from the Lightning node, as a trait ([`JitLightning`],
//! implemented for `inbound_node::Node` in `lightning.rs`). Tests swap in a fake.

use bitcoin::secp256k1::PublicKey;

use crate::ids::ChannelRef;
use crate::intercept::InterceptOps;
use crate::ops::OpsError;

/// Opening a JIT channel (bLIP-52 §"Opening the channel").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenRequest {
    /// The client.
    pub client: PublicKey,
    /// The channel's capacity.
    pub channel_sat: u64,
    /// The session's `user_channel_id`.
    pub user_channel_id: u128,
    /// Hold the funding transaction until [`JitLightning::broadcast_funding`].
    pub manual_broadcast: bool,
    /// The largest `to_self_delay` the client may impose on the LSP.
    pub max_client_to_self_delay: u16,
}

/// The Lightning node, as the LSPS2 service uses it: the shared intercept calls
/// ([`InterceptOps`]: SCIDs, peers, failing and forwarding held HTLCs) and the JIT channel's own.
pub trait JitLightning: InterceptOps {
    /// Secret material the promise keys are derived from (the node secret key).
    fn promise_secret(&self) -> [u8; 32];
    /// 128 random bits (for `user_channel_id`s).
    fn random_u128(&self) -> u128;
    /// What the on-chain wallet can spend now, in satoshis.
    fn spendable_sat(&self) -> u64;
    /// The current fee rate for funding transactions.
    fn fee_rate_sat_per_kwu(&self) -> u32;
    /// Whether a channel with this `user_channel_id` exists (being opened or open).
    fn has_channel(&self, user_channel_id: u128) -> bool;
    /// Starts opening a JIT channel.
    fn open_channel(&self, request: &OpenRequest) -> Result<(), OpsError>;
    /// The client's `htlc_minimum_msat` on `channel`, if the channel is known.
    fn client_htlc_minimum_msat(&self, channel: ChannelRef) -> Option<u64>;
    /// The `user_channel_id` of `channel`, if the channel is known.
    fn user_channel_id_of(&self, channel: ChannelRef) -> Option<u128>;
    /// Broadcasts the held funding transaction of `user_channel_id`.
    fn broadcast_funding(&self, user_channel_id: u128) -> Result<(), OpsError>;
    /// Force-closes the channel of `user_channel_id`, if any; with `release_inputs`, also
    /// frees the inputs of its never-broadcast funding transaction.
    fn abandon_channel(&self, user_channel_id: u128, release_inputs: bool) -> Result<(), OpsError>;
    /// Closes `channel` with `client`.
    fn close_channel(&self, channel: ChannelRef, client: PublicKey, force: bool) -> Result<(), OpsError>;
}
