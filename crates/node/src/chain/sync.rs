//! Block-by-block synchronisation shared by every block-serving [`ChainSource`](super::ChainSource).
//!
//! A source only has to answer four questions ([`BlockFetcher`]): what is the tip, which block is
//! at a height in the best chain, what is a block's header (also for stale blocks, to walk back
//! from a reorged-out tip) and what is the full block. [`sync_from_blocks`] does the rest:
//!
//! 1. For every consumer, walk back from its best block until a block that is still in the best
//!    chain (the fork point). If that is not the consumer's best block, call
//!    [`ChainConsumer::blocks_disconnected`] with the fork point.
//! 2. Fetch each block from the lowest fork point up to the tip once, check that it links to its
//!    predecessor, and hand it to every consumer that has not seen that height yet, in the order
//!    the consumers were given (the chain monitor goes before the channel manager).
//!
//! If the chain moves while this runs, the linkage check fails with
//! [`ChainError::Inconsistent`] and the next poll starts over from the consumers' new positions;
//! nothing is ever connected twice or out of order.

use bitcoin::block::Header;
use bitcoin::{Block, BlockHash};
use lightning::chain::BestBlock;

use super::{ChainConsumer, ChainError, ChainFuture};

/// The minimal block-serving interface [`sync_from_blocks`] needs.
pub trait BlockFetcher: Send + Sync {
    /// The best block of the backend.
    fn tip(&self) -> ChainFuture<'_, BestBlock>;
    /// The hash of the best-chain block at `height`, or `None` if the chain is shorter.
    fn block_hash_at(&self, height: u32) -> ChainFuture<'_, Option<BlockHash>>;
    /// The header of any block the backend knows, including stale ones.
    fn header<'a>(&'a self, hash: &'a BlockHash) -> ChainFuture<'a, Header>;
    /// The full block.
    fn block<'a>(&'a self, hash: &'a BlockHash) -> ChainFuture<'a, Block>;
}

/// Brings every consumer to the fetcher's tip. See the module documentation for the algorithm.
///
/// Returns the tip that all consumers now share.
///
/// # Errors
/// Transport and decoding errors from the fetcher; [`ChainError::Inconsistent`] if the chain
/// changed mid-way or the backend is behind the consumers (retry on the next poll);
/// [`ChainError::BlockNotFound`] if a consumer's block is unknown to the backend.
pub async fn sync_from_blocks<F: BlockFetcher + ?Sized>(
    fetcher: &F,
    consumers: &[&dyn ChainConsumer],
) -> Result<BestBlock, ChainError> {
    let tip = fetcher.tip().await?;
    let mut start_heights = Vec::with_capacity(consumers.len());
    for consumer in consumers {
        let best = consumer.best_block();
        let fork_point = find_fork_point(fetcher, best, tip).await?;
        if fork_point.block_hash != best.block_hash {
            consumer.blocks_disconnected(fork_point);
        }
        start_heights.push(fork_point.height);
    }
    let lowest_start = match start_heights.iter().min() {
        Some(height) => *height,
        None => return Ok(tip),
    };
    if lowest_start >= tip.height {
        return Ok(tip);
    }
    let mut previous_hash = fetcher
        .block_hash_at(lowest_start)
        .await?
        .ok_or_else(|| ChainError::Inconsistent(format!("height {lowest_start} vanished")))?;
    for height in lowest_start + 1..=tip.height {
        let hash = fetcher
            .block_hash_at(height)
            .await?
            .ok_or_else(|| ChainError::Inconsistent(format!("height {height} vanished")))?;
        let block = fetcher.block(&hash).await?;
        if block.block_hash() != hash {
            return Err(ChainError::InvalidResponse(format!("asked for block {hash}, got {}", block.block_hash())));
        }
        if block.header.prev_blockhash != previous_hash {
            return Err(ChainError::Inconsistent(format!("block {hash} at {height} does not extend {previous_hash}")));
        }
        for (consumer, start) in consumers.iter().zip(start_heights.iter()) {
            if height > *start {
                consumer.block_connected(&block, height);
            }
        }
        previous_hash = hash;
    }
    Ok(tip)
}

/// Walks back from `best` to the last block that is still in the fetcher's best chain.
async fn find_fork_point<F: BlockFetcher + ?Sized>(
    fetcher: &F,
    best: BestBlock,
    tip: BestBlock,
) -> Result<BestBlock, ChainError> {
    if best.height > tip.height {
        // Either a reorg to a shorter chain or (far more likely) a backend that is still catching
        // up. Disconnecting valid blocks would be wrong in the second case, so wait.
        return Err(ChainError::Inconsistent(format!(
            "backend tip {} is below our best block {}",
            tip.height, best.height
        )));
    }
    let mut current = best;
    loop {
        if fetcher.block_hash_at(current.height).await? == Some(current.block_hash) {
            return Ok(current);
        }
        if current.height == 0 {
            return Err(ChainError::BlockNotFound(current.block_hash));
        }
        let header = fetcher.header(&current.block_hash).await?;
        current = BestBlock::new(header.prev_blockhash, current.height - 1);
    }
}
