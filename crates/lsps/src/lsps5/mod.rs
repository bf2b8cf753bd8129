//! LSPS5 (bLIP-55): webhooks that wake a sleeping wallet.
//!
//! Over the LSPS0 connection the client registers webhooks (`lsps5.set_webhook`, checked
//! with [`validate_set_webhook`]), lists and removes them. When the client is offline and
//! something needs it, the LSP POSTs a signed [`Notification`] to every webhook
//! ([`SignedWebhookRequest`]), rate-limited by [`Cooldown`] and kept away from private
//! addresses by [`is_forbidden_ip`]. The app developer's delivery service checks the POST
//! with [`verify_webhook_request`] and pushes to the device.
//!
//! ```text
//! client ──lsps5.set_webhook──▶ LSP ──validate_set_webhook──▶ store (node id, app_name) → URL
//!                                 │ client offline + payment/expiry/liquidity/onion message
//!                                 ▼
//!           Cooldown::should_send ─▶ SignedWebhookRequest ─▶ resolve, is_forbidden_ip ─▶ POST
//!                                                                                        │
//! device ◀── OS push ◀── delivery service ◀── verify_webhook_request ◀───────────────────┘
//! ```

mod cooldown;
mod errors;
mod msgs;
mod notification;
mod ssrf;
mod validate;
mod webhook;

pub use cooldown::{Cooldown, DEFAULT_COOLDOWN_SECS, DEFAULT_MAX_TRACKED_CLIENTS};
pub use errors::{codes, Lsps5Error};
pub use msgs::*;
pub use notification::{Notification, NotificationError, NotificationMethod};
pub use ssrf::is_forbidden_ip;
pub use validate::{
    app_name_len_as_sent, validate_app_name, validate_set_webhook, validate_webhook_url, ValidWebhook,
    MAX_APP_NAME_BYTES, MAX_WEBHOOK_CHARS,
};
pub use webhook::{
    signing_message, verify_webhook_request, verify_webhook_request_detailed, SignedWebhookRequest, TimestampForm,
    VerifiedWebhookRequest, WebhookVerifyError, CONTENT_TYPE_HEADER, CONTENT_TYPE_JSON, DEFAULT_MAX_SKEW_SECS,
    LEGACY_SIGNATURE_HEADER, LEGACY_TIMESTAMP_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
