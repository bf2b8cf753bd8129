//! Chain sources: where the node gets blocks, fee estimates and a way to broadcast.
//!
//! One trait, [`ChainSource`], feeds every chain consumer of a node — LDK's
//! [`ChainMonitor`](lightning::chain::chainmonitor::ChainMonitor) and
//! [`ChannelManager`](lightning::ln::channelmanager::ChannelManager), the
//! [`OutputSweeper`](lightning::util::sweep::OutputSweeper) and the on-chain wallet — and answers
//! fee and broadcast requests. The node wraps it in [`ChainFeeEstimator`] and
//! [`ChainBroadcaster`] so that LDK's synchronous [`FeeEstimator`] and [`BroadcasterInterface`]
//! are served from a cache and a queue.
//!
//! Implementations:
//! * [`BitcoindRpc`]: Bitcoin Core JSON-RPC that also works against bcoin 1.0.2 (raw header and
//!   block hex, fee fallback). It follows the tip block by block through [`sync_from_blocks`].
//! * [`SimChain`]: an in-process simulated chain for fast deterministic tests.
//! * [`EsploraClient`]: the Esplora HTTP API (electrs, mempool.space) as a block source:
//!   `/blocks/tip/hash`, `/block/:hash/header`, `/block/:hash/raw` map one-to-one onto
//!   [`BlockFetcher`], so it also follows the tip through [`sync_from_blocks`]. The alternative,
//!   a transaction source driving each consumer's [`ChainConsumer::as_confirm`] view plus a
//!   [`Filter`](lightning::chain::Filter) registration (what LDK's `lightning-transaction-sync`
//!   does), downloads less for a large LSP and is not implemented.

mod bitcoind;
mod esplora;
mod http;
mod sim;
mod sync;
#[cfg(test)]
mod test_server;

pub use bitcoind::{BitcoindRpc, BitcoindRpcConfig};
pub use esplora::{EsploraClient, EsploraConfig};
pub use sim::SimChain;
pub use sync::{sync_from_blocks, BlockFetcher};

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bitcoin::{Block, BlockHash, ScriptBuf, Transaction, Txid};
use lightning::chain::chaininterface::{
    BroadcasterInterface, ConfirmationTarget, FeeEstimator, FEERATE_FLOOR_SATS_PER_KW,
};
use lightning::chain::{BestBlock, Confirm};
use tokio::sync::mpsc;

/// Fallback fee rate when the source has no estimate: 253 sat per 1000 weight units, the
/// relay floor (about 1 sat/vB). bcoin 1.0.2 fails `estimatesmartfee` on regtest, so this is what
/// a bcoin-backed node uses.
pub const FALLBACK_FEE_RATE_SAT_PER_KWU: u32 = FEERATE_FLOOR_SATS_PER_KW;

/// A boxed future returned by [`ChainSource`] methods (keeps the trait object-safe).
pub type ChainFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ChainError>> + Send + 'a>>;

/// Errors from a chain source.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ChainError {
    /// Could not talk to the backend at all (connection refused, timeout, broken HTTP).
    #[error("transport: {0}")]
    Transport(String),
    /// The backend answered with a JSON-RPC error.
    #[error("rpc error {code}: {message}")]
    Rpc {
        /// The JSON-RPC error code.
        code: i64,
        /// The backend's message.
        message: String,
    },
    /// The backend answered with something we could not decode.
    #[error("invalid response: {0}")]
    InvalidResponse(String),
    /// The chain changed under us while syncing (a reorg or a new block mid-way); retry.
    #[error("chain changed during sync: {0}")]
    Inconsistent(String),
    /// A block the consumers know is unknown to the source (wrong network or pruned backend).
    #[error("block not found: {0}")]
    BlockNotFound(BlockHash),
    /// The backend rejected a broadcast transaction.
    #[error("broadcast rejected: {0}")]
    BroadcastRejected(String),
}

/// Something that follows the chain block by block: an LDK [`Listen`](lightning::chain::Listen)
/// implementor, the wallet or the sweeper, together with the block it has seen last.
///
/// The node builds one consumer per LDK object; a [`ChainSource`] never needs to know what they are.
pub trait ChainConsumer: Send + Sync {
    /// A short name for logs ("channel manager", "wallet", …).
    fn name(&self) -> &str;
    /// The last block this consumer has processed.
    fn best_block(&self) -> BestBlock;
    /// Processes a connected block. Blocks arrive in order; the parent of `block` is the consumer's
    /// current best block.
    fn block_connected(&self, block: &Block, height: u32);
    /// Rewinds to `fork_point` (the last block still in the best chain) before a reorg's new
    /// blocks are connected.
    fn blocks_disconnected(&self, fork_point: BestBlock);
    /// The transaction-oriented view of the same consumer, for sources such as Esplora or Electrum
    /// that do not serve whole blocks. `None` if the consumer only takes full blocks.
    fn as_confirm(&self) -> Option<&(dyn Confirm + Send + Sync)> {
        None
    }
}

/// A backend that provides chain data, fee estimates and transaction broadcasting.
///
/// The node calls [`ChainSource::sync`] every [`ChainSource::poll_interval`] (and whenever
/// [`Node::sync_chain`](crate::Node::sync_chain) is called), [`ChainSource::update_fee_estimates`]
/// about once a minute, and [`ChainSource::broadcast`] for every transaction LDK or the wallet
/// wants on chain. [`ChainSource::fee_rate_sat_per_kwu`] must answer from a cache, without I/O,
/// because LDK calls it synchronously while holding locks.
pub trait ChainSource: Send + Sync {
    /// The source's current best block. Used to place a brand-new node at the tip.
    fn best_block(&self) -> ChainFuture<'_, BestBlock>;

    /// Brings every consumer from its own [`ChainConsumer::best_block`] to the source's tip,
    /// handling reorgs, and returns the tip. Consumers may start at different heights (for example
    /// a monitor persisted earlier than the channel manager).
    fn sync<'a>(&'a self, consumers: &'a [&'a dyn ChainConsumer]) -> ChainFuture<'a, BestBlock>;

    /// Refreshes the cached fee estimates.
    fn update_fee_estimates(&self) -> ChainFuture<'_, ()>;

    /// The cached fee rate for `target`, in satoshis per 1000 weight units. Must not block.
    fn fee_rate_sat_per_kwu(&self, target: ConfirmationTarget) -> u32;

    /// Hands a transaction to the network. Returning an error is logged by the node; LDK will
    /// rebroadcast what it still needs.
    fn broadcast<'a>(&'a self, tx: &'a Transaction) -> ChainFuture<'a, ()>;

    /// How often the node polls [`ChainSource::sync`].
    fn poll_interval(&self) -> Duration {
        Duration::from_secs(crate::config::DEFAULT_CHAIN_POLL_INTERVAL_SECS)
    }

    /// Unconfirmed transactions in the source's mempool paying any of `scripts`, one entry per
    /// paying output. At most [`MAX_MEMPOOL_TXS_PER_POLL`] mempool transactions are examined per
    /// call (a larger mempool is read partially). The fee is `None` when the inputs' values
    /// cannot be learned. The default (a source without mempool access) sees nothing.
    fn mempool_payments<'a>(&'a self, scripts: &'a [ScriptBuf]) -> ChainFuture<'a, Vec<MempoolPayment>> {
        let _ = scripts;
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// Most mempool transactions one [`ChainSource::mempool_payments`] call examines.
pub const MAX_MEMPOOL_TXS_PER_POLL: usize = 2_000;

/// Most previous transactions fetched per call to learn input values (fees).
pub const MAX_PREVOUT_LOOKUPS_PER_POLL: usize = 200;

/// An unconfirmed output paying a watched script ([`ChainSource::mempool_payments`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MempoolPayment {
    /// The paying transaction.
    pub txid: Txid,
    /// The script paid.
    pub script_pubkey: ScriptBuf,
    /// The output's value.
    pub value_sat: u64,
    /// The transaction's fee (inputs − outputs), if every input's value is known.
    pub fee_sat: Option<u64>,
    /// The transaction's weight in weight units.
    pub weight_wu: u64,
}

impl MempoolPayment {
    /// The transaction's fee rate in sat per 1000 weight units, if its fee is known.
    pub fn fee_rate_sat_per_kwu(&self) -> Option<u64> {
        let fee = self.fee_sat?;
        fee.checked_mul(1000)?.checked_div(self.weight_wu)
    }
}

/// The fee of `tx` (inputs − outputs) from `input_value`, the value of each input's previous
/// output; `None` if one is unknown.
pub fn fee_of(tx: &Transaction, mut input_value: impl FnMut(&bitcoin::OutPoint) -> Option<u64>) -> Option<u64> {
    let mut inputs = 0u64;
    for input in &tx.input {
        inputs = inputs.checked_add(input_value(&input.previous_output)?)?;
    }
    let outputs = tx.output.iter().try_fold(0u64, |total, o| total.checked_add(o.value.to_sat()))?;
    inputs.checked_sub(outputs)
}

/// The payments of `tx` to `scripts`, with the transaction's fee.
pub(crate) fn payments_of(tx: &Transaction, scripts: &[ScriptBuf], fee_sat: Option<u64>) -> Vec<MempoolPayment> {
    let txid = tx.compute_txid();
    let weight_wu = tx.weight().to_wu();
    tx.output
        .iter()
        .filter(|o| scripts.contains(&o.script_pubkey))
        .map(|o| MempoolPayment {
            txid,
            script_pubkey: o.script_pubkey.clone(),
            value_sat: o.value.to_sat(),
            fee_sat,
            weight_wu,
        })
        .collect()
}

/// A fee-rate cache keyed by [`ConfirmationTarget`], shared by the implementations in this module.
#[derive(Debug, Default)]
pub(crate) struct FeeCache {
    rates: RwLock<HashMap<ConfirmationTarget, u32>>,
}

impl FeeCache {
    pub(crate) fn get(&self, target: ConfirmationTarget) -> u32 {
        let rates = match self.rates.read() {
            Ok(rates) => rates,
            Err(poisoned) => poisoned.into_inner(),
        };
        rates.get(&target).copied().unwrap_or(FALLBACK_FEE_RATE_SAT_PER_KWU)
    }

    pub(crate) fn set(&self, target: ConfirmationTarget, rate_sat_per_kwu: u32) {
        let mut rates = match self.rates.write() {
            Ok(rates) => rates,
            Err(poisoned) => poisoned.into_inner(),
        };
        rates.insert(target, rate_sat_per_kwu.max(FALLBACK_FEE_RATE_SAT_PER_KWU));
    }
}

/// All confirmation targets LDK 0.2 asks about, with the block target we ask the backend for.
pub(crate) const CONFIRMATION_TARGETS: [(ConfirmationTarget, u16); 8] = [
    (ConfirmationTarget::MaximumFeeEstimate, 1),
    (ConfirmationTarget::UrgentOnChainSweep, 6),
    (ConfirmationTarget::MinAllowedAnchorChannelRemoteFee, 1008),
    (ConfirmationTarget::MinAllowedNonAnchorChannelRemoteFee, 144),
    (ConfirmationTarget::AnchorChannelFee, 1008),
    (ConfirmationTarget::NonAnchorChannelFee, 12),
    (ConfirmationTarget::ChannelCloseMinimum, 144),
    (ConfirmationTarget::OutputSpendingFee, 12),
];

/// LDK [`FeeEstimator`] backed by a [`ChainSource`]'s cache, never below the 253 sat/kWU floor.
pub struct ChainFeeEstimator {
    source: Arc<dyn ChainSource>,
}

impl ChainFeeEstimator {
    /// Wraps `source`.
    pub fn new(source: Arc<dyn ChainSource>) -> Self {
        Self { source }
    }
}

impl FeeEstimator for ChainFeeEstimator {
    fn get_est_sat_per_1000_weight(&self, target: ConfirmationTarget) -> u32 {
        self.source.fee_rate_sat_per_kwu(target).max(FEERATE_FLOOR_SATS_PER_KW)
    }
}

/// LDK [`BroadcasterInterface`] that queues transactions for the node's broadcast task, which
/// hands them to [`ChainSource::broadcast`] asynchronously (LDK calls the broadcaster while
/// holding locks, so it must not do I/O inline).
pub struct ChainBroadcaster {
    queue: mpsc::UnboundedSender<Transaction>,
}

impl ChainBroadcaster {
    /// Creates the broadcaster and the receiving end the node's broadcast task drains.
    pub fn new() -> (Self, mpsc::UnboundedReceiver<Transaction>) {
        let (queue, receiver) = mpsc::unbounded_channel();
        (Self { queue }, receiver)
    }
}

impl BroadcasterInterface for ChainBroadcaster {
    fn broadcast_transactions(&self, txs: &[&Transaction]) {
        for tx in txs {
            // The receiver only goes away when the node is dropped; nothing to do then.
            let _ = self.queue.send((*tx).clone());
        }
    }
}
