//! `inbound check --http URL`: the checker's [`Link`] over Inbound's HTTP transport (an Inbound
//! extension, `POST /lsps`) instead of a Lightning connection. No node is started: the client is
//! a fresh random key, named in the `x-inbound-node-id` envelope member of the requests that
//! need a client (LSPS1, LSPS2 and LSPS5 methods) and proven by the `x-inbound-node-sig`
//! headers over the exact body. Each payload is one POST; the body of the answer goes to the
//! checker's inbox (any other status than 200 is no answer). A 429 is retried after its `Retry-After` (the endpoint's per-IP bucket is
//! shallow, the checker sends ~90 requests), within the request timeout.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context, Result};
use inbound_check::{InboxSender, Link, LinkError, LinkFuture};
use inbound_client::lsps1::NODE_ID_MEMBER;
use inbound_node::bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use lsps::node_proof::{sign_request, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
use serde_json::{Map, Value};
use tokio::sync::Semaphore;

/// POSTs in flight at once; the checker waits for each answer, so more means a stuck endpoint.
const MAX_IN_FLIGHT: usize = 8;
/// The largest answer body read.
const MAX_ANSWER_BYTES: usize = 1 << 20;
/// How long a 429 is waited out when it names no `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The checker's link to an LSP's HTTP endpoint.
pub struct HttpLink {
    url: reqwest::Url,
    key: SecretKey,
    node_id: PublicKey,
    http: reqwest::Client,
    inbox: InboxSender,
    in_flight: Arc<Semaphore>,
    timeout: Duration,
}

impl HttpLink {
    /// A link posting to `url`, each exchange bounded by `timeout`, answers into `inbox`.
    ///
    /// # Errors
    /// A URL that is not http(s), no entropy for the key, or an HTTP client that cannot be built.
    pub fn new(url: &str, timeout: Duration, inbox: InboxSender) -> Result<HttpLink> {
        let url = reqwest::Url::parse(url).with_context(|| format!("--http {url:?}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(anyhow!("--http {url}: expected an http:// or https:// URL with a host"));
        }
        let mut secret = [0u8; 32];
        getrandom::getrandom(&mut secret).map_err(|error| anyhow!("no entropy for the client key: {error}"))?;
        let key = SecretKey::from_slice(&secret).context("a client key")?;
        let node_id = key.public_key(&Secp256k1::signing_only());
        let http = reqwest::Client::builder().timeout(timeout).build().context("the HTTP client")?;
        Ok(HttpLink { url, key, node_id, http, inbox, in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)), timeout })
    }

    /// The body to POST and whether to sign it: `payload` as it is, or, for a request object of
    /// a method bound to a client, with the node id member added and signed (a proof names the
    /// node id it proves, so a request without the member goes unsigned).
    fn body(&self, payload: Vec<u8>) -> (Vec<u8>, bool) {
        let Ok(mut object) = serde_json::from_slice::<Map<String, Value>>(&payload) else {
            return (payload, false);
        };
        let bound = object.get("method").and_then(Value::as_str).is_some_and(|method| {
            ["lsps1.create_order", "lsps1.get_order", "lsps2.", "lsps5."]
                .iter()
                .any(|prefix| method.starts_with(prefix))
        });
        if !bound {
            return (payload, false);
        }
        object.insert(NODE_ID_MEMBER.to_owned(), Value::String(self.node_id.to_string()));
        match serde_json::to_vec(&object) {
            Ok(body) => (body, true),
            Err(_) => (payload, false),
        }
    }
}

impl Link for HttpLink {
    fn send(&self, payload: Vec<u8>) -> Result<(), LinkError> {
        let permit = Arc::clone(&self.in_flight)
            .try_acquire_owned()
            .map_err(|_| LinkError(format!("{MAX_IN_FLIGHT} requests are already in flight")))?;
        let (body, signed) = self.body(payload);
        let key = signed.then_some(self.key);
        let post = Post { http: self.http.clone(), url: self.url.clone(), key, body };
        let (inbox, timeout) = (self.inbox.clone(), self.timeout);
        tokio::spawn(async move {
            let _permit = permit;
            match post.send_retrying(timeout).await {
                Ok(answer) if !answer.is_empty() => inbox.push(answer),
                Ok(_) => {}
                Err(error) => tracing::debug!("inbound check over HTTP: {error:#}"),
            }
        });
        Ok(())
    }

    fn reconnect(&self) -> LinkFuture<'_> {
        // Every request is its own POST: there is no connection state to drop.
        Box::pin(async { Ok(()) })
    }

    fn advertises_lsps(&self) -> Option<bool> {
        None
    }
}

struct Post {
    http: reqwest::Client,
    url: reqwest::Url,
    /// Signs the body when set.
    key: Option<SecretKey>,
    body: Vec<u8>,
}

impl Post {
    async fn send_retrying(&self, timeout: Duration) -> Result<Vec<u8>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let mut request = self.http.post(self.url.clone()).header(CONTENT_TYPE, "application/json");
            if let Some(key) = &self.key {
                let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs());
                request = request
                    .header(TIMESTAMP_HEADER, timestamp.to_string())
                    .header(SIGNATURE_HEADER, sign_request(key, timestamp, &self.body));
            }
            let mut response = request.body(self.body.clone()).send().await.context("POST")?;
            if response.status() == StatusCode::TOO_MANY_REQUESTS {
                let wait = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.parse::<u64>().ok())
                    .map_or(DEFAULT_RETRY_AFTER, Duration::from_secs);
                if tokio::time::Instant::now() + wait >= deadline {
                    return Err(anyhow!("rate limited (429) past the request timeout"));
                }
                tokio::time::sleep(wait).await;
                continue;
            }
            if response.status() != StatusCode::OK {
                // 204 (a notification) has no body; 408, 413 and 415 carry no JSON-RPC answer.
                return Err(anyhow!("the endpoint answered HTTP {}", response.status()));
            }
            let mut answer = Vec::new();
            while let Some(chunk) = response.chunk().await.context("reading the answer")? {
                if answer.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(anyhow!("an answer larger than {MAX_ANSWER_BYTES} bytes"));
                }
                answer.extend_from_slice(&chunk);
            }
            return Ok(answer);
        }
    }
}
