//! Small identifiers the flows store: 32-byte LDK ids as hex, and `u128`s as decimal text
//! (JSON numbers cannot hold them exactly).

use serde::{Deserialize, Serialize};

/// An intercepted HTLC's id (LDK `InterceptId`), hex in storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InterceptRef(pub [u8; 32]);

/// A payment hash, hex in storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PaymentHashRef(pub [u8; 32]);

/// A channel id, hex in storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelRef(pub [u8; 32]);

macro_rules! hex32_serde {
    ($type:ident) => {
        impl Serialize for $type {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut text = String::with_capacity(64);
                for byte in self.0 {
                    text.push_str(&format!("{byte:02x}"));
                }
                serializer.serialize_str(&text)
            }
        }
        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                parse_hex32(&text).map($type).ok_or_else(|| serde::de::Error::custom("expected 64 hex characters"))
            }
        }
    };
}
hex32_serde!(InterceptRef);
hex32_serde!(PaymentHashRef);
hex32_serde!(ChannelRef);

fn parse_hex32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[index * 2..index * 2 + 2], 16).ok()?;
    }
    Some(bytes)
}

/// `#[serde(with = "crate::ids::u128_text")]`: a `u128` as decimal text.
pub mod u128_text {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the decimal text.
    pub fn serialize<S: Serializer>(value: &u128, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    /// Reads the decimal text.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u128, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}
