//! [`ClientNotifier`]: how a flow asks for a client to be woken, without knowing who does it.
//!
//! The LSPS2 runner's `NotifyClient` effect calls it; [`LspBuilder`](crate::LspBuilder) hands
//! it the LSPS5 service when LSPS5 is enabled. It lives here, in no protocol module, so that
//! no protocol module of the service imports another.

use bitcoin::secp256k1::PublicKey;
use lsps::lsps5::Notification;

use crate::server::BoxFuture;

/// Wakes an offline client (LSPS5 webhooks). A client without webhooks, a connected client or
/// one inside the cooldown is not notified.
pub trait ClientNotifier: Send + Sync {
    /// Asks for `notification` to reach `client`'s webhooks. Resolves once what will be sent
    /// is persisted (the POSTs follow in the background), or nothing needs sending; `Err` when
    /// the store failed, so that the caller's effect is retried.
    fn notify(&self, client: PublicKey, notification: Notification) -> BoxFuture<'static, Result<(), String>>;
}
