//! Wiring of the LSP: the node with its LSPS server and the event handler of [`crate::events`]
//! (wallet nodes are wired in [`crate::wallet`]).
//!
//! The LSP is wired by [`LspBuilder`] (in `inbound-service`, shared with the test harness): it
//! creates the enabled services on one store, registers them with one LSPS server and chains
//! their event handlers in front of this crate's [`EventHandler`]; the node is built with them,
//! the services get the built node, the node starts, and then the stored flows resume and the
//! services tick until [`Lsp::stop`]. Stop is `Node::stop`, which persists the channel manager on
//! its way out.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use inbound_node::{Node, NodeBuilder, NodeEventHandler, NodeRole};
use inbound_service::lsps1::Lsps1Service;
use inbound_service::lsps2::Lsps2Service;
use inbound_service::lsps5::Lsps5Service;
use inbound_service::{LspBuilder, LspServices, LspsServer, LspsServerConfig, SystemClock};

use crate::config::{redacted_url, Config};
use crate::events::EventHandler;
use crate::logging::node_log_level;
use crate::wallet::bitcoind_rpc_config;

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
    /// The webhook service, when `lsps.enabled` lists LSPS5.
    pub lsps5: Option<Arc<Lsps5Service>>,
    /// The operator's read access to the stored flows, when the LSP keeps flows.
    pub operator: Option<inbound_service::operator::Operator>,
    /// The clients the operator banned, when the LSP keeps flows.
    pub bans: Option<Arc<inbound_service::clients::ClientBans>>,
    /// Prepaid channel vouchers (LNURL-channel), with LSPS1.
    pub vouchers: Option<Arc<inbound_service::vouchers::Vouchers>>,
    /// Where wallets reach the LSP for LNURL-channel (`[lnurl]`), when both keys are set.
    pub lnurl: Option<inbound_service::vouchers::LnurlConfig>,
    /// The services as [`LspBuilder`] wired them (their tickers stop with [`Lsp::stop`]).
    services: LspServices,
}

impl Lsp {
    /// The address peers connect to (the bound one, useful with port 0).
    ///
    /// # Errors
    /// If the node is not listening (it always is once started).
    pub fn listening_address(&self) -> Result<SocketAddr> {
        self.node.listening_address().ok_or_else(|| anyhow!("the LSP node is not listening"))
    }

    /// Waits until a background task of the node (LDK's background processor, which ends when
    /// it cannot persist the channel manager; a helper loop) or of the services (a ticker)
    /// died, and says which and why. Channel state may no longer be saved then: stop and exit.
    pub async fn wait_for_failure(&self) -> String {
        tokio::select! {
            reason = self.node.wait_for_failure() => reason,
            reason = self.services.wait_for_failure() => reason,
        }
    }

    /// Stops the services' tickers, then the node gracefully; its state is persisted on the
    /// way out.
    ///
    /// # Errors
    /// If the final persistence fails.
    pub async fn stop(&self) -> Result<()> {
        self.services.stopping();
        self.node.stop().await.context("stopping the LSP node")
    }
}

/// Builds and starts the LSP described by `config`: role LSP, the protocols `lsps.enabled`
/// lists wired by [`LspBuilder`] (the store opened only when a flow needs it), a Bitcoin Core
/// RPC chain source. This is what `inbound serve` runs and what `inbound demo` runs in-process.
///
/// # Errors
/// If the chain backend or the store is unreachable, the data directory unusable or the
/// address taken.
pub async fn start_lsp(config: &Config) -> Result<Lsp> {
    let mut lsp_builder = LspBuilder::new(Arc::new(SystemClock)).server(LspsServerConfig {
        enabled_protocols: Vec::new(),
        max_pending_per_peer: config.limits.max_pending_per_peer,
        max_pending_total: config.limits.max_pending_total,
        compat: config.lsps.compat,
    });
    if config.lsps2_enabled() || config.lsps1_enabled() || config.lsps5_enabled() {
        lsp_builder = lsp_builder.store(open_store(config).await?);
    }
    if config.lsps1_enabled() {
        lsp_builder = lsp_builder.lsps1(config.lsps1.clone());
    }
    if config.lsps2_enabled() {
        lsp_builder = lsp_builder.lsps2(config.lsps2.clone());
    }
    if config.lsps5_enabled() {
        lsp_builder = lsp_builder.lsps5(config.lsps5.clone());
    }
    let events = match config.lsps2_enabled() {
        true => EventHandler::for_jit_lsp(config.node.alias.clone()),
        false => EventHandler::new(config.node.alias.clone()),
    };
    let services = lsp_builder.build(Arc::clone(&events) as Arc<dyn NodeEventHandler>)?;
    let mut builder = NodeBuilder::new(&config.data_dir);
    builder
        .set_network(config.network)
        .set_role(NodeRole::Lsp)
        .set_alias(config.node.alias.clone())
        .set_listen_address(Some(config.node.listen))
        .set_lsp_max_inbound_htlc_in_flight_percent(config.node.max_inbound_htlc_in_flight_percent)
        .set_lsps_queue_limits(config.limits.lsps_queue_per_peer, config.limits.lsps_queue_total)
        .set_log_level(node_log_level())
        .set_chain_source_bitcoind_rpc(bitcoind_rpc_config(&config.chain)?)
        .set_lsps_message_handler(services.lsps_handler())
        .set_event_handler(services.event_handler());
    let node = Arc::new(builder.build().await.with_context(|| {
        format!(
            "building the LSP node in {} (chain backend {})",
            config.data_dir.display(),
            redacted_url(&config.chain.url)
        )
    })?);
    events.attach(Arc::clone(node.channel_manager()));
    services.attach(&node);
    node.start().await.with_context(|| format!("starting the LSP node on {}", config.node.listen))?;
    let lnurl = config.lnurl.endpoint(lsps::schema::NodeId(node.node_id()));
    let lsp = Lsp {
        node,
        server: Arc::clone(&services.server),
        events,
        lsps2: services.lsps2.clone(),
        lsps1: services.lsps1.clone(),
        lsps5: services.lsps5.clone(),
        operator: services.operator(),
        bans: services.bans.clone(),
        vouchers: services.vouchers.clone(),
        lnurl,
        services,
    };
    match lsp.services.started().await {
        Ok(resumed) => {
            let store = config.store.redacted();
            if lsp.lsps1.is_some() {
                tracing::info!(resumed = resumed.lsps1_orders, %store, "LSPS1 service running");
            }
            if lsp.lsps2.is_some() {
                tracing::info!(resumed = resumed.lsps2_sessions, %store, "LSPS2 service running");
            }
            if lsp.lsps5.is_some() {
                tracing::info!(pending = resumed.lsps5_deliveries, %store, "LSPS5 service running");
            }
            Ok(lsp)
        }
        Err(error) => {
            // Leave nothing running behind a failed start.
            if let Err(stop_error) = lsp.stop().await {
                tracing::warn!("stopping the LSP after a failed start: {stop_error:#}");
            }
            Err(anyhow!(error).context("resuming the stored LSPS1 orders, LSPS2 sessions and LSPS5 deliveries"))
        }
    }
}

/// Opens the store the LSPS1, LSPS2 and LSPS5 services share (creating the data directory first, where
/// the default SQLite file lives).
async fn open_store(config: &Config) -> Result<Arc<dyn inbound_store::Store>> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    inbound_store::open(&config.store.url)
        .await
        .with_context(|| format!("opening the store {} (store.url)", config.store.redacted()))
}
