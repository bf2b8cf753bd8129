//! Wiring: the LSP node with its LSPS server, and the wallet nodes the demo and `inbound client`
//! use, each with its LSPS handler and the event handler of [`crate::events`].
//!
//! Start order, forced by the node: the LSPS handler and the event handler exist first (the
//! builder takes them), the node is built, then the handlers get what only the built node has
//! (its LSPS transport, its channel manager), and only then does the node start. Stop is
//! `Node::stop`, which persists the channel manager on its way out.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use inbound_client::{ClientConfig, LspsClient};
use inbound_node::bitcoin::Network;
use inbound_node::lsps0::LspsOutbound;
use inbound_node::{BitcoindRpcConfig, LspsMessageHandler, Node, NodeBuilder, NodeEventHandler, NodeRole};
use inbound_service::{LspsServer, LspsServerConfig};

use crate::config::{redacted_url, ChainAuth, ChainConfig, Config};
use crate::events::EventHandler;
use crate::logging::node_log_level;

/// A started LSP: the node, its LSPS server and its event handler.
pub struct Lsp {
    /// The Lightning node (role LSP).
    pub node: Node,
    /// Answers type-37913 requests; holds the pending caps and counters.
    pub server: Arc<LspsServer>,
    /// Claims payments to the LSP's invoices; lets in-process callers wait for events.
    pub events: Arc<EventHandler>,
}

impl Lsp {
    /// The address peers connect to (the bound one, useful with port 0).
    ///
    /// # Errors
    /// If the node is not listening (it always is once started).
    pub fn listening_address(&self) -> Result<SocketAddr> {
        self.node.listening_address().ok_or_else(|| anyhow!("the LSP node is not listening"))
    }

    /// Stops the node gracefully; its state is persisted on the way out.
    ///
    /// # Errors
    /// If the final persistence fails.
    pub async fn stop(&self) -> Result<()> {
        self.node.stop().await.context("stopping the LSP node")
    }
}

/// Builds and starts the LSP described by `config`: role LSP, the [`LspsServer`] as LSPS message
/// handler with the configured protocols and limits, a Bitcoin Core RPC chain source. This is
/// what `inbound serve` runs and what `inbound demo` runs in-process.
///
/// # Errors
/// If the chain backend is unreachable, the data directory unusable or the address taken.
pub async fn start_lsp(config: &Config) -> Result<Lsp> {
    let server = LspsServer::new(LspsServerConfig {
        enabled_protocols: config.lsps.enabled.clone(),
        max_pending_per_peer: config.limits.max_pending_per_peer,
        max_pending_total: config.limits.max_pending_total,
    });
    let events = EventHandler::new(config.node.alias.clone());
    let mut builder = NodeBuilder::new(&config.data_dir);
    builder
        .set_network(config.network)
        .set_role(NodeRole::Lsp)
        .set_alias(config.node.alias.clone())
        .set_listen_address(Some(config.node.listen))
        .set_lsps_queue_limits(config.limits.lsps_queue_per_peer, config.limits.lsps_queue_total)
        .set_log_level(node_log_level())
        .set_chain_source_bitcoind_rpc(bitcoind_rpc_config(&config.chain)?)
        .set_lsps_message_handler(Arc::clone(&server) as Arc<dyn LspsMessageHandler>)
        .set_event_handler(Arc::clone(&events) as Arc<dyn NodeEventHandler>);
    let node = builder.build().await.with_context(|| {
        format!(
            "building the LSP node in {} (chain backend {})",
            config.data_dir.display(),
            redacted_url(&config.chain.url)
        )
    })?;
    server.attach(Arc::clone(node.lsps_transport()) as Arc<dyn LspsOutbound>);
    events.attach(Arc::clone(node.channel_manager()));
    node.start().await.with_context(|| format!("starting the LSP node on {}", config.node.listen))?;
    Ok(Lsp { node, server, events })
}

/// What a wallet node needs.
#[derive(Debug, Clone)]
pub struct WalletOptions {
    /// Seed, channel state and wallet.
    pub data_dir: PathBuf,
    /// The chain; must match the LSP's.
    pub network: Network,
    /// Name in log lines.
    pub alias: String,
    /// The chain backend.
    pub chain: BitcoindRpcConfig,
}

/// A started wallet node: the node, its LSPS client and its event handler.
pub struct Wallet {
    /// The Lightning node (role wallet, not listening).
    pub node: Node,
    /// Talks LSPS to LSPs over the node's connections.
    pub client: Arc<LspsClient>,
    /// Claims payments to the wallet's invoices; lets callers wait for events.
    pub events: Arc<EventHandler>,
}

impl Wallet {
    /// Stops the node gracefully.
    ///
    /// # Errors
    /// If the final persistence fails.
    pub async fn stop(&self) -> Result<()> {
        self.node.stop().await.context("stopping the wallet node")
    }
}

/// Builds and starts a wallet node (role wallet, outbound connections only) whose LSPS message
/// handler is an [`LspsClient`].
///
/// # Errors
/// If the chain backend is unreachable or the data directory unusable.
pub async fn start_wallet(options: WalletOptions) -> Result<Wallet> {
    let client = LspsClient::new(ClientConfig::default());
    let events = EventHandler::new(options.alias.clone());
    let mut builder = NodeBuilder::new(&options.data_dir);
    builder
        .set_network(options.network)
        .set_role(NodeRole::Wallet)
        .set_alias(options.alias.clone())
        .set_listen_address(None)
        .set_log_level(node_log_level())
        .set_chain_source_bitcoind_rpc(options.chain)
        .set_lsps_message_handler(Arc::clone(&client) as Arc<dyn LspsMessageHandler>)
        .set_event_handler(Arc::clone(&events) as Arc<dyn NodeEventHandler>);
    let node = builder
        .build()
        .await
        .with_context(|| format!("building wallet node {} in {}", options.alias, options.data_dir.display()))?;
    client.attach(Arc::clone(node.lsps_transport()) as Arc<dyn LspsOutbound>);
    events.attach(Arc::clone(node.channel_manager()));
    node.start().await.with_context(|| format!("starting wallet node {}", options.alias))?;
    Ok(Wallet { node, client, events })
}

/// The node's RPC settings for `chain`: the URL with its credentials (reading the cookie file
/// now, so a rotated cookie is picked up at every start) and the poll interval.
///
/// # Errors
/// If the cookie file cannot be read or does not hold `user:password`.
pub fn bitcoind_rpc_config(chain: &ChainConfig) -> Result<BitcoindRpcConfig> {
    let mut url = chain.url.clone();
    let credentials = match &chain.auth {
        ChainAuth::None | ChainAuth::InUrl => None,
        ChainAuth::UserPassword { user, password } => Some((user.clone(), password.clone())),
        ChainAuth::CookieFile(path) => {
            let cookie = std::fs::read_to_string(path)
                .with_context(|| format!("reading chain.cookie_file {}", path.display()))?;
            let (user, password) = cookie
                .trim()
                .split_once(':')
                .ok_or_else(|| anyhow!("chain.cookie_file {}: expected `user:password`", path.display()))?;
            Some((user.to_string(), password.to_string()))
        }
    };
    if let Some((user, password)) = credentials {
        url.set_username(&user).map_err(|()| anyhow!("chain.url {} cannot carry a user name", url))?;
        url.set_password(Some(&password)).map_err(|()| anyhow!("chain.url {} cannot carry a password", url))?;
    }
    let mut rpc = BitcoindRpcConfig::new(url.to_string());
    rpc.poll_interval = Duration::from_secs(chain.poll_interval_secs);
    Ok(rpc)
}
