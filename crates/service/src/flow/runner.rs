//! [`FlowRunner`]: load → step → persist (state + history + outbox, one transaction) → execute
//! the outbox, for any [`Flow`].

use std::collections::{HashMap, VecDeque};
use std::marker::PhantomData;
use std::sync::Arc;

use futures_util::StreamExt;
use inbound_store::{Effect, NewRecord, Record, RecordChange, Store, StoreError};
use lsps::schema::DateTime;
use serde_json::json;
use thiserror::Error;
use tracing::{debug, error, info, warn};

use super::{Flow, FlowDriver, GiveUp, Outcome, RetryPolicy};
use crate::clock::Clock;
use crate::server::BoxFuture;

/// Most follow-up inputs (beyond the queued ones) one run may step; the rest wait for the
/// next tick.
const MAX_CHAINED_STEPS: usize = 32;
/// Effects read from the outbox per drain.
const OUTBOX_BATCH: u32 = 256;
/// Reloads after an optimistic-concurrency conflict before an input is dropped.
const CONFLICT_ATTEMPTS: usize = 3;

/// Why a flow could not be loaded or written.
#[derive(Debug, Error)]
pub enum FlowError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A flow or effect could not be (de)serialised.
    #[error("{id}: {error}")]
    Codec {
        /// The flow's id.
        id: String,
        /// What went wrong.
        error: String,
    },
}

/// One input waiting to be stepped. `input: None` only writes `note` to the history (an
/// effect given up that the flow needs no input for). A give-up's note is written even when
/// its input does not apply; an operator's input that does not apply writes nothing
/// (`note_if_refused: false`).
struct Queued<I> {
    id: String,
    input: Option<I>,
    note: Option<serde_json::Value>,
    note_if_refused: bool,
}

/// What stepping one input did.
enum Stepped {
    /// The new state, history entry and effects were written.
    Written,
    /// Nothing to write (the input changed nothing), or the flow is unreadable.
    Unchanged,
    /// The input does not apply in the flow's state; nothing was written.
    Refused(super::TransitionError),
    /// No such flow.
    Missing,
}

/// What became of an operator's input ([`FlowRunner::apply_noted`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Stepped and written with its note; its effects ran (or wait for a retry).
    Done,
    /// It changed nothing (the flow is already where the input would take it).
    Unchanged,
    /// It does not apply in the flow's state; nothing was written.
    Refused(super::TransitionError),
    /// No flow with that id.
    NotFound,
}

/// Runs one kind of [`Flow`] on a store: steps are serialised by one lock inside the process
/// (the store's version check covers other processes), each step is persisted with its history
/// entry and effects before any effect runs, and failed effects are retried with backoff.
pub struct FlowRunner<F: Flow> {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
    step_lock: tokio::sync::Mutex<()>,
    /// Effects one drain executes at once (1: one after the other, in outbox order).
    concurrency: usize,
    flow: PhantomData<fn() -> F>,
}

impl<F: Flow> FlowRunner<F> {
    /// A runner for `F` on this store and clock.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, retry: RetryPolicy) -> Self {
        FlowRunner { store, clock, retry, step_lock: tokio::sync::Mutex::new(()), concurrency: 1, flow: PhantomData }
    }

    /// Lets one drain execute up to `concurrency` effects at once (at least 1), for flows whose
    /// effects wait on the network (LSPS5 POSTs): a slow effect then holds up only its own slot.
    /// Effects of one drain are then not run in outbox order.
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Now, by the injected clock.
    pub fn now(&self) -> DateTime {
        self.clock.now()
    }

    /// Decodes a stored flow.
    pub fn decode(record: &Record) -> Result<F, FlowError> {
        serde_json::from_value(record.body.clone()).map_err(|e| codec(&record.id, e))
    }

    /// The flow with this id, if any.
    pub async fn get(&self, id: &str) -> Result<Option<F>, FlowError> {
        self.store.get(F::KIND, id).await?.as_ref().map(Self::decode).transpose()
    }

    /// The flow with this SCID, if any.
    pub async fn get_by_scid(&self, scid: u64) -> Result<Option<F>, FlowError> {
        self.store.get_by_scid(F::KIND, scid).await?.as_ref().map(Self::decode).transpose()
    }

    /// Every unfinished flow, oldest first; corrupt ones are logged and skipped so that one bad
    /// row cannot stop the others from resuming.
    pub async fn active(&self) -> Result<Vec<F>, FlowError> {
        let listing = self.store.list_active(F::KIND).await?;
        for corrupt in &listing.corrupt {
            error!(flow = F::NOUN, %corrupt, "skipping a corrupt row");
        }
        let mut flows = Vec::with_capacity(listing.items.len());
        for record in &listing.items {
            match Self::decode(record) {
                Ok(flow) => flows.push(flow),
                Err(error) => error!(flow = F::NOUN, %error, "skipping an unreadable flow"),
            }
        }
        Ok(flows)
    }

    /// Persists a new flow with its first history entry (`cause`) and effects, in one
    /// transaction; with `cap`, only while its client has fewer than `cap` unfinished flows of
    /// this kind ([`StoreError::CapReached`] otherwise). The effects run on the next drain.
    pub async fn insert<D: FlowDriver<F>>(
        &self,
        driver: &D,
        flow: &F,
        cause: &'static str,
        cap: Option<u64>,
        effects: Vec<F::Effect>,
    ) -> Result<(), FlowError> {
        let id = flow.id();
        let now = self.clock.now();
        let indexed = flow.indexed(driver.context(flow, now));
        let record = NewRecord {
            kind: F::KIND,
            id: id.clone(),
            state: indexed.state.to_owned(),
            terminal: indexed.terminal,
            client_node_id: flow.client().map(|client| client.to_string()),
            scid: indexed.scid,
            deadline_unix_ms: indexed.deadline.map(|d| d.unix_millis()),
            body: serde_json::to_value(flow).map_err(|e| codec(&id, e))?,
            created_at_unix_ms: flow.created_at().unix_millis(),
        };
        let effects = encode_effects::<F>(&id, effects)?;
        let detail = json!({ "input": cause });
        match cap {
            Some(cap) => self.store.insert_capped(record, cap, detail, effects).await?,
            None => self.store.insert(record, detail, effects).await?,
        };
        driver.committed(None, flow);
        Ok(())
    }

    /// Holds the step lock: nothing is stepped until the guard drops (for reading in-memory
    /// counters that agree with the store).
    pub async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.step_lock.lock().await
    }

    /// Steps each input in order, and every input that its effects feed back; after each
    /// committed step the due effects run. With `drain_first`, due effects (retries, effects
    /// left by a crash) run before the inputs. `Err` means the store failed: what was not
    /// stepped should be fed again.
    pub async fn run<D: FlowDriver<F>>(
        &self,
        driver: &D,
        inputs: impl IntoIterator<Item = (String, F::Input)>,
        drain_first: bool,
    ) -> Result<(), FlowError> {
        let _guard = self.step_lock.lock().await;
        let mut queue = VecDeque::new();
        if drain_first {
            queue.extend(self.drain(driver).await);
        }
        queue.extend(inputs.into_iter().map(|(id, input)| Queued {
            id,
            input: Some(input),
            note: None,
            note_if_refused: false,
        }));
        let limit = queue.len().saturating_add(MAX_CHAINED_STEPS);
        let mut steps = 0;
        while let Some(item) = queue.pop_front() {
            steps += 1;
            if steps > limit {
                warn!(
                    flow = F::NOUN,
                    left = queue.len() + 1,
                    "too many chained steps; the rest wait for the next tick"
                );
                break;
            }
            if matches!(self.step_one(driver, &item).await?, Stepped::Written) {
                queue.extend(self.drain(driver).await);
            }
        }
        Ok(())
    }

    /// Steps one input given by an operator (an admin action), with `note` (who and why) in
    /// its history entry, then runs the due effects and whatever they feed back. Unlike
    /// [`run`](Self::run) it says whether the input applied.
    pub async fn apply_noted<D: FlowDriver<F>>(
        &self,
        driver: &D,
        id: &str,
        input: F::Input,
        note: serde_json::Value,
    ) -> Result<Applied, FlowError> {
        let applied = {
            let _guard = self.step_lock.lock().await;
            let item = Queued { id: id.to_owned(), input: Some(input), note: Some(note), note_if_refused: false };
            match self.step_one(driver, &item).await? {
                Stepped::Written => Applied::Done,
                Stepped::Unchanged => Applied::Unchanged,
                Stepped::Refused(error) => Applied::Refused(error),
                Stepped::Missing => Applied::NotFound,
            }
        };
        if applied == Applied::Done {
            self.run(driver, [], true).await?;
        }
        Ok(applied)
    }

    /// Loads, steps and persists one flow with its effects.
    async fn step_one<D: FlowDriver<F>>(&self, driver: &D, item: &Queued<F::Input>) -> Result<Stepped, FlowError> {
        let id = item.id.as_str();
        let input_name = item.input.as_ref().map_or("effect_given_up", F::input_name);
        for _ in 0..CONFLICT_ATTEMPTS {
            let Some(record) = self.store.get(F::KIND, id).await? else { return Ok(Stepped::Missing) };
            let flow = match Self::decode(&record) {
                Ok(flow) => flow,
                Err(error) => {
                    error!(flow = F::NOUN, %error, input = input_name, "unreadable flow; input dropped");
                    return Ok(Stepped::Unchanged);
                }
            };
            let now = self.clock.now();
            let context = driver.context(&flow, now);
            let stepped = match &item.input {
                Some(input) => flow.step(input, context),
                None => Ok((flow.clone(), Vec::new())),
            };
            let (next, effects) = match stepped {
                Ok(stepped) => stepped,
                Err(error) if item.note_if_refused => {
                    debug!(flow = F::NOUN, id, %error, "input ignored; recording the note");
                    (flow.clone(), Vec::new())
                }
                Err(error) => {
                    debug!(flow = F::NOUN, id, %error, "input ignored");
                    return Ok(Stepped::Refused(error));
                }
            };
            if next == flow && effects.is_empty() && !item.note_if_refused {
                return Ok(Stepped::Unchanged);
            }
            let indexed = next.indexed(driver.context(&next, now));
            let change = RecordChange {
                state: indexed.state.to_owned(),
                terminal: indexed.terminal,
                scid: indexed.scid,
                deadline_unix_ms: indexed.deadline.map(|d| d.unix_millis()),
                body: serde_json::to_value(&next).map_err(|e| codec(id, e))?,
                at_unix_ms: now.unix_millis(),
            };
            let mut detail = json!({ "input": input_name });
            if let (Some(note), Some(fields)) = (&item.note, detail.as_object_mut()) {
                fields.insert("note".into(), note.clone());
            }
            let effects = encode_effects::<F>(id, effects)?;
            match self.store.update(F::KIND, id, record.version, change, detail, effects).await {
                Ok(_) => {
                    if record.state != indexed.state {
                        info!(flow = F::NOUN, id, from = %record.state, to = indexed.state, "moved");
                    }
                    driver.committed(Some(&flow), &next);
                    return Ok(Stepped::Written);
                }
                Err(error) if error.is_conflict() => continue,
                Err(error) => return Err(error.into()),
            }
        }
        warn!(flow = F::NOUN, id, input = input_name, "kept changing under us; input dropped");
        Ok(Stepped::Unchanged)
    }

    /// Executes every due effect of this kind and settles it; returns the inputs to feed back.
    async fn drain<D: FlowDriver<F>>(&self, driver: &D) -> Vec<Queued<F::Input>> {
        let now = self.clock.now();
        let due = match self.store.due_effects(F::KIND, now.unix_millis(), OUTBOX_BATCH).await {
            Ok(due) => due,
            Err(error) => {
                warn!(flow = F::NOUN, %error, "cannot read the outbox; retrying on the next tick");
                return Vec::new();
            }
        };
        for corrupt in &due.corrupt {
            error!(flow = F::NOUN, %corrupt, "corrupt outbox row; it stays until repaired");
        }
        let mut flows: HashMap<String, Option<F>> = HashMap::new();
        let mut runnable = Vec::new();
        for effect in due.items {
            let Some(parsed) = parse_effect::<F>(&effect.body) else {
                error!(flow = F::NOUN, effect_id = effect.effect_id, body = %effect.body, "unreadable effect; giving it up");
                self.settle(self.store.give_up_effect(effect.effect_id, now.unix_millis(), "unreadable effect").await);
                continue;
            };
            if !flows.contains_key(&effect.aggregate_id) {
                let loaded = match self.get(&effect.aggregate_id).await {
                    Ok(flow) => flow,
                    Err(error) => {
                        warn!(flow = F::NOUN, %error, "cannot load the flow of an effect; retrying later");
                        continue;
                    }
                };
                flows.insert(effect.aggregate_id.clone(), loaded);
            }
            if let Some(None) = flows.get(&effect.aggregate_id) {
                // The flow is gone (retention); nothing is left to do for it.
                self.settle(self.store.complete_effect(effect.effect_id, now.unix_millis()).await);
                continue;
            }
            runnable.push((effect, parsed));
        }
        let jobs: Vec<BoxFuture<'_, Option<Queued<F::Input>>>> = runnable
            .iter()
            .filter_map(|(effect, parsed)| {
                let flow = flows.get(&effect.aggregate_id)?.as_ref()?;
                Some(Box::pin(self.execute_one(driver, flow, effect, parsed)) as BoxFuture<'_, _>)
            })
            .collect();
        // At most `concurrency` at once; with 1, one after the other in outbox order.
        futures_util::stream::iter(jobs)
            .buffer_unordered(self.concurrency)
            .filter_map(std::future::ready)
            .collect()
            .await
    }

    /// Executes one effect and settles it; returns the input to feed back, if any.
    async fn execute_one<D: FlowDriver<F>>(
        &self,
        driver: &D,
        flow: &F,
        effect: &Effect,
        parsed: &F::Effect,
    ) -> Option<Queued<F::Input>> {
        match driver.execute(flow, parsed).await {
            Outcome::Done => {
                self.settle(self.store.complete_effect(effect.effect_id, self.now_ms()).await);
                None
            }
            Outcome::Feed(input) => {
                self.settle(self.store.complete_effect(effect.effect_id, self.now_ms()).await);
                Some(Queued { id: effect.aggregate_id.clone(), input: Some(input), note: None, note_if_refused: false })
            }
            Outcome::Retry(reason) => self.failed(effect, parsed, reason).await,
        }
    }

    /// Records a failed attempt: retried after the backoff, or given up by the flow's rule.
    async fn failed(&self, effect: &Effect, parsed: &F::Effect, reason: String) -> Option<Queued<F::Input>> {
        let attempts = effect.attempts.saturating_add(1);
        let name = F::effect_name(parsed);
        let id = effect.aggregate_id.as_str();
        let give_up = F::give_up(parsed);
        if self.retry.exhausted(attempts) && !matches!(give_up, GiveUp::Never) {
            error!(flow = F::NOUN, id, effect = name, attempts, %reason, "effect failed too often; given up");
            self.settle(self.store.give_up_effect(effect.effect_id, self.now_ms(), &reason).await);
            let note = json!({ "effect_given_up": name, "attempts": attempts, "error": reason });
            let input = match give_up {
                GiveUp::Feed(input) => Some(input),
                GiveUp::Never | GiveUp::Record => None,
            };
            return Some(Queued { id: id.to_owned(), input, note: Some(note), note_if_refused: true });
        }
        let delay = self.retry.delay(attempts);
        let next = self.now_ms().saturating_add(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX));
        if self.retry.exhausted(attempts) {
            error!(flow = F::NOUN, id, effect = name, attempts, %reason, "effect keeps failing; retrying");
        } else {
            warn!(flow = F::NOUN, id, effect = name, attempts, %reason, retry_in_ms = delay.as_millis() as u64, "effect failed; will retry");
        }
        if let Err(error) = self.store.retry_effect(effect.effect_id, next, &reason).await {
            warn!(flow = F::NOUN, effect_id = effect.effect_id, %error, "cannot record the failed attempt");
        }
        None
    }

    fn now_ms(&self) -> u64 {
        self.clock.now().unix_millis()
    }

    /// Logs a failure to settle an effect: it stays pending and runs again (effects are
    /// idempotent).
    fn settle(&self, result: Result<(), StoreError>) {
        if let Err(error) = result {
            warn!(flow = F::NOUN, %error, "cannot settle an effect; it will run again");
        }
    }
}

fn encode_effects<F: Flow>(id: &str, effects: Vec<F::Effect>) -> Result<Vec<serde_json::Value>, FlowError> {
    effects.into_iter().map(|effect| serde_json::to_value(effect).map_err(|e| codec(id, e))).collect()
}

/// An outbox body as the flow's effect. Bodies written before the kernel wrapped the effect in
/// an envelope with its flow's id (`{"session_id"|"order_id": …, "effect": …}`); those are read
/// too, so that effects pending across an upgrade still run.
fn parse_effect<F: Flow>(body: &serde_json::Value) -> Option<F::Effect> {
    serde_json::from_value(body.clone())
        .ok()
        .or_else(|| body.get("effect").and_then(|inner| serde_json::from_value(inner.clone()).ok()))
}

fn codec(id: &str, error: serde_json::Error) -> FlowError {
    FlowError::Codec { id: id.to_owned(), error: error.to_string() }
}
