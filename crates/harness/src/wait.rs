//! Waiting with timeouts, and the harness's error type.
//!
//! Tests never sleep to let something happen; they wait for a condition with a deadline, and
//! the error names what was awaited.

use std::future::Future;
use std::time::{Duration, Instant};

use inbound_node::NodeError;
use inbound_regtest::RegtestError;

/// Default deadline of one wait.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// How often a condition is polled.
pub const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// What went wrong in a harness helper.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A node could not be built, started or driven.
    #[error("node: {0}")]
    Node(#[from] NodeError),
    /// The bcoin regtest node failed.
    #[error("bcoin: {0}")]
    Regtest(#[from] RegtestError),
    /// A condition did not hold before its deadline.
    #[error("timed out after {timeout:?} waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// The deadline that passed.
        timeout: Duration,
    },
    /// Anything else (a failed payment, a wrong role, a temp dir that could not be made).
    #[error("{0}")]
    Failed(String),
}

/// Shorthand for `Result<T, HarnessError>`.
pub type HarnessResult<T> = Result<T, HarnessError>;

/// Polls `condition` every [`POLL_INTERVAL`] until it holds, or fails after `timeout`.
pub async fn wait_until(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) -> HarnessResult<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(HarnessError::Timeout { what: what.to_owned(), timeout });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Polls an asynchronous `probe` until it returns `Some`, or fails after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> HarnessResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            return Err(HarnessError::Timeout { what: what.to_owned(), timeout });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
