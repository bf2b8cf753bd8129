//! Sealing and verifying the `promise` of LSPS2 `opening_fee_params` (bLIP-52
//! §"lsps2.get_info", "promise").
//!
//! bLIP-52 leaves the scheme to the LSP: it must be verifiable by the LSP, unforgeable, and
//! commit to every other field of the entry. Clients never parse it. Two schemes are
//! implemented; a [`PromiseKey`] says which one it seals with, and verification picks the
//! scheme from the promise's form and tries the keys of that scheme.
//!
//! # Inbound's scheme, `v1`
//!
//! ```text
//! promise = "v1." || hex2(key_id) || "." || lowercase_hex(HMAC-SHA256(secret, message))
//! message = b"inbound-lsps2-promise-v1"
//!        || key_id                      u8
//!        || client node id              33 bytes, compressed
//!        || min_fee_msat                u64 big-endian
//!        || proportional                u32 big-endian
//!        || valid_until                 Unix milliseconds, u64 big-endian
//!        || min_lifetime                u32 big-endian
//!        || max_client_to_self_delay    u32 big-endian
//!        || min_payment_size_msat       u64 big-endian
//!        || max_payment_size_msat       u64 big-endian
//! ```
//!
//! 70 printable characters. The MAC covers canonical integers, never a formatted date, so a
//! client that re-formats `valid_until` cannot break it. Because the MAC covers milliseconds,
//! sealing truncates `valid_until` to whole milliseconds and verification refuses a
//! `valid_until` with sub-millisecond digits; every change to any field therefore fails.
//! The client id binds the promise to one client, so it cannot be replayed by another. The
//! key id supports rotation: the LSP seals with its newest key and verifies against every
//! key it still accepts, so a rotated-out secret keeps working for a grace window (which
//! need not exceed the longest `valid_until` it handed out).
//!
//! # lightning-liquidity's scheme
//!
//! For interoperability with LDK-issued promises (digest §4.3): lowercase hex of
//! HMAC-SHA256 over the client id, the fee fields as big-endian integers, and
//! `valid_until` formatted by chrono's `to_rfc3339()` (`…+00:00`,
//! [`DateTime::to_rfc3339_plus_offset`]). It has no key id; every key of this scheme is
//! tried.
//!
//! Both schemes compare MACs in constant time, and verification also checks
//! `valid_until > now`. Every failure is error 201 at the LSP.

use std::fmt;

use bitcoin::hashes::{cmp::fixed_time_eq, hmac, sha256, Hash, HashEngine};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::msgs::{OpeningFeeParams, Promise};
use crate::schema::{DateTime, MsatAmount, NodeId, Ppm};

/// Domain separator of Inbound's `v1` promise MAC.
const V1_DOMAIN: &[u8] = b"inbound-lsps2-promise-v1";
/// Text before the key id of a `v1` promise.
const V1_PREFIX: &str = "v1.";
/// Length of a `v1` promise: `"v1."`, two hex digits, `"."`, 64 hex digits.
const V1_LEN: usize = 3 + 2 + 1 + 64;

/// A promise scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PromiseScheme {
    /// Inbound's `v1` scheme (see the module doc). Use this for new deployments.
    InboundV1,
    /// lightning-liquidity's scheme, for LSPs that must honour promises an LDK-based LSP
    /// issued with the same secret.
    LightningLiquidity,
}

/// A secret that seals and verifies promises, with the scheme it is used for.
///
/// The secret is 32 bytes from the LSP's entropy source; it never leaves the LSP. `Debug`
/// does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct PromiseKey {
    scheme: PromiseScheme,
    key_id: u8,
    secret: [u8; 32],
}

impl PromiseKey {
    /// A key for Inbound's `v1` scheme. `key_id` names the key inside each promise, so a
    /// rotated key must get a new id.
    pub fn inbound_v1(key_id: u8, secret: [u8; 32]) -> PromiseKey {
        PromiseKey { scheme: PromiseScheme::InboundV1, key_id, secret }
    }

    /// A key for lightning-liquidity's scheme (which has no key id).
    pub fn lightning_liquidity(secret: [u8; 32]) -> PromiseKey {
        PromiseKey { scheme: PromiseScheme::LightningLiquidity, key_id: 0, secret }
    }

    /// The scheme this key seals with.
    pub fn scheme(&self) -> PromiseScheme {
        self.scheme
    }

    /// The key id written into `v1` promises (0 for lightning-liquidity keys).
    pub fn key_id(&self) -> u8 {
        self.key_id
    }
}

impl fmt::Debug for PromiseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PromiseKey")
            .field("scheme", &self.scheme)
            .field("key_id", &self.key_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// An `opening_fee_params` entry before it is sealed: every field but `promise`.
///
/// The LSP builds its menu from these (typically from config plus `now + validity`) and
/// seals each entry for the asking client with [`RawOpeningFeeParams::seal`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOpeningFeeParams {
    /// Fee floor.
    pub min_fee_msat: MsatAmount,
    /// Fee per million msat of payment size.
    pub proportional: Ppm,
    /// When this offer, and a flow that chose it, expires.
    pub valid_until: DateTime,
    /// Blocks of funding depth before the LSP may close the channel, once paid.
    pub min_lifetime: u32,
    /// Largest `to_self_delay` the client may impose on the LSP.
    pub max_client_to_self_delay: u32,
    /// Smallest payment size, inclusive.
    pub min_payment_size_msat: MsatAmount,
    /// Largest payment size, inclusive.
    pub max_payment_size_msat: MsatAmount,
}

impl RawOpeningFeeParams {
    /// Seals the entry for `client` with `key`'s scheme and secret.
    ///
    /// Call it in the `lsps2.get_info` handler, once per menu entry, with the peer's node id
    /// and the newest key. With [`PromiseScheme::InboundV1`] `valid_until` is first truncated
    /// to whole milliseconds, the precision the MAC commits to.
    pub fn seal(mut self, key: &PromiseKey, client: &NodeId) -> OpeningFeeParams {
        if key.scheme == PromiseScheme::InboundV1 {
            self.valid_until = self.valid_until.truncated_to_millis();
        }
        let promise = Promise::from_checked_text(expected_promise(&self, key, client));
        OpeningFeeParams {
            min_fee_msat: self.min_fee_msat,
            proportional: self.proportional,
            valid_until: self.valid_until,
            min_lifetime: self.min_lifetime,
            max_client_to_self_delay: self.max_client_to_self_delay,
            min_payment_size_msat: self.min_payment_size_msat,
            max_payment_size_msat: self.max_payment_size_msat,
            promise,
        }
    }
}

impl From<&OpeningFeeParams> for RawOpeningFeeParams {
    fn from(params: &OpeningFeeParams) -> RawOpeningFeeParams {
        RawOpeningFeeParams {
            min_fee_msat: params.min_fee_msat,
            proportional: params.proportional,
            valid_until: params.valid_until,
            min_lifetime: params.min_lifetime,
            max_client_to_self_delay: params.max_client_to_self_delay,
            min_payment_size_msat: params.min_payment_size_msat,
            max_payment_size_msat: params.max_payment_size_msat,
        }
    }
}

/// Why an `opening_fee_params` entry was not accepted. The LSP answers every variant with
/// 201 `invalid_opening_fee_params`; the variants exist for its logs.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum PromiseError {
    /// The promise has neither form this LSP issues, or no key of its scheme is configured.
    #[error("the promise is not in a form this LSP issues")]
    UnknownFormat,
    /// A `v1` promise names a key id this LSP no longer (or never) had.
    #[error("the promise names key id {0:#04x}, which is not configured")]
    UnknownKeyId(u8),
    /// No key reproduces the promise: a field was changed, or it was issued to another
    /// client.
    #[error("the promise does not match the opening_fee_params")]
    Mismatch,
    /// Authentic, but `valid_until` is not after `now`.
    #[error("the opening_fee_params expired at {valid_until}")]
    Expired {
        /// The entry's `valid_until`.
        valid_until: DateTime,
    },
}

/// Checks that `params` was sealed by one of `keys` for `client` and is still valid at `now`
/// (strictly before `valid_until`). Returns the scheme that matched.
///
/// The LSP calls this first in `lsps2.buy`, with the requesting peer's node id and every key
/// it still accepts (the current one and any in their grace window); an `Err` is answered
/// with 201. The MAC is checked before the expiry, so `Expired` only reports authentic
/// entries.
pub fn verify_promise(
    params: &OpeningFeeParams,
    client: &NodeId,
    keys: &[PromiseKey],
    now: DateTime,
) -> Result<PromiseScheme, PromiseError> {
    let promise = params.promise.as_str();
    let raw = RawOpeningFeeParams::from(params);
    let scheme = if promise.starts_with(V1_PREFIX) {
        let key_id = parse_v1_key_id(promise).ok_or(PromiseError::UnknownFormat)?;
        let mut candidates = keys.iter().filter(|key| key.scheme == PromiseScheme::InboundV1).peekable();
        candidates.peek().ok_or(PromiseError::UnknownFormat)?;
        let mut with_id = candidates.filter(|key| key.key_id == key_id).peekable();
        with_id.peek().ok_or(PromiseError::UnknownKeyId(key_id))?;
        // The MAC commits to whole milliseconds; finer digits would be an unsealed change.
        let whole_millis = raw.valid_until.subsec_nanos() % 1_000_000 == 0;
        if !whole_millis || !with_id.any(|key| matches(promise, &raw, key, client)) {
            return Err(PromiseError::Mismatch);
        }
        PromiseScheme::InboundV1
    } else {
        let is_hex = promise.len() == 64 && promise.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let mut candidates = keys.iter().filter(|key| key.scheme == PromiseScheme::LightningLiquidity).peekable();
        if !is_hex || candidates.peek().is_none() {
            return Err(PromiseError::UnknownFormat);
        }
        if !candidates.any(|key| matches(promise, &raw, key, client)) {
            return Err(PromiseError::Mismatch);
        }
        PromiseScheme::LightningLiquidity
    };
    if params.valid_until <= now {
        return Err(PromiseError::Expired { valid_until: params.valid_until });
    }
    Ok(scheme)
}

/// The key id of a well-formed `v1` promise.
fn parse_v1_key_id(promise: &str) -> Option<u8> {
    let lower_hex = |text: &str| text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let rest = promise.strip_prefix(V1_PREFIX)?;
    let (key_id, mac) = rest.split_once('.')?;
    if promise.len() != V1_LEN || key_id.len() != 2 || !lower_hex(key_id) || mac.len() != 64 || !lower_hex(mac) {
        return None;
    }
    u8::from_str_radix(key_id, 16).ok()
}

/// Whether `key` seals `raw` for `client` into exactly `promise`, compared in constant time.
fn matches(promise: &str, raw: &RawOpeningFeeParams, key: &PromiseKey, client: &NodeId) -> bool {
    let expected = expected_promise(raw, key, client);
    expected.len() == promise.len() && fixed_time_eq(expected.as_bytes(), promise.as_bytes())
}

/// The promise `key` produces for `raw` and `client`.
fn expected_promise(raw: &RawOpeningFeeParams, key: &PromiseKey, client: &NodeId) -> String {
    let mut engine = hmac::HmacEngine::<sha256::Hash>::new(&key.secret);
    match key.scheme {
        PromiseScheme::InboundV1 => {
            engine.input(V1_DOMAIN);
            engine.input(&[key.key_id]);
            engine.input(&client.serialize());
            engine.input(&raw.min_fee_msat.get().to_be_bytes());
            engine.input(&raw.proportional.get().to_be_bytes());
            engine.input(&raw.valid_until.unix_millis().to_be_bytes());
        }
        PromiseScheme::LightningLiquidity => {
            engine.input(&client.serialize());
            engine.input(&raw.min_fee_msat.get().to_be_bytes());
            engine.input(&raw.proportional.get().to_be_bytes());
            engine.input(raw.valid_until.to_rfc3339_plus_offset().as_bytes());
        }
    }
    engine.input(&raw.min_lifetime.to_be_bytes());
    engine.input(&raw.max_client_to_self_delay.to_be_bytes());
    engine.input(&raw.min_payment_size_msat.get().to_be_bytes());
    engine.input(&raw.max_payment_size_msat.get().to_be_bytes());
    let mac = hmac::Hmac::<sha256::Hash>::from_engine(engine).to_byte_array();
    let mac_hex = lower_hex(&mac);
    match key.scheme {
        PromiseScheme::InboundV1 => format!("{V1_PREFIX}{:02x}.{mac_hex}", key.key_id),
        PromiseScheme::LightningLiquidity => mac_hex,
    }
}

fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

#[cfg(test)]
#[path = "promise_tests.rs"]
mod tests;
