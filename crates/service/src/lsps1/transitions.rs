//! Every transition of [`OrderBook`], in one function (see `order.rs` for the diagram).

use super::order::{
    Context, DeliveredChannel, FailReason, HtlcFailCause, OrderBook, OrderEffect, OrderInput, OrderStatus, Payment,
    Refund, RefundStatus, REFUND_DUST_SAT,
};

/// An input that does not apply to the order as it stands (the step turns it into a
/// [`TransitionError`](crate::flow::TransitionError)).
pub(super) struct Invalid;

pub(super) fn apply(
    order: &mut OrderBook,
    input: &OrderInput,
    ctx: Context<'_>,
    effects: &mut Vec<OrderEffect>,
) -> Result<(), Invalid> {
    let now = ctx.now;
    let expired = now.unix_millis() >= order.expires_at.unix_millis();
    match (order.status.clone(), input) {
        // ── Lightning ──────────────────────────────────────────────────────────────────────
        (OrderStatus::AwaitingPayment { .. }, OrderInput::HtlcArrived { amount_msat, claim_deadline }) => {
            let expected = order.bolt11.as_ref().and_then(|b| b.total_sat.checked_mul(1000));
            let deadline_ok =
                claim_deadline.is_none_or(|d| d > ctx.height.saturating_add(ctx.policy.htlc_safety_blocks));
            if expired || expected != Some(*amount_msat) || !deadline_ok {
                effects.push(OrderEffect::FailHtlc { cause: HtlcFailCause::Rejected });
                return Ok(());
            }
            let payment = Payment::Lightning { amount_msat: *amount_msat, claim_deadline: *claim_deadline };
            start_opening(order, payment, ctx, effects);
        }
        // A replayed `PaymentClaimable` (LDK re-emits it after a restart).
        (OrderStatus::Opening { payment: Payment::Lightning { .. }, .. }, OrderInput::HtlcArrived { .. }) => {}
        (OrderStatus::Completed { payment: Payment::Lightning { .. }, .. }, OrderInput::HtlcArrived { .. }) => {
            effects.push(OrderEffect::ClaimPayment);
        }
        (OrderStatus::Failed { payment: Payment::Lightning { .. }, .. }, OrderInput::HtlcArrived { .. }) => {
            effects.push(OrderEffect::FailHtlc { cause: HtlcFailCause::Refund });
        }
        (_, OrderInput::HtlcArrived { .. }) => {
            effects.push(OrderEffect::FailHtlc { cause: HtlcFailCause::Rejected });
        }

        // ── On-chain ───────────────────────────────────────────────────────────────────────
        (OrderStatus::AwaitingPayment { .. }, OrderInput::OnchainSeen { received_sat, confirmations, fee_rate }) => {
            let Some(terms) = order.onchain.clone() else { return Err(Invalid) };
            let was_full = matches!(order.status, OrderStatus::AwaitingPayment { onchain_seen_sat } if onchain_seen_sat >= terms.total_sat);
            if expired && !was_full {
                // The tick that expires the order comes first in the runner; be safe anyway:
                // expire it, then treat the deposit as one seen after the window.
                expire(order, ctx, effects);
                if matches!(order.status, OrderStatus::Expired { watch_until: Some(_) }) {
                    paid_late(order, *received_sat, effects);
                }
                return Ok(());
            }
            order.status = OrderStatus::AwaitingPayment { onchain_seen_sat: *received_sat };
            // An unconfirmed deposit counts only if the order allows 0 confirmations and its
            // known fee rate exceeds min_fee_for_0conf (bLIP-51); an unknown fee waits for a block.
            let counted = if *confirmations == 0 {
                terms.min_confirmations == 0
                    && fee_rate.is_some_and(|rate| terms.min_fee_for_0conf.is_none_or(|min| rate > min))
            } else {
                *confirmations >= u32::from(terms.min_confirmations) || *confirmations >= 6
            };
            if counted && *received_sat >= terms.total_sat {
                start_opening(order, Payment::Onchain { received_sat: *received_sat }, ctx, effects);
            }
        }
        (OrderStatus::Expired { watch_until: Some(_) }, OrderInput::OnchainSeen { received_sat, .. }) => {
            paid_late(order, *received_sat, effects);
        }
        (
            OrderStatus::Opening { payment: Payment::Onchain { .. }, attempts, retry_at, deadline },
            OrderInput::OnchainSeen { received_sat, .. },
        ) => {
            // More arrived while opening: remember it, the excess is refunded at completion.
            let payment = Payment::Onchain { received_sat: *received_sat };
            order.status = OrderStatus::Opening { payment, attempts, retry_at, deadline };
        }
        (_, OrderInput::OnchainSeen { .. }) => return Err(Invalid),

        // ── Opening ────────────────────────────────────────────────────────────────────────
        (OrderStatus::Opening { payment, attempts, deadline, .. }, OrderInput::OpenFailed) => {
            let delay = ctx
                .policy
                .open_retry_base_secs
                .saturating_mul(1u64 << attempts.saturating_sub(1).min(20))
                .min(ctx.policy.open_retry_max_secs);
            let retry_at = now.checked_add_secs(delay).unwrap_or(deadline);
            order.status = OrderStatus::Opening { payment, attempts, retry_at: Some(retry_at), deadline };
            if too_late(order, ctx) {
                fail(order, FailReason::OpenFailed, effects);
            }
        }
        (OrderStatus::Opening { payment, .. }, OrderInput::FundingPublished { funding_outpoint }) => {
            let lease_secs = u64::from(order.request.channel_expiry_blocks).saturating_mul(ctx.policy.block_secs);
            let channel = DeliveredChannel {
                funding_outpoint: funding_outpoint.clone(),
                funded_at: now,
                expires_at: now.checked_add_secs(lease_secs).unwrap_or(now),
                funded_height: ctx.height,
            };
            let excess = match &payment {
                Payment::Lightning { .. } => {
                    effects.push(OrderEffect::ClaimPayment);
                    0
                }
                Payment::Onchain { received_sat } => {
                    let total = order.onchain.as_ref().map_or(*received_sat, |terms| terms.total_sat);
                    received_sat.saturating_sub(total)
                }
                Payment::Voucher { .. } => 0,
            };
            order.status = OrderStatus::Completed { payment, channel, refund: None };
            if excess >= REFUND_DUST_SAT {
                request_refund(order, excess, effects);
            }
        }
        (OrderStatus::Opening { payment, attempts, retry_at: Some(_), deadline }, OrderInput::ClientConnected) => {
            let attempts = attempts.saturating_add(1);
            order.status = OrderStatus::Opening { payment, attempts, retry_at: None, deadline };
            effects.push(OrderEffect::OpenChannel);
        }
        (_, OrderInput::OpenFailed | OrderInput::FundingPublished { .. } | OrderInput::ClientConnected) => {
            return Err(Invalid)
        }
        (OrderStatus::Completed { .. }, OrderInput::LeaseCloseDeferred) => order.lease_closed = false,
        (_, OrderInput::LeaseCloseDeferred) => return Err(Invalid),

        // ── Refunds ────────────────────────────────────────────────────────────────────────
        (_, OrderInput::RefundBuilt { txid, tx_hex }) => {
            let refund = owed(order)?;
            if !matches!(refund.status, RefundStatus::Requested { .. }) {
                return Err(Invalid);
            }
            let (txid, tx_hex) = (txid.clone(), tx_hex.clone());
            refund.status = RefundStatus::Built { txid, tx_hex: tx_hex.clone(), built_height: ctx.height, bumps: 0 };
            effects.push(OrderEffect::BroadcastRefund { tx_hex });
        }
        (_, OrderInput::RefundConfirmations { confirmations }) => {
            let refund = owed(order)?;
            let RefundStatus::Built { txid, tx_hex, built_height, bumps } = refund.status.clone() else {
                return Err(Invalid);
            };
            if *confirmations >= 1 {
                refund.status = RefundStatus::Confirmed { txid };
            } else if ctx.height >= built_height.saturating_add(ctx.policy.refund_bump_after_blocks) {
                refund.status = RefundStatus::Built { txid: txid.clone(), tx_hex, built_height: ctx.height, bumps };
                effects.push(OrderEffect::BumpRefund { txid, bumps });
            }
        }
        (_, OrderInput::RefundBumped { txid, tx_hex }) => {
            let refund = owed(order)?;
            let RefundStatus::Built { bumps, .. } = refund.status else { return Err(Invalid) };
            let (txid, tx_hex) = (txid.clone(), tx_hex.clone());
            refund.status = RefundStatus::Built {
                txid,
                tx_hex: tx_hex.clone(),
                built_height: ctx.height,
                bumps: bumps.saturating_add(1),
            };
            effects.push(OrderEffect::BroadcastRefund { tx_hex });
        }
        (_, OrderInput::RefundFailed) => {
            let refund = owed(order)?;
            if !matches!(refund.status, RefundStatus::Requested { .. }) {
                return Err(Invalid);
            }
            refund.status = RefundStatus::Requested { retry_at: now.checked_add_secs(ctx.policy.refund_retry_secs) };
        }

        // ── The operator ───────────────────────────────────────────────────────────────────
        (OrderStatus::AwaitingPayment { .. }, OrderInput::OperatorCancel) => {
            expire(order, ctx, effects);
            if let OrderStatus::Failed { reason, .. } = &mut order.status {
                *reason = FailReason::Cancelled;
            }
        }
        (_, OrderInput::OperatorCancel) => return Err(Invalid),
        // Only between attempts: an open in flight could still publish the channel.
        (OrderStatus::Opening { retry_at: Some(_), .. }, OrderInput::OperatorRefund { address }) => {
            set_refund_address(order, address.as_ref());
            fail(order, FailReason::RefundedByOperator, effects);
        }
        (
            OrderStatus::Completed { .. } | OrderStatus::Failed { .. },
            OrderInput::OperatorRefund { address: Some(address) },
        ) => {
            // A refund the LSP kept for want of an address: send it now.
            let refund = owed(order)?;
            if refund.status != RefundStatus::Kept {
                return Err(Invalid);
            }
            refund.status = RefundStatus::Requested { retry_at: None };
            let amount_sat = refund.amount_sat;
            set_refund_address(order, Some(address));
            effects.push(OrderEffect::BuildRefund { amount_sat, address: address.clone() });
        }
        (_, OrderInput::OperatorRefund { .. }) => return Err(Invalid),
        (OrderStatus::Opening { payment, attempts, retry_at: Some(_), deadline }, OrderInput::OperatorRetryOpen) => {
            let attempts = attempts.saturating_add(1);
            order.status = OrderStatus::Opening { payment, attempts, retry_at: None, deadline };
            effects.push(OrderEffect::OpenChannel);
        }
        (_, OrderInput::OperatorRetryOpen) => return Err(Invalid),

        // ── Time ───────────────────────────────────────────────────────────────────────────
        (status, OrderInput::Tick) => {
            retry_refund(order, ctx, effects);
            match status {
                // A full deposit paid in time but still short of its confirmations is awaited.
                OrderStatus::AwaitingPayment { onchain_seen_sat }
                    if expired && order.onchain.as_ref().is_none_or(|terms| onchain_seen_sat < terms.total_sat) =>
                {
                    expire(order, ctx, effects)
                }
                OrderStatus::Completed { channel, .. } if order.close_after_lease && !order.lease_closed => {
                    // Never before the lease ends: by the clock and by the chain.
                    let lease_end = channel.funded_height.saturating_add(order.request.channel_expiry_blocks);
                    if now.unix_millis() >= channel.expires_at.unix_millis() && ctx.height >= lease_end {
                        order.lease_closed = true;
                        effects.push(OrderEffect::CloseLeasedChannel);
                    }
                }
                OrderStatus::Opening { payment, attempts, retry_at, deadline } => {
                    if too_late(order, ctx) {
                        let reason = if now.unix_millis() >= deadline.unix_millis() {
                            FailReason::OpenFailed
                        } else {
                            FailReason::HtlcDeadline
                        };
                        fail(order, reason, effects);
                    } else if retry_at.is_some_and(|at| now.unix_millis() >= at.unix_millis()) {
                        let attempts = attempts.saturating_add(1);
                        order.status = OrderStatus::Opening { payment, attempts, retry_at: None, deadline };
                        effects.push(OrderEffect::OpenChannel);
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// A deposit seen after the payment window (the order is `Expired`): refund all of it. The
/// order becomes `Failed`, so this happens once.
fn paid_late(order: &mut OrderBook, received_sat: u64, effects: &mut Vec<OrderEffect>) {
    if received_sat > 0 {
        let payment = Payment::Onchain { received_sat };
        order.status = OrderStatus::Failed { payment, reason: FailReason::PaidLate, refund: None };
        request_refund(order, received_sat, effects);
    }
}

/// The refund the order owes, or [`Invalid`] for an order that owes none.
fn owed(order: &mut OrderBook) -> Result<&mut Refund, Invalid> {
    order.refund_slot().and_then(Option::as_mut).ok_or(Invalid)
}

/// Where on-chain refunds go from now on (the operator's choice replaces the client's).
fn set_refund_address(order: &mut OrderBook, address: Option<&String>) {
    if let (Some(terms), Some(address)) = (order.onchain.as_mut(), address) {
        terms.refund_address = Some(address.clone());
    }
}

/// Paid: open now. The open deadline is the end of the window, but at least
/// `min_open_window_secs` after the payment.
fn start_opening(order: &mut OrderBook, payment: Payment, ctx: Context<'_>, effects: &mut Vec<OrderEffect>) {
    let floor = ctx.now.checked_add_secs(ctx.policy.min_open_window_secs).unwrap_or(order.expires_at);
    let deadline = if floor.unix_millis() > order.expires_at.unix_millis() { floor } else { order.expires_at };
    order.status = OrderStatus::Opening { payment, attempts: 1, retry_at: None, deadline };
    effects.push(OrderEffect::OpenChannel);
}

/// Whether an opening order must give up: its deadline passed, or its held HTLC is within
/// the safety margin of its claim deadline.
fn too_late(order: &OrderBook, ctx: Context<'_>) -> bool {
    let OrderStatus::Opening { payment, deadline, .. } = &order.status else { return false };
    if ctx.now.unix_millis() >= deadline.unix_millis() {
        return true;
    }
    match payment {
        Payment::Lightning { claim_deadline: Some(claim), .. } => {
            ctx.height.saturating_add(ctx.policy.htlc_safety_blocks) >= *claim
        }
        _ => false,
    }
}

fn fail(order: &mut OrderBook, reason: FailReason, effects: &mut Vec<OrderEffect>) {
    let OrderStatus::Opening { payment, .. } = order.status.clone() else { return };
    order.status = OrderStatus::Failed { payment: payment.clone(), reason, refund: None };
    match payment {
        Payment::Lightning { .. } => effects.push(OrderEffect::FailHtlc { cause: HtlcFailCause::Refund }),
        Payment::Onchain { received_sat } => request_refund(order, received_sat, effects),
        // Nothing was paid to this order; its voucher becomes claimable again.
        Payment::Voucher { .. } => {}
    }
}

/// The payment window ended. Unpaid: FAILED, nothing owed. Under-paid on-chain: refund it.
fn expire(order: &mut OrderBook, ctx: Context<'_>, effects: &mut Vec<OrderEffect>) {
    let seen = match order.status {
        OrderStatus::AwaitingPayment { onchain_seen_sat } => onchain_seen_sat,
        _ => return,
    };
    if seen > 0 {
        let payment = Payment::Onchain { received_sat: seen };
        order.status = OrderStatus::Failed { payment, reason: FailReason::Underpaid, refund: None };
        request_refund(order, seen, effects);
        return;
    }
    // Watch the address a day longer for late deposits.
    let watch_until = order.onchain.as_ref().and_then(|_| ctx.now.checked_add_secs(24 * 3600));
    order.status = OrderStatus::Expired { watch_until };
    if order.bolt11.is_some() {
        // Nothing is held, but make sure a late HTLC cannot wait for its CLTV.
        effects.push(OrderEffect::FailHtlc { cause: HtlcFailCause::Rejected });
    }
}

/// Records an on-chain refund in the (completed or failed) order, exactly once per order.
fn request_refund(order: &mut OrderBook, amount_sat: u64, effects: &mut Vec<OrderEffect>) {
    let address = order.onchain.as_ref().and_then(|terms| terms.refund_address.clone());
    let Some(slot @ None) = order.refund_slot() else { return };
    match address {
        Some(address) => {
            *slot = Some(Refund { amount_sat, status: RefundStatus::Requested { retry_at: None } });
            effects.push(OrderEffect::BuildRefund { amount_sat, address });
        }
        // The runner logs it when the order is committed.
        None => *slot = Some(Refund { amount_sat, status: RefundStatus::Kept }),
    }
}

fn retry_refund(order: &mut OrderBook, ctx: Context<'_>, effects: &mut Vec<OrderEffect>) {
    let address = order.onchain.as_ref().and_then(|terms| terms.refund_address.clone());
    let Some(Some(refund)) = order.refund_slot() else { return };
    let RefundStatus::Requested { retry_at: Some(at) } = refund.status else { return };
    if ctx.now.unix_millis() < at.unix_millis() {
        return;
    }
    if let Some(address) = address {
        refund.status = RefundStatus::Requested { retry_at: None };
        effects.push(OrderEffect::BuildRefund { amount_sat: refund.amount_sat, address });
    }
}
