//! `inbound check`: the conformance checker (`inbound-check`) pointed at an LSP through a
//! throwaway wallet node. The node's LSPS message handler feeds the checker's inbox with what
//! the LSP sends, and [`NodeLink`] sends the checker's payloads (garbage included) as
//! type-37913 messages and reconnects when the checker asks.
//!
//! With `--pay`, [`PayRig`] adds a funded payer and a buying wallet for the live checks.
//! With `--http URL` the link is [`HttpLink`] to the LSP's HTTP endpoint instead.
//! With `--webhook-listen`, [`RelayReceiver`] (the reference push relay) receives the LSP's
//! `lsps5.webhook_registered` POST and verifies its signature.
//!
//! Exit status: 0 when no MUST failed, 1 when one did, 2 when the check could not run (a bad
//! flag, no chain backend, the LSP unreachable).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use inbound_check::{
    CheckOptions, InboxSender, Link, LinkError, LinkFuture, LivePayments, Received, ReceivedFuture, Report,
    WebhookReceiver, PROTOCOLS,
};
use inbound_node::bitcoin::secp256k1::PublicKey;
use inbound_node::bitcoin::Network;
use inbound_node::{LspsMessageHandler, Node};
use inbound_push_relay::{NotificationVerifier, PushRelay, RelayLimits, TlsConfig, Wake};
use tokio::sync::mpsc;

use crate::check_http::HttpLink;
use crate::check_pay::PayRig;
use crate::client::{parse_lsp, resolve_lsp, wallet_options};
use crate::wallet::{start_probe_node, WalletOptions};

/// Exit status when a MUST failed.
pub const EXIT_MUST_FAILED: u8 = 1;
/// Exit status when the check could not run.
pub const EXIT_NOT_RUN: u8 = 2;

/// How long a (re)connection to the LSP may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// `inbound check` options.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// The LSP, as <node_id>@<host:port>.
    #[arg(long, value_name = "NODE_ID@HOST:PORT")]
    pub lsp: String,
    /// Check only these protocols (comma-separated: lsps0, lsps1, lsps2, lsps5).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub only: Vec<String>,
    /// Print the report as one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write the report as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Check the LSP's HTTP endpoint (Inbound's HTTP transport, e.g. `https://lsp.example/lsps`)
    /// instead of its Lightning connection; no node is started then.
    #[arg(long, value_name = "URL")]
    pub http: Option<String>,
    /// Also run the live checks (regtest only): a payer funded by mining through `--chain-url`,
    /// with a channel to the LSP, pays a JIT invoice and an LSPS1 order of a second node.
    #[arg(long, conflicts_with = "http")]
    pub pay: bool,
    /// With `--pay`: how long to wait for the LSP to refund an order it cannot fulfil.
    #[arg(long, default_value_t = 900, value_name = "SECS", requires = "pay")]
    pub refund_wait_secs: u64,
    /// The network of the checker's node; must match the LSP's.
    #[arg(long, default_value = "regtest")]
    pub network: String,
    /// The chain backend's RPC URL (default: INBOUND_CHAIN_URL, else bitcoind's default for the network).
    #[arg(long, value_name = "URL")]
    pub chain_url: Option<String>,
    /// The checker node's data directory. Default: a temporary one, deleted at exit.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// How long to wait for each answer.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub timeout_secs: u64,
    /// Run an HTTPS receiver for the LSP's `lsps5.webhook_registered` POST on this address
    /// (the check is skipped without one). Needs `--webhook-tls-cert` and `--webhook-tls-key`.
    #[arg(long, value_name = "IP:PORT", requires_all = ["webhook_tls_cert", "webhook_tls_key"])]
    pub webhook_listen: Option<SocketAddr>,
    /// The https URL at which the LSP reaches that receiver (default: https://localhost:<port>).
    #[arg(long, value_name = "URL", requires = "webhook_listen")]
    pub webhook_url: Option<String>,
    /// The receiver's certificate chain (PEM), which the LSP must trust.
    #[arg(long, value_name = "FILE", requires = "webhook_listen")]
    pub webhook_tls_cert: Option<PathBuf>,
    /// The receiver's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "webhook_listen")]
    pub webhook_tls_key: Option<PathBuf>,
}

/// Runs `inbound check` and returns its exit status.
pub async fn run(args: CheckArgs) -> ExitCode {
    let report = match check(&args).await {
        Ok(report) => report,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::from(EXIT_NOT_RUN);
        }
    };
    if let Some(path) = &args.junit {
        if let Err(error) = std::fs::write(path, report.to_junit()) {
            eprintln!("error: writing {}: {error}", path.display());
            return ExitCode::from(EXIT_NOT_RUN);
        }
    }
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    if report.must_failed() {
        ExitCode::from(EXIT_MUST_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

async fn check(args: &CheckArgs) -> Result<Report> {
    let protocols = parse_only(&args.only)?;
    let network =
        Network::from_str(&args.network).map_err(|_| anyhow!("--network {:?} is not a network", args.network))?;
    let mut check_options = CheckOptions::new(args.lsp.clone(), network);
    check_options.request_timeout = Duration::from_secs(args.timeout_secs.max(1));
    check_options.protocols = protocols;
    let (lsp_id, _) = parse_lsp(&args.lsp)?;
    if let (Some(listen), Some(cert), Some(key)) = (args.webhook_listen, &args.webhook_tls_cert, &args.webhook_tls_key)
    {
        let tls = inbound_push_relay::load_tls(cert, key).context("the webhook receiver's TLS")?;
        let receiver = RelayReceiver::start(lsp_id, listen, args.webhook_url.clone(), tls).await?;
        check_options.webhooks = Some(receiver);
    }
    if let Some(url) = &args.http {
        let (sender, mut inbox) = inbound_check::inbox();
        let link = HttpLink::new(url, check_options.request_timeout, sender)?;
        return Ok(inbound_check::run(&link, &mut inbox, &check_options).await);
    }
    let (lsp_id, address) = resolve_lsp(&args.lsp).await?;
    let (_temporary_dir, options) = wallet_options(&args.network, args.chain_url.as_deref(), args.data_dir.as_deref())?;
    let rig = match args.pay {
        false => None,
        true => {
            let root = tempfile::Builder::new().prefix("inbound-check-pay-").tempdir().context("a directory")?;
            let refund_wait = Duration::from_secs(args.refund_wait_secs.max(1));
            let rig = PayRig::start(lsp_id, address, root.path(), &options, refund_wait).await.context("--pay")?;
            Some((root, Arc::new(rig)))
        }
    };
    if let Some((_, rig)) = &rig {
        check_options.live = Some(Arc::clone(rig) as Arc<dyn LivePayments>);
    }
    let report = check_lsp(lsp_id, address, options, &check_options).await;
    if let Some((_root, rig)) = rig {
        rig.stop().await;
    }
    report
}

/// The checker's webhook receiver: the reference push relay, verifying each POST against the
/// LSP's node id.
pub struct RelayReceiver {
    relay: PushRelay,
    wakes: tokio::sync::Mutex<mpsc::Receiver<Wake>>,
    base_url: String,
}

impl RelayReceiver {
    /// Starts the relay on `listen` with `tls`; the LSP reaches it at `url`
    /// (default `https://localhost:<port>`).
    ///
    /// # Errors
    /// If `listen` cannot be bound.
    pub async fn start(
        lsp: PublicKey,
        listen: SocketAddr,
        url: Option<String>,
        tls: Arc<TlsConfig>,
    ) -> Result<Arc<dyn WebhookReceiver>> {
        let verifier = Arc::new(NotificationVerifier::new(lsp));
        let (relay, wakes) = PushRelay::start(listen, tls, verifier, RelayLimits::default())
            .await
            .context("starting the webhook receiver")?;
        let base_url = url.unwrap_or_else(|| format!("https://localhost:{}", relay.local_addr().port()));
        Ok(Arc::new(RelayReceiver { relay, wakes: tokio::sync::Mutex::new(wakes), base_url }))
    }
}

impl WebhookReceiver for RelayReceiver {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url.trim_end_matches('/'))
    }

    fn next_until(&self, deadline: tokio::time::Instant) -> ReceivedFuture<'_> {
        Box::pin(async move {
            let mut wakes = self.wakes.lock().await;
            let wake = tokio::time::timeout_at(deadline, wakes.recv()).await.ok().flatten()?;
            Some(Received { path: wake.target, method: wake.notification.method_name().to_owned() })
        })
    }

    fn refused(&self) -> u64 {
        self.relay.stats().refused
    }
}

/// Starts a probe node with `options`, connects it to the LSP, runs the whole catalogue and
/// stops the node. The demo calls this against its own LSP.
///
/// # Errors
/// If the node cannot start or the LSP cannot be reached.
pub async fn check_lsp(
    lsp: PublicKey,
    address: SocketAddr,
    options: WalletOptions,
    check_options: &CheckOptions,
) -> Result<Report> {
    let (sender, mut inbox) = inbound_check::inbox();
    let handler = Arc::new(InboxHandler { lsp, sender });
    let (node, _events) = start_probe_node(options, handler).await?;
    let link = NodeLink { node: Arc::clone(&node), lsp, address };
    let outcome = match link.connect().await {
        Ok(()) => Ok(inbound_check::run(&link, &mut inbox, check_options).await),
        Err(error) => Err(anyhow!("connecting to {lsp}@{address}: {error}")),
    };
    if let Err(error) = node.stop().await {
        tracing::warn!("stopping the checker's node: {error:#}");
    }
    outcome
}

/// `--only`'s names as LSPS numbers; empty means all.
fn parse_only(names: &[String]) -> Result<Vec<u16>> {
    if names.is_empty() {
        return Ok(PROTOCOLS.to_vec());
    }
    let mut protocols = Vec::new();
    for name in names {
        let number = name.trim().strip_prefix("lsps").and_then(|number| number.parse::<u16>().ok());
        match number {
            Some(number) if PROTOCOLS.contains(&number) => protocols.push(number),
            _ => bail!("--only: {name:?} is not one of lsps0, lsps1, lsps2, lsps5"),
        }
    }
    Ok(protocols)
}

/// The probe node's LSPS message handler: the LSP's messages go to the checker's inbox; other
/// peers' are ignored.
struct InboxHandler {
    lsp: PublicKey,
    sender: InboxSender,
}

impl LspsMessageHandler for InboxHandler {
    fn handle(&self, peer: PublicKey, payload: Vec<u8>) {
        if peer == self.lsp {
            self.sender.push(payload);
        }
    }

    fn peer_connected(&self, _peer: PublicKey, _peer_advertises_lsps: bool) {}

    fn peer_disconnected(&self, _peer: PublicKey) {}
}

/// The checker's link over the probe node's connection to the LSP.
struct NodeLink {
    node: Arc<Node>,
    lsp: PublicKey,
    address: SocketAddr,
}

impl NodeLink {
    async fn connect(&self) -> Result<(), LinkError> {
        tokio::time::timeout(CONNECT_TIMEOUT, self.node.connect_peer(self.lsp, self.address, false))
            .await
            .map_err(|_| LinkError(format!("no connection within {CONNECT_TIMEOUT:?}")))?
            .map_err(|error| LinkError(error.to_string()))
    }
}

impl Link for NodeLink {
    fn send(&self, payload: Vec<u8>) -> Result<(), LinkError> {
        self.node.send_lsps_message(self.lsp, payload).map_err(|error| LinkError(error.to_string()))
    }

    fn reconnect(&self) -> LinkFuture<'_> {
        Box::pin(async move {
            self.node.disconnect_peer(self.lsp);
            let gone = async {
                while self.node.connected_peers().contains(&self.lsp) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            };
            tokio::time::timeout(CONNECT_TIMEOUT, gone)
                .await
                .map_err(|_| LinkError("the old connection did not close".into()))?;
            self.connect().await
        })
    }

    fn advertises_lsps(&self) -> Option<bool> {
        self.node.lsps_transport().peer_advertises_lsps(&self.lsp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_takes_lsps_names() {
        assert_eq!(parse_only(&[]).unwrap(), PROTOCOLS.to_vec());
        assert_eq!(parse_only(&["lsps1".into(), " lsps5".into()]).unwrap(), vec![1, 5]);
        for bad in ["lsps3", "1", "LSPS1x", ""] {
            assert!(parse_only(&[bad.into()]).is_err(), "{bad}");
        }
    }
}
