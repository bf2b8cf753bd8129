//! LSP-side checks for LSPS1: a decoded `lsps1.create_order` request against the LSP's own
//! `lsps1.get_info` terms (bLIP-51 §"lsps1.create_order"), and the sanity of those terms.
//!
//! Types already refuse what JSON decoding can catch (a string where a bool belongs, a
//! non-SegWit address, an amount that is not a decimal u64). What is left is checked here, in
//! this order:
//!
//! 1. **-32602 "Invalid params"** for values no get_info field governs: `lsp_balance_sat`
//!    must be ≥ 1, `channel_expiry_blocks` ≥ 1, `token` at most [`MAX_TOKEN_LEN`] bytes, and
//!    `refund_onchain_address` on the LSP's network. `data.property` names the request field.
//! 2. **100 "Option mismatch"** for values outside the get_info limits. `data.property` names
//!    the **get_info field** that was violated, as bLIP-51 asks.
//!
//! Token lookup (102) and client rejection (1) need the LSP's state and are left to the
//! service, which runs them after [`validate_create_order`] succeeds.

use bitcoin::Network;
use thiserror::Error;

use super::errors::Lsps1Error;
use super::msgs::{CreateOrderRequest, GetInfoResponse};
use crate::jsonrpc::RpcError;
use crate::schema::SatAmount;

/// Longest `token` (in bytes) the LSP accepts. bLIP-51 sets no limit; coupons and API keys
/// are short, and a cap keeps token lookups cheap.
pub const MAX_TOKEN_LEN: usize = 256;

/// Checks a decoded `lsps1.create_order` request against the LSP's current `get_info` terms
/// and the network the LSP runs on.
///
/// Call this in the `create_order` handler, after params decoding and before looking at the
/// token or creating anything. On `Err`, send the error as it is: it is either -32602 with
/// `data.property` (the request field) and `data.unrecognized: []`, or 100 with
/// `data.property` (the get_info field).
pub fn validate_create_order(
    request: &CreateOrderRequest,
    info: &GetInfoResponse,
    network: Network,
) -> Result<(), RpcError> {
    check_values(request, network)?;
    check_limits(request, info).map_err(|error| error.to_rpc_error())
}

/// The -32602 checks: values that are wrong whatever the LSP's terms are.
fn check_values(request: &CreateOrderRequest, network: Network) -> Result<(), RpcError> {
    if request.lsp_balance_sat == SatAmount::ZERO {
        return Err(RpcError::invalid_param("lsp_balance_sat", "lsp_balance_sat must be at least 1"));
    }
    if request.channel_expiry_blocks == 0 {
        return Err(RpcError::invalid_param("channel_expiry_blocks", "channel_expiry_blocks must be at least 1"));
    }
    if let Some(token) = &request.token {
        if token.len() > MAX_TOKEN_LEN {
            return Err(RpcError::invalid_param("token", format!("token is longer than {MAX_TOKEN_LEN} bytes")));
        }
    }
    if let Some(address) = &request.refund_onchain_address {
        if !address.is_valid_for_network(network) {
            return Err(RpcError::invalid_param(
                "refund_onchain_address",
                format!("refund_onchain_address is not an address for {network}"),
            ));
        }
    }
    Ok(())
}

/// The 100 checks, one get_info field at a time.
fn check_limits(request: &CreateOrderRequest, info: &GetInfoResponse) -> Result<(), Lsps1Error> {
    let mismatch =
        |property: &str, message: String| Lsps1Error::OptionMismatch { property: property.to_owned(), message };

    if request.lsp_balance_sat < info.min_initial_lsp_balance_sat {
        let message = format!("lsp_balance_sat is below {}", info.min_initial_lsp_balance_sat);
        return Err(mismatch("min_initial_lsp_balance_sat", message));
    }
    if request.lsp_balance_sat > info.max_initial_lsp_balance_sat {
        let message = format!("lsp_balance_sat exceeds {}", info.max_initial_lsp_balance_sat);
        return Err(mismatch("max_initial_lsp_balance_sat", message));
    }
    if request.client_balance_sat < info.min_initial_client_balance_sat {
        let message = format!("client_balance_sat is below {}", info.min_initial_client_balance_sat);
        return Err(mismatch("min_initial_client_balance_sat", message));
    }
    if request.client_balance_sat > info.max_initial_client_balance_sat {
        let message = format!("client_balance_sat exceeds {}", info.max_initial_client_balance_sat);
        return Err(mismatch("max_initial_client_balance_sat", message));
    }
    if request.required_channel_confirmations < info.min_required_channel_confirmations {
        let message = format!("required_channel_confirmations is below {}", info.min_required_channel_confirmations);
        return Err(mismatch("min_required_channel_confirmations", message));
    }
    if request.funding_confirms_within_blocks < info.min_funding_confirms_within_blocks {
        let message = format!("funding_confirms_within_blocks is below {}", info.min_funding_confirms_within_blocks);
        return Err(mismatch("min_funding_confirms_within_blocks", message));
    }
    if request.channel_expiry_blocks > info.max_channel_expiry_blocks {
        let message = format!("channel_expiry_blocks exceeds {}", info.max_channel_expiry_blocks);
        return Err(mismatch("max_channel_expiry_blocks", message));
    }
    // bLIP-51 implies but never states that the channel size must fit get_info's channel
    // bounds. A sum that overflows u64 is certainly above the maximum.
    let Some(channel_sat) = request.lsp_balance_sat.checked_add(request.client_balance_sat) else {
        return Err(mismatch("max_channel_balance_sat", "channel size overflows".to_owned()));
    };
    if channel_sat < info.min_channel_balance_sat {
        let message = format!("channel size {channel_sat} is below {}", info.min_channel_balance_sat);
        return Err(mismatch("min_channel_balance_sat", message));
    }
    if channel_sat > info.max_channel_balance_sat {
        let message = format!("channel size {channel_sat} exceeds {}", info.max_channel_balance_sat);
        return Err(mismatch("max_channel_balance_sat", message));
    }
    Ok(())
}

/// Why a `get_info` result is not self-consistent (bLIP-51 §"lsps1.get_info").
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum GetInfoError {
    /// A min/max pair has min > max.
    #[error("{min} is larger than {max}")]
    MinAboveMax {
        /// The min field's name.
        min: &'static str,
        /// The max field's name.
        max: &'static str,
    },
    /// A field that must be at least 1 is 0.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
}

impl GetInfoResponse {
    /// Checks the rules bLIP-51 puts on `get_info` values: every min ≤ its max,
    /// `min_funding_confirms_within_blocks` ≥ 1 and `max_channel_expiry_blocks` ≥ 1.
    ///
    /// The LSP calls this on its own configuration at start-up; a client may call it on a
    /// result it received and treat a failure as a misbehaving LSP.
    pub fn validate(&self) -> Result<(), GetInfoError> {
        if self.min_funding_confirms_within_blocks == 0 {
            return Err(GetInfoError::Zero("min_funding_confirms_within_blocks"));
        }
        if self.max_channel_expiry_blocks == 0 {
            return Err(GetInfoError::Zero("max_channel_expiry_blocks"));
        }
        let pairs = [
            (
                self.min_initial_client_balance_sat,
                self.max_initial_client_balance_sat,
                "min_initial_client_balance_sat",
                "max_initial_client_balance_sat",
            ),
            (
                self.min_initial_lsp_balance_sat,
                self.max_initial_lsp_balance_sat,
                "min_initial_lsp_balance_sat",
                "max_initial_lsp_balance_sat",
            ),
            (
                self.min_channel_balance_sat,
                self.max_channel_balance_sat,
                "min_channel_balance_sat",
                "max_channel_balance_sat",
            ),
        ];
        for (min_value, max_value, min, max) in pairs {
            if min_value > max_value {
                return Err(GetInfoError::MinAboveMax { min, max });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::codes::INVALID_PARAMS;
    use crate::lsps1::codes::OPTION_MISMATCH;

    fn info() -> GetInfoResponse {
        GetInfoResponse {
            min_required_channel_confirmations: 1,
            min_funding_confirms_within_blocks: 6,
            supports_zero_channel_reserve: true,
            max_channel_expiry_blocks: 52_560,
            min_initial_client_balance_sat: SatAmount(0),
            max_initial_client_balance_sat: SatAmount(1_000_000),
            min_initial_lsp_balance_sat: SatAmount(100_000),
            max_initial_lsp_balance_sat: SatAmount(10_000_000),
            min_channel_balance_sat: SatAmount(150_000),
            max_channel_balance_sat: SatAmount(10_500_000),
        }
    }

    fn request() -> CreateOrderRequest {
        CreateOrderRequest {
            lsp_balance_sat: SatAmount(2_000_000),
            client_balance_sat: SatAmount(100_000),
            required_channel_confirmations: 1,
            funding_confirms_within_blocks: 6,
            channel_expiry_blocks: 13_140,
            token: None,
            refund_onchain_address: Some("bc1qgnqkxgyrwjcsc9ey68ysqntfh5tkmzse0wraan".parse().unwrap()),
            announce_channel: false,
        }
    }

    fn rejection(change: impl FnOnce(&mut CreateOrderRequest)) -> (i32, String) {
        let mut request = request();
        change(&mut request);
        let error = validate_create_order(&request, &info(), Network::Bitcoin).unwrap_err();
        (error.code, error.property().unwrap_or_default().to_owned())
    }

    #[test]
    fn a_fitting_request_passes() {
        assert_eq!(validate_create_order(&request(), &info(), Network::Bitcoin), Ok(()));
        assert_eq!(info().validate(), Ok(()));
    }

    #[test]
    fn bad_values_are_invalid_params() {
        let invalid = |property: &str| (INVALID_PARAMS, property.to_owned());
        assert_eq!(rejection(|r| r.lsp_balance_sat = SatAmount(0)), invalid("lsp_balance_sat"));
        assert_eq!(rejection(|r| r.channel_expiry_blocks = 0), invalid("channel_expiry_blocks"));
        assert_eq!(rejection(|r| r.token = Some("x".repeat(MAX_TOKEN_LEN + 1))), invalid("token"));
        let mut request = request();
        request.token = Some("x".repeat(MAX_TOKEN_LEN));
        assert!(validate_create_order(&request, &info(), Network::Bitcoin).is_ok());
        let error = validate_create_order(&request, &info(), Network::Regtest).unwrap_err();
        assert_eq!(error.property(), Some("refund_onchain_address"));
        assert_eq!(error.unrecognized(), Some(vec![]));
    }

    #[test]
    fn out_of_range_values_name_the_get_info_field() {
        let mismatch = |property: &str| (OPTION_MISMATCH, property.to_owned());
        assert_eq!(rejection(|r| r.lsp_balance_sat = SatAmount(99_999)), mismatch("min_initial_lsp_balance_sat"));
        assert_eq!(rejection(|r| r.lsp_balance_sat = SatAmount(10_000_001)), mismatch("max_initial_lsp_balance_sat"));
        assert_eq!(
            rejection(|r| r.client_balance_sat = SatAmount(1_000_001)),
            mismatch("max_initial_client_balance_sat")
        );
        assert_eq!(rejection(|r| r.required_channel_confirmations = 0), mismatch("min_required_channel_confirmations"));
        assert_eq!(rejection(|r| r.funding_confirms_within_blocks = 5), mismatch("min_funding_confirms_within_blocks"));
        assert_eq!(rejection(|r| r.channel_expiry_blocks = 52_561), mismatch("max_channel_expiry_blocks"));
        assert_eq!(
            rejection(|r| {
                r.lsp_balance_sat = SatAmount(100_000);
                r.client_balance_sat = SatAmount(0);
            }),
            mismatch("min_channel_balance_sat")
        );
        assert_eq!(
            rejection(|r| {
                r.lsp_balance_sat = SatAmount(10_000_000);
                r.client_balance_sat = SatAmount(600_000);
            }),
            mismatch("max_channel_balance_sat")
        );
    }

    #[test]
    fn minimum_client_balance_and_sum_overflow() {
        let mut terms = info();
        terms.min_initial_client_balance_sat = SatAmount(1);
        let mut request = request();
        request.client_balance_sat = SatAmount(0);
        let error = validate_create_order(&request, &terms, Network::Bitcoin).unwrap_err();
        assert_eq!(error.property(), Some("min_initial_client_balance_sat"));

        let mut terms = info();
        terms.max_initial_lsp_balance_sat = SatAmount(u64::MAX);
        terms.max_initial_client_balance_sat = SatAmount(u64::MAX);
        let mut request = self::request();
        request.lsp_balance_sat = SatAmount(u64::MAX);
        request.client_balance_sat = SatAmount(1);
        let error = validate_create_order(&request, &terms, Network::Bitcoin).unwrap_err();
        assert_eq!((error.code, error.property()), (OPTION_MISMATCH, Some("max_channel_balance_sat")));
    }

    #[test]
    fn inconsistent_terms_are_refused() {
        let mut terms = info();
        terms.min_funding_confirms_within_blocks = 0;
        assert_eq!(terms.validate(), Err(GetInfoError::Zero("min_funding_confirms_within_blocks")));
        let mut terms = info();
        terms.max_channel_expiry_blocks = 0;
        assert_eq!(terms.validate(), Err(GetInfoError::Zero("max_channel_expiry_blocks")));
        let mut terms = info();
        terms.min_initial_client_balance_sat = SatAmount(2_000_000);
        assert!(matches!(
            terms.validate(),
            Err(GetInfoError::MinAboveMax { min: "min_initial_client_balance_sat", .. })
        ));
        let mut terms = info();
        terms.min_initial_lsp_balance_sat = SatAmount(20_000_000);
        assert!(matches!(terms.validate(), Err(GetInfoError::MinAboveMax { max: "max_initial_lsp_balance_sat", .. })));
        let mut terms = info();
        terms.min_channel_balance_sat = SatAmount(20_000_000);
        assert!(matches!(terms.validate(), Err(GetInfoError::MinAboveMax { min: "min_channel_balance_sat", .. })));
    }
}
