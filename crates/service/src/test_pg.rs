//! A private schema on the test PostgreSQL server, for the runner tests of every flow.

const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A private schema on the test PostgreSQL server, dropped by [`PgSchema::drop_schema`]; `None`
/// (skipped, loudly) when the server is unreachable outside CI.
pub(crate) struct PgSchema {
    base: String,
    name: String,
}

impl PgSchema {
    pub(crate) async fn create(prefix: &str) -> Option<PgSchema> {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let base = std::env::var("INBOUND_TEST_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_URL.to_owned());
        let mut admin = match sqlx::AnyConnection::connect(&base).await {
            Ok(connection) => connection,
            Err(error) if std::env::var_os("CI").is_some() => panic!("PostgreSQL at {base} unreachable: {error}"),
            Err(error) => {
                eprintln!("SKIPPED: PostgreSQL at {base} is unreachable ({error})");
                return None;
            }
        };
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let name = format!("{prefix}_{}_{nanos}", std::process::id());
        sqlx::raw_sql(&format!("CREATE SCHEMA {name}")).execute(&mut admin).await.expect("create schema");
        admin.close().await.expect("close");
        Some(PgSchema { base, name })
    }

    /// The URL of the schema's store.
    pub(crate) fn url(&self) -> String {
        format!("{}?options=-c%20search_path%3D{}", self.base, self.name)
    }

    /// A store on the schema.
    pub(crate) async fn open(&self) -> std::sync::Arc<dyn inbound_store::Store> {
        inbound_store::open(&self.url()).await.expect("store")
    }

    pub(crate) async fn drop_schema(self) {
        use sqlx::Connection;
        let mut admin = sqlx::AnyConnection::connect(&self.base).await.expect("connect");
        sqlx::raw_sql(&format!("DROP SCHEMA {} CASCADE", self.name)).execute(&mut admin).await.expect("drop schema");
        admin.close().await.expect("close");
    }
}
