//! [`LspsServer`]: the LSP's end of LSPS0 (bLIP-50).
//!
//! ```text
//! payload ─decode_request─▶ request ─into_request(enabled)─▶ Request
//!   │ format error            │ notification                 │ -32601 / -32602   │ lsps0.list_protocols   │ LSPS1/2/5
//!   ▼                         ▼                              ▼                   ▼                        ▼
//! -32700, id null          ignored, logged              error answer        answered at once     pending caps ─full─▶ -32000
//!                                                                                                     │ slot taken
//!                                                                                                     ▼
//!                                                                              tokio task: ProtocolHandler::handle → answer
//! ```
//!
//! Everything left of the last column happens inside [`LspsServer::on_message`], on the thread
//! that read the peer's message; it only decodes, looks things up and queues bytes, so it never
//! blocks. Handled requests run as tokio tasks and may be answered out of order (bLIP-50 allows
//! it). A handler that panics is answered with -32603.
//!
//! [`LspsServer::call`] runs the same pipeline for request/response transports (HTTP) and
//! returns the answer instead of sending it; only the last step, where the bytes go, differs.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use bitcoin::secp256k1::PublicKey;
use lsps::jsonrpc::{RequestId, RpcError};
use lsps::lsps0::ListProtocolsResponse;
use lsps::method::{Protocol, Request, Response};
use lsps::server::{decode_request, encode_response, parse_error_response};
use tracing::{debug, error, info};

use crate::config::{ErrorData, LspsServerConfig, TOO_MANY_PENDING_CODE, TOO_MANY_PENDING_MESSAGE};
use crate::log_limit::{limited_warn, preview, LogLimiter};
use crate::node_adapter::LspsOutbound;
use crate::pending::{PendingSlot, PendingTable, Refusal};

/// A boxed, sendable future, as [`ProtocolHandler::handle`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Decides which peers the server refuses ([`LspsServer::set_gate`]): their requests for
/// LSPS1, LSPS2 and LSPS5 are answered with code 1, "Client rejected".
pub trait ClientGate: Send + Sync {
    /// Whether `peer`'s requests are refused.
    fn refuses(&self, peer: &PublicKey) -> bool;
}

/// The logic of one protocol beyond LSPS0 (LSPS1, LSPS2, LSPS5), registered with
/// [`LspsServer::register`].
pub trait ProtocolHandler: Send + Sync {
    /// The protocol whose methods this handler answers.
    fn protocol(&self) -> Protocol;

    /// Answers one request of [`ProtocolHandler::protocol`], already decoded and checked
    /// against the method's params. The future runs as its own tokio task; it may take as long
    /// as it needs, but holds one of the peer's pending slots meanwhile.
    ///
    /// Return a [`Response`] of the request's method, or the error to send (the protocol's own
    /// codes, or [`RpcError::internal_error`] with the detail logged, never sent).
    fn handle(&self, peer: PublicKey, request: Request) -> BoxFuture<'static, Result<Response, RpcError>>;
}

/// Counters since the server was created. See [`LspsServer::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LspsServerStats {
    /// Payloads received, whatever they held: type-37913 messages and [`LspsServer::call`]s.
    pub requests: u64,
    /// Answers queued for sending or returned by [`LspsServer::call`] (results and errors,
    /// -32700 included).
    pub answered: u64,
    /// Payloads that failed LSPS0's format checks (answered with -32700, `id: null`).
    pub parse_errors: u64,
    /// Well-formed JSON-RPC notifications, which are never answered.
    pub notifications: u64,
    /// Requests refused because a pending cap was reached (answered with
    /// [`TOO_MANY_PENDING_CODE`](crate::TOO_MANY_PENDING_CODE)).
    pub rejected_over_limit: u64,
    /// Answers that could not be queued (peer gone, outbound queue full, no transport attached).
    pub dropped_sends: u64,
    /// Requests in flight right now.
    pub pending: usize,
    /// The most requests ever in flight at once.
    pub peak_pending: usize,
    /// Peers with requests in flight right now.
    pub peers_with_pending: usize,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    answered: AtomicU64,
    parse_errors: AtomicU64,
    notifications: AtomicU64,
    rejected_over_limit: AtomicU64,
    dropped_sends: AtomicU64,
}

/// What the server's tasks share with it.
struct Shared {
    outbound: RwLock<Option<Arc<dyn LspsOutbound>>>,
    error_data: ErrorData,
    counters: Counters,
    log: LogLimiter,
}

/// The LSP's LSPS0 server: decodes every type-37913 payload, answers LSPS0 itself and hands
/// other protocols to their [`ProtocolHandler`]s. Give it to the node as its
/// [`LspsMessageHandler`](inbound_node::LspsMessageHandler), then [`attach`](LspsServer::attach)
/// the node's transport.
pub struct LspsServer {
    config: LspsServerConfig,
    handlers: RwLock<HashMap<Protocol, Arc<dyn ProtocolHandler>>>,
    pending: Arc<PendingTable>,
    shared: Arc<Shared>,
    gate: RwLock<Option<Arc<dyn ClientGate>>>,
}

impl LspsServer {
    /// A server with no transport and no handlers: until [`attach`](LspsServer::attach), answers
    /// are counted as dropped sends.
    pub fn new(config: LspsServerConfig) -> Arc<LspsServer> {
        let pending = PendingTable::new(config.max_pending_per_peer, config.max_pending_total);
        let error_data = config.compat.error_data();
        Arc::new(LspsServer {
            config,
            handlers: RwLock::new(HashMap::new()),
            pending,
            shared: Arc::new(Shared {
                outbound: RwLock::new(None),
                error_data,
                counters: Counters::default(),
                log: LogLimiter::new(),
            }),
            gate: RwLock::new(None),
        })
    }

    /// Refuses the peers `gate` names (banned clients) with code 1 for every method but
    /// LSPS0's.
    pub fn set_gate(&self, gate: Arc<dyn ClientGate>) {
        *self.gate.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(gate);
    }

    /// Sets where answers go, normally the node's
    /// [`lsps_transport`](inbound_node::Node::lsps_transport). Call it once the node is built
    /// (the node needs this server as its handler first), and again after rebuilding the node.
    pub fn attach(&self, outbound: Arc<dyn LspsOutbound>) {
        *self.shared.outbound.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(outbound);
    }

    /// Registers the handler of a protocol beyond LSPS0, replacing any earlier one. The protocol
    /// is served only if [`LspsServerConfig::enabled_protocols`] lists it. LSPS0 is built in and
    /// cannot be replaced: such a registration is ignored and logged.
    pub fn register(&self, handler: Arc<dyn ProtocolHandler>) {
        let protocol = handler.protocol();
        if protocol == Protocol::Lsps0 {
            error!("ignoring a handler for LSPS0, which the server answers itself");
            return;
        }
        if !self.config.enabled_protocols.contains(&protocol) {
            info!(
                protocol = protocol.number(),
                "handler registered for a protocol that is not enabled; not serving it"
            );
        }
        self.handlers.write().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(protocol, handler);
    }

    /// The protocols served now: enabled in the configuration and with a registered handler.
    /// LSPS0 is implied and not listed.
    pub fn served_protocols(&self) -> Vec<Protocol> {
        let handlers = self.handlers.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut served: Vec<Protocol> =
            self.config.enabled_protocols.iter().copied().filter(|p| handlers.contains_key(p)).collect();
        served.sort_unstable();
        served.dedup();
        served
    }

    /// A snapshot of the counters and of the pending requests.
    pub fn stats(&self) -> LspsServerStats {
        let counters = &self.shared.counters;
        LspsServerStats {
            requests: counters.requests.load(Ordering::Relaxed),
            answered: counters.answered.load(Ordering::Relaxed),
            parse_errors: counters.parse_errors.load(Ordering::Relaxed),
            notifications: counters.notifications.load(Ordering::Relaxed),
            rejected_over_limit: counters.rejected_over_limit.load(Ordering::Relaxed),
            dropped_sends: counters.dropped_sends.load(Ordering::Relaxed),
            pending: self.pending.total(),
            peak_pending: self.pending.peak_total(),
            peers_with_pending: self.pending.peers(),
        }
    }

    /// In-flight requests of `peer`.
    pub fn pending_for(&self, peer: &PublicKey) -> usize {
        self.pending.for_peer(peer)
    }

    /// Handles one payload from `peer`; see the module documentation. Never blocks and never
    /// panics on input. This is what [`LspsMessageHandler::handle`](inbound_node::LspsMessageHandler::handle)
    /// calls.
    pub fn on_message(&self, peer: PublicKey, payload: &[u8]) {
        match self.process(peer, payload) {
            Step::Answer(answer) => self.shared.send(peer, answer),
            Step::Silent => {}
            Step::Handle { runtime, run, .. } => {
                let shared = Arc::clone(&self.shared);
                runtime.spawn(async move { shared.send(peer, run.await) });
            }
        }
    }

    /// Runs `payload` from `peer` through the same pipeline as [`LspsServer::on_message`]
    /// (format checks, method lookup, pending caps, handler, timeout, encoding) and returns the
    /// answer instead of sending it: `None` for a notification, which is never answered. For
    /// request/response transports such as HTTP, where `peer` is the identity the client claims.
    ///
    /// A handled request runs in its own task, so dropping this future (an HTTP client that went
    /// away) does not free the pending slot before the handler returns.
    pub async fn call(&self, peer: PublicKey, payload: &[u8]) -> Option<Vec<u8>> {
        let answer = match self.process(peer, payload) {
            Step::Answer(answer) => answer,
            Step::Silent => return None,
            Step::Handle { runtime, id, run } => match runtime.spawn(run).await {
                Ok(answer) => answer,
                Err(join_error) => {
                    error!(%peer, %join_error, "LSPS request task failed; answering -32603");
                    self.shared.encode(peer, &id, Err(&RpcError::internal_error()))
                }
            },
        };
        self.shared.counters.answered.fetch_add(1, Ordering::Relaxed);
        Some(answer)
    }

    /// The pipeline shared by [`LspsServer::on_message`] and [`LspsServer::call`]: everything
    /// but delivering the answer.
    fn process(&self, peer: PublicKey, payload: &[u8]) -> Step {
        self.shared.counters.requests.fetch_add(1, Ordering::Relaxed);
        let incoming = match decode_request(payload) {
            Ok(incoming) => incoming,
            Err(format_error) => {
                self.shared.counters.parse_errors.fetch_add(1, Ordering::Relaxed);
                limited_warn!(
                    self.shared.log,
                    %peer,
                    len = payload.len(),
                    error = %lsps::jsonrpc::sanitize_text(&format_error.to_string()),
                    preview = %preview(payload),
                    "malformed LSPS0 message; answering -32700"
                );
                return Step::Answer(parse_error_response());
            }
        };
        let Some(id) = incoming.id.clone() else {
            self.shared.counters.notifications.fetch_add(1, Ordering::Relaxed);
            limited_warn!(
                self.shared.log,
                %peer,
                method = %lsps::jsonrpc::sanitize_text(&incoming.method),
                "ignoring a JSON-RPC notification from a client"
            );
            return Step::Silent;
        };
        let served = self.served_protocols();
        let request = match incoming.into_request(&served) {
            Ok(request) => request,
            Err(rpc_error) => {
                debug!(%peer, code = rpc_error.code, "refusing request");
                return Step::Answer(self.shared.encode(peer, &id, Err(&rpc_error)));
            }
        };
        if let Request::Lsps0ListProtocols(_) = request {
            let answer = Response::Lsps0ListProtocols(ListProtocolsResponse::for_enabled(&served));
            return Step::Answer(self.shared.encode(peer, &id, Ok(&answer)));
        }
        self.dispatch(peer, id, request)
    }

    /// Called when `peer` disconnects. The server keeps no per-connection state besides the
    /// pending slots, which stay taken until the peer's handlers return (see the `pending` module);
    /// their answers are then dropped and counted.
    pub fn on_peer_disconnected(&self, peer: PublicKey) {
        let in_flight = self.pending.for_peer(&peer);
        if in_flight > 0 {
            debug!(%peer, in_flight, "peer disconnected with requests in flight");
        }
    }

    /// Hands a request to its protocol's handler in a new task, if the caps allow.
    fn dispatch(&self, peer: PublicKey, id: RequestId, request: Request) -> Step {
        let method = request.method();
        let handler = self
            .handlers
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&method.protocol())
            .map(Arc::clone);
        let Some(handler) = handler else {
            // `served_protocols` only lists protocols with a handler; a handler cannot be
            // unregistered, so this is unreachable. Answer sensibly anyway.
            return Step::Answer(self.shared.encode(peer, &id, Err(&RpcError::method_not_found())));
        };
        let gate = self.gate.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        if gate.is_some_and(|gate| gate.refuses(&peer)) {
            limited_warn!(self.shared.log, %peer, method = method.name(), "refusing a banned client");
            let refused = RpcError::client_rejected("the LSP does not serve this node");
            crate::metrics::lsps_request(method.name(), Some(refused.code), std::time::Duration::ZERO);
            return Step::Answer(self.shared.encode(peer, &id, Err(&refused)));
        }
        let slot = match self.pending.try_reserve(peer) {
            Ok(slot) => slot,
            Err(refusal) => {
                self.shared.counters.rejected_over_limit.fetch_add(1, Ordering::Relaxed);
                let cap = match refusal {
                    Refusal::PeerCap => "per-peer",
                    Refusal::TotalCap => "total",
                };
                limited_warn!(self.shared.log, %peer, cap, "pending cap reached; refusing request");
                let refused = RpcError::new(TOO_MANY_PENDING_CODE, TOO_MANY_PENDING_MESSAGE);
                return Step::Answer(self.shared.encode(peer, &id, Err(&refused)));
            }
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            error!("LSPS request arrived outside a tokio runtime; answering -32603");
            return Step::Answer(self.shared.encode(peer, &id, Err(&RpcError::internal_error())));
        };
        let future = handler.handle(peer, request);
        let shared = Arc::clone(&self.shared);
        let run = Box::pin(run_handler(shared, peer, id.clone(), method, future, slot));
        Step::Handle { runtime, id, run }
    }
}

/// What [`LspsServer::process`] decided for one payload.
enum Step {
    /// The encoded answer, ready now.
    Answer(Vec<u8>),
    /// A notification: nothing may be sent.
    Silent,
    /// A request for a protocol handler: `run` (to be spawned on `runtime`) yields the encoded
    /// answer and holds the pending slot until then.
    Handle { runtime: tokio::runtime::Handle, id: RequestId, run: BoxFuture<'static, Vec<u8>> },
}

/// How long a protocol handler may take before the request is answered with -32603 and its
/// pending slot freed. Handlers do a few database writes and LDK calls; a minute is generous.
pub const HANDLER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs a handler's future in its own task, so that a panic becomes -32603 instead of a lost
/// answer and a hang ends after [`HANDLER_TIMEOUT`], then frees the slot and returns the
/// encoded answer.
async fn run_handler(
    shared: Arc<Shared>,
    peer: PublicKey,
    id: RequestId,
    method: lsps::method::Method,
    future: BoxFuture<'static, Result<Response, RpcError>>,
    slot: PendingSlot,
) -> Vec<u8> {
    let started = std::time::Instant::now();
    let task = tokio::spawn(future);
    let abort = task.abort_handle();
    let joined = match tokio::time::timeout(HANDLER_TIMEOUT, task).await {
        Ok(joined) => joined,
        Err(_) => {
            // A handler that never returns must not hold the peer's slot forever.
            abort.abort();
            error!(
                method = method.name(),
                timeout_secs = HANDLER_TIMEOUT.as_secs(),
                "protocol handler timed out; answering -32603"
            );
            drop(slot);
            let error = RpcError::internal_error();
            crate::metrics::lsps_request(method.name(), Some(error.code), started.elapsed());
            return shared.encode(peer, &id, Err(&error));
        }
    };
    let outcome = match joined {
        Ok(Ok(response)) if response.method() != method => {
            error!(method = method.name(), answered = response.method().name(), "handler answered another method");
            Err(RpcError::internal_error())
        }
        Ok(outcome) => outcome,
        Err(join_error) => {
            error!(method = method.name(), %join_error, "protocol handler failed; answering -32603");
            Err(RpcError::internal_error())
        }
    };
    drop(slot);
    crate::metrics::lsps_request(method.name(), outcome.as_ref().err().map(|error| error.code), started.elapsed());
    shared.encode(peer, &id, outcome.as_ref())
}

impl Shared {
    fn encode(&self, peer: PublicKey, id: &RequestId, outcome: Result<&Response, &RpcError>) -> Vec<u8> {
        let shaped = outcome.err().map(|error| self.error_data.shape(error));
        let mut payload = match &shaped {
            Some(error) => encode_response(Some(id), Err(error)),
            None => encode_response(Some(id), outcome),
        };
        if payload.len() > lsps::framing::MAX_PAYLOAD_BYTES {
            error!(%peer, len = payload.len(), "answer does not fit in one LSPS0 message; answering -32603");
            payload = encode_response(Some(id), Err(&RpcError::internal_error()));
        }
        payload
    }

    fn send(&self, peer: PublicKey, payload: Vec<u8>) {
        let outbound = self.outbound.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        let result = match outbound {
            Some(outbound) => outbound.send(peer, payload).map_err(|e| e.to_string()),
            None => Err("no transport attached".to_owned()),
        };
        match result {
            Ok(()) => {
                self.counters.answered.fetch_add(1, Ordering::Relaxed);
            }
            Err(reason) => {
                self.counters.dropped_sends.fetch_add(1, Ordering::Relaxed);
                limited_warn!(self.log, %peer, %reason, "could not queue an LSPS0 answer; dropped");
            }
        }
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
