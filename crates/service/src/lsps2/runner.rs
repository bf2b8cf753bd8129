//! The event side of [`Lsps2Service`]: node events and timers become [`JitInput`]s for the flow
//! kernel ([`FlowRunner`](crate::flow::FlowRunner)), which persists every step with its
//! history and effects before executing them, and retries effects that fail.
//!
//! Steps are serialised by the kernel's lock, so two inputs never race on a session inside this
//! process; the store's version check covers other processes. Effects are idempotent: failing
//! or forwarding an HTLC LDK no longer holds is "not found" and ignored, an open is skipped
//! when a channel with the session's `user_channel_id` exists, and broadcasting twice is
//! harmless. On restart [`Lsps2Service::resume`] replays the outbox, and LDK re-emits
//! `HTLCIntercepted` for HTLCs it still holds, which the session ignores as replays. The
//! effects themselves are carried out in `effects.rs`.
//!
//! HTLC failures: LDK 0.2.7's `fail_intercepted_htlc` always answers `unknown_next_peer`, so
//! [`HtlcFailure::TemporaryChannelFailure`](super::HtlcFailure::TemporaryChannelFailure)
//! (bLIP-52's choice for the MPP timeout, an offline client and a failed open) cannot be sent
//! yet. The sessions keep the spec's intent in their effects; only the wire code deviates.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bitcoin::secp256k1::PublicKey;
use inbound_store::Kind;
use lsps::schema::{DateTime, NodeId};
use tracing::{debug, info};

use super::ops::JitLightning;
use super::service::{session_id, Lsps2Service};
use super::session::{ChannelRef, Context, HeldHtlc, JitEffect, JitInput, JitSession, JitState};
use crate::flow::{Flow, FlowDriver, FlowError, GiveUp, Indexed, Outcome, TransitionError};
use crate::server::BoxFuture;

/// A node event, as the runner understands it (`lightning.rs` converts LDK's events).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JitEvent {
    /// `HTLCIntercepted` to `scid`.
    HtlcIntercepted {
        /// The requested next-hop SCID.
        scid: u64,
        /// The HTLC.
        htlc: HeldHtlc,
    },
    /// `ChannelReady` of a channel we opened.
    ChannelReady {
        /// Its `user_channel_id`.
        user_channel_id: u128,
        /// Its id.
        channel: ChannelRef,
    },
    /// `ChannelClosed`.
    ChannelClosed {
        /// Its `user_channel_id`.
        user_channel_id: u128,
    },
    /// `HTLCHandlingFailed` for a forward over `channel`.
    ForwardFailed {
        /// The outgoing channel.
        channel: ChannelRef,
    },
    /// `PaymentForwarded` over a channel with this `user_channel_id`.
    PaymentForwarded {
        /// The outgoing channel's `user_channel_id`.
        next_user_channel_id: u128,
        /// The fee skimmed from the forward.
        skimmed_fee_msat: u64,
    },
}

/// Why [`Lsps2Service::operator_fail`] could not run.
#[derive(Debug, thiserror::Error)]
pub enum OperatorFailError {
    /// The service has no node yet.
    #[error("the LSPS2 service is not attached to its node")]
    NotAttached,
    /// The store failed.
    #[error(transparent)]
    Flow(#[from] FlowError),
}

/// Counters for operators.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lsps2Stats {
    /// Unfinished sessions by state name (from the store).
    pub active_by_state: BTreeMap<String, u64>,
    /// Sessions that reached `paid` since the service started.
    pub paid_since_start: u64,
    /// Opening fees collected since the service started.
    pub fees_collected_msat_since_start: u64,
    /// Sessions that ended unpaid or failed since the service started.
    pub failed_since_start: u64,
}

/// The runner's in-memory indexes (rebuilt by [`Lsps2Service::resume`]).
#[derive(Default)]
pub(crate) struct RunnerState {
    /// Sessions waiting for their client to connect: id → client.
    awaiting_client: Mutex<HashMap<String, PublicKey>>,
    /// JIT channels → their session id.
    channels: Mutex<HashMap<ChannelRef, String>>,
    stats: Mutex<Lsps2Stats>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Flow for JitSession {
    const KIND: Kind = Kind::Lsps2Session;
    const NOUN: &'static str = "LSPS2 session";
    type Input = JitInput;
    type Effect = JitEffect;
    type Context<'a> = Context<'a>;

    fn id(&self) -> String {
        session_id(self.user_channel_id)
    }

    fn client(&self) -> Option<NodeId> {
        Some(self.client)
    }

    fn created_at(&self) -> DateTime {
        self.created_at
    }

    fn indexed(&self, context: Context<'_>) -> Indexed {
        Indexed {
            state: self.state.name(),
            terminal: self.state.is_terminal(),
            scid: Some(self.intercept_scid.0),
            deadline: self.next_deadline(context.policy),
        }
    }

    fn input_name(input: &JitInput) -> &'static str {
        input.name()
    }

    fn effect_name(effect: &JitEffect) -> &'static str {
        effect.name()
    }

    fn step(&self, input: &JitInput, context: Context<'_>) -> Result<(JitSession, Vec<JitEffect>), TransitionError> {
        JitSession::step(self, input.clone(), context)
    }

    fn give_up(effect: &JitEffect) -> GiveUp<JitInput> {
        match effect {
            // The client has been paid over a 0-conf channel: its funding must reach the chain.
            JitEffect::BroadcastFunding => GiveUp::Never,
            _ => GiveUp::Record,
        }
    }
}

/// The LSPS2 session's world: the node, the service's policy, indexes and counters.
pub(super) struct JitDriver<'s> {
    pub(super) service: &'s Lsps2Service,
    pub(super) lightning: &'s dyn JitLightning,
}

impl FlowDriver<JitSession> for JitDriver<'_> {
    fn context<'a>(&'a self, session: &JitSession, now: DateTime) -> Context<'a> {
        Context {
            now,
            client_online: self.lightning.is_connected(&session.client.0),
            policy: &self.service.config.policy,
        }
    }

    fn execute<'a>(&'a self, session: &'a JitSession, effect: &'a JitEffect) -> BoxFuture<'a, Outcome<JitInput>> {
        if let JitEffect::NotifyClient = effect {
            return Box::pin(self.service.notify_client(session));
        }
        let outcome = self.service.execute(self.lightning, session, effect);
        Box::pin(std::future::ready(outcome))
    }

    fn committed(&self, before: Option<&JitSession>, after: &JitSession) {
        self.service.index(after);
        if let Some(before) = before {
            self.service.count(before, after);
        }
    }
}

impl Lsps2Service {
    pub(super) fn driver<'s>(&'s self, lightning: &'s dyn JitLightning) -> JitDriver<'s> {
        JitDriver { service: self, lightning }
    }

    /// Resumes after a (re)start: rebuilds the in-memory indexes from the unfinished sessions,
    /// replays the outbox, and restarts opens the node forgot (an unfunded channel does not
    /// survive a restart; the held payment does, and LDK replays it): opened again when the
    /// client is connected, else the session waits for the client. Call it after [`Lsps2Service::attach`].
    pub async fn resume(&self) -> Result<usize, FlowError> {
        let Some(lightning) = self.lightning() else { return Ok(0) };
        let sessions = self.flows.active().await?;
        let count = sessions.len();
        let mut forgotten_opens = Vec::new();
        for session in &sessions {
            self.index(session);
            if matches!(session.state, JitState::OpeningChannel { .. })
                && !lightning.has_channel(session.user_channel_id)
            {
                forgotten_opens.push((Flow::id(session), JitInput::OpenInterrupted));
            }
        }
        self.flows.run(&self.driver(lightning.as_ref()), forgotten_opens, true).await?;
        info!(sessions = count, "LSPS2 sessions resumed");
        Ok(count)
    }

    /// Handles one node event. `Err` means the store failed and the event should be replayed.
    pub async fn on_event(&self, event: JitEvent) -> Result<(), FlowError> {
        let Some(lightning) = self.lightning() else { return Ok(()) };
        let (id, input) = match event {
            JitEvent::HtlcIntercepted { scid, htlc } => match self.store.get_by_scid(Kind::Lsps2Session, scid).await? {
                Some(record) => (record.id, JitInput::HtlcIntercepted(htlc)),
                None => {
                    debug!(scid, "HTLC to an unknown intercept SCID; failing it");
                    ignore_not_found(lightning.fail_htlc(htlc.intercept_id), "failing an unknown-SCID HTLC");
                    return Ok(());
                }
            },
            JitEvent::ChannelReady { user_channel_id, channel } => {
                let minimum =
                    lightning.client_htlc_minimum_msat(channel).unwrap_or(self.config.policy.assumed_htlc_minimum_msat);
                let input = JitInput::ChannelReady { channel_id: channel, client_htlc_minimum_msat: minimum };
                (session_id(user_channel_id), input)
            }
            JitEvent::ChannelClosed { user_channel_id } => (session_id(user_channel_id), JitInput::OpenFailed),
            JitEvent::ForwardFailed { channel } => {
                let known = lock(&self.runner.channels).get(&channel).cloned();
                match known.or_else(|| lightning.user_channel_id_of(channel).map(session_id)) {
                    Some(id) => (id, JitInput::ForwardFailed),
                    None => return Ok(()),
                }
            }
            JitEvent::PaymentForwarded { next_user_channel_id, skimmed_fee_msat } => {
                (session_id(next_user_channel_id), JitInput::PaymentForwarded { skimmed_fee_msat })
            }
        };
        self.flows.run(&self.driver(lightning.as_ref()), [(id, input)], false).await
    }

    /// Wakes every session whose deadline has passed (by the injected clock), opens for
    /// waiting clients that connected, and retries effects due in the outbox. The ticker
    /// ([`Lsps2Service::spawn_ticker`]) calls it every second; tests call it directly.
    pub async fn tick(&self) -> Result<(), FlowError> {
        let Some(lightning) = self.lightning() else { return Ok(()) };
        let now = self.flows.now();
        let due = self.store.list_due(Kind::Lsps2Session, now.unix_millis()).await?;
        let mut inputs: Vec<(String, JitInput)> =
            due.items.into_iter().map(|record| (record.id, JitInput::Tick)).collect();
        let connected: Vec<String> = lock(&self.runner.awaiting_client)
            .iter()
            .filter(|(_, client)| lightning.is_connected(client))
            .map(|(id, _)| id.clone())
            .collect();
        inputs.extend(connected.into_iter().map(|id| (id, JitInput::ClientConnected)));
        self.flows.run(&self.driver(lightning.as_ref()), inputs, true).await
    }

    /// Runs [`Lsps2Service::tick`] every `period` until the returned task is aborted.
    pub fn spawn_ticker(self: &Arc<Self>, period: Duration) -> tokio::task::JoinHandle<()> {
        let service = Arc::clone(self);
        crate::ticker::spawn_ticker(period, "LSPS2", move || {
            let service = Arc::clone(&service);
            async move { service.tick().await }
        })
    }

    /// The session with this `user_channel_id`, if any.
    pub async fn session(&self, user_channel_id: u128) -> Result<Option<JitSession>, FlowError> {
        self.flows.get(&session_id(user_channel_id)).await
    }

    /// The session holding this intercept SCID, if any.
    pub async fn session_by_scid(&self, scid: u64) -> Result<Option<JitSession>, FlowError> {
        self.flows.get_by_scid(scid).await
    }

    /// Fails the session `id` as the operator (its held HTLCs failed back), with `reason` in
    /// its history. Applies while the session collects or holds a payment and no open is in
    /// flight; `Applied::Refused` otherwise.
    ///
    /// # Errors
    /// If the service has no node yet, or the store fails.
    pub async fn operator_fail(
        &self,
        id: &str,
        reason: Option<String>,
    ) -> Result<crate::flow::Applied, OperatorFailError> {
        let lightning = self.lightning().ok_or(OperatorFailError::NotAttached)?;
        let note = serde_json::json!({ "actor": "operator", "reason": reason });
        Ok(self.flows.apply_noted(&self.driver(lightning.as_ref()), id, JitInput::OperatorFail, note).await?)
    }

    /// Sessions by state and the fees collected since start.
    ///
    /// Taken under the kernel's step lock, so that a session seen in the store as paid or
    /// failed is already counted (the counters are updated right after the store commits a step).
    pub async fn stats(&self) -> Result<Lsps2Stats, FlowError> {
        let _guard = self.flows.lock().await;
        let mut stats = lock(&self.runner.stats).clone();
        for record in self.store.list_active(Kind::Lsps2Session).await?.items {
            *stats.active_by_state.entry(record.state).or_default() += 1;
        }
        Ok(stats)
    }

    fn count(&self, before: &JitSession, after: &JitSession) {
        let mut stats = lock(&self.runner.stats);
        match (&before.state, &after.state) {
            (JitState::Paid { .. }, _) => {}
            (_, JitState::Paid { fee_msat, .. }) => {
                stats.paid_since_start += 1;
                stats.fees_collected_msat_since_start = stats.fees_collected_msat_since_start.saturating_add(*fee_msat);
                crate::metrics::fee_earned("lsps2", *fee_msat);
                crate::metrics::channel_delivered("lsps2");
            }
            (JitState::Failed { .. } | JitState::Expired, _) => {}
            (_, JitState::Failed { .. }) => {
                stats.failed_since_start += 1;
                crate::metrics::flow_failed("lsps2");
            }
            _ => {}
        }
    }

    fn index(&self, session: &JitSession) {
        let id = Flow::id(session);
        {
            let mut waiting = lock(&self.runner.awaiting_client);
            if matches!(session.state, JitState::AwaitingClient { .. }) {
                waiting.insert(id.clone(), session.client.0);
            } else {
                waiting.remove(&id);
            }
        }
        let channel = match &session.state {
            JitState::Forwarded { channel_id, .. }
            | JitState::ChannelUnpaid { channel_id, .. }
            | JitState::Paid { channel_id, .. } => Some(*channel_id),
            _ => None,
        };
        if let Some(channel) = channel {
            lock(&self.runner.channels).insert(channel, id);
        }
    }
}

pub(super) use crate::intercept::ignore_not_found;
