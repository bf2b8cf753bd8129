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

#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

pub mod cli;
pub mod client;
pub mod client_jit;
pub mod client_order;
pub mod config;
pub mod demo;
pub mod events;
pub mod logging;
pub mod lsp;
pub mod serve;
pub mod wallet;
