//! The durable state of the LSP's flows: LSPS2 JIT sessions (bLIP-52), LSPS1 orders
//! (bLIP-51) and LSPS5 webhooks (bLIP-55).
//!
//! Each flow is a state machine that serialises itself to JSON. The store keeps it as a
//! versioned *aggregate* ([`Record`]) and does not look inside, apart from the few fields a
//! flow is looked up by: its state name, whether it is finished, its client, its intercept
//! SCID and its next deadline. Every change is one transaction that
//!
//! 1. checks the version the caller read (optimistic concurrency, safe across processes),
//! 2. writes the new state,
//! 3. appends one [`HistoryEntry`] (the operator's audit trail), and
//! 4. enqueues the [`Effect`]s the transition asked for (the outbox).
//!
//! Effects run only after that commit, and are replayed after a restart until completed, so
//! a crash can never leave an effect without its state or a state without its effects.
//!
//! # Backends
//!
//! [`open`] picks the database from one configured string (see [`open`] for the forms):
//! SQLite, a file in the data directory, is the embedded default; PostgreSQL lets several
//! front-end processes share one database. Both run the same SQL and the same versioned
//! migrations, applied when the store opens.
//!
//! # Architecture invariants
//!
//! * The store reads no clock: every time is an argument in Unix milliseconds.
//! * A database row is untrusted input. A bad row is a [`CorruptRow`] error naming its table,
//!   column and id, never a panic, and listings still return every good row ([`Listing`]).
//! * `u64` values round-trip exactly or are refused: SCIDs are stored bit-for-bit, and
//!   millisecond times above `i64::MAX` are [`StoreError::OutOfRange`].
//!
//! # Example
//!
//! ```
//! # async fn example() -> Result<(), inbound_store::StoreError> {
//! use inbound_store::{Kind, NewRecord, RecordChange};
//! use serde_json::json;
//!
//! let store = inbound_store::open("sqlite::memory:").await?;
//! let order = store
//!     .insert(
//!         NewRecord {
//!             kind: Kind::Lsps1Order,
//!             id: "order-1".into(),
//!             state: "awaiting_payment".into(),
//!             terminal: false,
//!             client_node_id: Some("02aa…".into()),
//!             scid: None,
//!             deadline_unix_ms: Some(1_700_000_600_000),
//!             body: json!({ "lsp_balance_sat": 100_000 }),
//!             created_at_unix_ms: 1_700_000_000_000,
//!         },
//!         json!({ "input": "create_order" }),
//!         vec![],
//!     )
//!     .await?;
//!
//! // The payment arrived: move on, and ask for a channel open once this is durable.
//! let change = RecordChange {
//!     state: "opening_channel".into(),
//!     terminal: false,
//!     scid: None,
//!     deadline_unix_ms: None,
//!     body: json!({ "lsp_balance_sat": 100_000, "paid": true }),
//!     at_unix_ms: 1_700_000_060_000,
//! };
//! let effects = vec![json!({ "open_channel": { "order_id": "order-1" } })];
//! let order = store.update(Kind::Lsps1Order, &order.id, order.version, change, json!({}), effects).await?;
//! assert_eq!(order.version, 2);
//!
//! // Run the effect, then mark it done.
//! for effect in store.pending_effects(100).await?.strict()? {
//!     store.complete_effect(effect.effect_id, 1_700_000_061_000).await?;
//! }
//! # Ok(())
//! # }
//! # let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
//! # runtime.block_on(example()).expect("the example runs");
//! ```
#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

use std::sync::Arc;

mod connect;
mod error;
mod migrations;
mod model;
mod query;
mod rows;
mod sql_store;
mod store;

pub use connect::{DEFAULT_ACQUIRE_TIMEOUT_SECS, DEFAULT_POSTGRES_MAX_CONNECTIONS, DEFAULT_SQLITE_MAX_CONNECTIONS};
pub use error::{CorruptRow, StoreError};
pub use migrations::SCHEMA_VERSION;
pub use model::{Effect, HistoryEntry, Kind, Listing, NewRecord, Record, RecordChange};
pub use query::{ClientActivity, KindCount, Search, StateCount, MAX_SEARCH_LIMIT};
pub use store::{Backend, Store, StoreFuture};

/// Opens (creating if needed) the store at `location` and brings its schema up to
/// [`SCHEMA_VERSION`].
///
/// `location` is one of:
///
/// * `postgres://…` or `postgresql://…`: a PostgreSQL database. To keep the tables in a
///   schema of their own, add `?options=-c%20search_path%3DNAME` to the URL.
/// * `sqlite://PATH` or `sqlite:PATH`: an SQLite file, created if missing unless the URL sets
///   `mode=`.
/// * `sqlite::memory:`: an in-memory SQLite database that lives as long as the store (tests).
/// * anything else without `://`: a path to an SQLite file, created if missing.
///
/// Several processes may open one database at once; each migration is applied exactly once.
///
/// # Errors
///
/// [`StoreError::UnsupportedLocation`] for other URLs, [`StoreError::SchemaTooNew`] for a
/// database written by a newer build, [`StoreError::Migration`] if a migration fails, and
/// [`StoreError::Database`] if the database cannot be reached.
pub async fn open(location: &str) -> Result<Arc<dyn Store>, StoreError> {
    let location = connect::Location::parse(location)?;
    let pool = connect::connect(&location).await?;
    Ok(Arc::new(sql_store::SqlStore::new(pool, location.backend())))
}
