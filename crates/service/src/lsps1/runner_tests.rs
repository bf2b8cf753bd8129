//! The LSPS1 runner against the fake node and a file-backed SQLite store: every flow, and a
//! restart (a new service over the same store) in every state, checking nothing doubles.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use lsps::lsps1::{OrderState, PaymentState};

use super::fake::{Call, FakeNode};
use super::ops::OrderLightning;
use super::order::{OrderBook, OrderStatus, RefundStatus};
use super::runner::OrderEvent;
use super::service_tests::{create, request, setup_with, Setup, REFUND};
use super::{Lsps1Config, Lsps1Service};
use crate::Clock;

pub(super) async fn file_setup(dir: &std::path::Path) -> Setup {
    let store = inbound_store::open(dir.join("store.db").to_str().expect("utf-8")).await.expect("store");
    setup_with(Lsps1Config::default(), store).await
}

pub(super) use crate::test_pg::PgSchema;

/// The LSPS1 test setup on a fresh PostgreSQL schema.
pub(super) async fn pg_setup(schema: &PgSchema) -> Setup {
    setup_with(Lsps1Config::default(), schema.open().await).await
}

/// A new service over the same store, clock and node, resumed: a restart.
pub(super) async fn restart(s: &mut Setup) {
    let service =
        Lsps1Service::new(s.service.config().clone(), Arc::clone(&s.store), Arc::clone(&s.clock) as Arc<dyn Clock>)
            .expect("config");
    service.attach(Arc::clone(&s.fake) as Arc<dyn OrderLightning>);
    service.resume().await.expect("resume");
    s.service = service;
}

pub(super) async fn stored(s: &Setup, id: &str) -> OrderBook {
    s.service.order(id).await.expect("store").expect("order")
}

pub(super) fn count(fake: &FakeNode, pred: impl Fn(&Call) -> bool) -> usize {
    fake.calls().iter().filter(|call| pred(call)).count()
}

async fn pay(s: &Setup, order: &OrderBook, amount_msat: u64) -> bool {
    let hash = order.bolt11.as_ref().expect("bolt11").payment_hash.0;
    let event = OrderEvent::PaymentClaimable { payment_hash: hash, amount_msat, claim_deadline: Some(1_200) };
    s.service.on_event(event).await.expect("event")
}

pub(super) fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("inbound-lsps1-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

#[tokio::test]
async fn hold_invoice_flow_with_a_restart_in_every_state() {
    let dir = temp_dir("hold");
    hold_invoice_flow(file_setup(&dir).await).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn hold_invoice_flow_with_restarts_on_postgres() {
    let Some(schema) = PgSchema::create("lsps1_runner").await else { return };
    hold_invoice_flow(pg_setup(&schema).await).await;
    schema.drop_schema().await;
}

#[tokio::test]
async fn onchain_flow_with_restarts_on_postgres() {
    let Some(schema) = PgSchema::create("lsps1_runner").await else { return };
    onchain_flow(pg_setup(&schema).await).await;
    schema.drop_schema().await;
}

async fn hold_invoice_flow(mut s: Setup) {
    let id = create(&s, request(None)).await.order_id;
    restart(&mut s).await; // AwaitingPayment
    let order = stored(&s, &id).await;
    let total_msat = order.bolt11.as_ref().unwrap().total_sat * 1000;
    assert!(pay(&s, &order, total_msat).await, "the order's payment is consumed");
    assert_eq!(count(&s.fake, |c| matches!(c, Call::Open(_))), 1);
    assert_eq!(stored(&s, &id).await.bolt11_state(), PaymentState::Hold);
    restart(&mut s).await; // Opening
    assert!(pay(&s, &order, total_msat).await, "LDK's replay is consumed");
    s.service.tick().await.expect("tick");
    assert_eq!(count(&s.fake, |c| matches!(c, Call::Open(_))), 1, "no second open");
    let Some(Call::Open(open)) = s.fake.calls().into_iter().find(|c| matches!(c, Call::Open(_))) else { panic!() };
    assert_eq!((open.capacity_sat, open.push_sat, open.announce), (110_000, 10_000, false));
    let funded = OrderEvent::ChannelPending {
        user_channel_id: order.user_channel_id,
        funding_outpoint: format!("{}:1", "ab".repeat(32)),
    };
    assert!(s.service.on_event(funded.clone()).await.expect("event"));
    let done = stored(&s, &id).await;
    assert_eq!((done.order_state(), done.bolt11_state()), (OrderState::Completed, PaymentState::Paid));
    assert_eq!(count(&s.fake, |c| *c == Call::Claim(order.bolt11.as_ref().unwrap().preimage.0)), 1);
    restart(&mut s).await; // Completed
    s.service.on_event(funded).await.expect("event");
    s.service.tick().await.expect("tick");
    assert_eq!(count(&s.fake, |c| matches!(c, Call::Claim(_))), 1, "claimed once");
    assert_eq!(count(&s.fake, |c| matches!(c, Call::Fail(_))), 0, "never failed");
    let wire = super::to_wire(&stored(&s, &id).await);
    assert_eq!(wire.channel.expect("channel").funding_outpoint.vout(), 1);
    // The operator's view of the same order.
    let operator = crate::operator::Operator::new(Arc::clone(&s.store));
    let listed = operator.orders(&crate::operator::ListFilter::default()).await.expect("orders");
    assert!(listed.unreadable.is_empty(), "{:?}", listed.unreadable);
    let summary = listed.items.iter().find(|item| item.order_id == id).expect("listed");
    let fee_sat = order.bolt11.as_ref().map(|invoice| invoice.fee_sat);
    assert_eq!((summary.state.as_str(), summary.payment, summary.fee_sat), ("completed", Some("lightning"), fee_sat));
    assert_eq!(Some(summary.fee_earned_sat), fee_sat);
    assert_eq!(summary.funding_outpoint, Some(format!("{}:1", "ab".repeat(32))));
    let detail = operator.order(&id).await.expect("store").expect("shown");
    assert_eq!(detail.wire.as_ref().map(|wire| wire["order_state"].clone()), Some(serde_json::json!("COMPLETED")));
    let states: Vec<&str> = detail.history.iter().map(|entry| entry.to_state.as_str()).collect();
    assert_eq!(states.first(), Some(&"awaiting_payment"));
    assert!(states.contains(&"opening") && states.last() == Some(&"completed"), "{states:?}");
    s.store.close().await.expect("close");
}

#[tokio::test]
async fn lease_policy_closes_an_idle_channel_once_after_the_lease() {
    let dir = temp_dir("lease");
    let store = inbound_store::open(dir.join("store.db").to_str().expect("utf-8")).await.expect("store");
    let mut s = setup_with(Lsps1Config { close_expired_channels: true, ..Default::default() }, store).await;
    let id = create(&s, request(None)).await.order_id;
    let order = stored(&s, &id).await;
    assert!(pay(&s, &order, order.bolt11.as_ref().unwrap().total_sat * 1000).await);
    let funded = OrderEvent::ChannelPending {
        user_channel_id: order.user_channel_id,
        funding_outpoint: format!("{}:0", "ef".repeat(32)),
    };
    s.service.on_event(funded).await.expect("event");
    s.clock.advance(144 * 600);
    s.service.tick().await.expect("tick");
    assert_eq!(count(&s.fake, |c| matches!(c, Call::Close(_))), 0, "the chain has not reached the lease end");
    s.fake.height.fetch_add(144, Ordering::SeqCst);
    *s.fake.busy.lock().unwrap() = true;
    s.service.tick().await.expect("tick");
    assert_eq!(count(&s.fake, |c| matches!(c, Call::Close(_))), 0, "HTLCs in flight: later");
    *s.fake.busy.lock().unwrap() = false;
    restart(&mut s).await;
    s.service.tick().await.expect("tick");
    s.service.tick().await.expect("tick");
    restart(&mut s).await;
    s.service.tick().await.expect("tick");
    assert_eq!(count(&s.fake, |c| *c == Call::Close(order.user_channel_id)), 1);
    assert!(stored(&s, &id).await.lease_closed);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn wrong_amounts_are_failed_and_unknown_hashes_left_alone() {
    let s = setup_with(Lsps1Config::default(), inbound_store::open("sqlite::memory:").await.unwrap()).await;
    let id = create(&s, request(None)).await.order_id;
    let order = stored(&s, &id).await;
    assert!(pay(&s, &order, 1_000).await);
    assert_eq!(count(&s.fake, |c| matches!(c, Call::Fail(_))), 1);
    assert_eq!(stored(&s, &id).await.status, order.status);
    let other = OrderEvent::PaymentClaimable { payment_hash: [9; 32], amount_msat: 1, claim_deadline: None };
    assert!(!s.service.on_event(other).await.unwrap(), "not an order: for the generic handler");
}

#[tokio::test]
async fn offline_client_order_expires_and_the_htlc_is_failed_back_once() {
    let dir = temp_dir("offline");
    let mut s = file_setup(&dir).await;
    let id = create(&s, request(None)).await.order_id;
    let order = stored(&s, &id).await;
    s.fake.connected.lock().unwrap().clear();
    assert!(pay(&s, &order, order.bolt11.as_ref().unwrap().total_sat * 1000).await);
    assert_eq!(count(&s.fake, |c| matches!(c, Call::Open(_))), 0, "client offline: no open");
    restart(&mut s).await;
    for _ in 0..5 {
        s.clock.advance(1_000);
        s.service.tick().await.expect("tick");
    }
    let failed = stored(&s, &id).await;
    assert_eq!((failed.order_state(), failed.bolt11_state()), (OrderState::Failed, PaymentState::Refunded));
    restart(&mut s).await;
    s.service.tick().await.expect("tick");
    assert_eq!(count(&s.fake, |c| matches!(c, Call::Fail(_))), 1);
    assert_eq!(count(&s.fake, |c| matches!(c, Call::Claim(_))), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_offline_client_with_an_address_is_connected_to_then_the_channel_opened() {
    let config = Lsps1Config { connect_private_addresses: true, ..Default::default() };
    let mut s = setup_with(config, inbound_store::open("sqlite::memory:").await.unwrap()).await;
    let client = super::service_tests::client();
    s.service.client_addresses().note(client, "127.0.0.1:9735".into());
    let id = create(&s, request(None)).await.order_id;
    let order = stored(&s, &id).await;
    assert_eq!(order.client_address.as_deref(), Some("127.0.0.1:9735"), "the order keeps the address");
    s.fake.connected.lock().unwrap().clear();
    assert!(pay(&s, &order, order.bolt11.as_ref().unwrap().total_sat * 1000).await);
    let connect = Call::Connect(client, "127.0.0.1:9735".into(), true);
    assert_eq!(count(&s.fake, |c| *c == connect), 1, "connects to the order's address: {:?}", s.fake.calls());
    assert_eq!(count(&s.fake, |c| matches!(c, Call::Open(_))), 0);
    restart(&mut s).await;
    assert_eq!(stored(&s, &id).await.client_address.as_deref(), Some("127.0.0.1:9735"), "persisted");
    s.fake.connect(client);
    s.service.tick().await.expect("tick");
    assert_eq!(count(&s.fake, |c| matches!(c, Call::Open(_))), 1, "opened once connected");
    // Without an address (a peer-transport order) nothing is dialled.
    let plain = setup_with(Lsps1Config::default(), inbound_store::open("sqlite::memory:").await.unwrap()).await;
    let id = create(&plain, request(None)).await.order_id;
    let order = stored(&plain, &id).await;
    assert_eq!(order.client_address, None);
    plain.fake.connected.lock().unwrap().clear();
    assert!(pay(&plain, &order, order.bolt11.as_ref().unwrap().total_sat * 1000).await);
    assert_eq!(count(&plain.fake, |c| matches!(c, Call::Connect(..))), 0);
}

#[tokio::test]
async fn onchain_order_paid_opened_and_excess_refunded_once_across_restarts() {
    let dir = temp_dir("onchain");
    onchain_flow(file_setup(&dir).await).await;
    let _ = std::fs::remove_dir_all(&dir);
}

async fn onchain_flow(mut s: Setup) {
    let id = create(&s, request(Some(REFUND))).await.order_id;
    let order = stored(&s, &id).await;
    let terms = order.onchain.clone().expect("onchain");
    s.fake.pay_onchain(&terms.address, terms.total_sat + 5_000, 0);
    s.service.tick().await.expect("tick");
    assert!(matches!(stored(&s, &id).await.status, OrderStatus::AwaitingPayment { .. }), "unconfirmed");
    s.fake.pay_onchain(&terms.address, terms.total_sat + 5_000, 1);
    restart(&mut s).await;
    s.service.tick().await.expect("tick");
    assert_eq!(stored(&s, &id).await.onchain_state(), PaymentState::Paid);
    assert_eq!(count(&s.fake, |c| matches!(c, Call::Open(_))), 1);
    restart(&mut s).await;
    let funded = OrderEvent::ChannelPending {
        user_channel_id: order.user_channel_id,
        funding_outpoint: format!("{}:0", "cd".repeat(32)),
    };
    s.service.on_event(funded).await.expect("event");
    restart(&mut s).await;
    s.service.tick().await.expect("tick");
    let done = stored(&s, &id).await;
    assert_eq!(done.order_state(), OrderState::Completed);
    assert_eq!(count(&s.fake, |c| matches!(c, Call::BuildRefund(a, _) if a == REFUND)), 1);
    assert_eq!(count(&s.fake, |c| matches!(c, Call::Broadcast(_))), 1);
    assert_eq!(count(&s.fake, |c| matches!(c, Call::Claim(_))), 0);
    s.store.close().await.expect("close");
}

#[tokio::test]
async fn onchain_refund_waits_for_funds_and_is_built_once() {
    let dir = temp_dir("refund");
    let mut s = file_setup(&dir).await;
    let id = create(&s, request(Some(REFUND))).await.order_id;
    let terms = stored(&s, &id).await.onchain.expect("onchain");
    s.fake.pay_onchain(&terms.address, 5_000, 2);
    s.service.tick().await.expect("tick");
    *s.fake.refuse_refunds.lock().unwrap() = true;
    s.clock.advance(3_600);
    s.service.tick().await.expect("tick");
    let failed = stored(&s, &id).await;
    assert_eq!((failed.order_state(), failed.onchain_state()), (OrderState::Failed, PaymentState::Paid));
    *s.fake.refuse_refunds.lock().unwrap() = false;
    restart(&mut s).await;
    s.clock.advance(120);
    s.service.tick().await.expect("tick");
    s.clock.advance(120);
    s.service.tick().await.expect("tick");
    let refunded = stored(&s, &id).await;
    assert_eq!(refunded.onchain_state(), PaymentState::Refunded);
    assert_eq!(count(&s.fake, |c| matches!(c, Call::BuildRefund(..))), 1);
    assert_eq!(count(&s.fake, |c| matches!(c, Call::Broadcast(_))), 1);
    // Unconfirmed for the configured wait: replaced once with a higher fee, across a restart.
    s.fake.height.fetch_add(s.service.config().refund_bump_after_blocks, Ordering::SeqCst);
    s.service.tick().await.expect("tick");
    restart(&mut s).await;
    s.service.tick().await.expect("tick");
    assert_eq!(count(&s.fake, |c| matches!(c, Call::Bump(..))), 1);
    assert_eq!(count(&s.fake, |c| matches!(c, Call::Broadcast(_))), 2);
    let Some(super::order::Refund { status: RefundStatus::Built { txid, .. }, .. }) =
        stored(&s, &id).await.refund().cloned()
    else {
        panic!("built")
    };
    s.fake.confirmations.lock().unwrap().insert(txid, 1);
    s.service.tick().await.expect("tick");
    let record = s.store.get(inbound_store::Kind::Lsps1Order, &id).await.unwrap().unwrap();
    assert!(record.terminal, "refund confirmed: the order is finished");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Proves: the operator's actions are flow inputs that apply only where they are safe, with
/// the operator's note in the history: cancelling an unpaid order, refusing a refund while an
/// open attempt is in flight, retrying the open at once, then refunding between attempts.
#[tokio::test]
async fn operator_actions_cancel_retry_and_refund_only_where_they_are_safe() {
    use super::{OrderAction, OrderActionError};
    use crate::flow::Applied;
    let dir = temp_dir("operator");
    let s = file_setup(&dir).await;
    let note = |reason: &str| Some(reason.to_owned());

    // An unpaid order is cancelled; a second cancel does not apply.
    let unpaid = create(&s, request(None)).await.order_id;
    let cancelled = s.service.operator_action(&unpaid, OrderAction::Cancel, note("asked by the client")).await;
    assert_eq!(cancelled.expect("cancel"), Applied::Done);
    assert_eq!(stored(&s, &unpaid).await.order_state(), OrderState::Failed);
    let again = s.service.operator_action(&unpaid, OrderAction::Cancel, None).await.expect("cancel");
    assert!(matches!(again, Applied::Refused(_)), "{again:?}");
    let history = s.store.history(inbound_store::Kind::Lsps1Order, &unpaid).await.expect("history");
    let last = history.last().expect("entries");
    assert_eq!(last.detail["input"], "operator_cancel");
    assert_eq!(last.detail["note"], serde_json::json!({"actor": "operator", "reason": "asked by the client"}));
    let missing = s.service.operator_action("no-such-order", OrderAction::RetryOpen, None).await.expect("runs");
    assert_eq!(missing, Applied::NotFound);

    // A paid order: its first open attempt is in flight, so a refund could race the channel.
    let id = create(&s, request(None)).await.order_id;
    let order = stored(&s, &id).await;
    assert!(pay(&s, &order, order.bolt11.as_ref().expect("bolt11").total_sat * 1000).await);
    let opens = |s: &Setup| count(&s.fake, |c| matches!(c, Call::Open(_)));
    assert_eq!(opens(&s), 1);
    let refused = s.service.operator_action(&id, OrderAction::Refund { address: None }, None).await.expect("runs");
    assert!(matches!(refused, Applied::Refused(_)), "{refused:?}");
    let cancel_paid = s.service.operator_action(&id, OrderAction::Cancel, None).await.expect("runs");
    assert!(matches!(cancel_paid, Applied::Refused(_)), "a paid order is refunded, not cancelled");
    // The attempt fails; the order waits for its retry, which the operator brings forward.
    let closed = OrderEvent::ChannelClosed { user_channel_id: order.user_channel_id };
    let forget = |s: &Setup| s.fake.channels.lock().expect("lock").remove(&order.user_channel_id);
    assert!(forget(&s), "the node had the channel");
    assert!(s.service.on_event(closed.clone()).await.expect("event"));
    let retried = s.service.operator_action(&id, OrderAction::RetryOpen, note("peer is back")).await;
    assert_eq!(retried.expect("retry"), Applied::Done);
    assert_eq!(opens(&s), 2, "opened again at once");
    // It fails again; now, between attempts, the refund applies: the HTLC is failed back.
    const MAINNET: &str = "bc1qgnqkxgyrwjcsc9ey68ysqntfh5tkmzse0wraan";
    assert!(forget(&s));
    assert!(s.service.on_event(closed).await.expect("event"));
    let wrong_network =
        s.service.operator_action(&id, OrderAction::Refund { address: Some(MAINNET.to_owned()) }, None).await;
    assert!(matches!(wrong_network, Err(OrderActionError::Address(_))), "{wrong_network:?}");
    let refunded = s.service.operator_action(&id, OrderAction::Refund { address: None }, note("stuck")).await;
    assert_eq!(refunded.expect("refund"), Applied::Done);
    let done = stored(&s, &id).await;
    assert!(matches!(done.status, OrderStatus::Failed { reason: super::order::FailReason::RefundedByOperator, .. }));
    assert_eq!(count(&s.fake, |c| *c == Call::Fail(order.bolt11.as_ref().unwrap().payment_hash.0)), 1);
    assert_eq!(opens(&s), 2, "no open after the refund");
    s.store.close().await.expect("close");
    let _ = std::fs::remove_dir_all(&dir);
}
