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
    let (_temporary_dir, options) = wallet_options(&args.network, args.chain_url.as_deref(), args.data_dir.as_deref())?;
    let wallet = Arc::new(start_wallet(options).await?);

    let timeout = Duration::from_secs(args.timeout_secs.max(1));
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
