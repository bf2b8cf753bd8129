//! Turning the configured database location into a migrated connection pool.
//!
//! | location                          | backend                                            |
//! |-----------------------------------|----------------------------------------------------|
//! | `postgres://…`, `postgresql://…`  | PostgreSQL; the URL goes to the server unchanged   |
//! | `sqlite://PATH`, `sqlite:PATH`    | an SQLite file, created if missing unless the URL sets `mode=` |
//! | `sqlite::memory:`                 | a private in-memory SQLite database (tests only)   |
//! | any other text without `://`      | a path to an SQLite file, created if missing       |
//!
//! SQLite files are switched to WAL mode (which persists in the file), run with
//! `synchronous = FULL` (a commit survives power loss, not just a process crash) and wait up
//! to five seconds for a lock (sqlx's default busy timeout) before failing.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, ConnectOptions, Executor, Row};

use crate::{migrations, Backend, StoreError};

/// Connections an SQLite store keeps open: WAL lets readers run beside the one writer.
pub const DEFAULT_SQLITE_MAX_CONNECTIONS: u32 = 4;

/// Connections one process keeps open to PostgreSQL. Several front ends share a server, so
/// this stays well below PostgreSQL's default `max_connections` of 100.
pub const DEFAULT_POSTGRES_MAX_CONNECTIONS: u32 = 8;

/// How long a call waits for a free connection (or for a starting server) before failing.
pub const DEFAULT_ACQUIRE_TIMEOUT_SECS: u64 = 10;

/// How many times opening retries switching a new SQLite file to WAL while another process
/// holds it; the switch cannot wait on the busy timeout.
const WAL_SWITCH_ATTEMPTS: u32 = 50;

/// A parsed database location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    /// An SQLite database; `url` is what the Any driver connects to.
    Sqlite {
        /// The URL, with an absolute file name.
        url: String,
        /// Whether the database lives in memory (one connection, lost when it closes).
        in_memory: bool,
    },
    /// A PostgreSQL server.
    Postgres {
        /// The URL as configured.
        url: String,
    },
}

impl Location {
    /// Parses the location text of [`crate::open`] (see the module doc for the forms).
    pub(crate) fn parse(text: &str) -> Result<Location, StoreError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(StoreError::UnsupportedLocation("an empty database location".into()));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(Location::Postgres { url: text.to_owned() });
        }
        if let Some(rest) = text.strip_prefix("sqlite:") {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
            if database == ":memory:" || params.split('&').any(|param| param == "mode=memory") {
                return Ok(Location::Sqlite { url: text.to_owned(), in_memory: true });
            }
            let options = SqliteConnectOptions::from_str(text)
                .map_err(|error| StoreError::UnsupportedLocation(format!("bad SQLite URL: {error}")))?;
            let explicit_mode = params.split('&').any(|param| param.starts_with("mode="));
            return sqlite_file(options.clone().create_if_missing(!explicit_mode), options.get_filename());
        }
        if let Some((scheme, _)) = text.split_once("://") {
            // Only the scheme is repeated: the rest may hold a password.
            return Err(StoreError::UnsupportedLocation(format!(
                "`{scheme}://` URLs (use postgres://, sqlite:// or a file path)"
            )));
        }
        sqlite_file(SqliteConnectOptions::new().create_if_missing(true), Path::new(text))
    }

    /// Which database this location names.
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Location::Sqlite { .. } => Backend::Sqlite,
            Location::Postgres { .. } => Backend::Postgres,
        }
    }
}

/// An SQLite file location, with the file name made absolute: a relative name would be read
/// as a URL host by the Any driver.
fn sqlite_file(options: SqliteConnectOptions, file: &Path) -> Result<Location, StoreError> {
    let absolute = std::path::absolute(file).map_err(|error| {
        StoreError::UnsupportedLocation(format!("cannot resolve SQLite path {}: {error}", file.display()))
    })?;
    let url = options.filename(absolute).to_url_lossy().to_string();
    Ok(Location::Sqlite { url, in_memory: false })
}

/// Connects to `location`, applies every missing migration, and returns the pool.
pub(crate) async fn connect(location: &Location) -> Result<AnyPool, StoreError> {
    sqlx::any::install_default_drivers();
    let pool = match location {
        Location::Postgres { url } => {
            let options = AnyConnectOptions::from_str(url)?;
            AnyPoolOptions::new()
                .max_connections(DEFAULT_POSTGRES_MAX_CONNECTIONS)
                .acquire_timeout(Duration::from_secs(DEFAULT_ACQUIRE_TIMEOUT_SECS))
                .connect_with(options)
                .await?
        }
        Location::Sqlite { url, in_memory } => {
            let options = AnyConnectOptions::from_str(url)?;
            let pool_options = AnyPoolOptions::new()
                .acquire_timeout(Duration::from_secs(DEFAULT_ACQUIRE_TIMEOUT_SECS))
                .after_connect(|connection, _| {
                    Box::pin(async move {
                        connection.execute("PRAGMA synchronous = FULL").await?;
                        Ok(())
                    })
                });
            let pool_options = if *in_memory {
                // Every new connection to `sqlite::memory:` is a new, empty database, so the
                // pool keeps exactly one connection for its whole life.
                pool_options.max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None)
            } else {
                pool_options.max_connections(DEFAULT_SQLITE_MAX_CONNECTIONS)
            };
            let pool = pool_options.connect_with(options).await?;
            if !*in_memory {
                switch_to_wal(&pool).await?;
            }
            pool
        }
    };
    migrate(&pool, location.backend()).await?;
    Ok(pool)
}

/// Runs the migrations on one connection.
async fn migrate(pool: &AnyPool, backend: Backend) -> Result<(), StoreError> {
    match backend {
        Backend::Sqlite => {
            let mut connection = pool.acquire().await?;
            migrations::migrate(&mut connection, backend).await
        }
        Backend::Postgres => {
            // A connection taken out of the pool and closed afterwards: if migrating fails
            // half-way, the advisory lock dies with the connection instead of going back
            // into the pool.
            let mut connection = pool.acquire().await?.detach();
            let migrated = migrations::migrate(&mut connection, backend).await;
            let closed = sqlx::Connection::close(connection).await;
            migrated?;
            closed?;
            Ok(())
        }
    }
}

/// Puts an SQLite file into WAL mode if it is not already.
async fn switch_to_wal(pool: &AnyPool) -> Result<(), StoreError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mode: String = sqlx::query("PRAGMA journal_mode").fetch_one(pool).await?.try_get(0)?;
        if mode.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        match sqlx::query("PRAGMA journal_mode = WAL").fetch_one(pool).await {
            Ok(_) => {}
            Err(sqlx::Error::Database(error)) if attempt < WAL_SWITCH_ATTEMPTS && is_busy(&*error) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// Whether an SQLite error is `SQLITE_BUSY` or `SQLITE_LOCKED` (any extended code).
fn is_busy(error: &dyn sqlx::error::DatabaseError) -> bool {
    let code = error.code().and_then(|code| code.parse::<i32>().ok()).unwrap_or(0);
    matches!(code & 0xff, 5 | 6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_url(location: Result<Location, StoreError>) -> (String, bool) {
        match location {
            Ok(Location::Sqlite { url, in_memory }) => (url, in_memory),
            other => panic!("expected SQLite, got {other:?}"),
        }
    }

    #[test]
    fn postgres_urls_pass_through() {
        let url = "postgres://user:secret@db.example/lsp?options=-csearch_path%3Dx";
        assert_eq!(Location::parse(url).ok(), Some(Location::Postgres { url: url.into() }));
        assert!(matches!(Location::parse("postgresql://h/db"), Ok(Location::Postgres { .. })));
    }

    #[test]
    fn plain_paths_become_absolute_sqlite_files_created_if_missing() {
        let (url, in_memory) = sqlite_url(Location::parse("data dir/inbound#1.db"));
        assert!(!in_memory);
        let cwd = std::env::current_dir().map(|dir| dir.display().to_string()).unwrap_or_default();
        assert!(url.starts_with("sqlite:///"), "{url}");
        assert!(url.contains("mode=rwc"), "{url}");
        assert!(url.contains("data%20dir/inbound%231.db"), "{url}");
        let parsed = SqliteConnectOptions::from_str(&url).map(|options| options.get_filename().to_owned());
        assert_eq!(parsed.ok(), Some(Path::new(&cwd).join("data dir/inbound#1.db")));
    }

    #[test]
    fn sqlite_urls_keep_an_explicit_mode() {
        let (url, _) = sqlite_url(Location::parse("sqlite:///var/lib/inbound/store.db"));
        assert!(url.contains("mode=rwc"), "{url}");
        let (url, _) = sqlite_url(Location::parse("sqlite:///var/lib/inbound/store.db?mode=ro"));
        assert!(url.contains("mode=ro"), "{url}");
        let (url, in_memory) = sqlite_url(Location::parse("sqlite::memory:"));
        assert!(in_memory);
        assert_eq!(url, "sqlite::memory:");
    }

    #[test]
    fn other_schemes_are_refused_without_echoing_credentials() {
        let error = Location::parse("mysql://root:hunter2@localhost/db").err().map(|error| error.to_string());
        let message = error.unwrap_or_default();
        assert!(message.contains("mysql://"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        assert!(Location::parse("  ").is_err());
    }
}
