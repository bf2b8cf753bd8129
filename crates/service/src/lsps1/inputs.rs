//! What can happen to an order ([`OrderInput`]) and what an order asks the world to do
//! ([`OrderEffect`]); the state machine is in `order.rs`, its transitions in `transitions.rs`.

use serde::{Deserialize, Serialize};

/// An input to [`OrderBook::step`](super::OrderBook::step).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderInput {
    /// LDK's `PaymentClaimable` for the order's hash.
    HtlcArrived {
        /// Total of the HTLC set.
        amount_msat: u64,
        /// LDK's `claim_deadline` (block height).
        claim_deadline: Option<u32>,
    },
    /// What the wallet saw paid to the order's address.
    OnchainSeen {
        /// Total received.
        received_sat: u64,
        /// Confirmations of the least-confirmed deposit (0 = in the mempool).
        confirmations: u32,
        /// The lowest fee rate (sat/kWU) among unconfirmed deposits, if known.
        fee_rate: Option<u64>,
    },
    /// An open attempt was refused, or the channel closed before its funding was published.
    OpenFailed,
    /// `ChannelPending`: the funding transaction was published.
    FundingPublished {
        /// `txid:vout`.
        funding_outpoint: String,
    },
    /// The refund transaction was built and signed.
    RefundBuilt {
        /// Its id.
        txid: String,
        /// The transaction, hex.
        tx_hex: String,
    },
    /// Building the refund failed (for example, no confirmed funds yet).
    RefundFailed,
    /// The client is connected while an open waits for its retry: try now.
    ClientConnected,
    /// The lease-end close found HTLCs in flight; try again later.
    LeaseCloseDeferred,
    /// How deep the built refund is (0: unconfirmed).
    RefundConfirmations {
        /// Its confirmations.
        confirmations: u32,
    },
    /// A fee-bumped replacement of the refund was built.
    RefundBumped {
        /// Its id.
        txid: String,
        /// The transaction, hex.
        tx_hex: String,
    },
    /// Time passed or a block arrived.
    Tick,
    /// The operator cancels an order that is not paid in full: like the end of the payment
    /// window, now (a partial on-chain deposit is refunded).
    OperatorCancel,
    /// The operator refunds a paid order that is still opening (the HTLC failed back, or the
    /// deposit refunded), or sends a refund the LSP kept for want of an address to `address`.
    OperatorRefund {
        /// Where an on-chain refund goes (replacing the order's refund address); needed when
        /// the order has none.
        address: Option<String>,
    },
    /// The operator asks an opening order that waits for its next attempt to try now.
    OperatorRetryOpen,
}

impl OrderInput {
    /// A short name for history entries.
    pub fn name(&self) -> &'static str {
        match self {
            OrderInput::HtlcArrived { .. } => "htlc_arrived",
            OrderInput::OnchainSeen { .. } => "onchain_seen",
            OrderInput::OpenFailed => "open_failed",
            OrderInput::FundingPublished { .. } => "funding_published",
            OrderInput::RefundBuilt { .. } => "refund_built",
            OrderInput::RefundFailed => "refund_failed",
            OrderInput::ClientConnected => "client_connected",
            OrderInput::LeaseCloseDeferred => "lease_close_deferred",
            OrderInput::RefundConfirmations { .. } => "refund_confirmations",
            OrderInput::RefundBumped { .. } => "refund_bumped",
            OrderInput::OperatorCancel => "operator_cancel",
            OrderInput::OperatorRefund { .. } => "operator_refund",
            OrderInput::OperatorRetryOpen => "operator_retry_open",
            OrderInput::Tick => "tick",
        }
    }
}

/// Why an HTLC is failed back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HtlcFailCause {
    /// Not what the order asks, or not (or no longer) payable: never held.
    Rejected,
    /// The held payment is refunded.
    Refund,
}

/// What the runner must do after a step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderEffect {
    /// Open the channel (skipped if one with the order's `user_channel_id` exists).
    OpenChannel,
    /// Release the preimage (`claim_funds`).
    ClaimPayment,
    /// Fail the hash's HTLCs back.
    FailHtlc {
        /// Why.
        cause: HtlcFailCause,
    },
    /// Build (not broadcast) a refund of `amount_sat` minus its fee to `address`.
    BuildRefund {
        /// Amount owed.
        amount_sat: u64,
        /// The client's refund address.
        address: String,
    },
    /// Broadcast the built refund (idempotent).
    BroadcastRefund {
        /// The transaction, hex.
        tx_hex: String,
    },
    /// The lease ended: close the channel cooperatively if it is idle.
    CloseLeasedChannel,
    /// Replace the unconfirmed refund `txid` with a higher fee (RBF), the `bumps`-th time.
    BumpRefund {
        /// The refund to replace.
        txid: String,
        /// Replacements before this one.
        bumps: u32,
    },
}

impl OrderEffect {
    /// A short, stable name for logs and the outbox.
    pub fn name(&self) -> &'static str {
        match self {
            OrderEffect::OpenChannel => "open_channel",
            OrderEffect::ClaimPayment => "claim_payment",
            OrderEffect::FailHtlc { .. } => "fail_htlc",
            OrderEffect::BuildRefund { .. } => "build_refund",
            OrderEffect::BroadcastRefund { .. } => "broadcast_refund",
            OrderEffect::CloseLeasedChannel => "close_leased_channel",
            OrderEffect::BumpRefund { .. } => "bump_refund",
        }
    }
}
