//! Amounts and rates: `LSPS0.sat`, `LSPS0.msat`, `LSPS0.ppm`, `LSPS0.onchain_fee_rate`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{serde_via_str, SchemaError};

/// Parses a decimal u64 the way LSPS0 writes amounts: ASCII digits only (no sign, no
/// spaces, no exponent), at most 20 of them, and no overflow.
fn parse_decimal_u64(text: &str) -> Result<u64, SchemaError> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SchemaError::Amount);
    }
    text.parse::<u64>().map_err(|_| SchemaError::Amount)
}

macro_rules! amount_type {
    ($name:ident, $unit:literal, $doc:literal) => {
        #[doc = $doc]
        ///
        /// Serialised as a decimal string so that the full u64 range survives JSON parsers
        /// that read numbers as doubles.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u64);

        impl $name {
            /// Zero.
            pub const ZERO: $name = $name(0);

            #[doc = concat!("The amount in ", $unit, ".")]
            pub const fn get(self) -> u64 {
                self.0
            }

            /// Sum, or `None` on overflow.
            pub fn checked_add(self, other: $name) -> Option<$name> {
                self.0.checked_add(other.0).map($name)
            }

            /// Difference, or `None` if `other` is larger.
            pub fn checked_sub(self, other: $name) -> Option<$name> {
                self.0.checked_sub(other.0).map($name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl FromStr for $name {
            type Err = SchemaError;
            fn from_str(text: &str) -> Result<Self, SchemaError> {
                parse_decimal_u64(text).map($name)
            }
        }

        impl From<u64> for $name {
            fn from(value: u64) -> Self {
                $name(value)
            }
        }

        serde_via_str!($name, concat!("an amount in ", $unit, " as a decimal string"));
    };
}

amount_type!(SatAmount, "satoshis", "`LSPS0.sat`: an amount in satoshis.");
amount_type!(MsatAmount, "millisatoshis", "`LSPS0.msat`: an amount in millisatoshis.");

impl SatAmount {
    /// The same amount in millisatoshis, or `None` if it overflows u64.
    pub fn to_msat(self) -> Option<MsatAmount> {
        self.0.checked_mul(1000).map(MsatAmount)
    }
}

impl MsatAmount {
    /// The whole satoshis in this amount, rounded down.
    pub fn to_sat_floor(self) -> SatAmount {
        SatAmount(self.0 / 1000)
    }
}

/// `LSPS0.ppm`: parts per million (`2500` is 0.25 %, `1_000_000` is 100 %). A JSON integer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Ppm(pub u32);

impl Ppm {
    /// The value in parts per million.
    pub const fn get(self) -> u32 {
        self.0
    }
}

/// `LSPS0.onchain_fee_rate`: satoshis per 1,000 weight units (253 ≈ 1.012 sat/vB). A JSON
/// integer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FeeRate(pub u64);

impl FeeRate {
    /// The rate in sat per 1,000 weight units.
    pub const fn sat_per_kwu(self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_strict_decimal_strings() {
        assert_eq!("546".parse::<SatAmount>(), Ok(SatAmount(546)));
        assert_eq!("18446744073709551615".parse::<MsatAmount>(), Ok(MsatAmount(u64::MAX)));
        for bad in ["", "+1", "-1", " 1", "1 ", "1e3", "0x10", "18446744073709551616", "١", "000000000000000000001"] {
            assert_eq!(bad.parse::<MsatAmount>(), Err(SchemaError::Amount), "{bad:?}");
        }
        assert_eq!(serde_json::to_string(&MsatAmount(546000)).unwrap(), r#""546000""#);
        assert!(serde_json::from_str::<SatAmount>("546").is_err(), "numbers are not amounts");
    }

    #[test]
    fn conversions_are_checked() {
        assert_eq!(SatAmount(2).to_msat(), Some(MsatAmount(2000)));
        assert_eq!(SatAmount(u64::MAX).to_msat(), None);
        assert_eq!(MsatAmount(1999).to_sat_floor(), SatAmount(1));
        assert_eq!(SatAmount(u64::MAX).checked_add(SatAmount(1)), None);
        assert_eq!(SatAmount(1).checked_sub(SatAmount(2)), None);
    }
}
