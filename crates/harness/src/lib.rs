//! # inbound-harness
//!
//! The test harness every end-to-end test of Inbound uses: N real LDK nodes
//! ([`inbound_node::Node`]) talking BOLT8 over loopback TCP, on the in-process
//! [`SimChain`](inbound_node::SimChain) or on a throwaway bcoin regtest node
//! ([`inbound_regtest::Bcoin`]), each in a temporary data directory, each with a role:
//!
//! * an LSP ([`Network::add_lsp`]): its LSPS0 traffic goes to an
//!   [`LspsServer`](inbound_service::LspsServer);
//! * a wallet or payer ([`Network::add_wallet`]): an [`LspsClient`](inbound_client::LspsClient);
//! * a JIT LSP ([`Network::add_jit_lsp`]): an LSP with the LSPS2 service wired in
//!   ([`TestNode::lsps2_service`]);
//! * an LSPS1 LSP ([`Network::add_lsps1_lsp`]): an LSP selling channels up front
//!   ([`TestNode::lsps1_service`]);
//! * a JIT wallet ([`Network::add_jit_wallet`]): a wallet with the LSPS2 client side wired in
//!   ([`TestNode::lsps2`]);
//! * a raw node ([`Network::add_raw`]): a [`RawLsps`] recorder, to play a misbehaving peer with
//!   raw type-37913 payloads.
//!
//! Helpers: [`Network::fund`], [`Network::mine`], [`Network::connect`],
//! [`Network::open_channel`] (confirmed and usable), [`TestNode::invoice`], [`TestNode::pay`],
//! [`TestNode::wait_for_event`] (every LDK event is recorded), [`Network::restart`] (rebuild a
//! node from its data directory) and [`Network::shutdown`]. Waits have deadlines
//! ([`DEFAULT_TIMEOUT`]) and never sleep as an assertion. Dropping the network stops nodes still
//! running; dropping bcoin kills it.
//!
//! ```no_run
//! # async fn example() -> inbound_harness::HarnessResult<()> {
//! use inbound_harness::Network;
//!
//! let network = Network::sim().await?;
//! let lsp = network.add_lsp("lsp").await?;
//! let payer = network.add_wallet("payer").await?;
//! network.connect(&payer, &lsp).await?;
//! assert_eq!(payer.client().list_protocols(lsp.node_id()).await, Ok(vec![]));
//!
//! network.fund(&payer, 500_000).await?;
//! network.open_channel(&payer, &lsp, 300_000, 0).await?;
//! let invoice = lsp.invoice(10_000_000)?;
//! payer.pay(&invoice).await?;
//! network.shutdown().await
//! # }
//! ```
//!
//! Set `HARNESS_DEBUG=1` to see LDK's trace logs.

#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]
#![forbid(unsafe_code)]

mod chain;
mod jit;
mod lsp;
mod network;
mod raw;
mod test_node;
mod wait;

pub use chain::FUNDING_CONFIRMATIONS;
pub use lsp::{open_store, LSP_TICK};
pub use network::{Backend, Network, BCOIN_POLL_INTERVAL, RAW_NODE_QUEUE_LIMIT};
pub use raw::{RawLsps, MAX_RECORDED_PAYLOADS};
pub use test_node::{EventRecorder, Role, TestNode, MAX_RECORDED_EVENTS};
pub use wait::{wait_for, wait_until, HarnessError, HarnessResult, DEFAULT_TIMEOUT, POLL_INTERVAL};
