//! [`HttpTransport`]: LSPS JSON-RPC over HTTP POST to an Inbound LSP's `inbound-http` endpoint
//! (an Inbound extension: LSPS0 defines no HTTP transport).
//!
//! Every request carries the wallet's node id as the `x-inbound-node-id` envelope member. With
//! the node key ([`HttpTransport::with_node_key`]) it also carries the proof of ownership
//! (`x-inbound-node-sig` and `x-inbound-node-sig-timestamp` headers, [`lsps::node_proof`]),
//! which an LSP with `http.require_node_signature` demands. TLS is rustls with the webpki
//! roots; plain `http://` is accepted for local endpoints.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use lsps::client::{decode_message, encode_request, IncomingMessage, IncomingResponse, RequestId};
use lsps::method::{Request, Response};
use lsps::node_proof::{sign_request, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;
use serde_json::{Map, Value};

use super::transport::{BoxFuture, Transport};
use crate::client::fresh_id;
use crate::ClientError;

/// The envelope member naming the client's node id (as `inbound_http::NODE_ID_MEMBER`).
pub const NODE_ID_MEMBER: &str = "x-inbound-node-id";

/// The envelope member naming where the client's node listens (as
/// `inbound_http::NODE_ADDRESS_MEMBER`).
pub const NODE_ADDRESS_MEMBER: &str = "x-inbound-node-address";

/// The largest answer read; bigger ones are refused (an order is a few kilobytes).
pub const MAX_ANSWER_BYTES: usize = 1 << 20;

/// LSPS over HTTP POST to one endpoint URL.
#[derive(Clone)]
pub struct HttpTransport {
    url: reqwest::Url,
    node_id: PublicKey,
    node_key: Option<SecretKey>,
    node_address: Option<String>,
    http: reqwest::Client,
}

impl HttpTransport {
    /// A transport posting to `url` (`https://…` or `http://…`) on behalf of `node_id`, each
    /// request bounded by `timeout`. Without [`with_node_key`](Self::with_node_key) the node id
    /// is only claimed.
    ///
    /// # Errors
    /// [`ClientError::InvalidRequest`] for a URL that is not http(s), or if the HTTP client
    /// cannot be built.
    pub fn new(url: &str, node_id: PublicKey, timeout: Duration) -> Result<HttpTransport, ClientError> {
        let url = reqwest::Url::parse(url).map_err(|e| ClientError::InvalidRequest(format!("LSP URL {url:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(ClientError::InvalidRequest(format!("LSP URL {url} must be http:// or https:// with a host")));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| ClientError::InvalidRequest(format!("HTTP client: {e}")))?;
        Ok(HttpTransport { url, node_id, node_key: None, node_address: None, http })
    }

    /// Signs every request with the node key (and claims its public key as the node id).
    pub fn with_node_key(mut self, node_key: SecretKey) -> HttpTransport {
        self.node_id = node_key.public_key(&Secp256k1::signing_only());
        self.node_key = Some(node_key);
        self
    }

    /// Says where the wallet's node listens (`host:port`), in the [`NODE_ADDRESS_MEMBER`]
    /// envelope member of every request (an Inbound extension): an LSP that must open a channel
    /// while the wallet is not connected connects there.
    pub fn with_node_address(mut self, address: impl Into<String>) -> HttpTransport {
        self.node_address = Some(address.into());
        self
    }

    /// The claimed node id.
    pub fn node_id(&self) -> PublicKey {
        self.node_id
    }

    /// The request body: the LSPS0 request plus the node id member.
    fn body(&self, id: &RequestId, request: &Request) -> Result<Vec<u8>, ClientError> {
        let encoded = encode_request(id, request);
        let mut object: Map<String, Value> = serde_json::from_slice(&encoded)
            .map_err(|e| ClientError::InvalidRequest(format!("encoding the request: {e}")))?;
        object.insert(NODE_ID_MEMBER.to_owned(), Value::String(self.node_id.to_string()));
        if let Some(address) = &self.node_address {
            object.insert(NODE_ADDRESS_MEMBER.to_owned(), Value::String(address.clone()));
        }
        serde_json::to_vec(&object).map_err(|e| ClientError::InvalidRequest(format!("encoding the request: {e}")))
    }

    async fn post(&self, request: Request) -> Result<Response, ClientError> {
        let method = request.method();
        let id = fresh_id()?;
        let body = self.body(&id, &request)?;
        let mut builder = self.http.post(self.url.clone()).header(CONTENT_TYPE, "application/json");
        if let Some(key) = &self.node_key {
            let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs());
            builder = builder
                .header(TIMESTAMP_HEADER, timestamp.to_string())
                .header(SIGNATURE_HEADER, sign_request(key, timestamp, &body));
        }
        let mut response = builder.body(body).send().await.map_err(request_error)?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::TOO_MANY_REQUESTS => {
                return Err(ClientError::Transport("rate limited by the LSP (429)".into()))
            }
            status => return Err(ClientError::Transport(format!("the LSP answered HTTP {status}"))),
        }
        let mut answer = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(request_error)? {
            if answer.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(ClientError::Transport(format!("answer larger than {MAX_ANSWER_BYTES} bytes")));
            }
            answer.extend_from_slice(&chunk);
        }
        let outcome = match decode_message(&answer) {
            Ok(IncomingMessage::Response(IncomingResponse { id: Some(answered), outcome })) if answered == id => {
                outcome
            }
            Ok(IncomingMessage::Response(IncomingResponse { id: None, outcome: Err(error) })) => Err(error),
            Ok(_) => return Err(ClientError::Transport("the answer does not answer our request id".into())),
            Err(error) => return Err(ClientError::Transport(format!("malformed answer: {error}"))),
        };
        match outcome {
            Ok(result) => Response::decode(method, result).map_err(ClientError::MalformedResult),
            Err(error) => Err(ClientError::LspRejected(error)),
        }
    }
}

fn request_error(error: reqwest::Error) -> ClientError {
    if error.is_timeout() {
        ClientError::Timeout
    } else if error.is_connect() {
        ClientError::NotConnected
    } else {
        ClientError::Transport(format!("HTTP: {error}"))
    }
}

impl Transport for HttpTransport {
    fn call(&self, request: Request) -> BoxFuture<'_, Result<Response, ClientError>> {
        Box::pin(self.post(request))
    }

    fn describe(&self) -> String {
        self.url.to_string()
    }
}
