//! [`SqlStore`]: the one [`Store`] implementation, on sqlx's Any driver.
//!
//! Every statement here runs unchanged on SQLite and PostgreSQL: `$N` placeholders (which
//! sqlx-sqlite binds by number), `RETURNING`, `ON CONFLICT`, and only `BIGINT`, `SMALLINT` and
//! `TEXT` values. Each write transaction starts with a write, so on SQLite it takes the write
//! lock at once (waiting on the busy timeout) instead of failing to upgrade a read snapshot.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyPool, Row};

use crate::rows::{
    effect_from_row, flag_to_column, history_from_row, millis_to_column, optional_millis_to_column, record_from_row,
    scid_to_column, EFFECT_COLUMNS, HISTORY_COLUMNS, RECORD_COLUMNS,
};
use crate::store::StoreFuture;
use crate::{
    Backend, CorruptRow, Effect, HistoryEntry, Kind, Listing, NewRecord, Record, RecordChange, Search, StateCount,
    Store, StoreError,
};

/// A [`Store`] on an sqlx connection pool (SQLite or PostgreSQL).
pub(crate) struct SqlStore {
    pool: AnyPool,
    backend: Backend,
}

impl SqlStore {
    /// Wraps a pool whose database is already migrated.
    pub(crate) fn new(pool: AnyPool, backend: Backend) -> Self {
        SqlStore { pool, backend }
    }

    async fn insert_record(
        &self,
        new: NewRecord,
        max_active: Option<u64>,
        detail: serde_json::Value,
        effects: Vec<serde_json::Value>,
    ) -> Result<Record, StoreError> {
        let created_at = millis_to_column("created_at_unix_ms", new.created_at_unix_ms)?;
        let deadline = optional_millis_to_column("deadline_unix_ms", new.deadline_unix_ms)?;
        let mut transaction = self.pool.begin().await?;
        // A terminal aggregate is not counted, so it is never over a cap.
        let capped_client = max_active
            .filter(|_| !new.terminal)
            .and_then(|cap| new.client_node_id.as_deref().map(|client| (cap, client)));
        if let (Some((_, client)), Backend::Postgres) = (capped_client, self.backend) {
            // Serialises capped inserts of one client until this transaction ends; SQLite's
            // write lock, taken by the INSERT below, does the same there.
            sqlx::query("SELECT 1 AS locked FROM pg_advisory_xact_lock(hashtext($1), hashtext($2))")
                .bind(new.kind.as_str())
                .bind(client)
                .fetch_one(&mut *transaction)
                .await?;
        }
        let inserted = sqlx::query(
            "INSERT INTO aggregates (kind, id, version, state, terminal, client_node_id, scid, deadline_unix_ms, body,
                                     created_at_unix_ms, updated_at_unix_ms)
             VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(new.kind.as_str())
        .bind(new.id.as_str())
        .bind(new.state.as_str())
        .bind(flag_to_column(new.terminal))
        .bind(new.client_node_id.as_deref())
        .bind(new.scid.map(scid_to_column))
        .bind(deadline)
        .bind(new.body.to_string())
        .bind(created_at)
        .execute(&mut *transaction)
        .await;
        if let Err(error) = inserted {
            // The insert's error is the one to report. If the rollback fails too, the pool
            // tests the connection when it is released and closes it if it is broken.
            let _ = transaction.rollback().await;
            return Err(self.explain_insert_failure(new.kind, &new.id, new.scid, error).await);
        }
        if let Some((cap, client)) = capped_client {
            // Counted after the insert, so the new aggregate is one of them (when it is active).
            let active: i64 = sqlx::query(
                "SELECT COUNT(*) AS active FROM aggregates WHERE kind = $1 AND client_node_id = $2 AND terminal = 0",
            )
            .bind(new.kind.as_str())
            .bind(client)
            .fetch_one(&mut *transaction)
            .await?
            .try_get("active")?;
            if u64::try_from(active).unwrap_or(0) > cap {
                transaction.rollback().await?;
                return Err(StoreError::CapReached { kind: new.kind, client_node_id: client.to_owned(), cap });
            }
        }
        let change = Transition { kind: new.kind, id: &new.id, seq: 1, from_state: None, to_state: &new.state };
        change.append(&mut transaction, created_at, &detail, &effects).await?;
        transaction.commit().await?;
        Ok(Record {
            kind: new.kind,
            id: new.id,
            version: 1,
            state: new.state,
            terminal: new.terminal,
            client_node_id: new.client_node_id,
            scid: new.scid,
            deadline_unix_ms: new.deadline_unix_ms,
            body: new.body,
            created_at_unix_ms: new.created_at_unix_ms,
            updated_at_unix_ms: new.created_at_unix_ms,
        })
    }

    /// Names the unique index an insert hit, after its transaction was rolled back.
    async fn explain_insert_failure(&self, kind: Kind, id: &str, scid: Option<u64>, error: sqlx::Error) -> StoreError {
        if !crate::error::is_unique_violation(&error) {
            return error.into();
        }
        match self.current_version(kind, id).await {
            Ok(Some(_)) => StoreError::DuplicateId { kind, id: id.to_owned() },
            Ok(None) => match scid {
                Some(scid) => StoreError::DuplicateScid { kind, scid },
                None => error.into(),
            },
            Err(lookup_error) => lookup_error,
        }
    }

    async fn update_record(
        &self,
        kind: Kind,
        id: &str,
        expected_version: i64,
        change: RecordChange,
        detail: serde_json::Value,
        effects: Vec<serde_json::Value>,
    ) -> Result<Record, StoreError> {
        let at = millis_to_column("at_unix_ms", change.at_unix_ms)?;
        let deadline = optional_millis_to_column("deadline_unix_ms", change.deadline_unix_ms)?;
        let mut transaction = self.pool.begin().await?;
        // The version check and the write are one statement: two writers that read the same
        // version cannot both match, on one connection or across processes.
        let updated = sqlx::query(&format!(
            "UPDATE aggregates
             SET version = version + 1, state = $4, terminal = $5, scid = $6, deadline_unix_ms = $7, body = $8,
                 updated_at_unix_ms = $9
             WHERE kind = $1 AND id = $2 AND version = $3
             RETURNING {RECORD_COLUMNS}"
        ))
        .bind(kind.as_str())
        .bind(id)
        .bind(expected_version)
        .bind(change.state.as_str())
        .bind(flag_to_column(change.terminal))
        .bind(change.scid.map(scid_to_column))
        .bind(deadline)
        .bind(change.body.to_string())
        .bind(at)
        .fetch_optional(&mut *transaction)
        .await;
        let row = match updated {
            Ok(Some(row)) => row,
            Ok(None) => {
                transaction.rollback().await?;
                return Err(match self.current_version(kind, id).await? {
                    Some(current_version) => {
                        StoreError::Conflict { kind, id: id.to_owned(), expected_version, current_version }
                    }
                    None => StoreError::NotFound { kind, id: id.to_owned() },
                });
            }
            Err(error) => {
                let _ = transaction.rollback().await;
                return Err(match change.scid {
                    Some(scid) if crate::error::is_unique_violation(&error) => StoreError::DuplicateScid { kind, scid },
                    _ => error.into(),
                });
            }
        };
        let record = record_from_row(&row)?;
        // Every version has exactly one history entry whose seq is that version, so the
        // entry for `expected_version` holds the state this update leaves.
        let from_state = sqlx::query("SELECT to_state FROM history WHERE kind = $1 AND id = $2 AND seq = $3")
            .bind(kind.as_str())
            .bind(id)
            .bind(expected_version)
            .fetch_optional(&mut *transaction)
            .await?
            .ok_or_else(|| CorruptRow {
                table: "history",
                column: "seq",
                row: format!("{kind}/{id}#{expected_version}"),
                reason: "the entry for the current version is missing".into(),
            })?
            .try_get::<String, _>("to_state")
            .map_err(|error| CorruptRow {
                table: "history",
                column: "to_state",
                row: format!("{kind}/{id}#{expected_version}"),
                reason: error.to_string(),
            })?;
        let transition =
            Transition { kind, id, seq: record.version, from_state: Some(&from_state), to_state: &record.state };
        transition.append(&mut transaction, at, &detail, &effects).await?;
        transaction.commit().await?;
        Ok(record)
    }

    /// The stored version of an aggregate, outside any transaction.
    async fn current_version(&self, kind: Kind, id: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT version FROM aggregates WHERE kind = $1 AND id = $2")
            .bind(kind.as_str())
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            crate::rows::RowReader::new(&row, "aggregates", format!("{kind}/{id}"))
                .positive("version")
                .map_err(StoreError::from)
        })
        .transpose()
    }

    /// `Ok` if the outbox holds this effect (completed or not), else [`StoreError::EffectNotFound`].
    async fn effect_exists(&self, effect_id: i64) -> Result<(), StoreError> {
        let exists = sqlx::query("SELECT effect_id FROM effects WHERE effect_id = $1")
            .bind(effect_id)
            .fetch_optional(&self.pool)
            .await?;
        match exists {
            Some(_) => Ok(()),
            None => Err(StoreError::EffectNotFound { effect_id }),
        }
    }

    async fn one_record<'q>(&self, query: Query<'q, Any, AnyArguments<'q>>) -> Result<Option<Record>, StoreError> {
        let row = query.fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(record_from_row).transpose()?)
    }

    async fn many_records<'q>(&self, query: Query<'q, Any, AnyArguments<'q>>) -> Result<Listing<Record>, StoreError> {
        let rows = query.fetch_all(&self.pool).await?;
        Ok(collect(&rows, record_from_row))
    }
}

/// The history entry and effects one transition appends inside its transaction.
struct Transition<'a> {
    kind: Kind,
    id: &'a str,
    seq: i64,
    from_state: Option<&'a str>,
    to_state: &'a str,
}

impl Transition<'_> {
    async fn append(
        &self,
        transaction: &mut sqlx::Transaction<'_, Any>,
        at: i64,
        detail: &serde_json::Value,
        effects: &[serde_json::Value],
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO history (kind, id, seq, from_state, to_state, at_unix_ms, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(self.kind.as_str())
        .bind(self.id)
        .bind(self.seq)
        .bind(self.from_state)
        .bind(self.to_state)
        .bind(at)
        .bind(detail.to_string())
        .execute(&mut **transaction)
        .await?;
        for effect in effects {
            sqlx::query(
                "INSERT INTO effects (kind, aggregate_id, aggregate_version, body, created_at_unix_ms)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(self.kind.as_str())
            .bind(self.id)
            .bind(self.seq)
            .bind(effect.to_string())
            .bind(at)
            .execute(&mut **transaction)
            .await?;
        }
        Ok(())
    }
}

/// Decodes every row, keeping the good ones and an error for each bad one.
pub(crate) fn collect<T>(rows: &[AnyRow], decode: impl Fn(&AnyRow) -> Result<T, CorruptRow>) -> Listing<T> {
    let mut listing = Listing::default();
    for row in rows {
        match decode(row) {
            Ok(item) => listing.items.push(item),
            Err(corrupt) => listing.corrupt.push(corrupt),
        }
    }
    listing
}

/// A millisecond bound for a `<=` comparison: every stored time fits in `i64`, so a larger
/// bound compares like `i64::MAX`.
fn saturating_millis(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Store for SqlStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    fn insert(
        &self,
        new: NewRecord,
        detail: serde_json::Value,
        effects: Vec<serde_json::Value>,
    ) -> StoreFuture<'_, Record> {
        Box::pin(self.insert_record(new, None, detail, effects))
    }

    fn insert_capped(
        &self,
        new: NewRecord,
        max_active: u64,
        detail: serde_json::Value,
        effects: Vec<serde_json::Value>,
    ) -> StoreFuture<'_, Record> {
        Box::pin(self.insert_record(new, Some(max_active), detail, effects))
    }

    fn update<'a>(
        &'a self,
        kind: Kind,
        id: &'a str,
        expected_version: i64,
        change: RecordChange,
        detail: serde_json::Value,
        effects: Vec<serde_json::Value>,
    ) -> StoreFuture<'a, Record> {
        Box::pin(self.update_record(kind, id, expected_version, change, detail, effects))
    }

    fn get<'a>(&'a self, kind: Kind, id: &'a str) -> StoreFuture<'a, Option<Record>> {
        Box::pin(async move {
            let sql = format!("SELECT {RECORD_COLUMNS} FROM aggregates WHERE kind = $1 AND id = $2");
            self.one_record(sqlx::query(&sql).bind(kind.as_str()).bind(id)).await
        })
    }

    fn get_by_scid(&self, kind: Kind, scid: u64) -> StoreFuture<'_, Option<Record>> {
        Box::pin(async move {
            let sql = format!("SELECT {RECORD_COLUMNS} FROM aggregates WHERE kind = $1 AND scid = $2");
            self.one_record(sqlx::query(&sql).bind(kind.as_str()).bind(scid_to_column(scid))).await
        })
    }

    fn list_active(&self, kind: Kind) -> StoreFuture<'_, Listing<Record>> {
        Box::pin(async move {
            let sql = format!(
                "SELECT {RECORD_COLUMNS} FROM aggregates WHERE kind = $1 AND terminal = 0
                 ORDER BY created_at_unix_ms, id"
            );
            self.many_records(sqlx::query(&sql).bind(kind.as_str())).await
        })
    }

    fn list_by_client<'a>(
        &'a self,
        kind: Kind,
        client_node_id: &'a str,
        limit: u32,
    ) -> StoreFuture<'a, Listing<Record>> {
        Box::pin(async move {
            let sql = format!(
                "SELECT {RECORD_COLUMNS} FROM aggregates WHERE kind = $1 AND client_node_id = $2
                 ORDER BY created_at_unix_ms DESC, id DESC LIMIT $3"
            );
            self.many_records(sqlx::query(&sql).bind(kind.as_str()).bind(client_node_id).bind(i64::from(limit))).await
        })
    }

    fn count_active_by_client<'a>(&'a self, kind: Kind, client_node_id: &'a str) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let count: i64 = sqlx::query(
                "SELECT COUNT(*) AS active FROM aggregates WHERE kind = $1 AND client_node_id = $2 AND terminal = 0",
            )
            .bind(kind.as_str())
            .bind(client_node_id)
            .fetch_one(&self.pool)
            .await?
            .try_get("active")?;
            // COUNT(*) is never negative; a negative value would be a driver bug, read as 0.
            Ok(u64::try_from(count).unwrap_or(0))
        })
    }

    fn list_due(&self, kind: Kind, now_unix_ms: u64) -> StoreFuture<'_, Listing<Record>> {
        Box::pin(async move {
            let sql = format!(
                "SELECT {RECORD_COLUMNS} FROM aggregates
                 WHERE kind = $1 AND terminal = 0 AND deadline_unix_ms IS NOT NULL AND deadline_unix_ms <= $2
                 ORDER BY deadline_unix_ms, id"
            );
            self.many_records(sqlx::query(&sql).bind(kind.as_str()).bind(saturating_millis(now_unix_ms))).await
        })
    }

    fn history<'a>(&'a self, kind: Kind, id: &'a str) -> StoreFuture<'a, Vec<HistoryEntry>> {
        Box::pin(async move {
            let sql = format!("SELECT {HISTORY_COLUMNS} FROM history WHERE kind = $1 AND id = $2 ORDER BY seq");
            let rows = sqlx::query(&sql).bind(kind.as_str()).bind(id).fetch_all(&self.pool).await?;
            collect(&rows, history_from_row).strict()
        })
    }

    fn pending_effects(&self, limit: u32) -> StoreFuture<'_, Listing<Effect>> {
        Box::pin(async move {
            let sql = format!(
                "SELECT {EFFECT_COLUMNS} FROM effects WHERE completed_at_unix_ms IS NULL ORDER BY effect_id LIMIT $1"
            );
            let rows = sqlx::query(&sql).bind(i64::from(limit)).fetch_all(&self.pool).await?;
            Ok(collect(&rows, effect_from_row))
        })
    }

    fn due_effects(&self, kind: Kind, now_unix_ms: u64, limit: u32) -> StoreFuture<'_, Listing<Effect>> {
        Box::pin(async move {
            let sql = format!(
                "SELECT {EFFECT_COLUMNS} FROM effects
                 WHERE completed_at_unix_ms IS NULL AND kind = $1
                   AND (next_attempt_unix_ms IS NULL OR next_attempt_unix_ms <= $2)
                 ORDER BY effect_id LIMIT $3"
            );
            let rows = sqlx::query(&sql)
                .bind(kind.as_str())
                .bind(saturating_millis(now_unix_ms))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
            Ok(collect(&rows, effect_from_row))
        })
    }

    fn retry_effect<'a>(&'a self, effect_id: i64, next_attempt_unix_ms: u64, error: &'a str) -> StoreFuture<'a, u32> {
        Box::pin(async move {
            let next = millis_to_column("next_attempt_unix_ms", next_attempt_unix_ms)?;
            let row = sqlx::query(
                "UPDATE effects SET attempts = attempts + 1, next_attempt_unix_ms = $2, last_error = $3
                 WHERE effect_id = $1 AND completed_at_unix_ms IS NULL
                 RETURNING attempts",
            )
            .bind(effect_id)
            .bind(next)
            .bind(error)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::EffectNotFound { effect_id })?;
            let reader = crate::rows::RowReader::new(&row, "effects", format!("effect {effect_id}"));
            Ok(reader.count("attempts")?)
        })
    }

    fn give_up_effect<'a>(&'a self, effect_id: i64, now_unix_ms: u64, error: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let now = millis_to_column("now_unix_ms", now_unix_ms)?;
            let given_up = sqlx::query(
                "UPDATE effects SET completed_at_unix_ms = $2, given_up = 1, last_error = $3
                 WHERE effect_id = $1 AND completed_at_unix_ms IS NULL",
            )
            .bind(effect_id)
            .bind(now)
            .bind(error)
            .execute(&self.pool)
            .await?;
            if given_up.rows_affected() > 0 {
                return Ok(());
            }
            self.effect_exists(effect_id).await
        })
    }

    fn complete_effect(&self, effect_id: i64, now_unix_ms: u64) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let now = millis_to_column("now_unix_ms", now_unix_ms)?;
            let completed = sqlx::query(
                "UPDATE effects SET completed_at_unix_ms = $2 WHERE effect_id = $1 AND completed_at_unix_ms IS NULL",
            )
            .bind(effect_id)
            .bind(now)
            .execute(&self.pool)
            .await?;
            if completed.rows_affected() > 0 {
                return Ok(());
            }
            self.effect_exists(effect_id).await
        })
    }

    fn delete_terminal_before(&self, kind: Kind, before_unix_ms: u64) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            // History and effects go with their aggregate (ON DELETE CASCADE).
            let deleted = sqlx::query(
                "DELETE FROM aggregates
                 WHERE kind = $1 AND terminal = 1 AND updated_at_unix_ms < $2
                   AND NOT EXISTS (SELECT 1 FROM effects
                                   WHERE effects.kind = aggregates.kind AND effects.aggregate_id = aggregates.id
                                     AND effects.completed_at_unix_ms IS NULL)",
            )
            .bind(kind.as_str())
            .bind(saturating_millis(before_unix_ms))
            .execute(&self.pool)
            .await?;
            Ok(deleted.rows_affected())
        })
    }

    fn search<'a>(&'a self, search: &'a Search) -> StoreFuture<'a, Listing<Record>> {
        Box::pin(crate::query::search(&self.pool, search))
    }

    fn count_by_state(&self, kind: Kind) -> StoreFuture<'_, Vec<StateCount>> {
        Box::pin(crate::query::count_by_state(&self.pool, kind))
    }

    fn clients(&self, limit: u32, offset: u32) -> StoreFuture<'_, Vec<crate::ClientActivity>> {
        Box::pin(crate::query::clients(&self.pool, limit, offset))
    }

    fn close(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.pool.close().await;
            Ok(())
        })
    }
}
