//! The schema, as an ordered list of migrations, and the code that applies them.
//!
//! Each migration runs once, in its own transaction, in version order, and is recorded in
//! `schema_migrations`. Two processes may open one database at the same time:
//!
//! * On PostgreSQL the runner holds a session advisory lock (keyed by the current schema)
//!   from before it creates `schema_migrations` until it has applied the last migration.
//! * On SQLite each migration's transaction starts by inserting its `schema_migrations` row.
//!   That first write takes SQLite's write lock (waiting up to the busy timeout), so a second
//!   process waits, then finds the row and skips the migration.
//!
//! Migrations are append-only: never edit one that has shipped; add a new one.
//! SQL is shared between the dialects wherever possible; [`Sql::Dialect`] marks the rare
//! statement that has to differ.

use sqlx::AnyConnection;
use sqlx::{Connection, Row};

use crate::{Backend, StoreError};

/// One statement of a migration.
pub(crate) enum Sql {
    /// A statement both databases accept.
    Both(&'static str),
    /// A statement that must be spelled differently per database.
    Dialect {
        /// The SQLite spelling.
        sqlite: &'static str,
        /// The PostgreSQL spelling.
        postgres: &'static str,
    },
}

impl Sql {
    fn for_backend(&self, backend: Backend) -> &'static str {
        match (self, backend) {
            (Sql::Both(sql), _) => sql,
            (Sql::Dialect { sqlite, .. }, Backend::Sqlite) => sqlite,
            (Sql::Dialect { postgres, .. }, Backend::Postgres) => postgres,
        }
    }
}

/// One step of the schema.
pub(crate) struct Migration {
    /// Its position; versions start at 1 and have no gaps.
    pub(crate) version: i64,
    /// A short description, stored next to the version.
    pub(crate) name: &'static str,
    /// The statements, run in order in one transaction.
    pub(crate) statements: &'static [Sql],
}

/// The schema of every table except `schema_migrations`.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "aggregates, history and outbox",
        statements: &[
            // One row per flow. `body` is the flow's JSON, kept as text so that the two
            // databases store identical bytes. `terminal` is 0 or 1 in both databases.
            Sql::Both(
                "CREATE TABLE aggregates (
                kind TEXT NOT NULL,
                id TEXT NOT NULL,
                version BIGINT NOT NULL,
                state TEXT NOT NULL,
                terminal SMALLINT NOT NULL CHECK (terminal IN (0, 1)),
                client_node_id TEXT,
                scid BIGINT,
                deadline_unix_ms BIGINT,
                body TEXT NOT NULL,
                created_at_unix_ms BIGINT NOT NULL,
                updated_at_unix_ms BIGINT NOT NULL,
                PRIMARY KEY (kind, id)
            )",
            ),
            // NULLs are distinct in unique indexes in both databases, so many rows may lack a SCID.
            Sql::Both("CREATE UNIQUE INDEX aggregates_kind_scid ON aggregates (kind, scid)"),
            Sql::Both("CREATE INDEX aggregates_active ON aggregates (kind, terminal, deadline_unix_ms)"),
            Sql::Both("CREATE INDEX aggregates_client ON aggregates (kind, client_node_id, created_at_unix_ms)"),
            // `seq` equals the aggregate version the transition produced.
            Sql::Both(
                "CREATE TABLE history (
                kind TEXT NOT NULL,
                id TEXT NOT NULL,
                seq BIGINT NOT NULL,
                from_state TEXT,
                to_state TEXT NOT NULL,
                at_unix_ms BIGINT NOT NULL,
                detail TEXT NOT NULL,
                PRIMARY KEY (kind, id, seq),
                FOREIGN KEY (kind, id) REFERENCES aggregates (kind, id) ON DELETE CASCADE
            )",
            ),
            // Effect ids must never be reused (they key idempotent effects), hence AUTOINCREMENT
            // on SQLite, and an identity column on PostgreSQL.
            Sql::Dialect {
                sqlite: "CREATE TABLE effects (
                effect_id INTEGER PRIMARY KEY AUTOINCREMENT,
                kind TEXT NOT NULL,
                aggregate_id TEXT NOT NULL,
                aggregate_version BIGINT NOT NULL,
                body TEXT NOT NULL,
                created_at_unix_ms BIGINT NOT NULL,
                completed_at_unix_ms BIGINT,
                FOREIGN KEY (kind, aggregate_id) REFERENCES aggregates (kind, id) ON DELETE CASCADE
            )",
                postgres: "CREATE TABLE effects (
                effect_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                kind TEXT NOT NULL,
                aggregate_id TEXT NOT NULL,
                aggregate_version BIGINT NOT NULL,
                body TEXT NOT NULL,
                created_at_unix_ms BIGINT NOT NULL,
                completed_at_unix_ms BIGINT,
                FOREIGN KEY (kind, aggregate_id) REFERENCES aggregates (kind, id) ON DELETE CASCADE
            )",
            },
            Sql::Both("CREATE INDEX effects_aggregate ON effects (kind, aggregate_id)"),
            Sql::Both("CREATE INDEX effects_pending ON effects (effect_id) WHERE completed_at_unix_ms IS NULL"),
        ],
    },
    Migration {
        version: 2,
        name: "effect retries",
        statements: &[
            // How often an effect failed, when it may run again (NULL: at once), why it last
            // failed, and whether it was given up (completed without succeeding).
            Sql::Both("ALTER TABLE effects ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0"),
            Sql::Both("ALTER TABLE effects ADD COLUMN next_attempt_unix_ms BIGINT"),
            Sql::Both("ALTER TABLE effects ADD COLUMN last_error TEXT"),
            Sql::Both("ALTER TABLE effects ADD COLUMN given_up SMALLINT NOT NULL DEFAULT 0 CHECK (given_up IN (0, 1))"),
            Sql::Both(
                "CREATE INDEX effects_due ON effects (kind, next_attempt_unix_ms) WHERE completed_at_unix_ms IS NULL",
            ),
        ],
    },
];

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The PostgreSQL advisory-lock key space of this crate; the second key is the schema's hash.
const POSTGRES_LOCK_CLASS: i32 = 0x1b0d_5703;

/// Brings the database to [`SCHEMA_VERSION`], applying each missing migration once.
///
/// On PostgreSQL the caller must close `connection` afterwards if this fails, so that the
/// advisory lock cannot outlive the call.
pub(crate) async fn migrate(connection: &mut AnyConnection, backend: Backend) -> Result<(), StoreError> {
    if backend == Backend::Postgres {
        // `pg_advisory_lock` returns `void`, which the Any driver cannot decode, so it is
        // called from FROM and a plain integer is selected.
        sqlx::query("SELECT 1 AS locked FROM pg_advisory_lock($1, hashtext(current_schema()))")
            .bind(POSTGRES_LOCK_CLASS)
            .fetch_one(&mut *connection)
            .await?;
    }
    let applied = apply_missing(connection, backend).await;
    if backend == Backend::Postgres && applied.is_ok() {
        sqlx::query("SELECT pg_advisory_unlock($1, hashtext(current_schema())) AS unlocked")
            .bind(POSTGRES_LOCK_CLASS)
            .fetch_one(&mut *connection)
            .await?;
    }
    applied
}

async fn apply_missing(connection: &mut AnyConnection, backend: Backend) -> Result<(), StoreError> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TEXT NOT NULL
        )",
    )
    .execute(&mut *connection)
    .await?;

    let newest: Option<i64> = sqlx::query("SELECT MAX(version) AS newest FROM schema_migrations")
        .fetch_one(&mut *connection)
        .await?
        .try_get("newest")?;
    if let Some(found) = newest.filter(|found| *found > SCHEMA_VERSION) {
        return Err(StoreError::SchemaTooNew { found, supported: SCHEMA_VERSION });
    }

    for migration in MIGRATIONS {
        apply_one(connection, backend, migration).await.map_err(|source| StoreError::Migration {
            version: migration.version,
            name: migration.name,
            source,
        })?;
    }
    Ok(())
}

async fn apply_one(connection: &mut AnyConnection, backend: Backend, migration: &Migration) -> Result<(), sqlx::Error> {
    let mut transaction = connection.begin().await?;
    // Claiming the version first makes this transaction a writer from its first statement,
    // which on SQLite is what lets a concurrent opener wait on the busy timeout, and on
    // PostgreSQL blocks a concurrent claim of the same version until this one commits.
    let claimed = sqlx::query(
        "INSERT INTO schema_migrations (version, name, applied_at)
         VALUES ($1, $2, CAST(CURRENT_TIMESTAMP AS TEXT))
         ON CONFLICT (version) DO NOTHING",
    )
    .bind(migration.version)
    .bind(migration.name)
    .execute(&mut *transaction)
    .await?;
    if claimed.rows_affected() == 0 {
        return transaction.rollback().await;
    }
    for statement in migration.statements {
        sqlx::raw_sql(statement.for_backend(backend)).execute(&mut *transaction).await?;
    }
    transaction.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_start_at_one_without_gaps() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, index as i64 + 1, "{}", migration.name);
            assert!(!migration.statements.is_empty(), "{}", migration.name);
        }
        assert_eq!(SCHEMA_VERSION, MIGRATIONS.len() as i64);
    }

    #[test]
    fn dialect_statements_pick_their_backend() {
        let statement = Sql::Dialect { sqlite: "lite", postgres: "pg" };
        assert_eq!(statement.for_backend(Backend::Sqlite), "lite");
        assert_eq!(statement.for_backend(Backend::Postgres), "pg");
        assert_eq!(Sql::Both("both").for_backend(Backend::Postgres), "both");
    }
}
