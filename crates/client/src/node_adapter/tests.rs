//! The node adapter's channel decisions: a JIT channel's terms, and the two fallbacks.

use std::sync::Arc;

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use inbound_node::lightning::ln::types::ChannelId;
use inbound_node::lightning::types::payment::PaymentHash;
use inbound_node::{ChannelAcceptor, ChannelDecision, DefaultChannelAcceptor, InboundChannelRequest};
use lsps::schema::Scid;

use super::{JitChannelAcceptor, RejectingAcceptor};
use crate::lsps2::{AgreedFee, Purchase, PurchaseRegistry};

fn key(byte: u8) -> PublicKey {
    PublicKey::from_secret_key(&Secp256k1::new(), &SecretKey::from_slice(&[byte; 32]).expect("valid key"))
}

fn open_request(from: PublicKey, is_announced: bool) -> InboundChannelRequest {
    InboundChannelRequest {
        temporary_channel_id: ChannelId([3; 32]),
        counterparty_node_id: from,
        funding_satoshis: 100_000,
        push_msat: 0,
        is_announced,
    }
}

#[test]
fn the_acceptor_grants_zero_conf_only_for_an_open_purchase() {
    let (lsp, stranger) = (key(2), key(3));
    let now = crate::lsps2::now();
    let valid_until = now.checked_add_secs(600).expect("in range");
    let registry = Arc::new(PurchaseRegistry::new(2, 60));
    let purchase = Purchase {
        lsp,
        intercept_scid: Scid(1),
        valid_until,
        client_trusts_lsp: false,
        fee: AgreedFee::Fixed { payment_size_msat: 10_000_000, opening_fee_msat: 10_000 },
        settled: false,
    };
    let jit = ChannelDecision::Accept {
        zero_conf: true,
        accept_underpaying_htlcs: true,
        max_inbound_htlc_value_in_flight_percent_of_channel: Some(100),
        user_channel_id: inbound_node::default_user_channel_id(&ChannelId([3; 32])),
    };
    assert_eq!(registry.decide(&open_request(lsp, false), now), None, "no purchase yet");
    assert_eq!(registry.insert(PaymentHash([1; 32]), purchase, now), Ok(true));
    assert_eq!(registry.decide(&open_request(lsp, false), now), Some(jit.clone()));
    assert_eq!(registry.decide(&open_request(lsp, true), now), None, "announced channel");
    assert_eq!(registry.decide(&open_request(stranger, false), now), None, "another peer");

    // The acceptor: the JIT decision, else the node default without underpaying HTLCs, or a rejection.
    let node_default = DefaultChannelAcceptor { trusted_peers_0conf: vec![stranger], accept_underpaying_htlcs: false };
    let acceptor = JitChannelAcceptor::new(Arc::clone(&registry), Arc::new(node_default));
    assert_eq!(acceptor.decide(&open_request(lsp, false)), jit);
    assert!(matches!(
        acceptor.decide(&open_request(stranger, false)),
        ChannelDecision::Accept { zero_conf: true, accept_underpaying_htlcs: false, .. }
    ));
    registry.mark_settled(&PaymentHash([1; 32])).expect("in memory");
    assert!(matches!(
        acceptor.decide(&open_request(lsp, false)),
        ChannelDecision::Accept { zero_conf: false, accept_underpaying_htlcs: false, .. }
    ));
    let strict = JitChannelAcceptor::new(Arc::clone(&registry), Arc::new(RejectingAcceptor));
    assert!(matches!(strict.decide(&open_request(stranger, false)), ChannelDecision::Reject { .. }));
}
