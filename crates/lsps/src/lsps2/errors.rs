//! LSPS2 error codes (bLIP-52 §"lsps2.get_info" and §"lsps2.buy") and their typed form.
//!
//! bLIP-52 defines its errors **without `data`**; only the shared code 1 "Client rejected"
//! carries `{"message": …}` (bLIP-50). The LSP sends [`Lsps2Error::to_rpc_error`]; the client
//! reads answers with [`Lsps2Error::from_rpc_error`].

use serde_json::Value;
use thiserror::Error;

use crate::jsonrpc::RpcError;

/// The numeric LSPS2 error codes.
pub mod codes {
    /// `lsps2.get_info`: the token is unknown or expired.
    pub const UNRECOGNIZED_OR_STALE_TOKEN: i32 = 200;
    /// `lsps2.buy`: the promise does not verify, or `valid_until` has passed.
    pub const INVALID_OPENING_FEE_PARAMS: i32 = 201;
    /// `lsps2.buy`: the opening fee is not below the payment size (or the size is below the
    /// entry's minimum, as lightning-liquidity does).
    pub const PAYMENT_SIZE_TOO_SMALL: i32 = 202;
    /// `lsps2.buy`: the fee overflows, the LSP lacks the inbound liquidity, or (as
    /// lightning-liquidity does) the size is above the entry's maximum.
    pub const PAYMENT_SIZE_TOO_LARGE: i32 = 203;
    /// LSPS0's shared "Client rejected", which `lsps2.buy` may return.
    pub const CLIENT_REJECTED: i32 = crate::jsonrpc::codes::CLIENT_REJECTED;
}

/// An LSPS2-specific error, as the LSP sends it and as the client understands it.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum Lsps2Error {
    /// 200: the `get_info` token is unknown or expired.
    #[error("unrecognized or stale token")]
    UnrecognizedOrStaleToken,
    /// 201: the `opening_fee_params` are not authentic or have expired.
    #[error("invalid opening_fee_params")]
    InvalidOpeningFeeParams,
    /// 202: the payment size cannot pay the fee (or is below the entry's minimum).
    #[error("payment size too small")]
    PaymentSizeTooSmall,
    /// 203: the payment size is too large (fee overflow, liquidity, or above the maximum).
    #[error("payment size too large")]
    PaymentSizeTooLarge,
    /// 1: the LSP will not serve this client.
    #[error("client rejected")]
    ClientRejected {
        /// The LSP's explanation, for logs.
        message: String,
    },
}

impl Lsps2Error {
    /// The JSON-RPC error code.
    pub fn code(&self) -> i32 {
        match self {
            Lsps2Error::UnrecognizedOrStaleToken => codes::UNRECOGNIZED_OR_STALE_TOKEN,
            Lsps2Error::InvalidOpeningFeeParams => codes::INVALID_OPENING_FEE_PARAMS,
            Lsps2Error::PaymentSizeTooSmall => codes::PAYMENT_SIZE_TOO_SMALL,
            Lsps2Error::PaymentSizeTooLarge => codes::PAYMENT_SIZE_TOO_LARGE,
            Lsps2Error::ClientRejected { .. } => codes::CLIENT_REJECTED,
        }
    }

    /// The error object the LSP sends: the bLIP-52 error name as `message` and no `data`,
    /// except for code 1.
    pub fn to_rpc_error(&self) -> RpcError {
        let name = match self {
            Lsps2Error::UnrecognizedOrStaleToken => "unrecognized_or_stale_token",
            Lsps2Error::InvalidOpeningFeeParams => "invalid_opening_fee_params",
            Lsps2Error::PaymentSizeTooSmall => "payment_size_too_small",
            Lsps2Error::PaymentSizeTooLarge => "payment_size_too_large",
            Lsps2Error::ClientRejected { message } => return RpcError::client_rejected(message.clone()),
        };
        RpcError::new(self.code(), name)
    }

    /// Reads an error answer to an LSPS2 call (client side). `None` for codes that are not
    /// LSPS2's. Any `data` on codes 200–203 is ignored; for code 1 the message is taken
    /// from `data.message`, a string `data` (LDK), or the top-level `message`.
    pub fn from_rpc_error(error: &RpcError) -> Option<Lsps2Error> {
        match error.code {
            codes::UNRECOGNIZED_OR_STALE_TOKEN => Some(Lsps2Error::UnrecognizedOrStaleToken),
            codes::INVALID_OPENING_FEE_PARAMS => Some(Lsps2Error::InvalidOpeningFeeParams),
            codes::PAYMENT_SIZE_TOO_SMALL => Some(Lsps2Error::PaymentSizeTooSmall),
            codes::PAYMENT_SIZE_TOO_LARGE => Some(Lsps2Error::PaymentSizeTooLarge),
            codes::CLIENT_REJECTED => {
                let message = match error.data.as_ref() {
                    Some(Value::String(text)) => text.clone(),
                    data => data
                        .and_then(|data| data.get("message"))
                        .and_then(Value::as_str)
                        .map_or_else(|| error.message.clone(), str::to_owned),
                };
                Some(Lsps2Error::ClientRejected { message })
            }
            _ => None,
        }
    }
}

impl From<Lsps2Error> for RpcError {
    fn from(error: Lsps2Error) -> RpcError {
        error.to_rpc_error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_variant_round_trips_without_data() {
        for error in [
            Lsps2Error::UnrecognizedOrStaleToken,
            Lsps2Error::InvalidOpeningFeeParams,
            Lsps2Error::PaymentSizeTooSmall,
            Lsps2Error::PaymentSizeTooLarge,
            Lsps2Error::ClientRejected { message: "Client rejected".into() },
        ] {
            let rpc = error.to_rpc_error();
            assert_eq!(rpc.code, error.code());
            assert_eq!(rpc.data.is_some(), matches!(error, Lsps2Error::ClientRejected { .. }));
            assert_eq!(Lsps2Error::from_rpc_error(&rpc), Some(error));
        }
    }

    #[test]
    fn odd_data_is_tolerated() {
        let with_data = RpcError::with_data(201, "x", json!({"anything": 1}));
        assert_eq!(Lsps2Error::from_rpc_error(&with_data), Some(Lsps2Error::InvalidOpeningFeeParams));
        let ldk = RpcError::with_data(1, "Client rejected", json!("no"));
        assert_eq!(Lsps2Error::from_rpc_error(&ldk), Some(Lsps2Error::ClientRejected { message: "no".into() }));
        let bare = RpcError::new(1, "bare");
        assert_eq!(Lsps2Error::from_rpc_error(&bare), Some(Lsps2Error::ClientRejected { message: "bare".into() }));
        assert_eq!(Lsps2Error::from_rpc_error(&RpcError::new(204, "x")), None);
        assert_eq!(Lsps2Error::from_rpc_error(&RpcError::method_not_found()), None);
    }
}
