//! What the LSPS2 service needs from the world, as traits: the Lightning node
//! ([`JitLightning`], implemented for `inbound_node::Node` in `lightning.rs`) and the clock
//! ([`Clock`]). Tests swap in fakes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bitcoin::secp256k1::PublicKey;
use lsps::schema::DateTime;
use thiserror::Error;

use super::session::{ChannelRef, InterceptRef};

/// Wall-clock time, injected so that tests control it.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime {
        let millis = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        let millis = u64::try_from(millis).unwrap_or(u64::MAX);
        // `DateTime` ends in year 9999; a system clock beyond it is a broken host.
        DateTime::from_unix_millis(millis).unwrap_or_else(far_future)
    }
}

fn far_future() -> DateTime {
    DateTime::from_unix_secs(253_402_300_799).expect("9999-12-31T23:59:59Z is representable")
}

/// A clock that moves only when told to (tests).
#[derive(Debug)]
pub struct ManualClock {
    unix_millis: AtomicU64,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime) -> ManualClock {
        ManualClock { unix_millis: AtomicU64::new(start.unix_millis()) }
    }

    /// A clock standing at the system time now.
    pub fn starting_now() -> ManualClock {
        ManualClock::new(SystemClock.now())
    }

    /// Moves the clock forward.
    pub fn advance(&self, secs: u64) {
        self.unix_millis.fetch_add(secs.saturating_mul(1000), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime {
        DateTime::from_unix_millis(self.unix_millis.load(Ordering::SeqCst)).unwrap_or_else(far_future)
    }
}

/// Why a Lightning operation failed.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum OpsError {
    /// The HTLC or channel is not (or no longer) known: the operation was done already, or
    /// is moot. Effects treat it as success.
    #[error("not found")]
    NotFound,
    /// Anything else, with LDK's or the wallet's explanation.
    #[error("{0}")]
    Failed(String),
}

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
