//! [`LspsClient`]: JSON-RPC calls from a wallet to its LSPs over LSPS0 (bLIP-50).
//!
//! Per LSP the client keeps a correlation map (request id → waiting call), bounded by
//! [`ClientConfig::max_pending_per_lsp`], and a `muted` flag. The LSPS0 rules it applies:
//!
//! * ids are 128 random bits from the operating system's CSPRNG, hex encoded;
//! * an answer whose id the client did not send (or no longer waits for) is ignored and logged;
//!   an `id: null` error is logged (it means the LSP could not read something we sent);
//! * a call that times out forgets its id;
//! * a payload failing [`lsps::client::decode_message`] is dropped and logged, and the LSP is
//!   *muted*: its pending calls fail with [`ClientError::Muted`], later calls fail at once with
//!   the same error, and nothing more is sent to it until it disconnects (reconnecting clears it);
//! * a disconnect fails the LSP's pending calls with [`ClientError::NotConnected`].
//!
//! An LSP has an entry only while calls to it are in flight or while it is muted, and the entry
//! goes when the LSP disconnects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use bitcoin::secp256k1::PublicKey;
use lsps::client::{decode_message, encode_request, IncomingMessage, IncomingResponse, RequestId};
use lsps::jsonrpc::{sanitize_text, RpcError};
use lsps::lsps0::ListProtocolsRequest;
use lsps::method::{Request, Response};
use serde_json::Value;
use tokio::sync::oneshot;
use tracing::{debug, warn};

use crate::config::ClientConfig;
use crate::error::ClientError;
use crate::wallet_node::{LspsOutbound, LspsSendError};

/// What a waiting call receives.
enum Reply {
    /// The LSP's answer: a `result` object or an error.
    Answer(Result<Value, RpcError>),
    /// The call failed locally (mute, disconnect).
    Failed(ClientError),
}

#[derive(Default)]
struct LspState {
    /// Calls in flight, by id string.
    pending: HashMap<String, oneshot::Sender<Reply>>,
    /// The LSP sent garbage on this connection.
    muted: bool,
    /// Whether an unknown-id answer was logged at `warn` on this connection already.
    warned_unknown_id: bool,
}

impl LspState {
    fn is_idle(&self) -> bool {
        self.pending.is_empty() && !self.muted
    }

    fn fail_all(&mut self, error: &ClientError) {
        for (_, waiter) in self.pending.drain() {
            // The caller may have given up already; nobody to tell then.
            let _ = waiter.send(Reply::Failed(error.clone()));
        }
    }
}

/// The wallet's LSPS0 client. The node feeds it what arrives ([`on_message`](Self::on_message),
/// [`on_connection_change`](Self::on_connection_change); with the `node` feature it is
/// `inbound-node`'s `LspsMessageHandler`), and it sends through the [`LspsOutbound`] given to
/// [`attach`](LspsClient::attach).
pub struct LspsClient {
    config: ClientConfig,
    outbound: RwLock<Option<Arc<dyn LspsOutbound>>>,
    lsps: Mutex<HashMap<PublicKey, LspState>>,
}

impl LspsClient {
    /// A client with no transport: calls fail with [`ClientError::Transport`] until
    /// [`attach`](LspsClient::attach).
    pub fn new(config: ClientConfig) -> Arc<LspsClient> {
        Arc::new(LspsClient { config, outbound: RwLock::new(None), lsps: Mutex::new(HashMap::new()) })
    }

    /// Sets where requests go, normally the node's LSPS transport (`inbound-node`'s
    /// `Node::lsps_transport`). Call it once the node is built, and again after rebuilding the
    /// node.
    pub fn attach(&self, outbound: Arc<dyn LspsOutbound>) {
        *self.outbound.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(outbound);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<PublicKey, LspState>> {
        // Every update under this lock is complete before anything that could panic runs.
        self.lsps.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sends `request` to `lsp` and waits for its answer, at most
    /// [`ClientConfig::request_timeout`].
    ///
    /// The LSP must be connected. Outcomes: the typed [`Response`] of the request's method, or
    /// a [`ClientError`] (see [`ClientError::is_temporary`] for which ones are worth retrying).
    /// Dropping the returned future forgets the id, like a timeout.
    pub async fn call(&self, lsp: PublicKey, request: Request) -> Result<Response, ClientError> {
        let method = request.method();
        let id = fresh_id()?;
        let id_text = id.to_string();
        let receiver = self.register(lsp, &id_text)?;
        let _forget = ForgetOnDrop { client: self, lsp, id: &id_text };
        let outbound = self.outbound.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        let outbound = outbound.ok_or_else(|| ClientError::Transport("no transport attached".into()))?;
        outbound.send(lsp, encode_request(&id, &request)).map_err(|error| match error {
            LspsSendError::PeerNotConnected => ClientError::NotConnected,
            other => ClientError::Transport(other.to_string()),
        })?;
        let reply = match tokio::time::timeout(self.config.request_timeout, receiver).await {
            Err(_elapsed) => return Err(ClientError::Timeout),
            // The sender is dropped without a reply only if the entry vanished unanswered,
            // which happens when the LSP disconnects.
            Ok(Err(_closed)) => return Err(ClientError::NotConnected),
            Ok(Ok(reply)) => reply,
        };
        match reply {
            Reply::Answer(Ok(result)) => Response::decode(method, result).map_err(ClientError::MalformedResult),
            Reply::Answer(Err(rpc_error)) => Err(ClientError::LspRejected(rpc_error)),
            Reply::Failed(error) => Err(error),
        }
    }

    /// `lsps0.list_protocols`: the LSPS numbers `lsp` serves (LSPS0 is implied and not listed).
    pub async fn list_protocols(&self, lsp: PublicKey) -> Result<Vec<u16>, ClientError> {
        match self.call(lsp, Request::Lsps0ListProtocols(ListProtocolsRequest {})).await? {
            Response::Lsps0ListProtocols(answer) => Ok(answer.protocols),
            _ => Err(ClientError::UnexpectedResult),
        }
    }

    /// Whether `lsp` is muted: it sent a malformed message since it last connected.
    pub fn is_muted(&self, lsp: &PublicKey) -> bool {
        self.lock().get(lsp).is_some_and(|state| state.muted)
    }

    /// Calls in flight to `lsp`.
    pub fn pending_calls(&self, lsp: &PublicKey) -> usize {
        self.lock().get(lsp).map_or(0, |state| state.pending.len())
    }

    fn register(&self, lsp: PublicKey, id: &str) -> Result<oneshot::Receiver<Reply>, ClientError> {
        let mut lsps = self.lock();
        let state = lsps.entry(lsp).or_default();
        if state.muted {
            return Err(ClientError::Muted);
        }
        if state.pending.len() >= self.config.max_pending_per_lsp {
            if state.is_idle() {
                lsps.remove(&lsp);
            }
            return Err(ClientError::TooManyPending);
        }
        let (sender, receiver) = oneshot::channel();
        state.pending.insert(id.to_owned(), sender);
        Ok(receiver)
    }

    /// Handles one payload from `lsp`; see the module documentation. Never blocks. The node calls
    /// it for every type-37913 message (`inbound-node`'s `LspsMessageHandler::handle` does).
    pub fn on_message(&self, lsp: PublicKey, payload: &[u8]) {
        let mut lsps = self.lock();
        if lsps.get(&lsp).is_some_and(|state| state.muted) {
            debug!(%lsp, len = payload.len(), "dropping a message from a muted LSP");
            return;
        }
        let message = match decode_message(payload) {
            Ok(message) => message,
            Err(format_error) => {
                // Logged once per connection: the LSP is muted from here on.
                warn!(
                    %lsp,
                    len = payload.len(),
                    error = %sanitize_text(&format_error.to_string()),
                    "malformed LSPS0 message from LSP; muting it until it reconnects"
                );
                let state = lsps.entry(lsp).or_default();
                state.muted = true;
                state.fail_all(&ClientError::Muted);
                return;
            }
        };
        match message {
            IncomingMessage::Notification { method, .. } => {
                debug!(%lsp, method = %sanitize_text(&method), "ignoring an LSPS notification");
            }
            IncomingMessage::Response(IncomingResponse { id: None, outcome }) => {
                let (code, message) = match &outcome {
                    Err(error) => (error.code, error.sanitized_message()),
                    Ok(_) => (0, "a result".to_owned()),
                };
                warn!(%lsp, code, %message, "LSP answered with id null: it could not read something we sent");
            }
            IncomingMessage::Response(IncomingResponse { id: Some(id), outcome }) => {
                let waiter = match (&id, lsps.get_mut(&lsp)) {
                    (RequestId::String(id), Some(state)) => state.pending.remove(id),
                    _ => None,
                };
                match waiter {
                    // A caller that gave up in the meantime has dropped its receiver; fine.
                    Some(waiter) => drop(waiter.send(Reply::Answer(outcome))),
                    None => self.log_unknown_id(&mut lsps, lsp, &id),
                }
                if lsps.get(&lsp).is_some_and(LspState::is_idle) {
                    lsps.remove(&lsp);
                }
            }
        }
    }

    fn log_unknown_id(&self, lsps: &mut HashMap<PublicKey, LspState>, lsp: PublicKey, id: &RequestId) {
        let id = sanitize_text(&id.to_string());
        match lsps.get_mut(&lsp) {
            Some(state) if !state.warned_unknown_id => {
                state.warned_unknown_id = true;
                warn!(%lsp, %id, "ignoring an answer to a request we did not send or no longer wait for");
            }
            _ => debug!(%lsp, %id, "ignoring an answer with an unknown id"),
        }
    }

    /// Forgets `lsp`'s state: pending calls fail with [`ClientError::NotConnected`] and a mute
    /// is lifted. Called on disconnect and on (re)connect.
    pub fn on_connection_change(&self, lsp: PublicKey) {
        if let Some(mut state) = self.lock().remove(&lsp) {
            state.fail_all(&ClientError::NotConnected);
        }
    }
}

/// Removes a call's entry when the call ends for any reason (answer, timeout, error, drop).
struct ForgetOnDrop<'a> {
    client: &'a LspsClient,
    lsp: PublicKey,
    id: &'a str,
}

impl Drop for ForgetOnDrop<'_> {
    fn drop(&mut self) {
        let mut lsps = self.client.lock();
        if let Some(state) = lsps.get_mut(&self.lsp) {
            state.pending.remove(self.id);
            if state.is_idle() {
                lsps.remove(&self.lsp);
            }
        }
    }
}

/// A fresh request id: 128 bits from the OS CSPRNG (bLIP-50 asks for at least 80).
pub(crate) fn fresh_id() -> Result<RequestId, ClientError> {
    let mut entropy = [0u8; 16];
    getrandom::getrandom(&mut entropy).map_err(|error| ClientError::Transport(format!("no entropy: {error}")))?;
    Ok(RequestId::from_entropy(entropy))
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
