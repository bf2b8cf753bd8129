//! Taking the opening fee out of the forwarded HTLCs (bLIP-52 §"Forwarding with the fee
//! deducted", bLIP-25 `extra_fee`).
//!
//! Once the JIT channel is ready, the LSP forwards the payment's parts to the client minus
//! `opening_fee`. The parts forwarded must each be at least the client's
//! `htlc_minimum_msat`, must together be `sum(parts) − opening_fee`, and every part that had
//! something deducted carries the `extra_fee` TLV in `update_add_htlc` saying how much;
//! parts with nothing deducted carry no TLV. [`split_opening_fee`] implements bLIP-52's
//! example algorithm, which meets those rules:
//!
//! ```text
//! remaining = opening_fee
//! for part in parts:
//!     if remaining == 0: forward part unchanged
//!     elif part - htlc_min >= remaining: forward part - remaining (extra_fee = remaining); remaining = 0
//!     else: forward htlc_min (extra_fee = part - htlc_min); remaining -= part - htlc_min
//! ```
//!
//! (lightning-liquidity spreads the fee proportionally instead; both are valid.)

use thiserror::Error;

/// bLIP-25's `extra_fee` TLV type in `update_add_htlc`.
pub const EXTRA_FEE_TLV_TYPE: u64 = 65_537;

/// Length of an encoded `extra_fee` record: BigSize type (5 bytes), length (1), u64 (8).
pub const EXTRA_FEE_TLV_LEN: usize = 14;

/// The BigSize encoding of [`EXTRA_FEE_TLV_TYPE`] followed by the length byte 8.
const EXTRA_FEE_TLV_HEADER: [u8; 6] = [0xfe, 0x00, 0x01, 0x00, 0x01, 0x08];

/// What to forward for one incoming part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForwardPart {
    /// The amount of the HTLC sent to the client.
    pub forward_msat: u64,
    /// The amount deducted from this part, to send as the `extra_fee` TLV; `None` when
    /// nothing was deducted (the HTLC then carries no TLV).
    pub extra_fee_msat: Option<u64>,
}

/// Why the fee cannot be taken out of these parts.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum SplitError {
    /// A part is below the client's `htlc_minimum_msat`, so it cannot be forwarded at all.
    #[error("part {index} is below the client's htlc_minimum_msat")]
    PartBelowMinimum {
        /// The part's position.
        index: usize,
    },
    /// `sum(parts) < opening_fee + n × htlc_minimum_msat`: the fee cannot be deducted
    /// without taking some part below the minimum.
    #[error("the parts cannot cover the opening fee plus htlc_minimum_msat per part")]
    NotEnough,
    /// A sum or product overflows u64.
    #[error("the amounts overflow 64 bits")]
    Overflow,
}

/// Splits `opening_fee_msat` over the incoming `parts_msat` (in the order given) as
/// bLIP-52's example algorithm does.
///
/// The LSP calls it when the channel is ready and it is about to forward the held parts
/// (in no-MPP mode there is exactly one). It returns one [`ForwardPart`] per part, in the
/// same order. Errors mean the LSP must not forward: it fails the parts with
/// `unknown_next_peer` (bLIP-52 §"Payment collection"). Precheck with
/// [`parts_can_cover`] while collecting parts.
pub fn split_opening_fee(
    parts_msat: &[u64],
    opening_fee_msat: u64,
    htlc_minimum_msat: u64,
) -> Result<Vec<ForwardPart>, SplitError> {
    if let Some(index) = parts_msat.iter().position(|&part| part < htlc_minimum_msat) {
        return Err(SplitError::PartBelowMinimum { index });
    }
    if !parts_can_cover(parts_msat, opening_fee_msat, htlc_minimum_msat)? {
        return Err(SplitError::NotEnough);
    }
    let mut remaining = opening_fee_msat;
    let forwards = parts_msat
        .iter()
        .map(|&part| {
            // Every part is at least the minimum (checked above), so this cannot underflow.
            let spare = part - htlc_minimum_msat;
            let deducted = spare.min(remaining);
            remaining -= deducted;
            ForwardPart { forward_msat: part - deducted, extra_fee_msat: (deducted > 0).then_some(deducted) }
        })
        .collect();
    // `sum(parts) ≥ fee + n × min` guarantees the loop took the whole fee.
    debug_assert_eq!(remaining, 0);
    Ok(forwards)
}

/// Whether `sum(parts) ≥ opening_fee + n × htlc_minimum_msat`, i.e. whether the fee can be
/// deducted without taking any part below the client's minimum. `Err` on u64 overflow.
///
/// The LSP can call it while collecting MPP parts, before committing to open a channel.
pub fn parts_can_cover(parts_msat: &[u64], opening_fee_msat: u64, htlc_minimum_msat: u64) -> Result<bool, SplitError> {
    let total = parts_msat.iter().try_fold(0u64, |sum, &part| sum.checked_add(part)).ok_or(SplitError::Overflow)?;
    let count = u64::try_from(parts_msat.len()).map_err(|_| SplitError::Overflow)?;
    let needed = htlc_minimum_msat
        .checked_mul(count)
        .and_then(|minimums| minimums.checked_add(opening_fee_msat))
        .ok_or(SplitError::Overflow)?;
    Ok(total >= needed)
}

/// Encodes an `extra_fee` TLV record: `fe00010001` (type 65537 as BigSize), `08`, and the
/// amount as u64 big-endian. Attach it to the `update_add_htlc` of a part with a deduction.
pub fn encode_extra_fee_tlv(extra_fee_msat: u64) -> [u8; EXTRA_FEE_TLV_LEN] {
    let mut record = [0u8; EXTRA_FEE_TLV_LEN];
    record[..6].copy_from_slice(&EXTRA_FEE_TLV_HEADER);
    record[6..].copy_from_slice(&extra_fee_msat.to_be_bytes());
    record
}

/// Why bytes are not an `extra_fee` record or value.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum ExtraFeeTlvError {
    /// The record's type is not a minimally encoded 65537.
    #[error("not an extra_fee record (type 65537)")]
    WrongType,
    /// The length is not 8, or the bytes do not match it.
    #[error("extra_fee must be exactly 8 bytes")]
    WrongLength,
}

/// Decodes one whole `extra_fee` TLV record (type, length and value, nothing else).
pub fn decode_extra_fee_tlv(record: &[u8]) -> Result<u64, ExtraFeeTlvError> {
    if record.get(..5) != Some(&EXTRA_FEE_TLV_HEADER[..5]) {
        return Err(ExtraFeeTlvError::WrongType);
    }
    if record.get(5) != Some(&8) {
        return Err(ExtraFeeTlvError::WrongLength);
    }
    decode_extra_fee_value(&record[6..])
}

/// Decodes the value of an `extra_fee` record whose type and length the node's TLV parser
/// has already read (LDK hands custom TLVs over as `(type, value)`).
pub fn decode_extra_fee_value(value: &[u8]) -> Result<u64, ExtraFeeTlvError> {
    let bytes: [u8; 8] = value.try_into().map_err(|_| ExtraFeeTlvError::WrongLength)?;
    Ok(u64::from_be_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn part(forward_msat: u64, extra_fee_msat: Option<u64>) -> ForwardPart {
        ForwardPart { forward_msat, extra_fee_msat }
    }

    #[test]
    fn the_spec_example_shapes() {
        assert_eq!(
            split_opening_fee(&[20_000_000, 15_000_000, 7_000_000], 2_000_000, 1000),
            Ok(vec![part(18_000_000, Some(2_000_000)), part(15_000_000, None), part(7_000_000, None)])
        );
        // The first part can give only down to the minimum; the rest comes from the next.
        assert_eq!(
            split_opening_fee(&[1500, 5000, 1000], 2000, 1000),
            Ok(vec![part(1000, Some(500)), part(3500, Some(1500)), part(1000, None)])
        );
        assert_eq!(split_opening_fee(&[1000, 4000], 3000, 1000), Ok(vec![part(1000, None), part(1000, Some(3000))]));
        assert_eq!(split_opening_fee(&[7], 0, 0), Ok(vec![part(7, None)]));
        assert_eq!(split_opening_fee(&[7], 7, 0), Ok(vec![part(0, Some(7))]));
        assert_eq!(split_opening_fee(&[], 0, 1), Ok(vec![]));
    }

    #[test]
    fn refusals() {
        assert_eq!(split_opening_fee(&[5000, 999], 1, 1000), Err(SplitError::PartBelowMinimum { index: 1 }));
        assert_eq!(split_opening_fee(&[3000, 3000], 4001, 1000), Err(SplitError::NotEnough));
        assert_eq!(split_opening_fee(&[3000, 3000], 4000, 1000).map(|v| v.len()), Ok(2));
        assert_eq!(split_opening_fee(&[], 1, 0), Err(SplitError::NotEnough));
        assert_eq!(split_opening_fee(&[u64::MAX, 1], 0, 0), Err(SplitError::Overflow));
        assert_eq!(split_opening_fee(&[u64::MAX, u64::MAX], 1, u64::MAX), Err(SplitError::Overflow));
        assert_eq!(parts_can_cover(&[u64::MAX], u64::MAX, 1), Err(SplitError::Overflow));
    }

    #[test]
    fn tlv_bytes() {
        let record = encode_extra_fee_tlv(2_000_000);
        assert_eq!(record, [0xfe, 0, 1, 0, 1, 8, 0, 0, 0, 0, 0, 0x1e, 0x84, 0x80]);
        assert_eq!(decode_extra_fee_tlv(&record), Ok(2_000_000));
        assert_eq!(decode_extra_fee_value(&record[6..]), Ok(2_000_000));
        assert_eq!(decode_extra_fee_tlv(&record[..13]), Err(ExtraFeeTlvError::WrongLength));
        let mut longer = record.to_vec();
        longer.push(0);
        assert_eq!(decode_extra_fee_tlv(&longer), Err(ExtraFeeTlvError::WrongLength));
        let mut wrong_length = record;
        wrong_length[5] = 7;
        assert_eq!(decode_extra_fee_tlv(&wrong_length), Err(ExtraFeeTlvError::WrongLength));
        let mut wrong_type = record;
        wrong_type[4] = 3;
        assert_eq!(decode_extra_fee_tlv(&wrong_type), Err(ExtraFeeTlvError::WrongType));
        // 65537 written non-minimally as a 9-byte BigSize is refused.
        assert_eq!(decode_extra_fee_tlv(&[0xff, 0, 0, 0, 0, 0, 1, 0, 1, 8]), Err(ExtraFeeTlvError::WrongType));
        assert_eq!(decode_extra_fee_tlv(&[]), Err(ExtraFeeTlvError::WrongType));
    }

    proptest! {
        #[test]
        fn invariants_hold(
            parts in proptest::collection::vec(0u64..1_000_000_000, 0..12),
            fee in 0u64..3_000_000_000,
            minimum in 0u64..2_000_000,
        ) {
            match split_opening_fee(&parts, fee, minimum) {
                Ok(forwards) => {
                    prop_assert_eq!(forwards.len(), parts.len());
                    let sum_parts: u64 = parts.iter().sum();
                    let sum_forwards: u64 = forwards.iter().map(|f| f.forward_msat).sum();
                    prop_assert_eq!(sum_forwards, sum_parts - fee);
                    let sum_extra: u64 = forwards.iter().filter_map(|f| f.extra_fee_msat).sum();
                    prop_assert_eq!(sum_extra, fee);
                    for (incoming, forward) in parts.iter().zip(&forwards) {
                        prop_assert!(forward.forward_msat >= minimum);
                        prop_assert_eq!(forward.forward_msat + forward.extra_fee_msat.unwrap_or(0), *incoming);
                        prop_assert_ne!(forward.extra_fee_msat, Some(0), "no deduction, no TLV");
                    }
                }
                Err(SplitError::PartBelowMinimum { index }) => prop_assert!(parts[index] < minimum),
                Err(SplitError::NotEnough) => {
                    prop_assert!(parts.iter().all(|&p| p >= minimum));
                    prop_assert!(parts.iter().sum::<u64>() < fee + minimum * parts.len() as u64);
                }
                Err(SplitError::Overflow) => prop_assert!(false, "no overflow in this range"),
            }
        }

        #[test]
        fn never_panics_on_any_input(parts in proptest::collection::vec(any::<u64>(), 0..6), fee in any::<u64>(), minimum in any::<u64>()) {
            let _ = split_opening_fee(&parts, fee, minimum);
        }

        #[test]
        fn tlv_round_trips(amount in any::<u64>()) {
            prop_assert_eq!(decode_extra_fee_tlv(&encode_extra_fee_tlv(amount)), Ok(amount));
        }
    }
}
