//! One conformance suite, run against every backend.
//!
//! Each check is an `async fn(&Fixture)` in `records`, `queries` or `durability`; the `suite!`
//! macro turns every check into one test per backend (`sqlite::NAME`, `postgres::NAME`), each
//! on a fresh database, so the backends cannot drift apart unnoticed.

mod durability;
mod fixture;
mod queries;
mod records;

use fixture::{BackendKind, Fixture};

/// One test of `$check` on `$backend`.
macro_rules! check {
    ($backend:expr, $group:ident :: $check:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $check() {
            if let Some(fixture) = Fixture::new($backend).await {
                crate::$group::$check(&fixture).await;
            }
        }
    };
}

/// Every check, on `$backend`.
macro_rules! suite {
    ($backend:expr) => {
        use super::*;
        check!($backend, records::insert_then_get_round_trips_every_field);
        check!($backend, records::duplicate_id_and_scid_are_refused_and_write_nothing);
        check!($backend, records::update_bumps_version_and_records_history);
        check!($backend, records::concurrent_updaters_of_one_version_have_exactly_one_winner);
        check!($backend, records::u64_extremes_round_trip_or_are_refused);
        check!($backend, queries::listings_select_by_state_deadline_and_client);
        check!($backend, queries::outbox_replays_until_completed_and_completion_is_idempotent);
        check!($backend, queries::failed_effects_wait_for_their_retry_time_and_given_up_ones_never_return);
        check!($backend, queries::concurrent_capped_inserts_of_one_client_stop_exactly_at_the_cap);
        check!($backend, queries::retention_deletes_old_terminal_aggregates_without_pending_effects);
        check!($backend, queries::operator_search_filters_pages_and_counts_by_state);
        check!($backend, queries::clients_are_listed_by_last_activity_with_counts_per_kind);
        check!($backend, durability::reopen_after_drop_without_close_keeps_everything);
        check!($backend, durability::migrations_apply_once_even_when_opens_race);
        check!($backend, durability::a_newer_schema_is_refused);
        check!($backend, durability::corrupt_rows_are_named_and_do_not_affect_other_rows);
        check!($backend, durability::killed_writer_process_loses_nothing_acknowledged);
    };
}

mod sqlite {
    suite!(BackendKind::Sqlite);
}

mod postgres {
    suite!(BackendKind::Postgres);
}

/// Not a test of its own: `killed_writer_process_loses_nothing_acknowledged` runs this test
/// binary again with only this test selected and the location in the environment, and kills
/// it mid-write. Without that variable it does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_writer_process() {
    if let Ok(location) = std::env::var(durability::CHILD_LOCATION_VAR) {
        durability::write_until_killed(&location).await;
    }
}

/// An in-memory SQLite store works for tests that want no file at all.
#[tokio::test]
async fn in_memory_sqlite_keeps_its_data_for_the_life_of_the_store() {
    use inbound_store::Kind;
    let store = inbound_store::open("sqlite::memory:").await.expect("open in memory");
    assert_eq!(store.backend(), inbound_store::Backend::Sqlite);
    let record = fixture::new_record(Kind::Lsps5Webhook, "w", 1);
    store.insert(record, serde_json::json!({}), vec![]).await.expect("insert");
    // Enough calls to cycle the pool's connection if it were not pinned.
    for _ in 0..20 {
        assert!(store.get(Kind::Lsps5Webhook, "w").await.expect("get").is_some());
    }
}

/// Locations that name no supported database are refused before any connection is made.
#[tokio::test]
async fn unsupported_locations_are_refused() {
    for location in ["", "mysql://root@localhost/db", "redis://localhost"] {
        match inbound_store::open(location).await {
            Err(inbound_store::StoreError::UnsupportedLocation(_)) => {}
            Err(other) => panic!("{location:?}: expected UnsupportedLocation, got {other}"),
            Ok(_) => panic!("{location:?}: expected UnsupportedLocation, the store opened"),
        }
    }
}

/// SQLite files are switched to WAL, which persists in the file for every later connection.
#[tokio::test]
async fn sqlite_files_are_in_wal_mode() {
    use sqlx::{Connection, Row};
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("wal.db");
    let location = path.to_str().expect("a UTF-8 path").to_owned();
    let store = inbound_store::open(&location).await.expect("open");
    store.close().await.expect("close");
    let mut raw = sqlx::AnyConnection::connect(&format!("sqlite://{location}")).await.expect("a raw connection");
    let mode: String = sqlx::query("PRAGMA journal_mode").fetch_one(&mut raw).await.expect("pragma").get(0);
    assert_eq!(mode, "wal");
}
