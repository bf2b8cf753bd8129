//! LSPS1 error codes (bLIP-51 §"Errors" of `lsps1.create_order` and `lsps1.get_order`) and
//! their typed form.
//!
//! The LSP builds an [`Lsps1Error`] and sends [`Lsps1Error::to_rpc_error`]; the client reads
//! an error answer with [`Lsps1Error::from_rpc_error`] and builds its own user-facing text
//! from the variant, never from the raw `message` (bLIP-50, "Error handling").
//!
//! -32602 ("Invalid params", with `data.property`) is not listed here: it comes from
//! [`RpcError::invalid_param`] and from params decoding ([`crate::params::decode_params`]).

use serde_json::{json, Value};
use thiserror::Error;

use crate::jsonrpc::RpcError;

/// The numeric LSPS1 error codes.
pub mod codes {
    /// A value lies outside the limits announced by `lsps1.get_info` (bLIP-51 §3.3).
    pub const OPTION_MISMATCH: i32 = 100;
    /// `lsps1.get_order` for an order id the LSP does not know.
    pub const NOT_FOUND: i32 = 101;
    /// The `token` of `lsps1.create_order` is unknown or expired (bLIP-51, Dec 2025).
    pub const UNRECOGNIZED_OR_STALE_TOKEN: i32 = 102;
    /// LSPS0's shared "Client rejected", which `lsps1.create_order` may return.
    pub const CLIENT_REJECTED: i32 = crate::jsonrpc::codes::CLIENT_REJECTED;

    /// Option mismatch as numbered before 2024-03-28 (lsp repo PR #88).
    pub const LEGACY_OPTION_MISMATCH: i32 = 1000;
    /// Client rejected as numbered before 2024-03-28.
    pub const LEGACY_CLIENT_REJECTED: i32 = 1001;
    /// Not found as numbered before 2024-03-28.
    pub const LEGACY_NOT_FOUND: i32 = 404;
}

/// An LSPS1-specific error, as the LSP sends it and as the client understands it.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum Lsps1Error {
    /// 100: a `create_order` value is outside what `get_info` announced.
    ///
    /// `property` names the **get_info field** that was violated (e.g.
    /// `max_initial_lsp_balance_sat`), not the request field.
    #[error("option mismatch on {property}")]
    OptionMismatch {
        /// The get_info field that was violated. Empty when an older or non-conforming LSP
        /// did not say.
        property: String,
        /// Human text for logs; never shown raw to users.
        message: String,
    },
    /// 101: `get_order` for an unknown order id. `data` is `{}`.
    #[error("order not found")]
    NotFound,
    /// 102: the `create_order` token is unknown or stale. `data` is `{}`.
    #[error("unrecognized or stale token")]
    UnrecognizedOrStaleToken,
    /// 1: the LSP will not serve this client. `data` is `{"message": …}`.
    #[error("client rejected")]
    ClientRejected {
        /// The LSP's explanation, for logs.
        message: String,
    },
}

impl Lsps1Error {
    /// The JSON-RPC error code.
    pub fn code(&self) -> i32 {
        match self {
            Lsps1Error::OptionMismatch { .. } => codes::OPTION_MISMATCH,
            Lsps1Error::NotFound => codes::NOT_FOUND,
            Lsps1Error::UnrecognizedOrStaleToken => codes::UNRECOGNIZED_OR_STALE_TOKEN,
            Lsps1Error::ClientRejected { .. } => codes::CLIENT_REJECTED,
        }
    }

    /// The error object the LSP sends, with the `message` and `data` shapes bLIP-51 and
    /// bLIP-50 define. Call this when a handler rejects `create_order` or `get_order`.
    pub fn to_rpc_error(&self) -> RpcError {
        match self {
            Lsps1Error::OptionMismatch { property, message } => RpcError::with_data(
                codes::OPTION_MISMATCH,
                "Option mismatch",
                json!({ "property": property, "message": message }),
            ),
            Lsps1Error::NotFound => RpcError::with_data(codes::NOT_FOUND, "Not found", json!({})),
            Lsps1Error::UnrecognizedOrStaleToken => {
                RpcError::with_data(codes::UNRECOGNIZED_OR_STALE_TOKEN, "Unrecognized or stale token", json!({}))
            }
            Lsps1Error::ClientRejected { message } => RpcError::client_rejected(message.clone()),
        }
    }

    /// Reads an error answer to an LSPS1 call (client side).
    ///
    /// Returns `None` for codes that are not LSPS1's (e.g. -32602 or -32603), which the
    /// caller handles generically. `data` may be missing, a string (LDK sends one), or an
    /// object without the expected keys; the missing parts become empty strings. Codes of
    /// the pre-2024-03 numbering (1000, 1001, 404) are read as their current meaning.
    pub fn from_rpc_error(error: &RpcError) -> Option<Lsps1Error> {
        match error.code {
            codes::OPTION_MISMATCH | codes::LEGACY_OPTION_MISMATCH => Some(Lsps1Error::OptionMismatch {
                property: data_text(error.data.as_ref(), "property").unwrap_or_default(),
                message: data_message(error),
            }),
            codes::NOT_FOUND | codes::LEGACY_NOT_FOUND => Some(Lsps1Error::NotFound),
            codes::UNRECOGNIZED_OR_STALE_TOKEN => Some(Lsps1Error::UnrecognizedOrStaleToken),
            codes::CLIENT_REJECTED | codes::LEGACY_CLIENT_REJECTED => {
                Some(Lsps1Error::ClientRejected { message: data_message(error) })
            }
            _ => None,
        }
    }
}

impl From<Lsps1Error> for RpcError {
    fn from(error: Lsps1Error) -> RpcError {
        error.to_rpc_error()
    }
}

/// `data.<key>` as a string, if `data` is an object holding a string there.
pub(crate) fn data_text(data: Option<&Value>, key: &str) -> Option<String> {
    data?.get(key)?.as_str().map(str::to_owned)
}

/// The most specific human text an error carries: `data.message`, a string `data` (LDK), or
/// the top-level `message`.
pub(crate) fn data_message(error: &RpcError) -> String {
    match error.data.as_ref() {
        Some(Value::String(text)) => text.clone(),
        data => data_text(data, "message").unwrap_or_else(|| error.message.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_round_trips() {
        for error in [
            Lsps1Error::OptionMismatch { property: "max_channel_balance_sat".into(), message: "too big".into() },
            Lsps1Error::NotFound,
            Lsps1Error::UnrecognizedOrStaleToken,
            Lsps1Error::ClientRejected { message: "Client rejected".into() },
        ] {
            let rpc = error.to_rpc_error();
            assert_eq!(rpc.code, error.code());
            assert_eq!(Lsps1Error::from_rpc_error(&rpc), Some(error));
        }
    }

    #[test]
    fn empty_data_objects_where_the_spec_says() {
        assert_eq!(Lsps1Error::NotFound.to_rpc_error().data, Some(json!({})));
        assert_eq!(Lsps1Error::UnrecognizedOrStaleToken.to_rpc_error().data, Some(json!({})));
    }

    #[test]
    fn odd_data_is_tolerated() {
        let ldk = RpcError::with_data(100, "Option mismatch", json!("Supported options are …"));
        assert_eq!(
            Lsps1Error::from_rpc_error(&ldk),
            Some(Lsps1Error::OptionMismatch { property: String::new(), message: "Supported options are …".into() })
        );
        let bare = RpcError::new(1, "go away");
        assert_eq!(Lsps1Error::from_rpc_error(&bare), Some(Lsps1Error::ClientRejected { message: "go away".into() }));
        let odd = RpcError::with_data(100, "x", json!({"property": 5}));
        assert!(
            matches!(Lsps1Error::from_rpc_error(&odd), Some(Lsps1Error::OptionMismatch { property, .. }) if property.is_empty())
        );
        assert_eq!(Lsps1Error::from_rpc_error(&RpcError::new(101, "x")), Some(Lsps1Error::NotFound));
        assert_eq!(Lsps1Error::from_rpc_error(&RpcError::new(404, "x")), Some(Lsps1Error::NotFound));
        assert_eq!(Lsps1Error::from_rpc_error(&RpcError::internal_error()), None);
        assert_eq!(Lsps1Error::from_rpc_error(&RpcError::invalid_param("a", "b")), None);
    }
}
