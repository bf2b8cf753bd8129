//! `inbound demo`: the whole system on a throwaway chain, in one process.
//!
//! Steps, each printed to stderr with its duration and the total so far, each under a timeout:
//!
//! 1. start a memory-only bcoin regtest node ([`inbound_regtest::Bcoin`]);
//! 2. start the LSP exactly as `inbound serve` does ([`crate::lsp::start_lsp`], with LSPS1, LSPS2
//!    and LSPS5 on and their SQLite store in the LSP's directory), then a JIT wallet (which buys LSPS2 channels)
//!    and a payer (role wallet; their LSPS handler is an `LspsClient`), each in its own directory
//!    under one temporary root;
//! 3. fund the LSP and the payer with a mined, matured coinbase each;
//! 4. connect the wallet to the LSP;
//! 5. run the flows of `flows.rs`, `order.rs` and `wake.rs`, each of which fills one section of
//!    the [`DemoReport`];
//! 6. start the admin API as `inbound serve` does and check, in `operator.rs`, that it lists
//!    what the flows did and that `/metrics` counted their fees;
//! 7. start the HTTP front end as `inbound serve` does, issue a voucher through the admin API and
//!    claim it by LNURL-channel from the payer (`vouchers.rs`), then buy a channel for the wallet
//!    through the web widget's HTTP API, as its page does (`widget.rs`);
//! 8. run `inbound check` (the conformance checker, `check.rs`) against the LSP through a node of
//!    its own.
//!
//! Stdout gets exactly one JSON object, the report, whether the run succeeded or not; on failure
//! it carries `"error"` and the process exits non-zero. Everything started is stopped and the
//! temporary root deleted at the end (kept with `--keep-dirs`), also after a failure or Ctrl-C.
//!
//! Adding a flow (issue 5): write one `async fn` in `flows.rs` returning its report
//! section, add that section as a field of [`DemoReport`], and call it from `run_flows`.

mod check;
mod flows;
mod operator;
mod order;
mod setup;
mod vouchers;
mod wake;
mod widget;

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use inbound_regtest::Bcoin;
use serde::Serialize;
use tempfile::TempDir;

use crate::cli::DemoArgs;
use crate::lsp::Lsp;
use crate::wallet::Wallet;

pub use check::CheckReport;
pub use flows::{ChainReport, ChannelReport, Lsps0Report, Lsps2Report, PaymentReport};
pub use operator::OperatorReport;
pub use order::Lsps1Report;
pub use vouchers::VouchersReport;
pub use wake::Lsps5Report;
pub use widget::WidgetReport;

/// Time allowed to start bcoin; the first run installs it from npm.
pub const BCOIN_START_TIMEOUT: Duration = Duration::from_secs(600);
/// Time allowed to any other step.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(120);
/// Period of [`poll_until`]'s checks.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Time allowed to stop one node at the end.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// The JSON summary printed on stdout: one section per flow, present if the flow succeeded.
#[derive(Debug, Default, Serialize)]
pub struct DemoReport {
    /// The LSP's `lsps0.list_protocols` answer, fetched by the wallet over Lightning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lsps0: Option<Lsps0Report>,
    /// The regtest chain at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainReport>,
    /// The payer→LSP channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<ChannelReport>,
    /// The payer's payment of an LSP invoice over that channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentReport>,
    /// The payer's payment of the wallet's JIT invoice, received over a new 0-conf channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lsps2: Option<Lsps2Report>,
    /// The wallet's LSPS1 channel order (bLIP-51), paid by the payer, until COMPLETED.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lsps1: Option<Lsps1Report>,
    /// A wallet that sleeps (node stopped) woken by a verified LSPS5 webhook and paid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lsps5: Option<Lsps5Report>,
    /// The operator's admin API: the flows above listed, their fees in `/metrics`, `/readyz`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<OperatorReport>,
    /// A prepaid voucher issued through the admin API, claimed by LNURL-channel over the HTTP
    /// front end, its channel delivered; the same voucher refused to a second node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vouchers: Option<VouchersReport>,
    /// A channel bought through the web widget's HTTP API (page, quote, order, payment, open).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub widget: Option<WidgetReport>,
    /// `inbound check` against the LSP: passes, failures (always 0 on success), warnings, skips.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckReport>,
    /// The first failure, with its step; absent on success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Everything the demo started, each `None` until started, so that teardown works after a
/// failure at any step.
#[derive(Default)]
struct Parts {
    root: Option<TempDir>,
    bcoin: Option<Bcoin>,
    lsp: Option<Lsp>,
    wallet: Option<Wallet>,
    payer: Option<Wallet>,
    sleeper: Option<Wallet>,
    relay: Option<inbound_push_relay::PushRelay>,
    admin: Option<crate::endpoint::Endpoint>,
    http: Option<crate::endpoint::Endpoint>,
}

/// The running system, as the flows see it.
pub struct DemoNet<'a> {
    /// The regtest chain (mining, mempool).
    pub bcoin: &'a Bcoin,
    /// The LSP.
    pub lsp: &'a Lsp,
    /// The wallet that talks LSPS to the LSP and buys a JIT channel from it.
    pub wallet: &'a Wallet,
    /// The node that pays through the LSP.
    pub payer: &'a Wallet,
}

/// Runs the demo and returns the exit code. See the module documentation.
pub async fn run(args: DemoArgs) -> ExitCode {
    let mut progress = Progress { started: Instant::now(), steps: 0 };
    let mut parts = Parts::default();
    let mut report = DemoReport::default();
    let outcome = tokio::select! {
        outcome = run_flows(&mut parts, &mut report, &mut progress) => outcome,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
    };
    teardown(parts, args.keep_dirs).await;
    if let Err(error) = &outcome {
        report.error = Some(format!("{error:#}"));
    }
    match serde_json::to_string_pretty(&report) {
        Ok(json) => println!("{json}"),
        Err(error) => println!("{{\"error\": {:?}}}", format!("cannot serialise the report: {error}")),
    }
    let total = progress.started.elapsed().as_secs_f64();
    match outcome {
        Ok(()) => {
            eprintln!("[demo] all flows passed in {total:.1} s");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("[demo] failed after {total:.1} s: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run_flows(parts: &mut Parts, report: &mut DemoReport, progress: &mut Progress) -> Result<()> {
    let root = tempfile::Builder::new().prefix("inbound-demo-").tempdir().context("creating the demo directory")?;
    let root_path: PathBuf = root.path().to_path_buf();
    parts.root = Some(root);
    // The services count fees and requests into it from the start, as under `inbound serve`.
    inbound_admin::install_metrics_recorder().map_err(|error| anyhow!("the metrics recorder: {error}"))?;

    let bcoin = parts.bcoin.insert(
        progress.step("start a bcoin regtest chain", BCOIN_START_TIMEOUT, async { Ok(Bcoin::start().await?) }).await?,
    );
    let (relay_tls, relay_ca_file) = setup::relay_tls(&root_path)?;
    let config = setup::lsp_config(bcoin, &root_path, &relay_ca_file, setup::DemoPorts::pick()?)?;
    let lsp = parts.lsp.insert(progress.step("start the LSP", STEP_TIMEOUT, setup::start_lsp(&config)).await?);
    let wallet = parts.wallet.insert(
        progress
            .step("start the wallet node", STEP_TIMEOUT, setup::start_wallet(bcoin, &root_path, "wallet", true))
            .await?,
    );
    let payer = parts.payer.insert(
        progress
            .step("start the payer node", STEP_TIMEOUT, setup::start_wallet(bcoin, &root_path, "payer", false))
            .await?,
    );
    let net = DemoNet { bcoin, lsp, wallet, payer };

    progress.step("fund the LSP and the payer on chain", STEP_TIMEOUT, setup::fund(&net)).await?;
    progress.step("connect the wallet to the LSP", STEP_TIMEOUT, setup::connect_wallet(&net)).await?;

    report.channel = Some(progress.step("open a payer→LSP channel", STEP_TIMEOUT, flows::channel(&net)).await?);
    report.lsps0 = Some(progress.step("lsps0.list_protocols (wallet→LSP)", STEP_TIMEOUT, flows::lsps0(&net)).await?);
    report.payment = Some(progress.step("pay an LSP invoice (payer→LSP)", STEP_TIMEOUT, flows::payment(&net)).await?);
    report.lsps2 = Some(
        progress.step("pay a JIT invoice (payer→LSP→new channel→wallet)", STEP_TIMEOUT, flows::lsps2(&net)).await?,
    );
    report.lsps1 = Some(
        progress
            .step(
                "buy a channel by LSPS1 (wallet orders, payer pays the hold invoice)",
                STEP_TIMEOUT,
                order::lsps1(&net),
            )
            .await?,
    );
    report.lsps5 = Some(
        progress
            .step(
                "wake an offline wallet by LSPS5 webhook and pay it (sleeper stops, payer pays, relay verifies)",
                STEP_TIMEOUT * 2,
                wake::lsps5(&net, Arc::clone(&relay_tls), &root_path, &mut parts.relay, &mut parts.sleeper),
            )
            .await?,
    );
    let admin = parts.admin.insert(operator::start(&config, &net).await?);
    let done = operator::Done {
        lsps1: report.lsps1.as_ref().context("the LSPS1 section")?,
        lsps2: report.lsps2.as_ref().context("the LSPS2 section")?,
        lsps5: report.lsps5.as_ref().context("the LSPS5 section")?,
    };
    let operator_report = progress
        .step(
            "read the LSP through its admin API (orders, sessions, /metrics, /readyz)",
            STEP_TIMEOUT,
            operator::operator(&config, admin, done),
        )
        .await?;
    report.operator = Some(operator_report);
    let http = parts.http.insert(vouchers::start_http(&config, &net).await?);
    report.vouchers = Some(
        progress
            .step(
                "claim a prepaid voucher by LNURL-channel (operator issues, payer claims, reuse refused)",
                STEP_TIMEOUT,
                vouchers::vouchers(&config, admin, http, &net),
            )
            .await?,
    );
    report.widget = Some(
        progress
            .step(
                "buy a channel the way the web widget does (page, quote, order over HTTP, paid by the payer)",
                STEP_TIMEOUT,
                widget::widget(&net, http),
            )
            .await?,
    );
    report.check = Some(
        progress
            .step(
                "check the LSP's conformance (inbound check, without --pay)",
                STEP_TIMEOUT,
                check::check(&net, &root_path, relay_tls),
            )
            .await?,
    );
    report.chain = Some(progress.step("read the chain tip", STEP_TIMEOUT, flows::chain(&net)).await?);
    Ok(())
}

/// Stops what was started, newest first, and removes (or keeps) the directories.
async fn teardown(parts: Parts, keep_dirs: bool) {
    drop(parts.relay);
    if let Some(http) = parts.http {
        http.stop().await;
    }
    if let Some(admin) = parts.admin {
        admin.stop().await;
    }
    for (name, wallet) in [("sleeper", parts.sleeper), ("payer", parts.payer), ("wallet", parts.wallet)] {
        if let Some(wallet) = wallet {
            stop_with_timeout(name, wallet.stop()).await;
        }
    }
    if let Some(lsp) = parts.lsp {
        stop_with_timeout("LSP", lsp.stop()).await;
    }
    drop(parts.bcoin);
    if let Some(root) = parts.root {
        if keep_dirs {
            eprintln!("[demo] kept the nodes' data directories in {}", root.keep().display());
        } else if let Err(error) = root.close() {
            eprintln!("[demo] could not remove the demo directory: {error}");
        }
    }
}

async fn stop_with_timeout(name: &str, stop: impl Future<Output = Result<()>>) {
    match tokio::time::timeout(STOP_TIMEOUT, stop).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => eprintln!("[demo] stopping the {name}: {error:#}"),
        Err(_) => eprintln!("[demo] stopping the {name} timed out after {STOP_TIMEOUT:?}"),
    }
}

/// Checks `condition` every [`POLL_INTERVAL`] until it holds; fails after `timeout` or on the
/// condition's own error. `what` names the wait in the error.
pub async fn poll_until<F, Fut>(what: &str, timeout: Duration, mut condition: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while !condition().await? {
        if tokio::time::Instant::now() > deadline {
            return Err(anyhow!("timed out after {timeout:?} waiting for {what}"));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    Ok(())
}

/// Numbered steps on stderr with their durations.
struct Progress {
    started: Instant,
    steps: usize,
}

impl Progress {
    /// Runs `work` as the next step, under `timeout`, and reports it. The error names the step.
    async fn step<T>(&mut self, name: &str, timeout: Duration, work: impl Future<Output = Result<T>>) -> Result<T> {
        self.steps += 1;
        let number = self.steps;
        eprintln!("[demo {number:>2}] {name} ...");
        let step_started = Instant::now();
        let outcome = match tokio::time::timeout(timeout, work).await {
            Ok(outcome) => outcome,
            Err(_) => Err(anyhow!("timed out after {timeout:?}")),
        };
        let took = step_started.elapsed().as_secs_f64();
        let total = self.started.elapsed().as_secs_f64();
        match &outcome {
            Ok(_) => eprintln!("[demo {number:>2}] {name}: ok in {took:.1} s (total {total:.1} s)"),
            Err(error) => eprintln!("[demo {number:>2}] {name}: FAILED after {took:.1} s: {error:#}"),
        }
        outcome.with_context(|| format!("step {number} ({name})"))
    }
}
