//! [`Node`]: the running Lightning node and the API the service layer uses.
//!
//! Background tasks started by [`Node::start`], all stopped by [`Node::stop`]:
//! * LDK's background processor (`process_events_async`): event handling through the node's
//!   single [`EventDispatcher`], channel-manager persistence, timer ticks, HTLC forwarding,
//!   output sweeping;
//! * the chain poller ([`ChainSource::sync`] every [`ChainSource::poll_interval`]) and fee refresher;
//! * the broadcast task (LDK's synchronous broadcaster → [`ChainSource::broadcast`]);
//! * the peer listener, the reconnect loop, and the LSPS0 waker that flushes queued messages.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bitcoin::secp256k1::PublicKey;
use bitcoin::{Address, Transaction, Txid};
use lightning::chain::BestBlock;
use lightning::ln::channel_state::ChannelDetails;

use lightning::ln::types::ChannelId;
use lightning::sign::KeysManager;
use lightning::util::config::UserConfig;
use lightning::util::logger::Level;

use lightning_persister::fs_store::FilesystemStore;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinError, JoinHandle};

use crate::chain::{ChainBroadcaster, ChainConsumer, ChainFeeEstimator, ChainSource};
use crate::config::Config;
use crate::error::{NodeError, NodeResult};
use crate::events::{ChannelAcceptor, EventDispatcher, FundingBroadcast};
use crate::logger::NodeLogger;
use crate::lsps0::{Lsps0Transport, LspsSendError};
use crate::peers;
use crate::supervise::{ended_early, supervise, Failures};
use crate::types::{ChainMonitor, ChannelManager, PeerManager, Sweeper};
use crate::wallet::{OnchainWallet, ScriptReceipt, WalletBalance};

/// Everything the builder hands over.
pub(crate) struct NodeParts {
    pub(crate) config: Config,
    pub(crate) keys: Arc<KeysManager>,
    pub(crate) logger: Arc<NodeLogger>,
    pub(crate) store: Arc<FilesystemStore>,
    pub(crate) chain_source: Arc<dyn ChainSource>,
    pub(crate) broadcaster: Arc<ChainBroadcaster>,
    pub(crate) broadcast_queue: mpsc::UnboundedReceiver<Transaction>,
    pub(crate) fee_estimator: Arc<ChainFeeEstimator>,
    pub(crate) chain_monitor: Arc<ChainMonitor>,
    pub(crate) channel_manager: Arc<ChannelManager>,
    pub(crate) peer_manager: Arc<PeerManager>,
    pub(crate) lsps: Arc<Lsps0Transport>,
    pub(crate) wallet: Arc<OnchainWallet>,
    pub(crate) sweeper: Arc<Sweeper>,
    pub(crate) events: Arc<EventDispatcher>,
    pub(crate) consumers: Vec<Arc<dyn ChainConsumer>>,
}

struct Running {
    /// Stops the listener, reconnect loop, chain polling and other helper tasks.
    stop: watch::Sender<bool>,
    /// Stops the background processor, which persists the channel manager on its way out. It
    /// is signalled last, after peers are disconnected, so that no message handled after the
    /// final persist can leave a channel monitor ahead of the persisted channel manager.
    stop_background_processor: watch::Sender<bool>,
    background_processor: JoinHandle<Result<Result<(), lightning::io::Error>, JoinError>>,
    tasks: Vec<JoinHandle<Result<(), JoinError>>>,
    listening_address: Option<SocketAddr>,
}

/// A Lightning node on LDK 0.2. Build it with [`NodeBuilder`](crate::NodeBuilder).
pub struct Node {
    pub(crate) parts: NodeParts,
    broadcast_queue: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Transaction>>>,
    sync_lock: Arc<tokio::sync::Mutex<()>>,
    running: Mutex<Option<Running>>,
    failures: Failures,
}

impl Node {
    pub(crate) fn assemble(mut parts: NodeParts) -> Self {
        // The receiver moves into a shareable mutex so that start/stop/start works.
        let (_, placeholder) = mpsc::unbounded_channel();
        let queue = std::mem::replace(&mut parts.broadcast_queue, placeholder);
        Self {
            parts,
            broadcast_queue: Arc::new(tokio::sync::Mutex::new(queue)),
            sync_lock: Arc::new(tokio::sync::Mutex::new(())),
            running: Mutex::new(None),
            failures: Failures::new(),
        }
    }

    fn lock_running(&self) -> MutexGuard<'_, Option<Running>> {
        match self.running.lock() {
            Ok(running) => running,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Starts listening, event processing, chain polling and reconnecting. Must run inside a
    /// multi-threaded tokio runtime.
    ///
    /// # Errors
    /// [`NodeError::State`] if already running; [`NodeError::Io`] if the listening address
    /// cannot be bound.
    pub async fn start(&self) -> NodeResult<()> {
        if self.lock_running().is_some() {
            return Err(NodeError::State("already running"));
        }
        let parts = &self.parts;
        let (stop, stop_rx) = watch::channel(false);
        let (stop_background_processor, background_processor_stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        self.failures.clear();
        let watched = |name: &'static str, task: JoinHandle<()>| {
            supervise(name, task, ended_early, self.failures.clone(), stop_rx.clone(), Arc::clone(&parts.logger))
        };

        let mut listening_address = None;
        if let Some(address) = parts.config.listen_address {
            let listener =
                TcpListener::bind(address).await.map_err(|e| NodeError::io(format!("binding {address}"), e))?;
            listening_address = Some(listener.local_addr().map_err(|e| NodeError::io("local address", e))?);
            tasks.push(watched(
                "accept loop",
                tokio::spawn(peers::accept_loop(
                    listener,
                    Arc::clone(&parts.peer_manager),
                    stop_rx.clone(),
                    Arc::clone(&parts.logger),
                )),
            ));
        }

        let background_processor =
            crate::processor::spawn_background_processor(parts, background_processor_stop_rx, self.failures.clone());

        tasks.push(watched(
            "chain poll loop",
            tokio::spawn(chain_poll_loop(
                Arc::clone(&parts.chain_source),
                parts.consumers.clone(),
                Arc::clone(&self.sync_lock),
                stop_rx.clone(),
                Arc::clone(&parts.logger),
            )),
        ));
        tasks.push(watched(
            "fee update loop",
            tokio::spawn(fee_update_loop(
                Arc::clone(&parts.chain_source),
                Duration::from_secs(parts.config.fee_update_interval_secs.max(1)),
                stop_rx.clone(),
                Arc::clone(&parts.logger),
            )),
        ));
        tasks.push(watched(
            "broadcast loop",
            tokio::spawn(broadcast_loop(
                Arc::clone(&parts.chain_source),
                Arc::clone(&self.broadcast_queue),
                stop_rx.clone(),
                Arc::clone(&parts.logger),
            )),
        ));
        tasks.push(watched(
            "reconnect loop",
            tokio::spawn(peers::reconnect_loop(
                Arc::clone(&parts.peer_manager),
                Arc::clone(&parts.channel_manager),
                Arc::clone(&parts.store),
                Duration::from_secs(parts.config.reconnect_interval_secs.max(1)),
                stop_rx.clone(),
                Arc::clone(&parts.logger),
            )),
        ));
        if let Some(poll_ms) = parts.config.htlc_forward_poll_ms {
            tasks.push(watched(
                "htlc forward loop",
                tokio::spawn(htlc_forward_loop(
                    Arc::clone(&parts.channel_manager),
                    Arc::clone(&parts.peer_manager),
                    Duration::from_millis(poll_ms.max(1)),
                    stop_rx.clone(),
                )),
            ));
        }
        let waker =
            tokio::spawn(lsps_waker_loop(Arc::clone(&parts.peer_manager), Arc::clone(&parts.lsps), stop_rx.clone()));
        tasks.push(watched("LSPS waker", waker));

        *self.lock_running() =
            Some(Running { stop, stop_background_processor, background_processor, tasks, listening_address });
        parts
            .logger
            .log_line(Level::Info, &format!("node {} started, listening on {listening_address:?}", self.node_id()));
        Ok(())
    }

    /// Stops gracefully, in an order that keeps the persisted channel manager in step with its
    /// monitors: the helper tasks end (no new connections), then all peers are disconnected,
    /// then the background processor persists the channel manager on its way out. The node can
    /// be started again, or dropped and rebuilt from the same data directory.
    pub async fn stop(&self) -> NodeResult<()> {
        let running = self.lock_running().take().ok_or(NodeError::State("not running"))?;
        // 1. No new connections: the listener and the reconnect loop end first.
        let _ = running.stop.send(true);
        for task in running.tasks {
            let _ = task.await;
        }
        // 2. Disconnect everyone. This waits for messages being handled to finish, so every
        //    channel monitor update they cause happens before the final persist below.
        self.parts.peer_manager.disconnect_all_peers();
        // 3. The background processor persists the channel manager on its way out.
        let _ = running.stop_background_processor.send(true);
        match running.background_processor.await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(NodeError::io("persisting on shutdown", e)),
            Ok(Err(e)) | Err(e) => Err(NodeError::Persistence(format!("background processor panicked: {e}"))),
        }
    }

    /// Why a background task of this run ended on its own (LDK's background processor after a
    /// failed persist, a helper loop that panicked), if one did. The node is unsafe to keep
    /// running then: stop it and exit.
    pub fn failure(&self) -> Option<String> {
        self.failures.current()
    }

    /// Waits until [`failure`](Self::failure) is set and returns it. A daemon selects on it next
    /// to its shutdown signals.
    pub async fn wait_for_failure(&self) -> String {
        self.failures.wait().await
    }

    /// Whether [`Node::start`] has been called without a matching [`Node::stop`].
    pub fn is_running(&self) -> bool {
        self.lock_running().is_some()
    }

    /// Our node id (derived from the seed; stable across restarts).
    pub fn node_id(&self) -> PublicKey {
        self.parts.channel_manager.get_our_node_id()
    }

    /// The configuration the node was built with.
    pub fn config(&self) -> &Config {
        &self.parts.config
    }

    /// The address actually bound (useful with port 0), while running.
    pub fn listening_address(&self) -> Option<SocketAddr> {
        self.lock_running().as_ref().and_then(|running| running.listening_address)
    }

    /// LDK's channel manager, for `create_channel`, `forward_intercepted_htlc`,
    /// `fail_intercepted_htlc`, `get_intercept_scid`, `claim_funds` and the rest.
    pub fn channel_manager(&self) -> &Arc<ChannelManager> {
        &self.parts.channel_manager
    }

    /// LDK's chain monitor.
    pub fn chain_monitor(&self) -> &Arc<ChainMonitor> {
        &self.parts.chain_monitor
    }

    /// LDK's peer manager.
    pub fn peer_manager(&self) -> &Arc<PeerManager> {
        &self.parts.peer_manager
    }

    /// The keys manager (node signer, entropy source).
    pub fn keys_manager(&self) -> &Arc<KeysManager> {
        &self.parts.keys
    }

    /// The on-chain wallet.
    pub fn wallet(&self) -> &Arc<OnchainWallet> {
        &self.parts.wallet
    }

    /// LDK's output sweeper.
    pub fn sweeper(&self) -> &Arc<Sweeper> {
        &self.parts.sweeper
    }

    /// LDK's fee estimator over the chain source's cache.
    pub fn fee_estimator(&self) -> &Arc<ChainFeeEstimator> {
        &self.parts.fee_estimator
    }

    /// The chain source.
    pub fn chain_source(&self) -> &Arc<dyn ChainSource> {
        &self.parts.chain_source
    }

    /// The LSPS0 transport (queue state, peers' bit-729 flags).
    pub fn lsps_transport(&self) -> &Arc<Lsps0Transport> {
        &self.parts.lsps
    }

    /// Brings all chain consumers to the chain source's tip now (the poller does this
    /// periodically anyway). Returns the tip.
    pub async fn sync_chain(&self) -> NodeResult<BestBlock> {
        let _guard = self.sync_lock.lock().await;
        let consumers: Vec<&dyn ChainConsumer> = self.parts.consumers.iter().map(|c| &**c).collect();
        Ok(self.parts.chain_source.sync(&consumers).await?)
    }

    /// Connects to `peer` at `address` and waits for the `init` exchange. With `persist`, the
    /// address is remembered and the reconnect loop keeps the connection up while we share a channel.
    pub async fn connect_peer(&self, peer: PublicKey, address: SocketAddr, persist: bool) -> NodeResult<()> {
        peers::connect_peer(&self.parts.peer_manager, &self.parts.store, peer, address, persist).await
    }

    /// A `'static` future that resolves `address` (`host:port`), picks the first of its IPs
    /// that `allow` accepts, connects to `peer` there (not remembered for reconnection) and
    /// resolves once the TCP connection is made, the handshake going on in its own task: for
    /// connecting from spawned tasks to addresses given by others.
    pub fn connect_peer_detached(
        &self,
        peer: PublicKey,
        address: String,
        allow: fn(std::net::IpAddr) -> bool,
    ) -> impl std::future::Future<Output = NodeResult<()>> + Send + 'static {
        let peer_manager = Arc::clone(&self.parts.peer_manager);
        async move {
            if peer_manager.peer_by_node_id(&peer).is_some() {
                return Ok(());
            }
            let resolved = tokio::net::lookup_host(address.as_str())
                .await
                .map_err(|e| NodeError::Connection(format!("resolving {address}: {e}")))?;
            let socket = resolved
                .into_iter()
                .find(|socket| allow(socket.ip()))
                .ok_or_else(|| NodeError::Connection(format!("{address} resolves to no allowed IP")))?;
            crate::net::connect_outbound(peer_manager, peer, socket).await?;
            Ok(())
        }
    }

    /// Disconnects `peer` (it stays in the address book).
    pub fn disconnect_peer(&self, peer: PublicKey) {
        self.parts.peer_manager.disconnect_by_node_id(peer);
    }

    /// Node ids of connected peers.
    pub fn connected_peers(&self) -> Vec<PublicKey> {
        self.parts.peer_manager.list_peers().into_iter().map(|peer| peer.counterparty_node_id).collect()
    }

    /// Queues an LSPS0 (type 37913) message with a raw `payload` for `peer` and wakes the
    /// PeerManager. See [`Lsps0Transport::send`] for the limits.
    pub fn send_lsps_message(&self, peer: PublicKey, payload: Vec<u8>) -> Result<(), LspsSendError> {
        self.parts.lsps.send(peer, payload)
    }

    /// Opens a channel funded by our wallet. The wallet builds the funding transaction when LDK
    /// emits `FundingGenerationReady`; with [`FundingBroadcast::Manual`] it is held back until
    /// [`Node::broadcast_manual_funding`]. Progress is reported by `ChannelPending` /
    /// `ChannelReady` (or `ChannelClosed`) events carrying `user_channel_id`.
    pub fn open_channel(
        &self,
        peer: PublicKey,
        channel_amount_sat: u64,
        push_msat: u64,
        user_channel_id: u128,
        funding_broadcast: FundingBroadcast,
        override_config: Option<UserConfig>,
    ) -> NodeResult<ChannelId> {
        if funding_broadcast == FundingBroadcast::Manual {
            self.parts.events.expect_manual_broadcast(user_channel_id);
        }
        self.parts
            .channel_manager
            .create_channel(peer, channel_amount_sat, push_msat, user_channel_id, None, override_config)
            .map_err(|e| NodeError::Ldk(format!("{e:?}")))
    }

    /// Replaces the decider for inbound channels (wallet role), for example with an LSPS2
    /// client's acceptor once it exists. Applies to requests handled from now on.
    pub fn set_channel_acceptor(&self, acceptor: Arc<dyn ChannelAcceptor>) {
        self.parts.events.set_channel_acceptor(acceptor);
    }

    /// The held-back funding transaction of a [`FundingBroadcast::Manual`] channel, once funded.
    pub fn manual_funding_transaction(&self, user_channel_id: u128) -> Option<Transaction> {
        self.parts.events.manual_funding_transaction(user_channel_id)
    }

    /// Broadcasts the held-back funding transaction of a [`FundingBroadcast::Manual`] channel
    /// (call after `FundingTxBroadcastSafe` and when the service's trust model allows, LSPS2 §4.9).
    pub fn broadcast_manual_funding(&self, user_channel_id: u128) -> NodeResult<Txid> {
        let tx = self
            .manual_funding_transaction(user_channel_id)
            .ok_or_else(|| NodeError::Wallet(format!("no funding transaction held for {user_channel_id}")))?;
        self.broadcast_transaction(&tx);
        Ok(tx.compute_txid())
    }

    /// Closes the channel `channel_id` with `peer`: cooperatively, or with `force` by
    /// broadcasting our latest commitment (held back by LDK while a manual-broadcast funding
    /// was never seen on chain).
    pub fn close_channel(&self, channel_id: &ChannelId, peer: PublicKey, force: bool) -> NodeResult<()> {
        let manager = &self.parts.channel_manager;
        let result = if force {
            manager.force_close_broadcasting_latest_txn(channel_id, &peer, "closed by the service".to_string())
        } else {
            manager.close_channel(channel_id, &peer)
        };
        result.map_err(|e| NodeError::Ldk(format!("closing {channel_id}: {e:?}")))
    }

    /// Gives up a [`FundingBroadcast::Manual`] channel whose funding transaction was never
    /// broadcast: force-closes the channel if it still exists (nothing reaches the chain, as
    /// LDK holds commitment broadcasts until the funding is seen) and releases the funding
    /// transaction's inputs in the wallet. Idempotent; a channel without a held funding
    /// transaction is only closed.
    pub fn abandon_manual_funding(&self, user_channel_id: u128) -> NodeResult<()> {
        for channel in self.list_channels().into_iter().filter(|c| c.user_channel_id == user_channel_id) {
            self.close_channel(&channel.channel_id, channel.counterparty.node_id, true)?;
        }
        if let Some(tx) = self.manual_funding_transaction(user_channel_id) {
            self.parts.wallet.forget_unbroadcast_transaction(tx.compute_txid())?;
        }
        Ok(())
    }

    /// Queues `tx` for the chain source's broadcast.
    pub fn broadcast_transaction(&self, tx: &Transaction) {
        use lightning::chain::chaininterface::BroadcasterInterface;
        self.parts.broadcaster.broadcast_transactions(&[tx]);
    }

    /// All channels, as LDK reports them.
    pub fn list_channels(&self) -> Vec<ChannelDetails> {
        self.parts.channel_manager.list_channels()
    }

    /// A fresh receive address of the on-chain wallet.
    pub fn new_onchain_address(&self) -> NodeResult<Address> {
        self.parts.wallet.new_address()
    }

    /// The on-chain wallet's balances.
    pub fn onchain_balance(&self) -> WalletBalance {
        self.parts.wallet.balance()
    }

    /// The height of the best block the wallet has processed.
    pub fn best_block_height(&self) -> u32 {
        self.parts.wallet.best_block().height
    }

    /// [`Node::new_onchain_address`]); see [`OnchainWallet::received_to`].
    pub fn received_to_address(&self, address: &Address) -> ScriptReceipt {
        self.parts.wallet.received_to(&address.script_pubkey())
    }
}

async fn chain_poll_loop(
    source: Arc<dyn ChainSource>,
    consumers: Vec<Arc<dyn ChainConsumer>>,
    sync_lock: Arc<tokio::sync::Mutex<()>>,
    mut stop: watch::Receiver<bool>,
    logger: Arc<NodeLogger>,
) {
    let interval = source.poll_interval();
    loop {
        {
            let _guard = sync_lock.lock().await;
            let borrowed: Vec<&dyn ChainConsumer> = consumers.iter().map(|c| &**c).collect();
            if let Err(e) = source.sync(&borrowed).await {
                logger.log_line(Level::Warn, &format!("chain sync: {e}"));
            }
        }
        tokio::select! {
            _ = crate::peers::stopped(&mut stop) => return,
            _ = tokio::time::sleep(interval) => {},
        }
    }
}

async fn fee_update_loop(
    source: Arc<dyn ChainSource>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
    logger: Arc<NodeLogger>,
) {
    loop {
        tokio::select! {
            _ = crate::peers::stopped(&mut stop) => return,
            _ = tokio::time::sleep(interval) => {},
        }
        if let Err(e) = source.update_fee_estimates().await {
            logger.log_line(Level::Warn, &format!("fee estimates: {e}"));
        }
    }
}

async fn broadcast_loop(
    source: Arc<dyn ChainSource>,
    queue: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Transaction>>>,
    mut stop: watch::Receiver<bool>,
    logger: Arc<NodeLogger>,
) {
    let mut queue = queue.lock().await;
    loop {
        let tx = tokio::select! {
            _ = crate::peers::stopped(&mut stop) => return,
            tx = queue.recv() => match tx { Some(tx) => tx, None => return },
        };
        match source.broadcast(&tx).await {
            Ok(()) => logger.log_line(Level::Debug, &format!("broadcast {}", tx.compute_txid())),
            Err(e) => logger.log_line(Level::Warn, &format!("broadcast of {} failed: {e}", tx.compute_txid())),
        }
    }
}

/// How long after start the HTLC forwarding poll waits, like LDK's background processor, so
/// that peers can reconnect before the first HTLCs are forwarded.
const HTLC_FORWARD_START_DELAY: Duration = Duration::from_secs(2);

/// Processes pending HTLCs every `period` when there are any, instead of waiting for the
/// background processor's randomized batch delay ([`Config::htlc_forward_poll_ms`]), and sends
/// the resulting messages at once.
async fn htlc_forward_loop(
    channel_manager: Arc<ChannelManager>,
    peer_manager: Arc<PeerManager>,
    period: Duration,
    mut stop: watch::Receiver<bool>,
) {
    tokio::select! {
        _ = crate::peers::stopped(&mut stop) => return,
        _ = tokio::time::sleep(HTLC_FORWARD_START_DELAY) => {},
    }
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = crate::peers::stopped(&mut stop) => return,
            _ = interval.tick() => {},
        }
        if channel_manager.needs_pending_htlc_processing() {
            channel_manager.process_pending_htlc_forwards();
            peer_manager.process_events();
        }
    }
}

async fn lsps_waker_loop(peer_manager: Arc<PeerManager>, lsps: Arc<Lsps0Transport>, mut stop: watch::Receiver<bool>) {
    let wake = lsps.wake_signal();
    loop {
        tokio::select! {
            _ = crate::peers::stopped(&mut stop) => return,
            _ = wake.notified() => peer_manager.process_events(),
        }
    }
}
