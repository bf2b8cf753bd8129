//! The LSPS2 opening fee (bLIP-52 §"Computing the opening_fee").
//!
//! Client and LSP must agree on the fee to the millisatoshi, so both call
//! [`opening_fee_msat`]. The formula, with every step checked for u64 overflow:
//!
//! ```text
//! opening_fee = max(min_fee_msat, (payment_size_msat * proportional + 999_999) / 1_000_000)
//! ```
//!
//! The prose of bLIP-52 says `/ 10000000` and `+ 9999999`; its C and Rust code and the
//! surrounding text use 1,000,000 and 999,999, which is what is implemented.
//!
//! # Difference from lightning-liquidity
//!
//! LDK computes `checked_mul(..)` followed by `div_ceil(1_000_000)`, with no separate
//! `+ 999_999` step. When the product lies in `(u64::MAX - 999_999, u64::MAX]` the spec's
//! addition overflows and the fee is an error here, while LDK returns a value; for example
//! `payment_size_msat = u64::MAX, proportional = 1` is an overflow here and 18446744073710
//! msat in LDK. Such sizes exceed all the bitcoin there is, so the difference never matters
//! in practice; the spec's rule is followed.

use thiserror::Error;

use super::msgs::OpeningFeeParams;
use crate::schema::{MsatAmount, Ppm};

/// The opening fee does not fit in u64. The client reports it to the user and does not buy;
/// the LSP answers `lsps2.buy` with 203 or fails the HTLC with `unknown_next_peer`.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
#[error("the opening fee overflows 64 bits")]
pub struct FeeOverflow;

/// The opening fee in msat for a payment of `payment_size_msat`, exactly as bLIP-52
/// specifies: `checked_mul`, then `checked_add(999_999)`, then `/ 1_000_000`, then at least
/// `min_fee_msat`.
///
/// The client calls it to show the fee before `lsps2.buy` (fixed mode) or when checking the
/// `extra_fee` of an arriving HTLC; the LSP calls it in `buy` and when it intercepts an HTLC.
pub fn opening_fee_msat(payment_size_msat: u64, min_fee_msat: u64, proportional: u32) -> Result<u64, FeeOverflow> {
    let proportional_fee = payment_size_msat
        .checked_mul(u64::from(proportional))
        .and_then(|product| product.checked_add(999_999))
        .ok_or(FeeOverflow)?
        / 1_000_000;
    Ok(proportional_fee.max(min_fee_msat))
}

/// Whether `opening_fee_msat` leaves something for the client: bLIP-52 requires the fee to
/// be **strictly** less than the payment size, else `lsps2.buy` fails with 202.
pub fn is_fee_less_than_payment(opening_fee_msat: u64, payment_size_msat: u64) -> bool {
    opening_fee_msat < payment_size_msat
}

impl OpeningFeeParams {
    /// [`opening_fee_msat`] with this entry's `min_fee_msat` and `proportional`.
    pub fn opening_fee_msat(&self, payment_size_msat: MsatAmount) -> Result<MsatAmount, FeeOverflow> {
        fee_for(payment_size_msat, self.min_fee_msat, self.proportional)
    }
}

pub(super) fn fee_for(
    payment_size_msat: MsatAmount,
    min_fee_msat: MsatAmount,
    proportional: Ppm,
) -> Result<MsatAmount, FeeOverflow> {
    opening_fee_msat(payment_size_msat.get(), min_fee_msat.get(), proportional.get()).map(MsatAmount)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The spec's formula in u128, with its u64 overflow checks made explicit.
    fn reference(size: u64, min_fee: u64, ppm: u32) -> Option<u64> {
        let product = u128::from(size) * u128::from(ppm);
        let rounded = product + 999_999;
        if product > u128::from(u64::MAX) || rounded > u128::from(u64::MAX) {
            return None;
        }
        Some(((rounded / 1_000_000) as u64).max(min_fee))
    }

    /// lightning-liquidity's formula, to pin the documented difference.
    fn ldk(size: u64, min_fee: u64, ppm: u32) -> Option<u64> {
        Some(size.checked_mul(u64::from(ppm))?.div_ceil(1_000_000).max(min_fee))
    }

    #[test]
    fn edges() {
        assert_eq!(opening_fee_msat(0, 0, 0), Ok(0));
        assert_eq!(opening_fee_msat(0, 7, 1_000_000), Ok(7));
        assert_eq!(opening_fee_msat(1, 0, 1), Ok(1), "rounds up");
        assert_eq!(opening_fee_msat(1_000_000, 0, 1), Ok(1));
        assert_eq!(opening_fee_msat(1_000_001, 0, 1), Ok(2));
        assert_eq!(opening_fee_msat(u64::MAX, 0, 0), Ok(0));
        assert_eq!(opening_fee_msat(u64::MAX, u64::MAX, 0), Ok(u64::MAX));
        assert_eq!(opening_fee_msat(u64::MAX, 0, 1), Err(FeeOverflow));
        assert_eq!(ldk(u64::MAX, 0, 1), Some(18_446_744_073_710), "LDK succeeds where the spec overflows");
        assert_eq!(opening_fee_msat(u64::MAX - 999_999, 0, 1), Ok(18_446_744_073_709));
        assert_eq!(opening_fee_msat(u64::MAX - 999_998, 0, 1), Err(FeeOverflow));
        assert_eq!(opening_fee_msat(u64::MAX / 2 + 1, 0, 2), Err(FeeOverflow));
        assert!(is_fee_less_than_payment(1, 2));
        assert!(!is_fee_less_than_payment(2, 2));
    }

    proptest! {
        #[test]
        fn matches_the_u128_reference(size in any::<u64>(), min_fee in any::<u64>(), ppm in any::<u32>()) {
            prop_assert_eq!(opening_fee_msat(size, min_fee, ppm).ok(), reference(size, min_fee, ppm));
        }

        #[test]
        fn matches_the_reference_near_the_overflow_edge(offset in 0u64..2_000_000, ppm in 1u32..4) {
            let size = (u64::MAX / u64::from(ppm)).saturating_sub(offset);
            prop_assert_eq!(opening_fee_msat(size, 0, ppm).ok(), reference(size, 0, ppm));
        }

        #[test]
        fn agrees_with_ldk_wherever_the_spec_succeeds(size in any::<u64>(), min_fee in any::<u64>(), ppm in any::<u32>()) {
            if let Ok(fee) = opening_fee_msat(size, min_fee, ppm) {
                prop_assert_eq!(Some(fee), ldk(size, min_fee, ppm));
            }
        }
    }
}
