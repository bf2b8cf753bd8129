//! A recording [`JitLightning`] for the service's unit tests: no LDK, every call logged.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};

use super::ops::{JitLightning, OpenRequest};
use super::session::{ChannelRef, InterceptRef};
use crate::intercept::InterceptOps;
use crate::OpsError;

/// One call the service made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Call {
    Fail(InterceptRef),
    Forward(InterceptRef, ChannelRef, u64),
    Open(OpenRequest),
    Broadcast(u128),
    Abandon(u128, bool),
    Close(ChannelRef, bool),
}

pub(crate) struct FakeLightning {
    pub calls: Mutex<Vec<Call>>,
    pub connected: Mutex<HashSet<PublicKey>>,
    pub held: Mutex<HashSet<InterceptRef>>,
    /// user_channel_id → (channel, client htlc minimum)
    pub channels: Mutex<HashMap<u128, (ChannelRef, u64)>>,
    pub spendable_sat: AtomicU64,
    pub fee_rate: AtomicU64,
    next_scid: AtomicU64,
    next_random: AtomicU64,
    pub refuse_opens: Mutex<bool>,
}

pub(crate) fn key(n: u8) -> PublicKey {
    PublicKey::from_secret_key(&Secp256k1::new(), &SecretKey::from_slice(&[n; 32]).expect("valid key"))
}

impl FakeLightning {
    pub fn new() -> FakeLightning {
        FakeLightning {
            calls: Mutex::new(Vec::new()),
            connected: Mutex::new(HashSet::new()),
            held: Mutex::new(HashSet::new()),
            channels: Mutex::new(HashMap::new()),
            spendable_sat: AtomicU64::new(10_000_000),
            fee_rate: AtomicU64::new(253),
            next_scid: AtomicU64::new(1 << 40),
            next_random: AtomicU64::new(1),
            refuse_opens: Mutex::new(false),
        }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("lock").clone()
    }

    pub fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().expect("lock"))
    }

    pub fn connect(&self, peer: PublicKey) {
        self.connected.lock().expect("lock").insert(peer);
    }

    pub fn disconnect(&self, peer: PublicKey) {
        self.connected.lock().expect("lock").remove(&peer);
    }

    pub fn hold(&self, htlc: InterceptRef) {
        self.held.lock().expect("lock").insert(htlc);
    }

    /// Makes the next SCID drawn be `scid` (to provoke collisions).
    pub fn repeat_scid(&self, scid: u64) {
        self.next_scid.store(scid, Ordering::SeqCst);
    }

    fn record(&self, call: Call) {
        self.calls.lock().expect("lock").push(call);
    }
}

impl InterceptOps for FakeLightning {
    fn new_intercept_scid(&self) -> u64 {
        self.next_scid.fetch_add(1, Ordering::SeqCst)
    }

    fn is_connected(&self, peer: &PublicKey) -> bool {
        self.connected.lock().expect("lock").contains(peer)
    }

    fn fail_htlc(&self, intercept_id: InterceptRef) -> Result<(), OpsError> {
        if !self.held.lock().expect("lock").remove(&intercept_id) {
            return Err(OpsError::NotFound);
        }
        self.record(Call::Fail(intercept_id));
        Ok(())
    }

    fn forward_htlc(
        &self,
        intercept_id: InterceptRef,
        channel: ChannelRef,
        _client: PublicKey,
        amount_msat: u64,
    ) -> Result<(), OpsError> {
        if !self.held.lock().expect("lock").remove(&intercept_id) {
            return Err(OpsError::NotFound);
        }
        self.record(Call::Forward(intercept_id, channel, amount_msat));
        Ok(())
    }
}

impl JitLightning for FakeLightning {
    fn promise_secret(&self) -> [u8; 32] {
        [42; 32]
    }

    fn random_u128(&self) -> u128 {
        u128::from(self.next_random.fetch_add(1, Ordering::SeqCst))
    }

    fn spendable_sat(&self) -> u64 {
        self.spendable_sat.load(Ordering::SeqCst)
    }

    fn fee_rate_sat_per_kwu(&self) -> u32 {
        u32::try_from(self.fee_rate.load(Ordering::SeqCst)).unwrap_or(u32::MAX)
    }

    fn has_channel(&self, user_channel_id: u128) -> bool {
        self.channels.lock().expect("lock").contains_key(&user_channel_id)
    }

    fn open_channel(&self, request: &OpenRequest) -> Result<(), OpsError> {
        if *self.refuse_opens.lock().expect("lock") {
            return Err(OpsError::Failed("refused".into()));
        }
        let channel = ChannelRef([u8::try_from(request.user_channel_id % 200).unwrap_or(0); 32]);
        self.channels.lock().expect("lock").insert(request.user_channel_id, (channel, 1));
        self.record(Call::Open(request.clone()));
        Ok(())
    }

    fn client_htlc_minimum_msat(&self, channel: ChannelRef) -> Option<u64> {
        self.channels.lock().expect("lock").values().find(|(c, _)| *c == channel).map(|(_, minimum)| *minimum)
    }

    fn user_channel_id_of(&self, channel: ChannelRef) -> Option<u128> {
        self.channels.lock().expect("lock").iter().find(|(_, (c, _))| *c == channel).map(|(uci, _)| *uci)
    }

    fn broadcast_funding(&self, user_channel_id: u128) -> Result<(), OpsError> {
        self.record(Call::Broadcast(user_channel_id));
        Ok(())
    }

    fn abandon_channel(&self, user_channel_id: u128, release_inputs: bool) -> Result<(), OpsError> {
        self.channels.lock().expect("lock").remove(&user_channel_id);
        self.record(Call::Abandon(user_channel_id, release_inputs));
        Ok(())
    }

    fn close_channel(&self, channel: ChannelRef, _client: PublicKey, force: bool) -> Result<(), OpsError> {
        self.record(Call::Close(channel, force));
        Ok(())
    }
}
