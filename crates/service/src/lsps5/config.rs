//! [`Lsps5Config`]: the LSPS5 service's limits and delivery settings, with their defaults.
//!
//! | field | default | meaning |
//! |---|---|---|
//! | `max_webhooks_per_client` | [`DEFAULT_MAX_WEBHOOKS_PER_CLIENT`] (10) | app names one client may register; more get 503 |
//! | `notification_cooldown_mins` | [`DEFAULT_NOTIFICATION_COOLDOWN_MINS`] (5) | one method is not sent again to an offline client within this |
//! | `webhook_retention_days` | [`DEFAULT_WEBHOOK_RETENTION_DAYS`] (7) | webhooks of a client without a channel or an open flow are kept this long after its last activity |
//! | `delivery_retention_days` | [`DEFAULT_DELIVERY_RETENTION_DAYS`] (7) | how long finished deliveries stay in the delivery log |
//! | `allow_private_destinations` | `false` | POST to loopback, private, link-local, CGNAT, multicast and ULA addresses (tests only) |
//! | `require_channel_or_flow` | `true` | only peers with a channel or an open LSPS1/LSPS2 flow may register |
//! | `connect_timeout_secs` | [`DEFAULT_CONNECT_TIMEOUT_SECS`] (5) | TCP + TLS connect to a webhook |
//! | `request_timeout_secs` | [`DEFAULT_REQUEST_TIMEOUT_SECS`] (10) | one whole POST, response included |
//! | `max_concurrent_deliveries` | [`DEFAULT_MAX_CONCURRENT_DELIVERIES`] (8) | POSTs in flight at once |
//! | `max_response_bytes` | [`DEFAULT_MAX_RESPONSE_BYTES`] (64 KiB) | response body read before the connection is dropped |
//! | `delivery_attempts` | [`DEFAULT_DELIVERY_ATTEMPTS`] (5) | failed POSTs (network error, 5xx) before a delivery is given up |
//! | `delivery_retry_base_secs` | [`DEFAULT_DELIVERY_RETRY_BASE_SECS`] (2) | first wait before a retry, doubling |
//! | `delivery_retry_max_secs` | [`DEFAULT_DELIVERY_RETRY_MAX_SECS`] (60) | longest wait between retries |
//! | `hold_secs` | [`DEFAULT_HOLD_SECS`] (60) | how long a payment to a client's hold SCID waits for the offline client before it is failed back (notify-and-wait, at most [`MAX_HOLD_SECS`]) |
//! | `extra_ca_file` | none | a PEM file of CA certificates trusted besides the webpki roots (tests) |
//!
//! # Who may register (`require_channel_or_flow`)
//!
//! Like LDK's LSPS5 service (which answers 1003 "no prior activity"), Inbound by default
//! refuses `lsps5.set_webhook` from a peer that has no channel with the LSP and no unfinished
//! LSPS1 order or LSPS2 session: any peer can connect, and a registration makes the LSP store
//! a URL and POST to it, so a stranger could otherwise fill the store and aim the LSP's POSTs
//! anywhere. The refusal uses LDK's code, [`NO_PRIOR_ACTIVITY_CODE`], for interop. A wallet
//! that registers before it buys (an Inbound wallet registers after `lsps2.buy`) needs
//! `require_channel_or_flow = false`.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::flow::RetryPolicy;

/// Default for [`Lsps5Config::max_webhooks_per_client`] (bLIP-55 suggests 10, as LDK uses).
pub const DEFAULT_MAX_WEBHOOKS_PER_CLIENT: u32 = 10;
/// Default for [`Lsps5Config::notification_cooldown_mins`] ("of the order of minutes", bLIP-55).
pub const DEFAULT_NOTIFICATION_COOLDOWN_MINS: u64 = 5;
/// Default for [`Lsps5Config::webhook_retention_days`] (bLIP-55: at least 7 days).
pub const DEFAULT_WEBHOOK_RETENTION_DAYS: u64 = 7;
/// Default for [`Lsps5Config::delivery_retention_days`].
pub const DEFAULT_DELIVERY_RETENTION_DAYS: u64 = 7;
/// Default for [`Lsps5Config::connect_timeout_secs`].
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 5;
/// Default for [`Lsps5Config::request_timeout_secs`].
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 10;
/// Default for [`Lsps5Config::max_concurrent_deliveries`].
pub const DEFAULT_MAX_CONCURRENT_DELIVERIES: usize = 8;
/// Default for [`Lsps5Config::max_response_bytes`].
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Default for [`Lsps5Config::delivery_attempts`].
pub const DEFAULT_DELIVERY_ATTEMPTS: u32 = 5;
/// Default for [`Lsps5Config::delivery_retry_base_secs`].
pub const DEFAULT_DELIVERY_RETRY_BASE_SECS: u64 = 2;
/// Default for [`Lsps5Config::delivery_retry_max_secs`].
pub const DEFAULT_DELIVERY_RETRY_MAX_SECS: u64 = 60;

/// Default for [`Lsps5Config::hold_secs`].
pub const DEFAULT_HOLD_SECS: u64 = 60;
/// The longest [`Lsps5Config::hold_secs`]: far inside any HTLC's CLTV margin.
pub const MAX_HOLD_SECS: u64 = 3600;

/// The error code LDK's LSPS5 service sends to a peer with no channel and no open flow
/// ("no prior activity"; not a bLIP-55 code). Sent when
/// [`Lsps5Config::require_channel_or_flow`] refuses a registration.
pub const NO_PRIOR_ACTIVITY_CODE: i32 = 1003;

/// The LSPS5 service's settings; see the module docs for every default. The `[lsps5]` table of
/// `inbound.toml` has the same keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Lsps5Config {
    /// App names one client may register (announced as `max_webhooks`).
    pub max_webhooks_per_client: u32,
    /// Minutes within which one notification method is not sent again to an offline client.
    pub notification_cooldown_mins: u64,
    /// Days a client with no channel and no unfinished LSPS1/LSPS2 flow keeps its webhooks after
    /// its last activity (a registration, or the sweep seeing a channel or a flow); bLIP-55
    /// asks for at least 7.
    pub webhook_retention_days: u64,
    /// Days a finished delivery stays in the delivery log.
    pub delivery_retention_days: u64,
    /// POST to non-public addresses too (tests only).
    pub allow_private_destinations: bool,
    /// Refuse registrations from peers with no channel and no unfinished LSPS1/LSPS2 flow.
    pub require_channel_or_flow: bool,
    /// Seconds to connect (TCP and TLS) to a webhook.
    pub connect_timeout_secs: u64,
    /// Seconds one POST may take, reading the response included.
    pub request_timeout_secs: u64,
    /// POSTs in flight at once.
    pub max_concurrent_deliveries: usize,
    /// Response bytes read before the connection is dropped.
    pub max_response_bytes: usize,
    /// Failed attempts (network errors, 5xx) before a delivery is given up.
    pub delivery_attempts: u32,
    /// Seconds before the first retry, doubling with each failure.
    pub delivery_retry_base_secs: u64,
    /// Longest wait between retries, in seconds.
    pub delivery_retry_max_secs: u64,
    /// Seconds a payment to a client's hold SCID waits for the offline client (notify-and-wait)
    /// before it is failed back.
    pub hold_secs: u64,
    /// A PEM file of CA certificates trusted besides the webpki roots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_ca_file: Option<PathBuf>,
}

impl Default for Lsps5Config {
    fn default() -> Self {
        Lsps5Config {
            max_webhooks_per_client: DEFAULT_MAX_WEBHOOKS_PER_CLIENT,
            notification_cooldown_mins: DEFAULT_NOTIFICATION_COOLDOWN_MINS,
            webhook_retention_days: DEFAULT_WEBHOOK_RETENTION_DAYS,
            delivery_retention_days: DEFAULT_DELIVERY_RETENTION_DAYS,
            allow_private_destinations: false,
            require_channel_or_flow: true,
            connect_timeout_secs: DEFAULT_CONNECT_TIMEOUT_SECS,
            request_timeout_secs: DEFAULT_REQUEST_TIMEOUT_SECS,
            max_concurrent_deliveries: DEFAULT_MAX_CONCURRENT_DELIVERIES,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            delivery_attempts: DEFAULT_DELIVERY_ATTEMPTS,
            delivery_retry_base_secs: DEFAULT_DELIVERY_RETRY_BASE_SECS,
            delivery_retry_max_secs: DEFAULT_DELIVERY_RETRY_MAX_SECS,
            hold_secs: DEFAULT_HOLD_SECS,
            extra_ca_file: None,
        }
    }
}

/// A configuration the LSPS5 service refuses; each names its field.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum Lsps5ConfigError {
    /// A field that must be positive is 0.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    /// `webhook_retention_days` below bLIP-55's 7 days.
    #[error("webhook_retention_days must be at least 7 (bLIP-55)")]
    RetentionTooShort,
    /// `delivery_retry_max_secs` below `delivery_retry_base_secs`.
    #[error("delivery_retry_max_secs must be at least delivery_retry_base_secs")]
    RetryMaxBelowBase,
    /// `hold_secs` above [`MAX_HOLD_SECS`].
    #[error("hold_secs must be at most 3600")]
    HoldTooLong,
}

impl Lsps5ConfigError {
    /// The field the error is about.
    pub fn key(&self) -> &'static str {
        match self {
            Lsps5ConfigError::Zero(key) => key,
            Lsps5ConfigError::RetentionTooShort => "webhook_retention_days",
            Lsps5ConfigError::RetryMaxBelowBase => "delivery_retry_max_secs",
            Lsps5ConfigError::HoldTooLong => "hold_secs",
        }
    }
}

impl Lsps5Config {
    /// Checks the fields' ranges.
    ///
    /// # Errors
    /// The first field out of range.
    pub fn validate(&self) -> Result<(), Lsps5ConfigError> {
        let positive = [
            ("max_webhooks_per_client", u64::from(self.max_webhooks_per_client)),
            ("notification_cooldown_mins", self.notification_cooldown_mins),
            ("delivery_retention_days", self.delivery_retention_days),
            ("connect_timeout_secs", self.connect_timeout_secs),
            ("request_timeout_secs", self.request_timeout_secs),
            ("max_concurrent_deliveries", self.max_concurrent_deliveries as u64),
            ("max_response_bytes", self.max_response_bytes as u64),
            ("delivery_attempts", u64::from(self.delivery_attempts)),
            ("delivery_retry_base_secs", self.delivery_retry_base_secs),
            ("hold_secs", self.hold_secs),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(Lsps5ConfigError::Zero(name));
        }
        if self.webhook_retention_days < DEFAULT_WEBHOOK_RETENTION_DAYS {
            return Err(Lsps5ConfigError::RetentionTooShort);
        }
        if self.delivery_retry_max_secs < self.delivery_retry_base_secs {
            return Err(Lsps5ConfigError::RetryMaxBelowBase);
        }
        if self.hold_secs > MAX_HOLD_SECS {
            return Err(Lsps5ConfigError::HoldTooLong);
        }
        Ok(())
    }

    /// The cooldown in seconds.
    pub fn cooldown_secs(&self) -> u64 {
        self.notification_cooldown_mins.saturating_mul(60)
    }

    /// The kernel's retry policy for deliveries.
    pub fn delivery_retry(&self) -> RetryPolicy {
        RetryPolicy {
            base_delay: Duration::from_secs(self.delivery_retry_base_secs),
            max_delay: Duration::from_secs(self.delivery_retry_max_secs),
            max_attempts: self.delivery_attempts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_named() {
        let config = Lsps5Config::default();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.max_webhooks_per_client, 10);
        assert!(!config.allow_private_destinations);
        assert_eq!(config.cooldown_secs(), 300);
        assert_eq!(config.delivery_retry().max_attempts, DEFAULT_DELIVERY_ATTEMPTS);
    }

    #[test]
    fn bad_values_name_their_field() {
        let zero = Lsps5Config { max_webhooks_per_client: 0, ..Lsps5Config::default() };
        assert_eq!(zero.validate(), Err(Lsps5ConfigError::Zero("max_webhooks_per_client")));
        let short = Lsps5Config { webhook_retention_days: 6, ..Lsps5Config::default() };
        assert_eq!(short.validate(), Err(Lsps5ConfigError::RetentionTooShort));
        let retry = Lsps5Config { delivery_retry_max_secs: 1, ..Lsps5Config::default() };
        assert_eq!(retry.validate(), Err(Lsps5ConfigError::RetryMaxBelowBase));
        let no_hold = Lsps5Config { hold_secs: 0, ..Lsps5Config::default() };
        assert_eq!(no_hold.validate(), Err(Lsps5ConfigError::Zero("hold_secs")));
        let long = Lsps5Config { hold_secs: MAX_HOLD_SECS + 1, ..Lsps5Config::default() };
        assert_eq!(long.validate(), Err(Lsps5ConfigError::HoldTooLong));
        assert_eq!(Lsps5Config::default().hold_secs, 60);
    }
}
