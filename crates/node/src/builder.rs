//! [`NodeBuilder`]: assembles a [`Node`] from a [`Config`], a chain source and the injected handlers.
//!
//! Start-up order (LDK's documented restore sequence):
//! 1. seed → [`KeysManager`]; open the filesystem KV store (`<data_dir>/store`);
//! 2. read every persisted channel monitor, then the channel manager with
//!    [`ChannelManagerReadArgs`] (refusing to start if monitors exist without a manager);
//!    a brand-new node instead creates a channel manager at the chain source's tip;
//! 3. load or create the wallet and the output sweeper;
//! 4. catch every monitor, the manager, the sweeper and the wallet up to the chain tip, each from
//!    its own best block;
//! 5. hand the monitors to the chain monitor; build the PeerManager with the LSPS0 transport.
//!
//! Nothing runs in the background until [`Node::start`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use bitcoin::secp256k1::PublicKey;
use bitcoin::{BlockHash, Network};
use lightning::chain::BestBlock;
use lightning::ln::channelmanager::{ChainParameters, ChannelManagerReadArgs};
use lightning::ln::peer_handler::{IgnoringMessageHandler, MessageHandler};
use lightning::onion_message::messenger::DefaultMessageRouter;
use lightning::routing::gossip::NetworkGraph;
use lightning::routing::router::DefaultRouter;
use lightning::routing::scoring::{
    ProbabilisticScorer, ProbabilisticScoringDecayParameters, ProbabilisticScoringFeeParameters,
};
use lightning::sign::{EntropySource, KeysManager, NodeSigner};
use lightning::util::logger::Level;
use lightning::util::persist::{
    read_channel_monitors, KVStoreSync, CHANNEL_MANAGER_PERSISTENCE_KEY, CHANNEL_MANAGER_PERSISTENCE_PRIMARY_NAMESPACE,
    CHANNEL_MANAGER_PERSISTENCE_SECONDARY_NAMESPACE, OUTPUT_SWEEPER_PERSISTENCE_KEY,
    OUTPUT_SWEEPER_PERSISTENCE_PRIMARY_NAMESPACE, OUTPUT_SWEEPER_PERSISTENCE_SECONDARY_NAMESPACE,
};
use lightning::util::ser::{ReadableArgs, Writeable};
use lightning_persister::fs_store::FilesystemStore;

use crate::chain::{BitcoindRpc, BitcoindRpcConfig, ChainBroadcaster, ChainConsumer, ChainFeeEstimator, ChainSource};
use crate::config::{Config, NodeRole};
use crate::consumers::{ChainMonitorConsumer, ChannelManagerConsumer, MonitorCatchUp, SweeperConsumer};
use crate::error::{NodeError, NodeResult};
use crate::events::{ChannelAcceptor, DefaultChannelAcceptor, EventDispatcher, IgnoringEventHandler, NodeEventHandler};
use crate::keys::{keys_manager_from_seed, read_or_create_seed};
use crate::logger::NodeLogger;
use crate::lsps0::{IgnoringLspsHandler, Lsps0Transport, LspsMessageHandler};
use crate::node::Node;
use crate::types::{ChainMonitor, ChannelManager, DynFilter, PeerManager, Sweeper};
use crate::wallet::OnchainWallet;

/// Subdirectory of the data directory holding the KV store.
pub const STORE_DIR_NAME: &str = "store";

enum ChainSourceChoice {
    Unset,
    Custom(Arc<dyn ChainSource>),
    BitcoindRpc(BitcoindRpcConfig),
}

/// Builds a [`Node`]. Setters mirror the fields of [`Config`]; unset fields keep their defaults.
pub struct NodeBuilder {
    config: Config,
    chain_source: ChainSourceChoice,
    lsps_handler: Arc<dyn LspsMessageHandler>,
    event_handler: Arc<dyn NodeEventHandler>,
    channel_acceptor: Option<Arc<dyn ChannelAcceptor>>,
}

impl NodeBuilder {
    /// A builder with default settings storing its state in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self::from_config(Config::new(data_dir))
    }

    /// A builder starting from an existing configuration.
    pub fn from_config(config: Config) -> Self {
        Self {
            config,
            chain_source: ChainSourceChoice::Unset,
            lsps_handler: Arc::new(IgnoringLspsHandler),
            event_handler: Arc::new(IgnoringEventHandler),
            channel_acceptor: None,
        }
    }

    /// Sets the network.
    pub fn set_network(&mut self, network: Network) -> &mut Self {
        self.config.network = network;
        self
    }

    /// Sets the listening address (`None`: do not listen). Port 0 picks a free port; see
    /// [`Node::listening_address`].
    pub fn set_listen_address(&mut self, address: Option<SocketAddr>) -> &mut Self {
        self.config.listen_address = address;
        self
    }

    /// Sets the alias used in log lines.
    pub fn set_alias(&mut self, alias: impl Into<String>) -> &mut Self {
        self.config.alias = alias.into();
        self
    }

    /// LSP role: the share of a channel's value (1 to 100) a peer may have in HTLCs towards the
    /// node at once (default [`DEFAULT_LSP_MAX_INBOUND_HTLC_IN_FLIGHT_PERCENT`](crate::config::DEFAULT_LSP_MAX_INBOUND_HTLC_IN_FLIGHT_PERCENT)).
    pub fn set_lsp_max_inbound_htlc_in_flight_percent(&mut self, percent: u8) -> &mut Self {
        self.config.lsp_max_inbound_htlc_in_flight_percent = percent;
        self
    }

    /// Sets the role (LSP or wallet), which selects the LDK knobs described in [`Config`].
    pub fn set_role(&mut self, role: NodeRole) -> &mut Self {
        self.config.role = role;
        self
    }

    /// Sets the confirmations required for channels the peer funds.
    pub fn set_min_funding_confirmations(&mut self, confirmations: u32) -> &mut Self {
        self.config.min_funding_confirmations = confirmations;
        self
    }

    /// Sets the peers whose inbound channels a wallet-role node accepts as 0-conf.
    pub fn set_trusted_peers_0conf(&mut self, peers: Vec<PublicKey>) -> &mut Self {
        self.config.trusted_peers_0conf = peers;
        self
    }

    /// Sets the outbound LSPS0 queue bounds (per peer, total).
    pub fn set_lsps_queue_limits(&mut self, per_peer: usize, total: usize) -> &mut Self {
        self.config.lsps_max_queued_per_peer = per_peer;
        self.config.lsps_max_queued_total = total;
        self
    }

    /// Sets the reconnect loop period.
    pub fn set_reconnect_interval_secs(&mut self, secs: u64) -> &mut Self {
        self.config.reconnect_interval_secs = secs;
        self
    }

    /// Sets the LDK log level.
    pub fn set_log_level(&mut self, level: Level) -> &mut Self {
        self.config.log_level = level;
        self
    }

    /// Uses `source` (for example a shared [`SimChain`](crate::SimChain)) as the chain source.
    pub fn set_chain_source(&mut self, source: Arc<dyn ChainSource>) -> &mut Self {
        self.chain_source = ChainSourceChoice::Custom(source);
        self
    }

    /// Uses a Bitcoin Core / bcoin JSON-RPC server as the chain source.
    pub fn set_chain_source_bitcoind_rpc(&mut self, config: BitcoindRpcConfig) -> &mut Self {
        self.chain_source = ChainSourceChoice::BitcoindRpc(config);
        self
    }

    /// Injects the receiver of LSPS0 messages (default: drop them).
    pub fn set_lsps_message_handler(&mut self, handler: Arc<dyn LspsMessageHandler>) -> &mut Self {
        self.lsps_handler = handler;
        self
    }

    /// Injects the receiver of LDK events (default: ignore them after the node's own handling).
    pub fn set_event_handler(&mut self, handler: Arc<dyn NodeEventHandler>) -> &mut Self {
        self.event_handler = handler;
        self
    }

    /// Injects the decider for inbound channels of a wallet-role node (default:
    /// [`DefaultChannelAcceptor::from_config`](crate::DefaultChannelAcceptor::from_config), which
    /// accepts everything, 0-conf from `trusted_peers_0conf`). See [`ChannelAcceptor`].
    pub fn set_channel_acceptor(&mut self, acceptor: Arc<dyn ChannelAcceptor>) -> &mut Self {
        self.channel_acceptor = Some(acceptor);
        self
    }

    /// The configuration so far.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Restores or creates the node (see the module documentation). Must run inside a tokio runtime.
    ///
    /// # Errors
    /// [`NodeError::Config`] without a chain source; [`NodeError::Io`] / [`NodeError::Persistence`]
    /// for unreadable state; [`NodeError::Chain`] if the initial catch-up to the chain tip fails
    /// (retry once the backend is reachable).
    pub async fn build(&self) -> NodeResult<Node> {
        let config = self.config.clone();
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| NodeError::io(format!("creating {}", config.data_dir.display()), e))?;
        let logger = Arc::new(NodeLogger::new(config.alias.clone(), config.log_level));
        let seed = read_or_create_seed(&config.data_dir)?;
        let keys = Arc::new(keys_manager_from_seed(&seed));
        let store = Arc::new(FilesystemStore::new(config.data_dir.join(STORE_DIR_NAME)));

        let chain_source: Arc<dyn ChainSource> = match &self.chain_source {
            ChainSourceChoice::Unset => return Err(NodeError::Config("no chain source set".into())),
            ChainSourceChoice::Custom(source) => Arc::clone(source),
            ChainSourceChoice::BitcoindRpc(rpc) => Arc::new(BitcoindRpc::new(rpc.clone())?),
        };
        if let Err(e) = chain_source.update_fee_estimates().await {
            logger.log_line(Level::Warn, &format!("initial fee estimates failed, using the floor: {e}"));
        }
        let fee_estimator = Arc::new(ChainFeeEstimator::new(Arc::clone(&chain_source)));
        let (broadcaster, broadcast_queue) = ChainBroadcaster::new();
        let broadcaster = Arc::new(broadcaster);

        let chain_monitor: Arc<ChainMonitor> = Arc::new(ChainMonitor::new(
            None::<Arc<DynFilter>>,
            Arc::clone(&broadcaster),
            Arc::clone(&logger),
            Arc::clone(&fee_estimator),
            Arc::clone(&store),
            Arc::clone(&keys),
            keys.get_peer_storage_key(),
        ));
        let graph = Arc::new(NetworkGraph::new(config.network, Arc::clone(&logger)));
        let scorer = Arc::new(RwLock::new(ProbabilisticScorer::new(
            ProbabilisticScoringDecayParameters::default(),
            Arc::clone(&graph),
            Arc::clone(&logger),
        )));
        let router = Arc::new(DefaultRouter::new(
            Arc::clone(&graph),
            Arc::clone(&logger),
            Arc::clone(&keys),
            scorer,
            ProbabilisticScoringFeeParameters::default(),
        ));
        let message_router = Arc::new(DefaultMessageRouter::new(Arc::clone(&graph), Arc::clone(&keys)));

        // Monitors first, then the manager that refers to them.
        let monitors = read_channel_monitors(Arc::clone(&store), Arc::clone(&keys), Arc::clone(&keys))
            .map_err(|e| NodeError::Persistence(format!("reading channel monitors: {e}")))?;
        let manager_bytes = match store.read(
            CHANNEL_MANAGER_PERSISTENCE_PRIMARY_NAMESPACE,
            CHANNEL_MANAGER_PERSISTENCE_SECONDARY_NAMESPACE,
            CHANNEL_MANAGER_PERSISTENCE_KEY,
        ) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == lightning::io::ErrorKind::NotFound => None,
            Err(e) => return Err(NodeError::io("reading the channel manager", e)),
        };
        let user_config = config.user_config();
        let (channel_manager, is_new) = match manager_bytes {
            Some(bytes) => {
                let args = ChannelManagerReadArgs::new(
                    Arc::clone(&keys),
                    Arc::clone(&keys),
                    Arc::clone(&keys),
                    Arc::clone(&fee_estimator),
                    Arc::clone(&chain_monitor),
                    Arc::clone(&broadcaster),
                    Arc::clone(&router),
                    Arc::clone(&message_router),
                    Arc::clone(&logger),
                    user_config,
                    monitors.iter().map(|(_, monitor)| monitor).collect(),
                );
                let (_, manager) = <(BlockHash, ChannelManager)>::read(&mut &bytes[..], args)
                    .map_err(|e| NodeError::Persistence(format!("decoding the channel manager: {e:?}")))?;
                (Arc::new(manager), false)
            }
            None if !monitors.is_empty() => {
                return Err(NodeError::Persistence(format!(
                    "{} channel monitors but no channel manager in {}",
                    monitors.len(),
                    config.data_dir.display()
                )))
            }
            None => {
                let tip = chain_source.best_block().await?;
                let now_secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
                let manager = ChannelManager::new(
                    Arc::clone(&fee_estimator),
                    Arc::clone(&chain_monitor),
                    Arc::clone(&broadcaster),
                    Arc::clone(&router),
                    Arc::clone(&message_router),
                    Arc::clone(&logger),
                    Arc::clone(&keys),
                    Arc::clone(&keys),
                    Arc::clone(&keys),
                    user_config,
                    ChainParameters { network: config.network, best_block: tip },
                    now_secs as u32,
                );
                (Arc::new(manager), true)
            }
        };
        if is_new {
            store
                .write(
                    CHANNEL_MANAGER_PERSISTENCE_PRIMARY_NAMESPACE,
                    CHANNEL_MANAGER_PERSISTENCE_SECONDARY_NAMESPACE,
                    CHANNEL_MANAGER_PERSISTENCE_KEY,
                    channel_manager.encode(),
                )
                .map_err(|e| NodeError::io("writing the new channel manager", e))?;
        }
        let manager_best = channel_manager.current_best_block();

        let wallet = Arc::new(OnchainWallet::load_or_create(
            &seed,
            config.network,
            Arc::clone(&store),
            manager_best,
            Arc::clone(&logger),
        )?);
        let sweeper = Arc::new(load_or_create_sweeper(
            &store,
            manager_best,
            &broadcaster,
            &fee_estimator,
            &keys,
            &wallet,
            &logger,
        )?);

        // Catch everything up, each from its own best block.
        let catch_ups: Vec<MonitorCatchUp> = monitors
            .into_iter()
            .map(|(_, monitor)| MonitorCatchUp {
                listener: (monitor, Arc::clone(&broadcaster), Arc::clone(&fee_estimator), Arc::clone(&logger)),
            })
            .collect();
        let manager_consumer = ChannelManagerConsumer(Arc::clone(&channel_manager));
        let sweeper_consumer = SweeperConsumer(Arc::clone(&sweeper));
        {
            let mut consumers: Vec<&dyn ChainConsumer> = catch_ups.iter().map(|c| c as &dyn ChainConsumer).collect();
            consumers.push(&manager_consumer);
            consumers.push(&sweeper_consumer);
            consumers.push(&*wallet);
            let tip = chain_source.sync(&consumers).await?;
            logger.log_line(Level::Info, &format!("caught up to block {} ({})", tip.height, tip.block_hash));
        }
        for catch_up in catch_ups {
            let monitor = catch_up.listener.0;
            let channel_id = monitor.channel_id();
            chain_monitor
                .load_existing_monitor(channel_id, monitor)
                .map_err(|()| NodeError::Persistence(format!("channel monitor {channel_id} could not be loaded")))?;
        }

        let lsps = Arc::new(Lsps0Transport::new(
            Arc::clone(&self.lsps_handler),
            config.role == NodeRole::Lsp,
            config.lsps_max_queued_per_peer,
            config.lsps_max_queued_total,
            Arc::clone(&logger),
        ));
        let now_secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let peer_manager: Arc<PeerManager> = Arc::new(PeerManager::new(
            MessageHandler {
                chan_handler: Arc::clone(&channel_manager),
                route_handler: Arc::new(IgnoringMessageHandler {}),
                onion_message_handler: Arc::new(IgnoringMessageHandler {}),
                custom_message_handler: Arc::clone(&lsps),
                send_only_message_handler: Arc::clone(&chain_monitor),
            },
            now_secs as u32,
            &keys.get_secure_random_bytes(),
            Arc::clone(&logger),
            Arc::clone(&keys),
        ));

        let events = Arc::new(EventDispatcher {
            channel_manager: Arc::clone(&channel_manager),
            wallet: Arc::clone(&wallet),
            sweeper: Arc::clone(&sweeper),
            fee_estimator: Arc::clone(&fee_estimator),
            store: Arc::clone(&store),
            logger: Arc::clone(&logger),
            handler: Arc::clone(&self.event_handler),
            wallet_role: config.role == NodeRole::Wallet,
            acceptor: RwLock::new(match &self.channel_acceptor {
                Some(acceptor) => Arc::clone(acceptor),
                None => Arc::new(DefaultChannelAcceptor::from_config(&config)),
            }),
            manual_broadcast: Mutex::new(Default::default()),
        });
        let chain_monitor_consumer = Arc::new(ChainMonitorConsumer {
            monitor: Arc::clone(&chain_monitor),
            best: Mutex::new(channel_manager.current_best_block()),
        });
        let consumers: Vec<Arc<dyn ChainConsumer>> = vec![
            chain_monitor_consumer,
            Arc::new(manager_consumer),
            Arc::new(sweeper_consumer),
            Arc::clone(&wallet) as Arc<dyn ChainConsumer>,
        ];

        Ok(Node::assemble(crate::node::NodeParts {
            config,
            keys,
            logger,
            store,
            chain_source,
            broadcaster,
            broadcast_queue,
            fee_estimator,
            chain_monitor,
            channel_manager,
            peer_manager,
            lsps,
            wallet,
            sweeper,
            events,
            consumers,
        }))
    }
}

fn load_or_create_sweeper(
    store: &Arc<FilesystemStore>,
    best_block: BestBlock,
    broadcaster: &Arc<ChainBroadcaster>,
    fee_estimator: &Arc<ChainFeeEstimator>,
    keys: &Arc<KeysManager>,
    wallet: &Arc<OnchainWallet>,
    logger: &Arc<NodeLogger>,
) -> NodeResult<Sweeper> {
    match store.read(
        OUTPUT_SWEEPER_PERSISTENCE_PRIMARY_NAMESPACE,
        OUTPUT_SWEEPER_PERSISTENCE_SECONDARY_NAMESPACE,
        OUTPUT_SWEEPER_PERSISTENCE_KEY,
    ) {
        Ok(bytes) => {
            let args = (
                Arc::clone(broadcaster),
                Arc::clone(fee_estimator),
                None::<Arc<DynFilter>>,
                Arc::clone(keys),
                Arc::clone(wallet),
                Arc::clone(store),
                Arc::clone(logger),
            );
            let (_, sweeper) = <(BestBlock, Sweeper)>::read(&mut &bytes[..], args)
                .map_err(|e| NodeError::Persistence(format!("decoding the output sweeper: {e:?}")))?;
            Ok(sweeper)
        }
        Err(e) if e.kind() == lightning::io::ErrorKind::NotFound => Ok(Sweeper::new(
            best_block,
            Arc::clone(broadcaster),
            Arc::clone(fee_estimator),
            None,
            Arc::clone(keys),
            Arc::clone(wallet),
            Arc::clone(store),
            Arc::clone(logger),
        )),
        Err(e) => Err(NodeError::io("reading the output sweeper", e)),
    }
}

#[allow(unused)]
fn _assert_send_sync() {
    fn is_send_sync<T: Send + Sync>() {}
    is_send_sync::<crate::Node>();
}
