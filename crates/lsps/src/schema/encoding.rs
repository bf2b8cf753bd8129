//! `LSPS0.binary_blob`: bytes as standard base64 (RFC 4648 §4) with `=` padding.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::{serde_via_str, SchemaError};

/// Opaque bytes, written as padded standard base64. Non-canonical encodings (missing padding,
/// stray trailing bits) are refused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Blob(pub Vec<u8>);

impl FromStr for Blob {
    type Err = SchemaError;

    fn from_str(text: &str) -> Result<Self, SchemaError> {
        STANDARD.decode(text).map(Blob).map_err(|_| SchemaError::Blob)
    }
}

impl fmt::Display for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&STANDARD.encode(&self.0))
    }
}

serde_via_str!(Blob, "padded standard base64");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_base64_only() {
        let blob: Blob = "AAECA/4=".parse().unwrap();
        assert_eq!(blob.0, vec![0, 1, 2, 3, 0xfe]);
        assert_eq!(blob.to_string(), "AAECA/4=");
        for bad in ["AAECA/4", "AAECA_4=", "AAECA/5=", "A"] {
            assert!(bad.parse::<Blob>().is_err(), "{bad}");
        }
    }
}
