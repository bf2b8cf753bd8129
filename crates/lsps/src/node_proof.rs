//! Proof of node-id ownership for LSPS over HTTP, an **Inbound extension** (LSPS0 defines no
//! HTTP transport, so it defines no such proof either).
//!
//! Over BOLT8 the LSP knows which node is asking. Over HTTP a client names its node id in the
//! `x-inbound-node-id` envelope member; to prove that it holds that node's key it also sends two
//! HTTP headers:
//!
//! * [`SIGNATURE_HEADER`] (`x-inbound-node-sig`): an LSPS0 `ln_signature`
//!   ([`crate::signature`], zbase32, recoverable) by the node key over [`signed_message`];
//! * [`TIMESTAMP_HEADER`] (`x-inbound-node-sig-timestamp`): the signing time, Unix seconds, in
//!   decimal.
//!
//! The signed message binds the exact body bytes (hence the method, the params, the request id
//! and the claimed node id) and the time:
//!
//! ```text
//! "LSPS0 inbound-http-v1: DO NOT SIGN THIS MESSAGE MANUALLY: " || timestamp || ":" || hex(SHA256(body))
//! ```
//!
//! Headers rather than envelope members, so that the body is signed as sent, with no
//! re-serialisation. The server accepts a proof whose signer is the claimed node id and whose
//! timestamp is within [`MAX_CLOCK_SKEW_SECS`] of its clock, once (it keeps a bounded cache of
//! recent proofs, so a captured request cannot be replayed).
//!
//! The proof does not name the LSP: within the window, an LSP that received a signed request
//! could replay that same request (same body, same node id) to another LSP, whose replay cache
//! is its own. Only requests the client chose to send are exposed this way; with HTTPS nobody
//! else sees them.
//!
//! ```
//! use lsps::bitcoin::secp256k1::{Secp256k1, SecretKey};
//! use lsps::node_proof::{sign_request, verify_request};
//!
//! let key = SecretKey::from_slice(&[3u8; 32]).unwrap();
//! let node_id = key.public_key(&Secp256k1::signing_only());
//! let body = br#"{"jsonrpc":"2.0","id":"1","method":"lsps1.get_order","params":{"order_id":"x"}}"#;
//! let signature = sign_request(&key, 1_700_000_000, body);
//! assert!(verify_request(&node_id, 1_700_000_000, body, &signature, 1_700_000_100).is_ok());
//! assert!(verify_request(&node_id, 1_700_000_000, b"{}", &signature, 1_700_000_100).is_err());
//! ```

use bitcoin::hashes::{sha256, Hash};
use bitcoin::secp256k1::{PublicKey, SecretKey};

use crate::signature::{recover_signer, sign_message, SignatureError};

/// The HTTP header carrying the zbase32 signature.
pub const SIGNATURE_HEADER: &str = "x-inbound-node-sig";
/// The HTTP header carrying the signing time, Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-inbound-node-sig-timestamp";
/// The fixed start of every signed message: names the scheme and its version, and keeps a human
/// `signmessage` from ever doubling as a proof.
pub const MESSAGE_PREFIX: &str = "LSPS0 inbound-http-v1: DO NOT SIGN THIS MESSAGE MANUALLY: ";
/// How far the timestamp may be from the server's clock, either way.
pub const MAX_CLOCK_SKEW_SECS: u64 = 300;

/// Why a proof is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The signature is malformed or unrecoverable.
    #[error("bad signature: {0}")]
    Signature(#[from] SignatureError),
    /// The signature is valid but by another key than the claimed node id.
    #[error("signed by {recovered}, not by the claimed node id")]
    WrongSigner {
        /// Who signed.
        recovered: PublicKey,
    },
    /// The timestamp is more than [`MAX_CLOCK_SKEW_SECS`] away from the server's clock.
    #[error("timestamp {timestamp} is more than {MAX_CLOCK_SKEW_SECS} s away from the server's clock ({now})")]
    Stale {
        /// The claimed signing time.
        timestamp: u64,
        /// The server's time.
        now: u64,
    },
}

/// The message a client signs for a request with `body`, made at `timestamp` (Unix seconds).
pub fn signed_message(timestamp: u64, body: &[u8]) -> Vec<u8> {
    let digest = sha256::Hash::hash(body);
    format!("{MESSAGE_PREFIX}{timestamp}:{digest}").into_bytes()
}

/// The [`SIGNATURE_HEADER`] value for `body`, signed by the node key at `timestamp`.
pub fn sign_request(node_key: &SecretKey, timestamp: u64, body: &[u8]) -> String {
    sign_message(node_key, &signed_message(timestamp, body))
}

/// Checks a proof: `signature` over [`signed_message`]`(timestamp, body)` recovers `node_id`,
/// and `timestamp` is within [`MAX_CLOCK_SKEW_SECS`] of `now`. Replays are the caller's to
/// refuse (the same proof verifies every time).
pub fn verify_request(
    node_id: &PublicKey,
    timestamp: u64,
    body: &[u8],
    signature: &str,
    now: u64,
) -> Result<(), ProofError> {
    if timestamp.abs_diff(now) > MAX_CLOCK_SKEW_SECS {
        return Err(ProofError::Stale { timestamp, now });
    }
    let recovered = recover_signer(&signed_message(timestamp, body), signature)?;
    if &recovered != node_id {
        return Err(ProofError::WrongSigner { recovered });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use bitcoin::secp256k1::Secp256k1;

    use super::*;

    fn key(byte: u8) -> (SecretKey, PublicKey) {
        let secret = SecretKey::from_slice(&[byte; 32]).expect("valid key");
        (secret, secret.public_key(&Secp256k1::signing_only()))
    }

    #[test]
    fn the_message_binds_time_and_body() {
        let message = String::from_utf8(signed_message(7, b"abc")).expect("utf8");
        assert_eq!(
            message,
            format!("{MESSAGE_PREFIX}7:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
    }

    #[test]
    fn valid_wrong_signer_changed_body_and_stale_proofs() {
        let (secret, node_id) = key(1);
        let (_, other) = key(2);
        let signature = sign_request(&secret, 1000, b"body");
        assert_eq!(verify_request(&node_id, 1000, b"body", &signature, 1300), Ok(()));
        assert_eq!(verify_request(&node_id, 1000, b"body", &signature, 700), Ok(()));
        assert!(matches!(verify_request(&other, 1000, b"body", &signature, 1000), Err(ProofError::WrongSigner { .. })));
        assert!(matches!(
            verify_request(&node_id, 1000, b"bodY", &signature, 1000),
            Err(ProofError::WrongSigner { .. })
        ));
        assert!(matches!(
            verify_request(&node_id, 1001, b"body", &signature, 1000),
            Err(ProofError::WrongSigner { .. })
        ));
        assert_eq!(
            verify_request(&node_id, 1000, b"body", &signature, 1301),
            Err(ProofError::Stale { timestamp: 1000, now: 1301 })
        );
        assert!(matches!(verify_request(&node_id, 1000, b"body", "garbage", 1000), Err(ProofError::Signature(_))));
    }
}
