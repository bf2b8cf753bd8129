//! [`BitcoindRpc`]: a chain source over Bitcoin Core's JSON-RPC that also works against bcoin 1.0.2.
//!
//! Only calls whose raw (non-verbose) form both servers share are used, so no JSON shape quirk
//! matters:
//!
//! | need | call |
//! |---|---|
//! | tip | `getblockchaininfo` (`bestblockhash`, `blocks`) |
//! | hash at a height | `getblockhash <height>` |
//! | header | `getblockheader <hash> false` (80 bytes hex; bcoin's verbose form lacks `nonce`) |
//! | block | `getblock <hash> 0` (raw hex) |
//! | fees | `estimatesmartfee <blocks>`; on error (bcoin regtest) [`FALLBACK_FEE_RATE_SAT_PER_KWU`] |
//! | broadcast | `sendrawtransaction <hex>` |
//!
//! The HTTP client keeps one connection alive and sets `TCP_NODELAY` (see `http.rs`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bitcoin::block::Header;
use bitcoin::consensus::encode::{deserialize_hex, serialize_hex};
use bitcoin::{Block, BlockHash, ScriptBuf, Transaction};
use lightning::chain::chaininterface::ConfirmationTarget;
use lightning::chain::BestBlock;
use serde_json::{json, Value};

use super::http::HttpClient;
use super::sync::{sync_from_blocks, BlockFetcher};
use super::{fee_of, payments_of, MempoolPayment, MAX_MEMPOOL_TXS_PER_POLL, MAX_PREVOUT_LOOKUPS_PER_POLL};
use super::{
    ChainConsumer, ChainError, ChainFuture, ChainSource, FeeCache, CONFIRMATION_TARGETS, FALLBACK_FEE_RATE_SAT_PER_KWU,
};

/// Settings for [`BitcoindRpc`].
#[derive(Debug, Clone)]
pub struct BitcoindRpcConfig {
    /// `http://user:password@host:port/`, for example `http://x:test@127.0.0.1:18443/` for bcoin.
    pub url: String,
    /// How often the node polls for new blocks.
    pub poll_interval: Duration,
    /// Timeout of one RPC round trip.
    pub request_timeout: Duration,
}

impl BitcoindRpcConfig {
    /// Default settings for `url`: poll every
    /// [`DEFAULT_CHAIN_POLL_INTERVAL_SECS`](crate::config::DEFAULT_CHAIN_POLL_INTERVAL_SECS)
    /// seconds, 30 s request timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            poll_interval: Duration::from_secs(crate::config::DEFAULT_CHAIN_POLL_INTERVAL_SECS),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// A [`ChainSource`] backed by a Bitcoin Core (or bcoin) JSON-RPC server.
pub struct BitcoindRpc {
    http: HttpClient,
    next_id: AtomicU64,
    fees: FeeCache,
    poll_interval: Duration,
}

impl BitcoindRpc {
    /// Creates the client. No connection is made until the first call.
    ///
    /// # Errors
    /// [`ChainError::Transport`] if the URL cannot be parsed or is not `http`.
    pub fn new(config: BitcoindRpcConfig) -> Result<Self, ChainError> {
        Ok(Self {
            http: HttpClient::new(&config.url, config.request_timeout)?,
            next_id: AtomicU64::new(1),
            fees: FeeCache::default(),
            poll_interval: config.poll_interval,
        })
    }

    /// Calls `method` with positional `params` and returns the `result` member.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, ChainError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = serde_json::to_vec(&json!({"jsonrpc": "1.0", "id": id, "method": method, "params": params}))
            .map_err(|e| ChainError::InvalidResponse(e.to_string()))?;
        let (status, response) = self.http.post_json(&body).await?;
        let mut response: Value = serde_json::from_slice(&response)
            .map_err(|e| ChainError::InvalidResponse(format!("{method}: HTTP {status}, body is not JSON: {e}")))?;
        if let Some(error) = response.get("error").filter(|error| !error.is_null()) {
            return Err(ChainError::Rpc {
                code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: error.get("message").and_then(Value::as_str).unwrap_or("").to_string(),
            });
        }
        if status != 200 {
            return Err(ChainError::InvalidResponse(format!("{method}: HTTP status {status}")));
        }
        match response.get_mut("result") {
            Some(result) => Ok(result.take()),
            None => Err(ChainError::InvalidResponse(format!("{method}: no result member"))),
        }
    }

    async fn call_hex<T: bitcoin::consensus::Decodable>(&self, method: &str, params: Value) -> Result<T, ChainError> {
        let result = self.call(method, params).await?;
        let hex =
            result.as_str().ok_or_else(|| ChainError::InvalidResponse(format!("{method}: expected a hex string")))?;
        deserialize_hex(hex).map_err(|e| ChainError::InvalidResponse(format!("{method}: {e}")))
    }

    /// The mempool transactions with an output `watched` accepts, each with its fee when every
    /// input's value is known. `getrawmempool`, then `getrawtransaction` for each mempool
    /// transaction (at most [`MAX_MEMPOOL_TXS_PER_POLL`]) and for the parents of the matching
    /// ones (at most [`MAX_PREVOUT_LOOKUPS_PER_POLL`] in all; a confirmed parent needs
    /// `-txindex` on bitcoind or `--index-tx` on bcoin, otherwise the fee is unknown). One call
    /// per mempool transaction: meant for the small mempool of an LSP's own regtest or for
    /// low-traffic watching, not a busy mainnet mempool.
    pub async fn mempool_paying(
        &self,
        watched: impl Fn(&bitcoin::Script) -> bool + Send + Sync,
    ) -> Result<Vec<(Transaction, Option<u64>)>, ChainError> {
        let listed = self.call("getrawmempool", json!([])).await?;
        let txids =
            listed.as_array().ok_or_else(|| ChainError::InvalidResponse("getrawmempool: expected an array".into()))?;
        let mut lookups = 0usize;
        let mut paying = Vec::new();
        for txid in txids.iter().filter_map(Value::as_str).take(MAX_MEMPOOL_TXS_PER_POLL) {
            // A transaction may leave the mempool between the two calls: skip it.
            let Ok(tx) = self.call_hex::<Transaction>("getrawtransaction", json!([txid])).await else { continue };
            if !tx.output.iter().any(|o| watched(&o.script_pubkey)) {
                continue;
            }
            let mut values = HashMap::new();
            for input in &tx.input {
                if lookups >= MAX_PREVOUT_LOOKUPS_PER_POLL {
                    break;
                }
                lookups += 1;
                let parent = input.previous_output.txid.to_string();
                if let Ok(parent) = self.call_hex::<Transaction>("getrawtransaction", json!([parent])).await {
                    if let Some(out) = parent.output.get(input.previous_output.vout as usize) {
                        values.insert(input.previous_output, out.value.to_sat());
                    }
                }
            }
            let fee = fee_of(&tx, |outpoint| values.get(outpoint).copied());
            paying.push((tx, fee));
        }
        Ok(paying)
    }

    /// The best block, from `getblockchaininfo`.
    pub async fn get_best_block(&self) -> Result<BestBlock, ChainError> {
        let info = self.call("getblockchaininfo", json!([])).await?;
        let hash: BlockHash = info
            .get("bestblockhash")
            .and_then(Value::as_str)
            .and_then(|hash| hash.parse().ok())
            .ok_or_else(|| ChainError::InvalidResponse("getblockchaininfo: bestblockhash".into()))?;
        let height = info
            .get("blocks")
            .and_then(Value::as_u64)
            .and_then(|height| u32::try_from(height).ok())
            .ok_or_else(|| ChainError::InvalidResponse("getblockchaininfo: blocks".into()))?;
        Ok(BestBlock::new(hash, height))
    }

    /// The best-chain block hash at `height`, or `None` if the chain is shorter.
    pub async fn get_block_hash(&self, height: u32) -> Result<Option<BlockHash>, ChainError> {
        match self.call("getblockhash", json!([height])).await {
            Ok(value) => value
                .as_str()
                .and_then(|hash| hash.parse().ok())
                .map(Some)
                .ok_or_else(|| ChainError::InvalidResponse("getblockhash: not a hash".into())),
            // Core answers -8 "Block height out of range"; bcoin uses other codes. Any RPC-level
            // error for a height means "no block there"; transport errors still propagate.
            Err(ChainError::Rpc { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The 80-byte header of any known block, from `getblockheader <hash> false`.
    pub async fn get_header(&self, hash: &BlockHash) -> Result<Header, ChainError> {
        self.call_hex("getblockheader", json!([hash.to_string(), false])).await
    }

    /// The full block, from `getblock <hash> 0`.
    pub async fn get_block(&self, hash: &BlockHash) -> Result<Block, ChainError> {
        self.call_hex("getblock", json!([hash.to_string(), 0])).await
    }

    /// `estimatesmartfee` converted to sat per 1000 weight units, or `None` if the server has no
    /// estimate (bcoin errors; Core returns an `errors` array without `feerate`).
    pub async fn estimate_fee_rate(&self, target_blocks: u16) -> Result<Option<u32>, ChainError> {
        let result = match self.call("estimatesmartfee", json!([target_blocks])).await {
            Ok(result) => result,
            Err(ChainError::Rpc { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        // BTC per 1000 vbytes -> sat per 1000 weight units: * 1e8 / 4.
        Ok(result
            .get("feerate")
            .and_then(Value::as_f64)
            .filter(|rate| rate.is_finite() && *rate > 0.0)
            .map(|btc_per_kvb| (btc_per_kvb * 100_000_000.0 / 4.0).round() as u32))
    }

    /// Sends a raw transaction with `sendrawtransaction`.
    pub async fn send_raw_transaction(&self, tx: &Transaction) -> Result<(), ChainError> {
        match self.call("sendrawtransaction", json!([serialize_hex(tx)])).await {
            Ok(_) => Ok(()),
            Err(ChainError::Rpc { message, code }) => Err(ChainError::BroadcastRejected(format!("{code}: {message}"))),
            Err(e) => Err(e),
        }
    }
}

impl BlockFetcher for BitcoindRpc {
    fn tip(&self) -> ChainFuture<'_, BestBlock> {
        Box::pin(self.get_best_block())
    }

    fn block_hash_at(&self, height: u32) -> ChainFuture<'_, Option<BlockHash>> {
        Box::pin(self.get_block_hash(height))
    }

    fn header<'a>(&'a self, hash: &'a BlockHash) -> ChainFuture<'a, Header> {
        Box::pin(self.get_header(hash))
    }

    fn block<'a>(&'a self, hash: &'a BlockHash) -> ChainFuture<'a, Block> {
        Box::pin(self.get_block(hash))
    }
}

impl ChainSource for BitcoindRpc {
    fn best_block(&self) -> ChainFuture<'_, BestBlock> {
        Box::pin(self.get_best_block())
    }

    fn sync<'a>(&'a self, consumers: &'a [&'a dyn ChainConsumer]) -> ChainFuture<'a, BestBlock> {
        Box::pin(sync_from_blocks(self, consumers))
    }

    fn update_fee_estimates(&self) -> ChainFuture<'_, ()> {
        Box::pin(async move {
            for (target, blocks) in CONFIRMATION_TARGETS {
                let rate = self.estimate_fee_rate(blocks).await?.unwrap_or(FALLBACK_FEE_RATE_SAT_PER_KWU);
                self.fees.set(target, rate);
            }
            Ok(())
        })
    }

    fn fee_rate_sat_per_kwu(&self, target: ConfirmationTarget) -> u32 {
        self.fees.get(target)
    }

    fn broadcast<'a>(&'a self, tx: &'a Transaction) -> ChainFuture<'a, ()> {
        Box::pin(self.send_raw_transaction(tx))
    }

    fn poll_interval(&self) -> Duration {
        self.poll_interval
    }

    /// Payments to `scripts` in the node's mempool; see [`BitcoindRpc::mempool_paying`].
    fn mempool_payments<'a>(&'a self, scripts: &'a [ScriptBuf]) -> ChainFuture<'a, Vec<MempoolPayment>> {
        Box::pin(async move {
            if scripts.is_empty() {
                return Ok(Vec::new());
            }
            let paying = self.mempool_paying(|script| scripts.iter().any(|s| s.as_script() == script)).await?;
            Ok(paying.iter().flat_map(|(tx, fee)| payments_of(tx, scripts, *fee)).collect())
        })
    }
}
