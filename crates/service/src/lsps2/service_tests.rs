//! [`Lsps2Service`] against a recording fake node, a manual clock and SQLite in memory: the
//! `get_info`/`buy` checks, every runner path, and restarts.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use inbound_store::Store;
use lsps::jsonrpc::RpcError;
use lsps::lsps2::{BuyRequest, BuyResponse, GetInfoRequest, OpeningFeeParams};
use lsps::schema::{MsatAmount, NodeId};

use super::config::{FeeTier, Lsps2Config, TrustMode};
use super::fake::{key, Call, FakeLightning};
use super::ops::JitLightning;
use super::runner::JitEvent;
use super::service::Lsps2Service;
use super::session::{HeldHtlc, InterceptRef, JitState, PaymentHashRef};
use crate::{Clock, ManualClock};

struct Setup {
    service: Arc<Lsps2Service>,
    fake: Arc<FakeLightning>,
    clock: Arc<ManualClock>,
    store: Arc<dyn Store>,
}

fn config() -> Lsps2Config {
    Lsps2Config {
        public_menu: vec![FeeTier {
            min_fee_msat: 1_000_000,
            proportional: 10_000,
            min_payment_size_msat: 1_000_000,
            max_payment_size_msat: 1_000_000_000,
        }],
        trust: TrustMode::Never,
        ..Lsps2Config::default()
    }
}

async fn setup_with(config: Lsps2Config) -> Setup {
    setup_on(config, inbound_store::open("sqlite::memory:").await.expect("store")).await
}

async fn setup_on(config: Lsps2Config, store: Arc<dyn Store>) -> Setup {
    let clock = Arc::new(ManualClock::starting_now());
    let fake = Arc::new(FakeLightning::new());
    let service = Lsps2Service::new(config, Arc::clone(&store), Arc::clone(&clock) as Arc<dyn Clock>).expect("config");
    service.attach(Arc::clone(&fake) as Arc<dyn JitLightning>);
    fake.connect(client());
    Setup { service, fake, clock, store }
}

async fn setup() -> Setup {
    setup_with(config()).await
}

/// The same store and node, a new service: what a restart looks like.
async fn restart(setup: &Setup) -> Arc<Lsps2Service> {
    let service = Lsps2Service::new(
        setup.service.config().clone(),
        Arc::clone(&setup.store),
        Arc::clone(&setup.clock) as Arc<dyn Clock>,
    )
    .expect("config");
    service.attach(Arc::clone(&setup.fake) as Arc<dyn JitLightning>);
    service.resume().await.expect("resume");
    service
}

fn client() -> bitcoin::secp256k1::PublicKey {
    key(3)
}

async fn entry(setup: &Setup) -> OpeningFeeParams {
    let menu = setup.service.get_info(client(), GetInfoRequest::default()).await.expect("menu");
    menu.opening_fee_params_menu.into_iter().next().expect("one entry")
}

async fn buy(setup: &Setup, size: Option<u64>) -> Result<BuyResponse, RpcError> {
    let opening_fee_params = entry(setup).await;
    setup.service.buy(client(), BuyRequest { opening_fee_params, payment_size_msat: size.map(MsatAmount) }).await
}

fn htlc(n: u8, amount: u64) -> HeldHtlc {
    HeldHtlc {
        intercept_id: InterceptRef([n; 32]),
        payment_hash: PaymentHashRef([0xab; 32]),
        expected_outbound_amount_msat: amount,
        inbound_amount_msat: amount + 1_000,
    }
}

async fn intercept(setup: &Setup, scid: u64, htlc: HeldHtlc) {
    setup.fake.hold(htlc.intercept_id);
    setup.service.on_event(JitEvent::HtlcIntercepted { scid, htlc }).await.expect("event");
}

fn opened(calls: &[Call]) -> Vec<u128> {
    calls
        .iter()
        .filter_map(|call| if let Call::Open(request) = call { Some(request.user_channel_id) } else { None })
        .collect()
}

async fn ready(setup: &Setup, service: &Lsps2Service, user_channel_id: u128) {
    let channel = setup.fake.channels.lock().expect("lock")[&user_channel_id].0;
    service.on_event(JitEvent::ChannelReady { user_channel_id, channel }).await.expect("ready");
}

#[tokio::test]
async fn unknown_token_is_200_and_the_menu_is_sealed_for_the_asker() {
    let setup = setup().await;
    let error = setup.service.get_info(client(), GetInfoRequest { token: Some("nope".into()) }).await.unwrap_err();
    assert_eq!(error.code, 200);
    let params = entry(&setup).await;
    let other = setup.service.buy(key(4), BuyRequest { opening_fee_params: params, payment_size_msat: None }).await;
    assert_eq!(other.unwrap_err().code, 201, "a promise sealed for another client does not verify");
}

#[tokio::test]
async fn the_menu_only_offers_what_the_wallet_can_fund_and_follows_the_fee_rate() {
    let setup = setup().await;
    setup.fake.spendable_sat.store(510_000, Ordering::SeqCst);
    let params = entry(&setup).await;
    let sizing = &setup.service.config().sizing;
    let max_forward = params.max_payment_size_msat.get() - params.min_fee_msat.get();
    assert!(sizing.channel_sat(max_forward).is_some_and(|size| size <= 510_000));
    setup.fake.fee_rate.store(10_000, Ordering::SeqCst);
    let expensive = entry(&setup).await;
    assert_eq!(expensive.min_fee_msat.get(), setup.service.config().chain_fee_floor_msat(10_000));
    setup.fake.spendable_sat.store(0, Ordering::SeqCst);
    let empty = setup.service.get_info(client(), GetInfoRequest::default()).await.expect("menu");
    assert!(empty.opening_fee_params_menu.is_empty(), "no funds, no JIT service");
}

#[tokio::test]
async fn forged_expired_and_oversized_buys_are_refused_with_the_spec_codes() {
    let setup = setup().await;
    let mut forged = entry(&setup).await;
    forged.min_fee_msat = MsatAmount(1);
    let request = BuyRequest { opening_fee_params: forged, payment_size_msat: None };
    assert_eq!(setup.service.buy(client(), request).await.unwrap_err().code, 201);

    let expired = entry(&setup).await;
    setup.clock.advance(setup.service.config().valid_for_secs + 1);
    let request = BuyRequest { opening_fee_params: expired, payment_size_msat: None };
    assert_eq!(setup.service.buy(client(), request).await.unwrap_err().code, 201);

    assert_eq!(buy(&setup, Some(2_000_000_000)).await.unwrap_err().code, 203, "above the entry's maximum");
    assert_eq!(buy(&setup, Some(1_000_000)).await.unwrap_err().code, 202, "cannot pay the fee");
    let params = entry(&setup).await;
    setup.fake.spendable_sat.store(150_000, Ordering::SeqCst);
    let request = BuyRequest { opening_fee_params: params, payment_size_msat: Some(MsatAmount(500_000_000)) };
    assert_eq!(setup.service.buy(client(), request).await.unwrap_err().code, 203, "wallet cannot fund it");
}

#[tokio::test]
async fn buy_persists_a_session_under_a_fresh_scid_before_answering() {
    let setup = setup().await;
    let first = buy(&setup, Some(50_000_000)).await.expect("buy");
    setup.fake.repeat_scid(first.jit_channel_scid.0);
    let second = buy(&setup, None).await.expect("buy despite a colliding SCID draw");
    assert_ne!(first.jit_channel_scid, second.jit_channel_scid);
    assert!(!first.client_trusts_lsp);
    assert_eq!(first.lsp_cltv_expiry_delta, setup.service.config().lsp_cltv_expiry_delta);
    let session = setup.service.session_by_scid(first.jit_channel_scid.0).await.expect("store").expect("stored");
    assert_eq!(session.client, NodeId(client()));
    assert!(matches!(session.state, JitState::AwaitingPayment { .. }));
}

#[tokio::test]
async fn open_buys_per_client_are_capped_with_code_1() {
    let setup = setup_with(Lsps2Config { max_open_buys_per_client: 2, ..config() }).await;
    buy(&setup, None).await.expect("first");
    buy(&setup, None).await.expect("second");
    assert_eq!(buy(&setup, None).await.unwrap_err().code, 1);
    setup.service.set_rejection_hook(Arc::new(|_| true));
    let other = entry(&setup).await;
    let refused = setup.service.buy(client(), BuyRequest { opening_fee_params: other, payment_size_msat: None }).await;
    assert_eq!(refused.unwrap_err().code, 1);
}

#[tokio::test]
async fn an_htlc_to_an_unknown_scid_is_failed_at_once() {
    let setup = setup().await;
    intercept(&setup, 12345, htlc(1, 10_000_000)).await;
    assert_eq!(setup.fake.calls(), vec![Call::Fail(InterceptRef([1; 32]))]);
}

#[tokio::test]
async fn fixed_payment_opens_forwards_minus_the_fee_and_records_it() {
    let setup = setup().await;
    let bought = buy(&setup, Some(50_000_000)).await.expect("buy");
    let scid = bought.jit_channel_scid.0;
    intercept(&setup, scid, htlc(1, 20_000_000)).await;
    assert!(setup.fake.calls().is_empty(), "waiting for the rest of the payment");
    intercept(&setup, scid, htlc(2, 30_000_000)).await;
    let calls = setup.fake.take_calls();
    let [Call::Open(request)] = calls.as_slice() else { panic!("expected one open, got {calls:?}") };
    assert!(!request.manual_broadcast);
    assert_eq!(request.channel_sat, setup.service.config().sizing.channel_sat(49_000_000).expect("size"));
    ready(&setup, &setup.service, request.user_channel_id).await;
    let forwards: u64 = setup
        .fake
        .take_calls()
        .iter()
        .map(|call| if let Call::Forward(_, _, amount) = call { *amount } else { 0 })
        .sum();
    assert_eq!(forwards, 50_000_000 - 1_000_000, "payment minus max(min_fee, 1 %)");
    let uci = request.user_channel_id;
    for fee in [400_000, 600_000] {
        let event = JitEvent::PaymentForwarded { next_user_channel_id: uci, skimmed_fee_msat: fee };
        setup.service.on_event(event).await.expect("forwarded");
    }
    let session = setup.service.session(uci).await.expect("store").expect("session");
    assert!(matches!(session.state, JitState::Paid { fee_msat: 1_000_000, .. }));
    let stats = setup.service.stats().await.expect("stats");
    assert_eq!((stats.paid_since_start, stats.fees_collected_msat_since_start), (1, 1_000_000));
    assert!(setup.fake.calls().is_empty(), "nothing to broadcast when the LSP trusts the client");
}

#[tokio::test]
async fn in_trust_mode_the_funding_is_broadcast_only_after_the_fee_is_collected() {
    let setup = setup_with(Lsps2Config { trust: TrustMode::Always, ..config() }).await;
    let bought = buy(&setup, None).await.expect("buy");
    assert!(bought.client_trusts_lsp);
    intercept(&setup, bought.jit_channel_scid.0, htlc(1, 10_000_000)).await;
    let calls = setup.fake.take_calls();
    let [Call::Open(request)] = calls.as_slice() else { panic!("{calls:?}") };
    assert!(request.manual_broadcast);
    ready(&setup, &setup.service, request.user_channel_id).await;
    assert!(!setup.fake.take_calls().iter().any(|call| matches!(call, Call::Broadcast(_))));
    let event =
        JitEvent::PaymentForwarded { next_user_channel_id: request.user_channel_id, skimmed_fee_msat: 1_000_000 };
    setup.service.on_event(event).await.expect("forwarded");
    assert_eq!(setup.fake.take_calls(), vec![Call::Broadcast(request.user_channel_id)]);
}

#[tokio::test]
async fn the_mpp_timer_fails_a_partial_payment_on_a_tick() {
    let setup = setup().await;
    let bought = buy(&setup, Some(50_000_000)).await.expect("buy");
    intercept(&setup, bought.jit_channel_scid.0, htlc(1, 20_000_000)).await;
    setup.clock.advance(setup.service.config().policy.mpp_timeout_secs - 1);
    setup.service.tick().await.expect("tick");
    assert!(setup.fake.calls().is_empty());
    setup.clock.advance(1);
    setup.service.tick().await.expect("tick");
    assert_eq!(setup.fake.take_calls(), vec![Call::Fail(InterceptRef([1; 32]))]);
}

#[tokio::test]
async fn an_offline_client_gets_its_channel_when_it_connects() {
    let setup = setup().await;
    let bought = buy(&setup, None).await.expect("buy");
    setup.fake.disconnect(client());
    intercept(&setup, bought.jit_channel_scid.0, htlc(1, 10_000_000)).await;
    setup.service.tick().await.expect("tick");
    assert!(setup.fake.calls().is_empty(), "no open while the client is away");
    setup.fake.connect(client());
    setup.service.tick().await.expect("tick");
    assert_eq!(opened(&setup.fake.take_calls()).len(), 1);
}

/// Records what the LSPS2 runner asks to be sent to offline clients; fails while `down`.
#[derive(Default)]
struct RecordingNotifier {
    asked: std::sync::Mutex<Vec<(bitcoin::secp256k1::PublicKey, lsps::lsps5::Notification)>>,
    down: std::sync::atomic::AtomicBool,
}

impl crate::notify::ClientNotifier for RecordingNotifier {
    fn notify(
        &self,
        client: bitcoin::secp256k1::PublicKey,
        notification: lsps::lsps5::Notification,
    ) -> crate::BoxFuture<'static, Result<(), String>> {
        self.asked.lock().expect("lock").push((client, notification));
        let down = self.down.load(Ordering::SeqCst);
        Box::pin(async move {
            if down {
                Err("store down".to_owned())
            } else {
                Ok(())
            }
        })
    }
}

#[tokio::test]
async fn a_payment_for_an_offline_client_asks_the_notifier_to_wake_it() {
    let setup = setup().await;
    let notifier = Arc::new(RecordingNotifier::default());
    notifier.down.store(true, Ordering::SeqCst);
    setup.service.set_notifier(Arc::clone(&notifier) as Arc<dyn crate::notify::ClientNotifier>);
    let bought = buy(&setup, None).await.expect("buy");
    setup.fake.disconnect(client());
    intercept(&setup, bought.jit_channel_scid.0, htlc(1, 10_000_000)).await;
    let asked = notifier.asked.lock().expect("lock").clone();
    assert_eq!(asked, vec![(client(), lsps::lsps5::Notification::PaymentIncoming)]);
    assert_eq!(setup.store.pending_effects(10).await.expect("outbox").items.len(), 1, "kept for a retry");
    notifier.down.store(false, Ordering::SeqCst);
    setup.clock.advance(1);
    setup.service.tick().await.expect("tick");
    assert_eq!(notifier.asked.lock().expect("lock").len(), 2, "asked again");
    assert!(setup.store.pending_effects(10).await.expect("outbox").items.is_empty(), "done once persisted");
}

#[tokio::test]
async fn a_refused_open_releases_the_htlcs() {
    let setup = setup().await;
    *setup.fake.refuse_opens.lock().expect("lock") = true;
    let bought = buy(&setup, None).await.expect("buy");
    intercept(&setup, bought.jit_channel_scid.0, htlc(1, 10_000_000)).await;
    let calls = setup.fake.take_calls();
    assert!(calls.contains(&Call::Fail(InterceptRef([1; 32]))), "{calls:?}");
    let session = setup.service.session_by_scid(bought.jit_channel_scid.0).await.expect("store").expect("session");
    assert!(matches!(session.state, JitState::AwaitingPayment { .. }));
}

#[tokio::test]
async fn a_client_that_never_claims_costs_nothing_in_trust_mode_and_is_trusted_less_after() {
    let setup =
        setup_with(Lsps2Config { trust: TrustMode::Adaptive, max_unpaid_channels_per_client: 1, ..config() }).await;
    let first = buy(&setup, None).await.expect("buy");
    assert!(!first.client_trusts_lsp, "Adaptive starts by trusting the client");
    intercept(&setup, first.jit_channel_scid.0, htlc(1, 10_000_000)).await;
    let uci = opened(&setup.fake.take_calls())[0];
    ready(&setup, &setup.service, uci).await;
    setup.clock.advance(setup.service.config().policy.claim_timeout_secs);
    setup.service.tick().await.expect("tick");
    let session = setup.service.session(uci).await.expect("store").expect("session");
    assert!(session.was_left_unpaid());
    assert_eq!(buy(&setup, None).await.unwrap_err().code, 1, "a repeat offender is rejected");
}

#[tokio::test]
async fn after_a_restart_effects_replay_once_and_intercepts_are_deduplicated() {
    let setup = setup().await;
    let bought = buy(&setup, None).await.expect("buy");
    let scid = bought.jit_channel_scid.0;
    intercept(&setup, scid, htlc(1, 10_000_000)).await;
    let uci = opened(&setup.fake.take_calls())[0];

    let service = restart(&setup).await;
    // LDK re-emits the held HTLC after a restart.
    service.on_event(JitEvent::HtlcIntercepted { scid, htlc: htlc(1, 10_000_000) }).await.expect("replay");
    assert!(opened(&setup.fake.take_calls()).is_empty(), "no second open");
    ready(&setup, &service, uci).await;
    assert_eq!(setup.fake.take_calls().len(), 1, "one forward");

    let service = restart(&setup).await;
    let event = JitEvent::PaymentForwarded { next_user_channel_id: uci, skimmed_fee_msat: 1_000_000 };
    service.on_event(event).await.expect("forwarded");
    let session = service.session(uci).await.expect("store").expect("session");
    assert!(matches!(session.state, JitState::Paid { .. }));
}

/// A session whose open went out, and a node that then forgot the channel (as an unfunded
/// channel is forgotten in a restart); returns the session's `user_channel_id`.
async fn open_then_forgotten() -> (Setup, u128) {
    let setup = setup().await;
    let bought = buy(&setup, None).await.expect("buy");
    intercept(&setup, bought.jit_channel_scid.0, htlc(1, 10_000_000)).await;
    let uci = opened(&setup.fake.take_calls())[0];
    setup.fake.channels.lock().expect("lock").remove(&uci);
    (setup, uci)
}

/// An open the node forgot in a restart (an unfunded channel does not survive one) is not the
/// client's fault: the held payment is kept and the channel opened again once the client is
/// back, with the same `user_channel_id`; nothing is failed back and nothing opens twice.
#[tokio::test]
async fn an_open_the_node_forgot_in_a_restart_is_opened_again_when_the_client_is_back() {
    let (setup, uci) = open_then_forgotten().await;
    setup.fake.disconnect(client());

    let service = restart(&setup).await;
    assert!(setup.fake.take_calls().is_empty(), "nothing failed back, nothing opened without the client");
    let session = service.session(uci).await.expect("store").expect("session");
    assert!(matches!(session.state, JitState::AwaitingClient { ref parts, .. } if parts.len() == 1), "{session:?}");

    setup.fake.connect(client());
    service.tick().await.expect("tick");
    assert_eq!(opened(&setup.fake.take_calls()), vec![uci], "opened again, once, for the same session");
    ready(&setup, &service, uci).await;
    assert!(matches!(setup.fake.take_calls()[..], [Call::Forward(InterceptRef([1, ..]), _, _)]), "forwarded");
}

/// The same after a restart with the client already connected again: opened at once.
#[tokio::test]
async fn an_open_the_node_forgot_is_opened_at_once_when_the_client_is_connected() {
    let (setup, uci) = open_then_forgotten().await;

    let service = restart(&setup).await;
    assert_eq!(opened(&setup.fake.take_calls()), vec![uci], "opened again, once");
    let session = service.session(uci).await.expect("store").expect("session");
    assert!(matches!(session.state, JitState::OpeningChannel { .. }), "{session:?}");
}

/// 50 concurrent `lsps2.buy`s of one client: exactly `max_open_buys_per_client` sessions, the
/// rest refused with code 1 (the cap is checked inside the insert's transaction).
async fn concurrent_buys_stop_at_the_cap(setup: Setup) {
    let cap = setup.service.config().max_open_buys_per_client;
    let opening_fee_params = entry(&setup).await;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let service = Arc::clone(&setup.service);
        let request = BuyRequest { opening_fee_params: opening_fee_params.clone(), payment_size_msat: None };
        tasks.push(tokio::spawn(async move { service.buy(client(), request).await }));
    }
    let (mut bought, mut refused) = (0, 0);
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => bought += 1,
            Err(error) => {
                assert_eq!(error.code, 1, "{error:?}");
                refused += 1;
            }
        }
    }
    assert_eq!((bought, refused), (cap, 50 - cap));
    let client_text = NodeId(client()).to_string();
    let active = setup.store.count_active_by_client(inbound_store::Kind::Lsps2Session, &client_text).await;
    assert_eq!(active.expect("count"), cap);
    setup.store.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_buys_of_one_client_create_exactly_the_cap() {
    let dir = std::env::temp_dir().join(format!("inbound-lsps2-cap-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let store = inbound_store::open(dir.join("store.db").to_str().expect("utf-8")).await.expect("store");
    concurrent_buys_stop_at_the_cap(setup_on(config(), store).await).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_buys_of_one_client_create_exactly_the_cap_on_postgres() {
    let Some(schema) = crate::test_pg::PgSchema::create("lsps2_cap").await else { return };
    concurrent_buys_stop_at_the_cap(setup_on(config(), schema.open().await).await).await;
    schema.drop_schema().await;
}

#[tokio::test]
async fn the_operator_fails_a_collecting_session_and_its_parts_go_back() {
    let setup = setup().await;
    let bought = buy(&setup, Some(50_000_000)).await.expect("buy");
    let scid = bought.jit_channel_scid.0;
    intercept(&setup, scid, htlc(1, 20_000_000)).await;
    let session = setup.service.session_by_scid(scid).await.expect("store").expect("session");
    let id = super::session_id(session.user_channel_id);
    let failed = setup.service.operator_fail(&id, Some("stuck payer".into())).await.expect("runs");
    assert_eq!(failed, crate::flow::Applied::Done);
    assert_eq!(setup.fake.take_calls(), vec![Call::Fail(InterceptRef([1; 32]))], "the held part went back");
    let after = setup.service.session_by_scid(scid).await.expect("store").expect("session");
    assert!(matches!(after.state, JitState::Failed { reason: super::FailReason::Cancelled }));
    let again = setup.service.operator_fail(&id, None).await.expect("runs");
    assert!(matches!(again, crate::flow::Applied::Refused(_)), "{again:?}");
    let history = setup.store.history(inbound_store::Kind::Lsps2Session, &id).await.expect("history");
    let last = history.last().expect("entries");
    assert_eq!(last.detail["input"], "operator_fail");
    assert_eq!(last.detail["note"]["reason"], "stuck payer");
    // A later part to the SCID is refused at once.
    intercept(&setup, scid, htlc(2, 30_000_000)).await;
    assert_eq!(setup.fake.take_calls(), vec![Call::Fail(InterceptRef([2; 32]))]);
}
