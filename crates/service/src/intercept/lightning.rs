//! [`InterceptOps`] for `inbound_node::Node`, and LDK's `HTLCIntercepted` as a [`HeldHtlc`].

use bitcoin::secp256k1::PublicKey;
use inbound_node::lightning::events::Event;
use inbound_node::lightning::ln::channelmanager::InterceptId;
use inbound_node::lightning::ln::types::ChannelId;
use inbound_node::lightning::util::errors::APIError;
use inbound_node::Node;

use super::{HeldHtlc, InterceptOps};
use crate::ids::{ChannelRef, InterceptRef, PaymentHashRef};
use crate::ops::OpsError;

impl InterceptOps for Node {
    fn new_intercept_scid(&self) -> u64 {
        self.channel_manager().get_intercept_scid()
    }

    fn is_connected(&self, peer: &PublicKey) -> bool {
        self.peer_manager().peer_by_node_id(peer).is_some()
    }

    fn fail_htlc(&self, intercept_id: InterceptRef) -> Result<(), OpsError> {
        self.channel_manager().fail_intercepted_htlc(InterceptId(intercept_id.0)).map_err(api_error)
    }

    fn forward_htlc(
        &self,
        intercept_id: InterceptRef,
        channel: ChannelRef,
        client: PublicKey,
        amount_msat: u64,
    ) -> Result<(), OpsError> {
        self.channel_manager()
            .forward_intercepted_htlc(InterceptId(intercept_id.0), &ChannelId(channel.0), client, amount_msat)
            .map_err(api_error)
    }

    fn flush(&self) {
        self.channel_manager().process_pending_htlc_forwards();
        self.peer_manager().process_events();
    }
}

fn api_error(error: APIError) -> OpsError {
    match error {
        // LDK answers an intercept id it does not hold with an API-misuse "not found".
        APIError::APIMisuseError { ref err } if err.contains("not found") => OpsError::NotFound,
        other => OpsError::Failed(format!("{other:?}")),
    }
}

/// The requested SCID and the HTLC of an `HTLCIntercepted`; `None` for every other event.
pub fn intercepted(event: &Event) -> Option<(u64, HeldHtlc)> {
    match event {
        Event::HTLCIntercepted {
            intercept_id,
            requested_next_hop_scid,
            payment_hash,
            inbound_amount_msat,
            expected_outbound_amount_msat,
        } => Some((
            *requested_next_hop_scid,
            HeldHtlc {
                intercept_id: InterceptRef(intercept_id.0),
                payment_hash: PaymentHashRef(payment_hash.0),
                expected_outbound_amount_msat: *expected_outbound_amount_msat,
                inbound_amount_msat: *inbound_amount_msat,
            },
        )),
        _ => None,
    }
}
