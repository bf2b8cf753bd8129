//! LSPS0 framing: how one JSON-RPC object travels inside a Lightning peer message
//! (bLIP-50, "Lightning Peer-to-peer Transport").
//!
//! A BOLT8 message is a 2-byte big-endian type followed by the payload. LSPS0 uses the odd
//! type [`LSPS_MESSAGE_TYPE`] (37913, `0x9419`); the payload is the raw UTF-8 of exactly one
//! JSON object with no length prefix and no terminator. BOLT8 caps a message at 65,535
//! bytes, so the payload is at most [`MAX_PAYLOAD_BYTES`].
//!
//! LSPs signal support with the optional feature bit [`LSPS_FEATURE_BIT`] (729) in their
//! `init` and `node_announcement` features.

use thiserror::Error;

/// `lsps0_message_id`: the BOLT8 message type that carries LSPS JSON-RPC.
pub const LSPS_MESSAGE_TYPE: u16 = 37913;

/// The largest payload a BOLT8 message of type 37913 can carry: 65,535 minus the 2-byte type.
pub const MAX_PAYLOAD_BYTES: usize = 65_533;

/// `option_supports_lsps`: the (odd, hence optional) feature bit an LSP sets.
pub const LSPS_FEATURE_BIT: usize = 729;

/// Why a BOLT8 message could not be framed or unframed.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum FramingError {
    /// The payload exceeds [`MAX_PAYLOAD_BYTES`]; the spec forbids splitting it.
    #[error("payload of {len} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte limit")]
    PayloadTooLarge {
        /// The payload length that was refused.
        len: usize,
    },
    /// The message is shorter than the 2-byte type.
    #[error("message shorter than its 2-byte type")]
    Truncated,
    /// The message type is not [`LSPS_MESSAGE_TYPE`].
    #[error("message type {0} is not the LSPS message type {LSPS_MESSAGE_TYPE}")]
    WrongType(u16),
}

/// Checks that `payload` fits in one LSPS message.
pub fn check_payload_len(payload: &[u8]) -> Result<(), FramingError> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(FramingError::PayloadTooLarge { len: payload.len() });
    }
    Ok(())
}

/// Builds a whole BOLT8 message (type + payload) from a JSON payload.
pub fn encode_message(payload: &[u8]) -> Result<Vec<u8>, FramingError> {
    check_payload_len(payload)?;
    let mut message = Vec::with_capacity(2 + payload.len());
    message.extend_from_slice(&LSPS_MESSAGE_TYPE.to_be_bytes());
    message.extend_from_slice(payload);
    Ok(message)
}

/// Splits a whole BOLT8 message into its payload, checking the type and the size.
pub fn decode_message(message: &[u8]) -> Result<&[u8], FramingError> {
    let (type_bytes, payload) = message.split_first_chunk::<2>().ok_or(FramingError::Truncated)?;
    let message_type = u16::from_be_bytes(*type_bytes);
    if message_type != LSPS_MESSAGE_TYPE {
        return Err(FramingError::WrongType(message_type));
    }
    check_payload_len(payload)?;
    Ok(payload)
}

/// The minimal big-endian BOLT9 feature field with only `bit` set.
///
/// Bit 0 is the least significant bit of the last byte, so bit 729 lands in the first of
/// 92 bytes with mask `0x02`.
pub fn feature_bytes_with_bit(bit: usize) -> Vec<u8> {
    let len = bit / 8 + 1;
    let mut bytes = vec![0u8; len];
    bytes[len - 1 - bit / 8] = 1 << (bit % 8);
    bytes
}

/// Whether a big-endian BOLT9 feature field has `bit` set.
pub fn feature_bit_is_set(features: &[u8], bit: usize) -> bool {
    let byte_from_end = bit / 8;
    if byte_from_end >= features.len() {
        return false;
    }
    features[features.len() - 1 - byte_from_end] & (1 << (bit % 8)) != 0
}

/// Whether a peer's features advertise LSPS support (bit 729, or its even twin 728).
pub fn supports_lsps(features: &[u8]) -> bool {
    feature_bit_is_set(features, LSPS_FEATURE_BIT) || feature_bit_is_set(features, LSPS_FEATURE_BIT - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_round_trip() {
        let payload = br#"{"jsonrpc":"2.0"}"#;
        let message = encode_message(payload).unwrap();
        assert_eq!(&message[..2], &[0x94, 0x19]);
        assert_eq!(decode_message(&message).unwrap(), payload);
    }

    #[test]
    fn size_limit_is_exact() {
        assert!(encode_message(&vec![b' '; MAX_PAYLOAD_BYTES]).is_ok());
        assert_eq!(
            encode_message(&vec![b' '; MAX_PAYLOAD_BYTES + 1]),
            Err(FramingError::PayloadTooLarge { len: MAX_PAYLOAD_BYTES + 1 })
        );
    }

    #[test]
    fn wrong_or_short_messages_are_refused() {
        assert_eq!(decode_message(&[0x94]), Err(FramingError::Truncated));
        assert_eq!(decode_message(&[0x00, 0x01, b'{']), Err(FramingError::WrongType(1)));
    }

    #[test]
    fn feature_bits() {
        let bytes = feature_bytes_with_bit(LSPS_FEATURE_BIT);
        assert_eq!(bytes.len(), 92);
        assert_eq!(bytes[0], 0x02);
        assert!(supports_lsps(&bytes));
        assert!(!supports_lsps(&[0xff]));
        assert!(!feature_bit_is_set(&[], 0));
    }
}
