//! [`ChainConsumer`] adapters for the LDK objects that follow the chain.
//!
//! At start-up every persisted [`ChannelMonitor`] is caught up on its own
//! ([`MonitorCatchUp`]) before it is handed to the [`ChainMonitor`], exactly as LDK's
//! `lightning_block_sync::init::synchronize_listeners` does: monitors may have been persisted at
//! different heights than the channel manager. After that, one [`ChainMonitorConsumer`] feeds them
//! all together.

use std::sync::{Arc, Mutex};

use bitcoin::Block;
use lightning::chain::channelmonitor::ChannelMonitor;
use lightning::chain::{BestBlock, Confirm, Listen};
use lightning::sign::InMemorySigner;

use crate::chain::{ChainBroadcaster, ChainConsumer, ChainFeeEstimator};
use crate::logger::NodeLogger;
use crate::types::{ChainMonitor, ChannelManager, Sweeper};

/// The channel manager as a chain consumer.
pub(crate) struct ChannelManagerConsumer(pub(crate) Arc<ChannelManager>);

impl ChainConsumer for ChannelManagerConsumer {
    fn name(&self) -> &str {
        "channel manager"
    }
    fn best_block(&self) -> BestBlock {
        self.0.current_best_block()
    }
    fn block_connected(&self, block: &Block, height: u32) {
        self.0.block_connected(block, height);
    }
    fn blocks_disconnected(&self, fork_point: BestBlock) {
        self.0.blocks_disconnected(fork_point);
    }
    fn as_confirm(&self) -> Option<&(dyn Confirm + Send + Sync)> {
        Some(&*self.0)
    }
}

/// The chain monitor as a chain consumer. The chain monitor has no best block of its own, so we
/// track the last one we fed it.
pub(crate) struct ChainMonitorConsumer {
    pub(crate) monitor: Arc<ChainMonitor>,
    pub(crate) best: Mutex<BestBlock>,
}

impl ChainConsumer for ChainMonitorConsumer {
    fn name(&self) -> &str {
        "chain monitor"
    }
    fn best_block(&self) -> BestBlock {
        match self.best.lock() {
            Ok(best) => *best,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }
    fn block_connected(&self, block: &Block, height: u32) {
        self.monitor.block_connected(block, height);
        if let Ok(mut best) = self.best.lock() {
            *best = BestBlock::new(block.block_hash(), height);
        }
    }
    fn blocks_disconnected(&self, fork_point: BestBlock) {
        self.monitor.blocks_disconnected(fork_point);
        if let Ok(mut best) = self.best.lock() {
            *best = fork_point;
        }
    }
    fn as_confirm(&self) -> Option<&(dyn Confirm + Send + Sync)> {
        Some(&*self.monitor)
    }
}

/// The output sweeper as a chain consumer.
pub(crate) struct SweeperConsumer(pub(crate) Arc<Sweeper>);

impl ChainConsumer for SweeperConsumer {
    fn name(&self) -> &str {
        "output sweeper"
    }
    fn best_block(&self) -> BestBlock {
        self.0.current_best_block()
    }
    fn block_connected(&self, block: &Block, height: u32) {
        self.0.block_connected(block, height);
    }
    fn blocks_disconnected(&self, fork_point: BestBlock) {
        self.0.blocks_disconnected(fork_point);
    }
    fn as_confirm(&self) -> Option<&(dyn Confirm + Send + Sync)> {
        Some(&*self.0)
    }
}

/// One persisted monitor being caught up before it is loaded into the chain monitor.
pub(crate) struct MonitorCatchUp {
    pub(crate) listener:
        (ChannelMonitor<InMemorySigner>, Arc<ChainBroadcaster>, Arc<ChainFeeEstimator>, Arc<NodeLogger>),
}

impl ChainConsumer for MonitorCatchUp {
    fn name(&self) -> &str {
        "channel monitor"
    }
    fn best_block(&self) -> BestBlock {
        self.listener.0.current_best_block()
    }
    fn block_connected(&self, block: &Block, height: u32) {
        self.listener.block_connected(block, height);
    }
    fn blocks_disconnected(&self, fork_point: BestBlock) {
        self.listener.blocks_disconnected(fork_point);
    }
}
