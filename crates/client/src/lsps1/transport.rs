//! [`Transport`]: how an LSPS request reaches the LSP, so that [`Lsps1Client`](super::Lsps1Client)
//! works the same over a Lightning peer connection ([`PeerTransport`]) and over HTTP
//! ([`HttpTransport`](super::HttpTransport)).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bitcoin::secp256k1::PublicKey;
use lsps::method::{Request, Response};

use crate::{ClientError, LspsClient};

/// A boxed, sendable future (what [`Transport::call`] returns).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends one JSON-RPC request to one LSP and returns its typed answer.
pub trait Transport: Send + Sync {
    /// Sends `request` and waits for the answer (the transport applies its own timeout).
    fn call(&self, request: Request) -> BoxFuture<'_, Result<Response, ClientError>>;

    /// A short description for logs and output (`peer 02ab…`, `https://lsp.example/lsps`).
    fn describe(&self) -> String;
}

/// LSPS0 over the wallet node's Lightning connection to `lsp` (bLIP-50): the LSP must be
/// connected.
#[derive(Clone)]
pub struct PeerTransport {
    client: Arc<LspsClient>,
    lsp: PublicKey,
}

impl PeerTransport {
    /// Calls `lsp` through `client`.
    pub fn new(client: Arc<LspsClient>, lsp: PublicKey) -> PeerTransport {
        PeerTransport { client, lsp }
    }
}

impl Transport for PeerTransport {
    fn call(&self, request: Request) -> BoxFuture<'_, Result<Response, ClientError>> {
        Box::pin(self.client.call(self.lsp, request))
    }

    fn describe(&self) -> String {
        format!("peer {}", self.lsp)
    }
}
