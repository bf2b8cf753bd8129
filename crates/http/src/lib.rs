//! # inbound-http
//!
//! The LSPS JSON-RPC methods (LSPS0/1/2/5) over HTTP POST, for web widgets and wallets whose
//! Lightning node cannot send custom peer messages. This is an **Inbound extension**: LSPS0
//! defines no HTTP transport (`docs/spec/lsps-digest.md` §2.11).
//!
//! Every request goes through the same [`LspsServer`](inbound_service::LspsServer) as
//! type-37913 peer messages, via [`LspsServer::call`](inbound_service::LspsServer::call): the
//! same format checks, method lookup, pending caps, handlers, timeout and encoding.
//!
//! ## The endpoint
//!
//! `POST /lsps` (see [`HttpConfig::path`]) with `Content-Type: application/json` and one
//! JSON-RPC 2.0 request as the body, exactly as it would travel in a type-37913 message.
//!
//! | outcome | HTTP status | body |
//! |---|---|---|
//! | any JSON-RPC answer, errors included (-32700 for a malformed body, as LSPS0 says) | 200 | the JSON-RPC response |
//! | a JSON-RPC notification (no `id`), never answered | 204 | empty |
//! | body over [`HttpConfig::max_body_bytes`] (default 65,533, as BOLT8) | 413 | `{"error": …}` |
//! | `Content-Type` is not `application/json` | 415 | `{"error": …}` |
//! | the client IP's token bucket is empty | 429 (+ `Retry-After`) | `{"error": …}` |
//! | the body did not arrive within [`HttpConfig::body_timeout`] | 408 | `{"error": …}` |
//!
//! ## LNURL-channel (vouchers)
//!
//! With [`HttpState::with_lnurl`], `GET /lnurlc/<k1>` answers a voucher's LUD-02 channel
//! request (`{"tag":"channelRequest","uri":…,"callback":…,"k1":…}`) and
//! `GET /lnurlc/callback?k1=…&remoteid=…&private=0|1` claims it for the wallet's node
//! (`&cancel=1` declines). Answers are LUD JSON with status 200: `{"status":"OK"}`, or
//! `{"status":"ERROR","reason":…}` naming why (unknown, already claimed, expired, revoked, terms
//! no longer sold). The per-IP rate limit applies. Without vouchers the routes answer 404.
//!
//! ## The client's node id: `"x-inbound-node-id"`
//!
//! Over BOLT8 the LSP knows who is asking. Over HTTP the wallet names its node id in an extra
//! top-level envelope member (an Inbound extension; the LSPS0 decoder ignores unknown envelope
//! members, so the body is otherwise a plain LSPS request):
//!
//! ```json
//! {"jsonrpc": "2.0", "id": "1", "method": "lsps2.get_info", "params": {},
//!  "x-inbound-node-id": "02…66 hex digits…"}
//! ```
//!
//! Methods whose answer is bound to the client (everything except `lsps0.list_protocols` and
//! `lsps1.get_info`; e.g. `lsps2.get_info` promises and `lsps2.buy` SCIDs) need it. Without it
//! they are answered with JSON-RPC -32602, `data.property = "x-inbound-node-id"`; a value that
//! is not a 33-byte compressed secp256k1 key in hex (66 characters) is -32602 too. Requests
//! without a node id that need none are attributed to one pseudo-peer,
//! [`ANONYMOUS_PEER`], and share its pending cap.
//!
//! **Without a proof the node id is a claim**: anyone could buy a JIT channel "for" a node id it
//! does not own, and spend that node id's per-peer pending slots. The per-IP rate limit bounds
//! the damage; the proof below removes it.
//!
//! ## Proof of node-id ownership (Inbound extension)
//!
//! A client that holds its node key adds two HTTP headers (see [`lsps::node_proof`]):
//!
//! ```text
//! x-inbound-node-sig: <LSPS0 ln_signature, zbase32, by the node key>
//! x-inbound-node-sig-timestamp: <Unix seconds>
//! ```
//!
//! signing `"LSPS0 inbound-http-v1: DO NOT SIGN THIS MESSAGE MANUALLY: " || timestamp || ":" ||
//! hex(SHA256(body))`, the body being the exact bytes sent. Headers, not envelope members, so
//! that the body is signed as it travels. The server checks that
//!
//! * the signature recovers the claimed `x-inbound-node-id` (else -32602, `data.property =
//!   "x-inbound-node-sig"`);
//! * the timestamp is within ±300 s of its clock (else -32602 naming
//!   `x-inbound-node-sig-timestamp`);
//! * the proof was not used before: proofs are remembered until they expire, at most
//!   [`MAX_REMEMBERED_PROOFS`] of them (when that many unexpired ones are held, further signed
//!   requests get 429 until some expire). A replay is -32602 naming `x-inbound-node-sig`.
//!
//! A proof that is present is always checked, whatever the configuration; one header without the
//! other, or a proof without a node id, is -32602 too. With
//! [`HttpConfig::require_node_signature`], every method bound to the client needs a proof
//! (-32602 naming `x-inbound-node-sig` without one), and an unproven node id on the other methods
//! is ignored (the request counts as anonymous).
//!
//! ## The client's address: `"x-inbound-node-address"` (Inbound extension)
//!
//! A wallet that orders a channel over HTTP need not be connected to the LSP: it may say where
//! its node listens, as `host:port` (an IPv4 address, a bracketed IPv6 address or a DNS name,
//! then the port, like the address part of an LSPS `ConnectionString`; at most 261
//! characters), in the envelope member `"x-inbound-node-address"` or, failing that, in the
//! HTTP header of the same name. A malformed value is -32602 naming `x-inbound-node-address`.
//!
//! ```json
//! {"jsonrpc": "2.0", "id": "2", "method": "lsps1.create_order", "params": {…},
//!  "x-inbound-node-id": "02…", "x-inbound-node-address": "203.0.113.7:9735"}
//! ```
//!
//! The LSP remembers the last address of each node id (a bounded map, when the endpoint has an
//! address book: [`HttpState::with_address_book`]); an LSPS1 order created afterwards keeps it,
//! and when the channel must be opened while the client is not connected, the LSP connects
//! there first. Addresses that resolve only to loopback, private, link-local or other
//! non-public IPs are not connected to unless `lsps1.connect_private_addresses` is on. BOLT8
//! authenticates the node id, so a wrong address cannot impersonate the client; it only fails
//! to connect. Requests attributed to no node id (anonymous) have their address ignored.
//!
//! ## Limits
//!
//! Body size (413), a per-IP token bucket over a bounded map of IPs (429; IPv6 clients are
//! keyed by their /64), CORS allowed origins (none by default, so browsers on other origins
//! cannot call it), and the dispatcher's own pending caps and handler timeout. The IP is the
//! TCP peer, unless that peer is one of [`HttpConfig::trusted_proxies`]: then `X-Forwarded-For`
//! is read from the right and the right-most address that is not a trusted proxy is the client
//! ([`client_ip`]). Entries left of it are never believed, since the client may have written
//! them.
//!
//! ```
//! # async fn run(server: std::sync::Arc<inbound_service::LspsServer>) -> std::io::Result<()> {
//! use inbound_http::{serve, HttpConfig, HttpState};
//!
//! let config = HttpConfig { cors_allowed_origins: vec!["https://wallet.example".into()], ..HttpConfig::default() };
//! let state = HttpState::new(server, config).expect("valid configuration");
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! # drop(stop);
//! serve(listener, state, async move { let _ = stopped.await; }).await
//! # }
//! ```

#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]
#![forbid(unsafe_code)]

mod address;
mod app;
mod config;
mod error;
mod forwarded;
mod identity;
mod listener;
mod lnurl;
mod rate;
mod replay;
pub mod web;

use std::future::Future;
use std::sync::Arc;

pub use address::NODE_ADDRESS_MEMBER;
pub use app::{app, HttpState, MAX_REMEMBERED_PROOFS};
pub use config::{
    HttpConfig, HttpConfigError, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_IP, DEFAULT_MAX_TRACKED_IPS,
    DEFAULT_PATH,
};
pub use error::ApiError;
pub use forwarded::{client_ip, IpNet, IpNetError, MAX_FORWARDED_HOPS};
pub use identity::{ANONYMOUS_PEER, NODE_ID_MEMBER};
pub use inbound_service::vouchers::{LnurlConfig, LNURL_PREFIX};
pub use listener::DRAIN_TIMEOUT;
pub use lsps::node_proof::{SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// Serves [`app`] on `listener` until `shutdown` completes, then lets in-flight requests finish
/// (at most [`DRAIN_TIMEOUT`]). The router sees each client's socket address (for the per-IP
/// rate limit); every connection is bounded as `listener.rs` says (connection caps, header and
/// lifetime timeouts, back-off when accepting fails).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: HttpState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = Arc::clone(&state.config);
    listener::accept_loop(listener, app(state), &config, shutdown).await
}
