//! [`WebhookRegistry`]: one client's webhooks, a flow on the kernel (`Kind::Lsps5Webhook`,
//! id = the client's node id).
//!
//! ```text
//!            Set (new name, under the cap) / Set (new URL)      Notify
//! (none) ──insert──▶ active ◀──────────────────────────────┐  ──▶ Deliver to every webhook
//!                      │ Remove (last one)                  │
//!                      ▼                                    │
//!                    empty (terminal) ──Set────────────────┘
//! ```
//!
//! Every change that adds or changes a webhook emits one [`RegistryEffect::Deliver`] of
//! `lsps5.webhook_registered` to that webhook only; [`RegistryInput::Notify`] emits one per
//! webhook. A `Deliver` effect is carried out by inserting a delivery flow whose id comes
//! from the registry's own counter, so running it twice inserts one delivery.
//!
//! An empty registry is terminal, so the store's retention sweep can delete it; a later
//! `set_webhook` brings it back.

use std::collections::BTreeMap;

use lsps::lsps5::Notification;
use lsps::schema::{DateTime, NodeId};
use serde::{Deserialize, Serialize};

use crate::flow::TransitionError;

/// One registered webhook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredWebhook {
    /// The URL exactly as the client sent it.
    pub url: String,
    /// When it was registered or last changed.
    pub registered_at: DateTime,
}

/// One client's webhooks, by app name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookRegistry {
    /// The client.
    pub client: NodeId,
    /// When the client first registered.
    pub created_at: DateTime,
    /// The webhooks, by app name.
    pub webhooks: BTreeMap<String, StoredWebhook>,
    /// The number of the next delivery this registry asks for (delivery ids derive from it).
    pub next_delivery: u64,
    /// The last time the client was seen with a channel or an unfinished LSPS1/LSPS2 flow (the
    /// retention sweep refreshes it at most daily).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity: Option<DateTime>,
}

/// What can happen to a registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryInput {
    /// `lsps5.set_webhook` passed its checks.
    Set {
        /// The app name.
        app_name: String,
        /// The URL as sent.
        url: String,
        /// The client's limit.
        max_webhooks: u32,
    },
    /// `lsps5.remove_webhook` for a registered name.
    Remove {
        /// The app name.
        app_name: String,
    },
    /// The retention sweep saw the client with a channel or an unfinished flow.
    ActivitySeen,
    /// The retention sweep found the client inactive for longer than the retention: its
    /// webhooks are forgotten.
    Expire,
    /// Something for the client happened while it is offline: tell every webhook.
    Notify {
        /// The exact POST body of the notification.
        body: String,
        /// Its method name.
        method: String,
    },
}

/// What a registry asks the world to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum RegistryEffect {
    /// Start a delivery of `body` to `url` (insert its flow).
    Deliver {
        /// The registry's delivery number (the delivery's id derives from it).
        number: u64,
        /// The app name of the webhook.
        app_name: String,
        /// The webhook.
        url: String,
        /// The notification's method name.
        method: String,
        /// The exact POST body.
        body: String,
    },
}

impl WebhookRegistry {
    /// A registry with its first webhook, and the effect announcing it.
    pub fn first(client: NodeId, app_name: &str, url: &str, now: DateTime) -> (WebhookRegistry, Vec<RegistryEffect>) {
        let empty = WebhookRegistry {
            client,
            created_at: now,
            webhooks: BTreeMap::new(),
            next_delivery: 0,
            last_activity: None,
        };
        let mut registry = empty;
        let effect = registry.put(app_name, url, now);
        (registry, vec![effect])
    }

    /// The short state name.
    pub fn state_name(&self) -> &'static str {
        if self.webhooks.is_empty() {
            "empty"
        } else {
            "active"
        }
    }

    /// Whether `app_name` is registered with exactly `url`.
    pub fn holds(&self, app_name: &str, url: &str) -> bool {
        self.webhooks.get(app_name).is_some_and(|webhook| webhook.url == url)
    }

    /// The last sign of life: a registration, or the client seen with a channel or a flow.
    pub fn last_active(&self) -> DateTime {
        let registered = self.webhooks.values().map(|webhook| webhook.registered_at);
        registered.chain(self.last_activity).chain([self.created_at]).max().unwrap_or(self.created_at)
    }

    /// Applies one input at `now`.
    pub fn step(
        &self,
        input: &RegistryInput,
        now: DateTime,
    ) -> Result<(WebhookRegistry, Vec<RegistryEffect>), TransitionError> {
        let refuse = |input: &'static str| Err(TransitionError { state: self.state_name(), input });
        let mut next = self.clone();
        match input {
            RegistryInput::Set { app_name, url, max_webhooks } => {
                if self.holds(app_name, url) {
                    return Ok((next, Vec::new()));
                }
                let is_new = !self.webhooks.contains_key(app_name);
                if is_new && self.webhooks.len() >= *max_webhooks as usize {
                    return refuse("set_webhook over the limit");
                }
                let effect = next.put(app_name, url, now);
                Ok((next, vec![effect]))
            }
            RegistryInput::Remove { app_name } => {
                if next.webhooks.remove(app_name).is_none() {
                    return refuse("remove_webhook of an unknown app name");
                }
                Ok((next, Vec::new()))
            }
            RegistryInput::ActivitySeen => {
                next.last_activity = Some(now);
                Ok((next, Vec::new()))
            }
            RegistryInput::Expire => {
                if next.webhooks.is_empty() {
                    return refuse("expire");
                }
                next.webhooks.clear();
                Ok((next, Vec::new()))
            }
            RegistryInput::Notify { body, method } => {
                let mut effects = Vec::with_capacity(self.webhooks.len());
                for (app_name, webhook) in &self.webhooks {
                    effects.push(RegistryEffect::Deliver {
                        number: next.next_delivery,
                        app_name: app_name.clone(),
                        url: webhook.url.clone(),
                        method: method.clone(),
                        body: body.clone(),
                    });
                    next.next_delivery += 1;
                }
                Ok((next, effects))
            }
        }
    }

    /// Registers (or replaces) a webhook and returns its `webhook_registered` delivery.
    fn put(&mut self, app_name: &str, url: &str, now: DateTime) -> RegistryEffect {
        self.webhooks.insert(app_name.to_owned(), StoredWebhook { url: url.to_owned(), registered_at: now });
        let notification = Notification::WebhookRegistered;
        let effect = RegistryEffect::Deliver {
            number: self.next_delivery,
            app_name: app_name.to_owned(),
            url: url.to_owned(),
            method: notification.method_name().to_owned(),
            body: String::from_utf8_lossy(&notification.body_bytes()).into_owned(),
        };
        self.next_delivery += 1;
        effect
    }
}

impl RegistryInput {
    /// A short, stable name.
    pub fn name(&self) -> &'static str {
        match self {
            RegistryInput::Set { .. } => "set_webhook",
            RegistryInput::Remove { .. } => "remove_webhook",
            RegistryInput::ActivitySeen => "activity_seen",
            RegistryInput::Expire => "expire",
            RegistryInput::Notify { .. } => "notify",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};

    fn client() -> NodeId {
        NodeId(PublicKey::from_secret_key(&Secp256k1::new(), &SecretKey::from_slice(&[7; 32]).unwrap()))
    }

    fn at(secs: u64) -> DateTime {
        DateTime::from_unix_secs(1_750_000_000 + secs).unwrap()
    }

    fn set(app_name: &str, url: &str, max_webhooks: u32) -> RegistryInput {
        RegistryInput::Set { app_name: app_name.into(), url: url.into(), max_webhooks }
    }

    #[test]
    fn set_announces_only_the_changed_webhook() {
        let (registry, effects) = WebhookRegistry::first(client(), "a", "https://a.example/", at(0));
        assert_eq!(effects.len(), 1);
        let (registry, effects) = registry.step(&set("b", "https://b.example/", 10), at(1)).unwrap();
        assert!(matches!(&effects[..], [RegistryEffect::Deliver { number: 1, app_name, url, method, .. }]
            if app_name == "b" && url == "https://b.example/" && method == "lsps5.webhook_registered"));
        let (same, effects) = registry.step(&set("b", "https://b.example/", 10), at(2)).unwrap();
        assert_eq!((same, effects), (registry.clone(), vec![]), "the same pair changes nothing");
        let (registry, effects) = registry.step(&set("b", "https://b2.example/", 2), at(3)).unwrap();
        assert_eq!(effects.len(), 1, "a new URL for a known name is announced, and does not count");
        assert!(registry.step(&set("c", "https://c.example/", 2), at(4)).is_err(), "a third name is over 2");
    }

    #[test]
    fn notify_reaches_every_webhook_and_remove_empties() {
        let (registry, _) = WebhookRegistry::first(client(), "a", "https://a.example/", at(0));
        let (registry, _) = registry.step(&set("b", "https://b.example/", 10), at(1)).unwrap();
        let notify = RegistryInput::Notify { body: "{}".into(), method: "lsps5.payment_incoming".into() };
        let (registry, effects) = registry.step(&notify, at(2)).unwrap();
        let numbers: Vec<u64> = effects.iter().map(|RegistryEffect::Deliver { number, .. }| *number).collect();
        assert_eq!(numbers, [2, 3]);
        let (registry, _) = registry.step(&RegistryInput::Remove { app_name: "a".into() }, at(3)).unwrap();
        assert!(registry.step(&RegistryInput::Remove { app_name: "a".into() }, at(4)).is_err());
        let (registry, _) = registry.step(&RegistryInput::Remove { app_name: "b".into() }, at(5)).unwrap();
        assert_eq!(registry.state_name(), "empty");
        assert_eq!(registry.step(&notify, at(6)).unwrap().1, vec![]);
    }

    #[test]
    fn activity_moves_the_last_sign_of_life_and_expiry_empties() {
        let (registry, _) = WebhookRegistry::first(client(), "a", "https://a.example/", at(10));
        assert_eq!(registry.last_active(), at(10));
        let (registry, effects) = registry.step(&RegistryInput::ActivitySeen, at(100)).unwrap();
        assert_eq!((registry.last_active(), effects), (at(100), vec![]));
        let (expired, effects) = registry.step(&RegistryInput::Expire, at(200)).unwrap();
        assert_eq!((expired.state_name(), effects), ("empty", vec![]));
        assert!(expired.step(&RegistryInput::Expire, at(300)).is_err());
    }
}
