//! The event side of [`Lsps2Service`]: node events and timers become [`JitInput`]s, and every
//! step follows "persist before you act":
//!
//! ```text
//! event / tick ─▶ load session ─▶ step ─▶ store.update(next state + effects)  (one transaction)
//!                                              │
//!                                              ▼
//!                        drain the outbox: execute each effect, then complete_effect
//!                        (a failed open or forward feeds OpenFailed / ForwardFailed back in)
//! ```
//!
//! Steps are serialised by one lock, so two inputs never race on a session inside this
//! process; the store's version check covers other processes. Effects are idempotent: failing
//! or forwarding an HTLC LDK no longer holds is "not found" and ignored, an open is skipped
//! when a channel with the session's `user_channel_id` exists, and broadcasting twice is
//! harmless. On restart [`Lsps2Service::resume`] replays the outbox, and LDK re-emits
//! `HTLCIntercepted` for HTLCs it still holds, which the session ignores as replays.
//!
//! HTLC failures: LDK 0.2.7's `fail_intercepted_htlc` always answers `unknown_next_peer`, so
//! [`HtlcFailure::TemporaryChannelFailure`] (bLIP-52's choice for the MPP timeout, an offline
//! client and a failed open) cannot be sent yet. The sessions keep the spec's intent in
//! their effects; only the wire code deviates.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bitcoin::secp256k1::PublicKey;
use inbound_store::{Kind, Record, RecordChange, StoreError};
use lsps::schema::NodeId;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tracing::{debug, info, warn};

use super::ops::{JitLightning, OpenRequest, OpsError};
use super::service::{session_id, Lsps2Service, MAX_TRACKED_UNPAID_CLIENTS};
use super::session::{ChannelRef, Context, HeldHtlc, HtlcFailure, JitEffect, JitInput, JitSession, JitState};

/// Most follow-up inputs one event may cause (a failed open feeding `OpenFailed`, …).
const MAX_CHAINED_STEPS: usize = 16;
/// Effects read from the outbox per drain.
const OUTBOX_BATCH: u32 = 256;

/// Why a session could not be loaded or written.
#[derive(Debug, Error)]
pub enum SessionError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A session or effect could not be (de)serialised.
    #[error("session {id}: {error}")]
    Codec {
        /// The session's id.
        id: String,
        /// What went wrong.
        error: String,
    },
}

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

/// An effect in the outbox, with what executing it needs from its session.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct StoredEffect {
    session_id: String,
    client: NodeId,
    #[serde(with = "u128_text")]
    user_channel_id: u128,
    client_trusts_lsp: bool,
    max_client_to_self_delay: u32,
    effect: JitEffect,
}

mod u128_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &u128, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u128, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

/// The runner's in-memory state (rebuilt by [`Lsps2Service::resume`]).
#[derive(Default)]
pub(crate) struct RunnerState {
    step_lock: tokio::sync::Mutex<()>,
    /// Sessions waiting for their client to connect: id → client.
    awaiting_client: Mutex<HashMap<String, PublicKey>>,
    /// JIT channels → their session id.
    channels: Mutex<HashMap<ChannelRef, String>>,
    stats: Mutex<Lsps2Stats>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Lsps2Service {
    /// Resumes after a (re)start: rebuilds the in-memory indexes from the unfinished sessions,
    /// replays the outbox, and restarts opens the node forgot (an unfunded channel does not
    /// survive a restart; the held payment does, and LDK replays it): opened again when the
    /// client is connected, else the session waits for the client. Call it after [`Lsps2Service::attach`].
    pub async fn resume(&self) -> Result<usize, SessionError> {
        let Some(lightning) = self.lightning() else { return Ok(0) };
        let listing = self.store.list_active(Kind::Lsps2Session).await?;
        for corrupt in &listing.corrupt {
            warn!(%corrupt, "skipping a corrupt LSPS2 session");
        }
        let mut forgotten_opens = Vec::new();
        let count = listing.items.len();
        for record in listing.items {
            let session = decode(&record)?;
            self.index(&record.id, &session);
            if matches!(session.state, JitState::OpeningChannel { .. })
                && !lightning.has_channel(session.user_channel_id)
            {
                forgotten_opens.push(record.id);
            }
        }
        let _guard = self.runner.step_lock.lock().await;
        let mut queue: VecDeque<(String, JitInput)> = self.drain_outbox(lightning.as_ref()).await.into();
        queue.extend(forgotten_opens.into_iter().map(|id| (id, JitInput::OpenInterrupted)));
        self.run_queue(lightning.as_ref(), queue).await?;
        info!(sessions = count, "LSPS2 sessions resumed");
        Ok(count)
    }

    /// Handles one node event. `Err` means the store failed and the event should be replayed.
    pub async fn on_event(&self, event: JitEvent) -> Result<(), SessionError> {
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
        let _guard = self.runner.step_lock.lock().await;
        self.run_queue(lightning.as_ref(), VecDeque::from([(id, input)])).await
    }

    /// Wakes every session whose deadline has passed (by the injected clock), opens for
    /// waiting clients that connected, and retries effects left in the outbox. The ticker
    /// ([`Lsps2Service::spawn_ticker`]) calls it every second; tests call it directly.
    pub async fn tick(&self) -> Result<(), SessionError> {
        let Some(lightning) = self.lightning() else { return Ok(()) };
        let now = self.clock.now();
        let due = self.store.list_due(Kind::Lsps2Session, now.unix_millis()).await?;
        let mut queue: VecDeque<(String, JitInput)> =
            due.items.into_iter().map(|record| (record.id, JitInput::Tick)).collect();
        let connected: Vec<String> = lock(&self.runner.awaiting_client)
            .iter()
            .filter(|(_, client)| lightning.is_connected(client))
            .map(|(id, _)| id.clone())
            .collect();
        queue.extend(connected.into_iter().map(|id| (id, JitInput::ClientConnected)));
        let _guard = self.runner.step_lock.lock().await;
        let follow_ups = self.drain_outbox(lightning.as_ref()).await;
        queue.extend(follow_ups);
        self.run_queue(lightning.as_ref(), queue).await
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
    pub async fn session(&self, user_channel_id: u128) -> Result<Option<JitSession>, SessionError> {
        match self.store.get(Kind::Lsps2Session, &session_id(user_channel_id)).await? {
            Some(record) => decode(&record).map(Some),
            None => Ok(None),
        }
    }

    /// The session holding this intercept SCID, if any.
    pub async fn session_by_scid(&self, scid: u64) -> Result<Option<JitSession>, SessionError> {
        match self.store.get_by_scid(Kind::Lsps2Session, scid).await? {
            Some(record) => decode(&record).map(Some),
            None => Ok(None),
        }
    }

    /// Sessions by state and the fees collected since start.
    ///
    /// Taken under the step lock, so that a session seen in the store as paid or failed is
    /// already counted (the counters are updated right after the store commits a step).
    pub async fn stats(&self) -> Result<Lsps2Stats, SessionError> {
        let _guard = self.runner.step_lock.lock().await;
        let mut stats = lock(&self.runner.stats).clone();
        for record in self.store.list_active(Kind::Lsps2Session).await?.items {
            *stats.active_by_state.entry(record.state).or_default() += 1;
        }
        Ok(stats)
    }

    /// Steps each queued input, then executes the effects; follow-ups join the queue.
    async fn run_queue(
        &self,
        lightning: &dyn JitLightning,
        mut queue: VecDeque<(String, JitInput)>,
    ) -> Result<(), SessionError> {
        let mut steps = 0;
        while let Some((id, input)) = queue.pop_front() {
            steps += 1;
            if steps > MAX_CHAINED_STEPS {
                warn!(left = queue.len() + 1, "too many chained LSPS2 steps; the rest wait for the next tick");
                break;
            }
            if !self.step_and_persist(lightning, &id, input).await? {
                continue;
            }
            queue.extend(self.drain_outbox(lightning).await);
        }
        Ok(())
    }

    /// Loads, steps and persists one session with its effects. `true` if something was written.
    async fn step_and_persist(
        &self,
        lightning: &dyn JitLightning,
        id: &str,
        input: JitInput,
    ) -> Result<bool, SessionError> {
        const ATTEMPTS: usize = 3;
        for _ in 0..ATTEMPTS {
            let Some(record) = self.store.get(Kind::Lsps2Session, id).await? else {
                return Ok(false);
            };
            let session = decode(&record)?;
            let context = Context {
                now: self.clock.now(),
                client_online: lightning.is_connected(&session.client.0),
                policy: &self.config.policy,
            };
            let (next, effects) = match session.step(input.clone(), context) {
                Ok(stepped) => stepped,
                Err(error) => {
                    debug!(session = id, %error, "input ignored");
                    return Ok(false);
                }
            };
            if next == session && effects.is_empty() {
                return Ok(false);
            }
            let mut stored = Vec::with_capacity(effects.len());
            for effect in effects {
                let envelope = StoredEffect {
                    session_id: id.to_owned(),
                    client: next.client,
                    user_channel_id: next.user_channel_id,
                    client_trusts_lsp: next.client_trusts_lsp,
                    max_client_to_self_delay: next.opening_fee_params.max_client_to_self_delay,
                    effect,
                };
                stored.push(serde_json::to_value(&envelope).map_err(|e| codec(id, e))?);
            }
            let change = RecordChange {
                state: next.state.name().to_owned(),
                terminal: next.state.is_terminal(),
                scid: Some(next.intercept_scid.0),
                deadline_unix_ms: next.next_deadline(&self.config.policy).map(|d| d.unix_millis()),
                body: serde_json::to_value(&next).map_err(|e| codec(id, e))?,
                at_unix_ms: context.now.unix_millis(),
            };
            let detail = serde_json::json!({ "input": input.name() });
            match self.store.update(Kind::Lsps2Session, id, record.version, change, detail, stored).await {
                Ok(_) => {
                    if session.state.name() != next.state.name() {
                        info!(session = id, from = session.state.name(), to = next.state.name(), "LSPS2 session moved");
                    }
                    self.record_transition(id, &session, &next);
                    return Ok(true);
                }
                Err(error) if error.is_conflict() => continue,
                Err(error) => return Err(error.into()),
            }
        }
        warn!(session = id, "LSPS2 session kept changing under us; input dropped");
        Ok(false)
    }

    fn record_transition(&self, id: &str, before: &JitSession, after: &JitSession) {
        self.index(id, after);
        let mut stats = lock(&self.runner.stats);
        match (&before.state, &after.state) {
            (JitState::Paid { .. }, _) => {}
            (_, JitState::Paid { fee_msat, .. }) => {
                stats.paid_since_start += 1;
                stats.fees_collected_msat_since_start = stats.fees_collected_msat_since_start.saturating_add(*fee_msat);
            }
            (JitState::Failed { .. } | JitState::Expired, _) => {}
            (_, JitState::Failed { .. }) => stats.failed_since_start += 1,
            _ => {}
        }
    }

    fn index(&self, id: &str, session: &JitSession) {
        {
            let mut waiting = lock(&self.runner.awaiting_client);
            if matches!(session.state, JitState::AwaitingClient { .. }) {
                waiting.insert(id.to_owned(), session.client.0);
            } else {
                waiting.remove(id);
            }
        }
        let channel = match &session.state {
            JitState::Forwarded { channel_id, .. }
            | JitState::ChannelUnpaid { channel_id, .. }
            | JitState::Paid { channel_id, .. } => Some(*channel_id),
            _ => None,
        };
        if let Some(channel) = channel {
            lock(&self.runner.channels).insert(channel, id.to_owned());
        }
    }

    /// Executes every pending effect and marks it done; returns the inputs failures cause.
    async fn drain_outbox(&self, lightning: &dyn JitLightning) -> Vec<(String, JitInput)> {
        let pending = match self.store.pending_effects(OUTBOX_BATCH).await {
            Ok(pending) => pending,
            Err(error) => {
                warn!(%error, "cannot read the LSPS2 outbox; retrying on the next tick");
                return Vec::new();
            }
        };
        let mut follow_ups = Vec::new();
        for effect in pending.items.into_iter().filter(|effect| effect.kind == Kind::Lsps2Session) {
            match serde_json::from_value::<StoredEffect>(effect.body.clone()) {
                Ok(stored) => {
                    if let Some(input) = self.execute(lightning, &stored) {
                        follow_ups.push((stored.session_id.clone(), input));
                    }
                }
                Err(error) => warn!(effect_id = effect.effect_id, %error, "dropping an unreadable LSPS2 effect"),
            }
            let now = self.clock.now().unix_millis();
            if let Err(error) = self.store.complete_effect(effect.effect_id, now).await {
                warn!(effect_id = effect.effect_id, %error, "cannot complete an LSPS2 effect; it will run again");
            }
        }
        follow_ups
    }

    /// Carries out one effect. Returns the input to feed back when it failed in a way the
    /// session must know about.
    fn execute(&self, lightning: &dyn JitLightning, stored: &StoredEffect) -> Option<JitInput> {
        let session = stored.session_id.as_str();
        let client = stored.client.0;
        match &stored.effect {
            JitEffect::FailHtlcs { htlcs, failure } => {
                if *failure == HtlcFailure::TemporaryChannelFailure {
                    debug!(session, "temporary_channel_failure intended; LDK 0.2.7 sends unknown_next_peer");
                }
                for htlc in htlcs {
                    ignore_not_found(lightning.fail_htlc(*htlc), "failing an HTLC");
                }
                None
            }
            JitEffect::OpenChannel { forward_msat, manual_broadcast } => {
                if lightning.has_channel(stored.user_channel_id) {
                    debug!(session, "channel already being opened; not opening twice");
                    return None;
                }
                if !lightning.is_connected(&client) {
                    // E.g. replayed after a restart, before the client reconnected: not a
                    // failed open; the session keeps the payment and waits for the client.
                    info!(session, %client, "client not connected for the JIT open; waiting for it");
                    return Some(JitInput::OpenInterrupted);
                }
                let Some(channel_sat) = self.config.sizing.channel_sat(*forward_msat) else {
                    warn!(session, forward_msat, "payment too large for a JIT channel");
                    return Some(JitInput::OpenFailed);
                };
                let request = OpenRequest {
                    client,
                    channel_sat,
                    user_channel_id: stored.user_channel_id,
                    manual_broadcast: *manual_broadcast,
                    max_client_to_self_delay: u16::try_from(stored.max_client_to_self_delay).unwrap_or(u16::MAX),
                };
                match lightning.open_channel(&request) {
                    Ok(()) => {
                        // `open_channel` goes out now, not after this event's handling ends.
                        lightning.flush();
                        info!(session, %client, channel_sat, manual_broadcast, "opening JIT channel");
                        None
                    }
                    Err(error) => {
                        warn!(session, %error, "JIT channel open refused");
                        Some(JitInput::OpenFailed)
                    }
                }
            }
            JitEffect::ForwardHtlcs { channel_id, forwards } => {
                let mut failed = false;
                for (htlc, amount_msat) in forwards {
                    match lightning.forward_htlc(*htlc, *channel_id, client, *amount_msat) {
                        Ok(()) | Err(OpsError::NotFound) => {}
                        Err(error) => {
                            warn!(session, %error, "forward failed; failing the HTLC back");
                            ignore_not_found(lightning.fail_htlc(*htlc), "failing an unforwardable HTLC");
                            failed = true;
                        }
                    }
                }
                // The HTLCs leave now instead of after LDK's forwarding batch delay.
                lightning.flush();
                debug!(session, htlcs = forwards.len(), "JIT HTLCs forwarded");
                failed.then_some(JitInput::ForwardFailed)
            }
            JitEffect::BroadcastFunding => {
                match lightning.broadcast_funding(stored.user_channel_id) {
                    Ok(()) => info!(session, "fee collected; JIT funding broadcast"),
                    Err(error) => warn!(session, %error, "cannot broadcast the JIT funding"),
                }
                None
            }
            JitEffect::AbandonChannel => {
                ignore_not_found(
                    lightning.abandon_channel(stored.user_channel_id, stored.client_trusts_lsp),
                    "abandoning a JIT channel",
                );
                None
            }
            JitEffect::CloseChannel { channel_id, force } => {
                ignore_not_found(lightning.close_channel(*channel_id, client, *force), "closing a JIT channel");
                None
            }
            JitEffect::NotifyClient => {
                // LSPS5 `payment_incoming` is not wired yet; the client must connect by itself.
                info!(session, %client, "payment waiting for an offline client");
                None
            }
            JitEffect::RecordUnpaid => {
                let mut unpaid = lock(&self.unpaid);
                if unpaid.len() < MAX_TRACKED_UNPAID_CLIENTS || unpaid.contains_key(&client) {
                    *unpaid.entry(client).or_default() += 1;
                }
                warn!(session, %client, "client left a JIT channel unpaid");
                None
            }
        }
    }
}

fn decode(record: &Record) -> Result<JitSession, SessionError> {
    serde_json::from_value(record.body.clone()).map_err(|e| codec(&record.id, e))
}

fn codec(id: &str, error: serde_json::Error) -> SessionError {
    SessionError::Codec { id: id.to_owned(), error: error.to_string() }
}

fn ignore_not_found(result: Result<(), OpsError>, what: &str) {
    match result {
        Ok(()) | Err(OpsError::NotFound) => {}
        Err(error) => warn!(%error, "{what}"),
    }
}
