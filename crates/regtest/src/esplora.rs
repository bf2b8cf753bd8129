//! [`EsploraServer`]: the Esplora HTTP endpoints [`EsploraClient`](inbound_node::EsploraClient)
//! uses, served from a bcoin (or Bitcoin Core) node's JSON-RPC, for end-to-end tests.
//!
//! No esplora/electrs binary can be installed in Inbound's test environment, so this is a thin
//! translation written for the tests: the HTTP server is ours, while the chain data, the
//! transaction validation and the mempool are the node's. It answers like electrs does:
//!
//! | endpoint | RPC | answer |
//! |---|---|---|
//! | `GET /blocks/tip/hash`, `/blocks/tip/height` | `getblockchaininfo` | text |
//! | `GET /block-height/:height` | `getblockhash` | hash, or 404 `Block not found` |
//! | `GET /block/:hash/header` | `getblockheader <hash> false` | 80 bytes hex, or 404 |
//! | `GET /block/:hash/raw` | `getblock <hash> 0` | binary block, or 404 |
//! | `GET /fee-estimates` | `estimatesmartfee` for 1–1008 blocks | JSON target → sat/vB (`{}` on bcoin) |
//! | `GET /scripthash/:hash/txs/mempool` | `getrawmempool`, `getrawtransaction` | JSON array |
//! | `POST /tx` | `sendrawtransaction` | txid, or 400 `sendrawtransaction RPC error: {…}` |
//!
//! Everything is served below a path prefix (for example `/api`, as mempool.space does).

use std::sync::{Arc, Mutex};

use bitcoin::hashes::{sha256, Hash};
use bitcoin::hex::FromHex;
use inbound_node::chain::{BitcoindRpc, BitcoindRpcConfig, ChainError};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::{io_error, RegtestError};

/// Largest request body accepted (a transaction in hex).
const MAX_REQUEST_BYTES: usize = 1024 * 1024;
/// The targets `/fee-estimates` reports, as electrs does.
const FEE_TARGETS: [u16; 8] = [1, 2, 3, 6, 12, 144, 504, 1008];

/// A running Esplora-compatible server; stopped when dropped.
pub struct EsploraServer {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl EsploraServer {
    /// Serves the endpoints below `prefix` (`""` or `/api`) on a free local port, answering from
    /// the JSON-RPC server at `rpc_url` (for example [`Bcoin::rpc_url`](crate::Bcoin::rpc_url)).
    pub async fn start(rpc_url: &str, prefix: &str) -> Result<EsploraServer, RegtestError> {
        let rpc = Arc::new(BitcoindRpc::new(BitcoindRpcConfig::new(rpc_url))?);
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(io_error("binding the Esplora server"))?;
        let port = listener.local_addr().map_err(io_error("binding the Esplora server"))?.port();
        let prefix = prefix.trim_end_matches('/').to_owned();
        let url = format!("http://127.0.0.1:{port}{prefix}");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&rpc), prefix.clone(), Arc::clone(&log)));
            }
        });
        Ok(EsploraServer { url, requests, task })
    }

    /// The base URL to give [`EsploraConfig::new`](inbound_node::EsploraConfig::new).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every request served so far, as `"METHOD /path"`.
    pub fn requests(&self) -> Vec<String> {
        match self.requests.lock() {
            Ok(requests) => requests.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl Drop for EsploraServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One keep-alive connection: read a request, answer it, repeat until the client goes away.
async fn serve(stream: TcpStream, rpc: Arc<BitcoindRpc>, prefix: String, log: Arc<Mutex<Vec<String>>>) {
    let _ = stream.set_nodelay(true);
    let mut stream = BufReader::new(stream);
    while let Some((method, path, body)) = read_request(&mut stream).await {
        if let Ok(mut log) = log.lock() {
            log.push(format!("{method} {path}"));
        }
        let (status, body) = match path.strip_prefix(prefix.as_str()) {
            Some(endpoint) => answer(&rpc, &method, endpoint, &body).await,
            None => (404, b"not found".to_vec()),
        };
        let head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n", body.len());
        let written = async {
            stream.get_mut().write_all(head.as_bytes()).await?;
            stream.get_mut().write_all(&body).await
        };
        if written.await.is_err() {
            return;
        }
    }
}

/// Reads one request: method, path and body. `None` when the connection is closed or broken.
async fn read_request(stream: &mut BufReader<TcpStream>) -> Option<(String, String, Vec<u8>)> {
    let mut line = String::new();
    if stream.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut length = 0;
    loop {
        let mut header = String::new();
        if stream.read_line(&mut header).await.ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    if length > MAX_REQUEST_BYTES {
        return None;
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.ok()?;
    Some((method, path, body))
}

/// The status and body for one endpoint.
async fn answer(rpc: &BitcoindRpc, method: &str, endpoint: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let segments: Vec<&str> = endpoint.trim_start_matches('/').split('/').collect();
    let result = match (method, segments.as_slice()) {
        ("GET", ["blocks", "tip", "hash"]) => rpc.get_best_block().await.map(|tip| text(tip.block_hash)),
        ("GET", ["blocks", "tip", "height"]) => rpc.get_best_block().await.map(|tip| text(tip.height)),
        ("GET", ["block-height", height]) => match height.parse::<u32>() {
            Ok(height) => rpc.get_block_hash(height).await.map(|hash| hash.map_or_else(not_found, text)),
            Err(_) => Ok((400, b"Invalid height".to_vec())),
        },
        ("GET", ["block", hash, "header"]) => hex_call(rpc, "getblockheader", json!([hash, false])).await,
        ("GET", ["block", hash, "raw"]) => match hex_call(rpc, "getblock", json!([hash, 0])).await {
            Ok((200, hex)) => Ok(Vec::<u8>::from_hex(&String::from_utf8_lossy(&hex))
                .map_or_else(|_| (502, b"bad hex from the node".to_vec()), |raw| (200, raw))),
            other => other,
        },
        ("GET", ["fee-estimates"]) => Ok(fee_estimates(rpc).await),
        ("GET", ["scripthash", hash, "txs", "mempool"]) => mempool_txs(rpc, hash).await,
        ("POST", ["tx"]) => {
            let hex = String::from_utf8_lossy(body).trim().to_owned();
            match rpc.call("sendrawtransaction", json!([hex])).await {
                Ok(txid) => Ok((200, txid.as_str().unwrap_or_default().as_bytes().to_vec())),
                Err(ChainError::Rpc { code, message }) => {
                    let error = json!({"code": code, "message": message});
                    Ok((400, format!("sendrawtransaction RPC error: {error}").into_bytes()))
                }
                Err(error) => Err(error),
            }
        }
        _ => Ok((404, b"no such endpoint".to_vec())),
    };
    result.unwrap_or_else(|error| (502, error.to_string().into_bytes()))
}

/// The mempool transactions paying the script whose SHA-256 is `hash`, in Esplora's JSON
/// (`txid`, `weight`, `fee` when the node knows the parents' values, `vout`, `status`).
async fn mempool_txs(rpc: &BitcoindRpc, hash: &str) -> Result<(u16, Vec<u8>), ChainError> {
    let Ok(wanted) = hash.parse::<sha256::Hash>() else { return Ok((400, b"Invalid script hash".to_vec())) };
    let paying = rpc.mempool_paying(|script| sha256::Hash::hash(script.as_bytes()) == wanted).await?;
    let txs: Vec<Value> = paying
        .iter()
        .map(|(tx, fee)| {
            let vout: Vec<Value> = tx
                .output
                .iter()
                .map(|o| json!({"scriptpubkey": o.script_pubkey.to_hex_string(), "value": o.value.to_sat()}))
                .collect();
            let mut entry = json!({
                "txid": tx.compute_txid().to_string(),
                "weight": tx.weight().to_wu(),
                "vout": vout,
                "status": {"confirmed": false},
            });
            if let Some(fee) = fee {
                entry["fee"] = json!(fee);
            }
            entry
        })
        .collect();
    Ok((200, Value::Array(txs).to_string().into_bytes()))
}

fn text(value: impl std::fmt::Display) -> (u16, Vec<u8>) {
    (200, value.to_string().into_bytes())
}

fn not_found() -> (u16, Vec<u8>) {
    (404, b"Block not found".to_vec())
}

/// A call whose result is a hex string, served as text; an RPC error (unknown block) is a 404.
async fn hex_call(rpc: &BitcoindRpc, method: &str, params: Value) -> Result<(u16, Vec<u8>), ChainError> {
    match rpc.call(method, params).await {
        Ok(Value::String(hex)) => Ok((200, hex.into_bytes())),
        Ok(_) => Ok((502, format!("{method} did not return a string").into_bytes())),
        Err(ChainError::Rpc { .. }) => Ok(not_found()),
        Err(error) => Err(error),
    }
}

/// `estimatesmartfee` for each target, converted from BTC/kvB to sat/vB; targets without an
/// estimate are left out (bcoin has none on regtest, so the map is empty).
async fn fee_estimates(rpc: &BitcoindRpc) -> (u16, Vec<u8>) {
    let mut estimates = serde_json::Map::new();
    for target in FEE_TARGETS {
        if let Ok(result) = rpc.call("estimatesmartfee", json!([target])).await {
            if let Some(btc_per_kvb) = result.get("feerate").and_then(Value::as_f64).filter(|rate| *rate > 0.0) {
                estimates.insert(target.to_string(), json!(btc_per_kvb * 100_000.0));
            }
        }
    }
    (200, Value::Object(estimates).to_string().into_bytes())
}
