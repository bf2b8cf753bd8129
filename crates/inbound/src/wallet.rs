//! Wiring of the wallet nodes that `inbound client …` (and the demo) start: the node with an
//! [`LspsClient`] as its LSPS message handler and the event handler of [`crate::events`]; a JIT
//! wallet ([`start_jit_wallet`]) also puts the [`WalletEventHandler`] in front of its event
//! handler and the [`Lsps2Client`]'s acceptor on its node. Part of the wallet-only build: it
//! needs the node and the client SDK, no LSP code.
//!
//! Start order, forced by the node: the handlers exist first (the builder takes them), the node
//! is built, then the handlers get what only the built node has (its LSPS transport, its channel
//! manager), and only then does the node start.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use inbound_client::lsps2::{Lsps2Client, WalletEventHandler};
use inbound_client::{ClientConfig, LspsClient, LspsOutbound};
use inbound_node::bitcoin::Network;
use inbound_node::{BitcoindRpcConfig, LspsMessageHandler, Node, NodeBuilder, NodeEventHandler, NodeRole};

use crate::config::{ChainAuth, ChainConfig};
use crate::events::EventHandler;
use crate::logging::node_log_level;

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
    pub node: Arc<Node>,
    /// Talks LSPS to LSPs over the node's connections.
    pub client: Arc<LspsClient>,
    /// Claims payments to the wallet's invoices; lets callers wait for events.
    pub events: Arc<EventHandler>,
    /// Buys JIT channels; set for wallets started with [`start_jit_wallet`].
    pub lsps2: Option<Arc<Lsps2Client>>,
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
    build_and_start_wallet(options, false).await
}

/// [`start_wallet`] plus LSPS2: an [`Lsps2Client`] whose acceptor decides the node's inbound
/// channels (the LSP's 0-conf JIT channel), and a [`WalletEventHandler`] in front of the event
/// handler that checks the skimmed fee before claiming a JIT payment.
///
/// # Errors
/// As [`start_wallet`].
pub async fn start_jit_wallet(options: WalletOptions) -> Result<Wallet> {
    build_and_start_wallet(options, true).await
}

/// Builds and starts a wallet node whose type-37913 messages go to `handler` and nothing else:
/// the node `inbound check` probes an LSP with (its handler is the checker's inbox).
///
/// # Errors
/// As [`start_wallet`].
pub async fn start_probe_node(
    options: WalletOptions,
    handler: Arc<dyn LspsMessageHandler>,
) -> Result<(Arc<Node>, Arc<EventHandler>)> {
    let events = EventHandler::new(options.alias.clone());
    let node = build_node(&options, handler, Arc::clone(&events) as Arc<dyn NodeEventHandler>).await?;
    events.attach(Arc::clone(node.channel_manager()));
    node.start().await.with_context(|| format!("starting node {}", options.alias))?;
    Ok((node, events))
}

async fn build_node(
    options: &WalletOptions,
    handler: Arc<dyn LspsMessageHandler>,
    events: Arc<dyn NodeEventHandler>,
) -> Result<Arc<Node>> {
    let mut builder = NodeBuilder::new(&options.data_dir);
    builder
        .set_network(options.network)
        .set_role(NodeRole::Wallet)
        .set_alias(options.alias.clone())
        .set_listen_address(None)
        .set_log_level(node_log_level())
        .set_chain_source_bitcoind_rpc(options.chain.clone())
        .set_lsps_message_handler(handler)
        .set_event_handler(events);
    let node = builder
        .build()
        .await
        .with_context(|| format!("building wallet node {} in {}", options.alias, options.data_dir.display()))?;
    Ok(Arc::new(node))
}

async fn build_and_start_wallet(options: WalletOptions, jit: bool) -> Result<Wallet> {
    let client = LspsClient::new(ClientConfig::default());
    let events = EventHandler::new(options.alias.clone());
    let wallet_events = jit.then(|| WalletEventHandler::new(Some(Arc::clone(&events) as Arc<dyn NodeEventHandler>)));
    let node_events: Arc<dyn NodeEventHandler> = match &wallet_events {
        Some(wallet_events) => Arc::clone(wallet_events) as Arc<dyn NodeEventHandler>,
        None => Arc::clone(&events) as Arc<dyn NodeEventHandler>,
    };
    let node = build_node(&options, Arc::clone(&client) as Arc<dyn LspsMessageHandler>, node_events).await?;
    client.attach(Arc::clone(node.lsps_transport()) as Arc<dyn LspsOutbound>);
    events.attach(Arc::clone(node.channel_manager()));
    let lsps2 = match wallet_events {
        Some(wallet_events) => {
            // Loads the purchases saved in the data directory: a payment for a JIT channel
            // bought before a restart is still recognised.
            let lsps2 = Lsps2Client::new(Arc::clone(&client), Arc::clone(&node))
                .with_context(|| format!("loading wallet {}'s JIT purchases", options.alias))?;
            node.set_channel_acceptor(lsps2.acceptor());
            wallet_events.attach(&lsps2);
            Some(lsps2)
        }
        None => None,
    };
    node.start().await.with_context(|| format!("starting wallet node {}", options.alias))?;
    Ok(Wallet { node, client, events, lsps2 })
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
