//! # inbound-node
//!
//! The Inbound LSP's Lightning node: LDK 0.2 wired together for an LSP (or for the wallets that
//! talk to one in tests).
//!
//! * [`NodeBuilder`] / [`Config`]: network, data directory, listen address, role knobs
//!   (intercepting HTLCs for an LSP; manual accept and underpaying HTLCs for wallets).
//! * Keys from a 32-byte seed file created on first start ([`keys`]).
//! * Channel manager, monitors and sweeper persisted in LDK's filesystem KV store, restored on start.
//! * [`ChainSource`]: [`BitcoindRpc`] (Bitcoin Core or bcoin 1.0.2) and [`SimChain`] for tests.
//! * Peers over TCP with Nagle off and quick ACKs ([`PeerSocket`]), with a reconnect loop.
//! * LSPS0 transport: raw type-37913 payloads to and from an injected [`LspsMessageHandler`],
//!   feature bit 729 for LSPs ([`lsps0`]). No JSON is parsed here.
//! * LDK events: generic ones handled by the node, all forwarded to a [`NodeEventHandler`].
//! * An on-chain wallet on bdk_wallet, persisted through the same KV store ([`wallet`]).
//!
//! ```no_run
//! # async fn example() -> Result<(), inbound_node::NodeError> {
//! use inbound_node::{NodeBuilder, NodeRole, SimChain};
//! let chain = SimChain::new();
//! let mut builder = NodeBuilder::new("/tmp/inbound-lsp");
//! builder
//!     .set_network(bitcoin::Network::Regtest)
//!     .set_role(NodeRole::Lsp)
//!     .set_listen_address("127.0.0.1:0".parse().ok())
//!     .set_chain_source(chain.clone());
//! let node = builder.build().await?;
//! node.start().await?;
//! println!("LSP {} on {:?}", node.node_id(), node.listening_address());
//! node.stop().await?;
//! # Ok(()) }
//! ```

#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

mod builder;
pub mod chain;
pub mod config;
mod consumers;
mod error;
pub mod events;
pub mod keys;
mod logger;
pub mod lsps0;
mod net;
mod node;
mod onchain;
mod payments;
mod peers;
mod processor;
mod supervise;
pub mod types;
pub mod wallet;

pub use builder::{NodeBuilder, STORE_DIR_NAME};
pub use chain::{
    BitcoindRpc, BitcoindRpcConfig, ChainError, ChainSource, EsploraClient, EsploraConfig, MempoolPayment, SimChain,
};
pub use config::{Config, NodeRole};
pub use error::{NodeError, NodeResult};
pub use events::{
    default_user_channel_id, ChannelAcceptor, ChannelDecision, DefaultChannelAcceptor, FundingBroadcast,
    IgnoringEventHandler, InboundChannelRequest, NodeEventHandler, SyncEventHandler,
};
pub use logger::NodeLogger;
pub use lsps0::{LspsMessageHandler, LspsSendError, MAX_LSPS_PAYLOAD_BYTES};
pub use net::PeerSocket;
pub use node::Node;
pub use onchain::SendAmount;
pub use peers::PEER_NAMESPACE;
pub use wallet::{OnchainWallet, ScriptReceipt, WalletBalance};

/// Re-exported so that users name exactly the versions this crate is built on.
pub use bitcoin;
/// Re-exported LDK.
pub use lightning;
/// Re-exported LDK invoice crate.
pub use lightning_invoice;
