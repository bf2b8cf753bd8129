//! The event side of [`Lsps1Service`]: node events, a ticker and the wallet become
//! [`OrderInput`]s for the flow kernel ([`FlowRunner`](crate::flow::FlowRunner)), which
//! persists every step with its history and effects before executing them (in `effects.rs`),
//! and retries effects that fail.
//!
//! Effects are idempotent: claiming or failing a hash twice is harmless, an open is skipped
//! when a channel with the order's `user_channel_id` exists, a refund is built only while the
//! order has none built, and the built refund is persisted before it is broadcast. On restart
//! [`Lsps1Service::resume`] rebuilds the indexes (the channel → order map, the watched
//! addresses), replays the outbox, and retries opens the node forgot. LDK re-emits
//! `PaymentClaimable` for HTLCs it still holds; the order treats it as a replay.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use inbound_store::Kind;
use lsps::schema::{DateTime, NodeId};
use tracing::{info, warn};

use super::ops::OrderLightning;
use super::order::{Context, OrderBook, OrderEffect, OrderInput, OrderPolicy, OrderStatus, Payment, RefundStatus};
use super::service::{hash_key, Lsps1Service};
use crate::flow::{Flow, FlowDriver, FlowError, GiveUp, Indexed, Outcome, TransitionError};
use crate::server::BoxFuture;

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

/// The runner's in-memory indexes (rebuilt by [`Lsps1Service::resume`]).
#[derive(Default)]
pub(crate) struct RunnerState {
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
        match order.refund().map(|refund| &refund.status) {
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

impl Flow for OrderBook {
    const KIND: Kind = Kind::Lsps1Order;
    const NOUN: &'static str = "LSPS1 order";
    type Input = OrderInput;
    type Effect = OrderEffect;
    type Context<'a> = Context<'a>;

    fn id(&self) -> String {
        self.order_id.clone()
    }

    fn client(&self) -> Option<NodeId> {
        Some(self.client)
    }

    fn created_at(&self) -> DateTime {
        self.created_at
    }

    fn indexed(&self, context: Context<'_>) -> Indexed {
        Indexed {
            state: self.state_name(),
            terminal: self.is_terminal(context.now),
            // The payment hash's prefix: `PaymentClaimable` finds its order in one lookup.
            scid: self.bolt11.as_ref().map(|bolt11| hash_key(&bolt11.payment_hash.0)),
            deadline: self.next_deadline(),
        }
    }

    fn input_name(input: &OrderInput) -> &'static str {
        input.name()
    }

    fn effect_name(effect: &OrderEffect) -> &'static str {
        effect.name()
    }

    fn step(&self, input: &OrderInput, context: Context<'_>) -> Result<(OrderBook, Vec<OrderEffect>), TransitionError> {
        OrderBook::step(self, input, context)
    }

    fn give_up(effect: &OrderEffect) -> GiveUp<OrderInput> {
        match effect {
            // A built refund is owed to the client; a later fee bump broadcasts it too.
            OrderEffect::BroadcastRefund { .. } => GiveUp::Never,
            _ => GiveUp::Record,
        }
    }
}

/// The LSPS1 order's world: the node and wallet, the policy and the runner's indexes.
pub(super) struct OrderDriver<'s> {
    pub(super) service: &'s Lsps1Service,
    pub(super) lightning: &'s dyn OrderLightning,
    policy: OrderPolicy,
}

impl FlowDriver<OrderBook> for OrderDriver<'_> {
    fn context<'a>(&'a self, _order: &OrderBook, now: DateTime) -> Context<'a> {
        Context { now, height: self.lightning.height(), policy: &self.policy }
    }

    fn execute<'a>(&'a self, order: &'a OrderBook, effect: &'a OrderEffect) -> BoxFuture<'a, Outcome<OrderInput>> {
        Box::pin(self.service.execute(self.lightning, order, effect))
    }

    fn committed(&self, before: Option<&OrderBook>, after: &OrderBook) {
        self.service.runner.index(after);
        let state = |order: &OrderBook| order.state_name();
        if before.map(state) != Some(state(after)) {
            match &after.status {
                OrderStatus::Completed { .. } => {
                    crate::metrics::channel_delivered("lsps1");
                    let fee_msat = after.fee_sat().and_then(|sat| sat.checked_mul(1_000));
                    crate::metrics::fee_earned("lsps1", fee_msat.unwrap_or(0));
                }
                OrderStatus::Failed { .. } => crate::metrics::flow_failed("lsps1"),
                _ => {}
            }
        }
        let kept = |order: &OrderBook| matches!(order.refund().map(|r| &r.status), Some(RefundStatus::Kept));
        if kept(after) && !before.is_some_and(kept) {
            let amount_sat = after.refund().map_or(0, |refund| refund.amount_sat);
            warn!(order = %after.order_id, amount_sat, "no refund address: the LSP keeps the funds");
        }
    }
}

impl Lsps1Service {
    pub(super) fn driver<'s>(&'s self, lightning: &'s dyn OrderLightning) -> OrderDriver<'s> {
        OrderDriver { service: self, lightning, policy: self.config.policy() }
    }

    /// Resumes after a (re)start: rebuilds the indexes from the unfinished orders, replays
    /// the outbox, and retries opens the node forgot. Call it after the node started.
    pub async fn resume(&self) -> Result<usize, FlowError> {
        let Some(lightning) = self.lightning() else { return Ok(0) };
        let orders = self.flows.active().await?;
        let count = orders.len();
        let mut forgotten = Vec::new();
        for order in &orders {
            self.runner.index(order);
            if matches!(order.status, OrderStatus::Opening { retry_at: None, .. })
                && !lightning.has_channel(order.user_channel_id)
            {
                forgotten.push((order.order_id.clone(), OrderInput::OpenFailed));
            }
        }
        self.flows.run(&self.driver(lightning.as_ref()), forgotten, true).await?;
        info!(orders = count, "LSPS1 orders resumed");
        Ok(count)
    }

    /// Handles one node event. `Ok(true)` if it concerned an order (a `PaymentClaimable` for an
    /// order's hash must not reach the generic handler). `Err`: replay the event.
    pub async fn on_event(&self, event: OrderEvent) -> Result<bool, FlowError> {
        let Some(lightning) = self.lightning() else { return Ok(false) };
        let (id, input) = match event {
            OrderEvent::PaymentClaimable { payment_hash, amount_msat, claim_deadline } => {
                let Some(order) = self.flows.get_by_scid(hash_key(&payment_hash)).await? else {
                    return Ok(false);
                };
                if order.bolt11.as_ref().is_none_or(|b| b.payment_hash.0 != payment_hash) {
                    return Ok(false);
                }
                (order.order_id, OrderInput::HtlcArrived { amount_msat, claim_deadline })
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
        self.flows.run(&self.driver(lightning.as_ref()), [(id, input)], false).await?;
        Ok(true)
    }

    /// Ticks due orders and those holding an HTLC, retries opens for clients that connected,
    /// reads the watched addresses, and retries effects due in the outbox. The ticker calls it
    /// every second; tests call it directly.
    pub async fn tick(&self) -> Result<(), FlowError> {
        let Some(lightning) = self.lightning() else { return Ok(()) };
        let now = self.flows.now();
        let due = self.store.list_due(Kind::Lsps1Order, now.unix_millis()).await?;
        let mut queue: Vec<(String, OrderInput)> =
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
            queue.push((id, OrderInput::RefundConfirmations { confirmations }));
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
            queue.push((id, input));
        }
        self.flows.run(&self.driver(lightning.as_ref()), queue, true).await
    }

    /// Runs [`Lsps1Service::tick`] every `period` until the returned task is aborted.
    pub fn spawn_ticker(self: &Arc<Self>, period: Duration) -> tokio::task::JoinHandle<()> {
        let service = Arc::clone(self);
        crate::ticker::spawn_ticker(period, "LSPS1", move || {
            let service = Arc::clone(&service);
            async move { service.tick().await }
        })
    }
}
