//! The `opening_fee_params_menu` (bLIP-52 §"lsps2.get_info"): its ordering rule, and the
//! client's choice of an entry.
//!
//! bLIP-52 requires each entry to be strictly more expensive than the one before: a larger
//! `min_fee_msat` with an equal `proportional`, a larger `proportional` with an equal
//! `min_fee_msat`, or both larger. The LSP checks its own configured menu with
//! [`check_raw_menu`]; the client rejects a received menu with [`check_menu`] and then picks
//! an entry with [`select_cheapest`].
//!
//! Two other client duties are enforced by the types when the result is decoded: a
//! `promise` longer than 512 bytes, and any key the spec does not define in an
//! `opening_fee_params`, make decoding fail, which aborts the flow as bLIP-52 requires.

use thiserror::Error;

use super::fee::{fee_for, is_fee_less_than_payment};
use super::msgs::OpeningFeeParams;
use super::promise::RawOpeningFeeParams;
use crate::schema::{DateTime, MsatAmount, Ppm};

/// Why a menu breaks bLIP-52's rules.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum MenuError {
    /// Entry `index` is not strictly more expensive than entry `index - 1`.
    #[error("menu entry {index} is not strictly more expensive than the one before")]
    NotIncreasing {
        /// The offending entry's position (≥ 1).
        index: usize,
    },
    /// Entry `index` has `min_payment_size_msat > max_payment_size_msat`, so no payment fits.
    #[error("menu entry {index} has min_payment_size_msat above max_payment_size_msat")]
    EmptySizeRange {
        /// The offending entry's position.
        index: usize,
    },
}

/// Checks a menu the client received. Call it on every `lsps2.get_info` result; on `Err`
/// the client must not buy from this menu.
pub fn check_menu(menu: &[OpeningFeeParams]) -> Result<(), MenuError> {
    check_entries(
        menu.iter().map(|p| (p.min_fee_msat, p.proportional, p.min_payment_size_msat, p.max_payment_size_msat)),
    )
}

/// Checks the LSP's own menu before it is sealed and served. Call it when loading the
/// configuration, so a misordered menu fails at start-up rather than at clients.
pub fn check_raw_menu(menu: &[RawOpeningFeeParams]) -> Result<(), MenuError> {
    check_entries(
        menu.iter().map(|p| (p.min_fee_msat, p.proportional, p.min_payment_size_msat, p.max_payment_size_msat)),
    )
}

fn check_entries(entries: impl Iterator<Item = (MsatAmount, Ppm, MsatAmount, MsatAmount)>) -> Result<(), MenuError> {
    let mut previous: Option<(MsatAmount, Ppm)> = None;
    for (index, (min_fee, proportional, min_size, max_size)) in entries.enumerate() {
        if min_size > max_size {
            return Err(MenuError::EmptySizeRange { index });
        }
        if let Some((previous_min_fee, previous_proportional)) = previous {
            // "(larger, equal) or (equal, larger) or (larger, larger)" is exactly "neither
            // smaller, and not both equal".
            let not_cheaper = min_fee >= previous_min_fee && proportional >= previous_proportional;
            let same = min_fee == previous_min_fee && proportional == previous_proportional;
            if !not_cheaper || same {
                return Err(MenuError::NotIncreasing { index });
            }
        }
        previous = Some((min_fee, proportional));
    }
    Ok(())
}

/// Which kind of invoice the client will make (bLIP-52 §"lsps2.buy").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentSize {
    /// MPP + fixed-amount invoice: `payment_size_msat` is sent in `buy`.
    Fixed(MsatAmount),
    /// No-MPP + variable-amount invoice. The amount is unknown when buying; an estimate, if
    /// the wallet has one, ranks the entries and is checked against their size bounds and
    /// the fee cap. Without one, entries are ranked by their fee floor and only the floor is
    /// held to the cap, so the wallet must check the real fee when the payment arrives.
    Variable {
        /// The amount the wallet expects to receive, if it knows.
        expected_msat: Option<MsatAmount>,
    },
}

/// The client's limits when choosing an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SelectionPolicy {
    /// The highest opening fee the user accepts. Entries above it are skipped.
    pub max_fee_msat: MsatAmount,
    /// How long an entry must still be valid after `now`, in seconds, to be worth buying:
    /// the invoice's expiry must fit before `valid_until`, and the payer needs time to pay.
    pub min_remaining_validity_secs: u64,
}

/// Why one menu entry was not chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntrySkipped {
    /// `valid_until` is not later than `now + min_remaining_validity_secs`.
    ExpiresTooSoon,
    /// The payment size (or estimate) is outside `[min, max]_payment_size_msat`.
    SizeOutOfRange,
    /// The fee computation overflows.
    FeeOverflow,
    /// The fee would not be strictly less than the payment size (the LSP would answer 202).
    FeeNotBelowPayment {
        /// The fee.
        opening_fee_msat: MsatAmount,
    },
    /// The fee (or, without an estimate, the fee floor) exceeds the cap.
    FeeAboveCap {
        /// The fee or floor that was too high.
        opening_fee_msat: MsatAmount,
    },
}

/// No menu entry is acceptable.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("no opening_fee_params entry is acceptable")]
pub struct NoAcceptableEntry {
    /// One reason per menu entry, in menu order (empty for an empty menu, which means the
    /// LSP offers no JIT channels right now).
    pub skipped: Vec<EntrySkipped>,
}

/// The entry [`select_cheapest`] chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selection<'a> {
    /// The chosen entry, to be sent back verbatim in `lsps2.buy`.
    pub params: &'a OpeningFeeParams,
    /// The fee for the payment size or estimate; `None` in variable mode without an estimate.
    pub opening_fee_msat: Option<MsatAmount>,
}

/// Picks the cheapest acceptable entry for `size` (client side).
///
/// Call it after [`check_menu`] and before `lsps2.buy`. Entries that expire within
/// `policy.min_remaining_validity_secs` of `now`, whose size bounds exclude the payment,
/// whose fee overflows, is not below the payment, or exceeds `policy.max_fee_msat` are
/// skipped. Among the rest the lowest fee wins (the lowest `(min_fee_msat, proportional)`
/// when there is no amount to price); ties go to the earlier entry.
pub fn select_cheapest<'a>(
    menu: &'a [OpeningFeeParams],
    size: PaymentSize,
    policy: &SelectionPolicy,
    now: DateTime,
) -> Result<Selection<'a>, NoAcceptableEntry> {
    let deadline = now.checked_add_secs(policy.min_remaining_validity_secs);
    let mut skipped = Vec::new();
    let mut best: Option<(Selection<'a>, (MsatAmount, Ppm))> = None;
    for params in menu {
        match judge(params, size, policy, deadline) {
            Err(reason) => skipped.push(reason),
            Ok(opening_fee_msat) => {
                let rank = (opening_fee_msat.unwrap_or(params.min_fee_msat), params.proportional);
                if best.as_ref().is_none_or(|(_, best_rank)| rank < *best_rank) {
                    best = Some((Selection { params, opening_fee_msat }, rank));
                }
            }
        }
    }
    best.map(|(selection, _)| selection).ok_or(NoAcceptableEntry { skipped })
}

/// The fee of one entry, or why it is skipped.
fn judge(
    params: &OpeningFeeParams,
    size: PaymentSize,
    policy: &SelectionPolicy,
    deadline: Option<DateTime>,
) -> Result<Option<MsatAmount>, EntrySkipped> {
    // A deadline past year 9999 cannot be met by any entry.
    if deadline.is_none_or(|deadline| params.valid_until <= deadline) {
        return Err(EntrySkipped::ExpiresTooSoon);
    }
    let amount = match size {
        PaymentSize::Fixed(amount) => Some(amount),
        PaymentSize::Variable { expected_msat } => expected_msat,
    };
    let Some(amount) = amount else {
        if params.min_fee_msat > policy.max_fee_msat {
            return Err(EntrySkipped::FeeAboveCap { opening_fee_msat: params.min_fee_msat });
        }
        return Ok(None);
    };
    if amount < params.min_payment_size_msat || amount > params.max_payment_size_msat {
        return Err(EntrySkipped::SizeOutOfRange);
    }
    let fee = fee_for(amount, params.min_fee_msat, params.proportional).map_err(|_| EntrySkipped::FeeOverflow)?;
    if !is_fee_less_than_payment(fee.get(), amount.get()) {
        return Err(EntrySkipped::FeeNotBelowPayment { opening_fee_msat: fee });
    }
    if fee > policy.max_fee_msat {
        return Err(EntrySkipped::FeeAboveCap { opening_fee_msat: fee });
    }
    Ok(Some(fee))
}

#[cfg(test)]
#[path = "menu_tests.rs"]
mod tests;
