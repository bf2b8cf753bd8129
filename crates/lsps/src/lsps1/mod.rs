//! LSPS1 (bLIP-51): buying a channel up front.
//!
//! The client calls `lsps1.get_info`, orders with `lsps1.create_order`, pays one of the
//! offered options (BOLT11 hold invoice, BOLT12 offer, or on-chain), and polls
//! `lsps1.get_order` while the LSP opens the channel or refunds.

mod msgs;

pub use msgs::*;
