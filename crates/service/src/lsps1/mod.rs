//! LSPS1 (bLIP-51) channel orders, the LSP's side: a client buys a channel up front.
//!
//! * [`order`]: one order as a pure state machine ([`OrderBook::step`]; transitions in
//!   `transitions.rs`).
//! * [`config`]: what `lsps1.get_info` announces, the fee, the timers ([`Lsps1Config`]).
//! * [`ops`]: what the service needs from the node ([`OrderLightning`]).
//! * [`Lsps1Service`]: `lsps1.get_info` / `create_order` / `get_order` (a
//!   [`ProtocolHandler`](crate::ProtocolHandler)), and the runner that turns node events, the
//!   wallet and timers into order steps, persisting each step with its effects first.
//! * `lightning.rs`: the one place that knows `inbound_node::Node` and LDK's events.
//! * `operator.rs`: the operator's actions (cancel, refund, retry the open), as flow inputs.
//!
//! Wiring: [`LspBuilder::lsps1`](crate::LspBuilder::lsps1) does it (the service registered with
//! the [`LspsServer`](crate::LspsServer), [`Lsps1EventHandler`] first in the node's handler
//! chain — it consumes `PaymentClaimable` for order hashes: hold invoices must not be claimed or
//! failed by the generic handler —, [`Lsps1Service::attach`] before the node starts,
//! [`Lsps1Service::resume`] and [`Lsps1Service::spawn_ticker`] after). Every order step runs on
//! the flow kernel ([`crate::flow`]).
//!
//! Payment: a BOLT11 hold invoice (preimage generated and persisted by the LSP; claimed only
//! once the funding transaction is published, failed back at the deadline or near the HTLC's
//! CLTV) and, for clients giving a refund address, an on-chain address of the LSP's wallet
//! (counted after `onchain_payment_confirmations`; under-payment, late payment and failed
//! opens refunded to the client's address; over-payment's excess refunded after the open).
//!
//! Lease: `channel.expires_at` is `channel_expiry_blocks` × 10 minutes after the funding. With
//! `close_expired_channels` (off by default) an order stays active after COMPLETED and its
//! channel is closed cooperatively once both that time and `channel_expiry_blocks` blocks have
//! passed, and only while no HTLC is in flight, with a log line saying why. Never before.
//!
//! On-chain payments with 0 confirmations (`onchain_payment_confirmations = 0`) are read from
//! the chain source's mempool and count once their fee rate exceeds `min_fee_for_0conf`; one
//! whose fee rate is unknown waits for a block. A refund still unconfirmed after
//! `refund_bump_after_blocks` is replaced by a higher-fee one (RBF). A client that is not
//! connected when its channel is due is dialled at the address it gave with an HTTP order
//! (`x-inbound-node-address`).
//!
//! Known gaps: no BOLT12 payment option; `funding_confirms_within_blocks` does not pick the
//! funding fee rate (the node's estimate does); refund replacements pay at most 50 sat/vB; a
//! client that ordered over the peer connection and then went offline is not dialled (the open
//! waits for it to connect again); a client that pays both options is not refunded the
//! on-chain payment automatically, nor are deposits arriving after an order completed or
//! failed, and an expired order's address is watched for late deposits for a day only (the
//! operator sees such deposits in the wallet); there is no global cap on open orders (only per
//! client), and every watched address is read from the wallet on each tick.

pub mod config;
mod effects;
mod inputs;
mod lightning;
mod operator;
pub mod ops;
pub mod order;
mod runner;
mod service;
mod transitions;

pub use config::{Lsps1Config, Lsps1ConfigError};
pub use lightning::Lsps1EventHandler;
pub use operator::{OrderAction, OrderActionError};
pub use ops::{OrderLightning, OrderOpen, Receipt, UnconfirmedReceipt};
pub use order::{OrderBook, OrderEffect, OrderInput, OrderStatus};
pub use runner::OrderEvent;
pub use service::{to_wire, Lsps1Service, OnchainQuote, PrepaidError, Quote};

#[cfg(test)]
mod compat_tests;
#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
mod kernel_tests;
#[cfg(test)]
mod order_tests;
#[cfg(test)]
mod runner_tests;
#[cfg(test)]
pub(crate) mod service_tests;
