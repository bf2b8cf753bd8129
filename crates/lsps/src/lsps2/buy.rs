//! The LSP's checks on `lsps2.buy` (bLIP-52 §"lsps2.buy"), and the client's CLTV margin for
//! the invoice it makes afterwards (§"Invoice").

use super::errors::Lsps2Error;
use super::fee::fee_for;
use super::msgs::{BuyRequest, BuyResponse, OpeningFeeParams};
use super::promise::{verify_promise, PromiseKey, PromiseScheme};
use crate::schema::{DateTime, MsatAmount, NodeId};

/// The LSP's own limits that `lsps2.buy` is checked against, besides the spec's rules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BuyPolicy {
    /// The inbound-liquidity hook: the largest payment the LSP can currently receive from
    /// the public network for a JIT channel. A fixed-mode size above it is refused with 203,
    /// as bLIP-52 suggests. `None` skips the check (the service then does it itself, e.g.
    /// per route).
    pub max_receivable_msat: Option<MsatAmount>,
}

/// The mode the client chose by sending, or omitting, `payment_size_msat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuyMode {
    /// MPP + fixed-amount invoice: collect parts by payment hash until they reach
    /// `payment_size_msat`, then open and forward minus `opening_fee_msat`.
    MppFixed {
        /// The size the client will be paid.
        payment_size_msat: MsatAmount,
        /// The fee, computed now; it will be deducted when forwarding.
        opening_fee_msat: MsatAmount,
    },
    /// No-MPP + variable-amount invoice: the fee is computed from the single HTLC that
    /// arrives, which must also be checked against the entry's size bounds then.
    NoMppVariable,
}

/// A `lsps2.buy` request that passed every check; the service allocates the SCID next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatedBuy {
    /// The entry the client bought, as it sent it. Store it with the SCID until
    /// `valid_until` (and while the flow runs).
    pub opening_fee_params: OpeningFeeParams,
    /// Which promise scheme the entry was sealed with.
    pub promise_scheme: PromiseScheme,
    /// The chosen mode, with the fee in fixed mode.
    pub mode: BuyMode,
}

/// Runs bLIP-52's `lsps2.buy` checks in the spec's order:
///
/// 1. the promise verifies for `client` under one of `keys`, and `valid_until > now`,
///    else 201;
/// 2. if a size was given: the fee computation overflows → 203; the fee is not strictly
///    below the size → 202; the size is below `min_payment_size_msat` → 202; above
///    `max_payment_size_msat` → 203 (bLIP-52 has no code for these two; this follows
///    lightning-liquidity); above `policy.max_receivable_msat` → 203.
///
/// Call it in the `buy` handler with the requesting peer's node id, every promise key still
/// accepted, and the current time. Client rejection (1) is the service's decision and is
/// not made here. In variable mode the HTLC's amount is checked when it arrives.
pub fn validate_buy(
    request: &BuyRequest,
    client: &NodeId,
    keys: &[PromiseKey],
    now: DateTime,
    policy: &BuyPolicy,
) -> Result<ValidatedBuy, Lsps2Error> {
    let params = &request.opening_fee_params;
    let promise_scheme = verify_promise(params, client, keys, now).map_err(|_| Lsps2Error::InvalidOpeningFeeParams)?;
    let mode = match request.payment_size_msat {
        None => BuyMode::NoMppVariable,
        Some(payment_size_msat) => {
            let opening_fee_msat = fee_for(payment_size_msat, params.min_fee_msat, params.proportional)
                .map_err(|_| Lsps2Error::PaymentSizeTooLarge)?;
            if opening_fee_msat >= payment_size_msat || payment_size_msat < params.min_payment_size_msat {
                return Err(Lsps2Error::PaymentSizeTooSmall);
            }
            if payment_size_msat > params.max_payment_size_msat {
                return Err(Lsps2Error::PaymentSizeTooLarge);
            }
            if policy.max_receivable_msat.is_some_and(|max| payment_size_msat > max) {
                return Err(Lsps2Error::PaymentSizeTooLarge);
            }
            BuyMode::MppFixed { payment_size_msat, opening_fee_msat }
        }
    };
    Ok(ValidatedBuy { opening_fee_params: params.clone(), promise_scheme, mode })
}

/// The extra blocks a client adds to its invoice's `min_final_cltv_expiry_delta` for a JIT
/// payment when it does not wait for confirmations (bLIP-52 §"Invoice"): blocks may be mined
/// while the channel opens.
pub const JIT_CLTV_MARGIN_BLOCKS: u32 = 2;

/// The `min_final_cltv_expiry_delta` (`c`) to put in a JIT invoice: the client's `normal`
/// value + 2 + the number of confirmations it will wait for before releasing the preimage
/// (bLIP-52 §"Invoice"; e.g. 144 → 146, or 147 when waiting for one confirmation).
///
/// The client still enforces only `normal` on arrival. `None` on u32 overflow.
pub fn min_final_cltv_expiry_delta_for_jit(normal: u32, confirmations_waited: u32) -> Option<u32> {
    normal.checked_add(JIT_CLTV_MARGIN_BLOCKS)?.checked_add(confirmations_waited)
}

impl BuyResponse {
    /// The route hint's `cltv_expiry_delta`, or `None` if `lsp_cltv_expiry_delta` does not
    /// fit BOLT11's 16 bits, in which case the client cannot build the invoice and should
    /// abandon the purchase.
    pub fn route_hint_cltv_expiry_delta(&self) -> Option<u16> {
        u16::try_from(self.lsp_cltv_expiry_delta).ok()
    }
}

#[cfg(test)]
#[path = "buy_tests.rs"]
mod tests;
