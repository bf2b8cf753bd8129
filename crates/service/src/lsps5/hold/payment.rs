//! [`HeldPayment`]: one HTLC to a client's hold SCID, as a pure state machine.
//!
//! ```text
//!                   client online with a usable channel: Forward
//!   intercepted ─────────────────────────────────────────────────────────▶ Forwarded (terminal)
//!        │ offline: Notify (lsps5.payment_incoming)                         ▲     │ forward refused,
//!        ▼                                   ClientReady { channel }: Forward │     │ hold time left
//!     Waiting ────────────────────────────────────────────────────────────────┘     ▼
//!        │ Tick at or after `hold_until`: Fail                                    Waiting
//!        ▼
//!     FailedBack (terminal)
//! ```
//!
//! LDK re-emits `HTLCIntercepted` after a restart for every HTLC it still holds; such a
//! [`HoldInput::Replayed`] re-issues a decision already made (`Forward` or `Fail`, both
//! idempotent: an HTLC LDK no longer holds is "not found"), and changes nothing while waiting.

use lsps::schema::{DateTime, NodeId};
use serde::{Deserialize, Serialize};

use crate::flow::TransitionError;
use crate::ids::ChannelRef;
use crate::intercept::HeldHtlc;

/// Why a held HTLC was failed back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldFailure {
    /// The client did not come back with a usable channel within `hold_secs`.
    Timeout,
}

/// Where a held HTLC stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum HoldState {
    /// Held until the client is back with a usable channel, or `hold_until`.
    Waiting,
    /// Handed to LDK over `channel`; LDK settles or fails it from here.
    Forwarded {
        /// The client's channel.
        channel: ChannelRef,
    },
    /// Failed back to the payer.
    FailedBack {
        /// Why.
        reason: HoldFailure,
    },
}

impl HoldState {
    /// The short name stored with the flow.
    pub fn name(&self) -> &'static str {
        match self {
            HoldState::Waiting => "waiting",
            HoldState::Forwarded { .. } => "forwarded",
            HoldState::FailedBack { .. } => "failed_back",
        }
    }
}

/// What can happen to a held HTLC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HoldInput {
    /// LDK raised `HTLCIntercepted` again for it (after a restart).
    Replayed,
    /// The client is connected with a usable channel that can carry the HTLC.
    ClientReady {
        /// That channel.
        channel: ChannelRef,
    },
    /// A timer tick.
    Tick,
    /// LDK refused the forward (e.g. the channel went away again).
    ForwardFailed,
}

impl HoldInput {
    /// A short, stable name.
    pub fn name(&self) -> &'static str {
        match self {
            HoldInput::Replayed => "replayed",
            HoldInput::ClientReady { .. } => "client_ready",
            HoldInput::Tick => "tick",
            HoldInput::ForwardFailed => "forward_failed",
        }
    }
}

/// What a held HTLC asks the world to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum HoldEffect {
    /// Wake the client: `lsps5.payment_incoming` through the `ClientNotifier`.
    Notify,
    /// `forward_intercepted_htlc` over `channel` with `amount_msat` (the onion's amount).
    Forward {
        /// The client's channel.
        channel: ChannelRef,
        /// What the payer asked the LSP to forward.
        amount_msat: u64,
    },
    /// `fail_intercepted_htlc`.
    Fail,
}

impl HoldEffect {
    /// A short, stable name.
    pub fn name(&self) -> &'static str {
        match self {
            HoldEffect::Notify => "notify",
            HoldEffect::Forward { .. } => "forward",
            HoldEffect::Fail => "fail",
        }
    }
}

/// What a step reads besides the state and the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HoldContext {
    /// Now, by the injected clock.
    pub now: DateTime,
}

/// One HTLC to a hold SCID.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldPayment {
    /// The client it is for.
    pub client: NodeId,
    /// The hold SCID it was sent to.
    pub hold_scid: u64,
    /// The HTLC.
    pub htlc: HeldHtlc,
    /// When it was intercepted.
    pub created_at: DateTime,
    /// When it is failed back if the client has not come back.
    pub hold_until: DateTime,
    /// Where it stands.
    pub state: HoldState,
}

impl HeldPayment {
    /// A newly intercepted HTLC and its first effects: forwarded at once over `ready` (the
    /// client is online with a usable channel), else held for `hold_secs` while the client is
    /// woken. `None` if `now + hold_secs` overflows.
    pub fn intercepted(
        client: NodeId,
        hold_scid: u64,
        htlc: HeldHtlc,
        now: DateTime,
        hold_secs: u64,
        ready: Option<ChannelRef>,
    ) -> Option<(HeldPayment, Vec<HoldEffect>)> {
        let hold_until = now.checked_add_secs(hold_secs)?;
        let amount_msat = htlc.expected_outbound_amount_msat;
        let (state, effects) = match ready {
            Some(channel) => (HoldState::Forwarded { channel }, vec![HoldEffect::Forward { channel, amount_msat }]),
            None => (HoldState::Waiting, vec![HoldEffect::Notify]),
        };
        Some((HeldPayment { client, hold_scid, htlc, created_at: now, hold_until, state }, effects))
    }

    /// Whether nothing more can happen.
    pub fn is_terminal(&self) -> bool {
        !matches!(self.state, HoldState::Waiting)
    }

    /// When a tick must wake it.
    pub fn deadline(&self) -> Option<DateTime> {
        matches!(self.state, HoldState::Waiting).then_some(self.hold_until)
    }

    /// Applies one input; see the module documentation.
    ///
    /// # Errors
    /// [`TransitionError`] for an input that makes no sense in the state (a refused forward of
    /// an HTLC that was never forwarded).
    pub fn step(
        &self,
        input: &HoldInput,
        context: HoldContext,
    ) -> Result<(HeldPayment, Vec<HoldEffect>), TransitionError> {
        let mut next = self.clone();
        let amount_msat = self.htlc.expected_outbound_amount_msat;
        let expired = context.now >= self.hold_until;
        let effects = match (&self.state, input) {
            (HoldState::Waiting, HoldInput::ClientReady { channel }) => {
                next.state = HoldState::Forwarded { channel: *channel };
                vec![HoldEffect::Forward { channel: *channel, amount_msat }]
            }
            (HoldState::Waiting, HoldInput::Tick) if expired => {
                next.state = HoldState::FailedBack { reason: HoldFailure::Timeout };
                vec![HoldEffect::Fail]
            }
            (HoldState::Waiting, HoldInput::Tick | HoldInput::Replayed) => Vec::new(),
            (HoldState::Forwarded { .. }, HoldInput::ForwardFailed) if expired => {
                next.state = HoldState::FailedBack { reason: HoldFailure::Timeout };
                vec![HoldEffect::Fail]
            }
            (HoldState::Forwarded { .. }, HoldInput::ForwardFailed) => {
                next.state = HoldState::Waiting;
                Vec::new()
            }
            (HoldState::Forwarded { channel }, HoldInput::Replayed) => {
                vec![HoldEffect::Forward { channel: *channel, amount_msat }]
            }
            (HoldState::FailedBack { .. }, HoldInput::Replayed) => vec![HoldEffect::Fail],
            // A decision was made; late ticks and readiness change nothing.
            (
                HoldState::Forwarded { .. } | HoldState::FailedBack { .. },
                HoldInput::Tick | HoldInput::ClientReady { .. },
            ) => Vec::new(),
            (state, input) => return Err(TransitionError { state: state.name(), input: input.name() }),
        };
        Ok((next, effects))
    }
}
