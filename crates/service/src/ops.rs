//! The error every node-facing trait of the flows returns.

use thiserror::Error;

/// Why a Lightning operation failed.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum OpsError {
    /// The HTLC or channel is not (or no longer) known: the operation was done already, or
    /// is moot. Effects treat it as success.
    #[error("not found")]
    NotFound,
    /// Anything else, with LDK's or the wallet's explanation.
    #[error("{0}")]
    Failed(String),
}
