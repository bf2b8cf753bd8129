//! The flow kernel's guarantees, shown on LSPS1 orders with the fake node, on an SQLite file
//! and on PostgreSQL: a failed effect is retried with backoff until it succeeds (across a
//! restart), an effect whose completion was never recorded runs again after a restart without
//! doing its work twice, and the per-client cap holds under 50 concurrent orders.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use inbound_store::Kind;
use lsps::lsps1::{CreateOrderRequest, OrderState, PaymentState};

use super::fake::Call;
use super::runner::OrderEvent;
use super::runner_tests::{count, file_setup, pg_setup, restart, stored, temp_dir, PgSchema};
use super::service_tests::{client, create, request, Setup, REFUND};

/// A paid order whose refund is owed: under-paid on chain, then the window ends.
async fn underpaid_order(s: &Setup) -> String {
    let id = create(s, request(Some(REFUND))).await.order_id;
    let terms = stored(s, &id).await.onchain.expect("onchain");
    s.fake.pay_onchain(&terms.address, 5_000, 2);
    s.service.tick().await.expect("tick");
    id
}

async fn pending_lsps1_effects(s: &Setup) -> Vec<inbound_store::Effect> {
    let pending = s.store.pending_effects(100).await.expect("pending").items;
    pending.into_iter().filter(|effect| effect.kind == Kind::Lsps1Order).collect()
}

async fn broadcast_retried_until_it_succeeds(mut s: Setup) {
    let id = underpaid_order(&s).await;
    s.fake.failing_broadcasts.store(3, Ordering::SeqCst);
    s.clock.advance(3_600);
    s.service.tick().await.expect("tick");
    // Built and persisted, but the broadcast failed: kept in the outbox with its error.
    let refund = stored(&s, &id).await;
    assert_eq!((refund.order_state(), refund.onchain_state()), (OrderState::Failed, PaymentState::Refunded));
    let pending = pending_lsps1_effects(&s).await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!((pending[0].attempts, pending[0].body["broadcast_refund"].is_object()), (1, true));
    assert!(pending[0].last_error.as_deref().is_some_and(|e| e.contains("chain backend unreachable")));
    assert_eq!(s.fake.broadcast_attempts.load(Ordering::SeqCst), 1);

    // Not before its backoff (1 s after the first failure, then 2 s, then 4 s).
    s.service.tick().await.expect("tick");
    assert_eq!(s.fake.broadcast_attempts.load(Ordering::SeqCst), 1);
    s.clock.advance(1);
    s.service.tick().await.expect("tick");
    assert_eq!(s.fake.broadcast_attempts.load(Ordering::SeqCst), 2);
    // The attempts survive a restart.
    restart(&mut s).await;
    assert_eq!(s.fake.broadcast_attempts.load(Ordering::SeqCst), 2, "still waiting for its backoff");
    assert_eq!(pending_lsps1_effects(&s).await[0].attempts, 2);
    s.clock.advance(2);
    s.service.tick().await.expect("tick");
    assert_eq!(s.fake.broadcast_attempts.load(Ordering::SeqCst), 3);
    s.clock.advance(4);
    s.service.tick().await.expect("tick");
    assert_eq!(s.fake.broadcast_attempts.load(Ordering::SeqCst), 4);
    assert_eq!(count(&s.fake, |c| matches!(c, Call::Broadcast(_))), 1, "succeeded once");
    assert!(pending_lsps1_effects(&s).await.is_empty(), "done, so gone from the outbox");
    s.clock.advance(600);
    s.service.tick().await.expect("tick");
    assert_eq!(s.fake.broadcast_attempts.load(Ordering::SeqCst), 4, "never again");
    assert_eq!(count(&s.fake, |c| matches!(c, Call::BuildRefund(..))), 1, "one refund");
    s.store.close().await.expect("close");
}

#[tokio::test]
async fn a_failed_refund_broadcast_is_retried_with_backoff_until_it_succeeds() {
    let dir = temp_dir("kernel-retry");
    broadcast_retried_until_it_succeeds(file_setup(&dir).await).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_failed_refund_broadcast_is_retried_with_backoff_until_it_succeeds_on_postgres() {
    let Some(schema) = PgSchema::create("lsps1_kernel").await else { return };
    broadcast_retried_until_it_succeeds(pg_setup(&schema).await).await;
    schema.drop_schema().await;
}

/// What a crash right after an effect ran, before its completion was written, leaves behind:
/// the effect pending again.
async fn forget_completions(url: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(url).await.expect("connect");
    sqlx::query("UPDATE effects SET completed_at_unix_ms = NULL").execute(&mut connection).await.expect("forget");
    connection.close().await.expect("close");
}

async fn crash_between_execute_and_done(mut s: Setup, url: &str) {
    let id = create(&s, request(None)).await.order_id;
    let order = stored(&s, &id).await;
    let bolt11 = order.bolt11.clone().expect("bolt11");
    let paid = OrderEvent::PaymentClaimable {
        payment_hash: bolt11.payment_hash.0,
        amount_msat: bolt11.total_sat * 1000,
        claim_deadline: Some(100_000),
    };
    assert!(s.service.on_event(paid).await.expect("event"));
    assert_eq!(count(&s.fake, |c| matches!(c, Call::Open(_))), 1);

    forget_completions(url).await;
    restart(&mut s).await;
    assert_eq!(count(&s.fake, |c| matches!(c, Call::Open(_))), 1, "the replayed open finds its channel");
    assert!(pending_lsps1_effects(&s).await.is_empty(), "and is done now");

    let funded = OrderEvent::ChannelPending {
        user_channel_id: order.user_channel_id,
        funding_outpoint: format!("{}:0", "ab".repeat(32)),
    };
    s.service.on_event(funded).await.expect("event");
    forget_completions(url).await;
    restart(&mut s).await;
    let claims: Vec<Call> = s.fake.calls().into_iter().filter(|c| matches!(c, Call::Claim(_))).collect();
    assert_eq!(claims, vec![Call::Claim(bolt11.preimage.0); 2], "claiming the same preimage again is harmless");
    assert_eq!(count(&s.fake, |c| matches!(c, Call::Fail(_))), 0, "never both claimed and failed");
    assert_eq!(stored(&s, &id).await.order_state(), OrderState::Completed);
    assert!(pending_lsps1_effects(&s).await.is_empty());
    // The history shows each input once: the replay added no transition.
    let history = s.store.history(Kind::Lsps1Order, &id).await.expect("history");
    let inputs: Vec<&str> = history.iter().filter_map(|entry| entry.detail["input"].as_str()).collect();
    assert_eq!(inputs, ["create_order", "htlc_arrived", "funding_published"]);
    s.store.close().await.expect("close");
}

#[tokio::test]
async fn an_effect_whose_completion_was_lost_runs_again_without_doing_its_work_twice() {
    let dir = temp_dir("kernel-crash");
    let path = dir.join("store.db");
    let setup = file_setup(&dir).await;
    crash_between_execute_and_done(setup, &format!("sqlite://{}", path.display())).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_effect_whose_completion_was_lost_runs_again_without_doing_its_work_twice_on_postgres() {
    let Some(schema) = PgSchema::create("lsps1_kernel").await else { return };
    crash_between_execute_and_done(pg_setup(&schema).await, &schema.url()).await;
    schema.drop_schema().await;
}

async fn concurrent_orders_stop_at_the_cap(s: Setup) {
    let cap = s.service.config().max_open_orders_per_client;
    let request: CreateOrderRequest = serde_json::from_value(request(None)).expect("request");
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (service, request) = (Arc::clone(&s.service), request.clone());
        tasks.push(tokio::spawn(async move { service.create_order(client(), request).await }));
    }
    let mut refusals = Vec::new();
    let mut created = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => created += 1,
            Err(error) => refusals.push(error),
        }
    }
    assert_eq!(created, cap);
    assert_eq!(refusals.len() as u64, 50 - cap);
    assert!(refusals.iter().all(|error| error.code == 1), "{refusals:?}");
    let stored = s.store.count_active_by_client(Kind::Lsps1Order, &lsps::schema::NodeId(client()).to_string()).await;
    assert_eq!(stored.expect("count"), cap);
    // The refused ones left nothing to pay: one invoice per created order is all a client sees.
    let open = s.store.list_active(Kind::Lsps1Order).await.expect("active").items;
    assert!(open.iter().all(|record| record.state == "awaiting_payment"));
    s.store.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_orders_of_one_client_create_exactly_the_cap() {
    let dir = temp_dir("kernel-cap");
    concurrent_orders_stop_at_the_cap(file_setup(&dir).await).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_orders_of_one_client_create_exactly_the_cap_on_postgres() {
    let Some(schema) = PgSchema::create("lsps1_kernel").await else { return };
    concurrent_orders_stop_at_the_cap(pg_setup(&schema).await).await;
    schema.drop_schema().await;
}
