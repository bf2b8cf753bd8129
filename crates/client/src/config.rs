//! Configuration of the [`LspsClient`](crate::LspsClient) and its defaults.
//!
//! | field | default | meaning |
//! |---|---|---|
//! | `request_timeout` | [`DEFAULT_REQUEST_TIMEOUT_SECS`] s | how long a call waits for its answer |
//! | `max_pending_per_lsp` | [`DEFAULT_MAX_PENDING_PER_LSP`] | calls in flight to one LSP |

use std::time::Duration;

/// Default time a call waits for the LSP's answer. bLIP-50 asks clients to time out "after a few
/// minutes", treat the timeout as a temporary server failure, and forget the id (digest §2.3).
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 120;

/// Default cap on calls in flight to one LSP, which bounds the per-LSP correlation map. The
/// LSP's own default cap is 10 per peer; a few more leave room for LSPs configured higher.
pub const DEFAULT_MAX_PENDING_PER_LSP: usize = 16;

/// How the [`LspsClient`](crate::LspsClient) behaves. See the module documentation for defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// How long a call waits for its answer before failing with
    /// [`ClientError::Timeout`](crate::ClientError::Timeout).
    pub request_timeout: Duration,
    /// Calls in flight to one LSP; one more fails with
    /// [`ClientError::TooManyPending`](crate::ClientError::TooManyPending) without being sent.
    pub max_pending_per_lsp: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            request_timeout: Duration::from_secs(DEFAULT_REQUEST_TIMEOUT_SECS),
            max_pending_per_lsp: DEFAULT_MAX_PENDING_PER_LSP,
        }
    }
}
