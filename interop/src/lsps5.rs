//! LDK's own LSPS5 (bLIP-55) from lightning-liquidity 0.2.7, and a local HTTPS webhook.
//!
//! ldk-node 0.7.1 builds its `LiquidityManager` with `lsps5_service_config = None` and
//! `lsps5_client_config = None`, so LDK's LSPS5 is driven here without ldk-node:
//! [`LdkLiquidityNode`] is an inbound-node Lightning node (real peers over TCP, real channels on
//! the bcoin chain) with lightning-liquidity's [`LiquidityManager`](lightning_liquidity::LiquidityManager)
//! (the `Sync` wrapper) as its LSPS0 endpoint: every type-37913 payload the node receives goes
//! to the manager's `CustomMessageHandler::handle_custom_message` as a `RawLSPSMessage`, exactly
//! as LDK's `PeerManager` would hand it over, and everything the manager queues
//! (`get_and_clear_pending_msg`) goes out through the node's LSPS0 transport. The manager signs
//! with the node's own `KeysManager` ([`Node::keys_manager`]), so an LDK LSP's notifications
//! carry the node id peers know.
//!
//! * [`LdkLiquidityNode`]: the node plus the manager; [`wait_liquidity_event`] for its events.
//! * [`InboundLsps5Wallet`]: Inbound's wallet side (inbound-node + `inbound_client::lsps5`).
//! * [`Webhook`]: an HTTPS server for `localhost` (rcgen certificate, rustls) that records every
//!   POST's raw headers and body and answers 200; [`post_notification`] POSTs as an LSP would.
//!
//! Substitutes, none on the path under test: the manager's KV store is in memory
//! ([`MemoryStore`]; persistence across restarts is not tested), and its broadcaster forwards to
//! the node's chain source (only LDK's LSPS2 service broadcasts; it is off).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use inbound_client::lsps5::Lsps5Client;
use inbound_client::{ClientConfig, LspsClient, LspsOutbound};
use inbound_node::bitcoin::secp256k1::PublicKey;
use inbound_node::bitcoin::{Network, Transaction};
use inbound_node::chain::ChainSource;
use inbound_node::lightning::chain::chaininterface::BroadcasterInterface;
use inbound_node::lightning::io;
use inbound_node::lightning::ln::msgs::Init;
use inbound_node::lightning::ln::peer_handler::CustomMessageHandler;
use inbound_node::lightning::sign::KeysManager;
use inbound_node::lightning::types::features::InitFeatures;
use inbound_node::lightning::util::logger::Level;
use inbound_node::lightning::util::persist::KVStoreSync;
use inbound_node::lsps0::Lsps0Transport;
use inbound_node::types::{ChannelManager, DynFilter};
use inbound_node::{BitcoindRpcConfig, LspsMessageHandler, Node, NodeBuilder, NodeRole};
use lightning_liquidity::lsps0::ser::RawLSPSMessage;
use lightning_liquidity::utils::time::TimeProvider;
use lightning_liquidity::{LiquidityClientConfig, LiquidityManagerSync, LiquidityServiceConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// lightning-liquidity's manager over an inbound-node node's parts.
pub type Liquidity = LiquidityManagerSync<
    Arc<KeysManager>,
    Arc<KeysManager>,
    Arc<ChannelManager>,
    Arc<DynFilter>,
    Arc<MemoryStore>,
    Arc<SystemTime>,
    Arc<ChainBroadcaster>,
>;

/// The system clock, as lightning-liquidity's [`TimeProvider`] (its own `DefaultTimeProvider`
/// needs the crate's `time` feature, which ldk-node does not enable).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemTime;

impl TimeProvider for SystemTime {
    fn duration_since_epoch(&self) -> Duration {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default()
    }
}

/// An in-memory [`KVStoreSync`] for the manager's state (the LSPS5 service's webhooks and its
/// event queue).
#[derive(Default)]
pub struct MemoryStore(Mutex<HashMap<(String, String, String), Vec<u8>>>);

impl KVStoreSync for MemoryStore {
    fn read(&self, primary: &str, secondary: &str, key: &str) -> Result<Vec<u8>, io::Error> {
        let entries = self.0.lock().map_err(|_| io::Error::new(io::ErrorKind::Other, "poisoned"))?;
        entries
            .get(&(primary.to_owned(), secondary.to_owned(), key.to_owned()))
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such key"))
    }

    fn write(&self, primary: &str, secondary: &str, key: &str, buf: Vec<u8>) -> Result<(), io::Error> {
        let mut entries = self.0.lock().map_err(|_| io::Error::new(io::ErrorKind::Other, "poisoned"))?;
        entries.insert((primary.to_owned(), secondary.to_owned(), key.to_owned()), buf);
        Ok(())
    }

    fn remove(&self, primary: &str, secondary: &str, key: &str, _lazy: bool) -> Result<(), io::Error> {
        let mut entries = self.0.lock().map_err(|_| io::Error::new(io::ErrorKind::Other, "poisoned"))?;
        entries.remove(&(primary.to_owned(), secondary.to_owned(), key.to_owned()));
        Ok(())
    }

    fn list(&self, primary: &str, secondary: &str) -> Result<Vec<String>, io::Error> {
        let entries = self.0.lock().map_err(|_| io::Error::new(io::ErrorKind::Other, "poisoned"))?;
        Ok(entries.keys().filter(|(p, s, _)| p == primary && s == secondary).map(|(_, _, key)| key.clone()).collect())
    }
}

/// Broadcasts through the node's chain source (on the runtime the node was built on).
pub struct ChainBroadcaster {
    chain: Arc<dyn ChainSource>,
    runtime: tokio::runtime::Handle,
}

impl BroadcasterInterface for ChainBroadcaster {
    fn broadcast_transactions(&self, txs: &[&Transaction]) {
        for tx in txs {
            let (chain, tx) = (Arc::clone(&self.chain), (*tx).clone());
            self.runtime.spawn(async move {
                if let Err(error) = chain.broadcast(&tx).await {
                    eprintln!("broadcasting {}: {error}", tx.compute_txid());
                }
            });
        }
    }
}

/// The node's LSPS0 handler: payloads in to the manager, the manager's queue out to the node's
/// transport.
#[derive(Default)]
struct LiquidityEndpoint {
    liquidity: OnceLock<Arc<Liquidity>>,
    transport: OnceLock<Arc<Lsps0Transport>>,
}

impl LiquidityEndpoint {
    /// Sends everything the manager has queued.
    fn flush(&self) {
        let (Some(liquidity), Some(transport)) = (self.liquidity.get(), self.transport.get()) else { return };
        for (peer, message) in liquidity.get_and_clear_pending_msg() {
            if let Err(error) = transport.send(peer, message.payload.into_bytes()) {
                eprintln!("LDK liquidity manager: sending to {peer}: {error}");
            }
        }
    }
}

impl LspsMessageHandler for LiquidityEndpoint {
    fn handle(&self, peer: PublicKey, payload: Vec<u8>) {
        let Some(liquidity) = self.liquidity.get() else { return };
        match String::from_utf8(payload) {
            // LDK's PeerManager would log the error (an `IgnoreAndLog` action); any answer the
            // manager queued first (an LSPS5 error response, say) goes out below either way.
            Ok(payload) => {
                if let Err(error) = liquidity.handle_custom_message(RawLSPSMessage { payload }, peer) {
                    eprintln!("LDK liquidity manager, message from {peer}: {}", error.err);
                }
            }
            Err(_) => eprintln!("LDK liquidity manager: a non-UTF-8 payload from {peer}"),
        }
        self.flush();
    }

    fn peer_connected(&self, peer: PublicKey, _peer_advertises_lsps: bool) {
        let Some(liquidity) = self.liquidity.get() else { return };
        // The manager ignores the `init` message; only LDK's PeerManager would have it.
        let init = Init { features: InitFeatures::empty(), networks: None, remote_network_address: None };
        let _ = liquidity.peer_connected(peer, &init, false);
        self.flush();
    }

    fn peer_disconnected(&self, peer: PublicKey) {
        if let Some(liquidity) = self.liquidity.get() {
            liquidity.peer_disconnected(peer);
        }
    }
}

/// An inbound-node node whose LSPS0 endpoint is lightning-liquidity's manager.
pub struct LdkLiquidityNode {
    /// The node.
    pub node: Arc<Node>,
    /// LDK's manager (`lsps5_client_handler()`, `lsps5_service_handler()`, events).
    pub liquidity: Arc<Liquidity>,
    endpoint: Arc<LiquidityEndpoint>,
}

impl LdkLiquidityNode {
    /// Builds and starts the node in `dir` on the bcoin node at `rpc_url` (role `role`,
    /// listening on `listen` if set), with a manager of the given service and client configs.
    ///
    /// # Errors
    /// If the node or the manager cannot be built or the node cannot start.
    pub async fn start(
        dir: &Path,
        alias: &str,
        rpc_url: &str,
        role: NodeRole,
        listen: Option<SocketAddr>,
        service: Option<LiquidityServiceConfig>,
        client: Option<LiquidityClientConfig>,
    ) -> Result<LdkLiquidityNode> {
        let endpoint = Arc::new(LiquidityEndpoint::default());
        let mut chain = BitcoindRpcConfig::new(rpc_url);
        chain.poll_interval = Duration::from_secs(1);
        let mut builder = NodeBuilder::new(dir);
        builder
            .set_network(Network::Regtest)
            .set_role(role)
            .set_alias(alias.to_string())
            .set_listen_address(listen)
            .set_log_level(Level::Warn)
            .set_chain_source_bitcoind_rpc(chain)
            .set_lsps_message_handler(Arc::clone(&endpoint) as Arc<dyn LspsMessageHandler>);
        let node = Arc::new(builder.build().await.with_context(|| format!("building {alias}"))?);
        let broadcaster = Arc::new(ChainBroadcaster {
            chain: Arc::clone(node.chain_source()),
            runtime: tokio::runtime::Handle::current(),
        });
        let liquidity = Arc::new(
            Liquidity::new_with_custom_time_provider(
                Arc::clone(node.keys_manager()),
                // The node's own signer: an LSP's notifications are signed with its node key.
                Arc::clone(node.keys_manager()),
                Arc::clone(node.channel_manager()),
                None,
                None,
                Arc::new(MemoryStore::default()),
                broadcaster,
                service,
                client,
                Arc::new(SystemTime),
            )
            .map_err(|e| anyhow!("building {alias}'s liquidity manager: {e}"))?,
        );
        endpoint.liquidity.set(Arc::clone(&liquidity)).map_err(|_| anyhow!("manager set twice"))?;
        endpoint.transport.set(Arc::clone(node.lsps_transport())).map_err(|_| anyhow!("transport set twice"))?;
        node.start().await.with_context(|| format!("starting {alias}"))?;
        Ok(LdkLiquidityNode { node, liquidity, endpoint })
    }

    /// Sends what the manager queued (call after each client call: LDK's PeerManager would
    /// pick it up on its next `process_events`).
    pub fn flush(&self) {
        self.endpoint.flush();
    }

    /// Stops the node.
    ///
    /// # Errors
    /// If the final persistence fails.
    pub async fn stop(&self) -> Result<()> {
        self.node.stop().await.map_err(|e| anyhow!("stopping: {e}"))
    }
}

/// Waits up to `timeout` for a manager event `select` picks (others are dropped).
///
/// # Errors
/// On timeout, or the error `select` returns.
pub async fn wait_liquidity_event<T>(
    liquidity: &Liquidity,
    what: &str,
    timeout: Duration,
    mut select: impl FnMut(lightning_liquidity::events::LiquidityEvent) -> Option<Result<T>>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        while let Some(event) = liquidity.next_event() {
            if let Some(outcome) = select(event) {
                return outcome;
            }
        }
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Inbound's wallet side for LSPS5: an inbound-node wallet node (default channel acceptor)
/// whose LSPS0 endpoint is an [`LspsClient`], and the [`Lsps5Client`] over it, wired as
/// `inbound client webhook` does.
pub struct InboundLsps5Wallet {
    /// The node (role wallet, not listening).
    pub node: Arc<Node>,
    /// `lsps5.set_webhook` / `list_webhooks` / `remove_webhook`.
    pub lsps5: Lsps5Client,
}

impl InboundLsps5Wallet {
    /// Builds and starts the wallet in `dir` on the bcoin node at `rpc_url`.
    ///
    /// # Errors
    /// If the node cannot be built or started.
    pub async fn start(dir: &Path, alias: &str, rpc_url: &str) -> Result<InboundLsps5Wallet> {
        let client = LspsClient::new(ClientConfig::default());
        let mut chain = BitcoindRpcConfig::new(rpc_url);
        chain.poll_interval = Duration::from_secs(1);
        let mut builder = NodeBuilder::new(dir);
        builder
            .set_network(Network::Regtest)
            .set_role(NodeRole::Wallet)
            .set_alias(alias.to_string())
            .set_listen_address(None)
            .set_log_level(Level::Warn)
            .set_chain_source_bitcoind_rpc(chain)
            .set_lsps_message_handler(Arc::clone(&client) as Arc<dyn LspsMessageHandler>);
        let node = Arc::new(builder.build().await.with_context(|| format!("building {alias}"))?);
        client.attach(Arc::clone(node.lsps_transport()) as Arc<dyn LspsOutbound>);
        node.start().await.with_context(|| format!("starting {alias}"))?;
        Ok(InboundLsps5Wallet { node, lsps5: Lsps5Client::new(client) })
    }
}

/// One request the webhook received: its headers (names lowercase, values as sent) and the raw
/// body bytes.
#[derive(Clone, Debug)]
pub struct Received {
    /// Method and target, e.g. `POST /lsps5/abc`.
    pub request_line: String,
    /// `(name, value)` in the order received; names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body, byte for byte.
    pub body: Vec<u8>,
}

impl Received {
    /// The value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// An HTTPS server for `localhost` with a self-signed certificate that records every request
/// (HTTP/1.1, `content-length` bodies) and answers `200 OK`.
pub struct Webhook {
    /// `https://localhost:<port>`.
    pub base_url: String,
    /// The PEM of its certificate (trust it to reach the server).
    pub ca_file: PathBuf,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Webhook {
    /// Starts the server; its certificate is written to `dir/webhook-ca.pem`.
    ///
    /// # Errors
    /// If the certificate or the listener cannot be made.
    pub async fn start(dir: &Path) -> Result<Webhook> {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).context("certificate")?;
        let ca_file = dir.join("webhook-ca.pem");
        std::fs::write(&ca_file, certified.cert.pem()).context("writing the certificate")?;
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .context("TLS versions")?
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)
            .context("TLS server config")?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.context("binding the webhook")?;
        let base_url = format!("https://localhost:{}", listener.local_addr()?.port());
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let recorder = Arc::clone(&received);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, recorder) = (acceptor.clone(), Arc::clone(&recorder));
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let Some(request) = read_request(&mut tls).await else { return };
                    if let Ok(mut all) = recorder.lock() {
                        all.push(request);
                    }
                    let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        Ok(Webhook { base_url, ca_file, received })
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().map(|all| all.clone()).unwrap_or_default()
    }

    /// Waits until at least `count` requests have arrived; returns them all.
    ///
    /// # Errors
    /// After `timeout`.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Result<Vec<Received>> {
        let deadline = Instant::now() + timeout;
        loop {
            let all = self.received();
            if all.len() >= count {
                return Ok(all);
            }
            if Instant::now() > deadline {
                bail!("the webhook received {} of {count} requests in {timeout:?}", all.len());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Reads one HTTP/1.1 request: head up to the blank line, then `content-length` bytes.
async fn read_request<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Option<Received> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
        let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default().to_owned();
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        let length = headers
            .iter()
            .find(|(name, _)| name == "content-length")
            .and_then(|(_, value)| value.parse::<usize>().ok())
            .unwrap_or(0);
        if buffer.len() < end + 4 + length {
            continue;
        }
        let body = buffer[end + 4..end + 4 + length].to_vec();
        return Some(Received { request_line, headers, body });
    }
}

/// POSTs `body` with `headers` to `url` as an LSP delivering a notification does (no
/// redirects), trusting the certificate in `ca_file`; returns the status.
///
/// # Errors
/// If the certificate cannot be read or the request fails.
pub async fn post_notification(url: &str, headers: &[(String, String)], body: Vec<u8>, ca_file: &Path) -> Result<u16> {
    let pem = std::fs::read(ca_file).context("reading the webhook's certificate")?;
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).context("the webhook's certificate")?)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .context("HTTP client")?;
    let mut request = client.post(url).body(body);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request.send().await.with_context(|| format!("POST {url}"))?;
    Ok(response.status().as_u16())
}

/// Polls until `node` lists a usable channel with `peer`.
///
/// # Errors
/// After `timeout`.
pub async fn wait_usable_channel(node: &Node, peer: PublicKey, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if node.list_channels().iter().any(|c| c.counterparty.node_id == peer && c.is_usable) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("no usable channel with {peer} after {timeout:?}: {:?}", node.list_channels());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
