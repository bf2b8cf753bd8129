//! The BOLT11 invoice a JIT client makes after `lsps2.buy` (bLIP-52 §"Invoice", digest §4.6).
//!
//! | field | value |
//! |---|---|
//! | `n` (payee) | the wallet's node id |
//! | `r` | exactly one route hint with one hop: LSP node id, `jit_channel_scid`, fees 0/0, `cltv_expiry_delta = lsp_cltv_expiry_delta` |
//! | `c` | the wallet's normal `min_final_cltv_expiry_delta` + 2 |
//! | `x` | shortened so that `timestamp + expiry ≤ valid_until` |
//! | amount, features | fixed mode: `payment_size_msat` and `basic_mpp`; variable mode: neither |

use std::time::Duration;

use bitcoin::hashes::{sha256, Hash};
use bitcoin::secp256k1::ecdsa::RecoverableSignature;
use bitcoin::secp256k1::{Message, PublicKey};
use lightning::routing::gossip::RoutingFees;
use lightning::routing::router::{RouteHint, RouteHintHop};
use lightning::types::payment::{PaymentHash, PaymentSecret};
use lightning_invoice::{Bolt11Invoice, Currency, InvoiceBuilder, RawBolt11Invoice};
use lsps::schema::DateTime;

use crate::error::ClientError;
use crate::wallet_node::WalletNodeError;

/// Everything that goes into a JIT invoice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JitInvoiceFields {
    /// The chain's currency.
    pub currency: Currency,
    /// The wallet's node id (`n`).
    pub payee: PublicKey,
    /// Free text shown to the payer.
    pub description: String,
    /// From `create_inbound_payment`.
    pub payment_hash: PaymentHash,
    /// From `create_inbound_payment`.
    pub payment_secret: PaymentSecret,
    /// `Some` = fixed mode (amount + `basic_mpp`); `None` = variable mode.
    pub amount_msat: Option<u64>,
    /// The invoice timestamp.
    pub timestamp: Duration,
    /// The expiry, already fitted with [`fit_expiry_secs`].
    pub expiry_secs: u32,
    /// `c`: normal + 2 ([`lsps::lsps2::min_final_cltv_expiry_delta_for_jit`]).
    pub min_final_cltv_expiry_delta: u16,
    /// The LSP's node id (route hint).
    pub lsp: PublicKey,
    /// `jit_channel_scid` (route hint).
    pub intercept_scid: u64,
    /// `lsp_cltv_expiry_delta` (route hint).
    pub lsp_cltv_expiry_delta: u16,
}

/// The invoice expiry: `wanted_secs`, shortened so that `timestamp + expiry ≤ valid_until`.
/// `None` if `valid_until` is not after `timestamp` (whole seconds; a fractional `valid_until`
/// rounds down, which only shortens the expiry).
pub fn fit_expiry_secs(wanted_secs: u32, timestamp: Duration, valid_until: DateTime) -> Option<u32> {
    let remaining = valid_until.unix_secs().checked_sub(timestamp.as_secs())?;
    let expiry = u64::from(wanted_secs).min(remaining);
    if expiry == 0 {
        return None;
    }
    u32::try_from(expiry).ok()
}

/// Builds the unsigned invoice. See the module documentation for the fields.
///
/// # Errors
/// [`ClientError::Invoice`] if lightning-invoice refuses the fields (e.g. a description over
/// 639 bytes).
pub fn build_raw_jit_invoice(fields: &JitInvoiceFields) -> Result<RawBolt11Invoice, ClientError> {
    build_raw_invoice(fields, RoutingFees { base_msat: 0, proportional_millionths: 0 })
}

/// [`build_raw_jit_invoice`] with the route hint charging `fees` (a hold SCID's hint carries
/// the LSP's forwarding fees; a JIT hint charges none, the LSP skims its fee instead).
///
/// # Errors
/// As [`build_raw_jit_invoice`].
pub fn build_raw_invoice(fields: &JitInvoiceFields, fees: RoutingFees) -> Result<RawBolt11Invoice, ClientError> {
    let hop = RouteHintHop {
        src_node_id: fields.lsp,
        short_channel_id: fields.intercept_scid,
        fees,
        cltv_expiry_delta: fields.lsp_cltv_expiry_delta,
        htlc_minimum_msat: None,
        htlc_maximum_msat: None,
    };
    let builder = InvoiceBuilder::new(fields.currency.clone())
        .description(fields.description.clone())
        .payee_pub_key(fields.payee)
        .payment_hash(sha256::Hash::from_byte_array(fields.payment_hash.0))
        .payment_secret(fields.payment_secret)
        .duration_since_epoch(fields.timestamp)
        .min_final_cltv_expiry_delta(u64::from(fields.min_final_cltv_expiry_delta))
        .expiry_time(Duration::from_secs(u64::from(fields.expiry_secs)))
        .private_route(RouteHint(vec![hop]));
    let raw = match fields.amount_msat {
        Some(amount_msat) => builder.amount_milli_satoshis(amount_msat).basic_mpp().build_raw(),
        None => builder.build_raw(),
    };
    raw.map_err(|e| ClientError::Invoice(e.to_string()))
}

/// Signs `raw` with `sign` (the node's `sign_invoice(.., Recipient::Node)`,
/// [`WalletNode::sign_invoice`](crate::WalletNode::sign_invoice)) and checks the result.
///
/// # Errors
/// [`ClientError::Invoice`] if signing fails or the signed invoice does not check out.
pub fn sign_jit_invoice(
    raw: RawBolt11Invoice,
    sign: impl FnOnce(&RawBolt11Invoice) -> Result<RecoverableSignature, WalletNodeError>,
) -> Result<Bolt11Invoice, ClientError> {
    let signature = sign(&raw).map_err(|e| ClientError::Invoice(format!("the node could not sign: {e}")))?;
    let signed = raw.sign::<_, ()>(|_: &Message| Ok(signature)).map_err(|()| ClientError::Invoice("signing".into()))?;
    Bolt11Invoice::from_signed(signed).map_err(|e| ClientError::Invoice(e.to_string()))
}
