//! The store's errors, shaped for the flow runner that receives them.
//!
//! * [`StoreError::Conflict`] means "reload and retry the transition": another writer won.
//! * [`StoreError::DuplicateId`], [`StoreError::DuplicateScid`], [`StoreError::NotFound`] and
//!   [`StoreError::OutOfRange`] are the caller's mistakes and change nothing.
//! * [`StoreError::Corrupt`] is a bad database row: it names the table, column and row, and
//!   affects no other row.
//! * The rest are configuration or database faults.

use crate::Kind;

/// A database row that could not be turned into a value: the row is input, so a bad one is an
/// error that says where it is, never a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt row in table `{table}`, column `{column}`, row {row}: {reason}")]
pub struct CorruptRow {
    /// The table the row is in.
    pub table: &'static str,
    /// The column whose value is bad.
    pub column: &'static str,
    /// The row's key as text: `kind/id` for aggregates, `kind/id#seq` for history entries,
    /// `effect N` for effects.
    pub row: String,
    /// What is wrong with the value.
    pub reason: String,
}

/// Everything a [`Store`](crate::Store) call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// [`Store::insert`](crate::Store::insert) was given an id that this kind already has.
    #[error("{kind} `{id}` already exists")]
    DuplicateId {
        /// The aggregate's kind.
        kind: Kind,
        /// The id that is taken.
        id: String,
    },
    /// An insert or update would give two aggregates of one kind the same SCID.
    #[error("scid {scid} is already used by another {kind}")]
    DuplicateScid {
        /// The aggregate's kind.
        kind: Kind,
        /// The SCID that is taken.
        scid: u64,
    },
    /// No aggregate has this kind and id.
    #[error("{kind} `{id}` not found")]
    NotFound {
        /// The aggregate's kind.
        kind: Kind,
        /// The id that was asked for.
        id: String,
    },
    /// An optimistic update lost: the aggregate is no longer at the version the caller read.
    /// Nothing was written; reload the aggregate and apply the input again.
    #[error("{kind} `{id}` is at version {current_version}, not the expected {expected_version}")]
    Conflict {
        /// The aggregate's kind.
        kind: Kind,
        /// The aggregate's id.
        id: String,
        /// The version the caller read.
        expected_version: i64,
        /// The version now stored.
        current_version: i64,
    },
    /// [`Store::complete_effect`](crate::Store::complete_effect) was given an id that is not
    /// in the outbox (never enqueued, or removed by retention after it completed).
    #[error("effect {effect_id} not found")]
    EffectNotFound {
        /// The effect id that was asked for.
        effect_id: i64,
    },
    /// [`Store::insert_capped`](crate::Store::insert_capped) found the client at its cap of
    /// unfinished aggregates of this kind. Nothing was written.
    #[error("client {client_node_id} already has {cap} unfinished {kind}s")]
    CapReached {
        /// The aggregate's kind.
        kind: Kind,
        /// The client.
        client_node_id: String,
        /// The cap.
        cap: u64,
    },
    /// A millisecond timestamp above `i64::MAX` (about 292 million years after 1970), which
    /// the signed 64-bit columns cannot hold. Nothing was written.
    #[error("{field} = {value} does not fit in a signed 64-bit column")]
    OutOfRange {
        /// The field that was too large.
        field: &'static str,
        /// The value that was given.
        value: u64,
    },
    /// A database row could not be read.
    #[error(transparent)]
    Corrupt(#[from] CorruptRow),
    /// The string handed to [`open`](crate::open) names no backend this crate supports.
    #[error("unsupported database location: {0}")]
    UnsupportedLocation(String),
    /// The database was migrated by a newer build; this build refuses to touch it.
    #[error("database schema version {found} is newer than this build supports ({supported})")]
    SchemaTooNew {
        /// The highest version in `schema_migrations`.
        found: i64,
        /// The highest version this build knows.
        supported: i64,
    },
    /// Applying a migration failed; its transaction was rolled back.
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        /// The migration's version.
        version: i64,
        /// The migration's name.
        name: &'static str,
        /// The database's error.
        source: sqlx::Error,
    },
    /// The database failed (connection lost, disk full, timeout, constraint we did not expect).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// Whether the error means "another writer changed the aggregate first".
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }
}

/// Whether a database error is a unique or primary-key violation.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(database_error) => database_error.is_unique_violation(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_row_message_names_table_column_and_row() {
        let corrupt = CorruptRow {
            table: "aggregates",
            column: "body",
            row: "lsps1_order/abc".into(),
            reason: "expected value at line 1 column 1".into(),
        };
        let message = StoreError::from(corrupt).to_string();
        assert!(message.contains("`aggregates`"), "{message}");
        assert!(message.contains("`body`"), "{message}");
        assert!(message.contains("lsps1_order/abc"), "{message}");
    }

    #[test]
    fn conflict_is_recognised() {
        let conflict =
            StoreError::Conflict { kind: Kind::Lsps2Session, id: "s".into(), expected_version: 1, current_version: 2 };
        assert!(conflict.is_conflict());
        assert!(!StoreError::EffectNotFound { effect_id: 1 }.is_conflict());
    }
}
