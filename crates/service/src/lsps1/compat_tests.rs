//! `[lsps] compat` on LSPS1 answers ([`Compat`]), through the [`LspsServer`] as a client sees
//! them: the token mirror, the on-chain option, `HOLD`, and `error.data`. The stored orders and
//! their steps are the same in both settings.

use std::sync::Arc;

use lsps::lsps1::{check_order, CreateOrderRequest, Order, OrderState, PaymentState};
use lsps::method::Protocol;
use serde_json::{json, Value};

use super::fake::{key, Call, FakeNode};
use super::ops::OrderLightning;
use super::order::OrderStatus;
use super::runner::OrderEvent;
use super::service_tests::{call, client, create, request, Setup, REFUND};
use super::{Lsps1Config, Lsps1Service};
use crate::{Clock, Compat, LspsServer, LspsServerConfig, ManualClock};

async fn setup(compat: Compat, config: Lsps1Config) -> Setup {
    let store = inbound_store::open("sqlite::memory:").await.expect("store");
    let clock = Arc::new(ManualClock::starting_now());
    let fake = Arc::new(FakeNode::new());
    let service = Lsps1Service::with_compat(config, Arc::clone(&store), Arc::clone(&clock) as Arc<dyn Clock>, compat)
        .expect("config");
    service.attach(Arc::clone(&fake) as Arc<dyn OrderLightning>);
    let server =
        LspsServer::new(LspsServerConfig { enabled_protocols: vec![Protocol::Lsps1], compat, ..Default::default() });
    server.register(service.protocol_handler());
    fake.connect(client());
    Setup { service, fake, clock, store, server }
}

/// The `[lsps1]` terms of an LSP that takes on-chain payments at 0 confirmations.
fn zero_conf() -> Lsps1Config {
    Lsps1Config { onchain_payment_confirmations: 0, min_fee_for_0conf: Some(253), ..Default::default() }
}

async fn create_raw(s: &Setup, params: Value) -> Value {
    let answer = call(s, client(), "lsps1.create_order", params).await;
    assert!(answer["result"].is_object(), "an order: {answer}");
    answer["result"].clone()
}

async fn get_order(s: &Setup, order_id: &str) -> Order {
    let answer = call(s, client(), "lsps1.get_order", json!({ "order_id": order_id })).await;
    serde_json::from_value(answer["result"].clone()).unwrap_or_else(|_| panic!("an order: {answer}"))
}

fn typed(params: &Value) -> CreateOrderRequest {
    serde_json::from_value(params.clone()).expect("a request")
}

#[tokio::test]
async fn an_absent_token_is_mirrored_as_empty_in_spec_mode_and_as_absent_in_ldk_mode() {
    let spec = setup(Compat::Spec, Lsps1Config::default()).await;
    let ldk = setup(Compat::Ldk, Lsps1Config::default()).await;
    let spec_order = create_raw(&spec, request(None)).await;
    assert_eq!(spec_order["token"], json!(""), "bLIP-51: \"\" when the client sent none");
    let ldk_order = create_raw(&ldk, request(None)).await;
    assert!(ldk_order.get("token").is_none(), "LDK compares its None: {ldk_order}");
    // Every token sent comes back exactly, "" included, in both modes.
    let config = || Lsps1Config { tokens: vec!["VIP".into()], ..Default::default() };
    for compat in [Compat::Spec, Compat::Ldk] {
        let s = setup(compat, config()).await;
        for token in ["VIP", ""] {
            let mut params = request(None);
            params["token"] = json!(token);
            assert_eq!(create_raw(&s, params).await["token"], json!(token), "{compat:?}");
        }
    }
    // get_order mirrors it the same way, and the LDK-shaped order passes the bLIP-51 client checks.
    let id = ldk_order["order_id"].as_str().expect("id");
    let order = get_order(&ldk, id).await;
    assert_eq!(order.token, None);
    assert!(
        check_order(&order, &typed(&request(None))).is_acceptable(),
        "{:?}",
        check_order(&order, &typed(&request(None)))
    );
}

#[tokio::test]
async fn ldk_mode_offers_the_onchain_option_only_with_zero_conf_terms() {
    // The default terms count a payment after 1 confirmation, without min_fee_for_0conf.
    let spec = create(&setup(Compat::Spec, Lsps1Config::default()).await, request(Some(REFUND))).await;
    let onchain = spec.payment.onchain.expect("spec mode offers the configured terms");
    assert_eq!((onchain.min_onchain_payment_confirmations, onchain.min_fee_for_0conf), (1, None));
    let s = setup(Compat::Ldk, Lsps1Config::default()).await;
    let ldk = create(&s, request(Some(REFUND))).await;
    assert!(ldk.payment.onchain.is_none(), "LDK cannot read min_fee_for_0conf absent: {ldk:?}");
    assert!(ldk.payment.bolt11.is_some());
    let stored = s.service.order(&ldk.order_id).await.expect("store").expect("order");
    assert!(stored.onchain.is_none(), "no deposit address is watched for an option not offered");
    // 0 confirmations without a min_fee_for_0conf: LDK could not read it either.
    let config = Lsps1Config { onchain_payment_confirmations: 0, ..Default::default() };
    let ldk = create(&setup(Compat::Ldk, config).await, request(Some(REFUND))).await;
    assert!(ldk.payment.onchain.is_none());
    // 0-conf terms are offered to LDK as they are.
    let ldk = create(&setup(Compat::Ldk, zero_conf()).await, request(Some(REFUND))).await;
    let onchain = ldk.payment.onchain.expect("0-conf terms are offered");
    assert_eq!((onchain.min_onchain_payment_confirmations, onchain.min_fee_for_0conf.map(|f| f.0)), (0, Some(253)));
    // Without a refund address there is no on-chain option in either mode (bLIP-51).
    let ldk = create(&setup(Compat::Ldk, zero_conf()).await, request(None)).await;
    assert!(ldk.payment.onchain.is_none());
    // accept_onchain = false still wins.
    let config = Lsps1Config { accept_onchain: false, ..zero_conf() };
    assert!(create(&setup(Compat::Ldk, config).await, request(Some(REFUND))).await.payment.onchain.is_none());
}

#[tokio::test]
async fn a_held_htlc_is_hold_in_spec_mode_and_paid_in_ldk_mode_while_the_order_is_unchanged() {
    for (compat, while_held) in [(Compat::Spec, PaymentState::Hold), (Compat::Ldk, PaymentState::Paid)] {
        let s = setup(compat, Lsps1Config::default()).await;
        let order = create(&s, request(None)).await;
        assert_eq!(order.payment.bolt11.as_ref().expect("bolt11").state, PaymentState::ExpectPayment);
        let stored = s.service.order(&order.order_id).await.expect("store").expect("order");
        let hold = stored.bolt11.as_ref().expect("bolt11");
        let paid = OrderEvent::PaymentClaimable {
            payment_hash: hold.payment_hash.0,
            amount_msat: hold.total_sat * 1000,
            claim_deadline: Some(1_200),
        };
        assert!(s.service.on_event(paid).await.expect("event"));
        let held = get_order(&s, &order.order_id).await;
        assert_eq!((held.order_state, held.payment.bolt11.expect("bolt11").state), (OrderState::Created, while_held));
        // The order itself holds the HTLC in both modes: the preimage is not released.
        let stored = s.service.order(&order.order_id).await.expect("store").expect("order");
        assert!(matches!(stored.status, OrderStatus::Opening { .. }), "{compat:?}: {:?}", stored.status);
        assert_eq!(stored.bolt11_state(), PaymentState::Hold);
        assert!(!s.fake.calls().iter().any(|c| matches!(c, Call::Claim(_))), "{compat:?}: claimed while opening");
        let funded = OrderEvent::ChannelPending {
            user_channel_id: stored.user_channel_id,
            funding_outpoint: format!("{}:0", "cd".repeat(32)),
        };
        assert!(s.service.on_event(funded).await.expect("event"));
        let done = get_order(&s, &order.order_id).await;
        assert_eq!(
            (done.order_state, done.payment.bolt11.expect("bolt11").state),
            (OrderState::Completed, PaymentState::Paid)
        );
        assert!(done.channel.is_some());
    }
}

#[tokio::test]
async fn a_refunded_htlc_is_refunded_in_both_modes() {
    for compat in [Compat::Spec, Compat::Ldk] {
        let s = setup(compat, Lsps1Config::default()).await;
        *s.fake.refuse_opens.lock().expect("lock") = true;
        let order = create(&s, request(None)).await;
        let stored = s.service.order(&order.order_id).await.expect("store").expect("order");
        let hold = stored.bolt11.as_ref().expect("bolt11");
        let paid = OrderEvent::PaymentClaimable {
            payment_hash: hold.payment_hash.0,
            amount_msat: hold.total_sat * 1000,
            claim_deadline: Some(1_200),
        };
        assert!(s.service.on_event(paid).await.expect("event"));
        s.clock.advance(Lsps1Config::default().payment_window_secs + 1);
        s.service.tick().await.expect("tick");
        let failed = get_order(&s, &order.order_id).await;
        assert_eq!(
            (failed.order_state, failed.payment.bolt11.expect("bolt11").state),
            (OrderState::Failed, PaymentState::Refunded),
            "{compat:?}"
        );
        assert!(s.fake.calls().contains(&Call::Fail(hold.payment_hash.0)), "{compat:?}: HTLC failed back");
    }
}

#[tokio::test]
async fn lsps1_errors_carry_string_data_in_ldk_mode() {
    let mut too_big = request(None);
    too_big["lsp_balance_sat"] = json!("999999999");
    let option_mismatch =
        json!({"property": "max_initial_lsp_balance_sat", "message": "lsp_balance_sat exceeds 10000000"});
    for (compat, mismatch_data, not_found_data) in [
        (Compat::Spec, option_mismatch, json!({})),
        (Compat::Ldk, json!("lsp_balance_sat exceeds 10000000"), json!("{}")),
    ] {
        let s = setup(compat, Lsps1Config::default()).await;
        let answer = call(&s, client(), "lsps1.create_order", too_big.clone()).await;
        assert_eq!((answer["error"]["code"].clone(), answer["error"]["data"].clone()), (json!(100), mismatch_data));
        let answer = call(&s, key(10), "lsps1.get_order", json!({"order_id": "nope"})).await;
        assert_eq!((answer["error"]["code"].clone(), answer["error"]["data"].clone()), (json!(101), not_found_data));
    }
}
