//! The two LSPS5 flows on the kernel: `impl Flow` for [`WebhookRegistry`] and [`Delivery`],
//! and their drivers. A registry's `Deliver` effect inserts a delivery (idempotent: the
//! delivery id comes from the registry's counter); a delivery's `Post` effect signs the body
//! now and POSTs it through the [`WebhookPoster`](super::post::WebhookPoster).

use inbound_store::{Kind, StoreError};
use lsps::lsps5::{Notification, SignedWebhookRequest};
use lsps::schema::{DateTime, NodeId};
use tracing::{debug, info, warn};

use super::delivery::{Delivery, DeliveryEffect, DeliveryInput, DeliveryStatus};
use super::post::PostResult;
use super::registry::{RegistryEffect, RegistryInput, WebhookRegistry};
use super::service::Lsps5Service;
use crate::flow::{Flow, FlowDriver, FlowError, GiveUp, Indexed, Outcome, TransitionError};
use crate::server::BoxFuture;

impl Flow for WebhookRegistry {
    const KIND: Kind = Kind::Lsps5Webhook;
    const NOUN: &'static str = "LSPS5 webhooks";
    type Input = RegistryInput;
    type Effect = RegistryEffect;
    type Context<'a> = DateTime;

    fn id(&self) -> String {
        self.client.to_string()
    }

    fn client(&self) -> Option<NodeId> {
        Some(self.client)
    }

    fn created_at(&self) -> DateTime {
        self.created_at
    }

    fn indexed(&self, _now: DateTime) -> Indexed {
        Indexed { state: self.state_name(), terminal: self.webhooks.is_empty(), scid: None, deadline: None }
    }

    fn input_name(input: &RegistryInput) -> &'static str {
        input.name()
    }

    fn effect_name(_effect: &RegistryEffect) -> &'static str {
        "deliver"
    }

    fn step(&self, input: &RegistryInput, now: DateTime) -> Result<(Self, Vec<RegistryEffect>), TransitionError> {
        WebhookRegistry::step(self, input, now)
    }

    fn give_up(_effect: &RegistryEffect) -> GiveUp<RegistryInput> {
        GiveUp::Record
    }
}

impl Flow for Delivery {
    const KIND: Kind = Kind::Lsps5Delivery;
    const NOUN: &'static str = "LSPS5 delivery";
    type Input = DeliveryInput;
    type Effect = DeliveryEffect;
    type Context<'a> = DateTime;

    fn id(&self) -> String {
        self.id.clone()
    }

    fn client(&self) -> Option<NodeId> {
        Some(self.client)
    }

    fn created_at(&self) -> DateTime {
        self.created_at
    }

    fn indexed(&self, _now: DateTime) -> Indexed {
        Indexed {
            state: self.state_name(),
            terminal: self.status != DeliveryStatus::Pending,
            scid: None,
            deadline: None,
        }
    }

    fn input_name(input: &DeliveryInput) -> &'static str {
        input.name()
    }

    fn effect_name(_effect: &DeliveryEffect) -> &'static str {
        "post"
    }

    fn step(&self, input: &DeliveryInput, now: DateTime) -> Result<(Self, Vec<DeliveryEffect>), TransitionError> {
        Delivery::step(self, input, now)
    }

    fn give_up(_effect: &DeliveryEffect) -> GiveUp<DeliveryInput> {
        GiveUp::Feed(DeliveryInput::GaveUp)
    }
}

/// The registry's world: inserting deliveries.
pub(crate) struct RegistryDriver<'s> {
    pub(super) service: &'s Lsps5Service,
}

impl FlowDriver<WebhookRegistry> for RegistryDriver<'_> {
    fn context(&self, _registry: &WebhookRegistry, now: DateTime) -> DateTime {
        now
    }

    fn execute<'a>(
        &'a self,
        registry: &'a WebhookRegistry,
        effect: &'a RegistryEffect,
    ) -> BoxFuture<'a, Outcome<RegistryInput>> {
        Box::pin(async move {
            let RegistryEffect::Deliver { number, app_name, url, method, body } = effect;
            let delivery = Delivery {
                id: Delivery::id_for(&registry.client, registry.created_at, *number),
                client: registry.client,
                app_name: app_name.clone(),
                url: url.clone(),
                method: method.clone(),
                body: body.clone(),
                created_at: self.service.clock.now(),
                status: DeliveryStatus::Pending,
            };
            let driver = self.service.delivery_driver();
            let cap = Some(self.service.max_pending_deliveries());
            match self.service.deliveries.insert(&driver, &delivery, "requested", cap, vec![DeliveryEffect::Post]).await
            {
                Ok(()) | Err(FlowError::Store(StoreError::DuplicateId { .. })) => {
                    self.service.wake.notify_one();
                    Outcome::Done
                }
                Err(FlowError::Store(StoreError::CapReached { .. })) => {
                    warn!(client = %registry.client, method, "too many LSPS5 deliveries pending for this client; dropped");
                    Outcome::Done
                }
                Err(error) => Outcome::Retry(format!("queueing the delivery: {error}")),
            }
        })
    }
}

/// The delivery's world: the node's key and the poster.
pub(crate) struct DeliveryDriver<'s> {
    pub(super) service: &'s Lsps5Service,
}

impl FlowDriver<Delivery> for DeliveryDriver<'_> {
    fn context(&self, _delivery: &Delivery, now: DateTime) -> DateTime {
        now
    }

    fn execute<'a>(
        &'a self,
        delivery: &'a Delivery,
        _effect: &'a DeliveryEffect,
    ) -> BoxFuture<'a, Outcome<DeliveryInput>> {
        Box::pin(async move {
            if delivery.status != DeliveryStatus::Pending {
                return Outcome::Done;
            }
            let Some(node) = self.service.node() else {
                return Outcome::Retry("the node is not attached yet".into());
            };
            let notification = match Notification::from_body(delivery.body.as_bytes()) {
                Ok(notification) => notification,
                Err(error) => {
                    return Outcome::Feed(DeliveryInput::Refused { reason: format!("unreadable body: {error}") })
                }
            };
            let request = SignedWebhookRequest::new_in(
                &notification,
                self.service.clock.now(),
                self.service.timestamp_form,
                &node.node_secret_key(),
            );
            let result = self.service.poster.post(&delivery.url, &request).await;
            crate::metrics::webhook_post(match &result {
                PostResult::Answered(200..=299) => "delivered",
                PostResult::Answered(500..=599) | PostResult::Network(_) => "retry",
                PostResult::Answered(_) | PostResult::Forbidden(_) => "refused",
            });
            match result {
                PostResult::Answered(status @ 200..=299) => {
                    info!(delivery = delivery.id, method = delivery.method, status, "LSPS5 notification delivered");
                    Outcome::Feed(DeliveryInput::Delivered { http_status: status })
                }
                PostResult::Answered(status @ 500..=599) => Outcome::Retry(format!("HTTP {status}")),
                PostResult::Answered(status @ 300..=399) => {
                    debug!(delivery = delivery.id, status, "LSPS5 webhook redirected; not followed");
                    Outcome::Feed(DeliveryInput::Refused { reason: format!("HTTP {status}: redirect not followed") })
                }
                PostResult::Answered(status) => {
                    debug!(delivery = delivery.id, status, "LSPS5 webhook refused the notification");
                    Outcome::Feed(DeliveryInput::Refused { reason: format!("HTTP {status}") })
                }
                PostResult::Forbidden(reason) => {
                    warn!(delivery = delivery.id, %reason, "LSPS5 webhook destination refused");
                    Outcome::Feed(DeliveryInput::Refused { reason: format!("forbidden destination: {reason}") })
                }
                PostResult::Network(reason) => Outcome::Retry(reason),
            }
        })
    }
}
