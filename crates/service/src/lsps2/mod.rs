//! LSPS2 (bLIP-52) just-in-time channels, the LSP's side.
//!
//! * [`session`]: one purchase as a pure state machine ([`session::JitSession::step`]).

pub mod session;

#[cfg(test)]
mod session_tests;
