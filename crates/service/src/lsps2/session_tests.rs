//! Transition tables for [`JitSession`](super::session::JitSession): one test per flow and per
//! failure path, plus a property test that no HTLC is ever resolved twice or left held.

use std::collections::HashMap;

use lsps::lsps2::{OpeningFeeParams, PromiseKey, RawOpeningFeeParams};
use lsps::schema::{DateTime, MsatAmount, NodeId, Ppm, Scid};
use proptest::prelude::*;

use super::session::*;

const SIZE: u64 = 42_000_000;
const FEE: u64 = 2_000_000;

fn t(secs: u64) -> DateTime {
    DateTime::from_unix_secs(1_750_000_000 + secs).unwrap()
}

fn client() -> NodeId {
    "033dd22479352d5df4cd36f088ad2134c4758aac4713707ce43e72c0ac91938061".parse().unwrap()
}

fn params() -> OpeningFeeParams {
    RawOpeningFeeParams {
        min_fee_msat: MsatAmount(FEE),
        proportional: Ppm(5000),
        valid_until: t(3600),
        min_lifetime: 4320,
        max_client_to_self_delay: 2016,
        min_payment_size_msat: MsatAmount(10_000_000),
        max_payment_size_msat: MsatAmount(4_000_000_000),
    }
    .seal(&PromiseKey::inbound_v1(1, [7; 32]), &client())
}

fn session(mode: PurchaseMode, trusts: bool) -> JitSession {
    JitSession::new(client(), Scid(1 << 40), 77, params(), mode, trusts, t(0))
}

fn fixed() -> JitSession {
    session(PurchaseMode::Fixed { payment_size_msat: SIZE }, false)
}

fn htlc(n: u8, amount: u64) -> HeldHtlc {
    HeldHtlc {
        intercept_id: InterceptRef([n; 32]),
        payment_hash: PaymentHashRef([0xaa; 32]),
        expected_outbound_amount_msat: amount,
        inbound_amount_msat: amount + 1000,
    }
}

fn id(n: u8) -> InterceptRef {
    InterceptRef([n; 32])
}

const CHANNEL: ChannelRef = ChannelRef([9; 32]);

/// Applies inputs in order at the given times, with the client online unless said otherwise;
/// returns the final session and all effects.
fn run(start: JitSession, steps: &[(u64, JitInput)], online: bool) -> (JitSession, Vec<JitEffect>) {
    let policy = SessionPolicy::default();
    let mut session = start;
    let mut all = Vec::new();
    for (at, input) in steps {
        let context = Context { now: t(*at), client_online: online, policy: &policy };
        let (next, effects) = session.step(input.clone(), context).expect("valid transition");
        session = next;
        all.extend(effects);
    }
    (session, all)
}

fn ready(minimum: u64) -> JitInput {
    JitInput::ChannelReady { channel_id: CHANNEL, client_htlc_minimum_msat: minimum }
}

#[test]
fn mpp_payment_opens_forwards_minus_fee_and_is_paid() {
    let (s, effects) = run(
        fixed(),
        &[
            (1, JitInput::HtlcIntercepted(htlc(1, 20_000_000))),
            (2, JitInput::HtlcIntercepted(htlc(2, 15_000_000))),
            (3, JitInput::HtlcIntercepted(htlc(3, 7_000_000))),
        ],
        true,
    );
    assert!(matches!(s.state, JitState::OpeningChannel { .. }));
    assert_eq!(effects, vec![JitEffect::OpenChannel { forward_msat: SIZE - FEE, manual_broadcast: false }]);
    assert_eq!(s.opening_fee_msat, Some(FEE));
    assert_eq!(s.open_attempts, 1);

    let (s, effects) = run(s, &[(4, ready(1000))], true);
    // The spec's example split: the whole fee comes out of the first part.
    assert_eq!(
        effects,
        vec![JitEffect::ForwardHtlcs {
            channel_id: CHANNEL,
            forwards: vec![(id(1), 18_000_000), (id(2), 15_000_000), (id(3), 7_000_000)]
        }]
    );
    let (s, effects) = run(
        s,
        &[
            (5, JitInput::PaymentForwarded { skimmed_fee_msat: FEE }),
            (5, JitInput::PaymentForwarded { skimmed_fee_msat: 0 }),
        ],
        true,
    );
    assert!(matches!(s.state, JitState::Paid { fee_msat: FEE, .. }));
    assert!(effects.is_empty(), "the LSP broadcast at once in LSP-trusts-client mode");
}

#[test]
fn client_trusts_lsp_broadcasts_only_after_the_fee_is_collected() {
    let start = session(PurchaseMode::Fixed { payment_size_msat: SIZE }, true);
    let (s, effects) = run(start, &[(1, JitInput::HtlcIntercepted(htlc(1, SIZE)))], true);
    assert_eq!(effects, vec![JitEffect::OpenChannel { forward_msat: SIZE - FEE, manual_broadcast: true }]);
    let (s, _) = run(s, &[(2, ready(1))], true);
    let (s, effects) = run(s, &[(3, JitInput::PaymentForwarded { skimmed_fee_msat: FEE - 1 })], true);
    assert!(effects.is_empty() && matches!(s.state, JitState::Forwarded { .. }), "fee not yet complete");
    let (s, effects) = run(s, &[(3, JitInput::PaymentForwarded { skimmed_fee_msat: 1 })], true);
    assert_eq!(effects, vec![JitEffect::BroadcastFunding]);
    assert!(s.state.is_terminal());
}

#[test]
fn mpp_timeout_fails_parts_temporarily_and_starts_over() {
    let (s, _) = run(fixed(), &[(10, JitInput::HtlcIntercepted(htlc(1, 20_000_000)))], true);
    let (s, effects) = run(s, &[(99, JitInput::Tick)], true);
    assert!(effects.is_empty(), "89 s is not yet the 90 s timeout");
    let (s, effects) = run(s, &[(100, JitInput::Tick)], true);
    assert_eq!(
        effects,
        vec![JitEffect::FailHtlcs { htlcs: vec![id(1)], failure: HtlcFailure::TemporaryChannelFailure }]
    );
    assert_eq!(s.state, JitState::AwaitingPayment { parts: vec![], first_part_at: None });
    // A part arriving later starts a fresh set and a fresh timer.
    let (s, _) = run(s, &[(200, JitInput::HtlcIntercepted(htlc(2, 1_000_000)))], true);
    assert_eq!(s.state, JitState::AwaitingPayment { parts: vec![htlc(2, 1_000_000)], first_part_at: Some(t(200)) });
}

#[test]
fn valid_until_ends_the_flow_and_later_htlcs_fail_at_once() {
    let (s, _) = run(fixed(), &[(3590, JitInput::HtlcIntercepted(htlc(1, 1_000_000)))], true);
    let (s, effects) = run(s, &[(3600, JitInput::Tick)], true);
    assert_eq!(effects, vec![JitEffect::FailHtlcs { htlcs: vec![id(1)], failure: HtlcFailure::UnknownNextPeer }]);
    assert_eq!(s.state, JitState::Expired);
    let (_, effects) = run(s, &[(3700, JitInput::HtlcIntercepted(htlc(2, SIZE)))], true);
    assert_eq!(effects, vec![JitEffect::FailHtlcs { htlcs: vec![id(2)], failure: HtlcFailure::UnknownNextPeer }]);
    let (s, _) = run(fixed(), &[(3600, JitInput::Tick)], true);
    assert_eq!(s.state, JitState::Expired, "an unused purchase expires too");
}

#[test]
fn variable_mode_takes_one_htlc_and_checks_fee_and_bounds() {
    let variable = session(PurchaseMode::Variable, false);
    // 50,000 sat: fee = max(2,000,000, 250,000) msat.
    let (s, effects) = run(variable.clone(), &[(1, JitInput::HtlcIntercepted(htlc(1, 50_000_000)))], true);
    assert_eq!(effects, vec![JitEffect::OpenChannel { forward_msat: 48_000_000, manual_broadcast: false }]);
    let (_, effects) = run(s, &[(2, JitInput::HtlcIntercepted(htlc(2, 50_000_000)))], true);
    assert_eq!(
        effects,
        vec![JitEffect::FailHtlcs { htlcs: vec![id(2)], failure: HtlcFailure::TemporaryChannelFailure }]
    );
    for amount in [9_999_999, 4_000_000_001] {
        let (s, effects) = run(variable.clone(), &[(1, JitInput::HtlcIntercepted(htlc(1, amount)))], true);
        assert_eq!(effects, vec![JitEffect::FailHtlcs { htlcs: vec![id(1)], failure: HtlcFailure::UnknownNextPeer }]);
        assert!(matches!(s.state, JitState::AwaitingPayment { .. }), "{amount}: the purchase stays usable");
    }
}

#[test]
fn variable_mode_refuses_an_htlc_that_cannot_pay_the_fee() {
    let mut cheap_floor = session(PurchaseMode::Variable, false);
    cheap_floor.opening_fee_params.min_payment_size_msat = MsatAmount(1);
    let (_, effects) = run(cheap_floor, &[(1, JitInput::HtlcIntercepted(htlc(1, FEE)))], true);
    assert_eq!(effects, vec![JitEffect::FailHtlcs { htlcs: vec![id(1)], failure: HtlcFailure::UnknownNextPeer }]);
}

#[test]
fn offline_client_is_notified_then_opened_for_or_timed_out() {
    let (s, effects) = run(fixed(), &[(1, JitInput::HtlcIntercepted(htlc(1, SIZE)))], false);
    assert_eq!(effects, vec![JitEffect::NotifyClient]);
    assert!(matches!(s.state, JitState::AwaitingClient { .. }));
    let (opened, effects) = run(s.clone(), &[(5, JitInput::ClientConnected)], true);
    assert!(matches!(opened.state, JitState::OpeningChannel { .. }));
    assert_eq!(effects, vec![JitEffect::OpenChannel { forward_msat: SIZE - FEE, manual_broadcast: false }]);
    let (gave_up, effects) = run(s, &[(31, JitInput::Tick)], false);
    assert_eq!(
        effects,
        vec![JitEffect::FailHtlcs { htlcs: vec![id(1)], failure: HtlcFailure::TemporaryChannelFailure }]
    );
    assert_eq!(gave_up.opening_fee_msat, None);
    assert!(matches!(gave_up.state, JitState::AwaitingPayment { .. }));
}

#[test]
fn failed_opens_release_htlcs_and_end_the_session_after_the_limit() {
    let mut s = fixed();
    for attempt in 1..=DEFAULT_MAX_OPEN_ATTEMPTS {
        let (opening, _) =
            run(s, &[(u64::from(attempt) * 10, JitInput::HtlcIntercepted(htlc(attempt as u8, SIZE)))], true);
        assert_eq!(opening.open_attempts, attempt);
        let (after, effects) = run(opening, &[(u64::from(attempt) * 10 + 1, JitInput::OpenFailed)], true);
        assert_eq!(
            effects,
            vec![
                JitEffect::FailHtlcs { htlcs: vec![id(attempt as u8)], failure: HtlcFailure::TemporaryChannelFailure },
                JitEffect::AbandonChannel
            ]
        );
        s = after;
    }
    assert_eq!(s.state, JitState::Failed { reason: FailReason::OpenFailedRepeatedly });
}

#[test]
fn an_open_that_never_becomes_ready_times_out() {
    let (s, _) = run(fixed(), &[(1, JitInput::HtlcIntercepted(htlc(1, SIZE)))], true);
    let (s, effects) = run(s, &[(60, JitInput::Tick)], true);
    assert!(effects.is_empty());
    let (s, effects) = run(s, &[(61, JitInput::Tick)], true);
    assert_eq!(effects.len(), 2);
    assert!(matches!(s.state, JitState::AwaitingPayment { .. }));
}

#[test]
fn replayed_htlcs_after_a_restart_are_ignored() {
    let part = htlc(1, 20_000_000);
    let (s, effects) = run(
        fixed(),
        &[(1, JitInput::HtlcIntercepted(part.clone())), (2, JitInput::HtlcIntercepted(part.clone()))],
        true,
    );
    assert!(effects.is_empty());
    assert_eq!(s.state.held_htlcs().len(), 1);
    let (s, _) = run(s, &[(3, JitInput::HtlcIntercepted(htlc(2, 22_000_000)))], true);
    let (s, effects) = run(s, &[(4, JitInput::HtlcIntercepted(part.clone()))], true);
    assert!(effects.is_empty(), "replay while opening");
    let (s, _) = run(s, &[(5, ready(1))], true);
    let (_, effects) = run(s, &[(6, JitInput::HtlcIntercepted(part))], true);
    assert!(effects.is_empty(), "replay after forwarding");
}

#[test]
fn client_that_never_claims_costs_the_lsp_no_broadcast_in_trust_mode() {
    let trusting = session(PurchaseMode::Fixed { payment_size_msat: SIZE }, true);
    let (s, _) = run(trusting, &[(1, JitInput::HtlcIntercepted(htlc(1, SIZE))), (2, ready(1))], true);
    let (s, effects) = run(s, &[(122, JitInput::Tick)], true);
    assert_eq!(effects, vec![JitEffect::RecordUnpaid, JitEffect::AbandonChannel]);
    assert_eq!(s.state, JitState::Failed { reason: FailReason::ClientNeverClaimed });
    assert!(!effects.contains(&JitEffect::BroadcastFunding));

    let (s, _) = run(fixed(), &[(1, JitInput::HtlcIntercepted(htlc(1, SIZE))), (2, ready(1))], true);
    let (_, effects) = run(s, &[(122, JitInput::Tick)], true);
    assert_eq!(effects, vec![JitEffect::RecordUnpaid, JitEffect::CloseChannel { channel_id: CHANNEL, force: true }]);
}

#[test]
fn an_unpaid_channel_collects_the_fee_from_the_next_payment() {
    let (s, _) = run(fixed(), &[(1, JitInput::HtlcIntercepted(htlc(1, SIZE))), (2, ready(1))], true);
    let (s, effects) = run(s, &[(3, JitInput::ForwardFailed)], true);
    assert_eq!(effects, vec![JitEffect::RecordUnpaid]);
    assert!(matches!(s.state, JitState::ChannelUnpaid { .. }));
    // Too small to carry the fee: refused, the channel stays unpaid.
    let (s, effects) = run(s, &[(4, JitInput::HtlcIntercepted(htlc(2, FEE)))], true);
    assert_eq!(effects, vec![JitEffect::FailHtlcs { htlcs: vec![id(2)], failure: HtlcFailure::UnknownNextPeer }]);
    let (s, effects) = run(s, &[(5, JitInput::HtlcIntercepted(htlc(3, 5_000_000)))], true);
    assert_eq!(effects, vec![JitEffect::ForwardHtlcs { channel_id: CHANNEL, forwards: vec![(id(3), 3_000_000)] }]);
    let (s, _) = run(s, &[(6, JitInput::PaymentForwarded { skimmed_fee_msat: FEE })], true);
    assert!(matches!(s.state, JitState::Paid { .. }));
    // Once paid, later HTLCs to the SCID pass through untouched.
    let (_, effects) = run(s, &[(7, JitInput::HtlcIntercepted(htlc(4, 5_000_000)))], true);
    assert_eq!(effects, vec![JitEffect::ForwardHtlcs { channel_id: CHANNEL, forwards: vec![(id(4), 5_000_000)] }]);
}

#[test]
fn an_unpaid_channel_is_given_up_after_its_grace_period() {
    let (s, _) = run(
        fixed(),
        &[(1, JitInput::HtlcIntercepted(htlc(1, SIZE))), (2, ready(1)), (3, JitInput::ForwardFailed)],
        true,
    );
    let (s, effects) = run(s, &[(3600 + DEFAULT_UNPAID_CHANNEL_GRACE_SECS - 1, JitInput::Tick)], true);
    assert!(effects.is_empty());
    let (s, effects) = run(s, &[(3600 + DEFAULT_UNPAID_CHANNEL_GRACE_SECS, JitInput::Tick)], true);
    assert_eq!(effects, vec![JitEffect::CloseChannel { channel_id: CHANNEL, force: false }]);
    assert_eq!(s.state, JitState::Failed { reason: FailReason::ChannelNeverPaid });
}

#[test]
fn parts_that_cannot_cover_the_fee_or_are_too_many_are_refused() {
    // 33 parts: one more than the limit.
    let steps: Vec<(u64, JitInput)> = (1..=33u8).map(|n| (1, JitInput::HtlcIntercepted(htlc(n, 1_000)))).collect();
    let (s, effects) = run(fixed(), &steps, true);
    assert_eq!(effects.len(), 1);
    assert!(
        matches!(&effects[0], JitEffect::FailHtlcs { htlcs, failure: HtlcFailure::UnknownNextPeer } if htlcs.len() == 33)
    );
    assert!(s.state.held_htlcs().is_empty());

    // A high assumed minimum makes two parts unable to carry the fee.
    let policy = SessionPolicy { assumed_htlc_minimum_msat: 20_000_001, ..SessionPolicy::default() };
    let context = Context { now: t(1), client_online: true, policy: &policy };
    let (s, _) = fixed().step(JitInput::HtlcIntercepted(htlc(1, 21_000_000)), context).unwrap();
    let (s, effects) = s.step(JitInput::HtlcIntercepted(htlc(2, 21_000_000)), context).unwrap();
    assert_eq!(
        effects,
        vec![JitEffect::FailHtlcs { htlcs: vec![id(1), id(2)], failure: HtlcFailure::UnknownNextPeer }]
    );
    assert!(s.state.held_htlcs().is_empty());
}

#[test]
fn a_second_payment_hash_is_refused_while_collecting() {
    let mut other = htlc(2, 1_000_000);
    other.payment_hash = PaymentHashRef([0xbb; 32]);
    let (s, effects) = run(
        fixed(),
        &[(1, JitInput::HtlcIntercepted(htlc(1, 1_000_000))), (2, JitInput::HtlcIntercepted(other))],
        true,
    );
    assert_eq!(
        effects,
        vec![JitEffect::FailHtlcs { htlcs: vec![id(2)], failure: HtlcFailure::TemporaryChannelFailure }]
    );
    assert_eq!(s.state.held_htlcs().len(), 1);
}

#[test]
fn impossible_inputs_are_errors_naming_the_state() {
    let policy = SessionPolicy::default();
    let context = Context { now: t(1), client_online: true, policy: &policy };
    let error = fixed().step(JitInput::PaymentForwarded { skimmed_fee_msat: 1 }, context).unwrap_err();
    assert_eq!(error, TransitionError { state: "awaiting_payment", input: "payment_forwarded" });
}

#[test]
fn sessions_survive_a_json_round_trip() {
    let (s, _) = run(fixed(), &[(1, JitInput::HtlcIntercepted(htlc(1, SIZE))), (2, ready(1))], true);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["state"]["state"], "forwarded");
    assert_eq!(json["user_channel_id"], "77");
    let back: JitSession = serde_json::from_value(json).unwrap();
    assert_eq!(back, s);
}

fn arbitrary_input() -> impl Strategy<Value = (u64, JitInput)> {
    let htlc_input =
        (0u8..6, prop_oneof![Just(1_000u64), Just(2_000_000), Just(20_000_000), Just(SIZE)], any::<bool>()).prop_map(
            |(n, amount, other_hash)| {
                let mut part = htlc(n, amount);
                if other_hash {
                    part.payment_hash = PaymentHashRef([0xbb; 32]);
                }
                JitInput::HtlcIntercepted(part)
            },
        );
    let input = prop_oneof![
        4 => htlc_input,
        1 => Just(JitInput::ClientConnected),
        1 => Just(JitInput::OpenFailed),
        1 => (0u64..30_000_000).prop_map(ready),
        1 => Just(JitInput::ForwardFailed),
        1 => (0u64..=FEE).prop_map(|skimmed_fee_msat| JitInput::PaymentForwarded { skimmed_fee_msat }),
        2 => Just(JitInput::Tick),
        1 => Just(JitInput::OperatorFail),
    ];
    (0u64..200, input)
}

proptest! {
    /// Whatever happens: no HTLC is resolved (failed or forwarded) twice, every HTLC that was
    /// held is resolved once time passes every deadline, and terminal states stay terminal.
    #[test]
    fn htlcs_are_resolved_exactly_once_and_never_left_held(
        trusts in any::<bool>(),
        variable in any::<bool>(),
        online in any::<bool>(),
        steps in prop::collection::vec(arbitrary_input(), 0..40),
    ) {
        let policy = SessionPolicy::default();
        let mode = if variable { PurchaseMode::Variable } else { PurchaseMode::Fixed { payment_size_msat: SIZE } };
        let mut session = session(mode, trusts);
        let mut now = 0u64;
        let mut resolved: HashMap<InterceptRef, usize> = HashMap::new();
        let mut seen_terminal = false;
        let apply = |session: &mut JitSession, input: JitInput, now: u64, resolved: &mut HashMap<InterceptRef, usize>| {
            let context = Context { now: t(now), client_online: online, policy: &policy };
            if let Ok((next, effects)) = session.step(input, context) {
                for effect in effects {
                    match effect {
                        JitEffect::FailHtlcs { htlcs, .. } => htlcs.into_iter().for_each(|h| *resolved.entry(h).or_default() += 1),
                        JitEffect::ForwardHtlcs { forwards, .. } => forwards.into_iter().for_each(|(h, _)| *resolved.entry(h).or_default() += 1),
                        _ => {}
                    }
                }
                *session = next;
            }
        };
        for (delay, input) in steps {
            now += delay;
            // LDK never delivers an HTLC again once it was failed or forwarded; replays of
            // HTLCs still held (after a restart) are allowed.
            if let JitInput::HtlcIntercepted(part) = &input {
                if resolved.contains_key(&part.intercept_id) {
                    continue;
                }
            }
            apply(&mut session, input, now, &mut resolved);
            if seen_terminal {
                prop_assert!(session.state.is_terminal());
            }
            seen_terminal |= session.state.is_terminal();
        }
        // Let every timer fire.
        for _ in 0..4 {
            now += 200_000;
            apply(&mut session, JitInput::Tick, now, &mut resolved);
        }
        prop_assert!(session.state.held_htlcs().is_empty(), "left held: {:?}", session.state);
        prop_assert!(resolved.values().all(|count| *count == 1), "{resolved:?}");
    }
}

#[test]
fn next_deadline_is_the_earliest_timer_of_the_state_and_none_when_terminal() {
    let policy = SessionPolicy::default();
    let fresh = fixed();
    assert_eq!(fresh.next_deadline(&policy), Some(t(3600)), "valid_until while nothing is held");
    let (collecting, _) = run(fixed(), &[(10, JitInput::HtlcIntercepted(htlc(1, SIZE / 2)))], true);
    assert_eq!(collecting.next_deadline(&policy), Some(t(10 + policy.mpp_timeout_secs)));
    let (opening, _) = run(fixed(), &[(20, JitInput::HtlcIntercepted(htlc(1, SIZE)))], true);
    assert_eq!(opening.next_deadline(&policy), Some(t(20 + policy.open_timeout_secs)));
    let (waiting, _) = run(fixed(), &[(3590, JitInput::HtlcIntercepted(htlc(1, SIZE)))], false);
    assert_eq!(waiting.next_deadline(&policy), Some(t(3600)), "the client wait never outlives valid_until");
    let (forwarded, _) = run(opening, &[(30, ready(1))], true);
    assert_eq!(forwarded.next_deadline(&policy), Some(t(30 + policy.claim_timeout_secs)));
    let (paid, _) = run(forwarded, &[(40, JitInput::PaymentForwarded { skimmed_fee_msat: FEE })], true);
    assert_eq!(paid.next_deadline(&policy), None);
}

/// `min_lifetime` (bLIP-52 §4.11): once the client has claimed and the fee is collected, the
/// LSP must not close the channel before its funding is `min_lifetime` blocks deep. The session
/// is the LSP's only source of closes ([`JitEffect::CloseChannel`] / `AbandonChannel`, both for
/// channels whose fee was never paid), and a paid session never wakes again nor emits one, in
/// either trust mode, however much time passes.
#[test]
fn a_paid_channel_is_never_closed_by_the_lsp() {
    for trusting in [false, true] {
        let s = session(PurchaseMode::Fixed { payment_size_msat: SIZE }, trusting);
        let steps = [
            (1, JitInput::HtlcIntercepted(htlc(1, SIZE))),
            (2, ready(1)),
            (3, JitInput::PaymentForwarded { skimmed_fee_msat: FEE }),
        ];
        let (paid, _) = run(s, &steps, true);
        assert!(matches!(paid.state, JitState::Paid { .. }), "{:?}", paid.state);
        assert_eq!(paid.next_deadline(&SessionPolicy::default()), None, "a paid session never wakes");
        let ten_years = 10 * 365 * 86_400;
        for at in [4, 3600 + DEFAULT_CLAIM_TIMEOUT_SECS, 3600 + DEFAULT_UNPAID_CHANNEL_GRACE_SECS, ten_years] {
            for online in [true, false] {
                let (next, effects) = run(paid.clone(), &[(at, JitInput::Tick)], online);
                assert!(effects.is_empty(), "no effect at +{at} s: {effects:?}");
                assert_eq!(next.state, paid.state);
            }
        }
        // A later HTLC to the SCID passes through untouched instead of closing anything.
        let (_, effects) = run(paid, &[(ten_years, JitInput::HtlcIntercepted(htlc(2, 5_000_000)))], true);
        assert_eq!(effects, vec![JitEffect::ForwardHtlcs { channel_id: CHANNEL, forwards: vec![(id(2), 5_000_000)] }]);
    }
}

/// An interrupted open (the LSP restarted, or the client was gone when the open was to go out)
/// keeps the payment: with the client back it opens again at once (one more attempt); without
/// it the session waits for the client with the same parts; nothing is failed back until the
/// attempts run out, and then everything is.
#[test]
fn an_interrupted_open_keeps_the_payment_and_opens_again() {
    let (s, effects) =
        run(fixed(), &[(1, JitInput::HtlcIntercepted(htlc(1, SIZE))), (2, JitInput::OpenInterrupted)], true);
    assert!(matches!(s.state, JitState::OpeningChannel { since, .. } if since == t(2)));
    assert_eq!(s.open_attempts, 2);
    let open = JitEffect::OpenChannel { forward_msat: SIZE - FEE, manual_broadcast: false };
    assert_eq!(effects, vec![open.clone(), open.clone()], "the first open, then the second");

    let (s, _) = run(fixed(), &[(1, JitInput::HtlcIntercepted(htlc(1, SIZE)))], true);
    let (s, effects) = run(s, &[(2, JitInput::OpenInterrupted)], false);
    assert!(matches!(s.state, JitState::AwaitingClient { ref parts, since } if parts.len() == 1 && since == t(2)));
    assert_eq!(effects, vec![JitEffect::NotifyClient], "nothing failed back");
    let (s, effects) = run(s, &[(3, JitInput::ClientConnected)], true);
    assert!(matches!(s.state, JitState::OpeningChannel { .. }));
    assert_eq!(effects, vec![open.clone()]);

    let (s, effects) = run(s, &[(4, JitInput::OpenInterrupted)], true);
    assert_eq!((s.open_attempts, effects), (3, vec![open]));
    let (s, effects) = run(s, &[(5, JitInput::OpenInterrupted)], true);
    assert!(matches!(s.state, JitState::Failed { .. }), "attempts ran out: {:?}", s.state);
    assert!(
        effects.contains(&JitEffect::FailHtlcs { htlcs: vec![id(1)], failure: HtlcFailure::TemporaryChannelFailure })
    );
}

#[test]
fn the_operator_fails_a_held_payment_only_while_no_open_is_in_flight() {
    let policy = SessionPolicy::default();
    let context = |online| Context { now: t(5), client_online: online, policy: &policy };
    // Collecting parts: they go back, and the session ends for good.
    let (collecting, _) = run(fixed(), &[(1, JitInput::HtlcIntercepted(htlc(1, 20_000_000)))], true);
    let (failed, effects) = collecting.step(JitInput::OperatorFail, context(true)).expect("applies");
    assert_eq!(failed.state, JitState::Failed { reason: FailReason::Cancelled });
    assert_eq!(effects, vec![JitEffect::FailHtlcs { htlcs: vec![id(1)], failure: HtlcFailure::UnknownNextPeer }]);
    // Nothing held yet: the session just ends.
    let (ended, effects) = fixed().step(JitInput::OperatorFail, context(true)).expect("applies");
    assert!(matches!(ended.state, JitState::Failed { reason: FailReason::Cancelled }) && effects.is_empty());
    // Waiting for an offline client: its held payment goes back.
    let (waiting, _) = run(fixed(), &[(1, JitInput::HtlcIntercepted(htlc(2, SIZE)))], false);
    let (_, effects) = waiting.step(JitInput::OperatorFail, context(false)).expect("applies");
    assert_eq!(effects, vec![JitEffect::FailHtlcs { htlcs: vec![id(2)], failure: HtlcFailure::UnknownNextPeer }]);
    // An open in flight, a forwarded payment, a finished session: refused, nothing changes.
    let (opening, _) = run(fixed(), &[(1, JitInput::HtlcIntercepted(htlc(3, SIZE)))], true);
    let refused = TransitionError { state: "opening_channel", input: "operator_fail" };
    assert_eq!(opening.step(JitInput::OperatorFail, context(true)), Err(refused));
    let (forwarded, _) = run(opening, &[(2, ready(1))], true);
    assert!(forwarded.step(JitInput::OperatorFail, context(true)).is_err());
    assert!(failed.step(JitInput::OperatorFail, context(true)).is_err());
}
