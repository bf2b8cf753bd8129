//! `inbound client …`: wallet-side commands. Each starts a wallet node (role wallet, no
//! listening, [`crate::wallet`]), connects to the LSP, does one thing over LSPS and prints JSON
//! on stdout: `list-protocols` here, `jit-invoice` in [`crate::client_jit`], `order` and
//! `order-status` in [`crate::client_order`], `webhook set|list|remove` in
//! [`crate::client_webhook`].

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use inbound_node::bitcoin::secp256k1::PublicKey;
use serde_json::json;

use crate::cli::ListProtocolsArgs;
use crate::config::{resolve_wallet_chain, Overrides};
use crate::wallet::{bitcoind_rpc_config, start_wallet, Wallet, WalletOptions};

/// Alias of the wallet node the client commands start.
pub const CLIENT_ALIAS: &str = "inbound-client";

/// `inbound client list-protocols`: prints `{"lsp": "<node id>", "protocols": [...]}`.
///
/// # Errors
/// A bad `--lsp`, an unreachable chain backend or LSP, or no answer within the timeout.
pub async fn list_protocols(args: ListProtocolsArgs) -> Result<()> {
    let (lsp_id, protocols) = with_connected_wallet(&args, "lsps0.list_protocols", |wallet, lsp_id| async move {
        wallet.client.list_protocols(lsp_id).await.map_err(anyhow::Error::from)
    })
    .await?;
    println!("{}", json!({ "lsp": lsp_id.to_string(), "protocols": protocols }));
    Ok(())
}

/// Starts a throwaway (or `--data-dir`) wallet node, connects it to `--lsp`, runs `call` with
/// `--timeout-secs` as its limit (`what` names it in errors), stops the node and returns the
/// LSP's node id with what `call` returned.
///
/// # Errors
/// A bad `--lsp`, an unreachable chain backend or LSP, `call`'s error, or a timeout.
pub(crate) async fn with_connected_wallet<F, Fut, T>(
    args: &ListProtocolsArgs,
    what: &str,
    call: F,
) -> Result<(PublicKey, T)>
where
    F: FnOnce(Arc<Wallet>, PublicKey) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let (lsp_id, address) = resolve_lsp(&args.lsp).await?;
    let (_temporary_dir, options) = args.node.options()?;
    let wallet = Arc::new(start_wallet(options).await?);

    let timeout = args.node.timeout();
    let outcome = async {
        tokio::time::timeout(timeout, wallet.node.connect_peer(lsp_id, address, false))
            .await
            .map_err(|_| anyhow!("timed out after {timeout:?} connecting to {lsp_id}@{address}"))?
            .with_context(|| format!("connecting to {lsp_id}@{address}"))?;
        tokio::time::timeout(timeout, call(Arc::clone(&wallet), lsp_id))
            .await
            .map_err(|_| anyhow!("timed out after {timeout:?} waiting for {what}"))?
            .with_context(|| what.to_owned())
    }
    .await;
    if let Err(error) = wallet.stop().await {
        tracing::warn!("{error:#}");
    }
    Ok((lsp_id, outcome?))
}

/// Splits `<node_id>@<host:port>` and resolves the host.
///
/// # Errors
/// If either half is malformed or the host does not resolve.
pub async fn resolve_lsp(text: &str) -> Result<(PublicKey, SocketAddr)> {
    let (node_id, host_port) = parse_lsp(text)?;
    let address = tokio::net::lookup_host(host_port)
        .await
        .with_context(|| format!("resolving {host_port}"))?
        .next()
        .ok_or_else(|| anyhow!("{host_port} resolves to no address"))?;
    Ok((node_id, address))
}

/// Splits `<node_id>@<host:port>` without resolving anything.
///
/// # Errors
/// If there is no `@`, the node id is not a public key, or the address has no port.
pub fn parse_lsp(text: &str) -> Result<(PublicKey, &str)> {
    let Some((node_id, host_port)) = text.split_once('@') else {
        bail!("--lsp {text:?}: expected <node_id>@<host:port>");
    };
    let node_id = PublicKey::from_str(node_id)
        .map_err(|e| anyhow!("--lsp: {node_id:?} is not a node id (33-byte hex public key): {e}"))?;
    if host_port.rsplit_once(':').is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err()) {
        bail!("--lsp: {host_port:?} is not host:port");
    }
    Ok((node_id, host_port))
}

/// The wallet node a client command starts: where it lives, its chain, how long to wait.
#[derive(Debug, Clone, clap::Args)]
pub struct WalletNodeArgs {
    /// The wallet node's data directory. Default: a temporary one, deleted at exit (the node then
    /// has a new id every run; keep one to own a channel afterwards).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    /// The chain backend's RPC URL (default: INBOUND_CHAIN_URL, else bitcoind's default for the network).
    #[arg(long, value_name = "URL")]
    pub chain_url: Option<String>,
    /// The network of the wallet node; must match the LSP's.
    #[arg(long, default_value = "regtest")]
    pub network: String,
    /// How long to wait for the connection and for each answer.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub timeout_secs: u64,
}

impl WalletNodeArgs {
    /// The node's options ([`wallet_options`]) and the temporary directory to keep alive.
    ///
    /// # Errors
    /// A bad network or chain URL, or no temporary directory.
    pub fn options(&self) -> Result<(Option<tempfile::TempDir>, WalletOptions)> {
        wallet_options(&self.network, self.chain_url.as_deref(), self.data_dir.as_deref())
    }

    /// `--timeout-secs`, at least one second.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }
}

/// The options of a throwaway client wallet node: network and chain URL from the flags (only the
/// chain URL may also come from the environment: the daemon's `INBOUND_DATA_DIR` must never
/// become a wallet's data directory, or the two would share a seed), and `data_dir` or a
/// temporary directory, returned so that it lives as long as the wallet.
pub(crate) fn wallet_options(
    network: &str,
    chain_url: Option<&str>,
    data_dir: Option<&std::path::Path>,
) -> Result<(Option<tempfile::TempDir>, WalletOptions)> {
    let env = Overrides::from_env(|name| std::env::var(name).ok());
    let (network, chain) = resolve_wallet_chain(network, chain_url, &env)?;
    let (temporary_dir, data_dir) = match data_dir {
        Some(dir) => (None, dir.to_path_buf()),
        None => {
            let dir = tempfile::Builder::new()
                .prefix("inbound-client-")
                .tempdir()
                .context("creating a temporary data directory")?;
            let path = dir.path().to_path_buf();
            (Some(dir), path)
        }
    };
    let options =
        WalletOptions { data_dir, network, alias: CLIENT_ALIAS.to_string(), chain: bitcoind_rpc_config(&chain)? };
    Ok((temporary_dir, options))
}
