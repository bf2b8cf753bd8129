//! How the checker reaches an LSP: a [`Link`] sends raw type-37913 payloads (well-formed or
//! not: the checker must be able to send garbage), and the LSP's answers arrive in an
//! [`Inbox`], fed through an [`InboxSender`] by whatever receives them (the node's LSPS message
//! handler, or a test double). The inbox is bounded in messages and bytes per message, so a
//! flooding LSP costs the checker a fixed amount of memory.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use lsps::framing::MAX_PAYLOAD_BYTES;
use thiserror::Error;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Messages the inbox holds before it drops new ones.
pub const INBOX_CAPACITY: usize = 256;

/// Why a link could not do what was asked.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{0}")]
pub struct LinkError(pub String);

/// A future returned by [`Link::reconnect`].
pub type LinkFuture<'a> = Pin<Box<dyn Future<Output = Result<(), LinkError>> + Send + 'a>>;

/// A connection to the LSP under test.
pub trait Link: Send + Sync {
    /// Sends one payload as a type-37913 message.
    ///
    /// # Errors
    /// When the LSP is not connected or the payload cannot be queued.
    fn send(&self, payload: Vec<u8>) -> Result<(), LinkError>;

    /// Drops the connection and connects again: an LSP may ignore a peer that sent garbage
    /// until it reconnects (lightning-liquidity does), and the checks after a garbage check
    /// need an LSP that listens.
    fn reconnect(&self) -> LinkFuture<'_>;

    /// Whether the LSP set feature bit 729 in its `init`; `None` when the link cannot tell.
    fn advertises_lsps(&self) -> Option<bool>;
}

/// The receiving end of the LSP's answers.
pub struct Inbox {
    receiver: mpsc::Receiver<Vec<u8>>,
    counters: Arc<Counters>,
}

/// The feeding end: whoever receives the LSP's type-37913 messages pushes them here.
#[derive(Clone)]
pub struct InboxSender {
    sender: mpsc::Sender<Vec<u8>>,
    counters: Arc<Counters>,
}

#[derive(Default)]
struct Counters {
    dropped_full: AtomicUsize,
    dropped_oversized: AtomicUsize,
}

/// A new bounded inbox of [`INBOX_CAPACITY`] messages.
pub fn inbox() -> (InboxSender, Inbox) {
    let (sender, receiver) = mpsc::channel(INBOX_CAPACITY);
    let counters = Arc::new(Counters::default());
    (InboxSender { sender, counters: Arc::clone(&counters) }, Inbox { receiver, counters })
}

impl InboxSender {
    /// Queues one payload from the LSP. Never blocks: a payload over 65,533 bytes (which no
    /// BOLT8 message can carry) or one arriving while the inbox is full is dropped and counted.
    pub fn push(&self, payload: Vec<u8>) {
        if payload.len() > MAX_PAYLOAD_BYTES {
            self.counters.dropped_oversized.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.sender.try_send(payload).is_err() {
            self.counters.dropped_full.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Inbox {
    /// The next payload, or `None` once `deadline` passes (or every sender is gone).
    pub async fn next_until(&mut self, deadline: Instant) -> Option<Vec<u8>> {
        tokio::time::timeout_at(deadline, self.receiver.recv()).await.ok().flatten()
    }

    /// Drops whatever is queued (after a reconnect, answers from the old connection are stale).
    pub fn clear(&mut self) -> usize {
        let mut cleared = 0;
        while self.receiver.try_recv().is_ok() {
            cleared += 1;
        }
        cleared
    }

    /// Messages dropped because the inbox was full.
    pub fn dropped_full(&self) -> usize {
        self.counters.dropped_full.load(Ordering::Relaxed)
    }

    /// Messages dropped because they were larger than a BOLT8 message can be.
    pub fn dropped_oversized(&self) -> usize {
        self.counters.dropped_oversized.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn bounded_in_messages_and_size() {
        let (sender, mut inbox) = inbox();
        sender.push(vec![b'x'; MAX_PAYLOAD_BYTES + 1]);
        for _ in 0..INBOX_CAPACITY + 5 {
            sender.push(b"{}".to_vec());
        }
        assert_eq!(inbox.dropped_oversized(), 1);
        assert_eq!(inbox.dropped_full(), 5);
        assert_eq!(inbox.next_until(Instant::now() + Duration::from_secs(1)).await, Some(b"{}".to_vec()));
        assert_eq!(inbox.clear(), INBOX_CAPACITY - 1);
        assert_eq!(inbox.next_until(Instant::now() + Duration::from_millis(10)).await, None);
    }
}
