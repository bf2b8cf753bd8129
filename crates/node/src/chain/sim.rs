//! [`SimChain`]: an in-process simulated chain for fast, deterministic tests.
//!
//! Blocks are built in memory (a coinbase plus the mempool plus any given transactions, a correct
//! merkle root, regtest difficulty bits, no proof of work) and served through the same
//! [`sync_from_blocks`](super::sync_from_blocks) path as a real backend, so nodes on a `SimChain`
//! exercise exactly the code that follows bitcoind. Several nodes can share one `SimChain`: every
//! node's broadcasts land in the shared mempool, and every node sees every mined block on its next
//! poll (every [`SIM_POLL_INTERVAL`], or at once with
//! [`Node::sync_chain`](crate::Node::sync_chain)).
//!
//! Transactions are **not validated** (no script, amount or double-spend checks): LDK only needs a
//! funding transaction whose inputs carry a witness, and the tests want to create coins out of
//! thin air with [`SimChain::send_to`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bitcoin::absolute::LockTime;
use bitcoin::block::{Header, Version as BlockVersion};
use bitcoin::hashes::{sha256, Hash};
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, Block, BlockHash, CompactTarget, Network, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxMerkleNode,
    TxOut, Txid, Witness,
};
use lightning::chain::chaininterface::ConfirmationTarget;
use lightning::chain::BestBlock;

use super::sync::{sync_from_blocks, BlockFetcher};
use super::MAX_MEMPOOL_TXS_PER_POLL;
use super::{fee_of, payments_of, ChainConsumer, ChainError, ChainFuture, ChainSource, FeeCache, MempoolPayment};

/// How often nodes on a [`SimChain`] poll it.
pub const SIM_POLL_INTERVAL: Duration = Duration::from_millis(20);

#[derive(Default)]
struct SimState {
    /// Every block ever mined, stale ones included, with its height.
    blocks: HashMap<BlockHash, (Block, u32)>,
    /// The best chain, genesis first.
    best_chain: Vec<BlockHash>,
    mempool: Vec<Transaction>,
    /// Makes every coinbase and every fake input unique.
    counter: u64,
}

/// An in-memory regtest chain. Cheap to clone through `Arc`; all methods take `&self`.
pub struct SimChain {
    state: Mutex<SimState>,
    fees: FeeCache,
}

impl SimChain {
    /// Creates a chain holding only the regtest genesis block.
    pub fn new() -> Arc<Self> {
        let genesis = bitcoin::constants::genesis_block(Network::Regtest);
        let hash = genesis.block_hash();
        let mut state = SimState::default();
        state.blocks.insert(hash, (genesis, 0));
        state.best_chain.push(hash);
        Arc::new(Self { state: Mutex::new(state), fees: FeeCache::default() })
    }

    fn lock(&self) -> MutexGuard<'_, SimState> {
        match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The current best block.
    pub fn tip(&self) -> BestBlock {
        let state = self.lock();
        let height = state.best_chain.len() as u32 - 1;
        BestBlock::new(state.best_chain[height as usize], height)
    }

    /// Mines one block containing `txs` followed by everything in the mempool, and returns the new tip.
    pub fn mine_block_with(&self, txs: Vec<Transaction>) -> BestBlock {
        let mut state = self.lock();
        let mempool = std::mem::take(&mut state.mempool);
        Self::mine_locked(&mut state, txs.into_iter().chain(mempool).collect())
    }

    /// Mines `count` blocks (the first one takes the mempool) and returns the new tip.
    pub fn mine_blocks(&self, count: u32) -> BestBlock {
        let mut tip = self.tip();
        for _ in 0..count {
            tip = self.mine_block_with(Vec::new());
        }
        tip
    }

    /// Puts a transaction paying `amount_sat` to `script_pubkey` into the mempool and returns its
    /// txid. Its single input spends a made-up outpoint and carries a dummy witness, which is all
    /// LDK checks of a funding transaction's ancestors. Use it to fund wallets in tests.
    pub fn send_to(&self, script_pubkey: ScriptBuf, amount_sat: u64) -> Txid {
        let mut state = self.lock();
        state.counter += 1;
        let fake_parent = sha256::Hash::hash(&state.counter.to_be_bytes()).to_byte_array();
        let tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint { txid: Txid::from_byte_array(fake_parent), vout: 0 },
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                witness: Witness::from_slice(&[vec![0u8; 72], vec![2u8; 33]]),
            }],
            output: vec![TxOut { value: Amount::from_sat(amount_sat), script_pubkey }],
        };
        let txid = tx.compute_txid();
        state.mempool.push(tx);
        txid
    }

    /// A copy of the mempool.
    pub fn mempool(&self) -> Vec<Transaction> {
        self.lock().mempool.clone()
    }

    /// Waits until a mempool transaction satisfies `predicate`, or `timeout` passes. Returns the
    /// transaction. Meant for tests: broadcasts travel through the node's broadcast task, so they
    /// reach the mempool shortly after LDK hands them over.
    pub async fn wait_for_mempool_tx(
        &self,
        timeout: Duration,
        predicate: impl Fn(&Transaction) -> bool,
    ) -> Option<Transaction> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(tx) = self.lock().mempool.iter().find(|tx| predicate(tx)) {
                return Some(tx.clone());
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Replaces the top `depth` blocks with `depth + 1` new empty ones; the transactions of the
    /// removed blocks go back to the mempool (and are therefore mined again in the first new block).
    /// Returns the new tip.
    pub fn reorg(&self, depth: u32) -> BestBlock {
        let mut state = self.lock();
        let keep = state.best_chain.len().saturating_sub(depth as usize).max(1);
        let removed: Vec<BlockHash> = state.best_chain.drain(keep..).collect();
        let mut returned = Vec::new();
        for hash in removed {
            if let Some((block, _)) = state.blocks.get(&hash) {
                returned.extend(block.txdata.iter().skip(1).cloned());
            }
        }
        let mempool = std::mem::take(&mut state.mempool);
        let mut tip = Self::mine_locked(&mut state, returned.into_iter().chain(mempool).collect());
        for _ in 0..depth {
            tip = Self::mine_locked(&mut state, Vec::new());
        }
        tip
    }

    /// Sets the fee rate every confirmation target reports.
    pub fn set_fee_rate_sat_per_kwu(&self, rate_sat_per_kwu: u32) {
        for (target, _) in super::CONFIRMATION_TARGETS {
            self.fees.set(target, rate_sat_per_kwu);
        }
    }

    fn mine_locked(state: &mut SimState, txs: Vec<Transaction>) -> BestBlock {
        let mut seen = std::collections::HashSet::new();
        let txs: Vec<Transaction> = txs.into_iter().filter(|tx| seen.insert(tx.compute_txid())).collect();
        let prev_hash = *state.best_chain.last().unwrap_or(&BlockHash::all_zeros());
        let height = state.best_chain.len() as u32;
        state.counter += 1;
        let coinbase = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::null(),
                script_sig: bitcoin::script::Builder::new()
                    .push_int(height as i64)
                    .push_int((state.counter % (i32::MAX as u64)) as i64)
                    .into_script(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: vec![TxOut { value: Amount::from_sat(50_0000_0000), script_pubkey: ScriptBuf::new() }],
        };
        let prev_time = state.blocks.get(&prev_hash).map(|(block, _)| block.header.time).unwrap_or(0);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as u32;
        let mut block = Block {
            header: Header {
                version: BlockVersion::TWO,
                prev_blockhash: prev_hash,
                merkle_root: TxMerkleNode::all_zeros(),
                time: now.max(prev_time + 1),
                bits: CompactTarget::from_consensus(0x207fffff),
                nonce: 0,
            },
            txdata: std::iter::once(coinbase).chain(txs).collect(),
        };
        if let Some(root) = block.compute_merkle_root() {
            block.header.merkle_root = root;
        }
        let hash = block.block_hash();
        state.blocks.insert(hash, (block, height));
        state.best_chain.push(hash);
        BestBlock::new(hash, height)
    }
}

impl BlockFetcher for SimChain {
    fn tip(&self) -> ChainFuture<'_, BestBlock> {
        let tip = SimChain::tip(self);
        Box::pin(async move { Ok(tip) })
    }

    fn block_hash_at(&self, height: u32) -> ChainFuture<'_, Option<BlockHash>> {
        let hash = self.lock().best_chain.get(height as usize).copied();
        Box::pin(async move { Ok(hash) })
    }

    fn header<'a>(&'a self, hash: &'a BlockHash) -> ChainFuture<'a, Header> {
        let header = self.lock().blocks.get(hash).map(|(block, _)| block.header);
        Box::pin(async move { header.ok_or(ChainError::BlockNotFound(*hash)) })
    }

    fn block<'a>(&'a self, hash: &'a BlockHash) -> ChainFuture<'a, Block> {
        let block = self.lock().blocks.get(hash).map(|(block, _)| block.clone());
        Box::pin(async move { block.ok_or(ChainError::BlockNotFound(*hash)) })
    }
}

impl ChainSource for SimChain {
    fn best_block(&self) -> ChainFuture<'_, BestBlock> {
        BlockFetcher::tip(self)
    }

    fn sync<'a>(&'a self, consumers: &'a [&'a dyn ChainConsumer]) -> ChainFuture<'a, BestBlock> {
        Box::pin(sync_from_blocks(self, consumers))
    }

    fn update_fee_estimates(&self) -> ChainFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn fee_rate_sat_per_kwu(&self, target: ConfirmationTarget) -> u32 {
        self.fees.get(target)
    }

    fn broadcast<'a>(&'a self, tx: &'a Transaction) -> ChainFuture<'a, ()> {
        let txid = tx.compute_txid();
        let mut state = self.lock();
        let confirmed = state.best_chain.iter().any(|hash| {
            state
                .blocks
                .get(hash)
                .is_some_and(|(block, _)| block.txdata.iter().any(|confirmed_tx| confirmed_tx.compute_txid() == txid))
        });
        if !confirmed && !state.mempool.iter().any(|pending| pending.compute_txid() == txid) {
            state.mempool.push(tx.clone());
        }
        Box::pin(async { Ok(()) })
    }

    fn poll_interval(&self) -> Duration {
        SIM_POLL_INTERVAL
    }

    /// Input values come from the mempool and the best chain; the made-up inputs of
    /// [`SimChain::send_to`] have none, so such a payment's fee is unknown.
    fn mempool_payments<'a>(&'a self, scripts: &'a [ScriptBuf]) -> ChainFuture<'a, Vec<MempoolPayment>> {
        let state = self.lock();
        let chain_txs = state.best_chain.iter().filter_map(|hash| state.blocks.get(hash)).flat_map(|(b, _)| &b.txdata);
        let known: HashMap<Txid, &Transaction> =
            chain_txs.chain(state.mempool.iter()).map(|tx| (tx.compute_txid(), tx)).collect();
        let payments = state
            .mempool
            .iter()
            .take(MAX_MEMPOOL_TXS_PER_POLL)
            .filter(|tx| tx.output.iter().any(|o| scripts.contains(&o.script_pubkey)))
            .flat_map(|tx| {
                let fee = fee_of(tx, |outpoint| {
                    let parent = known.get(&outpoint.txid)?;
                    Some(parent.output.get(usize::try_from(outpoint.vout).ok()?)?.value.to_sat())
                });
                payments_of(tx, scripts, fee)
            })
            .collect();
        Box::pin(async { Ok(payments) })
    }
}
