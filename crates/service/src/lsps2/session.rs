//! The LSPS2 JIT session: one purchase (`lsps2.buy`), from the intercept SCID handed out to the
//! fee collected, as a pure state machine (bLIP-52 §§"Payment collection" to "Forwarding").
//!
//! ```text
//!                 HtlcIntercepted (parts < size)            MPP timer (90 s) / client wait /
//!            ┌──────────────────────────────┐               open failed: fail parts, start over
//!            ▼                              │            ┌──────────────────────────────────┐
//!   ┌──────────────────┐  parts ≥ size ┌────┴─────────┐  │  ┌──────────────┐ ChannelReady ┌───────────┐ PaymentForwarded ┌──────┐
//!   │ AwaitingPayment  │──────────────▶│AwaitingClient│──┴─▶│OpeningChannel│─────────────▶│ Forwarded │─────────────────▶│ Paid │
//!   └──────────────────┘ (client on-   └──────────────┘     └──────────────┘  (forward     └───────────┘  (fee skimmed)   └──────┘
//!       │  ▲              line: skip)    client connects:       │               minus fee)       │ forward failed /
//!       │  └─────────────────────────────────────────────────────┘ open failed (< max attempts)  ▼ client never claims
//!       │ valid_until passed / too many open failures                                  ┌────────────────┐ next payment
//!       ▼                                                                              │ ChannelUnpaid  │ pays the fee ──▶ Paid
//!   Expired / Failed  (terminal: every held HTLC failed back, nothing waits for CLTV)   └────────────────┘
//! ```
//!
//! An open that did not happen through no fault of the client's ([`JitInput::OpenInterrupted`]:
//! the node forgot the unfunded channel in a restart, or the client was gone when the open was
//! to go out) goes back from `OpeningChannel` to `AwaitingClient` with the payment still held,
//! or opens again at once if the client is connected.
//!
//! [`JitSession::step`] takes the session, one [`JitInput`] and the current time, and returns the
//! next session plus the [`JitEffect`]s the runner must carry out. It does no I/O and reads no
//! clock, so every transition is tested by tables in `session_tests.rs`. The runner persists the
//! new session and its effects before executing them, and effects are idempotent (keyed by
//! intercept id or `user_channel_id`), so a crash anywhere replays safely.

use serde::{Deserialize, Serialize};

use lsps::lsps2::OpeningFeeParams;
use lsps::schema::{DateTime, NodeId, Scid};

pub use crate::flow::TransitionError;
pub use crate::ids::{ChannelRef, InterceptRef, PaymentHashRef};

pub use crate::intercept::HeldHtlc;

/// How the client bought: `payment_size_msat` present (MPP, fixed invoice) or absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum PurchaseMode {
    /// MPP + fixed-amount invoice: collect parts until `payment_size_msat`.
    Fixed {
        /// The size the client will be paid.
        payment_size_msat: u64,
    },
    /// No-MPP + variable-amount invoice: exactly one HTLC, its amount sets the fee.
    Variable,
}

/// Why a session failed for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailReason {
    /// `valid_until` passed before the payment was complete.
    Expired,
    /// The channel could not be opened after the allowed number of attempts.
    OpenFailedRepeatedly,
    /// The operator cancelled the session.
    Cancelled,
    /// The client held the forwarded HTLCs past the claim timeout.
    ClientNeverClaimed,
    /// The channel stayed unpaid past its grace period.
    ChannelNeverPaid,
}

/// The failure the runner sends back for failed HTLCs (bLIP-52 §"Payment collection").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HtlcFailure {
    /// Retry later: MPP timeout, client offline, open failed before `funding_signed`.
    TemporaryChannelFailure,
    /// Permanent for this SCID: expired, unknown, fee cannot be covered, too many parts.
    UnknownNextPeer,
}

impl JitEffect {
    /// A short, stable name for logs and the outbox.
    pub fn name(&self) -> &'static str {
        match self {
            JitEffect::FailHtlcs { .. } => "fail_htlcs",
            JitEffect::OpenChannel { .. } => "open_channel",
            JitEffect::ForwardHtlcs { .. } => "forward_htlcs",
            JitEffect::BroadcastFunding => "broadcast_funding",
            JitEffect::AbandonChannel => "abandon_channel",
            JitEffect::CloseChannel { .. } => "close_channel",
            JitEffect::NotifyClient => "notify_client",
            JitEffect::RecordUnpaid => "record_unpaid",
        }
    }
}

/// Where the session stands. Each variant says what it is waiting for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum JitState {
    /// Waiting for HTLCs to the intercept SCID. In fixed mode the parts of one payment hash
    /// accumulate until they reach `payment_size_msat`; `first_part_at` starts the MPP timer.
    AwaitingPayment {
        /// Parts held so far (one payment hash).
        parts: Vec<HeldHtlc>,
        /// When the first held part arrived.
        first_part_at: Option<DateTime>,
    },
    /// The payment is complete but the client is not connected; waiting a bounded time for it
    /// (LSPS5 may wake it).
    AwaitingClient {
        /// The complete payment.
        parts: Vec<HeldHtlc>,
        /// When the wait began.
        since: DateTime,
    },
    /// The open was requested; waiting for `ChannelReady`.
    OpeningChannel {
        /// The complete payment.
        parts: Vec<HeldHtlc>,
        /// When the open was requested.
        since: DateTime,
    },
    /// The parts were forwarded minus the fee; waiting for the client to claim
    /// (`PaymentForwarded`) or for the forward to fail.
    Forwarded {
        /// The JIT channel.
        channel_id: ChannelRef,
        /// The client's `htlc_minimum_msat` in the channel.
        client_htlc_minimum_msat: u64,
        /// The HTLCs forwarded (to recognise replays).
        forwarded: Vec<InterceptRef>,
        /// When the parts were forwarded.
        since: DateTime,
    },
    /// The channel exists but the fee was not collected (the client failed or never claimed
    /// the payment). The next payment to the SCID or the channel that can cover the fee pays
    /// it. In `client_trusts_lsp` mode the funding transaction is still unbroadcast.
    ChannelUnpaid {
        /// The JIT channel.
        channel_id: ChannelRef,
        /// The client's `htlc_minimum_msat` in the channel.
        client_htlc_minimum_msat: u64,
    },
    /// The fee was collected. Terminal for the purchase; the channel lives on under its lease.
    Paid {
        /// The JIT channel.
        channel_id: ChannelRef,
        /// The fee collected.
        fee_msat: u64,
        /// When it was collected.
        at: DateTime,
    },
    /// Nothing was bought: `valid_until` passed with no payment. Terminal.
    Expired,
    /// The session failed; every held HTLC was failed back. Terminal.
    Failed {
        /// Why.
        reason: FailReason,
    },
}

impl JitState {
    /// A short, stable name for logs, metrics and the store's index.
    pub fn name(&self) -> &'static str {
        match self {
            JitState::AwaitingPayment { .. } => "awaiting_payment",
            JitState::AwaitingClient { .. } => "awaiting_client",
            JitState::OpeningChannel { .. } => "opening_channel",
            JitState::Forwarded { .. } => "forwarded",
            JitState::ChannelUnpaid { .. } => "channel_unpaid",
            JitState::Paid { .. } => "paid",
            JitState::Expired => "expired",
            JitState::Failed { .. } => "failed",
        }
    }

    /// Whether the purchase is over (nothing more will happen to it).
    pub fn is_terminal(&self) -> bool {
        matches!(self, JitState::Paid { .. } | JitState::Expired | JitState::Failed { .. })
    }

    /// The HTLCs held in this state, which must be failed back if the session dies.
    pub fn held_htlcs(&self) -> &[HeldHtlc] {
        match self {
            JitState::AwaitingPayment { parts, .. }
            | JitState::AwaitingClient { parts, .. }
            | JitState::OpeningChannel { parts, .. } => parts,
            _ => &[],
        }
    }
}

/// Timers and limits of the JIT flow, from the operator's policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionPolicy {
    /// How long parts of one payment are held before they are failed back (bLIP-52: ≥ 90 s).
    pub mpp_timeout_secs: u64,
    /// How long a complete payment waits for an offline client to connect.
    pub client_wait_secs: u64,
    /// How long an open may take, from the request to `ChannelReady`.
    pub open_timeout_secs: u64,
    /// How long the client may hold the forwarded HTLCs before the LSP gives up on the fee.
    pub claim_timeout_secs: u64,
    /// How long after `valid_until` an unpaid channel is kept before it is closed.
    pub unpaid_channel_grace_secs: u64,
    /// How many opens may fail before the session fails for good.
    pub max_open_attempts: u32,
    /// The most parts one payment may have.
    pub max_parts: usize,
    /// The `htlc_minimum_msat` assumed for the client's channel until it is known; parts that
    /// cannot cover the fee plus this per part are refused early.
    pub assumed_htlc_minimum_msat: u64,
}

/// LSPS2's own timers plus Inbound's bounds.
pub const DEFAULT_MPP_TIMEOUT_SECS: u64 = 90;
/// A wallet woken by a push needs a few seconds to connect.
pub const DEFAULT_CLIENT_WAIT_SECS: u64 = 30;
/// Opening a 0-conf channel takes a few round trips.
pub const DEFAULT_OPEN_TIMEOUT_SECS: u64 = 60;
/// A client must claim promptly; holding HTLCs is the griefing bLIP-52 warns about.
pub const DEFAULT_CLAIM_TIMEOUT_SECS: u64 = 120;
/// An unpaid channel is kept a day past `valid_until` for a later payment to pay the fee.
pub const DEFAULT_UNPAID_CHANNEL_GRACE_SECS: u64 = 86_400;
/// Three failed opens end the session.
pub const DEFAULT_MAX_OPEN_ATTEMPTS: u32 = 3;
/// LDK's default cap on HTLCs per channel is 483; far fewer parts are ever needed.
pub const DEFAULT_MAX_PARTS: usize = 32;
/// LDK's default `htlc_minimum_msat`.
pub const DEFAULT_ASSUMED_HTLC_MINIMUM_MSAT: u64 = 1;

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            mpp_timeout_secs: DEFAULT_MPP_TIMEOUT_SECS,
            client_wait_secs: DEFAULT_CLIENT_WAIT_SECS,
            open_timeout_secs: DEFAULT_OPEN_TIMEOUT_SECS,
            claim_timeout_secs: DEFAULT_CLAIM_TIMEOUT_SECS,
            unpaid_channel_grace_secs: DEFAULT_UNPAID_CHANNEL_GRACE_SECS,
            max_open_attempts: DEFAULT_MAX_OPEN_ATTEMPTS,
            max_parts: DEFAULT_MAX_PARTS,
            assumed_htlc_minimum_msat: DEFAULT_ASSUMED_HTLC_MINIMUM_MSAT,
        }
    }
}

/// One purchase: what was bought, and where the flow stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JitSession {
    /// The client that bought (the BOLT8 peer of `lsps2.buy`).
    pub client: NodeId,
    /// The fake SCID in the client's route hint.
    pub intercept_scid: Scid,
    /// LDK's `user_channel_id` for the JIT channel; unique per session, so opens are idempotent.
    #[serde(with = "crate::ids::u128_text")]
    pub user_channel_id: u128,
    /// The menu entry bought, as the client sent it.
    pub opening_fee_params: OpeningFeeParams,
    /// Fixed or variable invoice.
    pub mode: PurchaseMode,
    /// Whether the funding broadcast waits for the fee (bLIP-52 §"Trust models").
    pub client_trusts_lsp: bool,
    /// When `lsps2.buy` succeeded.
    pub created_at: DateTime,
    /// Opens tried so far.
    pub open_attempts: u32,
    /// The opening fee of the payment being delivered, known once the payment is complete
    /// (in variable mode it depends on the HTLC's amount).
    pub opening_fee_msat: Option<u64>,
    /// Fee skimmed so far (`PaymentForwarded` arrives per part).
    pub fee_collected_msat: u64,
    /// Where the flow stands.
    pub state: JitState,
}

/// Something that happened to a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JitInput {
    /// An HTLC to the intercept SCID arrived (also replayed by LDK after a restart).
    HtlcIntercepted(HeldHtlc),
    /// The client connected.
    ClientConnected,
    /// The open failed: LDK refused it, the client rejected it, or the channel closed (or the
    /// client disconnected) before it was ready.
    OpenFailed,
    /// The open did not happen, through no fault of the client's: the node forgot an unfunded
    /// channel across a restart of the LSP, or the client was not connected when the open was
    /// to go out. The held payment is kept: opened again at once if the client is here, else
    /// the session waits for it as in `AwaitingClient`.
    OpenInterrupted,
    /// Both sides sent `channel_ready` on the JIT channel.
    ChannelReady {
        /// The channel.
        channel_id: ChannelRef,
        /// The client's `htlc_minimum_msat` in it.
        client_htlc_minimum_msat: u64,
    },
    /// A forwarded part failed downstream (the client failed it or the channel closed).
    ForwardFailed,
    /// The client claimed a forwarded part; `skimmed_fee_msat` was deducted from it.
    PaymentForwarded {
        /// The fee taken from this part.
        skimmed_fee_msat: u64,
    },
    /// Time passed; timers are checked against `now`.
    Tick,
    /// The operator ends a session that is collecting or holding a payment (no open in
    /// flight): the held HTLCs are failed back and the session fails as `Cancelled`.
    OperatorFail,
}

impl JitInput {
    /// A short, stable name for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            JitInput::HtlcIntercepted(_) => "htlc_intercepted",
            JitInput::ClientConnected => "client_connected",
            JitInput::OpenFailed => "open_failed",
            JitInput::OpenInterrupted => "open_interrupted",
            JitInput::ChannelReady { .. } => "channel_ready",
            JitInput::ForwardFailed => "forward_failed",
            JitInput::PaymentForwarded { .. } => "payment_forwarded",
            JitInput::Tick => "tick",
            JitInput::OperatorFail => "operator_fail",
        }
    }
}

/// What the runner must do, after it has persisted the new session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum JitEffect {
    /// Fail these intercepted HTLCs back to the payer.
    FailHtlcs {
        /// Which.
        htlcs: Vec<InterceptRef>,
        /// With which failure.
        failure: HtlcFailure,
    },
    /// Open the JIT channel to the client: 0-conf, private, SCID alias.
    OpenChannel {
        /// What will be forwarded over it (payment minus fee); the runner sizes the channel.
        forward_msat: u64,
        /// Hold the funding transaction until [`JitEffect::BroadcastFunding`].
        manual_broadcast: bool,
    },
    /// Forward intercepted HTLCs over the JIT channel with these (reduced) amounts.
    ForwardHtlcs {
        /// The JIT channel.
        channel_id: ChannelRef,
        /// Each HTLC and the amount to forward.
        forwards: Vec<(InterceptRef, u64)>,
    },
    /// Broadcast the held funding transaction (the fee has been collected).
    BroadcastFunding,
    /// Give up a channel that was never funded on chain: close it and release the wallet's
    /// inputs; nothing was broadcast, so nothing is lost.
    AbandonChannel,
    /// Close the JIT channel (`force` when the client is unresponsive).
    CloseChannel {
        /// The channel.
        channel_id: ChannelRef,
        /// Force-close rather than cooperate.
        force: bool,
    },
    /// Tell the client a payment waits (LSPS5 `payment_incoming`).
    NotifyClient,
    /// Remember that this client cost the LSP an unpaid channel (abuse accounting).
    RecordUnpaid,
}

/// What the state machine needs to know about the world besides the input.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// Now.
    pub now: DateTime,
    /// Whether the client is connected to the LSP.
    pub client_online: bool,
    /// The operator's timers and limits.
    pub policy: &'a SessionPolicy,
}

impl JitSession {
    /// A session just bought, waiting for its payment.
    pub fn new(
        client: NodeId,
        intercept_scid: Scid,
        user_channel_id: u128,
        opening_fee_params: OpeningFeeParams,
        mode: PurchaseMode,
        client_trusts_lsp: bool,
        now: DateTime,
    ) -> JitSession {
        JitSession {
            client,
            intercept_scid,
            user_channel_id,
            opening_fee_params,
            mode,
            client_trusts_lsp,
            created_at: now,
            open_attempts: 0,
            opening_fee_msat: None,
            fee_collected_msat: 0,
            state: JitState::AwaitingPayment { parts: Vec::new(), first_part_at: None },
        }
    }

    /// The fee still owed for the channel.
    pub fn fee_outstanding_msat(&self) -> u64 {
        self.opening_fee_msat.unwrap_or(0).saturating_sub(self.fee_collected_msat)
    }

    /// When the session must next be woken with [`JitInput::Tick`]: the earliest timer of its
    /// state (MPP timer and `valid_until` while collecting, the client wait, the open and
    /// claim timeouts, the unpaid-channel grace). `None` for terminal states, which never
    /// wake. The runner stores it as the session's deadline.
    pub fn next_deadline(&self, policy: &SessionPolicy) -> Option<DateTime> {
        let valid_until = self.opening_fee_params.valid_until;
        let after = |since: &DateTime, secs: u64| since.checked_add_secs(secs).unwrap_or(valid_until);
        match &self.state {
            JitState::AwaitingPayment { first_part_at, .. } => {
                let mpp = first_part_at.map(|first| after(&first, policy.mpp_timeout_secs));
                Some(mpp.map_or(valid_until, |mpp| mpp.min(valid_until)))
            }
            JitState::AwaitingClient { since, .. } => Some(after(since, policy.client_wait_secs).min(valid_until)),
            JitState::OpeningChannel { since, .. } => Some(after(since, policy.open_timeout_secs)),
            JitState::Forwarded { since, .. } => Some(after(since, policy.claim_timeout_secs)),
            JitState::ChannelUnpaid { .. } => {
                Some(valid_until.checked_add_secs(policy.unpaid_channel_grace_secs).unwrap_or(valid_until))
            }
            JitState::Paid { .. } | JitState::Expired | JitState::Failed { .. } => None,
        }
    }
}
