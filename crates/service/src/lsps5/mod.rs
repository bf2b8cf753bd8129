//! LSPS5 (bLIP-55, digest §5): webhooks that wake a sleeping wallet, LSP side.
//!
//! ```text
//! lsps5.set_webhook ──validate (500/501/502), limit (503)──▶ WebhookRegistry (one per client)
//!                                                           persisted before the answer
//!        │ Deliver(webhook_registered) to that webhook only      ▲ Notify: Deliver to every webhook
//!        ▼                                                       │
//! Delivery (one per notification and webhook, the delivery log)  Lsps5Service::notify(client, …)
//!        │ Post: signed now, SSRF-guarded HTTPS POST              ◀── cooldown, client offline, has webhooks
//!        ▼
//! delivered (2xx) │ refused (3xx, 4xx, forbidden address) │ retried (network, 5xx) … failed
//! ```
//!
//! Both flows run on the kernel ([`crate::flow`]): a registration and the deliveries it asks
//! for are written in one transaction before the answer, a delivery's POST runs only after its
//! row is committed, and POSTs that fail with a network error or a 5xx are retried with the
//! kernel's backoff until `delivery_attempts`, surviving restarts. Deliveries run on their own
//! runner, so a slow webhook never delays an answer to `lsps5.*`, and that runner executes up to
//! `max_concurrent_deliveries` POSTs at once, so a slow webhook holds up one slot for at most
//! `request_timeout_secs`.
//!
//! Other services reach [`Lsps5Service::notify`] through the neutral
//! [`ClientNotifier`](crate::notify::ClientNotifier) trait, so no protocol module imports this
//! one.
//!
//! Notify-and-wait over an existing channel ([`hold`], an Inbound extension): a wallet's hold
//! SCID (`inbound.hold_scid`, answered by this service's protocol handler) routes its payments
//! through LDK's interceptor, so the LSP can hold them while it wakes the wallet.
//!
//! Retention (bLIP-55 "LSP persistence"): an hourly sweep keeps the webhooks of a client that
//! has a channel or an unfinished LSPS1/LSPS2 flow (noting the activity at most daily), and
//! forgets those of a client without either `webhook_retention_days` (at least 7) after its
//! last activity, so they last until at least 7 days after its last channel closed.

mod config;
mod delivery;
#[cfg(test)]
mod delivery_tests;
pub mod hold;
mod lightning;
mod ops;
mod post;
mod registry;
mod runner;
mod service;
#[cfg(test)]
mod service_tests;

pub use config::{
    Lsps5Config, Lsps5ConfigError, DEFAULT_CONNECT_TIMEOUT_SECS, DEFAULT_DELIVERY_ATTEMPTS,
    DEFAULT_DELIVERY_RETENTION_DAYS, DEFAULT_DELIVERY_RETRY_BASE_SECS, DEFAULT_DELIVERY_RETRY_MAX_SECS,
    DEFAULT_HOLD_SECS, DEFAULT_MAX_CONCURRENT_DELIVERIES, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_WEBHOOKS_PER_CLIENT,
    DEFAULT_NOTIFICATION_COOLDOWN_MINS, DEFAULT_REQUEST_TIMEOUT_SECS, DEFAULT_WEBHOOK_RETENTION_DAYS, MAX_HOLD_SECS,
    NO_PRIOR_ACTIVITY_CODE,
};
pub use delivery::{Delivery, DeliveryStatus};
pub use ops::Lsps5Node;
pub use post::PosterError;
pub use registry::{StoredWebhook, WebhookRegistry};
pub use service::{Lsps5BuildError, Lsps5Service, NotifyOutcome, PENDING_DELIVERIES_PER_WEBHOOK};
