//! [`RpcProxy`]: a JSON-RPC proxy that makes bcoin 1.0.2 look enough like Bitcoin Core for
//! ldk-node's `bitcoind_rpc` chain source (the two bcoin quirks in the table below).
//!
//! | call | bcoin 1.0.2 | answered |
//! |---|---|---|
//! | `getblockheader <hash> [true]` | `bits` an integer, no `nonce`, genesis `previousblockhash: null` | `bits` as 8 hex digits and `nonce`, both read from the raw 80-byte header; a null `previousblockhash` is dropped |
//! | `estimatesmartfee n` | an RPC error (no estimator data) | Core's "no estimate" shape: `{"errors": [...], "blocks": n}` |
//! | anything else | | passed through |
//!
//! Every request is one JSON-RPC object over HTTP/1.1 keep-alive (what `lightning-block-sync`'s
//! `RpcClient` sends); answers always have status 200 with `result` or `error` set. Sockets have
//! `TCP_NODELAY`: without it LDK's keep-alive client meets Nagle + delayed ACK (90 ms a block).
//! The client's credentials are not checked; the proxy uses the upstream URL's own.

use std::sync::Arc;

use anyhow::{Context, Result};
use inbound_node::chain::{BitcoindRpc, BitcoindRpcConfig, ChainError};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Largest request body accepted (a transaction in hex).
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Largest request head accepted.
const MAX_HEAD_LINES: usize = 64;

/// A running proxy; stopped when dropped.
pub struct RpcProxy {
    port: u16,
    task: JoinHandle<()>,
}

impl RpcProxy {
    /// Listens on a free local port and forwards to the JSON-RPC server at `upstream_url`
    /// (`http://user:password@host:port/`).
    ///
    /// # Errors
    /// If the URL is not usable or no port can be bound.
    pub async fn start(upstream_url: &str) -> Result<RpcProxy> {
        let rpc = Arc::new(BitcoindRpc::new(BitcoindRpcConfig::new(upstream_url)).context("upstream RPC url")?);
        let listener = TcpListener::bind("127.0.0.1:0").await.context("binding the RPC proxy")?;
        let port = listener.local_addr().context("RPC proxy address")?.port();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(stream, Arc::clone(&rpc)));
            }
        });
        Ok(RpcProxy { port, task })
    }

    /// The local port (ldk-node's `set_chain_source_bitcoind_rpc` takes host and port apart).
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for RpcProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves one keep-alive connection until the client closes it or sends something unparsable.
async fn serve(stream: TcpStream, rpc: Arc<BitcoindRpc>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let Some(body) = read_request(&mut reader).await else { return };
        let answer = answer(&rpc, &body).await;
        let bytes = serde_json::to_vec(&answer).unwrap_or_default();
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n",
            bytes.len()
        );
        if write.write_all(head.as_bytes()).await.is_err() || write.write_all(&bytes).await.is_err() {
            return;
        }
    }
}

/// Reads one HTTP request and returns its body; `None` at EOF or on a malformed request.
async fn read_request(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<Vec<u8>> {
    let mut content_length = 0usize;
    let mut line = String::new();
    for index in 0..=MAX_HEAD_LINES {
        if index == MAX_HEAD_LINES {
            return None;
        }
        line.clear();
        if reader.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            if index == 0 {
                continue;
            }
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                content_length = value.trim().parse().ok()?;
            }
        }
    }
    if content_length > MAX_BODY_BYTES {
        return None;
    }
    let mut body = vec![0; content_length];
    reader.read_exact(&mut body).await.ok()?;
    Some(body)
}

/// The JSON-RPC answer to one request body.
async fn answer(rpc: &BitcoindRpc, body: &[u8]) -> Value {
    let request: Value = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(error) => {
            return json!({"result": null, "error": {"code": -32700, "message": error.to_string()}, "id": null})
        }
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let method = request.get("method").and_then(Value::as_str).unwrap_or_default().to_owned();
    let params = request.get("params").cloned().unwrap_or_else(|| json!([]));
    let outcome = match method.as_str() {
        "getblockheader" => block_header(rpc, &params).await,
        "estimatesmartfee" => estimate_smart_fee(rpc, &params).await,
        _ => rpc.call(&method, params).await,
    };
    match outcome {
        Ok(result) => json!({"result": result, "error": null, "id": id}),
        Err(ChainError::Rpc { code, message }) => {
            json!({"result": null, "error": {"code": code, "message": message}, "id": id})
        }
        Err(other) => json!({"result": null, "error": {"code": -1, "message": other.to_string()}, "id": id}),
    }
}

/// `getblockheader`, made Core-compatible when verbose (the default).
async fn block_header(rpc: &BitcoindRpc, params: &Value) -> Result<Value, ChainError> {
    let mut header = rpc.call("getblockheader", params.clone()).await?;
    let verbose = params.get(1).and_then(Value::as_bool).unwrap_or(true);
    if !verbose {
        return Ok(header);
    }
    let hash = params.get(0).cloned().unwrap_or(Value::Null);
    let raw = rpc.call("getblockheader", json!([hash, false])).await?;
    let raw =
        raw.as_str().and_then(decode_hex).filter(|raw| raw.len() == 80).ok_or_else(|| {
            ChainError::InvalidResponse("getblockheader <hash> false: expected 80 bytes of hex".into())
        })?;
    if let Some(fields) = header.as_object_mut() {
        // Core writes `bits` as the compact target in big-endian hex; the header holds it
        // little-endian at bytes 72..76, and the nonce at 76..80.
        let bits: String = raw[72..76].iter().rev().map(|byte| format!("{byte:02x}")).collect();
        let nonce = u32::from_le_bytes([raw[76], raw[77], raw[78], raw[79]]);
        fields.insert("bits".into(), json!(bits));
        fields.insert("nonce".into(), json!(nonce));
        if fields.get("previousblockhash").is_some_and(Value::is_null) {
            fields.remove("previousblockhash");
        }
    }
    Ok(header)
}

/// `estimatesmartfee`: bcoin has no estimator data on a fresh regtest chain and answers with an
/// error; Core answers "no estimate" with an `errors` member, which clients treat as "use a
/// fallback rate".
async fn estimate_smart_fee(rpc: &BitcoindRpc, params: &Value) -> Result<Value, ChainError> {
    match rpc.call("estimatesmartfee", params.clone()).await {
        Ok(result) if result.get("feerate").is_some_and(|rate| rate.as_f64().is_some_and(|rate| rate > 0.0)) => {
            Ok(result)
        }
        Ok(_) | Err(ChainError::Rpc { .. }) => {
            let blocks = params.get(0).and_then(Value::as_u64).unwrap_or(1);
            Ok(json!({"errors": ["Insufficient data or no feerate found"], "blocks": blocks}))
        }
        Err(other) => Err(other),
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::decode_hex;

    #[test]
    fn hex_decodes_and_rejects_odd_input() {
        assert_eq!(decode_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(decode_hex("0"), None);
        assert_eq!(decode_hex("zz"), None);
    }
}
