//! What the hold service needs from the node ([`HoldNode`]; `lightning.rs` implements it for
//! `inbound_node::Node`, tests use a fake).

use bitcoin::secp256k1::PublicKey;

use crate::ids::ChannelRef;
use crate::intercept::InterceptOps;

/// Whether the client's channels can take an HTLC now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelChoice {
    /// This usable channel (connected, `channel_reestablish` done) can carry it.
    Ready(ChannelRef),
    /// The client has a usable channel, but none can carry the amount.
    TooSmall,
    /// No usable channel: the client is offline or still reestablishing.
    Unusable,
}

/// The LSP's forwarding terms towards the client (the route hint's fees and CLTV delta).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForwardingTerms {
    /// Base fee.
    pub fee_base_msat: u32,
    /// Proportional fee.
    pub fee_proportional_millionths: u32,
    /// CLTV delta.
    pub cltv_expiry_delta: u16,
}

/// The node as the hold service sees it: the shared intercept calls and the client's channels.
pub trait HoldNode: InterceptOps {
    /// Whether the LSP has a channel (usable or not) with `client`.
    fn has_channel_with(&self, client: &PublicKey) -> bool;
    /// The channel that can carry `amount_msat` to `client` now.
    fn channel_for(&self, client: &PublicKey, amount_msat: u64) -> ChannelChoice;
    /// The forwarding terms of the LSP's channel with `client`, if it has one.
    fn forwarding_terms(&self, client: &PublicKey) -> Option<ForwardingTerms>;
}
