//! The operator's views of stored flows, as the admin API serialises them. Amounts are
//! integers in the unit their name says; times are Unix milliseconds.

use inbound_store::{HistoryEntry, Record};
use serde::Serialize;

use crate::lsps1::order::{OrderStatus, Payment};
use crate::lsps1::OrderBook;
use crate::lsps2::{JitSession, JitState, PurchaseMode};

/// One LSPS1 order in a listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrderSummary {
    /// The order id.
    pub order_id: String,
    /// The client's node id.
    pub client: String,
    /// The state (`awaiting_payment`, `opening`, `completed`, `failed`, `expired`).
    pub state: String,
    /// Whether nothing more will happen to it.
    pub terminal: bool,
    /// The LSP's side of the channel.
    pub lsp_balance_sat: u64,
    /// The client's side of the channel (paid for by the client).
    pub client_balance_sat: u64,
    /// The lease, in blocks.
    pub channel_expiry_blocks: u32,
    /// How it was paid (`lightning` or `onchain`), once paid.
    pub payment: Option<&'static str>,
    /// The fee of the option paid with, once paid.
    pub fee_sat: Option<u64>,
    /// The fee earned: the fee of a completed order.
    pub fee_earned_sat: u64,
    /// The channel's funding outpoint (`txid:vout`), once published.
    pub funding_outpoint: Option<String>,
    /// When it was created.
    pub created_at_unix_ms: u64,
    /// When it last changed.
    pub updated_at_unix_ms: u64,
}

impl OrderSummary {
    pub(crate) fn new(order: &OrderBook, record: &Record) -> OrderSummary {
        let payment = match &order.status {
            OrderStatus::Opening { payment, .. }
            | OrderStatus::Completed { payment, .. }
            | OrderStatus::Failed { payment, .. } => Some(match payment {
                Payment::Lightning { .. } => "lightning",
                Payment::Onchain { .. } => "onchain",
                Payment::Voucher { .. } => "voucher",
            }),
            OrderStatus::AwaitingPayment { .. } | OrderStatus::Expired { .. } => None,
        };
        let (fee_earned_sat, funding_outpoint) = match &order.status {
            OrderStatus::Completed { channel, .. } => {
                (order.fee_sat().unwrap_or(0), Some(channel.funding_outpoint.clone()))
            }
            _ => (0, None),
        };
        OrderSummary {
            order_id: order.order_id.clone(),
            client: order.client.to_string(),
            state: record.state.clone(),
            terminal: record.terminal,
            lsp_balance_sat: order.request.lsp_balance_sat.0,
            client_balance_sat: order.request.client_balance_sat.0,
            channel_expiry_blocks: order.request.channel_expiry_blocks,
            payment,
            fee_sat: order.fee_sat(),
            fee_earned_sat,
            funding_outpoint,
            created_at_unix_ms: record.created_at_unix_ms,
            updated_at_unix_ms: record.updated_at_unix_ms,
        }
    }
}

/// One LSPS2 JIT session in a listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionSummary {
    /// The session id.
    pub session_id: String,
    /// The client's node id.
    pub client: String,
    /// The state (`awaiting_payment`, `awaiting_client`, `opening`, `forwarding`, `paid`, `expired`, `failed`).
    pub state: String,
    /// Whether nothing more will happen to it.
    pub terminal: bool,
    /// The intercept SCID of the client's invoice (`block x tx x output`).
    pub intercept_scid: String,
    /// The fixed payment size (MPP mode), or `None` for a variable-amount invoice.
    pub payment_size_msat: Option<u64>,
    /// The menu entry's fee floor.
    pub min_fee_msat: u64,
    /// The menu entry's proportional fee, parts per million.
    pub proportional_ppm: u32,
    /// The opening fee of the payment being delivered, once known.
    pub opening_fee_msat: Option<u64>,
    /// The fee earned: what a paid session skimmed.
    pub fee_earned_msat: u64,
    /// Opens tried so far.
    pub open_attempts: u32,
    /// HTLCs the LSP holds for it now.
    pub held_htlcs: usize,
    /// When `lsps2.buy` succeeded.
    pub created_at_unix_ms: u64,
    /// When it last changed.
    pub updated_at_unix_ms: u64,
}

impl SessionSummary {
    pub(crate) fn new(session: &JitSession, record: &Record) -> SessionSummary {
        let fee_earned_msat = match &session.state {
            JitState::Paid { fee_msat, .. } => *fee_msat,
            _ => 0,
        };
        SessionSummary {
            session_id: record.id.clone(),
            client: session.client.to_string(),
            state: record.state.clone(),
            terminal: record.terminal,
            intercept_scid: session.intercept_scid.to_string(),
            payment_size_msat: match session.mode {
                PurchaseMode::Fixed { payment_size_msat } => Some(payment_size_msat),
                PurchaseMode::Variable => None,
            },
            min_fee_msat: session.opening_fee_params.min_fee_msat.0,
            proportional_ppm: session.opening_fee_params.proportional.0,
            opening_fee_msat: session.opening_fee_msat,
            fee_earned_msat,
            open_attempts: session.open_attempts,
            held_htlcs: session.state.held_htlcs().len(),
            created_at_unix_ms: record.created_at_unix_ms,
            updated_at_unix_ms: record.updated_at_unix_ms,
        }
    }
}

/// One flow shown in full.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlowDetail<T> {
    /// The same summary a listing gives.
    #[serde(flatten)]
    pub summary: T,
    /// The stored version (one per transition).
    pub version: i64,
    /// What the client is told (`lsps1.get_order`'s answer), for orders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wire: Option<serde_json::Value>,
    /// The whole stored state machine.
    pub body: serde_json::Value,
    /// Every transition, oldest first.
    pub history: Vec<HistoryView>,
}

/// One transition of a flow's audit trail.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryView {
    /// 1 for the creation, then one more per transition.
    pub seq: i64,
    /// The state before (`None` for the creation).
    pub from_state: Option<String>,
    /// The state after.
    pub to_state: String,
    /// When.
    pub at_unix_ms: u64,
    /// What caused it (the input, an error, an effect given up).
    pub detail: serde_json::Value,
}

impl From<HistoryEntry> for HistoryView {
    fn from(entry: HistoryEntry) -> Self {
        HistoryView {
            seq: entry.seq,
            from_state: entry.from_state,
            to_state: entry.to_state,
            at_unix_ms: entry.at_unix_ms,
            detail: entry.detail,
        }
    }
}
