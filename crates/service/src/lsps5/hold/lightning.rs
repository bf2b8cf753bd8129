//! [`HoldNode`] for `inbound_node::Node`, and [`HoldEventHandler`], which takes LDK's
//! `HTLCIntercepted` for hold SCIDs out of the event chain (in front of LSPS2's handler).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bitcoin::secp256k1::PublicKey;
use inbound_node::lightning::events::{Event, ReplayEvent};
use inbound_node::{Node, NodeEventHandler};
use tracing::warn;

use super::ops::{ChannelChoice, ForwardingTerms, HoldNode};
use super::service::HoldService;
use crate::ids::ChannelRef;

impl HoldNode for Node {
    fn has_channel_with(&self, client: &PublicKey) -> bool {
        self.list_channels().iter().any(|channel| channel.counterparty.node_id == *client)
    }

    fn channel_for(&self, client: &PublicKey, amount_msat: u64) -> ChannelChoice {
        let best = self
            .list_channels()
            .into_iter()
            .filter(|channel| channel.counterparty.node_id == *client && channel.is_usable)
            .max_by_key(|channel| channel.next_outbound_htlc_limit_msat);
        match best {
            None => ChannelChoice::Unusable,
            Some(channel)
                if channel.next_outbound_htlc_limit_msat >= amount_msat
                    && channel.next_outbound_htlc_minimum_msat <= amount_msat =>
            {
                ChannelChoice::Ready(ChannelRef(channel.channel_id.0))
            }
            Some(_) => ChannelChoice::TooSmall,
        }
    }

    fn forwarding_terms(&self, client: &PublicKey) -> Option<ForwardingTerms> {
        let channels = self.list_channels();
        let channel = channels.iter().find(|channel| channel.counterparty.node_id == *client)?;
        let config = channel.config?;
        Some(ForwardingTerms {
            fee_base_msat: config.forwarding_fee_base_msat,
            fee_proportional_millionths: config.forwarding_fee_proportional_millionths,
            cltv_expiry_delta: config.cltv_expiry_delta,
        })
    }
}

/// The node event handler of notify-and-wait: an `HTLCIntercepted` for a hold SCID (that is
/// no LSPS2 session's) goes to the [`HoldService`]; every other event to the next handler.
pub struct HoldEventHandler {
    service: Arc<HoldService>,
    next: Option<Arc<dyn NodeEventHandler>>,
}

impl HoldEventHandler {
    /// A handler feeding `service`, then `next`.
    pub fn new(service: Arc<HoldService>, next: Option<Arc<dyn NodeEventHandler>>) -> HoldEventHandler {
        HoldEventHandler { service, next }
    }
}

impl NodeEventHandler for HoldEventHandler {
    fn handle_event(&self, event: Event) -> Pin<Box<dyn Future<Output = Result<(), ReplayEvent>> + Send + '_>> {
        Box::pin(async move {
            if let Some((scid, htlc)) = crate::intercept::intercepted(&event) {
                match self.service.on_intercepted(scid, htlc).await {
                    Ok(true) => return Ok(()),
                    Ok(false) => {}
                    Err(error) => {
                        warn!(%error, "notify-and-wait could not handle an HTLC; LDK will replay it");
                        return Err(ReplayEvent());
                    }
                }
            }
            match &self.next {
                Some(next) => next.handle_event(event).await,
                None => Ok(()),
            }
        })
    }
}
