//! The event side of [`Lsps1Service`]: node events, a ticker and the wallet become
//! [`OrderInput`]s, and every step follows "persist before you act":
//!
//! ```text
//! event / tick ─▶ load order ─▶ step ─▶ store.update(next order + history + effects)  (one transaction)
//!                                             │
//!                                             ▼
//!                     drain the outbox: execute each effect, then complete_effect
//!                     (a refused open feeds OpenFailed, a built refund RefundBuilt, …)
//! ```
//!
//! Effects are idempotent: claiming or failing a hash twice is harmless, an open is skipped
//! when a channel with the order's `user_channel_id` exists, a refund is built only while the
//! order has none built, and the built refund is persisted before it is broadcast. On restart
//! [`Lsps1Service::resume`] rebuilds the indexes (the channel → order map, the watched
//! addresses), replays the outbox, and retries opens the node forgot. LDK re-emits
//! `PaymentClaimable` for HTLCs it still holds; the order treats it as a replay.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use inbound_store::{Kind, StoreError};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tracing::{debug, info, warn};

use super::ops::{OrderLightning, OrderOpen};
use super::order::{Context, OrderBook, OrderEffect, OrderInput, OrderStatus, Payment, RefundStatus};
use super::service::{decode, hash_key, Lsps1Service};

/// Most follow-up inputs (beyond the queued ones) one call may run.
const MAX_CHAINED_STEPS: usize = 32;
/// Effects read from the outbox per drain.
const OUTBOX_BATCH: u32 = 256;
/// Highest fee rate a refund replacement pays (50 sat/vB), in sat/kWU.
const MAX_BUMP_RATE: u32 = 12_500;
/// Weight of a refund transaction (one or two inputs, two outputs), for its fee.
const REFUND_TX_WEIGHT_WU: u64 = 800;

/// Why an order could not be loaded or written.
#[derive(Debug, Error)]
pub enum OrderError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An order or effect could not be (de)serialised.
    #[error("order {id}: {error}")]
    Codec {
        /// The order id.
        id: String,
        /// What went wrong.
        error: String,
    },
}

/// A node event, as the runner understands it (`lightning.rs` converts LDK's events).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderEvent {
    /// `PaymentClaimable` (no preimage known to LDK).
    PaymentClaimable {
        /// The payment hash.
        payment_hash: [u8; 32],
        /// Total of the HTLC set.
        amount_msat: u64,
        /// LDK's `claim_deadline`.
        claim_deadline: Option<u32>,
    },
    /// `ChannelPending`: the funding transaction was published.
    ChannelPending {
        /// Its `user_channel_id`.
        user_channel_id: u128,
        /// `txid:vout`.
        funding_outpoint: String,
    },
    /// `ChannelClosed`.
    ChannelClosed {
        /// Its `user_channel_id`.
        user_channel_id: u128,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct StoredEffect {
    order_id: String,
    effect: OrderEffect,
}

/// The runner's in-memory indexes (rebuilt by [`Lsps1Service::resume`]).
#[derive(Default)]
pub(crate) struct RunnerState {
    step_lock: tokio::sync::Mutex<()>,
    /// Orders whose on-chain address is watched: id → (address, whether an unconfirmed deposit
    /// may count: awaiting a payment whose terms allow 0 confirmations).
    watched: Mutex<HashMap<String, (String, bool)>>,
    /// `user_channel_id` → order id, for orders being opened.
    channels: Mutex<HashMap<u128, String>>,
    /// Orders holding an HTLC (ticked every tick: their deadline is in blocks).
    holding: Mutex<HashSet<String>>,
    /// Orders whose refund is published but not confirmed: id → refund txid.
    refunding: Mutex<HashMap<String, String>>,
    /// Orders whose open waits for a retry: id → client (retried at once when it connects).
    retrying: Mutex<HashMap<String, bitcoin::secp256k1::PublicKey>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl RunnerState {
    pub(super) fn index(&self, order: &OrderBook) {
        let id = order.order_id.clone();
        let watch = matches!(
            order.status,
            OrderStatus::AwaitingPayment { .. }
                | OrderStatus::Opening { payment: Payment::Onchain { .. }, .. }
                | OrderStatus::Expired { watch_until: Some(_) }
        );
        match (&order.onchain, watch) {
            (Some(terms), true) => {
                let zero_conf =
                    terms.min_confirmations == 0 && matches!(order.status, OrderStatus::AwaitingPayment { .. });
                lock(&self.watched).insert(id.clone(), (terms.address.clone(), zero_conf))
            }
            _ => lock(&self.watched).remove(&id),
        };
        if matches!(order.status, OrderStatus::Opening { .. }) {
            lock(&self.channels).insert(order.user_channel_id, id.clone());
        } else {
            lock(&self.channels).remove(&order.user_channel_id);
        }
        match order.refund.as_ref().map(|refund| &refund.status) {
            Some(RefundStatus::Built { txid, .. }) => lock(&self.refunding).insert(id.clone(), txid.clone()),
            _ => lock(&self.refunding).remove(&id),
        };
        if matches!(order.status, OrderStatus::Opening { retry_at: Some(_), .. }) {
            lock(&self.retrying).insert(id.clone(), order.client.0);
        } else {
            lock(&self.retrying).remove(&id);
        }
        if matches!(order.status, OrderStatus::Opening { payment: Payment::Lightning { .. }, .. }) {
            lock(&self.holding).insert(id);
        } else {
            lock(&self.holding).remove(&id);
        }
    }
}

impl Lsps1Service {
    /// Resumes after a (re)start: rebuilds the indexes from the unfinished orders, replays
    /// the outbox, and retries opens the node forgot. Call it after the node started.
    pub async fn resume(&self) -> Result<usize, OrderError> {
        let Some(lightning) = self.lightning() else { return Ok(0) };
        let listing = self.store.list_active(Kind::Lsps1Order).await?;
        let mut forgotten = Vec::new();
        let count = listing.items.len();
        for record in listing.items {
            let Some(order) = decode(&record) else { continue };
            self.runner.index(&order);
            if matches!(order.status, OrderStatus::Opening { retry_at: None, .. })
                && !lightning.has_channel(order.user_channel_id)
            {
                forgotten.push((record.id, OrderInput::OpenFailed));
            }
        }
        let _guard = self.runner.step_lock.lock().await;
        let mut queue: VecDeque<(String, OrderInput)> = self.drain_outbox(lightning.as_ref()).await.into();
        queue.extend(forgotten);
        self.run_queue(lightning.as_ref(), queue).await?;
        info!(orders = count, "LSPS1 orders resumed");
        Ok(count)
    }

    /// Handles one node event. `Ok(true)` if it concerned an order (a `PaymentClaimable` for an
    /// order's hash must not reach the generic handler). `Err`: replay the event.
    pub async fn on_event(&self, event: OrderEvent) -> Result<bool, OrderError> {
        let Some(lightning) = self.lightning() else { return Ok(false) };
        let (id, input) = match event {
            OrderEvent::PaymentClaimable { payment_hash, amount_msat, claim_deadline } => {
                let Some(record) = self.store.get_by_scid(Kind::Lsps1Order, hash_key(&payment_hash)).await? else {
                    return Ok(false);
                };
                let ours = decode(&record).and_then(|o| o.bolt11).is_some_and(|b| b.payment_hash.0 == payment_hash);
                if !ours {
                    return Ok(false);
                }
                (record.id, OrderInput::HtlcArrived { amount_msat, claim_deadline })
            }
            OrderEvent::ChannelPending { user_channel_id, funding_outpoint } => {
                match lock(&self.runner.channels).get(&user_channel_id).cloned() {
                    Some(id) => (id, OrderInput::FundingPublished { funding_outpoint }),
                    None => return Ok(false),
                }
            }
            OrderEvent::ChannelClosed { user_channel_id } => {
                match lock(&self.runner.channels).get(&user_channel_id).cloned() {
                    Some(id) => (id, OrderInput::OpenFailed),
                    None => return Ok(false),
                }
            }
        };
        let _guard = self.runner.step_lock.lock().await;
        self.run_queue(lightning.as_ref(), VecDeque::from([(id, input)])).await?;
        Ok(true)
    }

    /// Ticks due orders and those holding an HTLC, retries opens for clients that connected,
    /// reads the watched addresses, and retries effects left in the outbox. The ticker calls it every second; tests call it directly.
    pub async fn tick(&self) -> Result<(), OrderError> {
        let Some(lightning) = self.lightning() else { return Ok(()) };
        let now = self.clock.now();
        let due = self.store.list_due(Kind::Lsps1Order, now.unix_millis()).await?;
        let mut queue: VecDeque<(String, OrderInput)> =
            due.items.into_iter().map(|record| (record.id, OrderInput::Tick)).collect();
        queue.extend(lock(&self.runner.holding).iter().map(|id| (id.clone(), OrderInput::Tick)));
        let connected: Vec<String> = lock(&self.runner.retrying)
            .iter()
            .filter(|(_, client)| lightning.is_connected(client))
            .map(|(id, _)| id.clone())
            .collect();
        queue.extend(connected.into_iter().map(|id| (id, OrderInput::ClientConnected)));
        let refunding: Vec<(String, String)> =
            lock(&self.runner.refunding).iter().map(|(id, txid)| (id.clone(), txid.clone())).collect();
        for (id, txid) in refunding {
            let confirmations = lightning.tx_confirmations(&txid).unwrap_or(0);
            queue.push_back((id, OrderInput::RefundConfirmations { confirmations }));
        }
        let watched: Vec<(String, (String, bool))> =
            lock(&self.runner.watched).iter().map(|(id, watch)| (id.clone(), watch.clone())).collect();
        // Unconfirmed deposits are read from the chain source's mempool only for orders that
        // may count them; the state machine checks their fee rate against min_fee_for_0conf.
        let zero_conf: Vec<String> =
            watched.iter().filter(|(_, (_, zero_conf))| *zero_conf).map(|(_, (address, _))| address.clone()).collect();
        let unconfirmed = if zero_conf.is_empty() { Vec::new() } else { lightning.unconfirmed_to(&zero_conf).await };
        for (id, (address, _)) in watched {
            let receipt = lightning.received_to(&address);
            let pending = unconfirmed.iter().find(|pending| pending.address == address);
            let input = match (receipt.confirmations, pending) {
                (_, Some(pending)) => OrderInput::OnchainSeen {
                    received_sat: receipt.received_sat.saturating_add(pending.received_sat),
                    confirmations: 0,
                    fee_rate: pending.min_fee_rate_sat_per_kwu,
                },
                (Some(confirmations), None) => {
                    OrderInput::OnchainSeen { received_sat: receipt.received_sat, confirmations, fee_rate: None }
                }
                (None, None) => continue,
            };
            queue.push_back((id, input));
        }
        let _guard = self.runner.step_lock.lock().await;
        queue.extend(self.drain_outbox(lightning.as_ref()).await);
        self.run_queue(lightning.as_ref(), queue).await
    }

    /// Runs [`Lsps1Service::tick`] every `period` until the returned task is aborted.
    pub fn spawn_ticker(self: &Arc<Self>, period: Duration) -> tokio::task::JoinHandle<()> {
        let service = Arc::clone(self);
        crate::ticker::spawn_ticker(period, "LSPS1", move || {
            let service = Arc::clone(&service);
            async move { service.tick().await }
        })
    }

    async fn run_queue(
        &self,
        lightning: &dyn OrderLightning,
        mut queue: VecDeque<(String, OrderInput)>,
    ) -> Result<(), OrderError> {
        // Every queued input runs; follow-ups are bounded per call.
        let limit = queue.len().saturating_add(MAX_CHAINED_STEPS);
        let mut steps = 0;
        while let Some((id, input)) = queue.pop_front() {
            steps += 1;
            if steps > limit {
                warn!(left = queue.len() + 1, "too many chained LSPS1 steps; the rest wait for the next tick");
                break;
            }
            if self.step_and_persist(lightning, &id, &input).await? {
                queue.extend(self.drain_outbox(lightning).await);
            }
        }
        Ok(())
    }

    /// Loads, steps and persists one order with its effects. `true` if something was written.
    async fn step_and_persist(
        &self,
        lightning: &dyn OrderLightning,
        id: &str,
        input: &OrderInput,
    ) -> Result<bool, OrderError> {
        let policy = self.config.policy();
        for _ in 0..3 {
            let Some(record) = self.store.get(Kind::Lsps1Order, id).await? else { return Ok(false) };
            let Some(order) = decode(&record) else { return Ok(false) };
            let now = self.clock.now();
            let ctx = Context { now, height: lightning.height(), policy: &policy };
            let (next, effects) = order.step(input, ctx);
            if next == order && effects.is_empty() {
                return Ok(false);
            }
            let mut stored = Vec::with_capacity(effects.len());
            for effect in effects {
                let envelope = StoredEffect { order_id: id.to_owned(), effect };
                stored.push(serde_json::to_value(&envelope).map_err(|e| codec(id, e))?);
            }
            let change = inbound_store::RecordChange {
                state: next.state_name().to_owned(),
                terminal: next.is_terminal(now),
                scid: record.scid,
                deadline_unix_ms: next.next_deadline().map(|d| d.unix_millis()),
                body: serde_json::to_value(&next).map_err(|e| codec(id, e))?,
                at_unix_ms: now.unix_millis(),
            };
            let detail = serde_json::json!({ "input": input.name() });
            match self.store.update(Kind::Lsps1Order, id, record.version, change, detail, stored).await {
                Ok(_) => {
                    if order.state_name() != next.state_name() {
                        info!(order = id, from = order.state_name(), to = next.state_name(), "LSPS1 order moved");
                    }
                    self.runner.index(&next);
                    return Ok(true);
                }
                Err(error) if error.is_conflict() => continue,
                Err(error) => return Err(error.into()),
            }
        }
        warn!(order = id, "LSPS1 order kept changing under us; input dropped");
        Ok(false)
    }

    /// Executes every pending LSPS1 effect and marks it done; returns the follow-up inputs.
    async fn drain_outbox(&self, lightning: &dyn OrderLightning) -> Vec<(String, OrderInput)> {
        let pending = match self.store.pending_effects(OUTBOX_BATCH).await {
            Ok(pending) => pending,
            Err(error) => {
                warn!(%error, "cannot read the LSPS1 outbox; retrying on the next tick");
                return Vec::new();
            }
        };
        let mut follow_ups = Vec::new();
        for effect in pending.items.into_iter().filter(|effect| effect.kind == Kind::Lsps1Order) {
            match serde_json::from_value::<StoredEffect>(effect.body.clone()) {
                Ok(stored) => {
                    if let Some(input) = self.execute(lightning, &stored).await {
                        follow_ups.push((stored.order_id.clone(), input));
                    }
                }
                Err(error) => warn!(effect_id = effect.effect_id, %error, "dropping an unreadable LSPS1 effect"),
            }
            if let Err(error) = self.store.complete_effect(effect.effect_id, self.clock.now().unix_millis()).await {
                warn!(effect_id = effect.effect_id, %error, "cannot complete an LSPS1 effect; it will run again");
            }
        }
        follow_ups
    }

    /// Carries out one effect; returns the input to feed back, if any.
    async fn execute(&self, lightning: &dyn OrderLightning, stored: &StoredEffect) -> Option<OrderInput> {
        let id = stored.order_id.as_str();
        let order = match self.order(id).await {
            Ok(Some(order)) => order,
            Ok(None) => return None,
            Err(error) => {
                warn!(order = id, %error, "cannot load the order of an effect");
                return None;
            }
        };
        match &stored.effect {
            OrderEffect::OpenChannel => {
                if lightning.has_channel(order.user_channel_id) {
                    debug!(order = id, "channel already being opened; not opening twice");
                    return None;
                }
                if !lightning.is_connected(&order.client.0) {
                    if let Some(address) = &order.client_address {
                        info!(order = id, client = %order.client, %address, "client not connected; connecting to it");
                        lightning.connect_in_background(
                            &order.client.0,
                            address,
                            self.config.connect_private_addresses,
                        );
                    }
                    info!(order = id, client = %order.client, "client not connected; the open waits");
                    return Some(OrderInput::OpenFailed);
                }
                let request = &order.request;
                let Some(capacity_sat) = request.lsp_balance_sat.checked_add(request.client_balance_sat) else {
                    return Some(OrderInput::OpenFailed);
                };
                let open = OrderOpen {
                    client: order.client.0,
                    capacity_sat: capacity_sat.get(),
                    push_sat: request.client_balance_sat.get(),
                    user_channel_id: order.user_channel_id,
                    announce: request.announce_channel,
                    zero_conf: request.required_channel_confirmations == 0,
                };
                match lightning.open_channel(&open) {
                    Ok(()) => {
                        info!(
                            order = id,
                            capacity_sat = open.capacity_sat,
                            push_sat = open.push_sat,
                            "opening the ordered channel"
                        );
                        None
                    }
                    Err(error) => {
                        warn!(order = id, %error, "ordered channel open refused");
                        Some(OrderInput::OpenFailed)
                    }
                }
            }
            OrderEffect::ClaimPayment => {
                if let Some(bolt11) = &order.bolt11 {
                    info!(order = id, "channel published; claiming the held payment");
                    lightning.claim_payment(bolt11.preimage.0);
                }
                None
            }
            OrderEffect::FailHtlc { cause } => {
                if let Some(bolt11) = &order.bolt11 {
                    debug!(order = id, ?cause, "failing the order's HTLCs back");
                    lightning.fail_payment(bolt11.payment_hash.0);
                }
                None
            }
            OrderEffect::BuildRefund { amount_sat, address } => {
                if order.refund.as_ref().is_some_and(|r| !matches!(r.status, RefundStatus::Requested { .. })) {
                    return None;
                }
                let rate = match self.config.refund_fee_rate {
                    0 => lightning.fee_rate_sat_per_kwu(),
                    rate => rate,
                };
                let fee = REFUND_TX_WEIGHT_WU.saturating_mul(u64::from(rate)) / 1000;
                let Some(send) = amount_sat.checked_sub(fee).filter(|send| *send >= super::order::REFUND_DUST_SAT)
                else {
                    warn!(order = id, amount_sat, fee, "refund does not cover its fee yet");
                    return Some(OrderInput::RefundFailed);
                };
                match lightning.build_refund(address, send, rate) {
                    Ok((txid, tx_hex)) => {
                        info!(order = id, %txid, send, fee, "refund built");
                        Some(OrderInput::RefundBuilt { txid, tx_hex })
                    }
                    Err(error) => {
                        warn!(order = id, %error, "cannot build the refund; retrying later");
                        Some(OrderInput::RefundFailed)
                    }
                }
            }
            OrderEffect::BroadcastRefund { tx_hex } => {
                if let Err(error) = lightning.broadcast(tx_hex) {
                    warn!(order = id, %error, "cannot broadcast the refund");
                }
                None
            }
            OrderEffect::BumpRefund { txid, bumps } => {
                let base = match self.config.refund_fee_rate {
                    0 => lightning.fee_rate_sat_per_kwu(),
                    rate => rate,
                };
                // Each replacement pays more: base × (bumps + 2), capped at 50 sat/vB.
                let rate = base.max(253).saturating_mul(bumps.saturating_add(2)).min(MAX_BUMP_RATE);
                match lightning.bump_refund(txid, rate) {
                    Ok((txid, tx_hex)) => {
                        info!(order = id, %txid, rate, "refund unconfirmed: replaced with a higher fee");
                        Some(OrderInput::RefundBumped { txid, tx_hex })
                    }
                    Err(error) => {
                        warn!(order = id, %error, "cannot fee-bump the refund; trying after the next wait");
                        None
                    }
                }
            }
            OrderEffect::CloseLeasedChannel => {
                let blocks = order.request.channel_expiry_blocks;
                match lightning.close_if_idle(order.user_channel_id) {
                    Ok(true) => {
                        info!(order = id, blocks, "lease of {blocks} blocks ended and the channel is idle: closing it");
                        None
                    }
                    Ok(false) => {
                        info!(order = id, "lease ended but HTLCs are in flight; closing later");
                        Some(OrderInput::LeaseCloseDeferred)
                    }
                    Err(error) => {
                        warn!(order = id, %error, "cannot close the leased channel; trying later");
                        Some(OrderInput::LeaseCloseDeferred)
                    }
                }
            }
        }
    }
}

fn codec(id: &str, error: serde_json::Error) -> OrderError {
    OrderError::Codec { id: id.to_owned(), error: error.to_string() }
}
