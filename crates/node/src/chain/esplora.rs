//! [`EsploraClient`]: a chain source over the Esplora HTTP API (Blockstream's esplora/electrs,
//! mempool.space).
//!
//! It is a *block* source: the endpoints below map one-to-one onto [`BlockFetcher`], so the
//! node follows the chain through the same reorg-aware [`sync_from_blocks`] as with
//! [`BitcoindRpc`](super::BitcoindRpc).
//!
//! | need | endpoint |
//! |---|---|
//! | tip | `GET /blocks/tip/hash`, `GET /blocks/tip/height`, cross-checked with `/block-height/:height` |
//! | hash at a height | `GET /block-height/:height` (404 beyond the tip) |
//! | header | `GET /block/:hash/header` (80 bytes hex) |
//! | block | `GET /block/:hash/raw` (binary) |
//! | fees | `GET /fee-estimates` (target → sat/vB); no estimate: [`FALLBACK_FEE_RATE_SAT_PER_KWU`] |
//! | broadcast | `POST /tx` (hex body); a 400 saying the transaction is already known is success |
//!
//! The paths are appended to the base URL's path, so `http://host:3000/api` requests
//! `/api/blocks/tip/hash`. Every answer is checked before use: the status code, a per-endpoint
//! size limit, the encoding (exact hex lengths, no trailing bytes), that a header or block hashes
//! to the hash asked for, that a block's transactions match its merkle root and witness
//! commitment, and that `POST /tx` echoes the broadcast txid. A malformed answer is an error,
//! never a panic. The server is still trusted to pick the best chain (proof of work is not
//! checked), as a Bitcoin Core RPC backend is.
//!
//! Only plain `http` is spoken (see `http.rs`): run the LSP next to its Esplora server, or reach
//! a remote HTTPS one through a local TLS-terminating proxy, as with the RPC source.

use std::collections::BTreeMap;
use std::time::Duration;

use bitcoin::block::Header;
use bitcoin::consensus::encode::{deserialize, deserialize_hex, serialize_hex};
use bitcoin::hashes::{sha256, Hash};
use bitcoin::{Block, BlockHash, ScriptBuf, Transaction, Txid};
use lightning::chain::chaininterface::ConfirmationTarget;
use lightning::chain::BestBlock;

use super::http::HttpClient;
use super::sync::{sync_from_blocks, BlockFetcher};
use super::{
    ChainConsumer, ChainError, ChainFuture, ChainSource, FeeCache, CONFIRMATION_TARGETS, FALLBACK_FEE_RATE_SAT_PER_KWU,
};
use super::{MempoolPayment, MAX_MEMPOOL_TXS_PER_POLL};

/// Largest answer for a hash, a height, a txid or a header (80 bytes are 160 hex digits).
const MAX_TEXT_BYTES: usize = 1024;
/// Largest raw block: a block's serialized size never exceeds its weight limit.
const MAX_BLOCK_BYTES: usize = bitcoin::Weight::MAX_BLOCK.to_wu() as usize;
/// Largest `/fee-estimates` map or `POST /tx` error message.
const MAX_JSON_BYTES: usize = 64 * 1024;
/// How often to re-read the tip when the chain moves between the hash and height requests.
/// Largest `/scripthash/:hash/txs/mempool` answer read (electrs lists at most 50 transactions).
const MAX_MEMPOOL_JSON_BYTES: usize = 4 * 1024 * 1024;
const TIP_ATTEMPTS: usize = 3;
/// Converts sat/vB to sat per 1000 weight units (1 vB = 4 WU).
const KWU_PER_VB_FACTOR: f64 = 250.0;
/// Fragments of the messages Core, electrs and bcoin use when a transaction is already in the
/// mempool or the chain; such a rejection means the broadcast has already happened.
const ALREADY_KNOWN: [&str; 6] = [
    "already in mempool",
    "already-in-mempool",
    "already known",
    "already-known",
    "already in block chain",
    "already in utxo set",
];

/// Settings for [`EsploraClient`].
#[derive(Debug, Clone)]
pub struct EsploraConfig {
    /// The API root, for example `http://127.0.0.1:3002` (electrs) or `http://host:8080/api`
    /// (mempool.space's layout). Only `http`; terminate TLS at a local proxy.
    pub base_url: String,
    /// How often the node polls for new blocks.
    pub poll_interval: Duration,
    /// Timeout of one HTTP round trip.
    pub request_timeout: Duration,
}

impl EsploraConfig {
    /// Default settings for `base_url`: poll every
    /// [`DEFAULT_CHAIN_POLL_INTERVAL_SECS`](crate::config::DEFAULT_CHAIN_POLL_INTERVAL_SECS)
    /// seconds, 30 s request timeout.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            poll_interval: Duration::from_secs(crate::config::DEFAULT_CHAIN_POLL_INTERVAL_SECS),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// A [`ChainSource`] backed by an Esplora HTTP server.
pub struct EsploraClient {
    http: HttpClient,
    fees: FeeCache,
    poll_interval: Duration,
}

impl EsploraClient {
    /// Creates the client. No connection is made until the first call.
    ///
    /// # Errors
    /// [`ChainError::Transport`] if the URL cannot be parsed or is not `http`.
    pub fn new(config: EsploraConfig) -> Result<Self, ChainError> {
        Ok(Self {
            http: HttpClient::new(&config.base_url, config.request_timeout)?,
            fees: FeeCache::default(),
            poll_interval: config.poll_interval,
        })
    }

    /// GETs `path` and returns a 200 answer's body as trimmed text; other statuses are errors.
    async fn get_text(&self, path: &str) -> Result<String, ChainError> {
        let (status, body) = self.http.get(path, MAX_TEXT_BYTES).await?;
        if status != 200 {
            return Err(unexpected_status("GET", path, status, &body));
        }
        text(path, body)
    }

    /// The best block's hash, from `GET /blocks/tip/hash`.
    pub async fn get_tip_hash(&self) -> Result<BlockHash, ChainError> {
        parse_hash("/blocks/tip/hash", &self.get_text("/blocks/tip/hash").await?)
    }

    /// The best block's height, from `GET /blocks/tip/height`.
    pub async fn get_tip_height(&self) -> Result<u32, ChainError> {
        let height = self.get_text("/blocks/tip/height").await?;
        height.parse().map_err(|_| ChainError::InvalidResponse(format!("/blocks/tip/height: not a height: {height:?}")))
    }

    /// The best block. The hash and the height come from two requests, so the pair is confirmed
    /// with `/block-height/:height` and re-read if a block arrived in between.
    ///
    /// # Errors
    /// [`ChainError::Inconsistent`] if the pair never agrees after a few attempts.
    pub async fn get_best_block(&self) -> Result<BestBlock, ChainError> {
        for _ in 0..TIP_ATTEMPTS {
            let hash = self.get_tip_hash().await?;
            let height = self.get_tip_height().await?;
            if self.get_block_hash(height).await? == Some(hash) {
                return Ok(BestBlock::new(hash, height));
            }
        }
        Err(ChainError::Inconsistent("the tip hash and height do not agree".into()))
    }

    /// The best-chain block hash at `height`, or `None` (HTTP 404) if the chain is shorter.
    pub async fn get_block_hash(&self, height: u32) -> Result<Option<BlockHash>, ChainError> {
        let path = format!("/block-height/{height}");
        let (status, body) = self.http.get(&path, MAX_TEXT_BYTES).await?;
        match status {
            200 => parse_hash(&path, &text(&path, body)?).map(Some),
            404 => Ok(None),
            _ => Err(unexpected_status("GET", &path, status, &body)),
        }
    }

    /// The header of any block the server knows, stale ones included, from
    /// `GET /block/:hash/header`.
    ///
    /// # Errors
    /// [`ChainError::BlockNotFound`] on HTTP 404; [`ChainError::InvalidResponse`] if the answer
    /// is not exactly one header or is the header of another block.
    pub async fn get_header(&self, hash: &BlockHash) -> Result<Header, ChainError> {
        let path = format!("/block/{hash}/header");
        let (status, body) = self.http.get(&path, MAX_TEXT_BYTES).await?;
        match status {
            200 => {}
            404 => return Err(ChainError::BlockNotFound(*hash)),
            _ => return Err(unexpected_status("GET", &path, status, &body)),
        }
        let header: Header =
            deserialize_hex(&text(&path, body)?).map_err(|e| ChainError::InvalidResponse(format!("{path}: {e}")))?;
        if header.block_hash() != *hash {
            return Err(ChainError::InvalidResponse(format!("{path}: got the header of {}", header.block_hash())));
        }
        Ok(header)
    }

    /// The full block, from `GET /block/:hash/raw`, checked against `hash`, its merkle root and
    /// its witness commitment.
    ///
    /// # Errors
    /// [`ChainError::BlockNotFound`] on HTTP 404; [`ChainError::InvalidResponse`] for anything
    /// that is not exactly the block asked for.
    pub async fn get_block(&self, hash: &BlockHash) -> Result<Block, ChainError> {
        let path = format!("/block/{hash}/raw");
        let (status, body) = self.http.get(&path, MAX_BLOCK_BYTES).await?;
        match status {
            200 => {}
            404 => return Err(ChainError::BlockNotFound(*hash)),
            _ => return Err(unexpected_status("GET", &path, status, &body)),
        }
        let block: Block = deserialize(&body).map_err(|e| ChainError::InvalidResponse(format!("{path}: {e}")))?;
        if block.block_hash() != *hash {
            return Err(ChainError::InvalidResponse(format!("{path}: got block {}", block.block_hash())));
        }
        if !block.check_merkle_root() || !block.check_witness_commitment() {
            return Err(ChainError::InvalidResponse(format!("{path}: transactions do not match the header")));
        }
        Ok(block)
    }

    /// `GET /fee-estimates`: confirmation target in blocks → sat/vB. `None` if the server
    /// answers with an error status (it has no estimates); entries whose key is not a block
    /// count or whose value is not a positive rate below 2³² sat/kWU are left out.
    ///
    /// # Errors
    /// Transport errors, and [`ChainError::InvalidResponse`] if a 200 answer is not a JSON object.
    pub async fn get_fee_estimates(&self) -> Result<Option<BTreeMap<u16, f64>>, ChainError> {
        let path = "/fee-estimates";
        let (status, body) = self.http.get(path, MAX_JSON_BYTES).await?;
        if status != 200 {
            return Ok(None);
        }
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&body).map_err(|e| ChainError::InvalidResponse(format!("{path}: {e}")))?;
        Ok(Some(
            map.into_iter()
                .filter_map(|(target, rate)| Some((target.parse().ok()?, rate.as_f64()?)))
                .filter(|(_, rate): &(u16, f64)| sat_per_vb_to_sat_per_kwu(*rate).is_some())
                .collect(),
        ))
    }

    /// The unconfirmed transactions paying `script`, from `GET /scripthash/:hash/txs/mempool`
    /// (`hash`: the script's SHA-256, as electrs and mempool.space take it), as payments with
    /// Esplora's `fee` and `weight`. A 404 (a server without the endpoint) reads as none.
    ///
    /// # Errors
    /// Transport errors, and [`ChainError::InvalidResponse`] if a 200 answer is not a JSON array.
    pub async fn get_mempool_payments(&self, script: &ScriptBuf) -> Result<Vec<MempoolPayment>, ChainError> {
        let path = format!("/scripthash/{}/txs/mempool", sha256::Hash::hash(script.as_bytes()));
        let (status, body) = self.http.get(&path, MAX_MEMPOOL_JSON_BYTES).await?;
        if status == 404 {
            return Ok(Vec::new());
        }
        if status != 200 {
            return Err(unexpected_status("GET", &path, status, &body));
        }
        let txs: Vec<serde_json::Value> =
            serde_json::from_slice(&body).map_err(|e| ChainError::InvalidResponse(format!("{path}: {e}")))?;
        let wanted = script.to_hex_string();
        let mut payments = Vec::new();
        for tx in txs.iter().take(MAX_MEMPOOL_TXS_PER_POLL) {
            let txid = tx.get("txid").and_then(|t| t.as_str()).and_then(|t| t.parse::<Txid>().ok());
            let weight = tx.get("weight").and_then(serde_json::Value::as_u64).filter(|w| *w > 0);
            let (Some(txid), Some(weight_wu)) = (txid, weight) else {
                return Err(ChainError::InvalidResponse(format!("{path}: a transaction without txid or weight")));
            };
            let fee_sat = tx.get("fee").and_then(serde_json::Value::as_u64);
            let outputs = tx.get("vout").and_then(serde_json::Value::as_array).map(Vec::as_slice).unwrap_or_default();
            for output in outputs {
                if output.get("scriptpubkey").and_then(serde_json::Value::as_str) != Some(wanted.as_str()) {
                    continue;
                }
                let Some(value_sat) = output.get("value").and_then(serde_json::Value::as_u64) else { continue };
                payments.push(MempoolPayment { txid, script_pubkey: script.clone(), value_sat, fee_sat, weight_wu });
            }
        }
        Ok(payments)
    }

    /// Broadcasts with `POST /tx`. A 400 saying the transaction is already in the mempool or the
    /// chain counts as success.
    ///
    /// # Errors
    /// [`ChainError::BroadcastRejected`] for any other 400; [`ChainError::InvalidResponse`] if a
    /// 200 answer is not the transaction's txid.
    pub async fn send_raw_transaction(&self, tx: &Transaction) -> Result<(), ChainError> {
        let path = "/tx";
        let (status, body) = self.http.post(path, "text/plain", serialize_hex(tx).as_bytes(), MAX_JSON_BYTES).await?;
        match status {
            200 => {
                let txid = tx.compute_txid();
                let answer = text(path, body)?;
                match answer.parse::<Txid>() {
                    Ok(echoed) if echoed == txid => Ok(()),
                    _ => Err(ChainError::InvalidResponse(format!("POST /tx of {txid} answered {}", snippet(&answer)))),
                }
            }
            400 => {
                let message = String::from_utf8_lossy(&body).to_ascii_lowercase();
                if ALREADY_KNOWN.iter().any(|known| message.contains(known)) {
                    Ok(())
                } else {
                    Err(ChainError::BroadcastRejected(snippet(&String::from_utf8_lossy(&body))))
                }
            }
            _ => Err(unexpected_status("POST", path, status, &body)),
        }
    }
}

/// The fee rate in sat/kWU for a `target` of blocks: the estimate for the largest target not
/// above it (a faster, so higher, estimate), else the smallest target the server has. `None`
/// if there is no usable estimate.
pub(crate) fn fee_rate_for_target(estimates: &BTreeMap<u16, f64>, target: u16) -> Option<u32> {
    let rate = estimates.range(..=target).next_back().or_else(|| estimates.iter().next()).map(|(_, rate)| *rate)?;
    sat_per_vb_to_sat_per_kwu(rate)
}

/// sat/vB × 250, rounded up and clamped to at least [`FALLBACK_FEE_RATE_SAT_PER_KWU`]; `None`
/// for a rate that is not a positive finite number or does not fit in a `u32`.
pub(crate) fn sat_per_vb_to_sat_per_kwu(sat_per_vb: f64) -> Option<u32> {
    if !sat_per_vb.is_finite() || sat_per_vb <= 0.0 {
        return None;
    }
    let sat_per_kwu = (sat_per_vb * KWU_PER_VB_FACTOR).ceil();
    if sat_per_kwu > f64::from(u32::MAX) {
        return None;
    }
    Some((sat_per_kwu as u32).max(FALLBACK_FEE_RATE_SAT_PER_KWU))
}

fn text(path: &str, body: Vec<u8>) -> Result<String, ChainError> {
    String::from_utf8(body)
        .map(|text| text.trim().to_string())
        .map_err(|_| ChainError::InvalidResponse(format!("{path}: body is not UTF-8")))
}

fn parse_hash(path: &str, text: &str) -> Result<BlockHash, ChainError> {
    text.parse().map_err(|_| ChainError::InvalidResponse(format!("{path}: not a block hash: {}", snippet(text))))
}

/// The first 200 characters of a server's message, for errors and logs.
fn snippet(text: &str) -> String {
    let mut snippet: String = text.chars().take(200).filter(|c| !c.is_control()).collect();
    if text.chars().count() > 200 {
        snippet.push('…');
    }
    format!("{snippet:?}")
}

/// A status the endpoint does not define: server trouble (5xx, 429) is a transport error that
/// the next poll retries; anything else means we and the server disagree about the API.
fn unexpected_status(method: &str, path: &str, status: u16, body: &[u8]) -> ChainError {
    let message = format!("{method} {path}: HTTP {status} {}", snippet(&String::from_utf8_lossy(body)));
    if status >= 500 || status == 429 {
        ChainError::Transport(message)
    } else {
        ChainError::InvalidResponse(message)
    }
}

impl BlockFetcher for EsploraClient {
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

impl ChainSource for EsploraClient {
    fn best_block(&self) -> ChainFuture<'_, BestBlock> {
        Box::pin(self.get_best_block())
    }

    fn sync<'a>(&'a self, consumers: &'a [&'a dyn ChainConsumer]) -> ChainFuture<'a, BestBlock> {
        Box::pin(sync_from_blocks(self, consumers))
    }

    fn update_fee_estimates(&self) -> ChainFuture<'_, ()> {
        Box::pin(async move {
            let estimates = self.get_fee_estimates().await?.unwrap_or_default();
            for (target, blocks) in CONFIRMATION_TARGETS {
                let rate = fee_rate_for_target(&estimates, blocks).unwrap_or(FALLBACK_FEE_RATE_SAT_PER_KWU);
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

    /// One `GET /scripthash/:hash/txs/mempool` per script.
    fn mempool_payments<'a>(&'a self, scripts: &'a [ScriptBuf]) -> ChainFuture<'a, Vec<MempoolPayment>> {
        Box::pin(async move {
            let mut payments = Vec::new();
            for script in scripts {
                payments.extend(self.get_mempool_payments(script).await?);
            }
            Ok(payments)
        })
    }
}

#[cfg(test)]
#[path = "esplora_tests.rs"]
mod tests;
