//! The event handler every node started by this crate uses: it settles payments to the node's
//! own invoices, logs what an operator wants to see, and lets in-process code (the demo, tests)
//! wait for events.
//!
//! Payments: a `PaymentClaimable` for an invoice the node created carries its preimage and is
//! claimed at once; one without a preimage cannot be ours to claim and is failed back at once, so
//! no HTLC ever waits for its CLTV expiry. Intercepted HTLCs belong to the LSPS2 service, which
//! sees every event first ([`EventHandler::for_jit_lsp`]); without that service they are failed
//! back for the same reason.
//!
//! Waiting: [`EventHandler::subscribe`] returns a receiver of every later event. The channel is
//! bounded ([`EVENT_CHANNEL_CAPACITY`]); with no subscriber events are simply dropped, so a
//! long-running daemon holds no event history.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use inbound_node::lightning::events::{Event, ReplayEvent};
use inbound_node::types::ChannelManager;
use inbound_node::NodeEventHandler;
use tokio::sync::broadcast;

/// How many events a subscriber may fall behind before it misses some.
pub const EVENT_CHANNEL_CAPACITY: usize = 1024;

/// See the module documentation.
pub struct EventHandler {
    /// Set once the node is built (the handler must exist before the node does).
    channel_manager: OnceLock<Arc<ChannelManager>>,
    /// Fan-out to subscribers; bounded, lossy for subscribers that fall behind.
    events: broadcast::Sender<Event>,
    /// The node's alias, for log lines.
    alias: String,
    /// Whether an LSPS2 service in front of this handler owns intercepted HTLCs.
    jit_service: bool,
}

impl EventHandler {
    /// A handler for the node named `alias`. Call [`EventHandler::attach`] after building the node.
    pub fn new(alias: impl Into<String>) -> Arc<EventHandler> {
        EventHandler::build(alias.into(), false)
    }

    /// A handler for an LSP whose LSPS2 service handles each event before this one: intercepted
    /// HTLCs are left to the service instead of being failed back.
    pub fn for_jit_lsp(alias: impl Into<String>) -> Arc<EventHandler> {
        EventHandler::build(alias.into(), true)
    }

    fn build(alias: String, jit_service: bool) -> Arc<EventHandler> {
        let (events, _) = broadcast::channel(EVENT_CHANNEL_CAPACITY);
        Arc::new(EventHandler { channel_manager: OnceLock::new(), events, alias, jit_service })
    }

    /// Gives the handler the node's channel manager. Call after `NodeBuilder::build` and before
    /// `Node::start` (no event is delivered before the start; until this call they are replayed).
    pub fn attach(&self, channel_manager: Arc<ChannelManager>) {
        let _ = self.channel_manager.set(channel_manager);
    }

    /// Every event handled after this call.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    fn handle(&self, event: &Event) -> Result<(), ReplayEvent> {
        let Some(channel_manager) = self.channel_manager.get() else {
            return Err(ReplayEvent());
        };
        match event {
            Event::PaymentClaimable { payment_hash, purpose, amount_msat, .. } => match purpose.preimage() {
                Some(preimage) => {
                    tracing::info!(node = %self.alias, %payment_hash, amount_msat, "claiming payment");
                    channel_manager.claim_funds(preimage);
                }
                None => {
                    tracing::warn!(node = %self.alias, %payment_hash, "payment without a known preimage; failing it back");
                    channel_manager.fail_htlc_backwards(payment_hash);
                }
            },
            Event::PaymentClaimed { payment_hash, amount_msat, .. } => {
                tracing::info!(node = %self.alias, %payment_hash, amount_msat, "payment received");
            }
            Event::PaymentSent { payment_hash, fee_paid_msat, .. } => {
                tracing::info!(node = %self.alias, %payment_hash, ?fee_paid_msat, "payment sent");
            }
            Event::PaymentFailed { payment_hash, reason, .. } => {
                tracing::warn!(node = %self.alias, ?payment_hash, ?reason, "payment failed");
            }
            Event::HTLCIntercepted { requested_next_hop_scid, .. } if self.jit_service => {
                tracing::debug!(node = %self.alias, requested_next_hop_scid, "intercepted HTLC for LSPS2");
            }
            Event::HTLCIntercepted { intercept_id, requested_next_hop_scid, .. } => {
                tracing::warn!(
                    node = %self.alias,
                    requested_next_hop_scid,
                    "intercepted HTLC but no JIT channel service is running; failing it back"
                );
                let _ = channel_manager.fail_intercepted_htlc(*intercept_id);
            }
            Event::ChannelReady { channel_id, counterparty_node_id, .. } => {
                tracing::info!(node = %self.alias, %channel_id, %counterparty_node_id, "channel ready");
            }
            Event::ChannelClosed { channel_id, reason, .. } => {
                tracing::info!(node = %self.alias, %channel_id, %reason, "channel closed");
            }
            _ => {}
        }
        Ok(())
    }
}

impl NodeEventHandler for EventHandler {
    fn handle_event(&self, event: Event) -> Pin<Box<dyn Future<Output = Result<(), ReplayEvent>> + Send + '_>> {
        let result = self.handle(&event);
        if result.is_ok() {
            // No subscriber is the normal case for a daemon; the event is then dropped.
            let _ = self.events.send(event);
        }
        Box::pin(async move { result })
    }
}

/// Waits up to `timeout` for an event for which `select` returns `Some(Ok(_))` (done) or
/// `Some(Err(_))` (the awaited thing failed). `what` names the wait in errors.
///
/// # Errors
/// The error `select` returned, a timeout, or the channel closing or lagging.
pub async fn wait_for_event<T>(
    events: &mut broadcast::Receiver<Event>,
    what: &str,
    timeout: Duration,
    mut select: impl FnMut(&Event) -> Option<Result<T>>,
) -> Result<T> {
    let wait = async {
        loop {
            match events.recv().await {
                Ok(event) => {
                    if let Some(outcome) = select(&event) {
                        return outcome;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    bail!("missed {missed} events while waiting for {what}")
                }
                Err(broadcast::error::RecvError::Closed) => bail!("the node stopped while waiting for {what}"),
            }
        }
    };
    tokio::time::timeout(timeout, wait).await.map_err(|_| anyhow!("timed out after {timeout:?} waiting for {what}"))?
}
