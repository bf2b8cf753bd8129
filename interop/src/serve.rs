//! Inbound's LSP as a child process: `inbound serve --config <toml>` with LSPS2 enabled (and
//! LSPS1 when [`ServeOptions::lsps1`] says so, LSPS5 when [`ServeOptions::lsps5`] does), on the
//! bcoin chain. The binary comes from `$INBOUND_BIN`, else the main workspace's
//! `target/{release,debug}/inbound` (newest of the two); `scripts/test.sh` builds it first.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use ldk_node::bitcoin::secp256k1::PublicKey;
use ldk_node::bitcoin::{Address, Network};

use crate::chain::Chain;

/// The one fee tier the interop runs give Inbound's LSP (`[[lsps2.fee_tiers]]`).
#[derive(Clone, Copy, Debug)]
pub struct FeeTier {
    /// `min_fee_msat`.
    pub min_fee_msat: u64,
    /// `proportional_ppm`.
    pub proportional_ppm: u32,
    /// `min_payment_size_msat`.
    pub min_payment_size_msat: u64,
    /// `max_payment_size_msat`.
    pub max_payment_size_msat: u64,
}

/// The tier the tests use: the proportional part wins above 100 000 000 msat, and the floor is
/// above the LSP's chain-following floor on bcoin (no fee estimates, so 253 sat/kWU × 1000 WU × 2
/// = 506 000 msat), so the menu entry is exactly this tier.
pub const TEST_TIER: FeeTier = FeeTier {
    min_fee_msat: 1_000_000,
    proportional_ppm: 10_000,
    min_payment_size_msat: 1_000_000,
    max_payment_size_msat: 1_000_000_000,
};

/// What the child's configuration file says besides the chain.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// `lsps2.trust`: `never`, `always` or `adaptive`.
    pub trust: &'static str,
    /// The public menu (one tier).
    pub tier: FeeTier,
    /// `lsps2.min_channel_sat`.
    pub min_channel_sat: u64,
    /// `lsps2.max_open_buys_per_client`.
    pub max_open_buys_per_client: u32,
    /// `limits.max_pending_total`.
    pub max_pending_total: usize,
    /// `limits.lsps_queue_total`.
    pub lsps_queue_total: usize,
    /// `RUST_LOG` of the child.
    pub log: &'static str,
    /// `lsps.compat`: `"spec"` or `"ldk"`.
    pub compat: &'static str,
    /// LSPS1 is served too, with these `[lsps1]` keys, when set.
    pub lsps1: Option<Lsps1Options>,
    /// LSPS5 is served too, with these `[lsps5]` keys, when set.
    pub lsps5: Option<Lsps5Options>,
}

/// The `[lsps5]` keys the interop runs set; the others keep Inbound's defaults.
#[derive(Clone, Debug)]
pub struct Lsps5Options {
    /// `lsps5.allow_private_destinations`: POST to loopback too (the test's webhook).
    pub allow_private_destinations: bool,
    /// `lsps5.require_channel_or_flow`.
    pub require_channel_or_flow: bool,
    /// `lsps5.extra_ca_file`: the PEM of the test webhook's self-signed certificate.
    pub extra_ca_file: Option<PathBuf>,
}

impl Lsps5Options {
    /// Webhooks on this machine, served with the certificate in `ca_file`, registrable by any
    /// peer (no channel or flow needed).
    pub fn local_webhooks(ca_file: &Path) -> Lsps5Options {
        Lsps5Options {
            allow_private_destinations: true,
            require_channel_or_flow: false,
            extra_ca_file: Some(ca_file.to_path_buf()),
        }
    }

    /// The `[lsps5]` table.
    fn toml(&self) -> String {
        let mut table = format!(
            "[lsps5]\nallow_private_destinations = {}\nrequire_channel_or_flow = {}\n",
            self.allow_private_destinations, self.require_channel_or_flow,
        );
        if let Some(file) = &self.extra_ca_file {
            table.push_str(&format!("extra_ca_file = {:?}\n", file.display().to_string()));
        }
        table
    }
}

/// The `[lsps1]` keys the interop runs set; the others keep Inbound's defaults.
#[derive(Clone, Debug)]
pub struct Lsps1Options {
    /// `lsps1.accept_onchain`.
    pub accept_onchain: bool,
    /// `lsps1.onchain_payment_confirmations`.
    pub onchain_payment_confirmations: u16,
    /// `lsps1.min_fee_for_0conf` (sat/kWU), only with 0 confirmations.
    pub min_fee_for_0conf: Option<u64>,
    /// `lsps1.payment_window_secs`: how long an order is payable (at least 60).
    pub payment_window_secs: u64,
    /// `lsps1.min_open_window_secs`: after a payment, at least this long to open.
    pub min_open_window_secs: u64,
    /// `lsps1.open_retry_base_secs`, doubling up to `open_retry_max_secs`.
    pub open_retry_base_secs: u64,
    /// `lsps1.open_retry_max_secs`.
    pub open_retry_max_secs: u64,
    /// `lsps1.max_lsp_balance_sat`.
    pub max_lsp_balance_sat: u64,
    /// `lsps1.tokens`.
    pub tokens: Vec<String>,
}

impl Default for Lsps1Options {
    /// Inbound's defaults, except that a failed open is retried within seconds.
    fn default() -> Self {
        Lsps1Options {
            accept_onchain: true,
            onchain_payment_confirmations: 1,
            min_fee_for_0conf: None,
            payment_window_secs: 3600,
            min_open_window_secs: 600,
            open_retry_base_secs: 1,
            open_retry_max_secs: 2,
            max_lsp_balance_sat: 10_000_000,
            tokens: Vec::new(),
        }
    }
}

impl Lsps1Options {
    /// The `[lsps1]` table.
    fn toml(&self) -> String {
        let mut table = format!(
            "[lsps1]\naccept_onchain = {}\nonchain_payment_confirmations = {}\npayment_window_secs = {}\n\
             min_open_window_secs = {}\nopen_retry_base_secs = {}\nopen_retry_max_secs = {}\n\
             max_lsp_balance_sat = {}\ntokens = {:?}\n",
            self.accept_onchain,
            self.onchain_payment_confirmations,
            self.payment_window_secs,
            self.min_open_window_secs,
            self.open_retry_base_secs,
            self.open_retry_max_secs,
            self.max_lsp_balance_sat,
            self.tokens,
        );
        if let Some(rate) = self.min_fee_for_0conf {
            table.push_str(&format!("min_fee_for_0conf = {rate}\n"));
        }
        table
    }
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            trust: "never",
            tier: TEST_TIER,
            min_channel_sat: 100_000,
            max_open_buys_per_client: 5,
            max_pending_total: 1000,
            lsps_queue_total: 4096,
            log: "info",
            compat: "spec",
            lsps1: None,
            lsps5: None,
        }
    }
}

/// The `inbound` binary to run.
///
/// # Errors
/// If neither `$INBOUND_BIN` nor a built binary in the main workspace's target dir exists.
pub fn inbound_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("INBOUND_BIN") {
        return Ok(PathBuf::from(path));
    }
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    let candidates = [target.join("release/inbound"), target.join("debug/inbound")];
    candidates
        .into_iter()
        .filter_map(|path| Some((path.metadata().ok()?.modified().ok()?, path)))
        .max()
        .map(|(_, path)| path)
        .ok_or_else(|| {
            anyhow!("no inbound binary: set INBOUND_BIN or run `cargo build --bin inbound` in the repo root")
        })
}

/// A running `inbound serve`; killed on drop.
pub struct InboundLsp {
    child: Child,
    lines: Receiver<String>,
    /// Every stderr line read so far.
    pub log: Vec<String>,
    /// The LSP's node id.
    pub node_id: PublicKey,
    /// Where it listens.
    pub listen: SocketAddr,
    /// Its on-chain wallet's address.
    pub funding_address: Address,
}

impl InboundLsp {
    /// Writes the configuration into `dir` and starts `inbound serve` (binary `binary`) on
    /// `chain`; returns once it has logged its node id, address and funding address.
    ///
    /// # Errors
    /// If the process does not start or does not log those lines within 60 s.
    pub fn start(binary: &Path, chain: &Chain, dir: &Path, options: &ServeOptions) -> Result<InboundLsp> {
        std::fs::create_dir_all(dir).context("creating the LSP directory")?;
        let tier = options.tier;
        let mut enabled = Vec::new();
        if options.lsps1.is_some() {
            enabled.push("lsps1");
        }
        enabled.push("lsps2");
        if options.lsps5.is_some() {
            enabled.push("lsps5");
        }
        // `["lsps1", "lsps2"]`: a TOML array of strings.
        let enabled = format!("{enabled:?}");
        let mut config = format!(
            "network = \"regtest\"\ndata_dir = {data_dir:?}\n\
             [node]\nlisten = \"127.0.0.1:0\"\nalias = \"inbound-interop\"\n\
             [chain]\nurl = {url:?}\npoll_interval_secs = 1\n\
             [lsps]\nenabled = {enabled}\n{compat}\
             [limits]\nmax_pending_per_peer = 10\nmax_pending_total = {pending}\n\
             lsps_queue_per_peer = 32\nlsps_queue_total = {queue}\n\
             [lsps2]\ntrust = {trust:?}\nmin_channel_sat = {min_channel}\n\
             max_open_buys_per_client = {max_buys}\n\
             [[lsps2.fee_tiers]]\nmin_fee_msat = {min_fee}\nproportional_ppm = {ppm}\n\
             min_payment_size_msat = {min_pay}\nmax_payment_size_msat = {max_pay}\n",
            data_dir = dir.join("data").display().to_string(),
            url = chain.bcoin.rpc_url(),
            pending = options.max_pending_total,
            queue = options.lsps_queue_total,
            trust = options.trust,
            min_channel = options.min_channel_sat,
            max_buys = options.max_open_buys_per_client,
            // The default (spec) is left unwritten, so the file also suits binaries that predate the key.
            compat = match options.compat {
                "spec" => String::new(),
                other => format!("compat = {other:?}\n"),
            },
            min_fee = tier.min_fee_msat,
            ppm = tier.proportional_ppm,
            min_pay = tier.min_payment_size_msat,
            max_pay = tier.max_payment_size_msat,
        );
        if let Some(lsps1) = &options.lsps1 {
            config.push_str(&lsps1.toml());
        }
        if let Some(lsps5) = &options.lsps5 {
            config.push_str(&lsps5.toml());
        }
        let config_path = dir.join("inbound.toml");
        std::fs::write(&config_path, config).context("writing inbound.toml")?;
        let mut command = Command::new(binary);
        for name in ["INBOUND_CONFIG", "INBOUND_NETWORK", "INBOUND_DATA_DIR", "INBOUND_LISTEN", "INBOUND_CHAIN_URL"] {
            command.env_remove(name);
        }
        command
            .env("RUST_LOG", options.log)
            .env("NO_COLOR", "1")
            // Tests run several LSPs at once: each admin API on a port of its own.
            .env("INBOUND_ADMIN_LISTEN", "127.0.0.1:0")
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().with_context(|| format!("spawning {}", binary.display()))?;
        let stderr = child.stderr.take().ok_or_else(|| anyhow!("no stderr pipe"))?;
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        let mut lsp = InboundLsp {
            child,
            lines,
            log: Vec::new(),
            node_id: PublicKey::from_slice(&[2; 33]).map_err(|e| anyhow!("{e}"))?,
            listen: "127.0.0.1:0".parse()?,
            funding_address: Address::from_str("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080")?.assume_checked(),
        };
        let started = lsp.wait_for_line("LSP started", Duration::from_secs(60))?;
        lsp.node_id = field(&started, "node_id")
            .and_then(|id| PublicKey::from_str(id).ok())
            .ok_or_else(|| anyhow!("no node_id= in {started:?}"))?;
        lsp.listen = field(&started, "listen")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| anyhow!("no listen= in {started:?}"))?;
        let wallet = lsp.wait_for_line("funding_address=", Duration::from_secs(60))?;
        lsp.funding_address = field(&wallet, "funding_address")
            .and_then(|text| text.parse::<Address<_>>().ok())
            .and_then(|address| address.require_network(Network::Regtest).ok())
            .ok_or_else(|| anyhow!("no regtest funding_address= in {wallet:?}"))?;
        Ok(lsp)
    }

    /// Waits for a stderr line containing `needle`.
    ///
    /// # Errors
    /// After `timeout` or if the process ended, with the log so far.
    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(needle) {
                        return Ok(line);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    bail!("no line with {needle:?} within {timeout:?}; log:\n{}", self.log.join("\n"))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    bail!("inbound serve ended before printing {needle:?}; log:\n{}", self.log.join("\n"))
                }
            }
        }
    }

    /// Reads the lines logged so far without waiting.
    pub fn drain_log(&mut self) -> &[String] {
        while let Ok(line) = self.lines.try_recv() {
            self.log.push(line);
        }
        &self.log
    }

    /// Kills the process with SIGKILL (no shutdown path runs: nothing is flushed or persisted on
    /// the way out) and waits until it is gone; the log read so far stays in [`InboundLsp::log`].
    ///
    /// # Errors
    /// If the process cannot be signalled or waited for.
    pub fn kill(&mut self) -> Result<()> {
        self.child.kill().context("SIGKILL to inbound serve")?;
        self.child.wait().context("waiting for the killed inbound serve")?;
        self.drain_log();
        Ok(())
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child's peak resident set size (`VmHWM` in `/proc/<pid>/status`), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl Drop for InboundLsp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `name=value` in a log line.
fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let prefix = format!("{name}=");
    line.split_whitespace().find_map(|token| token.strip_prefix(prefix.as_str()))
}
