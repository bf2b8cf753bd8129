//! Restarts, crashes, migrations and corrupt rows.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use inbound_store::{Kind, StoreError, SCHEMA_VERSION};
use serde_json::json;

use crate::fixture::{change_to, new_record, Fixture};

/// The environment variable that turns `child_writer_process` into a writer.
pub const CHILD_LOCATION_VAR: &str = "INBOUND_STORE_CHILD_LOCATION";

pub async fn reopen_after_drop_without_close_keeps_everything(fixture: &Fixture) {
    let store = fixture.open().await;
    let mut new = new_record(Kind::Lsps2Session, "s", 1_000);
    new.scid = Some(7);
    store.insert(new, json!({ "input": "buy" }), vec![json!("a")]).await.expect("insert");
    let opening = inbound_store::RecordChange { scid: Some(7), ..change_to("opening", false, 2_000) };
    let updated = store.update(Kind::Lsps2Session, "s", 1, opening, json!({}), vec![json!("b")]).await.expect("update");
    let history = store.history(Kind::Lsps2Session, "s").await.expect("history");
    let effects = store.pending_effects(10).await.expect("effects").items;
    // No `close()`: the pool is simply dropped, as when the process dies between calls.
    drop(store);

    let reopened = fixture.open().await;
    assert_eq!(reopened.get(Kind::Lsps2Session, "s").await.expect("get"), Some(updated.clone()));
    assert_eq!(reopened.get_by_scid(Kind::Lsps2Session, 7).await.expect("get"), Some(updated));
    assert_eq!(reopened.history(Kind::Lsps2Session, "s").await.expect("history"), history);
    assert_eq!(reopened.pending_effects(10).await.expect("effects").items, effects);
    reopened.close().await.expect("close");
}

pub async fn migrations_apply_once_even_when_opens_race(fixture: &Fixture) {
    // Three processes' worth of pools open a fresh database at the same moment.
    let (first, second, third) = tokio::join!(
        inbound_store::open(&fixture.location),
        inbound_store::open(&fixture.location),
        inbound_store::open(&fixture.location),
    );
    let stores = [first, second, third].map(|store| store.expect("every concurrent open succeeds"));
    assert_eq!(fixture.query_i64("SELECT COUNT(*) FROM schema_migrations").await, SCHEMA_VERSION);
    assert_eq!(fixture.query_i64("SELECT MAX(version) FROM schema_migrations").await, SCHEMA_VERSION);

    stores[0].insert(new_record(Kind::Lsps1Order, "o", 1), json!({}), vec![]).await.expect("insert");
    assert!(stores[2].get(Kind::Lsps1Order, "o").await.expect("get").is_some(), "one database");
    drop(stores);

    // Opening again applies nothing and keeps the data.
    let store = fixture.open().await;
    assert_eq!(fixture.query_i64("SELECT COUNT(*) FROM schema_migrations").await, SCHEMA_VERSION);
    assert!(store.get(Kind::Lsps1Order, "o").await.expect("get").is_some());
}

pub async fn a_newer_schema_is_refused(fixture: &Fixture) {
    drop(fixture.open().await);
    fixture
        .execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from the future', 'later')")
        .await;
    match inbound_store::open(&fixture.location).await {
        Err(StoreError::SchemaTooNew { found: 999, supported }) => assert_eq!(supported, SCHEMA_VERSION),
        Err(other) => panic!("expected SchemaTooNew, got {other}"),
        Ok(_) => panic!("expected SchemaTooNew, the store opened"),
    }
}

pub async fn corrupt_rows_are_named_and_do_not_affect_other_rows(fixture: &Fixture) {
    let store = fixture.open().await;
    let kind = Kind::Lsps1Order;
    for id in ["good", "bad_body", "bad_version", "bad_time"] {
        store.insert(new_record(kind, id, 1_000), json!({ "for": id }), vec![json!(id)]).await.expect("insert");
    }
    fixture.execute("UPDATE aggregates SET body = 'not json{' WHERE id = 'bad_body'").await;
    fixture.execute("UPDATE aggregates SET version = -3 WHERE id = 'bad_version'").await;
    fixture.execute("UPDATE aggregates SET created_at_unix_ms = -1 WHERE id = 'bad_time'").await;
    fixture.execute("UPDATE history SET detail = '{' WHERE id = 'good' AND seq = 1").await;
    fixture.execute("UPDATE effects SET body = 'nope' WHERE aggregate_id = 'bad_version'").await;

    let expect_corrupt = |result: Result<_, StoreError>, table: &str, column: &str, row: &str| match result {
        Err(StoreError::Corrupt(corrupt)) => {
            assert_eq!((corrupt.table, corrupt.column, corrupt.row.as_str()), (table, column, row), "{corrupt}");
            let message = corrupt.to_string();
            assert!(message.contains(table) && message.contains(column) && message.contains(row), "{message}");
        }
        other => panic!("expected a corrupt {table}.{column} for {row}, got {other:?}"),
    };
    expect_corrupt(store.get(kind, "bad_body").await.map(|_| ()), "aggregates", "body", "lsps1_order/bad_body");
    expect_corrupt(
        store.get(kind, "bad_version").await.map(|_| ()),
        "aggregates",
        "version",
        "lsps1_order/bad_version",
    );
    expect_corrupt(
        store.get(kind, "bad_time").await.map(|_| ()),
        "aggregates",
        "created_at_unix_ms",
        "lsps1_order/bad_time",
    );
    expect_corrupt(store.history(kind, "good").await.map(|_| ()), "history", "detail", "lsps1_order/good#1");

    // The good row reads, lists and updates as before.
    assert_eq!(
        store.get(kind, "good").await.expect("get").map(|record| record.body),
        Some(json!({ "id": "good", "step": 0 }))
    );
    let active = store.list_active(kind).await.expect("a listing despite bad rows");
    assert_eq!(active.items.iter().map(|record| record.id.as_str()).collect::<Vec<_>>(), ["good"]);
    let mut bad_rows: Vec<_> = active.corrupt.iter().map(|corrupt| (corrupt.row.as_str(), corrupt.column)).collect();
    bad_rows.sort();
    assert_eq!(
        bad_rows,
        [
            ("lsps1_order/bad_body", "body"),
            ("lsps1_order/bad_time", "created_at_unix_ms"),
            ("lsps1_order/bad_version", "version")
        ]
    );
    assert!(matches!(active.strict(), Err(StoreError::Corrupt(_))));
    assert_eq!(store.list_by_client(kind, "client-a", 10).await.expect("listing").items.len(), 1);
    store.update(kind, "good", 1, change_to("paid", false, 2_000), json!({}), vec![]).await.expect("update good");

    let effects = store.pending_effects(10).await.expect("a listing despite a bad effect");
    assert_eq!(effects.items.len(), 3);
    assert_eq!(effects.corrupt.len(), 1);
    assert_eq!((effects.corrupt[0].table, effects.corrupt[0].column), ("effects", "body"));
    assert!(effects.corrupt[0].row.starts_with("effect "), "{}", effects.corrupt[0].row);
}

pub async fn killed_writer_process_loses_nothing_acknowledged(fixture: &Fixture) {
    drop(fixture.open().await);
    let executable = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new(executable)
        .args(["--exact", "child_writer_process", "--nocapture", "--test-threads=1"])
        .env(CHILD_LOCATION_VAR, &fixture.location)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the writer");
    let stdout = child.stdout.take().expect("the writer's stdout");
    let mut acknowledged: BTreeMap<String, i64> = BTreeMap::new();
    let started = Instant::now();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("a line from the writer");
        if let Some((id, version)) = line.strip_prefix("ACK ").and_then(|rest| rest.split_once(' ')) {
            let version: i64 = version.parse().expect("a version");
            let entry = acknowledged.entry(id.to_owned()).or_default();
            *entry = (*entry).max(version);
        }
        if acknowledged.values().sum::<i64>() >= 60 || started.elapsed() > Duration::from_secs(60) {
            break;
        }
    }
    // SIGKILL, with writes in flight: no destructor, no close, no flush.
    child.kill().expect("kill the writer");
    child.wait().expect("reap the writer");
    assert!(acknowledged.len() >= 10, "the writer made progress: {acknowledged:?}");

    let store = fixture.open().await;
    let mut total_versions = 0;
    let stored = store.list_by_client(Kind::Lsps2Session, "writer", u32::MAX).await.expect("listing");
    let stored = stored.strict().expect("no corrupt rows after a crash");
    for record in &stored {
        let history = store.history(Kind::Lsps2Session, &record.id).await.expect("history");
        let seqs: Vec<i64> = history.iter().map(|entry| entry.seq).collect();
        assert_eq!(seqs, (1..=record.version).collect::<Vec<_>>(), "{}: one entry per version", record.id);
        total_versions += record.version;
    }
    for (id, version) in &acknowledged {
        let record = stored.iter().find(|record| &record.id == id);
        assert!(record.is_some_and(|record| record.version >= *version), "{id} v{version} was acknowledged");
    }
    // Every transition enqueued one effect in its own transaction: all or nothing.
    let effects = store.pending_effects(u32::MAX).await.expect("effects").strict().expect("no corrupt effects");
    assert_eq!(effects.len() as i64, total_versions, "no state without its effect, no effect without its state");
}

/// The body of the child process: writes until killed, printing `ACK id version` after each
/// commit. Runs only when [`CHILD_LOCATION_VAR`] is set.
pub async fn write_until_killed(location: &str) {
    let store = inbound_store::open(location).await.expect("the child opens the store");
    let writers = (0..4).map(|writer| {
        let store = store.clone();
        tokio::spawn(async move {
            for round in 0..5_000u64 {
                let id = format!("w{writer}-{round}");
                let mut new = new_record(Kind::Lsps2Session, &id, round);
                new.client_node_id = Some("writer".to_owned());
                store.insert(new, json!({}), vec![json!({ "effect": 1 })]).await.expect("insert");
                println!("ACK {id} 1");
                for version in 1..3 {
                    let change = change_to("step", false, round);
                    store
                        .update(Kind::Lsps2Session, &id, version, change, json!({}), vec![json!(version)])
                        .await
                        .expect("update");
                    println!("ACK {id} {}", version + 1);
                }
            }
        })
    });
    for writer in writers {
        writer.await.expect("the writer task");
    }
}
