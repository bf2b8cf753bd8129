//! Wiring of the LSP: the node with its LSPS server and the event handler of [`crate::events`]
//! (wallet nodes are wired in [`crate::wallet`]).
//!
//! Start order, forced by the node: the LSPS handler and the event handler exist first (the
//! builder takes them), the node is built, then the handlers get what only the built node has
//! (its LSPS transport, its channel manager), and only then does the node start. Stop is
//! `Node::stop`, which persists the channel manager on its way out.
//!
//! With LSPS2 enabled the LSP also opens the store, builds the [`Lsps2Service`], registers it
//! with the LSPS server, puts an [`Lsps2EventHandler`] in front of the event handler, attaches
//! the service to the built node, and after the start resumes the stored sessions and ticks
//! every [`LSPS2_TICK_INTERVAL`] until [`Lsp::stop`].
//!
//! With LSPS1 enabled the LSP likewise builds the [`Lsps1Service`] on the same store, puts an
//! [`Lsps1EventHandler`] in front of everything (hold-invoice payments are the order's, not the
//! generic handler's), resumes the stored orders and ticks every [`LSPS1_TICK_INTERVAL`].

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use inbound_node::lsps0::LspsOutbound;
use inbound_node::{LspsMessageHandler, Node, NodeBuilder, NodeEventHandler, NodeRole};
use inbound_service::lsps1::{Lsps1EventHandler, Lsps1Service, OrderLightning};
use inbound_service::lsps2::{JitLightning, Lsps2EventHandler, Lsps2Service, SystemClock};
use inbound_service::{LspsServer, LspsServerConfig};
use tokio::task::JoinHandle;

use crate::config::{redacted_url, Config};
use crate::events::EventHandler;
use crate::logging::node_log_level;
use crate::wallet::bitcoind_rpc_config;

/// How often the LSPS1 service checks its orders (timers, deposits, held HTLCs).
pub const LSPS1_TICK_INTERVAL: Duration = Duration::from_secs(1);

/// How often the LSPS2 service checks its session timers.
pub const LSPS2_TICK_INTERVAL: Duration = Duration::from_secs(1);

/// A started LSP: the node, its LSPS server and its event handler.
pub struct Lsp {
    /// The Lightning node (role LSP).
    pub node: Arc<Node>,
    /// Answers type-37913 requests; holds the pending caps and counters.
    pub server: Arc<LspsServer>,
    /// Claims payments to the LSP's invoices; lets in-process callers wait for events.
    pub events: Arc<EventHandler>,
    /// The JIT channel service, when `lsps.enabled` lists LSPS2.
    pub lsps2: Option<Arc<Lsps2Service>>,
    /// The channel-order service, when `lsps.enabled` lists LSPS1.
    pub lsps1: Option<Arc<Lsps1Service>>,
    /// The LSPS2 ticker, stopped by [`Lsp::stop`] (and on drop).
    ticker: Mutex<Option<JoinHandle<()>>>,
    /// The LSPS1 ticker, likewise.
    lsps1_ticker: Mutex<Option<JoinHandle<()>>>,
}

impl Lsp {
    /// The address peers connect to (the bound one, useful with port 0).
    ///
    /// # Errors
    /// If the node is not listening (it always is once started).
    pub fn listening_address(&self) -> Result<SocketAddr> {
        self.node.listening_address().ok_or_else(|| anyhow!("the LSP node is not listening"))
    }

    /// Stops the LSPS2 ticker (if any), then the node gracefully; its state is persisted on the
    /// way out.
    ///
    /// # Errors
    /// If the final persistence fails.
    pub async fn stop(&self) -> Result<()> {
        self.stop_ticker();
        self.node.stop().await.context("stopping the LSP node")
    }

    fn stop_ticker(&self) {
        for ticker in [&self.ticker, &self.lsps1_ticker] {
            if let Some(ticker) = ticker.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take() {
                ticker.abort();
            }
        }
    }
}

impl Drop for Lsp {
    fn drop(&mut self) {
        self.stop_ticker();
    }
}

/// Builds and starts the LSP described by `config`: role LSP, the [`LspsServer`] as LSPS message
/// handler with the configured protocols and limits, a Bitcoin Core RPC chain source, and the
/// LSPS2 service if enabled (see the module documentation). This is what `inbound serve` runs
/// and what `inbound demo` runs in-process.
///
/// # Errors
/// If the chain backend or the store is unreachable, the data directory unusable or the
/// address taken.
pub async fn start_lsp(config: &Config) -> Result<Lsp> {
    let server = LspsServer::new(LspsServerConfig {
        enabled_protocols: config.lsps.enabled.clone(),
        max_pending_per_peer: config.limits.max_pending_per_peer,
        max_pending_total: config.limits.max_pending_total,
        error_data: config.lsps.error_data,
    });
    let store = if config.lsps2_enabled() || config.lsps1_enabled() { Some(open_store(config).await?) } else { None };
    let lsps2 = match (&store, config.lsps2_enabled()) {
        (Some(store), true) => Some(
            Lsps2Service::new(config.lsps2.clone(), Arc::clone(store), Arc::new(SystemClock))
                .context("the [lsps2] configuration")?,
        ),
        _ => None,
    };
    let lsps1 = match (&store, config.lsps1_enabled()) {
        (Some(store), true) => Some(
            Lsps1Service::new(config.lsps1.clone(), Arc::clone(store), Arc::new(SystemClock))
                .context("the [lsps1] configuration")?,
        ),
        _ => None,
    };
    let events = match lsps2 {
        Some(_) => EventHandler::for_jit_lsp(config.node.alias.clone()),
        None => EventHandler::new(config.node.alias.clone()),
    };
    let node_events: Arc<dyn NodeEventHandler> = match &lsps2 {
        Some(service) => {
            server.register(service.protocol_handler());
            Arc::new(Lsps2EventHandler::new(
                Arc::clone(service),
                Some(Arc::clone(&events) as Arc<dyn NodeEventHandler>),
            ))
        }
        None => Arc::clone(&events) as Arc<dyn NodeEventHandler>,
    };
    // LSPS1 sees events first: its hold-invoice payments must not reach the generic handler.
    let node_events: Arc<dyn NodeEventHandler> = match &lsps1 {
        Some(service) => {
            server.register(service.protocol_handler());
            Arc::new(Lsps1EventHandler::new(Arc::clone(service), Some(node_events)))
        }
        None => node_events,
    };
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
        .set_event_handler(node_events);
    let node = Arc::new(builder.build().await.with_context(|| {
        format!(
            "building the LSP node in {} (chain backend {})",
            config.data_dir.display(),
            redacted_url(&config.chain.url)
        )
    })?);
    server.attach(Arc::clone(node.lsps_transport()) as Arc<dyn LspsOutbound>);
    events.attach(Arc::clone(node.channel_manager()));
    if let Some(service) = &lsps2 {
        service.attach(Arc::clone(&node) as Arc<dyn JitLightning>);
    }
    if let Some(service) = &lsps1 {
        service.attach(Arc::clone(&node) as Arc<dyn OrderLightning>);
    }
    node.start().await.with_context(|| format!("starting the LSP node on {}", config.node.listen))?;
    let lsp = Lsp { node, server, events, lsps2, lsps1, ticker: Mutex::new(None), lsps1_ticker: Mutex::new(None) };
    if let Some(service) = &lsp.lsps1 {
        let resumed = match service.resume().await {
            Ok(resumed) => resumed,
            Err(error) => {
                if let Err(stop_error) = lsp.stop().await {
                    tracing::warn!("stopping the LSP after a failed start: {stop_error:#}");
                }
                return Err(anyhow!(error).context("resuming the stored LSPS1 orders"));
            }
        };
        tracing::info!(resumed, store = %config.store.redacted(), "LSPS1 service running");
        *lsp.lsps1_ticker.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) =
            Some(service.spawn_ticker(LSPS1_TICK_INTERVAL));
    }
    if let Some(service) = &lsp.lsps2 {
        let resumed = match service.resume().await {
            Ok(resumed) => resumed,
            Err(error) => {
                // Leave nothing running behind a failed start.
                if let Err(stop_error) = lsp.stop().await {
                    tracing::warn!("stopping the LSP after a failed start: {stop_error:#}");
                }
                return Err(anyhow!(error).context("resuming the stored LSPS2 sessions"));
            }
        };
        tracing::info!(resumed, store = %config.store.redacted(), "LSPS2 service running");
        *lsp.ticker.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) =
            Some(service.spawn_ticker(LSPS2_TICK_INTERVAL));
    }
    Ok(lsp)
}

/// Opens the store the LSPS1 and LSPS2 services share (creating the data directory first, where
/// the default SQLite file lives).
async fn open_store(config: &Config) -> Result<Arc<dyn inbound_store::Store>> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    inbound_store::open(&config.store.url)
        .await
        .with_context(|| format!("opening the store {} (store.url)", config.store.redacted()))
}
