//! # inbound
//!
//! The Inbound LSP daemon and command-line tool. The binary (`src/main.rs`) only parses the
//! command line and turns the outcome into an exit code; everything it runs lives here so that
//! the integration tests can use it too.
//!
//! * [`config`]: the TOML configuration, layered under `INBOUND_*` variables and flags.
//! * [`lsp`]: builds and starts the LSP (node + LSPS server); `inbound serve` and `inbound demo`
//!   share it. [`wallet`]: builds and starts wallet nodes, for `inbound client` and the demo.
//! * [`events`]: the event handler of every node started here.
//! * [`serve`], [`demo`], [`client`]: the subcommands; [`cli`] parses and dispatches them.
//!
//! ## Features
//!
//! * `daemon` (default): `serve`, `demo` and `config-check`, with the LSP's service, store
//!   (sqlx) and HTTP endpoint (axum); it includes `wallet`.
//! * `wallet`: only the `client …` commands (`list-protocols`, `jit-invoice`, `order`,
//!   `order-status`, `webhook`, `lnurl-channel`) and `check`, on `inbound-node` and `inbound-client`:
//!   `cargo build -p inbound --no-default-features --features wallet` builds a wallet CLI
//!   without inbound-service, inbound-store, inbound-http, sqlx or axum. Of [`config`] it has
//!   the chain part only.

#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]
// The docs link the daemon's items, which a wallet-only build does not have.
#![cfg_attr(not(feature = "daemon"), allow(rustdoc::broken_intra_doc_links))]

#[cfg(not(feature = "wallet"))]
compile_error!("the `inbound` crate needs the `wallet` feature, or `daemon` (the default), which includes it");

#[cfg(feature = "daemon")]
pub mod admin_cli;
#[cfg(feature = "daemon")]
pub mod admin_tables;
#[cfg(feature = "daemon")]
pub mod admin_voucher;
pub mod check;
pub mod check_http;
pub mod check_pay;
pub mod cli;
pub mod client;
pub mod client_jit;
pub mod client_lnurl;
pub mod client_order;
pub mod client_webhook;
pub mod config;
#[cfg(feature = "daemon")]
pub mod demo;
#[cfg(feature = "daemon")]
pub mod endpoint;
pub mod events;
pub mod logging;
#[cfg(feature = "daemon")]
pub mod lsp;
#[cfg(feature = "daemon")]
pub mod serve;
pub mod wallet;
