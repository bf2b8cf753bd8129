//! [`HoldService`]: hold SCIDs (`inbound.hold_scid`) and the [`HeldPayment`] flows on the
//! kernel. Node events ([`HoldService::on_intercepted`]) and the ticker
//! ([`HoldService::tick`]: deadlines, and clients whose channel became usable) are its inputs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bitcoin::secp256k1::PublicKey;
use inbound_store::{Kind, NewRecord, Store, StoreError};
use lsps::hold::{HoldScidResponse, NO_CHANNEL_CODE};
use lsps::jsonrpc::RpcError;
use lsps::lsps5::Notification;
use lsps::schema::{DateTime, NodeId, Scid};
use serde_json::json;
use tracing::{error, info, warn};

use super::ops::{ChannelChoice, ForwardingTerms, HoldNode};
use super::payment::{HeldPayment, HoldContext, HoldEffect, HoldInput, HoldState};
use crate::clock::Clock;
use crate::flow::{Flow, FlowDriver, FlowError, FlowRunner, GiveUp, Indexed, Outcome, RetryPolicy, TransitionError};
use crate::intercept::{ignore_not_found, HeldHtlc};
use crate::notify::ClientNotifier;
use crate::server::BoxFuture;
use crate::OpsError;

/// Unfinished held HTLCs one client may have; one more is failed back at once.
pub const MAX_HELD_HTLCS_PER_CLIENT: u64 = 32;
/// Unfinished held HTLCs in total; one more for an offline client is failed back at once.
pub const MAX_HELD_HTLCS: usize = 1024;
/// The route-hint terms answered when the client's channel has no config yet (LDK's defaults).
const DEFAULT_TERMS: ForwardingTerms =
    ForwardingTerms { fee_base_msat: 1000, fee_proportional_millionths: 0, cltv_expiry_delta: 72 };
/// Fresh intercept SCIDs drawn before giving up on a collision-free one.
const SCID_DRAWS: usize = 8;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The store id of a held HTLC: its intercept id in hex.
pub fn held_id(htlc: &HeldHtlc) -> String {
    htlc.intercept_id.0.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl Flow for HeldPayment {
    const KIND: Kind = Kind::HeldHtlc;
    const NOUN: &'static str = "held HTLC";
    type Input = HoldInput;
    type Effect = HoldEffect;
    type Context<'a> = HoldContext;

    fn id(&self) -> String {
        held_id(&self.htlc)
    }

    fn client(&self) -> Option<NodeId> {
        Some(self.client)
    }

    fn created_at(&self) -> DateTime {
        self.created_at
    }

    fn indexed(&self, _context: HoldContext) -> Indexed {
        Indexed { state: self.state.name(), terminal: self.is_terminal(), scid: None, deadline: self.deadline() }
    }

    fn input_name(input: &HoldInput) -> &'static str {
        input.name()
    }

    fn effect_name(effect: &HoldEffect) -> &'static str {
        effect.name()
    }

    fn step(&self, input: &HoldInput, context: HoldContext) -> Result<(HeldPayment, Vec<HoldEffect>), TransitionError> {
        HeldPayment::step(self, input, context)
    }

    fn give_up(effect: &HoldEffect) -> GiveUp<HoldInput> {
        match effect {
            // The payer's HTLC must not stay stuck until its CLTV expiry.
            HoldEffect::Fail => GiveUp::Never,
            HoldEffect::Notify | HoldEffect::Forward { .. } => GiveUp::Record,
        }
    }
}

/// Notify-and-wait for payments over an existing channel (see the module documentation).
pub struct HoldService {
    hold_secs: u64,
    store: Arc<dyn Store>,
    flows: FlowRunner<HeldPayment>,
    node: RwLock<Option<Arc<dyn HoldNode>>>,
    notifier: RwLock<Option<Arc<dyn ClientNotifier>>>,
    /// Waiting held HTLCs: id → (client, amount to forward). Rebuilt by [`HoldService::resume`].
    waiting: Mutex<HashMap<String, (PublicKey, u64)>>,
    /// Serialises hold-SCID assignment in this process.
    scid_lock: tokio::sync::Mutex<()>,
}

impl HoldService {
    /// A service holding HTLCs for up to `hold_secs` on `store`.
    pub fn new(hold_secs: u64, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Arc<HoldService> {
        Arc::new(HoldService {
            hold_secs,
            flows: FlowRunner::new(Arc::clone(&store), clock, RetryPolicy::default()),
            store,
            node: RwLock::new(None),
            notifier: RwLock::new(None),
            waiting: Mutex::new(HashMap::new()),
            scid_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// Gives the service the node (before it starts, and after each rebuild).
    pub fn attach(&self, node: Arc<dyn HoldNode>) {
        *self.node.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(node);
    }

    /// Sets who wakes offline clients (the LSPS5 service).
    pub fn set_notifier(&self, notifier: Arc<dyn ClientNotifier>) {
        *self.notifier.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(notifier);
    }

    fn node(&self) -> Option<Arc<dyn HoldNode>> {
        self.node.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    fn notifier(&self) -> Option<Arc<dyn ClientNotifier>> {
        self.notifier.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// How long an HTLC is held for an offline client.
    pub fn hold_secs(&self) -> u64 {
        self.hold_secs
    }

    /// `inbound.hold_scid`: the client's hold SCID (assigned and persisted on the first call)
    /// and the route hint's terms. Only for a client with a channel ([`NO_CHANNEL_CODE`]).
    ///
    /// # Errors
    /// [`NO_CHANNEL_CODE`], or an internal error when the store or node fails (logged).
    pub async fn hold_scid(&self, client: PublicKey) -> Result<HoldScidResponse, RpcError> {
        let Some(node) = self.node() else { return Err(RpcError::internal_error()) };
        if !node.has_channel_with(&client) {
            return Err(RpcError::new(NO_CHANNEL_CODE, "no channel with the LSP"));
        }
        let scid = self.scid_of(node.as_ref(), client).await.map_err(|error| {
            error!(%client, %error, "cannot assign a hold SCID");
            RpcError::internal_error()
        })?;
        let terms = node.forwarding_terms(&client).unwrap_or(DEFAULT_TERMS);
        Ok(HoldScidResponse {
            hold_scid: Scid(scid),
            fee_base_msat: terms.fee_base_msat,
            fee_proportional_millionths: terms.fee_proportional_millionths,
            cltv_expiry_delta: terms.cltv_expiry_delta,
            hold_secs: self.hold_secs,
        })
    }

    /// The stored hold SCID of `client`, or a fresh one (no LSPS2 session's, no other client's)
    /// persisted before it is returned.
    async fn scid_of(&self, node: &dyn HoldNode, client: PublicKey) -> Result<u64, String> {
        let _guard = self.scid_lock.lock().await;
        let id = NodeId(client).to_string();
        for _ in 0..SCID_DRAWS {
            if let Some(record) = self.store.get(Kind::HoldScid, &id).await.map_err(|e| e.to_string())? {
                return record.scid.ok_or_else(|| format!("hold SCID row {id} has no SCID"));
            }
            let scid = node.new_intercept_scid();
            if self.store.get_by_scid(Kind::Lsps2Session, scid).await.map_err(|e| e.to_string())?.is_some() {
                continue;
            }
            let now = self.flows.now().unix_millis();
            let record = NewRecord {
                kind: Kind::HoldScid,
                id: id.clone(),
                state: "assigned".into(),
                terminal: true,
                client_node_id: Some(id.clone()),
                scid: Some(scid),
                deadline_unix_ms: None,
                body: json!({ "client": id, "scid": scid }),
                created_at_unix_ms: now,
            };
            match self.store.insert(record, json!({ "input": "hold_scid" }), Vec::new()).await {
                Ok(_) => {
                    info!(%client, scid = %Scid(scid), "hold SCID assigned");
                    return Ok(scid);
                }
                // Another client's SCID, or a concurrent call for this client: draw or re-read.
                Err(StoreError::DuplicateScid { .. } | StoreError::DuplicateId { .. }) => continue,
                Err(error) => return Err(error.to_string()),
            }
        }
        Err("no free intercept SCID".into())
    }

    fn driver(&self) -> HoldDriver<'_> {
        HoldDriver { service: self }
    }

    /// An HTLC LDK intercepted for `scid`. `Ok(false)`: not a hold SCID (or an LSPS2
    /// session's), for the next handler. `Err`: the store failed; the event should be replayed.
    pub async fn on_intercepted(&self, scid: u64, htlc: HeldHtlc) -> Result<bool, FlowError> {
        let Some(record) = self.store.get_by_scid(Kind::HoldScid, scid).await? else { return Ok(false) };
        if self.store.get_by_scid(Kind::Lsps2Session, scid).await?.is_some() {
            return Ok(false);
        }
        let Some(node) = self.node() else { return Ok(false) };
        let Some(client) = record.client_node_id.as_deref().and_then(|text| text.parse::<PublicKey>().ok()) else {
            error!(id = record.id, "hold SCID row without a readable client; failing the HTLC");
            ignore_not_found(node.fail_htlc(htlc.intercept_id), "failing an HTLC to a corrupt hold SCID");
            return Ok(true);
        };
        let id = held_id(&htlc);
        if self.flows.get(&id).await?.is_some() {
            self.flows.run(&self.driver(), [(id, HoldInput::Replayed)], true).await?;
            return Ok(true);
        }
        let amount_msat = htlc.expected_outbound_amount_msat;
        let choice = node.channel_for(&client, amount_msat);
        let full = lock(&self.waiting).len() >= MAX_HELD_HTLCS;
        let ready = match choice {
            ChannelChoice::Ready(channel) => Some(channel),
            ChannelChoice::TooSmall => return Ok(refuse(node.as_ref(), &htlc, &client, "no channel can carry it")),
            ChannelChoice::Unusable if full => return Ok(refuse(node.as_ref(), &htlc, &client, "too many held HTLCs")),
            ChannelChoice::Unusable => None,
        };
        let now = self.flows.now();
        let Some((flow, effects)) =
            HeldPayment::intercepted(NodeId(client), scid, htlc.clone(), now, self.hold_secs, ready)
        else {
            return Ok(refuse(node.as_ref(), &htlc, &client, "hold time out of range"));
        };
        match self
            .flows
            .insert(&self.driver(), &flow, "htlc_intercepted", Some(MAX_HELD_HTLCS_PER_CLIENT), effects)
            .await
        {
            Ok(()) => {}
            Err(FlowError::Store(StoreError::CapReached { .. })) => {
                return Ok(refuse(node.as_ref(), &htlc, &client, "too many held HTLCs for the client"));
            }
            Err(FlowError::Store(StoreError::DuplicateId { .. })) => {
                self.flows.run(&self.driver(), [(id, HoldInput::Replayed)], true).await?;
                return Ok(true);
            }
            Err(error) => return Err(error),
        }
        if ready.is_none() {
            info!(%client, held_for_secs = self.hold_secs, "payment held for an offline client");
        }
        self.flows.run(&self.driver(), std::iter::empty(), true).await?;
        Ok(true)
    }

    /// Fails back held HTLCs whose hold time is over, forwards those whose client is back with a
    /// usable channel, and retries due effects. The ticker calls it; tests call it directly.
    ///
    /// # Errors
    /// If the store fails.
    pub async fn tick(&self) -> Result<(), FlowError> {
        let Some(node) = self.node() else { return Ok(()) };
        let now = self.flows.now();
        let due = self.store.list_due(Kind::HeldHtlc, now.unix_millis()).await?;
        let mut inputs: Vec<(String, HoldInput)> =
            due.items.into_iter().map(|record| (record.id, HoldInput::Tick)).collect();
        let waiting: Vec<(String, (PublicKey, u64))> =
            lock(&self.waiting).iter().map(|(id, entry)| (id.clone(), *entry)).collect();
        for (id, (client, amount_msat)) in waiting {
            if let ChannelChoice::Ready(channel) = node.channel_for(&client, amount_msat) {
                inputs.push((id, HoldInput::ClientReady { channel }));
            }
        }
        self.flows.run(&self.driver(), inputs, true).await
    }

    /// After a (re)start: rebuilds the index of waiting HTLCs and replays the outbox. LDK
    /// re-emits `HTLCIntercepted` for the HTLCs it still holds, which are replays.
    ///
    /// # Errors
    /// If the store fails.
    pub async fn resume(&self) -> Result<usize, FlowError> {
        let held = self.flows.active().await?;
        for payment in &held {
            self.index(payment);
        }
        self.flows.run(&self.driver(), std::iter::empty(), true).await?;
        info!(held = held.len(), "held HTLCs resumed");
        Ok(held.len())
    }

    /// Runs [`HoldService::tick`] every `period` until the returned task is aborted.
    pub fn spawn_ticker(self: &Arc<Self>, period: Duration) -> tokio::task::JoinHandle<()> {
        let service = Arc::clone(self);
        crate::ticker::spawn_ticker(period, "notify-and-wait", move || {
            let service = Arc::clone(&service);
            async move { service.tick().await }
        })
    }

    /// The held HTLC with this intercept id (hex), if any.
    ///
    /// # Errors
    /// If the store fails.
    pub async fn held(&self, id: &str) -> Result<Option<HeldPayment>, FlowError> {
        self.flows.get(id).await
    }

    /// The store the flows live in (tests restart a service on it).
    #[cfg(test)]
    pub(crate) fn flows_store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
    }

    /// How many held HTLCs wait for their client now.
    pub fn waiting(&self) -> usize {
        lock(&self.waiting).len()
    }

    fn index(&self, payment: &HeldPayment) {
        let id = Flow::id(payment);
        let mut waiting = lock(&self.waiting);
        if matches!(payment.state, HoldState::Waiting) {
            waiting.insert(id, (payment.client.0, payment.htlc.expected_outbound_amount_msat));
        } else {
            waiting.remove(&id);
        }
    }

    async fn execute(&self, payment: &HeldPayment, effect: &HoldEffect) -> Outcome<HoldInput> {
        let client = payment.client.0;
        let id = Flow::id(payment);
        if let HoldEffect::Notify = effect {
            let Some(notifier) = self.notifier() else {
                warn!(held = id, %client, "no notifier; the client is not woken");
                return Outcome::Done;
            };
            return match notifier.notify(client, Notification::PaymentIncoming).await {
                Ok(()) => Outcome::Done,
                Err(error) => Outcome::Retry(format!("waking the client: {error}")),
            };
        }
        let Some(node) = self.node() else { return Outcome::Retry("no node attached".into()) };
        match effect {
            HoldEffect::Notify => Outcome::Done,
            HoldEffect::Forward { channel, amount_msat } => {
                match node.forward_htlc(payment.htlc.intercept_id, *channel, client, *amount_msat) {
                    Ok(()) => {
                        node.flush();
                        info!(held = id, %client, amount_msat, "held HTLC forwarded");
                        Outcome::Done
                    }
                    Err(OpsError::NotFound) => Outcome::Done,
                    Err(error) => {
                        warn!(held = id, %error, "forward refused");
                        Outcome::Feed(HoldInput::ForwardFailed)
                    }
                }
            }
            HoldEffect::Fail => match node.fail_htlc(payment.htlc.intercept_id) {
                Ok(()) => {
                    node.flush();
                    info!(held = id, %client, "client did not come back in time; HTLC failed back");
                    Outcome::Done
                }
                Err(OpsError::NotFound) => Outcome::Done,
                Err(error) => Outcome::Retry(format!("failing the HTLC back: {error}")),
            },
        }
    }
}

/// Fails an HTLC back at once (no flow); `true`: the event is handled.
fn refuse(node: &dyn HoldNode, htlc: &HeldHtlc, client: &PublicKey, why: &str) -> bool {
    warn!(%client, why, "HTLC to a hold SCID failed back at once");
    ignore_not_found(node.fail_htlc(htlc.intercept_id), "failing a refused held HTLC");
    node.flush();
    true
}

/// The held HTLC's world.
struct HoldDriver<'s> {
    service: &'s HoldService,
}

impl FlowDriver<HeldPayment> for HoldDriver<'_> {
    fn context(&self, _flow: &HeldPayment, now: DateTime) -> HoldContext {
        HoldContext { now }
    }

    fn execute<'a>(&'a self, flow: &'a HeldPayment, effect: &'a HoldEffect) -> BoxFuture<'a, Outcome<HoldInput>> {
        Box::pin(self.service.execute(flow, effect))
    }

    fn committed(&self, _before: Option<&HeldPayment>, after: &HeldPayment) {
        self.service.index(after);
    }
}
