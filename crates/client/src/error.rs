//! [`ClientError`]: why a call to an LSP did not produce a result.

use lsps::jsonrpc::{codes, RpcError};
use lsps::lsps2::{MenuError, NoAcceptableEntry};
use lsps::method::ResultError;

/// Why [`LspsClient::call`](crate::LspsClient::call) failed.
///
/// Variants say what happened, and [`ClientError::is_temporary`] says whether trying again
/// later is reasonable.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// The LSP answered with a JSON-RPC error. Its `Display` shows only the sanitized message;
    /// never show `message` raw to a user (bLIP-50, digest §2.5): build text from the code.
    #[error("the LSP rejected the request: {0}")]
    LspRejected(RpcError),
    /// The LSP sent something that failed LSPS0's format checks on this connection, so the
    /// client stopped talking to it until it reconnects (bLIP-50, digest §2.2).
    #[error("the LSP sent a malformed message; not talking to it until it reconnects")]
    Muted,
    /// The LSP is not connected, or disconnected before answering.
    #[error("the LSP is not connected")]
    NotConnected,
    /// No answer within [`ClientConfig::request_timeout`](crate::ClientConfig::request_timeout).
    /// The id is forgotten; a late answer is ignored.
    #[error("the LSP did not answer in time")]
    Timeout,
    /// [`ClientConfig::max_pending_per_lsp`](crate::ClientConfig::max_pending_per_lsp) calls are
    /// already in flight to this LSP. Nothing was sent.
    #[error("too many requests in flight to this LSP")]
    TooManyPending,
    /// The request could not be sent (no transport attached, queue full, no entropy, …).
    #[error("could not send the request: {0}")]
    Transport(String),
    /// The answer's `result` does not have the shape the method defines.
    #[error("malformed result: {0}")]
    MalformedResult(ResultError),
    /// The answer decoded, but as something the typed helper did not ask for.
    #[error("the LSP answered with an unexpected result")]
    UnexpectedResult,
    /// The LSPS2 fee menu breaks bLIP-52's ordering rules; nothing may be bought from it.
    #[error("the LSP's fee menu is invalid: {0}")]
    InvalidMenu(MenuError),
    /// Every LSPS2 offer that would otherwise fit costs more than the user's cap.
    #[error("the cheapest JIT channel costs {lowest_fee_msat} msat, above the cap of {max_fee_msat} msat")]
    FeeAboveCap {
        /// The lowest fee (or fee floor, for variable-amount invoices) among the offers.
        lowest_fee_msat: u64,
        /// The user's cap.
        max_fee_msat: u64,
    },
    /// No LSPS2 offer fits (empty menu, amount out of range, all expiring), for a reason other
    /// than the fee cap.
    #[error("the LSP has no suitable JIT channel offer")]
    NoJitOffer(NoAcceptableEntry),
    /// The LSP answered `lsps2.buy` with `client_trusts_lsp: true` and the client's policy
    /// refuses to trust LSPs (bLIP-52 §4.9).
    #[error("the LSP wants the client to trust it with the funding broadcast, which the policy refuses")]
    ClientTrustsLspRefused,
    /// The LSP's `lsps2.buy` answer cannot be used (for example a CLTV delta above 65535).
    #[error("unusable lsps2.buy answer: {0}")]
    InvalidBuyResponse(String),
    /// The wallet could not register the payment or build or sign the invoice.
    #[error("could not make the invoice: {0}")]
    Invoice(String),
    /// The request itself is unusable (zero amount, zero expiry, description too long, …).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Too many JIT purchases are open; wait until some are paid or expire.
    #[error("too many open JIT channel purchases")]
    TooManyPurchases,
    /// The wallet's JIT purchase file could not be read or written (bLIP-52 purchases are
    /// persisted so that a restart does not forget them).
    #[error("JIT purchase store: {0}")]
    PurchaseStore(crate::lsps2::PurchaseFileError),
}

impl ClientError {
    /// Whether the same request may succeed later: timeouts, lost connections, full queues,
    /// and LSP errors -32603 or in the implementation-defined range -32000..=-32099 (which
    /// JSON-RPC clients treat as -32603; an Inbound LSP uses -32000 for "too many pending
    /// requests").
    pub fn is_temporary(&self) -> bool {
        match self {
            ClientError::LspRejected(error) => {
                error.code == codes::INTERNAL_ERROR || (-32099..=-32000).contains(&error.code)
            }
            ClientError::NotConnected | ClientError::Timeout | ClientError::TooManyPending => true,
            ClientError::Transport(_) => true,
            ClientError::TooManyPurchases => true,
            ClientError::Muted
            | ClientError::MalformedResult(_)
            | ClientError::UnexpectedResult
            | ClientError::InvalidMenu(_)
            | ClientError::FeeAboveCap { .. }
            | ClientError::NoJitOffer(_)
            | ClientError::ClientTrustsLspRefused
            | ClientError::InvalidBuyResponse(_)
            | ClientError::Invoice(_)
            | ClientError::InvalidRequest(_)
            | ClientError::PurchaseStore(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_failures() {
        assert!(ClientError::LspRejected(RpcError::new(-32000, "too many pending requests")).is_temporary());
        assert!(ClientError::LspRejected(RpcError::internal_error()).is_temporary());
        assert!(!ClientError::LspRejected(RpcError::method_not_found()).is_temporary());
        assert!(!ClientError::LspRejected(RpcError::client_rejected("no")).is_temporary());
        assert!(ClientError::Timeout.is_temporary());
        assert!(!ClientError::Muted.is_temporary());
    }

    #[test]
    fn display_never_shows_raw_lsp_text() {
        let error = ClientError::LspRejected(RpcError::new(1, "<b>\nevil\u{7}"));
        assert_eq!(error.to_string(), "the LSP rejected the request: LSPS error 1: b>evil");
    }
}
