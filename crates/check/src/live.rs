//! The live checks (`inbound check --pay`): real payments through the LSP, made by the caller's
//! [`LivePayments`] (the binary runs a payer with a channel to the LSP and a wallet node), judged
//! here against the spec: a JIT payment must arrive less exactly the promised opening fee, part
//! of one must be held at least 90 s without a channel, a paid LSPS1 order must end COMPLETED
//! with the channel it ordered, and one the LSP cannot fulfil must be refunded.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use lsps::lsps1::{CreateOrderRequest, Order, OrderState, PaymentState};
use lsps::lsps2::opening_fee_msat;

use crate::session::Verdict;

/// What a JIT payment through the LSP came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JitPayment {
    /// The invoice's amount: what the payer paid the LSP.
    pub payment_msat: u64,
    /// The `min_fee_msat` of the menu entry bought.
    pub min_fee_msat: u64,
    /// The `proportional` of that entry.
    pub proportional: u32,
    /// What the wallet was paid (claimed), if it was.
    pub received_msat: Option<u64>,
    /// What happened, for the report (a failure's reason, the channel).
    pub note: String,
}

/// What an LSPS1 order paid over Lightning came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaidOrder {
    /// The order request sent.
    pub request: CreateOrderRequest,
    /// The order as `get_order` last answered it.
    pub order: Order,
    /// The capacity of the channel the wallet got from the LSP with the order's funding
    /// outpoint, if it got one.
    pub channel_capacity_sat: Option<u64>,
}

/// What part of a fixed-amount JIT payment, sent alone, came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShortMpp {
    /// How long after sending the part the payer learnt it failed; `None` if it was still held
    /// when the caller stopped waiting.
    pub failed_after: Option<Duration>,
    /// How long the caller waited at most.
    pub waited: Duration,
    /// Whether the LSP opened a channel to the wallet for it.
    pub channel_opened: bool,
}

/// How the payer's payment of an order the LSP could not fulfil ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayerSaw {
    /// Failed back: the payer has its money.
    Refunded,
    /// Claimed: the LSP took it.
    Taken,
    /// Still pending when the caller stopped waiting.
    Pending,
}

/// What an LSPS1 order for a client that refuses every channel came to, once paid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusedOrder {
    /// How the payment ended for the payer.
    pub payment: PayerSaw,
    /// The order as `get_order` answered it at the end.
    pub order: Option<Order>,
    /// How long the caller waited at most.
    pub waited: Duration,
}

/// bLIP-52 §"LSP HTLC interception": parts are kept at least this long from the first.
pub const MPP_HOLD: Duration = Duration::from_secs(90);

/// A future returned by [`LivePayments`]; an `Err` is a flow that broke before it could be judged.
pub type LiveFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// Real payments through the LSP under test.
pub trait LivePayments: Send + Sync {
    /// Buys a fixed-amount JIT channel for a wallet without one and has the payer pay it.
    fn jit_payment(&self) -> LiveFuture<'_, JitPayment>;

    /// Orders a channel for the wallet by LSPS1, has the payer pay its BOLT11 invoice, and
    /// waits until the order is COMPLETED (or FAILED) and the wallet sees the channel.
    fn paid_order(&self) -> LiveFuture<'_, PaidOrder>;

    /// Buys a fixed-amount JIT invoice for the wallet and has the payer send half of it, alone,
    /// then waits (at least [`MPP_HOLD`] and a margin) for the part to fail back.
    fn short_mpp(&self) -> LiveFuture<'_, ShortMpp>;

    /// Orders a channel for a node that refuses every inbound channel, has the payer pay it over
    /// Lightning, and waits for the payment to be failed back (or taken).
    fn refused_order(&self) -> LiveFuture<'_, RefusedOrder>;
}

/// `lsps2.pay.jit_payment`: the payment arrived, less exactly the fee of bLIP-52's formula.
pub(crate) fn judge_jit(outcome: Result<JitPayment, String>) -> Verdict {
    let payment = match outcome {
        Ok(payment) => payment,
        Err(problem) => return Verdict::Fail(problem),
    };
    let fee = match opening_fee_msat(payment.payment_msat, payment.min_fee_msat, payment.proportional) {
        Ok(fee) => fee,
        Err(_) => return Verdict::Fail("the promised fee overflows for this payment".into()),
    };
    let expected = payment.payment_msat.checked_sub(fee);
    match (payment.received_msat, expected) {
        (Some(received), Some(expected)) if received == expected => Verdict::Pass(format!(
            "{} msat paid, {received} msat received, fee {fee} msat as promised; {}",
            payment.payment_msat, payment.note
        )),
        (Some(received), _) => Verdict::Fail(format!(
            "{} msat paid, {received} msat received: the fee taken is not the promised {fee} msat",
            payment.payment_msat
        )),
        (None, _) => Verdict::Fail(format!("the wallet was not paid: {}", payment.note)),
    }
}

/// `lsps2.pay.mpp_short`: held at least 90 s, no channel, failed back (or still held, which
/// bLIP-52 allows until `valid_until`).
pub(crate) fn judge_short_mpp(outcome: Result<ShortMpp, String>) -> Verdict {
    let short = match outcome {
        Ok(short) => short,
        Err(problem) => return Verdict::Fail(problem),
    };
    if short.channel_opened {
        return Verdict::Fail("the LSP opened a channel for a payment that stopped short".into());
    }
    match short.failed_after {
        Some(after) if after < MPP_HOLD => {
            Verdict::Fail(format!("the part was failed back after {} s; parts are kept at least 90 s", after.as_secs()))
        }
        Some(after) => Verdict::Pass(format!("held {} s, then failed back; no channel", after.as_secs())),
        None => Verdict::Pass(format!(
            "still held after {} s (bLIP-52 allows holding until valid_until); no channel",
            short.waited.as_secs()
        )),
    }
}

/// `lsps1.pay.refund`: a paid order the LSP cannot fulfil is refunded, never taken.
pub(crate) fn judge_refund(outcome: Result<RefusedOrder, String>) -> Verdict {
    let refused = match outcome {
        Ok(refused) => refused,
        Err(problem) => return Verdict::Fail(problem),
    };
    let bolt11 = refused.order.as_ref().and_then(|order| order.payment.bolt11.as_ref()).map(|b| b.state);
    let state = refused.order.as_ref().map(|order| order.order_state);
    match refused.payment {
        PayerSaw::Taken => Verdict::Fail("the LSP took the payment for a channel it could not open".into()),
        PayerSaw::Refunded if state == Some(OrderState::Failed) && bolt11 == Some(PaymentState::Refunded) => {
            Verdict::Pass("the payment failed back; the order is FAILED, bolt11 REFUNDED".into())
        }
        PayerSaw::Refunded => Verdict::Fail(format!(
            "the payment failed back, but the order says {state:?} with bolt11 {bolt11:?} (FAILED and REFUNDED expected)"
        )),
        PayerSaw::Pending => Verdict::Skip(format!(
            "neither refunded nor taken after {} s: the LSP may still be trying to open (--refund-wait-secs)",
            refused.waited.as_secs()
        )),
    }
}

/// `lsps1.pay.order_completed`: COMPLETED, with a channel of the ordered size.
pub(crate) fn judge_order(outcome: Result<PaidOrder, String>) -> Verdict {
    let paid = match outcome {
        Ok(paid) => paid,
        Err(problem) => return Verdict::Fail(problem),
    };
    let ordered = paid.request.lsp_balance_sat.get().checked_add(paid.request.client_balance_sat.get());
    if paid.order.order_state != OrderState::Completed {
        return Verdict::Fail(format!("the paid order is {:?}", paid.order.order_state));
    }
    let Some(channel) = &paid.order.channel else {
        return Verdict::Fail("the order is COMPLETED without a channel".into());
    };
    match (paid.channel_capacity_sat, ordered) {
        (Some(capacity), Some(ordered)) if capacity >= ordered => Verdict::Pass(format!(
            "COMPLETED, channel {} of {capacity} sat for {ordered} sat ordered",
            channel.funding_outpoint
        )),
        (Some(capacity), _) => Verdict::Fail(format!("the channel has {capacity} sat, {ordered:?} sat were ordered")),
        (None, _) => {
            Verdict::Fail(format!("the wallet has no channel with funding outpoint {}", channel.funding_outpoint))
        }
    }
}
