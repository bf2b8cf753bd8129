//! The wallet side of LSPS2 (bLIP-52): just-in-time channels.
//!
//! * [`Lsps2Client::get_info`] fetches and checks the fee menu;
//!   [`Lsps2Client::jit_invoice`] buys an entry and makes the invoice of bLIP-52 §"Invoice"
//!   ([`invoice`]), remembering the purchase in a bounded registry ([`purchases`]) that is saved
//!   in a file ([`purchase_file`], in the node's data directory) before the invoice is returned,
//!   so a restarted wallet still honours it.
//! * [`Lsps2Client::is_jit_channel`] tells the node to accept the LSP's 0-conf channel, with
//!   underpaying HTLCs, only for an open purchase.
//! * [`Lsps2Client::handle_event`] claims a JIT payment only if the fee the LSP skimmed is
//!   within the agreement, and fails back any other payment with a skimmed fee.
//!
//! The client reaches the node through [`WalletNode`](crate::WalletNode). With the `node`
//! feature, `inbound-node` implements it, and the node adapter adds `Lsps2Client::new` /
//! `with_config` (purchases kept in the node's data directory), `Lsps2Client::acceptor` (the
//! node's channel acceptor) and `WalletEventHandler` (the node's event handler). Wiring (the
//! event handler exists before the node; the client and acceptor after it):
//!
//! ```no_run
//! # #[cfg(feature = "node")]
//! # async fn wire(lsps: std::sync::Arc<inbound_client::LspsClient>) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use inbound_client::lsps2::{Lsps2Client, WalletEventHandler};
//! use inbound_client::LspsOutbound;
//! use inbound_node::{LspsMessageHandler, NodeBuilder, NodeEventHandler, NodeRole, SimChain};
//!
//! let events = WalletEventHandler::new(None);
//! let mut builder = NodeBuilder::new("/tmp/inbound-wallet");
//! builder
//!     .set_role(NodeRole::Wallet)
//!     .set_chain_source(SimChain::new())
//!     .set_lsps_message_handler(Arc::clone(&lsps) as Arc<dyn LspsMessageHandler>)
//!     .set_event_handler(Arc::clone(&events) as Arc<dyn NodeEventHandler>);
//! let node = Arc::new(builder.build().await?);
//! lsps.attach(Arc::clone(node.lsps_transport()) as Arc<dyn LspsOutbound>);
//! let lsps2 = Lsps2Client::new(lsps, Arc::clone(&node))?;
//! node.set_channel_acceptor(lsps2.acceptor());
//! events.attach(&lsps2);
//! node.start().await?;
//! # Ok(()) }
//! ```
//!
//! On another LDK node: implement [`WalletNode`](crate::WalletNode) and
//! [`LspsOutbound`](crate::LspsOutbound), build the client with [`Lsps2Client::open`], ask
//! [`Lsps2Client::is_jit_channel`] in the node's `OpenChannelRequest` handling, and pass every
//! event through [`Lsps2Client::handle_event`] first.
//!
//! | [`Lsps2ClientConfig`] field | default |
//! |---|---|
//! | `min_remaining_validity_secs` | [`DEFAULT_MIN_REMAINING_VALIDITY_SECS`] |
//! | `min_final_cltv_expiry_delta` | LDK's `MIN_FINAL_CLTV_EXPIRY_DELTA` (the invoice says + 2) |
//! | `client_trusts_lsp` | [`ClientTrustsLspPolicy::Allow`] |
//! | `fallback` | [`FallbackAcceptor::NodeDefault`] (used by the `node` feature's acceptor) |
//! | `max_open_purchases` | [`DEFAULT_MAX_OPEN_PURCHASES`] |
//! | `open_grace_secs` | [`DEFAULT_OPEN_GRACE_SECS`] |

mod client;
mod events;
pub mod invoice;
pub mod purchase_file;
pub mod purchases;

#[cfg(feature = "node")]
pub(crate) use client::now;
pub use client::{no_offer_error, select_offer, JitInvoice, JitInvoiceRequest, Lsps2Client};
pub use events::{decide_claim, ClaimDecision, EventOutcome};
pub use purchase_file::{PurchaseFile, PurchaseFileError, PURCHASES_FILE_NAME};
pub use purchases::{check_jit_payment, AgreedFee, Purchase, PurchaseRegistry, SkimRejection};

#[cfg(feature = "node")]
pub use crate::node_adapter::{JitChannelAcceptor, RejectingAcceptor, WalletEventHandler};

use lightning::ln::channelmanager::MIN_FINAL_CLTV_EXPIRY_DELTA;

/// Default: an offer must stay valid this long after the menu arrives to be bought (the payer
/// needs time to pay; LSPs should give ≥ 10 minutes, bLIP-52 §4.2).
pub const DEFAULT_MIN_REMAINING_VALIDITY_SECS: u64 = 120;
/// Default bound on open purchases (in memory and in the purchase file).
pub const DEFAULT_MAX_OPEN_PURCHASES: usize = 1000;
/// Default time after `valid_until` during which the LSP's channel is still accepted as 0-conf
/// (the LSP decides before `valid_until`; its `open_channel` may arrive a little later).
pub const DEFAULT_OPEN_GRACE_SECS: u64 = 60;

/// Whether the wallet buys when the LSP answers `client_trusts_lsp: true` (bLIP-52 §4.9: the LSP
/// may then withhold the funding broadcast until the wallet has released the preimage).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientTrustsLspPolicy {
    /// Accept it (the wallet had no funds at stake before the payment).
    Allow,
    /// Abort the purchase with [`ClientError::ClientTrustsLspRefused`](crate::ClientError::ClientTrustsLspRefused).
    Refuse,
}

/// What the `node` feature's `Lsps2Client::acceptor` does with channels that are not a JIT
/// purchase's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FallbackAcceptor {
    /// The node's default (accept; 0-conf for `trusted_peers_0conf`), without underpaying HTLCs.
    NodeDefault,
    /// Reject them.
    Reject,
}

/// [`Lsps2Client`] settings; defaults in the module documentation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lsps2ClientConfig {
    /// An entry expiring sooner than this after `now` is not bought.
    pub min_remaining_validity_secs: u64,
    /// The wallet's normal `min_final_cltv_expiry_delta`, which LDK enforces on arrival; the
    /// invoice advertises it + 2.
    pub min_final_cltv_expiry_delta: u16,
    /// The `client_trusts_lsp` policy.
    pub client_trusts_lsp: ClientTrustsLspPolicy,
    /// Non-JIT inbound channels.
    pub fallback: FallbackAcceptor,
    /// Bound on open purchases.
    pub max_open_purchases: usize,
    /// Grace after `valid_until` for the LSP's channel open.
    pub open_grace_secs: u64,
}

impl Default for Lsps2ClientConfig {
    fn default() -> Self {
        Lsps2ClientConfig {
            min_remaining_validity_secs: DEFAULT_MIN_REMAINING_VALIDITY_SECS,
            min_final_cltv_expiry_delta: MIN_FINAL_CLTV_EXPIRY_DELTA,
            client_trusts_lsp: ClientTrustsLspPolicy::Allow,
            fallback: FallbackAcceptor::NodeDefault,
            max_open_purchases: DEFAULT_MAX_OPEN_PURCHASES,
            open_grace_secs: DEFAULT_OPEN_GRACE_SECS,
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod sdk_tests;
