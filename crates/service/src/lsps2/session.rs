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
use thiserror::Error;

use lsps::lsps2::{opening_fee_msat, split_opening_fee, OpeningFeeParams};
use lsps::schema::{DateTime, NodeId, Scid};

/// An intercepted HTLC's id (LDK `InterceptId`), hex in storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InterceptRef(pub [u8; 32]);

/// A payment hash, hex in storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PaymentHashRef(pub [u8; 32]);

/// A channel id, hex in storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelRef(pub [u8; 32]);

macro_rules! hex32_serde {
    ($type:ident) => {
        impl Serialize for $type {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut text = String::with_capacity(64);
                for byte in self.0 {
                    text.push_str(&format!("{byte:02x}"));
                }
                serializer.serialize_str(&text)
            }
        }
        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                parse_hex32(&text).map($type).ok_or_else(|| serde::de::Error::custom("expected 64 hex characters"))
            }
        }
    };
}
hex32_serde!(InterceptRef);
hex32_serde!(PaymentHashRef);
hex32_serde!(ChannelRef);

fn parse_hex32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[index * 2..index * 2 + 2], 16).ok()?;
    }
    Some(bytes)
}

/// An HTLC the LSP holds for the session.
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
    #[serde(with = "u128_string")]
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

mod u128_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &u128, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u128, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
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

/// An input that makes no sense in the session's state.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("input {input} is not valid in state {state}")]
pub struct TransitionError {
    /// The state's name.
    pub state: &'static str,
    /// The input's name.
    pub input: &'static str,
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

    /// Applies one input at `context.now`: the next session and the effects to carry out, in
    /// order, after the next session is persisted.
    pub fn step(&self, input: JitInput, context: Context<'_>) -> Result<(JitSession, Vec<JitEffect>), TransitionError> {
        let mut next = self.clone();
        let mut effects = Vec::new();
        let input_name = input.name();
        let invalid = || TransitionError { state: self.state.name(), input: input_name };
        let policy = context.policy;
        let now = context.now;
        next.state = match (&self.state, input) {
            // ---- terminal states ----
            (JitState::Expired | JitState::Failed { .. }, JitInput::HtlcIntercepted(htlc)) => {
                effects.push(fail(vec![htlc.intercept_id], HtlcFailure::UnknownNextPeer));
                self.state.clone()
            }
            (JitState::Paid { channel_id, .. }, JitInput::HtlcIntercepted(htlc)) => {
                // The fee is paid: later HTLCs to the SCID pass through untouched.
                effects.push(JitEffect::ForwardHtlcs {
                    channel_id: *channel_id,
                    forwards: vec![(htlc.intercept_id, htlc.expected_outbound_amount_msat)],
                });
                self.state.clone()
            }
            (JitState::Paid { .. } | JitState::Expired | JitState::Failed { .. }, _) => self.state.clone(),

            // ---- collecting the payment ----
            (JitState::AwaitingPayment { parts, first_part_at }, JitInput::HtlcIntercepted(htlc)) => {
                self.collect(parts, *first_part_at, htlc, context, &mut next, &mut effects)
            }
            (JitState::AwaitingPayment { parts, first_part_at }, JitInput::Tick) => {
                if now >= self.opening_fee_params.valid_until {
                    if !parts.is_empty() {
                        effects.push(fail(ids(parts), HtlcFailure::UnknownNextPeer));
                    }
                    JitState::Expired
                } else if first_part_at.is_some_and(|first| now.secs_since(&first) >= policy.mpp_timeout_secs) {
                    effects.push(fail(ids(parts), HtlcFailure::TemporaryChannelFailure));
                    awaiting_payment()
                } else {
                    self.state.clone()
                }
            }
            (JitState::AwaitingPayment { .. }, JitInput::ClientConnected | JitInput::OpenFailed) => self.state.clone(),

            // ---- waiting for the client ----
            (JitState::AwaitingClient { parts, .. }, JitInput::ClientConnected) => {
                next.open_attempts = self.open_attempts.saturating_add(1);
                effects.push(self.open_channel(parts));
                JitState::OpeningChannel { parts: parts.clone(), since: now }
            }
            (JitState::AwaitingClient { parts, since, .. }, JitInput::Tick) => {
                if now.secs_since(since) >= policy.client_wait_secs || now >= self.opening_fee_params.valid_until {
                    effects.push(fail(ids(parts), HtlcFailure::TemporaryChannelFailure));
                    if now >= self.opening_fee_params.valid_until {
                        JitState::Expired
                    } else {
                        awaiting_payment()
                    }
                } else {
                    self.state.clone()
                }
            }
            (
                JitState::AwaitingClient { parts, .. } | JitState::OpeningChannel { parts, .. },
                JitInput::HtlcIntercepted(htlc),
            ) => {
                if !parts.iter().any(|held| held.intercept_id == htlc.intercept_id) {
                    // A payment is already being delivered; this one may retry later.
                    effects.push(fail(vec![htlc.intercept_id], HtlcFailure::TemporaryChannelFailure));
                }
                self.state.clone()
            }
            (JitState::AwaitingClient { .. }, JitInput::OpenFailed) => self.state.clone(),

            // ---- opening the channel ----
            (JitState::OpeningChannel { parts, since, .. }, JitInput::Tick) => {
                if now.secs_since(since) >= policy.open_timeout_secs {
                    self.open_failed(parts, policy, &mut effects)
                } else {
                    self.state.clone()
                }
            }
            (JitState::OpeningChannel { parts, .. }, JitInput::OpenFailed) => {
                self.open_failed(parts, policy, &mut effects)
            }
            (JitState::OpeningChannel { parts, .. }, JitInput::OpenInterrupted) => {
                if self.open_attempts >= policy.max_open_attempts {
                    self.open_failed(parts, policy, &mut effects)
                } else if context.client_online {
                    next.open_attempts = self.open_attempts.saturating_add(1);
                    effects.push(self.open_channel(parts));
                    JitState::OpeningChannel { parts: parts.clone(), since: now }
                } else {
                    effects.push(JitEffect::NotifyClient);
                    JitState::AwaitingClient { parts: parts.clone(), since: now }
                }
            }
            (
                JitState::OpeningChannel { parts, .. },
                JitInput::ChannelReady { channel_id, client_htlc_minimum_msat },
            ) => {
                let amounts: Vec<u64> = parts.iter().map(|p| p.expected_outbound_amount_msat).collect();
                match split_opening_fee(&amounts, self.fee_outstanding_msat(), client_htlc_minimum_msat) {
                    Ok(split) => {
                        let forwards = parts.iter().zip(split).map(|(p, f)| (p.intercept_id, f.forward_msat)).collect();
                        effects.push(JitEffect::ForwardHtlcs { channel_id, forwards });
                        JitState::Forwarded { channel_id, client_htlc_minimum_msat, forwarded: ids(parts), since: now }
                    }
                    Err(_) => {
                        // The client's minimum is higher than assumed: the fee cannot be taken
                        // out. The channel stays; a later payment may pay the fee.
                        effects.push(fail(ids(parts), HtlcFailure::UnknownNextPeer));
                        JitState::ChannelUnpaid { channel_id, client_htlc_minimum_msat }
                    }
                }
            }

            // ---- forwarded, waiting for the claim ----
            (
                JitState::Forwarded { forwarded, channel_id, client_htlc_minimum_msat, .. },
                JitInput::HtlcIntercepted(htlc),
            ) => {
                if !forwarded.contains(&htlc.intercept_id) {
                    // Another payment to the SCID while the first is in flight: treat it as
                    // a payment over an unpaid channel once the first settles; retry later.
                    let _ = (channel_id, client_htlc_minimum_msat);
                    effects.push(fail(vec![htlc.intercept_id], HtlcFailure::TemporaryChannelFailure));
                }
                self.state.clone()
            }
            (JitState::Forwarded { channel_id, .. }, JitInput::PaymentForwarded { skimmed_fee_msat }) => {
                next.fee_collected_msat = self.fee_collected_msat.saturating_add(skimmed_fee_msat);
                if next.fee_outstanding_msat() == 0 {
                    if self.client_trusts_lsp {
                        effects.push(JitEffect::BroadcastFunding);
                    }
                    JitState::Paid { channel_id: *channel_id, fee_msat: next.fee_collected_msat, at: now }
                } else {
                    self.state.clone()
                }
            }
            (JitState::Forwarded { channel_id, client_htlc_minimum_msat, .. }, JitInput::ForwardFailed) => {
                effects.push(JitEffect::RecordUnpaid);
                JitState::ChannelUnpaid { channel_id: *channel_id, client_htlc_minimum_msat: *client_htlc_minimum_msat }
            }
            (JitState::Forwarded { channel_id, since, .. }, JitInput::Tick) => {
                if now.secs_since(since) >= policy.claim_timeout_secs {
                    effects.push(JitEffect::RecordUnpaid);
                    effects.push(self.give_up_channel(*channel_id, true));
                    JitState::Failed { reason: FailReason::ClientNeverClaimed }
                } else {
                    self.state.clone()
                }
            }

            // ---- a channel whose fee is still owed ----
            (JitState::ChannelUnpaid { channel_id, client_htlc_minimum_msat }, JitInput::HtlcIntercepted(htlc)) => {
                let owed = self.fee_outstanding_msat();
                match split_opening_fee(&[htlc.expected_outbound_amount_msat], owed, *client_htlc_minimum_msat) {
                    Ok(split) => {
                        let forward =
                            split.first().map(|f| f.forward_msat).unwrap_or(htlc.expected_outbound_amount_msat);
                        effects.push(JitEffect::ForwardHtlcs {
                            channel_id: *channel_id,
                            forwards: vec![(htlc.intercept_id, forward)],
                        });
                        JitState::Forwarded {
                            channel_id: *channel_id,
                            client_htlc_minimum_msat: *client_htlc_minimum_msat,
                            forwarded: vec![htlc.intercept_id],
                            since: now,
                        }
                    }
                    Err(_) => {
                        effects.push(fail(vec![htlc.intercept_id], HtlcFailure::UnknownNextPeer));
                        self.state.clone()
                    }
                }
            }
            (JitState::ChannelUnpaid { channel_id, .. }, JitInput::Tick) => {
                let grace_end = self.opening_fee_params.valid_until.checked_add_secs(policy.unpaid_channel_grace_secs);
                if grace_end.is_none_or(|end| now >= end) {
                    effects.push(self.give_up_channel(*channel_id, false));
                    JitState::Failed { reason: FailReason::ChannelNeverPaid }
                } else {
                    self.state.clone()
                }
            }
            (
                JitState::Forwarded { .. } | JitState::ChannelUnpaid { .. },
                JitInput::ClientConnected | JitInput::OpenFailed | JitInput::ChannelReady { .. },
            ) => self.state.clone(),
            (JitState::ChannelUnpaid { .. }, JitInput::ForwardFailed) => self.state.clone(),
            (_, _) => return Err(invalid()),
        };
        if matches!(next.state, JitState::AwaitingPayment { .. }) {
            // No payment is being delivered; a new one sets its own fee.
            next.opening_fee_msat = None;
        }
        Ok((next, effects))
    }

    /// Adds an intercepted HTLC to the payment being collected.
    fn collect(
        &self,
        parts: &[HeldHtlc],
        first_part_at: Option<DateTime>,
        htlc: HeldHtlc,
        context: Context<'_>,
        next: &mut JitSession,
        effects: &mut Vec<JitEffect>,
    ) -> JitState {
        let params = &self.opening_fee_params;
        if parts.iter().any(|held| held.intercept_id == htlc.intercept_id) {
            return self.state.clone(); // replayed after a restart
        }
        if context.now >= params.valid_until {
            let mut expired = ids(parts);
            expired.push(htlc.intercept_id);
            effects.push(fail(expired, HtlcFailure::UnknownNextPeer));
            return JitState::Expired;
        }
        match self.mode {
            PurchaseMode::Variable => {
                if !parts.is_empty() {
                    effects.push(fail(vec![htlc.intercept_id], HtlcFailure::UnknownNextPeer));
                    return self.state.clone();
                }
                let amount = htlc.expected_outbound_amount_msat;
                let in_range =
                    (params.min_payment_size_msat.get()..=params.max_payment_size_msat.get()).contains(&amount);
                let fee = opening_fee_msat(amount, params.min_fee_msat.get(), params.proportional.get());
                let covered = fee
                    .ok()
                    .and_then(|fee| fee.checked_add(context.policy.assumed_htlc_minimum_msat))
                    .is_some_and(|need| need <= amount);
                match fee {
                    Ok(fee) if in_range && covered => self.complete(vec![htlc], fee, context, next, effects),
                    _ => {
                        effects.push(fail(vec![htlc.intercept_id], HtlcFailure::UnknownNextPeer));
                        self.state.clone()
                    }
                }
            }
            PurchaseMode::Fixed { payment_size_msat } => {
                let same_payment = parts.first().is_none_or(|first| first.payment_hash == htlc.payment_hash);
                if !same_payment {
                    effects.push(fail(vec![htlc.intercept_id], HtlcFailure::TemporaryChannelFailure));
                    return self.state.clone();
                }
                if parts.len() >= context.policy.max_parts {
                    let mut all = ids(parts);
                    all.push(htlc.intercept_id);
                    effects.push(fail(all, HtlcFailure::UnknownNextPeer));
                    return awaiting_payment();
                }
                let mut parts = parts.to_vec();
                parts.push(htlc);
                let total = parts.iter().try_fold(0u64, |sum, p| sum.checked_add(p.expected_outbound_amount_msat));
                let Some(total) = total else {
                    effects.push(fail(ids(&parts), HtlcFailure::UnknownNextPeer));
                    return awaiting_payment();
                };
                if total < payment_size_msat {
                    return JitState::AwaitingPayment { parts, first_part_at: first_part_at.or(Some(context.now)) };
                }
                let fee = opening_fee_msat(payment_size_msat, params.min_fee_msat.get(), params.proportional.get());
                let amounts: Vec<u64> = parts.iter().map(|p| p.expected_outbound_amount_msat).collect();
                let coverable = fee.ok().is_some_and(|fee| {
                    lsps::lsps2::parts_can_cover(&amounts, fee, context.policy.assumed_htlc_minimum_msat)
                        .unwrap_or(false)
                });
                match fee {
                    Ok(fee) if coverable => self.complete(parts, fee, context, next, effects),
                    _ => {
                        effects.push(fail(ids(&parts), HtlcFailure::UnknownNextPeer));
                        awaiting_payment()
                    }
                }
            }
        }
    }

    /// The payment is complete: open now if the client is here, else wait for it.
    fn complete(
        &self,
        parts: Vec<HeldHtlc>,
        opening_fee_msat: u64,
        context: Context<'_>,
        next: &mut JitSession,
        effects: &mut Vec<JitEffect>,
    ) -> JitState {
        next.opening_fee_msat = Some(opening_fee_msat);
        if context.client_online {
            next.open_attempts = self.open_attempts.saturating_add(1);
            effects.push(next.open_channel(&parts));
            JitState::OpeningChannel { parts, since: context.now }
        } else {
            effects.push(JitEffect::NotifyClient);
            JitState::AwaitingClient { parts, since: context.now }
        }
    }

    fn open_channel(&self, parts: &[HeldHtlc]) -> JitEffect {
        let total: u64 = parts.iter().fold(0u64, |sum, p| sum.saturating_add(p.expected_outbound_amount_msat));
        JitEffect::OpenChannel {
            forward_msat: total.saturating_sub(self.fee_outstanding_msat()),
            manual_broadcast: self.client_trusts_lsp,
        }
    }

    fn open_failed(&self, parts: &[HeldHtlc], policy: &SessionPolicy, effects: &mut Vec<JitEffect>) -> JitState {
        effects.push(fail(ids(parts), HtlcFailure::TemporaryChannelFailure));
        effects.push(JitEffect::AbandonChannel);
        if self.open_attempts >= policy.max_open_attempts {
            JitState::Failed { reason: FailReason::OpenFailedRepeatedly }
        } else {
            awaiting_payment()
        }
    }

    /// Gives up an unpaid channel: unfunded on chain (client trusts LSP) → abandon it and keep
    /// the inputs; funded → close it.
    fn give_up_channel(&self, channel_id: ChannelRef, force: bool) -> JitEffect {
        if self.client_trusts_lsp {
            JitEffect::AbandonChannel
        } else {
            JitEffect::CloseChannel { channel_id, force }
        }
    }
}

fn awaiting_payment() -> JitState {
    JitState::AwaitingPayment { parts: Vec::new(), first_part_at: None }
}

fn ids(parts: &[HeldHtlc]) -> Vec<InterceptRef> {
    parts.iter().map(|p| p.intercept_id).collect()
}

fn fail(htlcs: Vec<InterceptRef>, failure: HtlcFailure) -> JitEffect {
    JitEffect::FailHtlcs { htlcs, failure }
}
