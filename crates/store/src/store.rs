//! The [`Store`] trait: what a flow runner may ask of durable storage.

use std::future::Future;
use std::pin::Pin;

use crate::{
    ClientActivity, Effect, HistoryEntry, Kind, Listing, NewRecord, Record, RecordChange, Search, StateCount,
    StoreError,
};

/// The future every [`Store`] method returns. Boxed so that the trait can be used as
/// `Arc<dyn Store>`.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file (or `sqlite::memory:`), embedded in the process.
    Sqlite,
    /// A PostgreSQL server, possibly shared by several front-end processes.
    Postgres,
}

/// Durable, versioned aggregates with an audit trail and an outbox.
///
/// # How a flow runner uses it
///
/// 1. Load the aggregate ([`Store::get`] or [`Store::get_by_scid`]), decode its body, and call
///    the state machine's pure `step` with the input.
/// 2. Write the new state and the effects `step` returned with [`Store::update`] (or
///    [`Store::insert`] for a new flow). This is one transaction: the state, one history
///    entry and the effects become durable together, or not at all.
/// 3. Only then run the effects, and call [`Store::complete_effect`] after each finishes.
/// 4. On restart, resume every flow from [`Store::list_active`] and re-run every effect from
///    [`Store::pending_effects`].
///
/// If [`Store::update`] returns [`StoreError::Conflict`], another task or process changed
/// the aggregate first: nothing was written, so reload and step again.
///
/// Every time is an argument in Unix milliseconds; the store reads no clock.
pub trait Store: Send + Sync {
    /// Which database this store runs on.
    fn backend(&self) -> Backend;

    /// Inserts a new aggregate at version 1, with its first history entry (`from_state` is
    /// `None`, `detail` as given) and its effects, in one transaction.
    ///
    /// Fails with [`StoreError::DuplicateId`] or [`StoreError::DuplicateScid`], writing nothing.
    fn insert(
        &self,
        new: NewRecord,
        detail: serde_json::Value,
        effects: Vec<serde_json::Value>,
    ) -> StoreFuture<'_, Record>;

    /// [`Store::insert`], unless the client (`new.client_node_id`) already has `max_active`
    /// non-terminal aggregates of this kind: then [`StoreError::CapReached`] and nothing is
    /// written. The count and the insert are one transaction that concurrent inserts for the
    /// same client cannot interleave with (SQLite's write lock; a per-client advisory lock on
    /// PostgreSQL), so N concurrent inserts leave exactly `max_active` aggregates.
    fn insert_capped(
        &self,
        new: NewRecord,
        max_active: u64,
        detail: serde_json::Value,
        effects: Vec<serde_json::Value>,
    ) -> StoreFuture<'_, Record>;

    /// Replaces the aggregate's mutable fields if it is still at `expected_version`, bumps the
    /// version, appends a history entry (old state → `change.state`) and enqueues the effects,
    /// in one transaction.
    ///
    /// Fails with [`StoreError::Conflict`] (another writer won), [`StoreError::NotFound`] or
    /// [`StoreError::DuplicateScid`], writing nothing. The version check runs inside the
    /// database, so it holds across processes sharing one PostgreSQL database.
    fn update<'a>(
        &'a self,
        kind: Kind,
        id: &'a str,
        expected_version: i64,
        change: RecordChange,
        detail: serde_json::Value,
        effects: Vec<serde_json::Value>,
    ) -> StoreFuture<'a, Record>;

    /// The aggregate with this kind and id, if it exists.
    fn get<'a>(&'a self, kind: Kind, id: &'a str) -> StoreFuture<'a, Option<Record>>;

    /// The aggregate of this kind that holds this SCID, if any (SCIDs are unique per kind).
    fn get_by_scid(&self, kind: Kind, scid: u64) -> StoreFuture<'_, Option<Record>>;

    /// Every aggregate of this kind that is not terminal, oldest first. Call it on restart to
    /// resume every flow.
    fn list_active(&self, kind: Kind) -> StoreFuture<'_, Listing<Record>>;

    /// At most `limit` aggregates of this kind for one client, terminal or not, newest first.
    fn list_by_client<'a>(
        &'a self,
        kind: Kind,
        client_node_id: &'a str,
        limit: u32,
    ) -> StoreFuture<'a, Listing<Record>>;

    /// How many non-terminal aggregates of this kind one client has, for per-client caps.
    fn count_active_by_client<'a>(&'a self, kind: Kind, client_node_id: &'a str) -> StoreFuture<'a, u64>;

    /// Every non-terminal aggregate of this kind whose deadline is at or before
    /// `now_unix_ms`, earliest deadline first. Feed each one a tick.
    fn list_due(&self, kind: Kind, now_unix_ms: u64) -> StoreFuture<'_, Listing<Record>>;

    /// The aggregate's audit trail, in order (seq 1 first). Empty if the aggregate does not
    /// exist. A corrupt entry fails the call, naming the entry.
    fn history<'a>(&'a self, kind: Kind, id: &'a str) -> StoreFuture<'a, Vec<HistoryEntry>>;

    /// At most `limit` effects that have not been completed, oldest first. Call it on
    /// restart (and after a runner crash) to replay the outbox.
    fn pending_effects(&self, limit: u32) -> StoreFuture<'_, Listing<Effect>>;

    /// At most `limit` effects of `kind` that are not completed and are due at `now_unix_ms`
    /// (never failed, or their retry time has come), oldest first. The runner's outbox drain.
    fn due_effects(&self, kind: Kind, now_unix_ms: u64, limit: u32) -> StoreFuture<'_, Listing<Effect>>;

    /// Records a failed attempt of a pending effect: one more attempt, `error` as its last
    /// error, and not due again before `next_attempt_unix_ms`. Returns the attempts so far.
    /// Fails with [`StoreError::EffectNotFound`] for an id that is not pending.
    fn retry_effect<'a>(&'a self, effect_id: i64, next_attempt_unix_ms: u64, error: &'a str) -> StoreFuture<'a, u32>;

    /// Gives a pending effect up at `now_unix_ms`: it is completed (never run again) and marked
    /// given up with `error`. Idempotent like [`Store::complete_effect`].
    fn give_up_effect<'a>(&'a self, effect_id: i64, now_unix_ms: u64, error: &'a str) -> StoreFuture<'a, ()>;

    /// Marks an effect as done at `now_unix_ms`. Idempotent: completing a completed effect
    /// succeeds and keeps the first completion time. Fails with
    /// [`StoreError::EffectNotFound`] for an id the outbox does not hold.
    fn complete_effect(&self, effect_id: i64, now_unix_ms: u64) -> StoreFuture<'_, ()>;

    /// Deletes terminal aggregates of this kind last updated before `before_unix_ms`, with
    /// their history and completed effects, and returns how many aggregates went. An
    /// aggregate that still has a pending effect is kept until the effect completes.
    fn delete_terminal_before(&self, kind: Kind, before_unix_ms: u64) -> StoreFuture<'_, u64>;

    /// The aggregates that match an operator's [`Search`], newest first, at most its limit
    /// (and never more than [`MAX_SEARCH_LIMIT`](crate::MAX_SEARCH_LIMIT)).
    fn search<'a>(&'a self, search: &'a Search) -> StoreFuture<'a, Listing<Record>>;

    /// How many aggregates of this kind are in each state, finished or not, ordered by state.
    fn count_by_state(&self, kind: Kind) -> StoreFuture<'_, Vec<StateCount>>;

    /// The clients with aggregates, most recently active first (at most `limit`, capped at
    /// [`MAX_SEARCH_LIMIT`](crate::MAX_SEARCH_LIMIT), after skipping `offset`), each with its
    /// counts per kind.
    fn clients(&self, limit: u32, offset: u32) -> StoreFuture<'_, Vec<ClientActivity>>;

    /// Closes every connection, waiting for calls in progress. Call it on shutdown; a store
    /// that is dropped without it loses nothing that was committed.
    fn close(&self) -> StoreFuture<'_, ()>;
}
