//! Where the LSP's `lsps5.webhook_registered` POST lands: a [`WebhookReceiver`] the LSP can
//! reach, which hands the checker every notification whose signature it verified against the
//! LSP's node id. `inbound check --webhook-listen …` runs one (the reference push relay); without
//! one, the check is skipped.

use std::future::Future;
use std::pin::Pin;

use tokio::time::Instant;

/// A verified notification the receiver got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// The request's path (and query).
    pub path: String,
    /// The notification's method, e.g. `lsps5.webhook_registered`.
    pub method: String,
}

/// A future returned by [`WebhookReceiver::next_until`].
pub type ReceivedFuture<'a> = Pin<Box<dyn Future<Output = Option<Received>> + Send + 'a>>;

/// An HTTPS endpoint the LSP can POST to, which verifies each POST's LSPS5 signature.
pub trait WebhookReceiver: Send + Sync {
    /// The `https://` URL that reaches the receiver at `path` (which starts with `/`).
    fn url(&self, path: &str) -> String;

    /// The next verified notification, or `None` once `deadline` passes.
    fn next_until(&self, deadline: Instant) -> ReceivedFuture<'_>;

    /// POSTs the receiver refused (a signature, timestamp or body that does not verify).
    fn refused(&self) -> u64;
}
