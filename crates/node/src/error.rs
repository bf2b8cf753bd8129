//! The crate's error type.
//!
//! Variants are grouped by what the caller should do about them: fix the configuration
//! ([`NodeError::Config`]), look at the disk ([`NodeError::Io`], [`NodeError::Persistence`]),
//! retry later ([`NodeError::Chain`], [`NodeError::Connection`]) or treat a rejected request as
//! final ([`NodeError::Lsps`], [`NodeError::Wallet`], [`NodeError::Ldk`]).

use std::io;

use crate::chain::ChainError;
use crate::lsps0::LspsSendError;

/// Everything that can go wrong while building, starting or driving a [`Node`](crate::Node).
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The configuration is unusable (for example an unparsable address or a missing chain source).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A file in the data directory could not be read or written.
    #[error("i/o error on {what}: {source}")]
    Io {
        /// What was being read or written.
        what: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Stored node state (channel manager, monitors, wallet, sweeper) exists but could not be decoded.
    /// The node refuses to start rather than silently starting with fresh state, which could lose funds.
    #[error("stored state is corrupt or unreadable: {0}")]
    Persistence(String),
    /// The chain source failed; usually temporary.
    #[error("chain source: {0}")]
    Chain(#[from] ChainError),
    /// A peer connection could not be established.
    #[error("connection failed: {0}")]
    Connection(String),
    /// The on-chain wallet could not do what was asked (for example insufficient funds).
    #[error("on-chain wallet: {0}")]
    Wallet(String),
    /// An LSPS0 message could not be queued.
    #[error("lsps0 transport: {0}")]
    Lsps(#[from] LspsSendError),
    /// LDK rejected an API call; the string is LDK's `APIError` rendered.
    #[error("LDK rejected the call: {0}")]
    Ldk(String),
    /// The node is not running (call [`Node::start`](crate::Node::start) first) or already running.
    #[error("node is {0}")]
    State(&'static str),
}

impl NodeError {
    /// Accepts both `std::io::Error` and LDK's `lightning::io::Error` (which is `bitcoin_io`'s).
    pub(crate) fn io(what: impl Into<String>, source: impl Into<io::Error>) -> Self {
        NodeError::Io { what: what.into(), source: source.into() }
    }
}

/// Shorthand for `Result<T, NodeError>`.
pub type NodeResult<T> = Result<T, NodeError>;
