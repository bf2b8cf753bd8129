//! The one file of the LSPS2 service that knows `inbound_node::Node` and LDK's events:
//! [`JitLightning`] for the node (its shared intercept calls are `crate::intercept`'s), and [`Lsps2EventHandler`], the node event handler that
//! turns LDK events into [`JitEvent`]s.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bitcoin::secp256k1::PublicKey;
use inbound_node::lightning::chain::chaininterface::{ConfirmationTarget, FeeEstimator};
use inbound_node::lightning::events::{Event, HTLCHandlingFailureType, ReplayEvent};
use inbound_node::lightning::ln::types::ChannelId;
use inbound_node::lightning::sign::EntropySource;
use inbound_node::{FundingBroadcast, Node, NodeError, NodeEventHandler};
use tracing::warn;

use super::ops::{JitLightning, OpenRequest};
use super::runner::JitEvent;
use super::service::Lsps2Service;
use super::session::ChannelRef;
use crate::OpsError;

impl JitLightning for Node {
    fn promise_secret(&self) -> [u8; 32] {
        self.keys_manager().get_node_secret_key().secret_bytes()
    }

    fn random_u128(&self) -> u128 {
        let bytes = self.keys_manager().get_secure_random_bytes();
        let mut half = [0u8; 16];
        half.copy_from_slice(&bytes[..16]);
        u128::from_be_bytes(half)
    }

    fn spendable_sat(&self) -> u64 {
        self.onchain_balance().confirmed_sat
    }

    fn fee_rate_sat_per_kwu(&self) -> u32 {
        self.fee_estimator().get_est_sat_per_1000_weight(ConfirmationTarget::NonAnchorChannelFee)
    }

    fn has_channel(&self, user_channel_id: u128) -> bool {
        self.list_channels().iter().any(|channel| channel.user_channel_id == user_channel_id)
    }

    fn open_channel(&self, request: &OpenRequest) -> Result<(), OpsError> {
        // bLIP-52 §"Opening the channel": unannounced, SCID alias, 0-conf (LDK sends our
        // channel_ready right after funding_signed with `trust_own_funding_0conf`), and the
        // client's to_self_delay capped.
        let mut config = self.config().user_config();
        config.channel_handshake_config.announce_for_forwarding = false;
        config.channel_handshake_config.negotiate_scid_privacy = true;
        config.channel_handshake_limits.trust_own_funding_0conf = true;
        config.channel_handshake_limits.their_to_self_delay = request.max_client_to_self_delay;
        let broadcast = if request.manual_broadcast { FundingBroadcast::Manual } else { FundingBroadcast::Automatic };
        Node::open_channel(
            self,
            request.client,
            request.channel_sat,
            0,
            request.user_channel_id,
            broadcast,
            Some(config),
        )
        .map(|_| ())
        .map_err(node_error)
    }

    fn client_htlc_minimum_msat(&self, channel: ChannelRef) -> Option<u64> {
        self.list_channels()
            .into_iter()
            .find(|details| details.channel_id.0 == channel.0)
            .map(|details| details.counterparty.outbound_htlc_minimum_msat.unwrap_or(1))
    }

    fn user_channel_id_of(&self, channel: ChannelRef) -> Option<u128> {
        self.list_channels().into_iter().find(|details| details.channel_id.0 == channel.0).map(|d| d.user_channel_id)
    }

    fn broadcast_funding(&self, user_channel_id: u128) -> Result<(), OpsError> {
        self.broadcast_manual_funding(user_channel_id).map(|_| ()).map_err(node_error)
    }

    fn abandon_channel(&self, user_channel_id: u128, release_inputs: bool) -> Result<(), OpsError> {
        if release_inputs {
            return self.abandon_manual_funding(user_channel_id).map_err(node_error);
        }
        for details in self.list_channels().into_iter().filter(|c| c.user_channel_id == user_channel_id) {
            Node::close_channel(self, &details.channel_id, details.counterparty.node_id, true).map_err(node_error)?;
        }
        Ok(())
    }

    fn close_channel(&self, channel: ChannelRef, client: PublicKey, force: bool) -> Result<(), OpsError> {
        if !self.list_channels().iter().any(|details| details.channel_id.0 == channel.0) {
            return Err(OpsError::NotFound);
        }
        Node::close_channel(self, &ChannelId(channel.0), client, force).map_err(node_error)
    }
}

fn node_error(error: NodeError) -> OpsError {
    OpsError::Failed(error.to_string())
}

/// The node event handler of an LSP serving LSPS2: hands each event to the
/// [`Lsps2Service`], then to the next handler (if any). Give it to the node builder with
/// `set_event_handler`.
pub struct Lsps2EventHandler {
    service: Arc<Lsps2Service>,
    next: Option<Arc<dyn NodeEventHandler>>,
}

impl Lsps2EventHandler {
    /// A handler feeding `service`, then `next`.
    pub fn new(service: Arc<Lsps2Service>, next: Option<Arc<dyn NodeEventHandler>>) -> Lsps2EventHandler {
        Lsps2EventHandler { service, next }
    }

    /// The LSPS2 part of an event, for callers with their own event handler.
    pub fn jit_event(event: &Event) -> Option<JitEvent> {
        if let Some((scid, htlc)) = crate::intercept::intercepted(event) {
            return Some(JitEvent::HtlcIntercepted { scid, htlc });
        }
        match event {
            Event::ChannelReady { channel_id, user_channel_id, .. } => {
                Some(JitEvent::ChannelReady { user_channel_id: *user_channel_id, channel: ChannelRef(channel_id.0) })
            }
            Event::ChannelClosed { user_channel_id, .. } => {
                Some(JitEvent::ChannelClosed { user_channel_id: *user_channel_id })
            }
            Event::HTLCHandlingFailed { failure_type: HTLCHandlingFailureType::Forward { channel_id, .. }, .. } => {
                Some(JitEvent::ForwardFailed { channel: ChannelRef(channel_id.0) })
            }
            Event::PaymentForwarded { next_user_channel_id: Some(next_user_channel_id), skimmed_fee_msat, .. } => {
                Some(JitEvent::PaymentForwarded {
                    next_user_channel_id: *next_user_channel_id,
                    skimmed_fee_msat: skimmed_fee_msat.unwrap_or(0),
                })
            }
            _ => None,
        }
    }
}

impl NodeEventHandler for Lsps2EventHandler {
    fn handle_event(&self, event: Event) -> Pin<Box<dyn Future<Output = Result<(), ReplayEvent>> + Send + '_>> {
        Box::pin(async move {
            if let Some(jit_event) = Lsps2EventHandler::jit_event(&event) {
                if let Err(error) = self.service.on_event(jit_event).await {
                    warn!(%error, "LSPS2 could not handle an event; LDK will replay it");
                    return Err(ReplayEvent());
                }
            }
            match &self.next {
                Some(next) => next.handle_event(event).await,
                None => Ok(()),
            }
        })
    }
}
