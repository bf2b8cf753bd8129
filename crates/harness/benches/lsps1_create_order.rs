//! `lsps1.create_order` throughput and latency against a real LSP node (LDK on SimChain) running
//! the LSPS1 service on durable storage: each order validates the request, creates a hold
//! invoice and is persisted (one store transaction) before it is answered.
//!
//! Measured over the wallet's BOLT8 connection (LSPS0, message type 37913, a real wallet node's
//! `LspsClient`) and over HTTP (`inbound-http` on 127.0.0.1:0, the client's `HttpTransport`
//! signing with the wallet node's key), each sequentially and with `tasks` clients in parallel,
//! on a SQLite file (WAL, `synchronous = FULL`) and on PostgreSQL (`INBOUND_TEST_POSTGRES_URL`,
//! default `postgres://postgres@127.0.0.1:5432/test`, in a schema made for the run and dropped
//! after it). After each run the orders in the store are counted (through a second handle on
//! the same database) and must be exactly the orders answered.
//!
//! `cargo bench -p inbound-harness --bench lsps1_create_order` measures; under
//! `cargo test --benches` (no `--bench` argument) a few orders run and are checked, so the bench
//! cannot rot. PostgreSQL is skipped when unreachable, except under `CI` where that fails.
//! `LSPS1_BENCH_SEQUENTIAL`, `LSPS1_BENCH_TASKS` and `LSPS1_BENCH_ORDERS_PER_TASK` override sizes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use inbound_client::lsps1::{HttpTransport, PeerTransport, Transport};
use inbound_client::ClientConfig;
use inbound_harness::Network;
use inbound_http::{HttpConfig, HttpState};
use inbound_service::lsps1::Lsps1Config;
use inbound_service::{Clock, SystemClock};
use inbound_store::Kind;
use lsps::lsps1::CreateOrderRequest;
use lsps::method::{Request, Response};
use lsps::schema::SatAmount;
use sqlx::{AnyConnection, Connection};

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Clone, Copy)]
struct Sizes {
    sequential: usize,
    tasks: usize,
    orders_per_task: usize,
}

fn sizes() -> Sizes {
    let full = std::env::args().any(|arg| arg == "--bench");
    let env = |name: &str, default: usize| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let (sequential, tasks, orders_per_task) = if full { (500, 16, 50) } else { (3, 2, 2) };
    Sizes {
        sequential: env("LSPS1_BENCH_SEQUENTIAL", sequential),
        tasks: env("LSPS1_BENCH_TASKS", tasks).max(1),
        orders_per_task: env("LSPS1_BENCH_ORDERS_PER_TASK", orders_per_task),
    }
}

fn request() -> CreateOrderRequest {
    CreateOrderRequest {
        lsp_balance_sat: SatAmount(100_000),
        client_balance_sat: SatAmount(20_000),
        required_channel_confirmations: 0,
        funding_confirms_within_blocks: 6,
        channel_expiry_blocks: 144,
        token: None,
        refund_onchain_address: None,
        announce_channel: false,
    }
}

async fn create_order(transport: &dyn Transport) {
    match transport.call(Request::Lsps1CreateOrder(request())).await {
        Ok(Response::Lsps1CreateOrder(order)) => assert!(order.payment.bolt11.is_some(), "{order:?}"),
        other => panic!("create_order over {}: {other:?}", transport.describe()),
    }
}

/// One line of the table.
struct Row {
    backend: &'static str,
    transport: &'static str,
    mode: String,
    orders: usize,
    wall: Duration,
    latencies: Vec<Duration>,
    stored: u64,
}

impl Row {
    fn print(&self) {
        let mut latencies = self.latencies.clone();
        latencies.sort_unstable();
        let percentile = |p: f64| {
            let index = ((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1).min(latencies.len() - 1);
            latencies[index].as_secs_f64() * 1e3
        };
        println!(
            "{:<8} {:<5} {:<13} {:>6} {:>9.0} {:>9.2} {:>9.2} {:>9.2} {:>8}",
            self.backend,
            self.transport,
            self.mode,
            self.orders,
            self.orders as f64 / self.wall.as_secs_f64(),
            percentile(0.50),
            percentile(0.99),
            latencies[latencies.len() - 1].as_secs_f64() * 1e3,
            self.stored,
        );
    }
}

fn header() {
    println!(
        "{:<8} {:<5} {:<13} {:>6} {:>9} {:>9} {:>9} {:>9} {:>8}",
        "backend", "via", "mode", "orders", "orders/s", "p50 ms", "p99 ms", "max ms", "stored"
    );
}

async fn sequential(transport: Arc<dyn Transport>, orders: usize) -> (Duration, Vec<Duration>) {
    let mut latencies = Vec::with_capacity(orders);
    let started = Instant::now();
    for _ in 0..orders {
        let call = Instant::now();
        create_order(transport.as_ref()).await;
        latencies.push(call.elapsed());
    }
    (started.elapsed(), latencies)
}

/// One task per client (each its own wallet node, so its own node id and per-peer cap).
async fn concurrent(clients: &[Arc<dyn Transport>], sizes: Sizes) -> (Duration, Vec<Duration>) {
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .iter()
        .map(|transport| {
            let transport = Arc::clone(transport);
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(sizes.orders_per_task);
                for _ in 0..sizes.orders_per_task {
                    let call = Instant::now();
                    create_order(transport.as_ref()).await;
                    latencies.push(call.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("a client task"));
    }
    (started.elapsed(), latencies)
}

/// Runs the four measurements against one LSP whose store is at `location`.
async fn run(backend: &'static str, location: &str, sizes: Sizes) -> Vec<Row> {
    let network = Network::sim().await.expect("network");
    let total = 2 * (1 + sizes.sequential + sizes.orders_per_task);
    let config = Lsps1Config { max_open_orders_per_client: total as u64 + 1, ..Lsps1Config::default() };
    let clock = Arc::new(SystemClock) as Arc<dyn Clock>;
    let lsp = network.add_lsps1_lsp("lsp", config, location, clock).await.expect("LSPS1 LSP");
    // One wallet node per concurrent client: the LSP caps each peer's in-flight requests.
    let mut wallets = Vec::new();
    for index in 0..sizes.tasks {
        let wallet = network.add_wallet_with(&format!("wallet{index}"), ClientConfig::default()).await.expect("wallet");
        network.connect(&wallet, &lsp).await.expect("connect");
        wallets.push(wallet);
    }

    let http_config = HttpConfig {
        rate_burst: u32::MAX,
        rate_per_second: u32::MAX,
        require_node_signature: true,
        ..HttpConfig::default()
    };
    let state = HttpState::new(Arc::clone(lsp.server()), http_config).expect("http config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/lsps", listener.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(inbound_http::serve(listener, state, async move {
        let _ = stopped.await;
    }));

    let mut peers: Vec<Arc<dyn Transport>> = Vec::new();
    let mut https: Vec<Arc<dyn Transport>> = Vec::new();
    let mut client_ids = Vec::new();
    for wallet in &wallets {
        let node = wallet.node();
        peers.push(Arc::new(PeerTransport::new(Arc::clone(wallet.client()), lsp.node_id())));
        https.push(Arc::new(
            HttpTransport::new(&url, node.node_id(), Duration::from_secs(30))
                .expect("transport")
                .with_node_key(node.keys_manager().get_node_secret_key()),
        ));
        client_ids.push(node.node_id().to_string());
    }
    // A second handle on the same database counts what the service persisted.
    let counter = inbound_store::open(location).await.expect("a second store handle");
    let mut rows = Vec::new();
    let mut expected = 0u64;
    for (name, clients) in [("bolt8", peers), ("http", https)] {
        // Warm-up: connections, the first invoice, the store's statements (not measured).
        for client in &clients {
            create_order(client.as_ref()).await;
            expected += 1;
        }
        for concurrently in [false, true] {
            let (mode, (wall, latencies)) = if concurrently {
                (format!("{} clients", sizes.tasks), concurrent(&clients, sizes).await)
            } else {
                ("sequential".to_owned(), sequential(Arc::clone(&clients[0]), sizes.sequential).await)
            };
            expected += latencies.len() as u64;
            let mut stored = 0;
            for client_id in &client_ids {
                stored += counter.count_active_by_client(Kind::Lsps1Order, client_id).await.expect("count");
            }
            assert_eq!(stored, expected, "every answered order is in the {backend} store");
            let orders = latencies.len();
            rows.push(Row { backend, transport: name, mode, orders, wall, latencies, stored });
        }
    }
    counter.close().await.expect("close the counting handle");
    stop.send(()).expect("stop HTTP");
    serving.await.expect("HTTP task").expect("served");
    network.shutdown().await.expect("shutdown");
    rows
}

async fn run_postgres(sizes: Sizes) -> Option<Vec<Row>> {
    sqlx::any::install_default_drivers();
    let base_url = std::env::var("INBOUND_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into());
    let mut admin = match AnyConnection::connect(&base_url).await {
        Ok(connection) => connection,
        Err(error) if std::env::var_os("CI").is_some() => panic!("PostgreSQL at {base_url} unreachable: {error}"),
        Err(error) => {
            println!("postgres skipped: {base_url} unreachable ({error})");
            return None;
        }
    };
    let schema = format!("inbound_lsps1_bench_{}", std::process::id());
    sqlx::raw_sql(&format!("CREATE SCHEMA {schema}")).execute(&mut admin).await.expect("create schema");
    let separator = if base_url.contains('?') { '&' } else { '?' };
    let location = format!("{base_url}{separator}options=-c%20search_path%3D{schema}");
    let rows = run("postgres", &location, sizes).await;
    sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE")).execute(&mut admin).await.expect("drop schema");
    Some(rows)
}

fn main() {
    let sizes = sizes();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = directory.path().join("lsps1.db");
        let mut rows = run("sqlite", path.to_str().expect("a UTF-8 path"), sizes).await;
        rows.extend(run_postgres(sizes).await.unwrap_or_default());
        header();
        for row in &rows {
            row.print();
        }
    });
}
