//! # inbound-push-relay
//!
//! The other end of an LSPS5 (bLIP-55) webhook: the HTTPS server a wallet's webhook URL points
//! at. The LSP POSTs a signed notification when the wallet's node is offline and something
//! needs it (a payment, an expiring HTLC, a liquidity request); the relay checks the POST with
//! [`NotificationVerifier`] (the LSP's signature over the raw body and the verbatim timestamp,
//! freshness, replays) and hands each verified [`Wake`] to the app, which pushes it to the phone
//! through FCM or APNs. The binary `inbound-push-relay` prints the wake-ups as JSON lines; a
//! wallet developer replaces that loop with the push call.
//!
//! ```text
//! LSP ──HTTPS POST /<device>──▶ PushRelay ──NotificationVerifier──▶ Wake ──▶ mpsc ──▶ app ──▶ FCM/APNs ──▶ phone
//! ```
//!
//! Which device a POST is for is the app's business: the relay passes the request's path and
//! query on as [`Wake::target`] (register `https://relay.example.com/wake/<device token>` as the
//! webhook). It serves HTTP/1.1 over TLS (rustls), one request per connection, and answers:
//!
//! | status | when |
//! |--------|------|
//! | 200 | verified, and queued for the app (an unknown method is verified, then ignored) |
//! | 400 | headers, timestamp, signature or body wrong |
//! | 405 | not a POST |
//! | 409 | a replay of a POST accepted before |
//! | 413 | body over [`RelayLimits::max_body_bytes`] |
//! | 503 | the app's queue is full (the LSP retries later) |
//!
//! Bounded everywhere: at most [`RelayLimits::max_connections`] at once (more are closed on
//! accept), a TLS handshake and request head within [`RelayLimits::header_timeout`], the whole
//! exchange within [`RelayLimits::request_timeout`], a bounded queue to the app, and the
//! verifier's bounded replay cache.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod server;
mod tls;

use std::time::{Duration, SystemTime};

use lsps::lsps5::Notification;
use lsps::schema::DateTime;

pub use inbound_client::lsps5::{NotificationRejected, NotificationVerifier};
pub use rustls::ServerConfig as TlsConfig;
pub use server::{PushRelay, RelayError, RelayStats};
pub use tls::{load_tls, self_signed_pem, self_signed_tls, TlsError};

/// Default [`RelayLimits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// Default [`RelayLimits::max_body_bytes`]: notifications are under 200 bytes.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024;
/// Default [`RelayLimits::header_timeout`].
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`RelayLimits::request_timeout`].
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`RelayLimits::queue`].
pub const DEFAULT_QUEUE: usize = 1024;

/// What the relay allows a connection.
#[derive(Clone, Debug)]
pub struct RelayLimits {
    /// Connections served at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// The largest body read; a longer one is answered 413 without reading it all.
    pub max_body_bytes: usize,
    /// Time for the TLS handshake and the request head.
    pub header_timeout: Duration,
    /// Time for the whole connection.
    pub request_timeout: Duration,
    /// Verified wake-ups waiting for the app; when full, POSTs are answered 503.
    pub queue: usize,
}

impl Default for RelayLimits {
    fn default() -> RelayLimits {
        RelayLimits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            queue: DEFAULT_QUEUE,
        }
    }
}

/// One verified notification, for the app to push to the device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wake {
    /// The request's path and query (which device, in the app's own scheme).
    pub target: String,
    /// What the LSP says happened.
    pub notification: Notification,
    /// When the LSP signed it.
    pub sent_at: DateTime,
    /// When the relay accepted it.
    pub received_at: SystemTime,
}

impl Wake {
    /// The wake-up as one JSON object: `target`, `method`, `params`, `sent_at`, and
    /// `received_at` in milliseconds since the epoch.
    pub fn to_json(&self) -> serde_json::Value {
        let received_ms = self
            .received_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX));
        serde_json::json!({
            "target": self.target,
            "method": self.notification.method_name(),
            "params": self.notification.params(),
            "sent_at": self.sent_at.to_string(),
            "received_at_ms": received_ms,
        })
    }
}
