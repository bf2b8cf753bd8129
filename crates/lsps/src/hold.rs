//! `inbound.hold_scid`: an **Inbound extension** (not an LSPS method, hence not `lsps5.`),
//! served with LSPS5 because it is what makes LSPS5's `payment_incoming` useful for payments over
//! an *existing* channel.
//!
//! A wallet with a channel to the LSP asks for its *hold SCID*: an SCID in the LSP's intercept
//! namespace, stable for that client. The wallet puts it in its invoices' route hint (hop: LSP
//! node id, hold SCID, the LSP's forwarding fees and CLTV delta for the wallet's channel). A
//! payment to it reaches the LSP as an intercepted HTLC: forwarded at once when the wallet is
//! online, else held while the LSP wakes the wallet with `lsps5.payment_incoming`, forwarded
//! when it reconnects, failed back after `hold_secs`.
//!
//! Errors: [`NO_CHANNEL_CODE`] when the client has no channel with the LSP.

use serde::{Deserialize, Serialize};

use crate::params::Params;
use crate::schema::Scid;

/// The error code of `inbound.hold_scid` for a client without a channel with the LSP (an
/// Inbound extension code).
pub const NO_CHANNEL_CODE: i32 = 1100;

/// `inbound.hold_scid` params: none.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldScidRequest {}

impl Params for HoldScidRequest {
    const FIELDS: &'static [&'static str] = &[];
}

/// `inbound.hold_scid` result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldScidResponse {
    /// The client's hold SCID (the route hint's SCID); the same on every call.
    pub hold_scid: Scid,
    /// The LSP's base forwarding fee towards the client, for the route hint.
    pub fee_base_msat: u32,
    /// The LSP's proportional forwarding fee towards the client, for the route hint.
    pub fee_proportional_millionths: u32,
    /// The LSP's CLTV delta towards the client, for the route hint.
    pub cltv_expiry_delta: u16,
    /// How long the LSP holds a payment for the client while it is offline.
    pub hold_secs: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_round_trips_with_the_scid_as_text() {
        let result = HoldScidResponse {
            hold_scid: Scid::from_parts(700_000, 1, 2).expect("scid"),
            fee_base_msat: 1000,
            fee_proportional_millionths: 100,
            cltv_expiry_delta: 72,
            hold_secs: 60,
        };
        let value = serde_json::to_value(&result).expect("encode");
        assert_eq!(value["hold_scid"], "700000x1x2");
        assert_eq!(serde_json::from_value::<HoldScidResponse>(value).expect("decode"), result);
    }
}
