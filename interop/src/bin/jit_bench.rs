//! LSPS2 latency benchmark (prints figures; asserts nothing about time).
//!
//! One bcoin chain, one ldk-node payer, two LSPs: Inbound's (`inbound serve` child, use a release
//! build: `INBOUND_BIN` or the main workspace's `target/release/inbound`) and LDK's own LSPS2
//! service (ldk-node 0.7.1).
//!
//! 1. Latency, `--runs N` (default 20) per LSP, interleaved: a fresh ldk-node wallet asks for a
//!    JIT invoice (`receive_via_jit_channel_for_hash`), the payer pays, and the figure is payer
//!    `send` → the wallet's `PaymentClaimable` (so it covers the interception, the 0-conf open and
//!    the forward). p50 and p99 per LSP and their ratio.
//! 2. Burst, `--wallets M` (default 200): M Inbound wallet nodes (inbound-node + inbound-client,
//!    in-process; lighter than M ldk-node instances) each buy a JIT invoice from Inbound's LSP; the
//!    payer then pays all M at the same moment. Prints the total time until the last wallet's
//!    `PaymentClaimed`, how many completed, and the LSP child's peak RSS (`VmHWM`).
//!
//! `--wallet ldk|inbound` (default `ldk`): the receiving wallet of the latency runs, on both
//! arms: a fresh ldk-node wallet (`receive_via_jit_channel_for_hash`, claimed by hand) or a fresh
//! Inbound wallet node (inbound-node + inbound-client `jit_invoice`, which claims by itself; it
//! processes HTLCs within `htlc_forward_poll_ms` instead of LDK's randomized batch delay). The
//! figure is the same: payer `send` → the wallet's `PaymentClaimable` event.
//!
//! `--settle-ms` (default 2500): how long a fresh wallet runs before its invoice is paid. LDK's
//! background processor holds a newly started node's first HTLC processing for 2 s
//! (`INIT_FWD_DELAY`), which would otherwise dominate both LSPs' figures; `--settle-ms 0` shows it.
//! An Inbound wallet node waits the same 2 s before its first HTLC processing (its 5 ms poll
//! starts after 2 s, like LDK's), so the same settle time applies.
//!
//! `cargo run --release --bin jit_bench -- [--runs N] [--wallets M] [--wallet ldk|inbound] [--settle-ms MS]`

use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context, Result};
use inbound_client::lsps2::JitInvoiceRequest;
use inbound_interop::chain::Chain;
use inbound_interop::ldk::{
    free_local_address, ldk_lsps2_service, open_payer_channels, socket_address, start_ldk_node, wait_event,
    wait_onchain_balance,
};
use inbound_interop::serve::{inbound_binary, InboundLsp, ServeOptions};
use inbound_interop::wallet::{wait_inbound_event, InboundWallet};
use inbound_node::lightning::events::Event as InboundEvent;
use ldk_node::bitcoin::hashes::{sha256, Hash};
use ldk_node::bitcoin::secp256k1::PublicKey;
use ldk_node::lightning::types::payment::{PaymentHash, PaymentPreimage};
use ldk_node::lightning_invoice::{Bolt11InvoiceDescription, Description};
use ldk_node::{Event, Node};

/// What one latency payment is worth.
const LATENCY_PAYMENT_MSAT: u64 = 50_000_000;
/// What each burst payment is worth.
const BURST_PAYMENT_MSAT: u64 = 10_000_000;
/// Payer → Inbound channels for the burst: LDK accepts at most 50 HTLCs per channel (the LSP's
/// `max_accepted_htlcs`), so M payments at once need room.
const PAYER_CHANNEL_SAT: u64 = 10_000_000;

/// The receiving wallet of the latency runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WalletKind {
    /// A fresh ldk-node 0.7.1 wallet per run.
    Ldk,
    /// A fresh Inbound wallet node (inbound-node + inbound-client) per run.
    Inbound,
}

impl WalletKind {
    fn describe(self) -> &'static str {
        match self {
            WalletKind::Ldk => "ldk-node 0.7.1 wallet",
            WalletKind::Inbound => "Inbound wallet node (inbound-node + inbound-client)",
        }
    }
}

struct Args {
    runs: usize,
    wallets: usize,
    wallet: WalletKind,
    settle: Duration,
}

fn parse_args() -> Result<Args> {
    let mut args = Args { runs: 20, wallets: 200, wallet: WalletKind::Ldk, settle: Duration::from_millis(2500) };
    let mut iter = std::env::args().skip(1);
    while let Some(flag) = iter.next() {
        let mut value = || iter.next().ok_or_else(|| anyhow!("{flag} needs a value"));
        match flag.as_str() {
            "--runs" => args.runs = value()?.parse().context("--runs")?,
            "--wallets" => args.wallets = value()?.parse().context("--wallets")?,
            "--wallet" => {
                args.wallet = match value()?.as_str() {
                    "ldk" => WalletKind::Ldk,
                    "inbound" => WalletKind::Inbound,
                    other => bail!("--wallet {other}: expected ldk or inbound"),
                }
            }
            "--settle-ms" => args.settle = Duration::from_millis(value()?.parse().context("--settle-ms")?),
            other => bail!(
                "unknown argument {other}; usage: jit_bench [--runs N] [--wallets M] [--wallet ldk|inbound] [--settle-ms MS]"
            ),
        }
    }
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    Ok(args)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> Result<()> {
    let args = parse_args()?;
    let binary = inbound_binary()?;
    println!("inbound binary: {}", binary.display());
    println!("latency wallet: {} (--wallet {:?})", args.wallet.describe(), args.wallet);
    let chain = Chain::start().await?;
    let dir = tempfile::tempdir()?;
    let payer_channels = args.wallets.div_ceil(40).max(1);

    // LSPs and payer.
    let options = ServeOptions {
        trust: "never",
        min_channel_sat: 20_000,
        max_pending_total: 4 * args.wallets.max(250),
        lsps_queue_total: 16 * args.wallets.max(256),
        // `JIT_BENCH_LOG` overrides the child's `RUST_LOG` (e.g. `debug` to see its steps).
        log: match std::env::var("JIT_BENCH_LOG") {
            Ok(filter) => Box::leak(filter.into_boxed_str()),
            Err(_) => ServeOptions::default().log,
        },
        ..ServeOptions::default()
    };
    let mut inbound = InboundLsp::start(&binary, &chain, &dir.path().join("inbound-lsp"), &options)?;
    let ldk_listen = free_local_address()?;
    let ldk = start_ldk_node(&chain, dir.path(), "ldk-lsp", Some(ldk_listen), vec![], |builder| {
        builder.set_liquidity_provider_lsps2(ldk_lsps2_service(false));
    })?;
    let payer = start_ldk_node(&chain, dir.path(), "payer", Some(free_local_address()?), vec![], |_| {})?;

    // Coins: many coinbases for Inbound's LSP, so that its many funding transactions need not
    // chain unconfirmed change (bcoin's mempool limits ancestors to 25).
    let ldk_address = ldk.onchain_payment().new_address().map_err(|e| anyhow!("{e:?}"))?;
    let payer_address = payer.onchain_payment().new_address().map_err(|e| anyhow!("{e:?}"))?;
    chain.bcoin.mine(3, Some(&payer_address)).await?;
    chain.bcoin.mine(2, Some(&ldk_address)).await?;
    chain.fund(&inbound.funding_address, u32::try_from(args.wallets.max(20) + 20)?).await?;
    wait_onchain_balance(&payer, 100_000_000, Duration::from_secs(60)).await?;
    wait_onchain_balance(&ldk, 100_000_000, Duration::from_secs(60)).await?;
    open_payer_channels(&chain, &payer, inbound.node_id, inbound.listen, payer_channels, PAYER_CHANNEL_SAT).await?;
    open_payer_channels(&chain, &payer, ldk.node_id(), ldk_listen, 1, 5_000_000).await?;
    println!("setup done at height {}", chain.bcoin.height().await?);

    // 1. Latency.
    let targets = [("inbound", inbound.node_id, inbound.listen), ("ldk-node", ldk.node_id(), ldk_listen)];
    let mut samples: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    for run in 0..args.runs {
        for (index, (name, id, listen)) in targets.iter().enumerate() {
            let lsp = (*id, *listen);
            let run_name = format!("{name}-{run}");
            let latency = match args.wallet {
                WalletKind::Ldk => latency_run(&chain, dir.path(), &payer, lsp, args.settle, &run_name).await,
                WalletKind::Inbound => {
                    latency_run_inbound(&chain, dir.path(), &payer, lsp, args.settle, &run_name).await
                }
            }
            .with_context(|| format!("latency run {run} against {name}"))?;
            samples[index].push(latency);
            if index == 0 && std::env::var_os("JIT_BENCH_TRACE").is_some() {
                // Where the time goes, from the LSP's side: its log of this run.
                let seen = inbound.log.len();
                for line in inbound.drain_log().iter().skip(seen) {
                    println!("    lsp| {line}");
                }
            }
            // Confirm the run's JIT funding, so unconfirmed chains never reach bcoin's limit.
            chain.mine(1).await?;
        }
    }
    println!(
        "\nfirst payment needing a new channel: payer send -> wallet PaymentClaimable, {} runs, wallet settled {:?} after start",
        args.runs, args.settle
    );
    println!("  wallet: {}; payer: ldk-node 0.7.1", args.wallet.describe());
    let mut p50s = Vec::new();
    for ((name, _, _), runs) in targets.iter().zip(samples.iter_mut()) {
        runs.sort();
        let (p50, p99) = (percentile(runs, 50), percentile(runs, 99));
        p50s.push((p50, p99));
        println!(
            "  {name:9} p50 {:7.1} ms  p99 {:7.1} ms  min {:7.1} ms  max {:7.1} ms",
            ms(p50),
            ms(p99),
            ms(runs[0]),
            ms(runs[runs.len() - 1])
        );
    }
    println!(
        "  ratio inbound/ldk-node: p50 {:.2}  p99 {:.2}",
        ms(p50s[0].0) / ms(p50s[1].0),
        ms(p50s[0].1) / ms(p50s[1].1)
    );

    // 2. Burst.
    if args.wallets > 0 {
        burst(&chain, dir.path(), &payer, &mut inbound, args.wallets).await?;
    }
    for node in [&payer, &ldk] {
        let _ = node.stop();
    }
    Ok(())
}

/// One fresh ldk-node wallet buying from the LSP `lsp`; returns payer send → PaymentClaimable.
async fn latency_run(
    chain: &Chain,
    dir: &std::path::Path,
    payer: &Node,
    (lsp, listen): (PublicKey, std::net::SocketAddr),
    settle: Duration,
    name: &str,
) -> Result<Duration> {
    let address = socket_address(listen)?;
    let wallet = start_ldk_node(chain, dir, name, None, vec![lsp], |builder| {
        builder.set_liquidity_source_lsps2(lsp, address, None);
    })?;
    // LDK's background processor holds a freshly started node's first HTLC processing for 2 s
    // (lightning-background-processor 0.2 `INIT_FWD_DELAY`); without this wait that delay at the
    // receiving wallet, the same for both LSPs, is most of the figure.
    tokio::time::sleep(settle).await;
    let preimage =
        PaymentPreimage(sha256::Hash::hash(format!("{name} {:?}", SystemTime::now()).as_bytes()).to_byte_array());
    let hash = PaymentHash(sha256::Hash::hash(&preimage.0).to_byte_array());
    let description = Bolt11InvoiceDescription::Direct(Description::new("bench".into()).map_err(|e| anyhow!("{e}"))?);
    // Inbound's menu is empty until its wallet has seen its coins; ask again until there is one.
    let deadline = Instant::now() + Duration::from_secs(60);
    let invoice = loop {
        match wallet.bolt11_payment().receive_via_jit_channel_for_hash(
            LATENCY_PAYMENT_MSAT,
            &description,
            3600,
            None,
            hash,
        ) {
            Ok(invoice) => break invoice,
            Err(error) if Instant::now() < deadline => {
                eprintln!("{name}: receive_via_jit_channel_for_hash: {error:?}; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(error) => bail!("{name}: receive_via_jit_channel_for_hash: {error:?}"),
        }
    };
    let sent = Instant::now();
    if std::env::var_os("JIT_BENCH_TRACE").is_some() {
        println!("  {name}: payer send at {}", wall_clock());
    }
    payer.bolt11_payment().send(&invoice, None).map_err(|e| anyhow!("send: {e:?}"))?;
    let claimable = wait_event(&wallet, "PaymentClaimable", Duration::from_secs(60), |event| match event {
        Event::PaymentClaimable { claimable_amount_msat, .. } => Some(Ok(*claimable_amount_msat)),
        _ => None,
    })
    .await?;
    let latency = sent.elapsed();
    if std::env::var_os("JIT_BENCH_TRACE").is_some() {
        println!("  {name}: wallet PaymentClaimable seen at {}", wall_clock());
    }
    wallet.bolt11_payment().claim_for_hash(hash, claimable, preimage).map_err(|e| anyhow!("claim: {e:?}"))?;
    wait_event(payer, "PaymentSuccessful", Duration::from_secs(60), |event| match event {
        Event::PaymentSuccessful { .. } => Some(Ok(())),
        Event::PaymentFailed { reason, .. } => Some(Err(anyhow!("payment failed: {reason:?}"))),
        _ => None,
    })
    .await?;
    let _ = wallet.stop();
    println!("  {name}: {:.1} ms", ms(latency));
    Ok(latency)
}

/// One fresh Inbound wallet node buying from the LSP `lsp`; returns payer send → the wallet's
/// `PaymentClaimable` (its [`WalletEventHandler`](inbound_client::lsps2::WalletEventHandler)
/// then claims by itself).
async fn latency_run_inbound(
    chain: &Chain,
    dir: &std::path::Path,
    payer: &Node,
    (lsp, listen): (PublicKey, std::net::SocketAddr),
    settle: Duration,
    name: &str,
) -> Result<Duration> {
    let wallet = InboundWallet::start(&dir.join(name), name, chain.bcoin.rpc_url(), Duration::from_secs(5)).await?;
    let outcome = inbound_payment(&wallet, payer, (lsp, listen), settle, name).await;
    let _ = wallet.stop().await;
    outcome
}

async fn inbound_payment(
    wallet: &InboundWallet,
    payer: &Node,
    (lsp, listen): (PublicKey, std::net::SocketAddr),
    settle: Duration,
    name: &str,
) -> Result<Duration> {
    wallet.node.connect_peer(lsp, listen, false).await.map_err(|e| anyhow!("connect: {e}"))?;
    // The wallet node's first HTLC processing waits 2 s after start, as LDK's does; see `--settle-ms`.
    tokio::time::sleep(settle).await;
    let jit = wallet
        .buy_jit_invoice(lsp, LATENCY_PAYMENT_MSAT, 10_000_000, Duration::from_secs(60))
        .await
        .with_context(|| format!("{name}: buying the JIT invoice"))?;
    let expected = jit.opening_fee_msat.map(|fee| LATENCY_PAYMENT_MSAT - fee);
    let hash = jit.invoice.payment_hash().to_string();
    let mut events = wallet.subscribe();
    let sent = Instant::now();
    if std::env::var_os("JIT_BENCH_TRACE").is_some() {
        println!("  {name}: payer send at {}", wall_clock());
    }
    payer.bolt11_payment().send(&jit.invoice, None).map_err(|e| anyhow!("send: {e:?}"))?;
    wait_inbound_event(&mut events, "PaymentClaimable", Duration::from_secs(60), |event| match event {
        InboundEvent::PaymentClaimable { payment_hash, .. } if payment_hash.to_string() == hash => Some(Ok(())),
        _ => None,
    })
    .await?;
    let latency = sent.elapsed();
    if std::env::var_os("JIT_BENCH_TRACE").is_some() {
        println!("  {name}: wallet PaymentClaimable seen at {}", wall_clock());
    }
    let claimed = wait_inbound_event(&mut events, "PaymentClaimed", Duration::from_secs(60), |event| match event {
        InboundEvent::PaymentClaimed { payment_hash, amount_msat, .. } if payment_hash.to_string() == hash => {
            Some(Ok(*amount_msat))
        }
        _ => None,
    })
    .await?;
    if Some(claimed) != expected {
        bail!("{name}: claimed {claimed} msat, expected {expected:?}");
    }
    wait_event(payer, "PaymentSuccessful", Duration::from_secs(60), |event| match event {
        Event::PaymentSuccessful { .. } => Some(Ok(())),
        Event::PaymentFailed { reason, .. } => Some(Err(anyhow!("payment failed: {reason:?}"))),
        _ => None,
    })
    .await?;
    println!("  {name}: {:.1} ms", ms(latency));
    Ok(latency)
}

/// `wallets` Inbound wallets receive their first payment through Inbound's LSP at once.
async fn burst(chain: &Chain, dir: &std::path::Path, payer: &Node, lsp: &mut InboundLsp, wallets: usize) -> Result<()> {
    let started = Instant::now();
    let mut nodes = Vec::with_capacity(wallets);
    let indices: Vec<usize> = (0..wallets).collect();
    for batch in indices.chunks(20) {
        let starts = batch.iter().map(|&index| {
            let path = dir.join(format!("burst-{index}"));
            let url = chain.bcoin.rpc_url().to_owned();
            let (id, listen) = (lsp.node_id, lsp.listen);
            tokio::spawn(async move {
                let wallet = InboundWallet::start(&path, &format!("w{index}"), &url, Duration::from_secs(5)).await?;
                wallet.node.connect_peer(id, listen, false).await.map_err(|e| anyhow!("connect: {e}"))?;
                let jit = wallet
                    .lsps2
                    .jit_invoice(JitInvoiceRequest {
                        lsp: id,
                        amount_msat: Some(BURST_PAYMENT_MSAT),
                        max_fee_msat: 2_000_000,
                        description: format!("burst {index}"),
                        expiry_secs: 3600,
                        token: None,
                    })
                    .await
                    .map_err(|e| anyhow!("jit_invoice: {e}"))?;
                Ok::<_, anyhow::Error>((wallet, jit))
            })
        });
        for handle in starts.collect::<Vec<_>>() {
            nodes.push(handle.await.map_err(|e| anyhow!("{e}"))??);
        }
    }
    println!("\nburst: {wallets} wallets with JIT invoices ready after {:?}", started.elapsed());

    let mut waits = Vec::with_capacity(wallets);
    for (wallet, jit) in &nodes {
        let mut events = wallet.subscribe();
        let hash = jit.invoice.payment_hash().to_string();
        let expected = jit.opening_fee_msat.map(|fee| BURST_PAYMENT_MSAT - fee);
        waits.push(tokio::spawn(async move {
            let claimed =
                wait_inbound_event(&mut events, "PaymentClaimed", Duration::from_secs(300), |event| match event {
                    InboundEvent::PaymentClaimed { payment_hash, amount_msat, .. }
                        if payment_hash.to_string() == hash =>
                    {
                        Some(Ok(*amount_msat))
                    }
                    _ => None,
                })
                .await?;
            if Some(claimed) != expected {
                bail!("claimed {claimed} msat, expected {expected:?}");
            }
            Ok::<_, anyhow::Error>(Instant::now())
        }));
    }
    let t0 = Instant::now();
    for (_, jit) in &nodes {
        payer.bolt11_payment().send(&jit.invoice, None).map_err(|e| anyhow!("send: {e:?}"))?;
    }
    let sends = t0.elapsed();
    let mut completed = 0usize;
    let mut last = t0;
    let mut failures = Vec::new();
    for wait in waits {
        match wait.await.map_err(|e| anyhow!("{e}"))? {
            Ok(at) => {
                completed += 1;
                last = last.max(at);
            }
            Err(error) => failures.push(error.to_string()),
        }
    }
    let total = last.duration_since(t0);
    println!("burst: {completed} of {wallets} payments claimed, {} lost", wallets - completed);
    println!("burst: sends issued in {:.1} ms; all claimed {:.1} ms after the first send", ms(sends), ms(total));
    for failure in failures.iter().take(5) {
        println!("  failure: {failure}");
    }
    match lsp.peak_rss_kib() {
        Some(kib) => println!("burst: inbound serve (pid {}) peak RSS VmHWM {:.1} MiB", lsp.pid(), kib as f64 / 1024.0),
        None => println!("burst: peak RSS unavailable"),
    }
    // Trust mode "never": every JIT funding transaction is broadcast at once.
    let funded = chain.bcoin.mempool().await?.len();
    println!("burst: {funded} transactions in bcoin's mempool after the burst (JIT fundings expected: {wallets})");
    let errors = lsp.drain_log().iter().filter(|line| line.contains("ERROR")).count();
    println!("burst: {errors} ERROR lines in the LSP log");
    for (wallet, _) in &nodes {
        let _ = wallet.stop().await;
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    // Nearest rank.
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// UTC time of day with microseconds, to line up with the LSP's log timestamps.
fn wall_clock() -> String {
    let since = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let day = since.as_secs() % 86_400;
    format!("{:02}:{:02}:{:02}.{:06}Z", day / 3600, day / 60 % 60, day % 60, since.subsec_micros())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
