//! Notify-and-wait for payments over an **existing** channel (an Inbound extension of LSPS5).
//!
//! LDK fails a forward to a disconnected peer at once, and raises `HTLCIntercepted` only for
//! SCIDs in its intercept namespace. So a wallet with a channel asks for a *hold SCID*
//! (`inbound.hold_scid`, [`HoldService::hold_scid`]): an intercept SCID stable for that client,
//! persisted (kind `hold_scid`) so that invoices made before a restart still work. Its invoices'
//! route hint goes through it. An HTLC to it ([`HoldEventHandler`], in front of LSPS2's handler;
//! an LSPS2 session's SCID always wins) becomes a [`HeldPayment`] flow (kind `held_htlc`):
//! forwarded at once when the client has a usable channel, else held while the LSPS5 service
//! wakes the client (`payment_incoming` through the [`ClientNotifier`](crate::notify::ClientNotifier)),
//! forwarded when the channel is usable again, failed back at `hold_secs`.
//!
//! Bounded: [`MAX_HELD_HTLCS_PER_CLIENT`] unfinished holds per client (checked inside the
//! insert's transaction) and [`MAX_HELD_HTLCS`] waiting in total; over either, and for an HTLC no
//! usable channel of the client can carry, the HTLC is failed back at once.

mod lightning;
mod ops;
mod payment;
#[cfg(test)]
mod payment_tests;
mod service;
#[cfg(test)]
mod service_tests;

pub use lightning::HoldEventHandler;
pub use ops::{ChannelChoice, ForwardingTerms, HoldNode};
pub use payment::{HeldPayment, HoldContext, HoldEffect, HoldFailure, HoldInput, HoldState};
pub use service::{held_id, HoldService, MAX_HELD_HTLCS, MAX_HELD_HTLCS_PER_CLIENT};
