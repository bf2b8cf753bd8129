//! [`Lsps5Service`]: `lsps5.set_webhook` / `list_webhooks` / `remove_webhook` (digest §5.2),
//! each registration persisted before the answer, and [`Lsps5Service::notify`] for the other
//! flows.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use bitcoin::secp256k1::PublicKey;
use inbound_store::{Kind, Store, StoreError};
use lsps::jsonrpc::RpcError;
use lsps::lsps5::{
    validate_set_webhook, Cooldown, ListWebhooksRequest, ListWebhooksResponse, Lsps5Error, Notification,
    RemoveWebhookRequest, RemoveWebhookResponse, SetWebhookRequest, SetWebhookResponse, TimestampForm,
    DEFAULT_MAX_TRACKED_CLIENTS,
};
use lsps::method::{Protocol, Request, Response};
use lsps::schema::{DateTime, NodeId};
use thiserror::Error;
use tracing::{debug, error, info};

use super::config::{Lsps5Config, Lsps5ConfigError, NO_PRIOR_ACTIVITY_CODE};
use super::delivery::{Delivery, DeliveryStatus};
use super::hold::HoldService;
use super::ops::Lsps5Node;
use super::post::{PosterError, WebhookPoster};
use super::registry::{RegistryInput, WebhookRegistry};
use super::runner::{DeliveryDriver, RegistryDriver};
use crate::clock::Clock;
use crate::compat::Compat;
use crate::flow::{Flow, FlowError, FlowRunner, RetryPolicy};
use crate::notify::ClientNotifier;
use crate::server::{BoxFuture, ProtocolHandler};

/// How often the retention sweep runs (inactive clients' webhooks, old deliveries, empty
/// registrations).
const SWEEP_EVERY_MS: u64 = 3_600_000;
const MILLIS_PER_DAY: u64 = 86_400_000;
/// A client's last activity is written at most this often (one store write per active client
/// per day, not per sweep).
const ACTIVITY_REFRESH_MS: u64 = MILLIS_PER_DAY;
/// Pending deliveries one client may have per webhook it may register; beyond that new ones
/// are dropped, so a client that keeps changing its webhooks (each change is announced) or
/// whose webhooks hang cannot grow the queue without bound.
pub const PENDING_DELIVERIES_PER_WEBHOOK: u64 = 4;

/// Why the service could not be built.
#[derive(Debug, Error)]
pub enum Lsps5BuildError {
    /// A field out of range.
    #[error(transparent)]
    Config(#[from] Lsps5ConfigError),
    /// The HTTPS client (or its extra CA file).
    #[error(transparent)]
    Poster(#[from] PosterError),
}

/// What [`Lsps5Service::notify`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyOutcome {
    /// Deliveries to this many webhooks are persisted and will be POSTed.
    Queued(usize),
    /// The client has no webhook.
    NoWebhooks,
    /// The client is connected: it needs no wake-up.
    Connected,
    /// The same method went out within the cooldown.
    CoolingDown,
}

/// The LSPS5 service. See the module docs of [`crate::lsps5`].
pub struct Lsps5Service {
    pub(super) config: Lsps5Config,
    pub(super) store: Arc<dyn Store>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) node: RwLock<Option<Arc<dyn Lsps5Node>>>,
    pub(super) registries: FlowRunner<WebhookRegistry>,
    pub(super) deliveries: FlowRunner<Delivery>,
    pub(super) poster: WebhookPoster,
    /// How notifications write the timestamp they sign (`[lsps] compat`).
    pub(super) timestamp_form: TimestampForm,
    /// Serialises registrations in this process, so that the limit and `no_change` are judged
    /// on the state that is then written.
    registration_lock: tokio::sync::Mutex<()>,
    cooldown: Mutex<Cooldown<PublicKey>>,
    /// Clients notified while offline, whose cooldown resets when they connect (bounded like
    /// the cooldown table).
    notified: Mutex<HashSet<PublicKey>>,
    /// Wakes the ticker when deliveries were queued.
    pub(super) wake: tokio::sync::Notify,
    last_sweep_ms: Mutex<u64>,
    /// This service, for the tasks [`ClientNotifier::notify`] spawns.
    this: Weak<Lsps5Service>,
    /// Answers `inbound.hold_scid` (weak: the hold service notifies through this one).
    hold: RwLock<Option<Weak<HoldService>>>,
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn internal(error: impl std::fmt::Display) -> RpcError {
    error!(%error, "LSPS5 request failed");
    RpcError::internal_error()
}

impl Lsps5Service {
    /// A service with this configuration, store and clock, signing for spec clients.
    ///
    /// # Errors
    /// If the configuration is out of range or the extra CA file unusable.
    pub fn new(
        config: Lsps5Config,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Lsps5Service>, Lsps5BuildError> {
        Lsps5Service::with_compat(config, store, clock, Compat::Spec)
    }

    /// [`new`](Self::new), writing notification timestamps as `compat` says
    /// ([`Compat::lsps5_timestamp_form`]).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_compat(
        config: Lsps5Config,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        compat: Compat,
    ) -> Result<Arc<Lsps5Service>, Lsps5BuildError> {
        config.validate()?;
        let poster = WebhookPoster::new(&config)?;
        Ok(Arc::new_cyclic(|this| Lsps5Service {
            this: this.clone(),
            hold: RwLock::new(None),
            registries: FlowRunner::new(Arc::clone(&store), Arc::clone(&clock), RetryPolicy::default()),
            deliveries: FlowRunner::new(Arc::clone(&store), Arc::clone(&clock), config.delivery_retry())
                .with_concurrency(config.max_concurrent_deliveries),
            cooldown: Mutex::new(Cooldown::new(config.cooldown_secs(), DEFAULT_MAX_TRACKED_CLIENTS)),
            timestamp_form: compat.lsps5_timestamp_form(),
            config,
            store,
            clock,
            node: RwLock::new(None),
            poster,
            registration_lock: tokio::sync::Mutex::new(()),
            notified: Mutex::new(HashSet::new()),
            wake: tokio::sync::Notify::new(),
            last_sweep_ms: Mutex::new(0),
        }))
    }

    /// Gives the service the node: its key signs the notifications, and it knows who is
    /// connected and who has a channel. Until then nothing is POSTed (deliveries wait).
    pub fn attach(&self, node: Arc<dyn Lsps5Node>) {
        *self.node.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(node);
    }

    /// The configuration.
    pub fn config(&self) -> &Lsps5Config {
        &self.config
    }

    /// This service as the server's handler for LSPS5.
    pub fn protocol_handler(self: &Arc<Self>) -> Arc<dyn ProtocolHandler> {
        Arc::new(Arc::clone(self))
    }

    /// Lets the service answer `inbound.hold_scid` with `hold` ([`LspBuilder`](crate::LspBuilder) does it).
    pub fn set_hold(&self, hold: &Arc<HoldService>) {
        *self.hold.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Arc::downgrade(hold));
    }

    fn hold(&self) -> Option<Arc<HoldService>> {
        self.hold.read().unwrap_or_else(|poisoned| poisoned.into_inner()).as_ref().and_then(Weak::upgrade)
    }

    pub(super) fn node(&self) -> Option<Arc<dyn Lsps5Node>> {
        self.node.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// The most deliveries one client may have pending.
    pub(super) fn max_pending_deliveries(&self) -> u64 {
        u64::from(self.config.max_webhooks_per_client).saturating_mul(PENDING_DELIVERIES_PER_WEBHOOK)
    }

    pub(super) fn registry_driver(&self) -> RegistryDriver<'_> {
        RegistryDriver { service: self }
    }

    pub(super) fn delivery_driver(&self) -> DeliveryDriver<'_> {
        DeliveryDriver { service: self }
    }

    /// Answers `lsps5.set_webhook`: checks (500/501/502), the client's limit (503 with
    /// `data.max_webhooks`), persists the webhook, and queues `lsps5.webhook_registered` to
    /// that webhook alone unless the pair was already stored (`no_change`).
    pub async fn set_webhook(
        &self,
        client: PublicKey,
        request: SetWebhookRequest,
    ) -> Result<SetWebhookResponse, RpcError> {
        let valid = validate_set_webhook(&request).map_err(RpcError::from)?;
        let (app_name, url) = (valid.app_name(), valid.webhook());
        let max_webhooks = self.config.max_webhooks_per_client;
        let _registration = self.registration_lock.lock().await;
        let id = NodeId(client).to_string();
        let before = self.registries.get(&id).await.map_err(internal)?;
        if before.as_ref().is_none_or(|registry| registry.webhooks.is_empty()) {
            self.check_prior_activity(client).await?;
        }
        let no_change = before.as_ref().is_some_and(|registry| registry.holds(app_name, url));
        let driver = self.registry_driver();
        match &before {
            _ if no_change => {}
            None => {
                let (registry, effects) = WebhookRegistry::first(NodeId(client), app_name, url, self.clock.now());
                match self.registries.insert(&driver, &registry, "set_webhook", None, effects).await {
                    Ok(()) => self.registries.run(&driver, [], true).await.map_err(internal)?,
                    // Another process registered this client first: step it like any registry.
                    Err(FlowError::Store(StoreError::DuplicateId { .. })) => {
                        let input = RegistryInput::Set { app_name: app_name.into(), url: url.into(), max_webhooks };
                        self.registries.run(&driver, [(id.clone(), input)], false).await.map_err(internal)?;
                    }
                    Err(error) => return Err(internal(error)),
                }
            }
            Some(registry) => {
                if !registry.webhooks.contains_key(app_name) && registry.webhooks.len() >= max_webhooks as usize {
                    return Err(Lsps5Error::too_many_webhooks(max_webhooks).into());
                }
                let input = RegistryInput::Set { app_name: app_name.into(), url: url.into(), max_webhooks };
                self.registries.run(&driver, [(id.clone(), input)], false).await.map_err(internal)?;
            }
        }
        let after = self.registries.get(&id).await.map_err(internal)?;
        match after {
            Some(registry) if registry.holds(app_name, url) => {
                if !no_change {
                    info!(%client, app_name, "LSPS5 webhook registered");
                }
                Ok(SetWebhookResponse {
                    num_webhooks: u32::try_from(registry.webhooks.len()).unwrap_or(u32::MAX),
                    max_webhooks,
                    no_change,
                })
            }
            // Another process filled the client's last slot between our read and our step.
            Some(_) => Err(Lsps5Error::too_many_webhooks(max_webhooks).into()),
            None => Err(internal("the registration vanished")),
        }
    }

    /// Answers `lsps5.list_webhooks`: the app names (never the URLs), in byte order.
    pub async fn list_webhooks(&self, client: PublicKey) -> Result<ListWebhooksResponse, RpcError> {
        let registry = self.registries.get(&NodeId(client).to_string()).await.map_err(internal)?;
        Ok(ListWebhooksResponse {
            app_names: registry.map(|registry| registry.webhooks.into_keys().collect()).unwrap_or_default(),
            max_webhooks: self.config.max_webhooks_per_client,
        })
    }

    /// Answers `lsps5.remove_webhook`: 1010 for a name that has no webhook. Deliveries
    /// already queued for the webhook still go out.
    pub async fn remove_webhook(
        &self,
        client: PublicKey,
        request: RemoveWebhookRequest,
    ) -> Result<RemoveWebhookResponse, RpcError> {
        let _registration = self.registration_lock.lock().await;
        let id = NodeId(client).to_string();
        let registry = self.registries.get(&id).await.map_err(internal)?;
        if !registry.is_some_and(|registry| registry.webhooks.contains_key(&request.app_name)) {
            return Err(Lsps5Error::AppNameNotFound.into());
        }
        let input = RegistryInput::Remove { app_name: request.app_name.clone() };
        self.registries.run(&self.registry_driver(), [(id.clone(), input)], false).await.map_err(internal)?;
        let after = self.registries.get(&id).await.map_err(internal)?;
        if after.is_some_and(|registry| registry.webhooks.contains_key(&request.app_name)) {
            return Err(internal("the removal was not written"));
        }
        info!(%client, app_name = request.app_name, "LSPS5 webhook removed");
        Ok(RemoveWebhookResponse {})
    }

    /// `require_channel_or_flow`: a channel with the LSP, or an unfinished LSPS1 order or LSPS2
    /// session (read from the store, so no protocol module is imported).
    async fn check_prior_activity(&self, client: PublicKey) -> Result<(), RpcError> {
        if !self.config.require_channel_or_flow || self.is_active(client).await.map_err(internal)? {
            return Ok(());
        }
        Err(RpcError::new(NO_PRIOR_ACTIVITY_CODE, "no prior activity"))
    }

    /// Whether the client has a channel with the LSP or an unfinished LSPS1 order or LSPS2
    /// session (read from the store, so no protocol module is imported).
    async fn is_active(&self, client: PublicKey) -> Result<bool, StoreError> {
        if self.node().is_some_and(|node| node.has_channel_with(&client)) {
            return Ok(true);
        }
        let client_text = NodeId(client).to_string();
        for kind in [Kind::Lsps1Order, Kind::Lsps2Session] {
            if self.store.count_active_by_client(kind, &client_text).await? > 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Tells every webhook of `client` about `notification` (bLIP-55 "When to notify"), if the
    /// client has webhooks, is not connected, and was not sent the same method within the
    /// cooldown. The deliveries are persisted before this returns and POSTed by the ticker.
    ///
    /// # Errors
    /// If the store fails.
    pub async fn notify(&self, client: PublicKey, notification: Notification) -> Result<NotifyOutcome, FlowError> {
        let id = NodeId(client).to_string();
        let Some(registry) = self.registries.get(&id).await? else { return Ok(NotifyOutcome::NoWebhooks) };
        if registry.webhooks.is_empty() {
            return Ok(NotifyOutcome::NoWebhooks);
        }
        if self.node().is_some_and(|node| node.is_connected(&client)) {
            return Ok(NotifyOutcome::Connected);
        }
        if let Some(method) = notification.method() {
            if !lock(&self.cooldown).should_send(&client, method, self.clock.now()) {
                return Ok(NotifyOutcome::CoolingDown);
            }
            let mut notified = lock(&self.notified);
            if notified.len() < DEFAULT_MAX_TRACKED_CLIENTS {
                notified.insert(client);
            }
        }
        let input = RegistryInput::Notify {
            body: String::from_utf8_lossy(&notification.body_bytes()).into_owned(),
            method: notification.method_name().to_owned(),
        };
        self.registries.run(&self.registry_driver(), [(id, input)], false).await?;
        Ok(NotifyOutcome::Queued(registry.webhooks.len()))
    }

    /// The client connected: its cooldowns start afresh (the ticker also notices this by
    /// itself for clients it notified).
    pub fn client_connected(&self, client: &PublicKey) {
        lock(&self.cooldown).client_connected(client);
        lock(&self.notified).remove(client);
    }

    /// The delivery log of `client`, newest first: what was sent to which webhook, when, and
    /// how it went.
    ///
    /// # Errors
    /// If the store fails.
    pub async fn delivery_log(&self, client: &PublicKey, limit: u32) -> Result<Vec<Delivery>, FlowError> {
        let listing = self.store.list_by_client(Kind::Lsps5Delivery, &NodeId(*client).to_string(), limit).await?;
        listing.items.iter().map(FlowRunner::<Delivery>::decode).collect()
    }

    /// Deliveries still waiting for their POST (or a retry).
    ///
    /// # Errors
    /// If the store fails.
    pub async fn pending_deliveries(&self) -> Result<Vec<Delivery>, FlowError> {
        let deliveries = self.deliveries.active().await?;
        Ok(deliveries.into_iter().filter(|delivery| delivery.status == DeliveryStatus::Pending).collect())
    }

    /// Resumes after a (re)start: queued deliveries and POSTs left pending go out. Call it
    /// after [`Lsps5Service::attach`].
    ///
    /// # Errors
    /// If the store fails.
    pub async fn resume(&self) -> Result<usize, FlowError> {
        let pending = self.pending_deliveries().await?.len();
        self.tick().await?;
        info!(pending, "LSPS5 deliveries resumed");
        Ok(pending)
    }

    /// Queues what registrations asked for, POSTs due deliveries (retries included), resets
    /// the cooldown of notified clients that connected, and runs the retention sweep once an
    /// hour. The ticker calls it; tests call it directly.
    ///
    /// # Errors
    /// If the store fails.
    pub async fn tick(&self) -> Result<(), FlowError> {
        self.registries.run(&self.registry_driver(), [], true).await?;
        if self.node().is_some() {
            self.deliveries.run(&self.delivery_driver(), [], true).await?;
        }
        if let Some(node) = self.node() {
            let connected: Vec<PublicKey> =
                lock(&self.notified).iter().copied().filter(|client| node.is_connected(client)).collect();
            for client in connected {
                self.client_connected(&client);
            }
        }
        self.sweep(self.clock.now()).await
    }

    /// The retention sweep (bLIP-55 "LSP persistence"): a client seen with a channel or an
    /// unfinished flow keeps its webhooks; one without keeps them `webhook_retention_days` after
    /// its last sign of life, then they are forgotten. Finished deliveries and empty
    /// registrations are deleted after their retention. Without a node nothing expires.
    async fn sweep(&self, now: DateTime) -> Result<(), FlowError> {
        let now_ms = now.unix_millis();
        {
            let mut last = lock(&self.last_sweep_ms);
            if *last != 0 && now_ms.saturating_sub(*last) < SWEEP_EVERY_MS {
                return Ok(());
            }
            *last = now_ms;
        }
        let retention_ms = self.config.webhook_retention_days.saturating_mul(MILLIS_PER_DAY);
        if self.node().is_some() {
            let mut inputs = Vec::new();
            for registry in self.registries.active().await? {
                let last_active = registry.last_active().unix_millis();
                if self.is_active(registry.client.0).await? {
                    let seen = registry.last_activity.map_or(0, |at| at.unix_millis());
                    if now_ms.saturating_sub(seen) >= ACTIVITY_REFRESH_MS {
                        inputs.push((Flow::id(&registry), RegistryInput::ActivitySeen));
                    }
                } else if now_ms.saturating_sub(last_active) >= retention_ms {
                    info!(client = %registry.client, "LSPS5 webhooks expired after the retention");
                    inputs.push((Flow::id(&registry), RegistryInput::Expire));
                }
            }
            self.registries.run(&self.registry_driver(), inputs, false).await?;
        }
        let deliveries_before =
            now_ms.saturating_sub(self.config.delivery_retention_days.saturating_mul(MILLIS_PER_DAY));
        self.store.delete_terminal_before(Kind::Lsps5Delivery, deliveries_before).await?;
        self.store.delete_terminal_before(Kind::Lsps5Webhook, now_ms.saturating_sub(retention_ms)).await?;
        Ok(())
    }

    /// Runs [`Lsps5Service::tick`] every `period`, and at once when deliveries are queued,
    /// until the returned task is aborted.
    pub fn spawn_ticker(self: &Arc<Self>, period: Duration) -> tokio::task::JoinHandle<()> {
        let service = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                let _ = tokio::time::timeout(period, service.wake.notified()).await;
                if let Err(error) = service.tick().await {
                    tracing::warn!(%error, "LSPS5 tick failed");
                }
            }
        })
    }
}

impl ProtocolHandler for Arc<Lsps5Service> {
    fn protocol(&self) -> Protocol {
        Protocol::Lsps5
    }

    fn handle(&self, peer: PublicKey, request: Request) -> BoxFuture<'static, Result<Response, RpcError>> {
        let service = Arc::clone(self);
        Box::pin(async move {
            match request {
                Request::Lsps5SetWebhook(params) => {
                    service.set_webhook(peer, params).await.map(Response::Lsps5SetWebhook)
                }
                Request::Lsps5ListWebhooks(ListWebhooksRequest {}) => {
                    service.list_webhooks(peer).await.map(Response::Lsps5ListWebhooks)
                }
                Request::Lsps5RemoveWebhook(params) => {
                    service.remove_webhook(peer, params).await.map(Response::Lsps5RemoveWebhook)
                }
                Request::InboundHoldScid(_) => match service.hold() {
                    Some(hold) => hold.hold_scid(peer).await.map(Response::InboundHoldScid),
                    None => Err(RpcError::method_not_found()),
                },
                other => {
                    error!(method = other.method().name(), "LSPS5 handler got another protocol's request");
                    Err(RpcError::internal_error())
                }
            }
        })
    }
}

impl ClientNotifier for Lsps5Service {
    fn notify(&self, client: PublicKey, notification: Notification) -> BoxFuture<'static, Result<(), String>> {
        let service = self.this.upgrade();
        Box::pin(async move {
            let Some(service) = service else { return Ok(()) };
            let outcome = Lsps5Service::notify(&service, client, notification).await.map_err(|e| e.to_string())?;
            debug!(%client, ?outcome, "LSPS5 notify");
            Ok(())
        })
    }
}
