//! LSPS0 round trips between a wallet and an LSP over a real BOLT8 connection on loopback
//! (SimChain): `N` sequential `lsps0.list_protocols` calls, then `M` tasks calling
//! concurrently. Prints round trips per second and p50/p99 latency as plain lines.
//!
//! `cargo bench -p inbound-harness --bench lsps0_rtt` runs the full measurement; under
//! `cargo test --benches` (no `--bench` argument) it runs a few calls only, so that the bench
//! cannot rot without slowing the test suite. `LSPS0_BENCH_SEQUENTIAL`, `LSPS0_BENCH_TASKS` and
//! `LSPS0_BENCH_CALLS_PER_TASK` override the sizes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use inbound_client::ClientConfig;
use inbound_harness::Network;

struct Sizes {
    sequential: usize,
    tasks: usize,
    calls_per_task: usize,
}

fn sizes() -> Sizes {
    let full = std::env::args().any(|arg| arg == "--bench");
    let env = |name: &str, default: usize| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let (sequential, tasks, calls_per_task) = if full { (5_000, 16, 500) } else { (20, 4, 5) };
    Sizes {
        sequential: env("LSPS0_BENCH_SEQUENTIAL", sequential),
        tasks: env("LSPS0_BENCH_TASKS", tasks),
        calls_per_task: env("LSPS0_BENCH_CALLS_PER_TASK", calls_per_task),
    }
}

fn report(label: &str, mut latencies: Vec<Duration>, wall: Duration) {
    latencies.sort_unstable();
    let percentile = |p: f64| {
        let index = ((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1).min(latencies.len() - 1);
        latencies[index]
    };
    println!(
        "lsps0_rtt {label}: calls={} wall={:.3}s rtt_per_sec={:.0} p50={:.1}us p99={:.1}us max={:.1}us",
        latencies.len(),
        wall.as_secs_f64(),
        latencies.len() as f64 / wall.as_secs_f64(),
        percentile(0.50).as_secs_f64() * 1e6,
        percentile(0.99).as_secs_f64() * 1e6,
        latencies[latencies.len() - 1].as_secs_f64() * 1e6,
    );
}

async fn run(sizes: Sizes) {
    let network = Network::sim().await.expect("network");
    let lsp = network.add_lsp("lsp").await.expect("lsp");
    // The LSP's outbound LSPS0 queue holds 32 answers per peer; more calls in flight than that
    // would measure dropped answers, not latency.
    let client_config = ClientConfig { max_pending_per_lsp: sizes.tasks.max(1), ..Default::default() };
    let wallet = network.add_wallet_with("wallet", client_config).await.expect("wallet");
    network.connect(&wallet, &lsp).await.expect("connect");
    let lsp_id = lsp.node_id();
    let client = Arc::clone(wallet.client());
    for _ in 0..10 {
        client.list_protocols(lsp_id).await.expect("warm-up");
    }

    let mut latencies = Vec::with_capacity(sizes.sequential);
    let started = Instant::now();
    for _ in 0..sizes.sequential {
        let call = Instant::now();
        client.list_protocols(lsp_id).await.expect("sequential call");
        latencies.push(call.elapsed());
    }
    report("sequential", latencies, started.elapsed());

    let started = Instant::now();
    let tasks: Vec<_> = (0..sizes.tasks)
        .map(|_| {
            let client = Arc::clone(&client);
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(sizes.calls_per_task);
                for _ in 0..sizes.calls_per_task {
                    let call = Instant::now();
                    client.list_protocols(lsp_id).await.expect("concurrent call");
                    latencies.push(call.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("task"));
    }
    report(&format!("concurrent tasks={}", sizes.tasks), latencies, started.elapsed());
    let stats = lsp.server().stats();
    println!(
        "lsps0_rtt server: requests={} answered={} dropped_sends={}",
        stats.requests, stats.answered, stats.dropped_sends
    );
    network.shutdown().await.expect("shutdown");
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(run(sizes()));
}
