//! The one running ticker of a test LSP's service, replaced on every (re)start and aborted
//! when the node stops or the LSP is dropped.

use std::sync::{Mutex, MutexGuard};

use tokio::task::JoinHandle;

/// Holds at most one ticker task.
#[derive(Default)]
pub(crate) struct TickerSlot(Mutex<Option<JoinHandle<()>>>);

impl TickerSlot {
    /// Keeps `ticker`, aborting the one it replaces.
    pub(crate) fn replace(&self, ticker: JoinHandle<()>) {
        if let Some(old) = self.lock().replace(ticker) {
            old.abort();
        }
    }

    /// Aborts the ticker, if one runs.
    pub(crate) fn stop(&self) {
        if let Some(ticker) = self.lock().take() {
            ticker.abort();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<JoinHandle<()>>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for TickerSlot {
    fn drop(&mut self) {
        self.stop();
    }
}
