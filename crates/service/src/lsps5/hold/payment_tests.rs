//! The held HTLC's transitions, one test per path.

use lsps::schema::{DateTime, NodeId};

use super::payment::{HeldPayment, HoldContext, HoldEffect, HoldFailure, HoldInput, HoldState};
use crate::ids::{ChannelRef, InterceptRef, PaymentHashRef};
use crate::intercept::HeldHtlc;
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};

const HOLD_SECS: u64 = 60;
const AMOUNT_MSAT: u64 = 10_000_000;
const CHANNEL: ChannelRef = ChannelRef([7; 32]);

fn start() -> DateTime {
    DateTime::from_unix_secs(1_700_000_000).expect("time")
}

fn at(secs: u64) -> HoldContext {
    HoldContext { now: start().checked_add_secs(secs).expect("time") }
}

fn htlc() -> HeldHtlc {
    HeldHtlc {
        intercept_id: InterceptRef([1; 32]),
        payment_hash: PaymentHashRef([2; 32]),
        expected_outbound_amount_msat: AMOUNT_MSAT,
        inbound_amount_msat: AMOUNT_MSAT + 1_010,
    }
}

fn intercepted(ready: Option<ChannelRef>) -> (HeldPayment, Vec<HoldEffect>) {
    HeldPayment::intercepted(NodeId(fake_key(3)), 42, htlc(), start(), HOLD_SECS, ready).expect("in range")
}

fn forward() -> HoldEffect {
    HoldEffect::Forward { channel: CHANNEL, amount_msat: AMOUNT_MSAT }
}

#[test]
fn an_online_client_is_forwarded_at_once_with_the_onion_amount_and_no_wake_up() {
    let (held, effects) = intercepted(Some(CHANNEL));
    assert_eq!(held.state, HoldState::Forwarded { channel: CHANNEL });
    assert_eq!(effects, [forward()]);
    assert!(held.is_terminal());
    assert_eq!(held.deadline(), None);
}

#[test]
fn an_offline_client_is_woken_and_the_htlc_held_until_hold_secs() {
    let (held, effects) = intercepted(None);
    assert_eq!(held.state, HoldState::Waiting);
    assert_eq!(effects, [HoldEffect::Notify]);
    assert_eq!(held.deadline(), Some(at(HOLD_SECS).now));
    assert!(!held.is_terminal());
}

#[test]
fn the_client_coming_back_forwards_it_once() {
    let (held, _) = intercepted(None);
    let (forwarded, effects) = held.step(&HoldInput::ClientReady { channel: CHANNEL }, at(10)).expect("step");
    assert_eq!(forwarded.state, HoldState::Forwarded { channel: CHANNEL });
    assert_eq!(effects, [forward()]);
    // Readiness seen again on the next tick forwards nothing more.
    let (again, effects) = forwarded.step(&HoldInput::ClientReady { channel: CHANNEL }, at(11)).expect("step");
    assert_eq!((again, effects), (forwarded, vec![]));
}

#[test]
fn ticks_before_hold_until_change_nothing_and_the_one_at_it_fails_back() {
    let (held, _) = intercepted(None);
    let (same, effects) = held.step(&HoldInput::Tick, at(HOLD_SECS - 1)).expect("step");
    assert_eq!((&same, effects.as_slice()), (&held, &[][..]));
    let (failed, effects) = held.step(&HoldInput::Tick, at(HOLD_SECS)).expect("step");
    assert_eq!(failed.state, HoldState::FailedBack { reason: HoldFailure::Timeout });
    assert_eq!(effects, [HoldEffect::Fail]);
    assert!(failed.is_terminal());
    // A late tick does not fail it twice.
    assert_eq!(failed.step(&HoldInput::Tick, at(HOLD_SECS + 5)).expect("step").1, []);
}

#[test]
fn a_refused_forward_waits_again_while_time_is_left_then_fails_back() {
    let (held, _) = intercepted(None);
    let (forwarded, _) = held.step(&HoldInput::ClientReady { channel: CHANNEL }, at(5)).expect("step");
    let (waiting, effects) = forwarded.step(&HoldInput::ForwardFailed, at(6)).expect("step");
    assert_eq!((waiting.state.clone(), effects), (HoldState::Waiting, vec![]));
    let (failed, effects) = forwarded.step(&HoldInput::ForwardFailed, at(HOLD_SECS)).expect("step");
    assert_eq!(failed.state, HoldState::FailedBack { reason: HoldFailure::Timeout });
    assert_eq!(effects, [HoldEffect::Fail]);
}

#[test]
fn replays_reissue_the_decision_and_change_nothing_while_waiting() {
    let (held, _) = intercepted(None);
    assert_eq!(held.step(&HoldInput::Replayed, at(1)).expect("step"), (held.clone(), vec![]));
    let (forwarded, _) = held.step(&HoldInput::ClientReady { channel: CHANNEL }, at(2)).expect("step");
    assert_eq!(forwarded.step(&HoldInput::Replayed, at(3)).expect("step"), (forwarded.clone(), vec![forward()]));
    let (failed, _) = held.step(&HoldInput::Tick, at(HOLD_SECS)).expect("step");
    assert_eq!(
        failed.step(&HoldInput::Replayed, at(HOLD_SECS + 1)).expect("step"),
        (failed.clone(), vec![HoldEffect::Fail])
    );
}

#[test]
fn a_refused_forward_of_an_htlc_never_forwarded_is_a_transition_error() {
    let (held, _) = intercepted(None);
    let error = held.step(&HoldInput::ForwardFailed, at(1)).expect_err("not forwarded");
    assert_eq!((error.state, error.input), ("waiting", "forward_failed"));
    let (failed, _) = held.step(&HoldInput::Tick, at(HOLD_SECS)).expect("step");
    assert!(failed.step(&HoldInput::ForwardFailed, at(HOLD_SECS)).is_err());
}

#[test]
fn a_hold_that_overflows_the_clock_is_refused() {
    let end = DateTime::from_unix_secs(253_402_300_799).expect("max");
    assert!(HeldPayment::intercepted(NodeId(fake_key(3)), 42, htlc(), end, u64::MAX, None).is_none());
}

#[test]
fn every_path_resolves_the_htlc_at_most_once_per_decision() {
    // Whatever the inputs, once forwarded or failed back the state never changes again.
    let inputs =
        [HoldInput::Tick, HoldInput::Replayed, HoldInput::ClientReady { channel: CHANNEL }, HoldInput::ForwardFailed];
    let (held, _) = intercepted(None);
    for first in &inputs {
        for second in &inputs {
            let Ok((after_first, _)) = held.step(first, at(HOLD_SECS)) else { continue };
            let Ok((after_second, effects)) = after_first.step(second, at(HOLD_SECS + 1)) else { continue };
            if after_first.is_terminal() && *second != HoldInput::ForwardFailed {
                assert_eq!(after_second.state, after_first.state, "{first:?} then {second:?}");
            }
            let resolutions =
                effects.iter().filter(|e| matches!(e, HoldEffect::Fail | HoldEffect::Forward { .. })).count();
            assert!(resolutions <= 1, "{first:?} then {second:?}: {effects:?}");
        }
    }
}

fn fake_key(n: u8) -> PublicKey {
    PublicKey::from_secret_key(&Secp256k1::new(), &SecretKey::from_slice(&[n; 32]).expect("valid key"))
}
