//! [`Delivery`]: one notification to one webhook, a flow on the kernel
//! (`Kind::Lsps5Delivery`). Its rows are the delivery log.
//!
//! ```text
//! pending ──Post: 2xx──────────────────────────▶ delivered (terminal)
//!    │ ──Post: 3xx / 4xx / forbidden address────▶ refused   (terminal)
//!    │ ──Post: network error / 5xx──▶ Retry (the kernel's backoff) … given up ──▶ failed (terminal)
//! ```
//!
//! The POST is signed when it is sent, so a delivery retried (or resumed after a restart)
//! carries a fresh timestamp.

use lsps::schema::{DateTime, NodeId};
use serde::{Deserialize, Serialize};

use crate::flow::TransitionError;

/// Where a delivery stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum DeliveryStatus {
    /// Waiting for its POST (or a retry of it).
    Pending,
    /// The webhook answered 2xx.
    Delivered {
        /// When.
        at: DateTime,
        /// The HTTP status.
        http_status: u16,
    },
    /// Not sent again: a redirect (never followed), a 4xx, or a forbidden destination.
    Refused {
        /// When.
        at: DateTime,
        /// Why.
        reason: String,
    },
    /// Network errors or 5xx until the retry policy gave up.
    Failed {
        /// When.
        at: DateTime,
    },
}

/// One notification to one webhook: an entry of the delivery log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// `<client node id>-<registry creation, Unix ms>-<registry delivery number>`.
    pub id: String,
    /// The client.
    pub client: NodeId,
    /// The webhook's app name.
    pub app_name: String,
    /// The webhook.
    pub url: String,
    /// The notification's method.
    pub method: String,
    /// The exact POST body.
    pub body: String,
    /// When it was asked for.
    pub created_at: DateTime,
    /// Where it stands.
    pub status: DeliveryStatus,
}

/// What a POST came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryInput {
    /// The webhook answered 2xx.
    Delivered {
        /// The HTTP status.
        http_status: u16,
    },
    /// Not to be sent again.
    Refused {
        /// Why.
        reason: String,
    },
    /// The retry policy gave up.
    GaveUp,
}

/// The one effect: POST the body, signed now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum DeliveryEffect {
    /// POST [`Delivery::body`] to [`Delivery::url`].
    Post,
}

impl Delivery {
    /// The delivery id for a registry's delivery number. The registry's creation time keeps
    /// the ids of a registration made after an older one was swept apart from the old ones.
    pub fn id_for(client: &NodeId, registry_created_at: DateTime, number: u64) -> String {
        format!("{client}-{}-{number}", registry_created_at.unix_millis())
    }

    /// The short state name.
    pub fn state_name(&self) -> &'static str {
        match self.status {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered { .. } => "delivered",
            DeliveryStatus::Refused { .. } => "refused",
            DeliveryStatus::Failed { .. } => "failed",
        }
    }

    /// Applies what the POST came to.
    pub fn step(
        &self,
        input: &DeliveryInput,
        now: DateTime,
    ) -> Result<(Delivery, Vec<DeliveryEffect>), TransitionError> {
        if self.status != DeliveryStatus::Pending {
            return Err(TransitionError { state: self.state_name(), input: input.name() });
        }
        let status = match input {
            DeliveryInput::Delivered { http_status } => {
                DeliveryStatus::Delivered { at: now, http_status: *http_status }
            }
            DeliveryInput::Refused { reason } => DeliveryStatus::Refused { at: now, reason: reason.clone() },
            DeliveryInput::GaveUp => DeliveryStatus::Failed { at: now },
        };
        Ok((Delivery { status, ..self.clone() }, Vec::new()))
    }
}

impl DeliveryInput {
    /// A short, stable name.
    pub fn name(&self) -> &'static str {
        match self {
            DeliveryInput::Delivered { .. } => "delivered",
            DeliveryInput::Refused { .. } => "refused",
            DeliveryInput::GaveUp => "gave_up",
        }
    }
}
