//! Interop of Inbound with LDK's own LSPS1 client and LSPS2 implementation (ldk-node 0.7.1) and
//! LDK's LSPS5 (lightning-liquidity 0.2.7), on a real bcoin regtest chain, and the pieces of the
//! LSPS2 latency benchmark (`src/bin/jit_bench.rs`).
//!
//! * [`proxy`]: a JSON-RPC proxy that makes bcoin look like Bitcoin Core to ldk-node.
//! * [`chain`]: bcoin plus the proxy.
//! * [`ldk`]: ldk-node payers, wallets and LDK's LSPS2 service.
//! * [`lsps5`]: LDK's LSPS5 client and service on inbound-node nodes, and a local HTTPS webhook.
//! * [`serve`]: Inbound's LSP as an `inbound serve` child process.
//! * [`wallet`]: Inbound's wallet side (inbound-node + inbound-client) in-process.
//!
//! This is a separate cargo project: ldk-node links libsqlite3-sys 0.28 and the main
//! workspace's sqlx needs 0.30, so nothing here depends on the store.

#![deny(missing_docs)]

pub mod chain;
pub mod ldk;
pub mod lsps5;
pub mod proxy;
pub mod serve;
pub mod wallet;
