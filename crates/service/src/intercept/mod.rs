//! What every flow that handles intercepted HTLCs shares (LSPS2 JIT sessions and LSPS5's
//! notify-and-wait holds): the held HTLC as the flows store it, and [`InterceptOps`], the
//! node's intercept calls. It lives in no protocol module, so that no protocol module of the
//! service imports another; `lightning.rs` implements it for `inbound_node::Node` and turns
//! LDK's `HTLCIntercepted` into ([`intercepted`]).

mod lightning;

use bitcoin::secp256k1::PublicKey;
use serde::{Deserialize, Serialize};

pub use lightning::intercepted;

use crate::ids::{ChannelRef, InterceptRef, PaymentHashRef};
use crate::ops::OpsError;

/// An HTLC the LSP holds (LDK's `HTLCIntercepted`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldHtlc {
    /// LDK's id for the intercepted HTLC.
    pub intercept_id: InterceptRef,
    /// The payment it belongs to.
    pub payment_hash: PaymentHashRef,
    /// What the payer asked the LSP to forward (the onion amount): the part's size in bLIP-52.
    pub expected_outbound_amount_msat: u64,
    /// What arrived at the LSP (≥ the outbound amount; the difference is the payer's fee to us).
    pub inbound_amount_msat: u64,
}

/// The node's calls on intercepted HTLCs and peers, shared by every flow that holds HTLCs.
pub trait InterceptOps: Send + Sync {
    /// A fresh SCID in LDK's intercept namespace (may repeat; the caller checks).
    fn new_intercept_scid(&self) -> u64;
    /// Whether `peer` is connected now.
    fn is_connected(&self, peer: &PublicKey) -> bool;
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
    /// Sends what the calls before it queued now rather than on the node's next round:
    /// processes pending HTLC forwards (LDK otherwise waits a randomized batch delay) and
    /// flushes queued peer messages. Called after opens and forwards; the default does nothing.
    fn flush(&self) {}
}

/// Fails an HTLC back, where "not found" (already resolved) is fine.
pub(crate) fn ignore_not_found(result: Result<(), OpsError>, what: &str) {
    match result {
        Ok(()) | Err(OpsError::NotFound) => {}
        Err(error) => tracing::warn!(%error, "{what}"),
    }
}
