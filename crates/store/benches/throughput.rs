//! Insert and update throughput of the store on each backend.
//!
//! `cargo bench -p inbound-store --bench throughput` measures; `cargo test --benches` runs a
//! few operations only, so the benchmark cannot rot. PostgreSQL is the server at
//! `INBOUND_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`), in a
//! schema created for the run and dropped after it; it is skipped if unreachable.
//!
//! Every operation is one durable transaction (SQLite: WAL, `synchronous = FULL`), with one
//! history entry and one outbox effect, as a flow runner writes them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use inbound_store::{Kind, NewRecord, RecordChange, Store};
use serde_json::json;
use sqlx::{AnyConnection, Connection};

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A JSON body of roughly the size of a real LSPS1 order.
fn body(step: u64) -> serde_json::Value {
    json!({
        "lsp_balance_sat": 1_000_000, "client_balance_sat": 0, "required_channel_confirmations": 0,
        "funding_confirms_within_blocks": 6, "channel_expiry_blocks": 12_960, "announce_channel": false,
        "payment": { "bolt11": { "state": "EXPECT_PAYMENT", "fee_total_sat": 1_234, "order_total_sat": 1_234,
                     "invoice": "lnbc12340n1p".repeat(20) } },
        "step": step,
    })
}

fn new_record(id: String, at: u64) -> NewRecord {
    NewRecord {
        kind: Kind::Lsps1Order,
        id,
        state: "created".into(),
        terminal: false,
        client_node_id: Some("02".repeat(33)),
        scid: None,
        deadline_unix_ms: Some(at + 3_600_000),
        body: body(0),
        created_at_unix_ms: at,
    }
}

fn change(at: u64) -> RecordChange {
    RecordChange {
        state: "paid".into(),
        terminal: false,
        scid: None,
        deadline_unix_ms: Some(at + 3_600_000),
        body: body(1),
        at_unix_ms: at,
    }
}

struct Measurement {
    name: String,
    operations: u64,
    elapsed: Duration,
}

impl Measurement {
    fn print(&self, backend: &str) {
        let per_second = self.operations as f64 / self.elapsed.as_secs_f64();
        let micros = self.elapsed.as_micros() as f64 / self.operations as f64;
        println!(
            "{backend:<8} {:<34} {:>6} ops {:>9.0} ops/s {:>9.0} µs/op",
            self.name, self.operations, per_second, micros
        );
    }
}

async fn run(store: Arc<dyn Store>, operations: u64, tasks: u64) -> Vec<Measurement> {
    let mut results = Vec::new();
    let started = Instant::now();
    for index in 0..operations {
        store.insert(new_record(format!("seq-{index}"), index), json!({}), vec![json!("open")]).await.expect("insert");
    }
    results.push(Measurement { name: "insert, 1 task".into(), operations, elapsed: started.elapsed() });

    let started = Instant::now();
    for index in 0..operations {
        let id = format!("seq-{index}");
        store.update(Kind::Lsps1Order, &id, 1, change(index), json!({}), vec![json!("notify")]).await.expect("update");
    }
    results.push(Measurement { name: "update, 1 task".into(), operations, elapsed: started.elapsed() });

    let per_task = operations / tasks;
    let started = Instant::now();
    let handles = (0..tasks).map(|task| {
        let store = store.clone();
        tokio::spawn(async move {
            for index in 0..per_task {
                let id = format!("par-{task}-{index}");
                store.insert(new_record(id.clone(), index), json!({}), vec![json!("open")]).await.expect("insert");
                store.update(Kind::Lsps1Order, &id, 1, change(index), json!({}), vec![]).await.expect("update");
            }
        })
    });
    for handle in handles.collect::<Vec<_>>() {
        handle.await.expect("a benchmark task");
    }
    let name = format!("insert+update, {tasks} tasks");
    results.push(Measurement { name, operations: 2 * per_task * tasks, elapsed: started.elapsed() });
    store.close().await.expect("close");
    results
}

fn main() {
    let measuring = std::env::args().any(|argument| argument == "--bench");
    let (operations, tasks) = if measuring { (2_000, 8) } else { (16, 8) };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = directory.path().join("bench.db");
        let store = inbound_store::open(path.to_str().expect("a UTF-8 path")).await.expect("open SQLite");
        for measurement in run(store, operations, tasks).await {
            measurement.print("sqlite");
        }

        sqlx::any::install_default_drivers();
        let base_url = std::env::var("INBOUND_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into());
        let mut admin = match AnyConnection::connect(&base_url).await {
            Ok(connection) => connection,
            Err(error) => {
                println!("postgres skipped: {base_url} unreachable ({error})");
                return;
            }
        };
        let schema = format!("inbound_store_bench_{}", std::process::id());
        sqlx::raw_sql(&format!("CREATE SCHEMA {schema}")).execute(&mut admin).await.expect("create schema");
        let separator = if base_url.contains('?') { '&' } else { '?' };
        let location = format!("{base_url}{separator}options=-c%20search_path%3D{schema}");
        let measured = match inbound_store::open(&location).await {
            Ok(store) => Ok(run(store, operations, tasks).await),
            Err(error) => Err(error),
        };
        sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE")).execute(&mut admin).await.expect("drop schema");
        for measurement in measured.expect("open PostgreSQL") {
            measurement.print("postgres");
        }
    });
}
