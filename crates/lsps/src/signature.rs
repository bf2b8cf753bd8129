//! `LSPS0.ln_signature`: the zbase32 `signmessage` format of LND and CLN (bLIP-50,
//! "Common Schemas").
//!
//! A signature is the zbase32 encoding of 65 bytes, `[31 + recid] || r || s`: a recoverable
//! ECDSA signature over `SHA256(SHA256("Lightning Signed Message:" || msg))`, made with an
//! RFC 6979 nonce and normalised to low S. The header byte says which of the (up to) four
//! candidate public keys is the signer; 31..=34 mean "compressed key", which is all LND,
//! CLN and LDK ever produce, and all this module accepts.
//!
//! Any LSPS that signs must put `LSPS<n>` and "DO NOT SIGN THIS MESSAGE MANUALLY" in the
//! signed text, so that a human `signmessage` can never double as an LSPS authorisation.
//!
//! ```
//! use lsps::bitcoin::secp256k1::{Secp256k1, SecretKey};
//! use lsps::signature::{recover_signer, sign_message, verify};
//!
//! let secret_key = SecretKey::from_slice(&[7u8; 32]).unwrap();
//! let node_id = secret_key.public_key(&Secp256k1::signing_only());
//! let signature = sign_message(&secret_key, b"LSPS0: DO NOT SIGN THIS MESSAGE MANUALLY: hi");
//! assert_eq!(recover_signer(b"LSPS0: DO NOT SIGN THIS MESSAGE MANUALLY: hi", &signature), Ok(node_id));
//! assert!(verify(b"something else", &signature, &node_id).is_err());
//! ```

use std::sync::OnceLock;

use bitcoin::hashes::{sha256d, Hash, HashEngine};
use bitcoin::secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use bitcoin::secp256k1::{All, Message, PublicKey, Secp256k1, SecretKey};
use thiserror::Error;

/// The prefix LND, CLN and LDK hash in front of every signed message.
pub const SIGNED_MESSAGE_PREFIX: &[u8] = b"Lightning Signed Message:";

/// The zbase32 alphabet (Zooko's human-oriented base32).
const ZBASE32_ALPHABET: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";

/// Header byte for recovery id 0 of a compressed key; ids 1..=3 follow.
const COMPRESSED_HEADER_BASE: u8 = 31;

/// 65 bytes encode to exactly 104 zbase32 characters (520 bits, no padding).
const SIGNATURE_ZBASE32_LEN: usize = 104;

/// Why a zbase32 string could not be decoded.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum Zbase32Error {
    /// A character outside the zbase32 alphabet (upper case included).
    #[error("character at offset {0} is not in the zbase32 alphabet")]
    InvalidChar(usize),
    /// A length that no byte string encodes to.
    #[error("{0} characters is not the length of any zbase32 encoding")]
    InvalidLength(usize),
    /// The unused low bits of the last character are not zero (a non-canonical encoding).
    #[error("trailing bits of the last character are not zero")]
    NonCanonical,
}

/// Why an `LSPS0.ln_signature` did not check out.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum SignatureError {
    /// Not zbase32.
    #[error("signature is not zbase32: {0}")]
    Zbase32(#[from] Zbase32Error),
    /// zbase32, but not 65 bytes.
    #[error("signature must be 65 bytes, got {0}")]
    Length(usize),
    /// The header byte is not 31..=34 (compressed key, recovery id 0..=3).
    #[error("signature header byte {0} is not 31..=34")]
    Header(u8),
    /// `r` or `s` is not below the curve order.
    #[error("signature r or s is out of range")]
    Encoding,
    /// `s` is in the upper half of the order; every honest signer emits low S, and
    /// accepting both halves would let anyone re-encode a signature.
    #[error("signature is not low-S normalised")]
    HighS,
    /// No public key recovers from this signature and message.
    #[error("no public key recovers from this signature")]
    Unrecoverable,
    /// A key recovered, but not the expected one: the message, the signature or the
    /// claimed signer is wrong.
    #[error("signature was made by {recovered}, not the expected key")]
    WrongSigner {
        /// The key that did sign this exact message, if anyone did.
        recovered: PublicKey,
    },
}

/// Encodes bytes as zbase32, most significant bit first, with no padding characters.
pub fn zbase32_encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity((bytes.len() * 8).div_ceil(5));
    let (mut buffer, mut bits) = (0u16, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u16::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            text.push(char::from(ZBASE32_ALPHABET[usize::from((buffer >> bits) & 31)]));
        }
        // Keep only the bits not yet written, so the buffer never overflows.
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        text.push(char::from(ZBASE32_ALPHABET[usize::from((buffer << (5 - bits)) & 31)]));
    }
    text
}

/// Decodes zbase32. Only the canonical encoding of some byte string is accepted: lowercase
/// alphabet characters, a length of `ceil(8n / 5)`, and zero padding bits.
pub fn zbase32_decode(text: &str) -> Result<Vec<u8>, Zbase32Error> {
    let byte_len = text.len() * 5 / 8;
    if (byte_len * 8).div_ceil(5) != text.len() {
        return Err(Zbase32Error::InvalidLength(text.len()));
    }
    let mut bytes = Vec::with_capacity(byte_len);
    let (mut buffer, mut bits) = (0u16, 0u32);
    for (offset, character) in text.bytes().enumerate() {
        let value = zbase32_value(character).ok_or(Zbase32Error::InvalidChar(offset))?;
        buffer = (buffer << 5) | u16::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            bytes.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    if buffer != 0 {
        return Err(Zbase32Error::NonCanonical);
    }
    Ok(bytes)
}

fn zbase32_value(character: u8) -> Option<u8> {
    ZBASE32_ALPHABET.iter().position(|&c| c == character).map(|index| index as u8)
}

/// The digest that is signed: `SHA256(SHA256("Lightning Signed Message:" || msg))`.
pub fn message_digest(msg: &[u8]) -> [u8; 32] {
    let mut engine = sha256d::Hash::engine();
    engine.input(SIGNED_MESSAGE_PREFIX);
    engine.input(msg);
    sha256d::Hash::from_engine(engine).to_byte_array()
}

/// Signs `msg` as LND's and CLN's `signmessage` do and returns the zbase32 signature.
///
/// The nonce is RFC 6979 and S is low, so the output is deterministic: the same key and
/// message always give the same string.
pub fn sign_message(secret_key: &SecretKey, msg: &[u8]) -> String {
    let digest = Message::from_digest(message_digest(msg));
    let (recovery_id, compact) = secp().sign_ecdsa_recoverable(&digest, secret_key).serialize_compact();
    let mut bytes = [0u8; 65];
    // `to_i32` is 0..=3, so the header is 31..=34.
    bytes[0] = COMPRESSED_HEADER_BASE + recovery_id.to_i32() as u8;
    bytes[1..].copy_from_slice(&compact);
    zbase32_encode(&bytes)
}

/// The public key that signed `msg`, recovered from a zbase32 `signature`.
///
/// Any well-formed signature recovers *some* key; a changed message or signature recovers a
/// different one. Callers that know whom to expect should use [`verify`].
pub fn recover_signer(msg: &[u8], signature: &str) -> Result<PublicKey, SignatureError> {
    // Check the length before decoding so that a huge hostile string costs nothing.
    if signature.len() != SIGNATURE_ZBASE32_LEN {
        if signature.len() > 2 * SIGNATURE_ZBASE32_LEN {
            return Err(SignatureError::Length(signature.len() * 5 / 8));
        }
        return Err(match zbase32_decode(signature) {
            Ok(bytes) => SignatureError::Length(bytes.len()),
            Err(error) => SignatureError::Zbase32(error),
        });
    }
    let bytes = zbase32_decode(signature)?;
    let (&header, compact) = bytes.split_first().ok_or(SignatureError::Length(0))?;
    if !(COMPRESSED_HEADER_BASE..COMPRESSED_HEADER_BASE + 4).contains(&header) {
        return Err(SignatureError::Header(header));
    }
    let recovery_id =
        RecoveryId::from_i32(i32::from(header - COMPRESSED_HEADER_BASE)).map_err(|_| SignatureError::Header(header))?;
    let recoverable = RecoverableSignature::from_compact(compact, recovery_id).map_err(|_| SignatureError::Encoding)?;
    let mut normalised = recoverable.to_standard();
    normalised.normalize_s();
    if normalised != recoverable.to_standard() {
        return Err(SignatureError::HighS);
    }
    let digest = Message::from_digest(message_digest(msg));
    secp().recover_ecdsa(&digest, &recoverable).map_err(|_| SignatureError::Unrecoverable)
}

/// Checks that `signature` over `msg` was made by `expected`.
pub fn verify(msg: &[u8], signature: &str, expected: &PublicKey) -> Result<(), SignatureError> {
    let recovered = recover_signer(msg, signature)?;
    if &recovered == expected {
        Ok(())
    } else {
        Err(SignatureError::WrongSigner { recovered })
    }
}

/// One shared context: building one costs far more than a signature.
fn secp() -> &'static Secp256k1<All> {
    static CONTEXT: OnceLock<Secp256k1<All>> = OnceLock::new();
    CONTEXT.get_or_init(Secp256k1::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_slice(&[byte; 32]).expect("valid key")
    }

    #[test]
    fn zbase32_known_answers() {
        // Test vectors from the zbase32 specification (bit lengths that are multiples of 8).
        assert_eq!(zbase32_encode(&[]), "");
        assert_eq!(zbase32_encode(&[0xf0]), "6y");
        assert_eq!(zbase32_encode(&[0xf0, 0xbf, 0xc7]), "6n9hq");
        assert_eq!(zbase32_encode(&[0xd4, 0x7a, 0x04]), "4t7ye");
        assert_eq!(zbase32_encode(b"hello"), "pb1sa5dx");
        assert_eq!(zbase32_decode("pb1sa5dx").unwrap(), b"hello");
        assert_eq!(zbase32_decode("4t7ye").unwrap(), vec![0xd4, 0x7a, 0x04]);
    }

    #[test]
    fn zbase32_refuses_hostile_text() {
        assert_eq!(zbase32_decode("6N"), Err(Zbase32Error::InvalidChar(1)));
        assert_eq!(zbase32_decode("6l"), Err(Zbase32Error::InvalidChar(1)));
        assert_eq!(zbase32_decode("yé"), Err(Zbase32Error::InvalidLength(3)));
        assert_eq!(zbase32_decode("y"), Err(Zbase32Error::InvalidLength(1)));
        assert_eq!(zbase32_decode("yyy"), Err(Zbase32Error::InvalidLength(3)));
        // "6y" is 0xf0; "6b" sets a padding bit.
        assert_eq!(zbase32_decode("6b"), Err(Zbase32Error::NonCanonical));
    }

    #[test]
    fn signatures_recover_their_signer() {
        let secret_key = key(1);
        let node_id = secret_key.public_key(secp());
        let signature = sign_message(&secret_key, b"message");
        assert_eq!(signature.len(), SIGNATURE_ZBASE32_LEN);
        assert_eq!(sign_message(&secret_key, b"message"), signature, "RFC 6979 is deterministic");
        assert_eq!(recover_signer(b"message", &signature), Ok(node_id));
        assert_eq!(verify(b"message", &signature, &node_id), Ok(()));
        let other = key(2).public_key(secp());
        assert_eq!(verify(b"message", &signature, &other), Err(SignatureError::WrongSigner { recovered: node_id }));
    }

    #[test]
    fn tampering_changes_the_signer_or_fails() {
        let secret_key = key(3);
        let node_id = secret_key.public_key(secp());
        let signature = sign_message(&secret_key, b"message");
        // A different message recovers some other key.
        assert!(matches!(verify(b"messagf", &signature, &node_id), Err(SignatureError::WrongSigner { .. })));
        // Every single-character change either fails to decode/recover or names another key.
        let alphabet: Vec<char> = ZBASE32_ALPHABET.iter().map(|&b| char::from(b)).collect();
        for position in [0, 1, 2, 40, 60, 103] {
            let mut chars: Vec<char> = signature.chars().collect();
            let current = alphabet.iter().position(|&c| c == chars[position]).unwrap();
            chars[position] = alphabet[(current + 1) % 32];
            let tampered: String = chars.into_iter().collect();
            assert!(verify(b"message", &tampered, &node_id).is_err(), "position {position}");
        }
    }

    #[test]
    fn malformed_signatures_are_errors() {
        let signature = sign_message(&key(4), b"m");
        let mut bytes = zbase32_decode(&signature).unwrap();
        for header in [0u8, 27, 30, 35, 255] {
            bytes[0] = header;
            assert_eq!(recover_signer(b"m", &zbase32_encode(&bytes)), Err(SignatureError::Header(header)));
        }
        // r = 0 parses but recovers nothing; r above the curve order does not parse.
        let mut zero_r = [0u8; 65];
        zero_r[0] = 31;
        zero_r[64] = 1;
        assert_eq!(recover_signer(b"m", &zbase32_encode(&zero_r)), Err(SignatureError::Unrecoverable));
        let mut huge_r = [0xffu8; 65];
        huge_r[0] = 32;
        assert_eq!(recover_signer(b"m", &zbase32_encode(&huge_r)), Err(SignatureError::Encoding));
        assert_eq!(recover_signer(b"m", ""), Err(SignatureError::Length(0)));
        assert_eq!(recover_signer(b"m", &zbase32_encode(&[1u8; 64])), Err(SignatureError::Length(64)));
        assert!(matches!(recover_signer(b"m", &"Y".repeat(104)), Err(SignatureError::Zbase32(_))));
        assert!(matches!(recover_signer(b"m", &"y".repeat(105)), Err(SignatureError::Zbase32(_))));
    }

    #[test]
    fn high_s_is_refused() {
        let signature = sign_message(&key(5), b"m");
        let mut bytes = zbase32_decode(&signature).unwrap();
        // s' = n - s flips the recovery parity: the same key, but non-canonical.
        const ORDER: [u8; 32] = bitcoin::secp256k1::constants::CURVE_ORDER;
        let mut borrow = 0i16;
        for index in (0..32).rev() {
            let difference = i16::from(ORDER[index]) - i16::from(bytes[33 + index]) - borrow;
            borrow = i16::from(difference < 0);
            bytes[33 + index] = difference.rem_euclid(256) as u8;
        }
        bytes[0] ^= 1;
        assert_eq!(recover_signer(b"m", &zbase32_encode(&bytes)), Err(SignatureError::HighS));
    }

    proptest! {
        #[test]
        fn zbase32_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let text = zbase32_encode(&bytes);
            prop_assert_eq!(text.len(), (bytes.len() * 8).div_ceil(5));
            prop_assert_eq!(zbase32_decode(&text).unwrap(), bytes);
        }

        #[test]
        fn zbase32_decode_never_panics(text in "\\PC{0,200}") {
            let _ = zbase32_decode(&text);
            let _ = recover_signer(b"m", &text);
        }

        #[test]
        fn zbase32_decode_never_panics_on_alphabet_soup(text in "[ybndrfg8ejkmcpqxot1uwisza345h769]{0,120}") {
            if let Ok(bytes) = zbase32_decode(&text) {
                prop_assert_eq!(zbase32_encode(&bytes), text.clone());
            }
            let _ = recover_signer(b"m", &text);
        }

        #[test]
        fn sign_then_verify(secret in any::<[u8; 32]>(), msg in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(secret_key) = SecretKey::from_slice(&secret) {
                let signature = sign_message(&secret_key, &msg);
                prop_assert_eq!(verify(&msg, &signature, &secret_key.public_key(secp())), Ok(()));
            }
        }
    }
}
