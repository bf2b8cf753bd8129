//! The flow kernel: every durable flow of the LSP (LSPS1 orders, LSPS2 sessions) is a [`Flow`]
//! run by one generic [`FlowRunner`].
//!
//! A flow is a state machine whose [`Flow::step`] is pure: it takes the state, one input and a
//! context (the time, and whatever else the flow reads from the world), and returns the next
//! state and the effects to carry out, or a [`TransitionError`] for an input that makes no
//! sense in that state. The runner does everything else, the same way for every flow:
//!
//! ```text
//! input ─▶ load ─▶ step ─▶ store.update(next state + history entry + effects)   (one transaction)
//!                                      │
//!                                      ▼
//!       drain the outbox: execute each due effect through the flow's FlowDriver, then
//!         done       → complete it
//!         Feed(i)    → complete it, and step the flow with `i`
//!         Retry(why) → keep it, one more attempt, due again after a backoff (survives restarts)
//!                      until the flow's give-up rule for that effect says enough:
//!                      then it is given up, and the flow hears of it (an input, or a history entry)
//! ```
//!
//! Effects must be idempotent: a crash between executing one and completing it runs it again
//! after the restart.

mod retry;
mod runner;
#[cfg(test)]
mod tests;

pub use retry::{RetryPolicy, DEFAULT_RETRY_BASE_DELAY, DEFAULT_RETRY_MAX_ATTEMPTS, DEFAULT_RETRY_MAX_DELAY};
pub use runner::{Applied, FlowError, FlowRunner};

use std::fmt::Debug;

use inbound_store::Kind;
use lsps::schema::{DateTime, NodeId};
use serde::de::DeserializeOwned;
use serde::Serialize;
use thiserror::Error;

use crate::server::BoxFuture;

/// An input that makes no sense in the flow's state.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("input {input} is not valid in state {state}")]
pub struct TransitionError {
    /// The state's name.
    pub state: &'static str,
    /// The input's name.
    pub input: &'static str,
}

/// What the store indexes a flow by, besides its id and kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Indexed {
    /// The short state name (history, listings, metrics).
    pub state: &'static str,
    /// Whether nothing more can happen (terminal flows are not resumed).
    pub terminal: bool,
    /// The SCID (or other `u64` key) the flow is looked up by, unique per kind.
    pub scid: Option<u64>,
    /// When the flow must next be woken with a tick.
    pub deadline: Option<DateTime>,
}

/// What happens when an effect keeps failing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GiveUp<I> {
    /// Never give up: retry at the policy's longest delay for as long as it takes (money is
    /// owed, e.g. a refund or a funding broadcast).
    Never,
    /// Give up after the policy's attempts; the flow's history records it.
    Record,
    /// Give up after the policy's attempts and step the flow with this input.
    Feed(I),
}

/// How executing one effect went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome<I> {
    /// Done (or moot); never run again.
    Done,
    /// Done; step the flow with this input (e.g. a refused open → `OpenFailed`).
    Feed(I),
    /// Failed in a way worth retrying; kept in the outbox with the error.
    Retry(String),
}

/// A durable flow: a state machine the [`FlowRunner`] persists, steps and drives.
pub trait Flow: Clone + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Which aggregates of the store hold this flow.
    const KIND: Kind;
    /// What it is called in logs ("LSPS1 order").
    const NOUN: &'static str;
    /// What can happen to it.
    type Input: Clone + Debug + Send + Sync + 'static;
    /// What it asks the world to do; stored in the outbox.
    type Effect: Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static;
    /// What a step may read besides the state and the input.
    type Context<'a>: Copy;

    /// The store id of this flow.
    fn id(&self) -> String;
    /// The client, for per-client listings and caps.
    fn client(&self) -> Option<NodeId>;
    /// When it was created.
    fn created_at(&self) -> DateTime;
    /// The fields the store indexes, in this context.
    fn indexed(&self, context: Self::Context<'_>) -> Indexed;
    /// A short, stable name of an input (history entries, logs, errors).
    fn input_name(input: &Self::Input) -> &'static str;
    /// A short, stable name of an effect.
    fn effect_name(effect: &Self::Effect) -> &'static str;
    /// Applies one input: the next state and the effects to carry out, in order, once the
    /// next state is persisted.
    fn step(
        &self,
        input: &Self::Input,
        context: Self::Context<'_>,
    ) -> Result<(Self, Vec<Self::Effect>), TransitionError>;
    /// What to do when `effect` keeps failing.
    fn give_up(effect: &Self::Effect) -> GiveUp<Self::Input>;
}

/// The world of one flow: how to build its context and how to carry out its effects. Holds
/// the node-facing trait objects; tests use fakes.
pub trait FlowDriver<F: Flow>: Send + Sync {
    /// The context for stepping `flow` at `now`.
    fn context<'a>(&'a self, flow: &F, now: DateTime) -> F::Context<'a>;
    /// Carries out one effect of `flow` (its current state).
    fn execute<'a>(&'a self, flow: &'a F, effect: &'a F::Effect) -> BoxFuture<'a, Outcome<F::Input>>;
    /// Called after a change of `flow` was committed (`before` is `None` for an insert):
    /// in-memory indexes, counters and log lines.
    fn committed(&self, before: Option<&F>, after: &F) {
        let _ = (before, after);
    }
}
