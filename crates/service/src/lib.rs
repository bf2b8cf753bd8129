//! # inbound-service
//!
//! The LSP's business logic. At its front is the LSPS0 server (bLIP-50,
//! `docs/spec/lsps-digest.md` §2): [`LspsServer`] receives every type-37913 payload from the
//! node, answers malformed ones with -32700 and `id: null`, answers `lsps0.list_protocols`
//! itself, and hands the other methods to the [`ProtocolHandler`]s registered for their
//! protocols (LSPS1, LSPS2 and LSPS5 below), under a per-peer and a total cap on in-flight requests
//! ([`config`]).
//!
//! The LSPS2 (bLIP-52) JIT-channel service is [`lsps2::Lsps2Service`] (`lsps2.get_info`,
//! `lsps2.buy`, and the purchases' [`lsps2::JitSession`]s); the LSPS1 (bLIP-51) channel-order
//! service is [`lsps1::Lsps1Service`] (`lsps1.get_info`/`create_order`/`get_order`, and the
//! [`lsps1::OrderBook`]s); the LSPS5 (bLIP-55) webhook service is [`lsps5::Lsps5Service`]
//! (`lsps5.set_webhook`/`list_webhooks`/`remove_webhook`, and signed notifications POSTed to
//! the webhooks as [`lsps5::Delivery`] flows). All are durable flows on one kernel ([`flow`]): a
//! pure step, every step persisted with its history and effects before the effects run, failed
//! effects retried.
//!
//! [`LspBuilder`] wires the services to a node, in the order the node forces:
//!
//! ```no_run
//! # async fn wire() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use inbound_node::{IgnoringEventHandler, NodeBuilder, NodeEventHandler, NodeRole, SimChain};
//! use inbound_service::lsps2::Lsps2Config;
//! use inbound_service::{LspBuilder, SystemClock};
//!
//! let store = inbound_store::open("/tmp/inbound-lsp/inbound.sqlite").await?;
//! let services = LspBuilder::new(Arc::new(SystemClock))
//!     .store(store)
//!     .lsps2(Lsps2Config::default())
//!     .build(Arc::new(IgnoringEventHandler) as Arc<dyn NodeEventHandler>)?;
//! let mut builder = NodeBuilder::new("/tmp/inbound-lsp");
//! builder
//!     .set_role(NodeRole::Lsp)
//!     .set_chain_source(SimChain::new())
//!     .set_lsps_message_handler(services.lsps_handler())
//!     .set_event_handler(services.event_handler());
//! let node = Arc::new(builder.build().await?);
//! services.attach(&node);
//! node.start().await?;
//! services.started().await?; // resume the stored flows, start ticking
//! # Ok(()) }
//! ```
//!
//! Without a node, feed payloads to [`LspsServer::on_message`] and record what it sends:
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use inbound_service::{LspsOutbound, LspsSendError, LspsServer, LspsServerConfig};
//! # use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
//! # let peer = PublicKey::from_secret_key(&Secp256k1::new(), &SecretKey::from_slice(&[1; 32]).unwrap());
//!
//! #[derive(Default)]
//! struct Recorder(Mutex<Vec<Vec<u8>>>);
//! impl LspsOutbound for Recorder {
//!     fn send(&self, _peer: PublicKey, payload: Vec<u8>) -> Result<(), LspsSendError> {
//!         self.0.lock().unwrap().push(payload);
//!         Ok(())
//!     }
//! }
//!
//! let server = LspsServer::new(LspsServerConfig::default());
//! let recorder = Arc::new(Recorder::default());
//! server.attach(recorder.clone());
//! server.on_message(peer, br#"{"jsonrpc":"2.0","id":"a1","method":"lsps0.list_protocols","params":{}}"#);
//! server.on_message(peer, b"{");
//! let sent = recorder.0.lock().unwrap();
//! assert_eq!(sent[0], br#"{"jsonrpc":"2.0","id":"a1","result":{"protocols":[]}}"#);
//! assert_eq!(sent[1], br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}"#);
//! ```

#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]
#![forbid(unsafe_code)]

pub mod address_book;
pub mod clients;
mod clock;
pub mod compat;
pub mod config;
pub mod flow;
pub mod ids;
pub mod intercept;
mod log_limit;
pub mod lsp;
pub mod lsps1;
pub mod lsps2;
pub mod lsps5;
pub mod metrics;
mod node_adapter;
pub mod notify;
pub mod operator;
mod ops;
mod pending;
mod server;
#[cfg(test)]
mod test_pg;
mod ticker;
pub mod vouchers;

pub use address_book::{validate_node_address, PeerAddressBook};
pub use clock::{Clock, ManualClock, SystemClock};
pub use compat::Compat;
pub use config::{
    ErrorData, LspsServerConfig, DEFAULT_MAX_PENDING_PER_PEER, DEFAULT_MAX_PENDING_TOTAL, TOO_MANY_PENDING_CODE,
    TOO_MANY_PENDING_MESSAGE,
};
pub use lsp::{LspBuildError, LspBuilder, LspServices, Resumed};
pub use node_adapter::{LspsOutbound, LspsSendError};
pub use ops::OpsError;
pub use server::{BoxFuture, ClientGate, LspsServer, LspsServerStats, ProtocolHandler};
