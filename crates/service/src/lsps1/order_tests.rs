//! Transition tests of the pure LSPS1 order state machine, and properties over random input
//! sequences.

use lsps::lsps1::{CreateOrderRequest, OrderState, PaymentState};
use lsps::schema::{DateTime, NodeId, SatAmount};
use proptest::prelude::*;

use super::fake::FakeNode;

use super::order::*;
use super::Lsps1Config;
use crate::ids::PaymentHashRef;

const T0: u64 = 1_700_000_000;

fn at(secs: u64) -> DateTime {
    DateTime::from_unix_secs(T0 + secs).expect("time")
}

fn policy() -> OrderPolicy {
    Lsps1Config::default().policy()
}

fn ctx(policy: &OrderPolicy, secs: u64, height: u32) -> Context<'_> {
    Context { now: at(secs), height, policy }
}

pub(super) fn order(onchain: bool, refund_address: bool) -> OrderBook {
    let client = NodeId(super::fake::key(3));
    OrderBook {
        order_id: "o1".into(),
        client,
        request: CreateOrderRequest {
            lsp_balance_sat: SatAmount(100_000),
            client_balance_sat: SatAmount(10_000),
            required_channel_confirmations: 0,
            funding_confirms_within_blocks: 6,
            channel_expiry_blocks: 144,
            token: None,
            refund_onchain_address: None,
            announce_channel: false,
        },
        created_at: at(0),
        expires_at: at(3600),
        user_channel_id: 77,
        bolt11: Some(HoldInvoice {
            invoice: "lnbcrt".into(),
            payment_hash: PaymentHashRef([1; 32]),
            preimage: PaymentHashRef([2; 32]),
            fee_sat: 2_000,
            total_sat: 12_000,
        }),
        onchain: onchain.then(|| OnchainTerms {
            address: "bcrt1qdeposit".into(),
            fee_sat: 3_000,
            total_sat: 13_000,
            min_confirmations: 1,
            min_fee_for_0conf: None,
            refund_address: refund_address.then(|| "bcrt1qrefund".into()),
        }),
        status: OrderStatus::AwaitingPayment { onchain_seen_sat: 0 },
        close_after_lease: false,
        lease_closed: false,
        client_address: None,
    }
}

fn htlc(amount_msat: u64, deadline: u32) -> OrderInput {
    OrderInput::HtlcArrived { amount_msat, claim_deadline: Some(deadline) }
}

#[test]
fn hold_invoice_happy_path() {
    let p = policy();
    let (o, e) = order(false, false).step_ok(&htlc(12_000_000, 1_200), ctx(&p, 10, 1_000));
    assert_eq!(e, vec![OrderEffect::OpenChannel]);
    assert_eq!(o.bolt11_state(), PaymentState::Hold);
    assert_eq!(o.order_state(), OrderState::Created);
    let funded = OrderInput::FundingPublished { funding_outpoint: "aa:0".into() };
    let (o, e) = o.step_ok(&funded, ctx(&p, 20, 1_001));
    assert_eq!(e, vec![OrderEffect::ClaimPayment]);
    assert_eq!(o.bolt11_state(), PaymentState::Paid);
    assert_eq!(o.order_state(), OrderState::Completed);
    assert!(o.is_terminal(at(20)));
    let OrderStatus::Completed { channel, .. } = &o.status else { panic!("completed") };
    assert_eq!(channel.expires_at, at(20 + 144 * 600));
    // A replayed PaymentClaimable after a restart claims again (idempotent), never fails.
    let (_, e) = o.step_ok(&htlc(12_000_000, 1_200), ctx(&p, 30, 1_001));
    assert_eq!(e, vec![OrderEffect::ClaimPayment]);
}

#[test]
fn wrong_amount_late_or_short_cltv_htlcs_are_failed_at_once() {
    let p = policy();
    let base = order(false, false);
    for (input, secs) in [
        (htlc(11_999_999, 1_200), 10),
        (htlc(12_000_001, 1_200), 10),
        (htlc(12_000_000, 1_005), 10),
        (htlc(12_000_000, 1_200), 3_600),
    ] {
        let (o, e) = base.step_ok(&input, ctx(&p, secs, 1_000));
        assert_eq!(e, vec![OrderEffect::FailHtlc { cause: HtlcFailCause::Rejected }], "{input:?}");
        assert_eq!(o.status, base.status);
    }
}

#[test]
fn open_retries_with_backoff_then_fails_back_the_htlc() {
    let p = policy();
    let (mut o, _) = order(false, false).step_ok(&htlc(12_000_000, 100_000), ctx(&p, 10, 1_000));
    let (next, e) = o.step_ok(&OrderInput::OpenFailed, ctx(&p, 11, 1_000));
    assert!(e.is_empty());
    o = next;
    let OrderStatus::Opening { retry_at: Some(retry), .. } = o.status else { panic!("retry scheduled") };
    assert_eq!(retry, at(11 + p.open_retry_base_secs));
    let (o2, e) = o.step_ok(&OrderInput::Tick, ctx(&p, 11 + p.open_retry_base_secs, 1_000));
    assert_eq!(e, vec![OrderEffect::OpenChannel]);
    let OrderStatus::Opening { attempts: 2, retry_at: None, .. } = o2.status else { panic!("attempt 2") };
    // At the deadline: failed back, REFUNDED, FAILED.
    let (o3, e) = o2.step_ok(&OrderInput::Tick, ctx(&p, 3_600, 1_000));
    assert_eq!(e, vec![OrderEffect::FailHtlc { cause: HtlcFailCause::Refund }]);
    assert_eq!(o3.bolt11_state(), PaymentState::Refunded);
    assert_eq!(o3.order_state(), OrderState::Failed);
    assert!(o3.is_terminal(at(3_600)));
}

#[test]
fn a_client_connecting_retries_the_open_at_once_but_only_while_waiting() {
    let p = policy();
    let (o, _) = order(false, false).step_ok(&htlc(12_000_000, 100_000), ctx(&p, 10, 1_000));
    let error = o.step(&OrderInput::ClientConnected, ctx(&p, 11, 1_000)).expect_err("an attempt is in flight");
    assert_eq!((error.state, error.input), ("opening", "client_connected"));
    let (o, _) = o.step_ok(&OrderInput::OpenFailed, ctx(&p, 11, 1_000));
    let (o, e) = o.step_ok(&OrderInput::ClientConnected, ctx(&p, 12, 1_000));
    assert_eq!(e, vec![OrderEffect::OpenChannel]);
    assert!(matches!(o.status, OrderStatus::Opening { attempts: 2, retry_at: None, .. }));
}

#[test]
fn leased_channels_are_closed_only_after_the_lease_and_only_with_the_policy() {
    let p = policy();
    for policy_on in [false, true] {
        let mut o = order(false, false);
        o.close_after_lease = policy_on;
        let (o, _) = o.step_ok(&htlc(12_000_000, 100_000), ctx(&p, 10, 1_000));
        let (o, _) = o.step_ok(&OrderInput::FundingPublished { funding_outpoint: "aa:0".into() }, ctx(&p, 20, 1_000));
        assert_eq!(o.is_terminal(at(20)), !policy_on);
        let lease_end_secs = 20 + 144 * 600;
        // Time has passed but not the blocks, then the blocks but not the time: never before.
        let (o, e) = o.step_ok(&OrderInput::Tick, ctx(&p, lease_end_secs, 1_100));
        assert!(e.is_empty());
        let (o, e) = o.step_ok(&OrderInput::Tick, ctx(&p, lease_end_secs - 1, 1_144));
        assert!(e.is_empty());
        let (o, e) = o.step_ok(&OrderInput::Tick, ctx(&p, lease_end_secs, 1_144));
        if policy_on {
            assert_eq!(e, vec![OrderEffect::CloseLeasedChannel]);
            assert!(o.is_terminal(at(lease_end_secs)));
            let (busy, _) = o.step_ok(&OrderInput::LeaseCloseDeferred, ctx(&p, lease_end_secs, 1_144));
            assert!(!busy.is_terminal(at(lease_end_secs)), "retried while busy");
        } else {
            assert!(e.is_empty());
        }
    }
}

#[test]
fn a_held_htlc_near_its_cltv_is_failed_back() {
    let p = policy();
    let (o, _) = order(false, false).step_ok(&htlc(12_000_000, 1_100), ctx(&p, 10, 1_000));
    let (_, e) = o.step_ok(&OrderInput::Tick, ctx(&p, 20, 1_100 - p.htlc_safety_blocks - 1));
    assert!(e.is_empty());
    let (o, e) = o.step_ok(&OrderInput::Tick, ctx(&p, 20, 1_100 - p.htlc_safety_blocks));
    assert_eq!(e, vec![OrderEffect::FailHtlc { cause: HtlcFailCause::Refund }]);
    assert!(matches!(o.status, OrderStatus::Failed { reason: FailReason::HtlcDeadline, .. }));
}

#[test]
fn unpaid_orders_expire_with_nothing_to_refund() {
    let p = policy();
    let (o, e) = order(false, false).step_ok(&OrderInput::Tick, ctx(&p, 3_600, 1_000));
    assert!(matches!(o.status, OrderStatus::Expired { watch_until: None }));
    assert_eq!(e, vec![OrderEffect::FailHtlc { cause: HtlcFailCause::Rejected }]);
    assert_eq!(o.order_state(), OrderState::Failed);
    assert!(o.is_terminal(at(3_600)));
    assert!(o.refund().is_none());
}

fn seen(received_sat: u64, confirmations: u32) -> OrderInput {
    OrderInput::OnchainSeen { received_sat, confirmations, fee_rate: None }
}

#[test]
fn onchain_paid_after_confirmations_then_excess_refunded() {
    let p = policy();
    let o = order(true, true);
    let (o, e) = o.step_ok(&seen(20_000, 0), ctx(&p, 10, 1_000));
    assert!(e.is_empty(), "unconfirmed does not count");
    let (o, e) = o.step_ok(&seen(20_000, 1), ctx(&p, 20, 1_001));
    assert_eq!(e, vec![OrderEffect::OpenChannel]);
    assert_eq!(o.onchain_state(), PaymentState::Paid);
    let (o, e) = o.step_ok(&OrderInput::FundingPublished { funding_outpoint: "bb:1".into() }, ctx(&p, 30, 1_001));
    assert_eq!(e, vec![OrderEffect::BuildRefund { amount_sat: 7_000, address: "bcrt1qrefund".into() }]);
    assert_eq!(o.order_state(), OrderState::Completed);
    assert!(!o.is_terminal(at(30)), "the refund is owed");
    let built = OrderInput::RefundBuilt { txid: "t1".into(), tx_hex: "00".into() };
    let (o, e) = o.step_ok(&built, ctx(&p, 31, 1_001));
    assert_eq!(e, vec![OrderEffect::BroadcastRefund { tx_hex: "00".into() }]);
    assert!(!o.is_terminal(at(31)), "until the refund confirms");
    let (o, _) = o.step_ok(&OrderInput::RefundConfirmations { confirmations: 1 }, ctx(&p, 32, 1_002));
    assert!(o.is_terminal(at(32)));
    // A second build result (a replayed effect) is ignored: one refund only.
    let error = o
        .step(&OrderInput::RefundBuilt { txid: "t2".into(), tx_hex: "01".into() }, ctx(&p, 32, 1_001))
        .expect_err("the refund is built already");
    assert_eq!((error.state, error.input), ("completed", "refund_built"));
}

/// An unconfirmed deposit counts only with 0-conf terms and a known fee rate above
/// `min_fee_for_0conf` (bLIP-51: "exceeds"); otherwise it waits for a confirmation.
#[test]
fn unconfirmed_deposit_counts_only_above_min_fee_for_0conf() {
    let p = policy();
    let zero_conf = |min_fee: Option<u64>| {
        let mut o = order(true, true);
        if let Some(terms) = o.onchain.as_mut() {
            terms.min_confirmations = 0;
            terms.min_fee_for_0conf = min_fee;
        }
        o
    };
    let unconfirmed = |fee_rate| OrderInput::OnchainSeen { received_sat: 13_000, confirmations: 0, fee_rate };
    for (min_fee, fee_rate, opens) in [
        (Some(1_000), Some(1_001), true),
        (Some(1_000), Some(1_000), false),
        (Some(1_000), Some(253), false),
        (Some(1_000), None, false),
        (None, Some(253), true),
        (None, None, false),
    ] {
        let (o, e) = zero_conf(min_fee).step_ok(&unconfirmed(fee_rate), ctx(&p, 10, 1_000));
        assert_eq!(e == vec![OrderEffect::OpenChannel], opens, "{min_fee:?} {fee_rate:?}");
        if !opens {
            assert_eq!(o.status, OrderStatus::AwaitingPayment { onchain_seen_sat: 13_000 });
            let (_, e) = o.step_ok(&seen(13_000, 1), ctx(&p, 20, 1_001));
            assert_eq!(e, vec![OrderEffect::OpenChannel], "one confirmation counts");
        }
    }
    // With confirmations required, a high fee does not make a mempool deposit count.
    let high_fee = OrderInput::OnchainSeen { received_sat: 13_000, confirmations: 0, fee_rate: Some(100_000) };
    let (_, e) = order(true, true).step_ok(&high_fee, ctx(&p, 10, 1_000));
    assert!(e.is_empty());
}

#[test]
fn onchain_underpaid_is_refunded_at_expiry_and_without_address_kept() {
    let p = policy();
    for with_address in [true, false] {
        let (o, e) = order(true, with_address).step_ok(&seen(5_000, 3), ctx(&p, 10, 1_000));
        assert!(e.is_empty());
        let (o, e) = o.step_ok(&OrderInput::Tick, ctx(&p, 3_600, 1_000));
        assert!(matches!(o.status, OrderStatus::Failed { reason: FailReason::Underpaid, .. }));
        if with_address {
            assert_eq!(e, vec![OrderEffect::BuildRefund { amount_sat: 5_000, address: "bcrt1qrefund".into() }]);
        } else {
            assert!(e.is_empty());
            assert_eq!(o.refund().map(|r| &r.status), Some(&RefundStatus::Kept));
            assert!(o.is_terminal(at(3_600)));
        }
    }
}

#[test]
fn a_full_deposit_made_in_time_is_awaited_past_the_window_for_its_confirmations() {
    let p = policy();
    let mut o = order(true, true);
    o.onchain.as_mut().unwrap().min_confirmations = 3;
    let (o, e) = o.step_ok(&seen(13_000, 1), ctx(&p, 3_000, 1_000));
    assert!(e.is_empty());
    let (o, e) = o.step_ok(&OrderInput::Tick, ctx(&p, 3_700, 1_001));
    assert!(e.is_empty() && matches!(o.status, OrderStatus::AwaitingPayment { .. }), "not refunded: {:?}", o.status);
    let (o, e) = o.step_ok(&seen(13_000, 3), ctx(&p, 3_800, 1_002));
    assert_eq!(e, vec![OrderEffect::OpenChannel]);
    assert_eq!(o.onchain_state(), PaymentState::Paid);
}

#[test]
fn onchain_paid_late_is_refunded_once() {
    let p = policy();
    let (o, _) = order(true, true).step_ok(&OrderInput::Tick, ctx(&p, 3_600, 1_000));
    assert!(matches!(o.status, OrderStatus::Expired { watch_until: Some(_) }));
    assert!(!o.is_terminal(at(3_600)));
    let (o, e) = o.step_ok(&seen(13_000, 1), ctx(&p, 3_700, 1_000));
    assert_eq!(e, vec![OrderEffect::BuildRefund { amount_sat: 13_000, address: "bcrt1qrefund".into() }]);
    let error = o.step(&seen(26_000, 1), ctx(&p, 3_800, 1_000)).expect_err("the refund was already requested");
    assert_eq!((error.state, error.input), ("failed", "onchain_seen"));
}

#[test]
fn unconfirmed_refunds_are_fee_bumped_after_the_wait_and_replaced_in_place() {
    let p = policy();
    let (o, _) = order(true, true).step_ok(&seen(5_000, 3), ctx(&p, 10, 1_000));
    let (o, _) = o.step_ok(&OrderInput::Tick, ctx(&p, 3_600, 1_000));
    let (o, _) = o.step_ok(&OrderInput::RefundBuilt { txid: "t1".into(), tx_hex: "01".into() }, ctx(&p, 3_601, 1_000));
    let unconfirmed = OrderInput::RefundConfirmations { confirmations: 0 };
    let (o, e) = o.step_ok(&unconfirmed, ctx(&p, 3_700, 1_000 + p.refund_bump_after_blocks - 1));
    assert!(e.is_empty(), "not yet");
    let (o, e) = o.step_ok(&unconfirmed, ctx(&p, 3_700, 1_000 + p.refund_bump_after_blocks));
    assert_eq!(e, vec![OrderEffect::BumpRefund { txid: "t1".into(), bumps: 0 }]);
    let (_, e) = o.step_ok(&unconfirmed, ctx(&p, 3_700, 1_000 + p.refund_bump_after_blocks));
    assert!(e.is_empty(), "one bump per wait");
    let (o, e) = o.step_ok(&OrderInput::RefundBumped { txid: "t2".into(), tx_hex: "02".into() }, ctx(&p, 3_800, 1_040));
    assert_eq!(e, vec![OrderEffect::BroadcastRefund { tx_hex: "02".into() }]);
    assert!(matches!(&o.refund().unwrap().status, RefundStatus::Built { txid, bumps: 1, .. } if txid == "t2"));
    assert_eq!(o.onchain_state(), PaymentState::Refunded);
    let (o, _) = o.step_ok(&OrderInput::RefundConfirmations { confirmations: 2 }, ctx(&p, 3_900, 1_042));
    assert!(o.is_terminal(at(3_900)));
}

#[test]
fn failed_refund_builds_are_retried_later() {
    let p = policy();
    let (o, _) = order(true, true).step_ok(&seen(5_000, 3), ctx(&p, 10, 1_000));
    let (o, _) = o.step_ok(&OrderInput::Tick, ctx(&p, 3_600, 1_000));
    let (o, e) = o.step_ok(&OrderInput::RefundFailed, ctx(&p, 3_601, 1_000));
    assert!(e.is_empty());
    assert_eq!(o.next_deadline(), Some(at(3_601 + p.refund_retry_secs)));
    let (_, e) = o.step_ok(&OrderInput::Tick, ctx(&p, 3_601 + p.refund_retry_secs, 1_000));
    assert_eq!(e, vec![OrderEffect::BuildRefund { amount_sat: 5_000, address: "bcrt1qrefund".into() }]);
}

#[test]
fn the_order_round_trips_through_json() {
    let o = order(true, true);
    let json = serde_json::to_value(&o).expect("encode");
    assert_eq!(serde_json::from_value::<OrderBook>(json).expect("decode"), o);
    let _ = FakeNode::new();
}

#[test]
fn an_order_stored_with_its_refund_beside_the_status_loads_with_the_refund_in_it() {
    let p = policy();
    let (failed, _) = order(true, true).step_ok(&seen(5_000, 3), ctx(&p, 10, 1_000));
    let (failed, _) = failed.step_ok(&OrderInput::Tick, ctx(&p, 3_600, 1_000));
    let refund = failed.refund().cloned().expect("an under-payment owes a refund");
    // The layout before the refund moved into the status: `refund` at the top level.
    let mut legacy = serde_json::to_value(&failed).expect("encode");
    legacy["status"].as_object_mut().expect("status").remove("refund");
    legacy["refund"] = serde_json::to_value(&refund).expect("encode");
    let loaded: OrderBook = serde_json::from_value(legacy).expect("decode");
    assert_eq!(loaded, failed);
    // A legacy order without a refund, in a state that cannot owe one, loads as it was.
    let mut legacy = serde_json::to_value(order(true, true)).expect("encode");
    legacy["refund"] = serde_json::Value::Null;
    assert_eq!(serde_json::from_value::<OrderBook>(legacy).expect("decode"), order(true, true));
}

fn input_strategy() -> impl Strategy<Value = OrderInput> {
    prop_oneof![
        (prop_oneof![Just(12_000_000u64), Just(11_000_000u64)], 1_000u32..1_300)
            .prop_map(|(amount_msat, deadline)| htlc(amount_msat, deadline)),
        (0u64..30_000, 0u32..4).prop_map(|(sat, conf)| seen(sat, conf)),
        Just(OrderInput::OpenFailed),
        Just(OrderInput::FundingPublished { funding_outpoint: "cc:0".into() }),
        "[a-f]{4}".prop_map(|txid| OrderInput::RefundBuilt { tx_hex: txid.clone(), txid }),
        Just(OrderInput::RefundFailed),
        Just(OrderInput::ClientConnected),
        Just(OrderInput::LeaseCloseDeferred),
        (0u32..2).prop_map(|confirmations| OrderInput::RefundConfirmations { confirmations }),
        "[a-f]{4}".prop_map(|txid| OrderInput::RefundBumped { tx_hex: format!("bump-{txid}"), txid }),
        Just(OrderInput::Tick),
    ]
}

proptest! {
    /// Whatever happens: no held payment is both claimed and refunded, a held payment is
    /// resolved (claimed or failed back) in every terminal state, and at most one refund
    /// transaction is ever broadcast.
    #[test]
    fn payments_are_claimed_or_refunded_never_both(
        onchain in any::<bool>(),
        steps in proptest::collection::vec((input_strategy(), 0u64..900, 0u32..40), 1..40),
    ) {
        let p = policy();
        let mut o = order(onchain, true);
        let (mut secs, mut height) = (0u64, 1_000u32);
        let (mut claimed, mut refunded_htlc, mut held) = (false, false, false);
        let mut broadcasts = std::collections::HashSet::new();
        for (input, dt, dh) in steps {
            secs += dt;
            height += dh;
            // An input that does not apply changes nothing (the runner writes nothing).
            let (next, effects) = o.step(&input, ctx(&p, secs, height)).unwrap_or_else(|_| (o.clone(), Vec::new()));
            for effect in &effects {
                match effect {
                    OrderEffect::ClaimPayment => claimed = true,
                    OrderEffect::FailHtlc { cause: HtlcFailCause::Refund } => refunded_htlc = true,
                    // Replacements (RBF) spend the same inputs; only originals count.
                    OrderEffect::BroadcastRefund { tx_hex } if !tx_hex.starts_with("bump-") => { broadcasts.insert(tx_hex.clone()); }
                    _ => {}
                }
            }
            if matches!(next.status, OrderStatus::Opening { payment: Payment::Lightning { .. }, .. }) {
                held = true;
            }
            prop_assert!(!(claimed && refunded_htlc), "claimed and refunded: {:?}", next.status);
            prop_assert!(broadcasts.len() <= 1, "two refunds: {broadcasts:?}");
            if next.is_terminal(at(secs)) && held {
                prop_assert!(claimed || refunded_htlc, "terminal with the HTLC unresolved: {:?}", next.status);
            }
            o = next;
        }
    }
}

/// Steps an input the order must accept; an invalid one fails the test with its error.
trait StepOk {
    fn step_ok(&self, input: &OrderInput, ctx: Context<'_>) -> (OrderBook, Vec<OrderEffect>);
}

impl StepOk for OrderBook {
    fn step_ok(&self, input: &OrderInput, ctx: Context<'_>) -> (OrderBook, Vec<OrderEffect>) {
        self.step(input, ctx).unwrap_or_else(|error| panic!("{error}"))
    }
}
