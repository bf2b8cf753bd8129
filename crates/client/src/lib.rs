//! # inbound-client
//!
//! The wallet side of LSPS: [`LspsClient`] sends JSON-RPC requests to an LSP over the existing
//! Lightning connection (LSPS0, bLIP-50, `shared/spec/lsps-digest.md` §2) and matches the
//! answers, keeping LSPS0's client rules: random 128-bit ids, bounded pending calls per LSP
//! ([`config`]), timeouts, ignoring unknown ids, and muting an LSP that sends garbage until it
//! reconnects. [`lsps2`] buys just-in-time channels on top of [`LspsClient::call`]; [`lsps1`]
//! orders channels, over the same connection or over HTTP.
//!
//! ## Features
//!
//! The protocol logic needs only LDK's own crates (`lightning`, `lightning-invoice`): it reaches
//! the wallet's node through two small traits ([`wallet_node`]): [`LspsOutbound`] sends an LSPS0
//! message, [`WalletNode`] gives the node id and network, registers inbound payments, signs
//! invoices and claims or fails payments. A wallet on any LDK-based node implements them, builds
//! [`lsps2::Lsps2Client::open`], and calls [`LspsClient::on_message`] and
//! [`lsps2::Lsps2Client::handle_event`] from its own message and event handling.
//!
//! The default feature `node` adds `inbound-node`, the batteries-included implementation (the
//! `node_adapter` module): [`LspsClient`] is its LSPS message handler, its LSPS transport and
//! `Node` implement the traits, and `Lsps2Client::new`, `Lsps2Client::acceptor` and
//! `lsps2::WalletEventHandler` wire LSPS2 into it. `default-features = false` builds the SDK
//! without it.
//!
//! Wiring on `inbound-node`, in the order the node forces:
//!
//! ```no_run
//! # #[cfg(feature = "node")]
//! # async fn wire(lsp: bitcoin::secp256k1::PublicKey, address: std::net::SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use inbound_client::{ClientConfig, LspsClient, LspsOutbound};
//! use inbound_node::{LspsMessageHandler, NodeBuilder, NodeRole, SimChain};
//!
//! let client = LspsClient::new(ClientConfig::default());
//! let mut builder = NodeBuilder::new("/tmp/inbound-wallet");
//! builder
//!     .set_role(NodeRole::Wallet)
//!     .set_chain_source(SimChain::new())
//!     .set_lsps_message_handler(Arc::clone(&client) as Arc<dyn LspsMessageHandler>);
//! let node = builder.build().await?;
//! client.attach(Arc::clone(node.lsps_transport()) as Arc<dyn LspsOutbound>);
//! node.start().await?;
//! node.connect_peer(lsp, address, true).await?;
//! let protocols = client.list_protocols(lsp).await?;
//! println!("the LSP serves LSPS{protocols:?}");
//! # Ok(()) }
//! ```

#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]
#![forbid(unsafe_code)]

mod client;
pub mod config;
mod error;
pub mod hold;
pub mod lsps1;
pub mod lsps2;
pub mod lsps5;
#[cfg(feature = "node")]
mod node_adapter;
pub mod wallet_node;

pub use client::LspsClient;
pub use config::{ClientConfig, DEFAULT_MAX_PENDING_PER_LSP, DEFAULT_REQUEST_TIMEOUT_SECS};
pub use error::ClientError;
pub use wallet_node::{LspsOutbound, LspsSendError, WalletNode, WalletNodeError};
