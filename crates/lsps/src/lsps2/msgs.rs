//! LSPS2 wire types (bLIP-52): `get_info`, `buy` and `opening_fee_params`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::params::Params;
use crate::schema::{serde_via_str, DateTime, MsatAmount, Ppm, Scid};

/// Longest `promise` a client accepts (bLIP-52 §"opening_fee_params").
pub const MAX_PROMISE_LEN: usize = 512;

/// `lsps2.get_info` params.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetInfoRequest {
    /// An optional token that may unlock other fees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl Params for GetInfoRequest {
    const FIELDS: &'static [&'static str] = &["token"];
}

/// `lsps2.get_info` result. An empty menu means no JIT service right now.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetInfoResponse {
    /// Fee offers, each strictly more expensive than the one before.
    pub opening_fee_params_menu: Vec<OpeningFeeParams>,
}

/// The LSP's seal over an `opening_fee_params` entry: at most 512 printable ASCII bytes that
/// need no JSON escaping. Clients never parse it; they send it back byte for byte.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Promise(String);

impl Promise {
    /// The promise text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps text this crate generated and knows to be valid (hex and `.` only, short).
    pub(super) fn from_checked_text(text: String) -> Promise {
        debug_assert!(text.parse::<Promise>().is_ok(), "generated promise {text:?} is not valid");
        Promise(text)
    }
}

/// Why a string is not a valid promise.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("promise must be at most 512 printable ASCII bytes without \" or \\")]
pub struct InvalidPromise;

impl FromStr for Promise {
    type Err = InvalidPromise;

    fn from_str(text: &str) -> Result<Self, InvalidPromise> {
        let printable = |b: u8| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\';
        if text.len() > MAX_PROMISE_LEN || !text.bytes().all(printable) {
            return Err(InvalidPromise);
        }
        Ok(Promise(text.to_owned()))
    }
}

impl fmt::Display for Promise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

serde_via_str!(Promise, "a promise string");

/// One fee offer (bLIP-52 §"opening_fee_params").
///
/// Exactly these keys: a client must abort on any other, because it might change how the
/// fee is computed — so this type refuses unknown keys even though results elsewhere
/// ignore them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpeningFeeParams {
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
    /// The LSP's seal over every field above.
    pub promise: Promise,
}

/// `lsps2.buy` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuyRequest {
    /// A menu entry, verbatim.
    pub opening_fee_params: OpeningFeeParams,
    /// Present: MPP + fixed-amount invoice. Absent: no-MPP + variable-amount invoice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_size_msat: Option<MsatAmount>,
}

impl Params for BuyRequest {
    const FIELDS: &'static [&'static str] = &["opening_fee_params", "payment_size_msat"];
}

/// `lsps2.buy` result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuyResponse {
    /// The fake SCID for the invoice's route hint.
    pub jit_channel_scid: Scid,
    /// The route hint's CLTV delta (≤ 65535, BOLT11 holds 16 bits).
    pub lsp_cltv_expiry_delta: u32,
    /// Whether the LSP withholds the funding broadcast until the client claims.
    #[serde(default)]
    pub client_trusts_lsp: bool,
}
