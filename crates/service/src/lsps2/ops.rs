//! What the LSPS2 service needs from the Lightning node, as a trait ([`JitLightning`],
//! implemented for `inbound_node::Node` in `lightning.rs`). Tests swap in a fake.

use bitcoin::secp256k1::PublicKey;

use crate::ids::{ChannelRef, InterceptRef};
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

/// The Lightning node, as the LSPS2 service uses it.
pub trait JitLightning: Send + Sync {
    /// Secret material the promise keys are derived from (the node secret key).
    fn promise_secret(&self) -> [u8; 32];
    /// A fresh SCID in LDK's intercept namespace (may repeat; the caller checks).
    fn new_intercept_scid(&self) -> u64;
    /// 128 random bits (for `user_channel_id`s).
    fn random_u128(&self) -> u128;
    /// Whether `peer` is connected now.
    fn is_connected(&self, peer: &PublicKey) -> bool;
    /// What the on-chain wallet can spend now, in satoshis.
    fn spendable_sat(&self) -> u64;
    /// The current fee rate for funding transactions.
    fn fee_rate_sat_per_kwu(&self) -> u32;
    /// Fails an intercepted HTLC back. LDK 0.2.7 always fails it with `unknown_next_peer`.
    fn fail_htlc(&self, intercept_id: InterceptRef) -> Result<(), OpsError>;
    /// Forwards an intercepted HTLC over `channel` to `client`, with `amount_msat`.
    fn forward_htlc(
        &self,
        intercept_id: InterceptRef,
        channel: ChannelRef,
        client: PublicKey,
        amount_msat: u64,
    ) -> Result<(), OpsError>;
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
    /// Sends what the calls before it queued now rather than on the node's next round:
    /// processes pending HTLC forwards (LDK otherwise waits a randomized batch delay) and
    /// flushes queued peer messages. Called after opens and forwards; the default does nothing.
    fn flush(&self) {}
}
