//! Concrete LDK type aliases used throughout the node (and exposed to the service layer through
//! the accessors on [`Node`](crate::Node)).

use std::sync::{Arc, RwLock};

use lightning::chain::Filter;
use lightning::ln::peer_handler::IgnoringMessageHandler;
use lightning::onion_message::messenger::DefaultMessageRouter;
use lightning::routing::gossip::NetworkGraph;
use lightning::routing::router::DefaultRouter;
use lightning::routing::scoring::{ProbabilisticScorer, ProbabilisticScoringFeeParameters};
use lightning::sign::{InMemorySigner, KeysManager};
use lightning::util::sweep::OutputSweeper;
use lightning_persister::fs_store::FilesystemStore;

use crate::chain::{ChainBroadcaster, ChainFeeEstimator};
use crate::logger::NodeLogger;
use crate::lsps0::Lsps0Transport;
use crate::net::PeerSocket;
use crate::wallet::OnchainWallet;

/// The chain filter type parameter (unused: the node feeds full blocks).
pub type DynFilter = dyn Filter + Send + Sync;
/// The network graph (empty unless gossip is added later).
pub type Graph = NetworkGraph<Arc<NodeLogger>>;
/// The payment scorer.
pub type Scorer = ProbabilisticScorer<Arc<Graph>, Arc<NodeLogger>>;
/// The payment router.
pub type Router = DefaultRouter<
    Arc<Graph>,
    Arc<NodeLogger>,
    Arc<KeysManager>,
    Arc<RwLock<Scorer>>,
    ProbabilisticScoringFeeParameters,
    Scorer,
>;
/// The onion message router.
pub type MessageRouter = DefaultMessageRouter<Arc<Graph>, Arc<NodeLogger>, Arc<KeysManager>>;
/// LDK's chain monitor, persisting monitors to the filesystem store.
pub type ChainMonitor = lightning::chain::chainmonitor::ChainMonitor<
    InMemorySigner,
    Arc<DynFilter>,
    Arc<ChainBroadcaster>,
    Arc<ChainFeeEstimator>,
    Arc<NodeLogger>,
    Arc<FilesystemStore>,
    Arc<KeysManager>,
>;
/// LDK's channel manager.
pub type ChannelManager = lightning::ln::channelmanager::ChannelManager<
    Arc<ChainMonitor>,
    Arc<ChainBroadcaster>,
    Arc<KeysManager>,
    Arc<KeysManager>,
    Arc<KeysManager>,
    Arc<ChainFeeEstimator>,
    Arc<Router>,
    Arc<MessageRouter>,
    Arc<NodeLogger>,
>;
/// LDK's peer manager with the LSPS0 transport as custom message handler.
pub type PeerManager = lightning::ln::peer_handler::PeerManager<
    PeerSocket,
    Arc<ChannelManager>,
    Arc<IgnoringMessageHandler>,
    Arc<IgnoringMessageHandler>,
    Arc<NodeLogger>,
    Arc<Lsps0Transport>,
    Arc<KeysManager>,
    Arc<ChainMonitor>,
>;
/// LDK's output sweeper, sweeping closed-channel outputs into the on-chain wallet.
pub type Sweeper = OutputSweeper<
    Arc<ChainBroadcaster>,
    Arc<OnchainWallet>,
    Arc<ChainFeeEstimator>,
    Arc<DynFilter>,
    Arc<FilesystemStore>,
    Arc<NodeLogger>,
    Arc<KeysManager>,
>;
