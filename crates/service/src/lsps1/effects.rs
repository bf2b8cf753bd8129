//! The one place that turns an [`OrderEffect`] into calls on the node and wallet
//! ([`OrderLightning`]), for the flow kernel's outbox drain. Each effect is idempotent (see
//! `runner.rs`); a failure the order must hear of is fed back as an input, one worth retrying
//! is [`Outcome::Retry`].

use tracing::{debug, info, warn};

use super::ops::{OrderLightning, OrderOpen};
use super::order::{OrderBook, OrderEffect, OrderInput, RefundStatus};
use super::Lsps1Service;
use crate::flow::Outcome;

/// Highest fee rate a refund replacement pays (50 sat/vB), in sat/kWU.
const MAX_BUMP_RATE: u32 = 12_500;
/// Weight of a refund transaction (one or two inputs, two outputs), for its fee.
const REFUND_TX_WEIGHT_WU: u64 = 800;

impl Lsps1Service {
    /// Carries out one effect of `order` (its current state).
    pub(super) async fn execute(
        &self,
        lightning: &dyn OrderLightning,
        order: &OrderBook,
        effect: &OrderEffect,
    ) -> Outcome<OrderInput> {
        let id = order.order_id.as_str();
        match effect {
            OrderEffect::OpenChannel => {
                if lightning.has_channel(order.user_channel_id) {
                    debug!(order = id, "channel already being opened; not opening twice");
                    return Outcome::Done;
                }
                if !lightning.is_connected(&order.client.0) {
                    if let Some(address) = &order.client_address {
                        info!(order = id, client = %order.client, %address, "client not connected; connecting to it");
                        lightning.connect_in_background(
                            &order.client.0,
                            address,
                            self.config.connect_private_addresses,
                        );
                    }
                    info!(order = id, client = %order.client, "client not connected; the open waits");
                    return Outcome::Feed(OrderInput::OpenFailed);
                }
                let request = &order.request;
                let Some(capacity_sat) = request.lsp_balance_sat.checked_add(request.client_balance_sat) else {
                    return Outcome::Feed(OrderInput::OpenFailed);
                };
                let open = OrderOpen {
                    client: order.client.0,
                    capacity_sat: capacity_sat.get(),
                    push_sat: request.client_balance_sat.get(),
                    user_channel_id: order.user_channel_id,
                    announce: request.announce_channel,
                    zero_conf: request.required_channel_confirmations == 0,
                };
                match lightning.open_channel(&open) {
                    Ok(()) => {
                        info!(
                            order = id,
                            capacity_sat = open.capacity_sat,
                            push_sat = open.push_sat,
                            "opening the ordered channel"
                        );
                        Outcome::Done
                    }
                    Err(error) => {
                        warn!(order = id, %error, "ordered channel open refused");
                        Outcome::Feed(OrderInput::OpenFailed)
                    }
                }
            }
            OrderEffect::ClaimPayment => {
                if let Some(bolt11) = &order.bolt11 {
                    info!(order = id, "channel published; claiming the held payment");
                    lightning.claim_payment(bolt11.preimage.0);
                }
                Outcome::Done
            }
            OrderEffect::FailHtlc { cause } => {
                if let Some(bolt11) = &order.bolt11 {
                    debug!(order = id, ?cause, "failing the order's HTLCs back");
                    lightning.fail_payment(bolt11.payment_hash.0);
                }
                Outcome::Done
            }
            OrderEffect::BuildRefund { amount_sat, address } => {
                if order.refund().is_some_and(|r| !matches!(r.status, RefundStatus::Requested { .. })) {
                    return Outcome::Done;
                }
                let rate = match self.config.refund_fee_rate {
                    0 => lightning.fee_rate_sat_per_kwu(),
                    rate => rate,
                };
                let fee = REFUND_TX_WEIGHT_WU.saturating_mul(u64::from(rate)) / 1000;
                let Some(send) = amount_sat.checked_sub(fee).filter(|send| *send >= super::order::REFUND_DUST_SAT)
                else {
                    warn!(order = id, amount_sat, fee, "refund does not cover its fee yet");
                    return Outcome::Feed(OrderInput::RefundFailed);
                };
                match lightning.build_refund(address, send, rate) {
                    Ok((txid, tx_hex)) => {
                        info!(order = id, %txid, send, fee, "refund built");
                        Outcome::Feed(OrderInput::RefundBuilt { txid, tx_hex })
                    }
                    Err(error) => {
                        warn!(order = id, %error, "cannot build the refund; retrying later");
                        Outcome::Feed(OrderInput::RefundFailed)
                    }
                }
            }
            OrderEffect::BroadcastRefund { tx_hex } => match lightning.broadcast(tx_hex) {
                Ok(()) => Outcome::Done,
                Err(error) => Outcome::Retry(format!("broadcasting the refund: {error}")),
            },
            OrderEffect::BumpRefund { txid, bumps } => {
                let base = match self.config.refund_fee_rate {
                    0 => lightning.fee_rate_sat_per_kwu(),
                    rate => rate,
                };
                // Each replacement pays more: base × (bumps + 2), capped at 50 sat/vB.
                let rate = base.max(253).saturating_mul(bumps.saturating_add(2)).min(MAX_BUMP_RATE);
                match lightning.bump_refund(txid, rate) {
                    Ok((txid, tx_hex)) => {
                        info!(order = id, %txid, rate, "refund unconfirmed: replaced with a higher fee");
                        Outcome::Feed(OrderInput::RefundBumped { txid, tx_hex })
                    }
                    Err(error) => {
                        warn!(order = id, %error, "cannot fee-bump the refund; trying after the next wait");
                        Outcome::Done
                    }
                }
            }
            OrderEffect::CloseLeasedChannel => {
                let blocks = order.request.channel_expiry_blocks;
                match lightning.close_if_idle(order.user_channel_id) {
                    Ok(true) => {
                        info!(order = id, blocks, "lease of {blocks} blocks ended and the channel is idle: closing it");
                        Outcome::Done
                    }
                    Ok(false) => {
                        info!(order = id, "lease ended but HTLCs are in flight; closing later");
                        Outcome::Feed(OrderInput::LeaseCloseDeferred)
                    }
                    Err(error) => {
                        warn!(order = id, %error, "cannot close the leased channel; trying later");
                        Outcome::Feed(OrderInput::LeaseCloseDeferred)
                    }
                }
            }
        }
    }
}
