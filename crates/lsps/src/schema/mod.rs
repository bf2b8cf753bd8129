//! LSPS0 common schemas (bLIP-50, "Common Schemas") as Rust types that cannot hold an
//! invalid value.
//!
//! Every type here parses from and serialises to exactly its JSON form, and every parser
//! returns a [`SchemaError`] for hostile input instead of panicking.
//!
//! | LSPS0 name              | type                  | JSON                                 |
//! |-------------------------|-----------------------|--------------------------------------|
//! | `LSPS0.sat`             | [`SatAmount`]         | decimal string                       |
//! | `LSPS0.msat`            | [`MsatAmount`]        | decimal string                       |
//! | `LSPS0.ppm`             | [`Ppm`]               | integer                              |
//! | `LSPS0.onchain_fee_rate`| [`FeeRate`]           | integer, sat per 1,000 weight units  |
//! | `LSPS0.datetime`        | [`DateTime`]          | `"YYYY-MM-DDThh:mm:ss.mmmZ"`         |
//! | `LSPS0.onchain_address` | [`OnchainAddress`]    | SegWit address string                |
//! | `LSPS0.txid`            | [`TxidHex`]           | 64 hex characters                    |
//! | `LSPS0.outpoint`        | [`Outpoint`]          | `"<txid>:<vout>"`                    |
//! | `LSPS0.scid`            | [`Scid`]              | `"BBBxTTTxOOO"`                      |
//! | `LSPS0.pubkey`          | [`NodeId`]            | 66 hex characters                    |
//! | `LSPS0.connection_string` | [`ConnectionString`] | `"<node id>@<host>:<port>"`         |
//! | `LSPS0.binary_blob`     | [`Blob`]              | padded standard base64               |

mod amount;
mod chain;
mod datetime;
mod encoding;
mod peer;

pub use amount::{FeeRate, MsatAmount, Ppm, SatAmount};
pub use bitcoin::Txid;
pub use chain::{OnchainAddress, Outpoint, Scid, TxidHex};
pub use datetime::DateTime;
pub use encoding::Blob;
pub use peer::{ConnectionString, Host, NodeId};

use thiserror::Error;

/// Why a value does not fit its LSPS0 schema.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum SchemaError {
    /// An amount string that is not a plain decimal u64.
    #[error("amount must be a decimal string of at most 20 digits that fits in 64 bits")]
    Amount,
    /// A datetime that is not RFC 3339 or lies outside 1970..=9999.
    #[error("invalid datetime: {0}")]
    DateTime(&'static str),
    /// An address that does not parse, is not P2WPKH/P2WSH/P2TR, or is for another network.
    #[error("invalid on-chain address: {0}")]
    Address(String),
    /// A txid that is not 64 hex characters.
    #[error("txid must be 64 hex characters")]
    Txid,
    /// An outpoint that is not `<txid>:<vout>`.
    #[error("outpoint must be <txid>:<vout>")]
    Outpoint,
    /// An SCID that is not `BxTxO` within 24/24/16 bits.
    #[error("short channel id must be <block>x<tx>x<output> within 24/24/16 bits")]
    Scid,
    /// A public key that is not 33 compressed bytes in hex on the curve.
    #[error("node id must be a 33-byte compressed public key in hex")]
    NodeId,
    /// A connection string that is not `<node id>@<host>:<port>`.
    #[error("connection string must be <node id>@<host>:<port>: {0}")]
    ConnectionString(&'static str),
    /// A blob that is not padded standard base64.
    #[error("binary blob must be padded standard base64")]
    Blob,
}

/// Implements `Serialize`/`Deserialize` through `Display`/`FromStr` for a string-shaped type.
macro_rules! serde_via_str {
    ($type:ty, $expecting:expr) => {
        impl serde::Serialize for $type {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl serde::de::Visitor<'_> for Visitor {
                    type Value = $type;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<$type, E> {
                        text.parse().map_err(E::custom)
                    }
                }
                deserializer.deserialize_str(Visitor)
            }
        }
    };
}
pub(crate) use serde_via_str;
