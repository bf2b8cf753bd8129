//! LSPS2 (bLIP-52) just-in-time channels, the LSP's side.
//!
//! * [`session`]: one purchase as a pure state machine ([`session::JitSession::step`]).
//! * [`config`]: fee tiers, token menus, trust mode, channel sizing, timers ([`Lsps2Config`]).
//! * [`keys`]: promise keys derived from the node secret, with rotation.
//! * [`ops`]: what the service needs from the node and the clock, as traits.
//! * [`Lsps2Service`]: `lsps2.get_info` / `lsps2.buy` (a [`ProtocolHandler`](crate::ProtocolHandler)),
//!   and the runner that turns node events and timers into session steps, persisting each step
//!   with its effects before executing them.
//! * `lightning.rs`: the one place that knows `inbound_node::Node` and LDK's events.
//!
//! Wiring: [`LspBuilder::lsps2`](crate::LspBuilder::lsps2) does it (the service registered with
//! the [`LspsServer`](crate::LspsServer), [`Lsps2EventHandler`] in the node's handler chain,
//! [`Lsps2Service::attach`] before the node starts, [`Lsps2Service::resume`] and
//! [`Lsps2Service::spawn_ticker`] after). Every session step runs on the flow kernel
//! ([`crate::flow`]).
//!
//! Known gaps: LDK 0.2.7 fails intercepted HTLCs only with `unknown_next_peer` (see `runner.rs`);
//! `NotifyClient` (LSPS5 `payment_incoming`) goes to the
//! [`ClientNotifier`](crate::notify::ClientNotifier) set by [`Lsps2Service::set_notifier`] (the
//! LSPS5 service when enabled) and is otherwise only logged; the "unpaid" record used by the
//! adaptive trust mode is the session history in the store plus a bounded in-memory map.

pub mod config;
mod effects;
pub mod keys;
mod lightning;
pub mod ops;
mod runner;
mod service;
pub mod session;
mod transitions;

pub use config::{ChannelSizing, FeeTier, Lsps2Config, Lsps2ConfigError, PreviousPromiseKey, TrustMode};
pub use lightning::Lsps2EventHandler;
pub use ops::{JitLightning, OpenRequest};
pub use runner::{JitEvent, Lsps2Stats, OperatorFailError};
pub use service::{session_id, ClientRejectionHook, Lsps2Service};
pub use session::{FailReason, HtlcFailure, JitEffect, JitInput, JitSession, JitState, PurchaseMode, SessionPolicy};

#[cfg(test)]
mod fake;
#[cfg(test)]
mod service_tests;
#[cfg(test)]
mod session_tests;
