//! A fresh, private database per test, on either backend.
//!
//! * SQLite: a file in a temporary directory, removed with the fixture.
//! * PostgreSQL: a new schema in the database at `INBOUND_TEST_POSTGRES_URL` (default
//!   `postgres://postgres@127.0.0.1:5432/test`), selected through the URL's `search_path`
//!   option and dropped with the fixture (also when the test panics), so parallel tests and
//!   repeated CI runs never see each other's rows. If the server cannot be reached, the test
//!   fails when `CI` is set and is skipped, loudly, otherwise.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use inbound_store::{Kind, NewRecord, RecordChange, Store};
use serde_json::json;
use sqlx::{AnyConnection, Connection};

/// The PostgreSQL server the tests use unless `INBOUND_TEST_POSTGRES_URL` says otherwise.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Which backend a fixture runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

/// One test's private database.
pub struct Fixture {
    /// What the test hands to `inbound_store::open`.
    pub location: String,
    /// A URL for raw SQL on the same database (used to corrupt rows on purpose).
    raw_url: String,
    _directory: Option<tempfile::TempDir>,
    _schema: Option<SchemaGuard>,
}

impl Fixture {
    /// A new empty database, or `None` if PostgreSQL is unreachable outside CI.
    pub async fn new(backend: BackendKind) -> Option<Fixture> {
        match backend {
            BackendKind::Sqlite => {
                let directory = tempfile::tempdir().expect("a temporary directory");
                let path = directory.path().join("store.db");
                let location = path.to_str().expect("a UTF-8 temporary path").to_owned();
                Some(Fixture {
                    raw_url: format!("sqlite://{location}"),
                    location,
                    _directory: Some(directory),
                    _schema: None,
                })
            }
            BackendKind::Postgres => Self::postgres().await,
        }
    }

    async fn postgres() -> Option<Fixture> {
        sqlx::any::install_default_drivers();
        let base_url = std::env::var("INBOUND_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let mut admin = match connect_with_timeout(&base_url).await {
            Ok(connection) => connection,
            Err(error) if std::env::var_os("CI").is_some() => {
                panic!("PostgreSQL at {base_url} is required in CI but unreachable: {error}")
            }
            Err(error) => {
                eprintln!("SKIPPED: PostgreSQL at {base_url} is unreachable ({error}); set it up or set CI to fail");
                return None;
            }
        };
        let schema = unique_schema_name();
        sqlx::raw_sql(&format!("CREATE SCHEMA {schema}")).execute(&mut admin).await.expect("create a test schema");
        admin.close().await.expect("close the admin connection");
        let separator = if base_url.contains('?') { '&' } else { '?' };
        let location = format!("{base_url}{separator}options=-c%20search_path%3D{schema}");
        Some(Fixture {
            raw_url: location.clone(),
            location,
            _directory: None,
            _schema: Some(SchemaGuard { base_url, schema }),
        })
    }

    /// Opens the store, panicking on failure.
    pub async fn open(&self) -> Arc<dyn Store> {
        inbound_store::open(&self.location).await.expect("the store opens")
    }

    /// Runs one statement of raw SQL on the fixture's database.
    pub async fn execute(&self, sql: &str) {
        let mut connection = self.raw().await;
        sqlx::raw_sql(sql).execute(&mut connection).await.unwrap_or_else(|error| panic!("`{sql}` failed: {error}"));
        connection.close().await.expect("close the raw connection");
    }

    /// Runs a query returning one integer on the fixture's database.
    pub async fn query_i64(&self, sql: &str) -> i64 {
        use sqlx::Row;
        let mut connection = self.raw().await;
        let row = sqlx::query(sql).fetch_one(&mut connection).await.unwrap_or_else(|error| panic!("{sql}: {error}"));
        let value = row.try_get::<i64, _>(0).expect("an integer");
        connection.close().await.expect("close the raw connection");
        value
    }

    async fn raw(&self) -> AnyConnection {
        sqlx::any::install_default_drivers();
        AnyConnection::connect(&self.raw_url).await.expect("a raw connection")
    }
}

async fn connect_with_timeout(url: &str) -> Result<AnyConnection, String> {
    match tokio::time::timeout(Duration::from_secs(5), AnyConnection::connect(url)).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("timed out after 5 s".to_owned()),
    }
}

fn unique_schema_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|since| since.as_nanos()).unwrap_or(0);
    format!(
        "inbound_store_test_{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000_000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Drops the test's schema when the fixture goes, even if the test panicked.
struct SchemaGuard {
    base_url: String,
    schema: String,
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let base_url = self.base_url.clone();
        let schema = self.schema.clone();
        // Drop may run inside a Tokio runtime, which cannot be blocked on, so the cleanup gets
        // a thread and a runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let mut connection = AnyConnection::connect(&base_url).await?;
                sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).execute(&mut connection).await?;
                connection.close().await
            })?;
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        });
        match cleanup.join() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("could not drop test schema {}: {error}", self.schema),
            Err(_) => eprintln!("could not drop test schema {}: the cleanup thread panicked", self.schema),
        }
    }
}

/// A new active aggregate with plain fields, created at `created_at_unix_ms`.
pub fn new_record(kind: Kind, id: &str, created_at_unix_ms: u64) -> NewRecord {
    NewRecord {
        kind,
        id: id.to_owned(),
        state: "awaiting_payment".to_owned(),
        terminal: false,
        client_node_id: Some("client-a".to_owned()),
        scid: None,
        deadline_unix_ms: None,
        body: json!({ "id": id, "step": 0 }),
        created_at_unix_ms,
    }
}

/// A change to `state` at `at_unix_ms`, keeping no SCID or deadline.
pub fn change_to(state: &str, terminal: bool, at_unix_ms: u64) -> RecordChange {
    RecordChange {
        state: state.to_owned(),
        terminal,
        scid: None,
        deadline_unix_ms: None,
        body: json!({ "state": state }),
        at_unix_ms,
    }
}
