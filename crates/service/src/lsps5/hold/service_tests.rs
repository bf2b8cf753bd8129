//! [`HoldService`] on a fake node and notifier: hold SCIDs, forwarding, holding, timeouts,
//! replays and caps, through the kernel and a real (in-memory SQLite) store.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use lsps::hold::NO_CHANNEL_CODE;
use lsps::lsps5::Notification;

use super::ops::{ChannelChoice, ForwardingTerms, HoldNode};
use super::payment::HoldState;
use super::service::{held_id, HoldService, MAX_HELD_HTLCS_PER_CLIENT};
use crate::ids::{ChannelRef, InterceptRef, PaymentHashRef};
use crate::intercept::{HeldHtlc, InterceptOps};
use crate::notify::ClientNotifier;
use crate::server::BoxFuture;
use crate::{ManualClock, OpsError};

const HOLD_SECS: u64 = 60;
const AMOUNT_MSAT: u64 = 5_000_000;
const CHANNEL: ChannelRef = ChannelRef([9; 32]);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Call {
    Forward(InterceptRef, ChannelRef, u64),
    Fail(InterceptRef),
}

#[derive(Default)]
struct FakeNode {
    calls: Mutex<Vec<Call>>,
    held: Mutex<HashSet<InterceptRef>>,
    channels: Mutex<HashMap<PublicKey, ChannelChoice>>,
    next_scid: AtomicU64,
}

impl FakeNode {
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("lock").clone()
    }
    fn set(&self, client: PublicKey, choice: ChannelChoice) {
        self.channels.lock().expect("lock").insert(client, choice);
    }
}

impl InterceptOps for FakeNode {
    fn new_intercept_scid(&self) -> u64 {
        (1 << 40) + self.next_scid.fetch_add(1, Ordering::SeqCst)
    }
    fn is_connected(&self, peer: &PublicKey) -> bool {
        matches!(self.channels.lock().expect("lock").get(peer), Some(ChannelChoice::Ready(_)))
    }
    fn fail_htlc(&self, intercept_id: InterceptRef) -> Result<(), OpsError> {
        if !self.held.lock().expect("lock").remove(&intercept_id) {
            return Err(OpsError::NotFound);
        }
        self.calls.lock().expect("lock").push(Call::Fail(intercept_id));
        Ok(())
    }
    fn forward_htlc(&self, id: InterceptRef, channel: ChannelRef, _: PublicKey, amount: u64) -> Result<(), OpsError> {
        if !self.held.lock().expect("lock").remove(&id) {
            return Err(OpsError::NotFound);
        }
        self.calls.lock().expect("lock").push(Call::Forward(id, channel, amount));
        Ok(())
    }
}

impl HoldNode for FakeNode {
    fn has_channel_with(&self, client: &PublicKey) -> bool {
        self.channels.lock().expect("lock").contains_key(client)
    }
    fn channel_for(&self, client: &PublicKey, _amount_msat: u64) -> ChannelChoice {
        self.channels.lock().expect("lock").get(client).copied().unwrap_or(ChannelChoice::Unusable)
    }
    fn forwarding_terms(&self, _client: &PublicKey) -> Option<ForwardingTerms> {
        Some(ForwardingTerms { fee_base_msat: 1000, fee_proportional_millionths: 100, cltv_expiry_delta: 80 })
    }
}

#[derive(Default)]
struct FakeNotifier(Mutex<Vec<(PublicKey, Notification)>>);

impl ClientNotifier for FakeNotifier {
    fn notify(&self, client: PublicKey, notification: Notification) -> BoxFuture<'static, Result<(), String>> {
        self.0.lock().expect("lock").push((client, notification));
        Box::pin(async { Ok(()) })
    }
}

fn key(n: u8) -> PublicKey {
    PublicKey::from_secret_key(&Secp256k1::new(), &SecretKey::from_slice(&[n; 32]).expect("valid key"))
}

fn htlc(n: u8) -> HeldHtlc {
    HeldHtlc {
        intercept_id: InterceptRef([n; 32]),
        payment_hash: PaymentHashRef([n; 32]),
        expected_outbound_amount_msat: AMOUNT_MSAT,
        inbound_amount_msat: AMOUNT_MSAT + 1_500,
    }
}

struct Setup {
    service: Arc<HoldService>,
    node: Arc<FakeNode>,
    notifier: Arc<FakeNotifier>,
    clock: Arc<ManualClock>,
    client: PublicKey,
    scid: u64,
}

impl Setup {
    async fn intercept(&self, n: u8) -> bool {
        self.node.held.lock().expect("lock").insert(InterceptRef([n; 32]));
        self.service.on_intercepted(self.scid, htlc(n)).await.expect("store")
    }
}

/// A service whose client has a hold SCID and a channel in state `choice`.
async fn setup(choice: ChannelChoice) -> Setup {
    let store = inbound_store::open("sqlite::memory:").await.expect("store");
    let clock = Arc::new(ManualClock::starting_now());
    let service = HoldService::new(HOLD_SECS, store, Arc::clone(&clock) as Arc<dyn crate::Clock>);
    let node = Arc::new(FakeNode::default());
    let notifier = Arc::new(FakeNotifier::default());
    service.attach(Arc::clone(&node) as Arc<dyn HoldNode>);
    service.set_notifier(Arc::clone(&notifier) as Arc<dyn ClientNotifier>);
    let client = key(1);
    node.set(client, choice);
    let scid = service.hold_scid(client).await.expect("hold scid").hold_scid.0;
    Setup { service, node, notifier, clock, client, scid }
}

#[tokio::test]
async fn the_hold_scid_needs_a_channel_and_stays_the_same_across_restarts() {
    let store = inbound_store::open("sqlite::memory:").await.expect("store");
    let clock: Arc<dyn crate::Clock> = Arc::new(ManualClock::starting_now());
    let node = Arc::new(FakeNode::default());
    let service = HoldService::new(HOLD_SECS, Arc::clone(&store), Arc::clone(&clock));
    service.attach(Arc::clone(&node) as Arc<dyn HoldNode>);
    let refused = service.hold_scid(key(1)).await.expect_err("no channel");
    assert_eq!(refused.code, NO_CHANNEL_CODE);
    node.set(key(1), ChannelChoice::Unusable);
    node.set(key(2), ChannelChoice::Unusable);
    let first = service.hold_scid(key(1)).await.expect("scid");
    assert_eq!((first.fee_base_msat, first.fee_proportional_millionths, first.cltv_expiry_delta), (1000, 100, 80));
    assert_eq!(first.hold_secs, HOLD_SECS);
    assert_eq!(service.hold_scid(key(1)).await.expect("scid"), first);
    assert_ne!(service.hold_scid(key(2)).await.expect("scid").hold_scid, first.hold_scid);
    let restarted = HoldService::new(HOLD_SECS, store, clock);
    restarted.attach(Arc::clone(&node) as Arc<dyn HoldNode>);
    assert_eq!(restarted.hold_scid(key(1)).await.expect("scid").hold_scid, first.hold_scid);
}

#[tokio::test]
async fn an_htlc_to_an_unknown_scid_is_left_to_the_next_handler() {
    let setup = setup(ChannelChoice::Ready(CHANNEL)).await;
    assert!(!setup.service.on_intercepted(setup.scid + 1000, htlc(1)).await.expect("store"));
    assert_eq!(setup.node.calls(), []);
}

#[tokio::test]
async fn a_connected_client_is_forwarded_at_once_without_a_wake_up() {
    let setup = setup(ChannelChoice::Ready(CHANNEL)).await;
    assert!(setup.intercept(1).await);
    assert_eq!(setup.node.calls(), [Call::Forward(InterceptRef([1; 32]), CHANNEL, AMOUNT_MSAT)]);
    assert!(setup.notifier.0.lock().expect("lock").is_empty());
    assert_eq!(setup.service.waiting(), 0);
}

#[tokio::test]
async fn an_offline_client_is_woken_held_and_forwarded_once_when_it_comes_back() {
    let setup = setup(ChannelChoice::Unusable).await;
    assert!(setup.intercept(1).await);
    assert_eq!(*setup.notifier.0.lock().expect("lock"), [(setup.client, Notification::PaymentIncoming)]);
    assert_eq!(setup.node.calls(), []);
    setup.service.tick().await.expect("tick");
    assert_eq!(setup.node.calls(), [], "still offline");
    setup.clock.advance(10);
    setup.node.set(setup.client, ChannelChoice::Ready(CHANNEL));
    setup.service.tick().await.expect("tick");
    setup.service.tick().await.expect("tick");
    // LDK replays the HTLC after a restart: not forwarded twice, not notified twice.
    assert!(setup.service.on_intercepted(setup.scid, htlc(1)).await.expect("store"));
    assert_eq!(setup.node.calls(), [Call::Forward(InterceptRef([1; 32]), CHANNEL, AMOUNT_MSAT)]);
    assert_eq!(setup.notifier.0.lock().expect("lock").len(), 1);
    let held = setup.service.held(&held_id(&htlc(1))).await.expect("store").expect("stored");
    assert_eq!(held.state, HoldState::Forwarded { channel: CHANNEL });
}

#[tokio::test]
async fn a_client_that_never_returns_is_failed_back_at_hold_secs() {
    let setup = setup(ChannelChoice::Unusable).await;
    assert!(setup.intercept(1).await);
    setup.clock.advance(HOLD_SECS - 1);
    setup.service.tick().await.expect("tick");
    assert_eq!(setup.node.calls(), []);
    setup.clock.advance(1);
    setup.service.tick().await.expect("tick");
    assert_eq!(setup.node.calls(), [Call::Fail(InterceptRef([1; 32]))]);
    assert_eq!(setup.service.waiting(), 0);
    // Coming back later forwards nothing.
    setup.node.set(setup.client, ChannelChoice::Ready(CHANNEL));
    setup.service.tick().await.expect("tick");
    assert_eq!(setup.node.calls().len(), 1);
}

#[tokio::test]
async fn a_restarted_service_still_holds_and_forwards() {
    let setup = setup(ChannelChoice::Unusable).await;
    assert!(setup.intercept(1).await);
    let store = setup.service.flows_store();
    let restarted = HoldService::new(HOLD_SECS, store, Arc::clone(&setup.clock) as Arc<dyn crate::Clock>);
    restarted.attach(Arc::clone(&setup.node) as Arc<dyn HoldNode>);
    assert_eq!(restarted.resume().await.expect("resume"), 1);
    assert_eq!(restarted.waiting(), 1);
    setup.node.set(setup.client, ChannelChoice::Ready(CHANNEL));
    restarted.tick().await.expect("tick");
    assert_eq!(setup.node.calls(), [Call::Forward(InterceptRef([1; 32]), CHANNEL, AMOUNT_MSAT)]);
}

#[tokio::test]
async fn over_the_per_client_cap_and_without_room_on_the_channel_htlcs_fail_at_once() {
    let setup = setup(ChannelChoice::Unusable).await;
    let cap = u8::try_from(MAX_HELD_HTLCS_PER_CLIENT).expect("small cap");
    for n in 1..=cap {
        assert!(setup.intercept(n).await);
    }
    assert_eq!(setup.node.calls(), []);
    assert!(setup.intercept(cap + 1).await);
    assert_eq!(setup.node.calls(), [Call::Fail(InterceptRef([cap + 1; 32]))]);
    assert_eq!(setup.service.waiting(), usize::from(cap));

    let small = self::setup(ChannelChoice::TooSmall).await;
    assert!(small.intercept(1).await);
    assert_eq!(small.node.calls(), [Call::Fail(InterceptRef([1; 32]))]);
}
