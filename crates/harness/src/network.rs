//! [`Network`]: N real LDK nodes over loopback TCP on one chain, each in a temporary data
//! directory, torn down in order.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bitcoin::Network as BitcoinNetwork;
use inbound_client::{ClientConfig, LspsClient};
use inbound_node::lightning::util::logger::Level;
use inbound_node::{BitcoindRpcConfig, ChainSource, Node, NodeBuilder, NodeError, NodeRole, SimChain};
use inbound_regtest::Bcoin;
use inbound_service::{LspsServer, LspsServerConfig, ProtocolHandler};
use tempfile::TempDir;

use crate::jit::JitWallet;
use crate::raw::RawLsps;
use crate::test_node::{EventRecorder, Role, TestNode};
use crate::wait::{wait_until, HarnessError, HarnessResult, DEFAULT_TIMEOUT};

/// Outbound LSPS0 queue bounds of raw nodes: big enough to flood with.
pub const RAW_NODE_QUEUE_LIMIT: usize = 20_000;

/// How often nodes on bcoin poll it for blocks.
pub const BCOIN_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The chain every node of a [`Network`] follows.
pub enum Backend {
    /// The in-process simulated chain: fast, deterministic, coins from thin air.
    Sim(Arc<SimChain>),
    /// A throwaway bcoin regtest node (killed when the network is dropped).
    Bcoin(Box<Bcoin>),
}

/// A set of nodes on one chain. Build it with [`Network::sim`] or [`Network::bcoin`], add nodes
/// with [`Network::add_lsp`], [`Network::add_wallet`] and [`Network::add_raw`], and end it with
/// [`Network::shutdown`] (dropping it also stops the nodes, when the runtime allows).
pub struct Network {
    pub(crate) backend: Backend,
    dir: Option<TempDir>,
    pub(crate) nodes: Mutex<Vec<Arc<TestNode>>>,
    pub(crate) next_user_channel_id: AtomicU64,
}

impl Network {
    /// A network on a fresh [`SimChain`] (one block mined, as LDK wants a non-genesis tip).
    pub async fn sim() -> HarnessResult<Network> {
        let chain = SimChain::new();
        chain.mine_blocks(1);
        Network::with_backend(Backend::Sim(chain))
    }

    /// A network on a fresh bcoin regtest node, mined past segwit activation. Installs bcoin
    /// from npm on first use.
    pub async fn bcoin() -> HarnessResult<Network> {
        Network::with_backend(Backend::Bcoin(Box::new(Bcoin::start().await?)))
    }

    fn with_backend(backend: Backend) -> HarnessResult<Network> {
        let dir = tempfile::Builder::new()
            .prefix("inbound-harness-")
            .tempdir()
            .map_err(|e| HarnessError::Failed(format!("creating a temp dir: {e}")))?;
        Ok(Network { backend, dir: Some(dir), nodes: Mutex::new(Vec::new()), next_user_channel_id: AtomicU64::new(1) })
    }

    /// A SQLite database file for node `name`'s LSP store, inside the network's directory (so it
    /// is removed with the network and survives [`Network::restart`]). A file rather than
    /// `sqlite::memory:`: an in-memory database vanishes when its one pooled connection is
    /// replaced, e.g. after a task is cancelled mid-query during a restart.
    pub fn sqlite_store(&self, name: &str) -> String {
        let root = self.dir.as_ref().map(|dir| dir.path().to_owned()).unwrap_or_else(std::env::temp_dir);
        root.join(format!("{name}-store.sqlite")).to_string_lossy().into_owned()
    }

    /// The chain backend.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The simulated chain, if this network runs on one.
    pub fn sim_chain(&self) -> Option<&Arc<SimChain>> {
        match &self.backend {
            Backend::Sim(chain) => Some(chain),
            Backend::Bcoin(_) => None,
        }
    }

    /// Adds an LSP serving LSPS0 only.
    pub async fn add_lsp(&self, name: &str) -> HarnessResult<Arc<TestNode>> {
        self.add_lsp_with(name, LspsServerConfig::default(), Vec::new()).await
    }

    /// Adds an LSP with this server configuration and protocol handlers.
    pub async fn add_lsp_with(
        &self,
        name: &str,
        config: LspsServerConfig,
        handlers: Vec<Arc<dyn ProtocolHandler>>,
    ) -> HarnessResult<Arc<TestNode>> {
        let server = LspsServer::new(config);
        for handler in handlers {
            server.register(handler);
        }
        self.add_node(name, Role::Lsp(server)).await
    }

    /// Adds a wallet (or payer) with a default [`LspsClient`].
    pub async fn add_wallet(&self, name: &str) -> HarnessResult<Arc<TestNode>> {
        self.add_wallet_with(name, ClientConfig::default()).await
    }

    /// Adds a wallet with this client configuration.
    pub async fn add_wallet_with(&self, name: &str, config: ClientConfig) -> HarnessResult<Arc<TestNode>> {
        self.add_node(name, Role::Wallet(LspsClient::new(config))).await
    }

    /// Adds a node whose LSPS0 traffic is only recorded ([`RawLsps`]), with LDK role `role`
    /// (an LSP-role raw node advertises feature bit 729, so it can play a bad LSP).
    pub async fn add_raw(&self, name: &str, role: NodeRole) -> HarnessResult<Arc<TestNode>> {
        self.add_node(name, Role::Raw(Arc::new(RawLsps::default()), role)).await
    }

    async fn add_node(&self, name: &str, role: Role) -> HarnessResult<Arc<TestNode>> {
        self.add_node_with(name, role, Arc::new(EventRecorder::default()), None).await
    }

    pub(crate) async fn add_node_with(
        &self,
        name: &str,
        role: Role,
        events: Arc<EventRecorder>,
        jit: Option<JitWallet>,
    ) -> HarnessResult<Arc<TestNode>> {
        self.add_node_full(name, role, events, jit, None).await
    }

    pub(crate) async fn add_node_full(
        &self,
        name: &str,
        role: Role,
        events: Arc<EventRecorder>,
        jit: Option<JitWallet>,
        lsp: Option<inbound_service::LspServices>,
    ) -> HarnessResult<Arc<TestNode>> {
        let root = self.dir.as_ref().map(|dir| dir.path().to_owned()).unwrap_or_else(std::env::temp_dir);
        let test_node = Arc::new(TestNode {
            name: name.to_owned(),
            dir: root.join(name),
            role,
            events,
            jit,
            lsp,
            node: Mutex::new(None),
            address: Mutex::new(None),
        });
        self.start_node(&test_node, "127.0.0.1:0".parse().ok()).await?;
        self.nodes.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(Arc::clone(&test_node));
        Ok(test_node)
    }

    /// Builds (or restores) and starts `test_node`'s LDK node from its data directory.
    async fn start_node(&self, test_node: &TestNode, listen: Option<SocketAddr>) -> HarnessResult<()> {
        let mut builder = NodeBuilder::new(&test_node.dir);
        let debug = std::env::var_os("HARNESS_DEBUG").is_some();
        builder
            .set_network(BitcoinNetwork::Regtest)
            .set_alias(test_node.name.clone())
            .set_role(test_node.role.node_role())
            .set_min_funding_confirmations(1)
            .set_reconnect_interval_secs(1)
            .set_listen_address(listen)
            .set_log_level(if debug { Level::Trace } else { Level::Warn })
            .set_lsps_message_handler(test_node.role.handler())
            .set_event_handler(match (&test_node.jit, &test_node.lsp) {
                (Some(jit), _) => Arc::clone(&jit.front),
                (None, Some(lsp)) => lsp.event_handler(),
                (None, None) => Arc::clone(&test_node.events) as Arc<dyn inbound_node::NodeEventHandler>,
            });
        if let Role::Raw(..) = test_node.role {
            builder.set_lsps_queue_limits(RAW_NODE_QUEUE_LIMIT, RAW_NODE_QUEUE_LIMIT);
        }
        match &self.backend {
            Backend::Sim(chain) => {
                builder.set_chain_source(Arc::clone(chain) as Arc<dyn ChainSource>);
            }
            Backend::Bcoin(bcoin) => {
                let mut rpc = BitcoindRpcConfig::new(bcoin.rpc_url());
                rpc.poll_interval = BCOIN_POLL_INTERVAL;
                builder.set_chain_source_bitcoind_rpc(rpc);
            }
        }
        let node = Arc::new(builder.build().await?);
        test_node.events.set_channel_manager(Some(Arc::clone(node.channel_manager())));
        test_node.role.attach(&node);
        if let (Some(jit), Role::Wallet(lsps)) = (&test_node.jit, &test_node.role) {
            jit.wire(lsps, &node)?;
        }
        if let Some(lsp) = &test_node.lsp {
            lsp.attach(&node);
        }
        node.start().await?;
        if let Some(lsp) = &test_node.lsp {
            lsp.started().await.map_err(|e| HarnessError::Failed(format!("resuming the LSP's flows: {e}")))?;
        }
        *test_node.address.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = node.listening_address();
        *test_node.node.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(node);
        Ok(())
    }

    /// Connects `from` to `to` (remembering the address, so the reconnect loop keeps the
    /// connection up while they share a channel) and waits until both transports know the peer.
    pub async fn connect(&self, from: &TestNode, to: &TestNode) -> HarnessResult<()> {
        let (from_node, to_node) = (from.node(), to.node());
        from_node.connect_peer(to_node.node_id(), to.address(), true).await?;
        wait_until(&format!("{} and {} connected", from.name, to.name), DEFAULT_TIMEOUT, || {
            from_node.lsps_transport().peer_advertises_lsps(&to_node.node_id()).is_some()
                && to_node.lsps_transport().peer_advertises_lsps(&from_node.node_id()).is_some()
        })
        .await
    }

    /// Disconnects `a` from `b` and waits until neither transport knows the other.
    pub async fn disconnect(&self, a: &TestNode, b: &TestNode) -> HarnessResult<()> {
        let (a_node, b_node) = (a.node(), b.node());
        a_node.disconnect_peer(b_node.node_id());
        wait_until(&format!("{} and {} disconnected", a.name, b.name), DEFAULT_TIMEOUT, || {
            a_node.lsps_transport().peer_advertises_lsps(&b_node.node_id()).is_none()
                && b_node.lsps_transport().peer_advertises_lsps(&a_node.node_id()).is_none()
        })
        .await
    }

    /// Stops `test_node` gracefully (LDK persists on the way out). [`Network::restart`] brings it
    /// back.
    pub async fn stop(&self, test_node: &TestNode) -> HarnessResult<()> {
        let node = test_node.node.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        test_node.events.set_channel_manager(None);
        if let Some(lsp) = &test_node.lsp {
            lsp.stopping();
        }
        match node {
            Some(node) => stop_quietly(&node).await,
            None => Ok(()),
        }
    }

    /// Stops `test_node` (if running) and rebuilds it from its data directory on the same
    /// listening address, with the same role objects re-attached. Peers that remembered the
    /// address reconnect through their reconnect loop.
    pub async fn restart(&self, test_node: &TestNode) -> HarnessResult<()> {
        self.stop(test_node).await?;
        let listen = *test_node.address.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.start_node(test_node, listen).await
    }

    /// Every node added so far.
    pub fn nodes(&self) -> Vec<Arc<TestNode>> {
        self.nodes.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    pub(crate) fn running_nodes(&self) -> Vec<Arc<Node>> {
        self.nodes()
            .iter()
            .filter_map(|test_node| test_node.node.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone())
            .collect()
    }

    /// Stops every node (in the order they were added). Bcoin stops when the network is dropped.
    pub async fn shutdown(&self) -> HarnessResult<()> {
        for test_node in self.nodes() {
            self.stop(&test_node).await?;
        }
        Ok(())
    }
}

async fn stop_quietly(node: &Node) -> HarnessResult<()> {
    match node.stop().await {
        Ok(()) | Err(NodeError::State(_)) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

impl Drop for Network {
    /// Stops nodes a test left running, so that no background task writes into the deleted
    /// data directory. Blocking is only possible on a multi-threaded runtime; elsewhere the data
    /// directory is kept (and leaked) instead.
    fn drop(&mut self) {
        let running: Vec<Arc<Node>> = self.running_nodes().into_iter().filter(|node| node.is_running()).collect();
        if running.is_empty() {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| {
                    handle.block_on(async {
                        for node in running {
                            let _ = node.stop().await;
                        }
                    })
                });
            }
            _ => {
                if let Some(dir) = self.dir.take() {
                    let _ = dir.keep();
                }
            }
        }
    }
}
