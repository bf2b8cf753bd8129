//! A recording [`OrderLightning`] for unit tests: no LDK, every call logged.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::Network;

use super::ops::{OrderLightning, OrderOpen, Receipt};
use crate::OpsError;

/// One call the service made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Call {
    Invoice([u8; 32], u64),
    Claim([u8; 32]),
    Fail([u8; 32]),
    Open(OrderOpen),
    BuildRefund(String, u64),
    Broadcast(String),
    Close(u128),
    Bump(String, u32),
    Connect(PublicKey, String, bool),
}

pub(crate) fn key(n: u8) -> PublicKey {
    PublicKey::from_secret_key(&Secp256k1::new(), &SecretKey::from_slice(&[n; 32]).expect("valid key"))
}

pub(crate) struct FakeNode {
    pub calls: Mutex<Vec<Call>>,
    pub connected: Mutex<HashSet<PublicKey>>,
    pub receipts: Mutex<HashMap<String, Receipt>>,
    pub channels: Mutex<HashSet<u128>>,
    pub height: AtomicU32,
    pub refuse_opens: Mutex<bool>,
    pub refuse_refunds: Mutex<bool>,
    pub network: Mutex<Network>,
    pub busy: Mutex<bool>,
    pub confirmations: Mutex<HashMap<String, u32>>,
    /// Broadcasts that fail (counting down) before they succeed again.
    pub failing_broadcasts: AtomicU32,
    /// Every broadcast attempt, failed or not.
    pub broadcast_attempts: AtomicU32,
    next: AtomicU64,
}

impl FakeNode {
    pub fn new() -> FakeNode {
        FakeNode {
            calls: Mutex::new(Vec::new()),
            connected: Mutex::new(HashSet::new()),
            receipts: Mutex::new(HashMap::new()),
            channels: Mutex::new(HashSet::new()),
            height: AtomicU32::new(1_000),
            refuse_opens: Mutex::new(false),
            refuse_refunds: Mutex::new(false),
            network: Mutex::new(Network::Regtest),
            busy: Mutex::new(false),
            confirmations: Mutex::new(HashMap::new()),
            failing_broadcasts: AtomicU32::new(0),
            broadcast_attempts: AtomicU32::new(0),
            next: AtomicU64::new(1),
        }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("lock").clone()
    }

    pub fn connect(&self, peer: PublicKey) {
        self.connected.lock().expect("lock").insert(peer);
    }

    pub fn pay_onchain(&self, address: &str, received_sat: u64, confirmations: u32) {
        self.receipts
            .lock()
            .expect("lock")
            .insert(address.to_owned(), Receipt { received_sat, confirmations: Some(confirmations) });
    }

    fn record(&self, call: Call) {
        self.calls.lock().expect("lock").push(call);
    }
}

impl OrderLightning for FakeNode {
    fn random_bytes(&self) -> [u8; 32] {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let mut bytes = [7u8; 32];
        bytes[..8].copy_from_slice(&n.to_be_bytes());
        bytes
    }

    fn network(&self) -> Network {
        *self.network.lock().expect("lock")
    }

    fn height(&self) -> u32 {
        self.height.load(Ordering::SeqCst)
    }

    fn fee_rate_sat_per_kwu(&self) -> u32 {
        253
    }

    fn is_connected(&self, peer: &PublicKey) -> bool {
        self.connected.lock().expect("lock").contains(peer)
    }

    fn create_hold_invoice(&self, hash: [u8; 32], amount_msat: u64, _: u32, _: u16) -> Result<String, OpsError> {
        self.record(Call::Invoice(hash, amount_msat));
        Ok(format!("lnbcrt{amount_msat}fake"))
    }

    fn claim_payment(&self, preimage: [u8; 32]) {
        self.record(Call::Claim(preimage));
    }

    fn fail_payment(&self, payment_hash: [u8; 32]) {
        self.record(Call::Fail(payment_hash));
    }

    fn new_address(&self) -> Result<String, OpsError> {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        // Distinct valid regtest P2WPKH addresses.
        let mut program = [0u8; 20];
        program[..8].copy_from_slice(&n.to_be_bytes());
        let script = bitcoin::ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array(program));
        let address =
            bitcoin::Address::from_script(&script, Network::Regtest).map_err(|e| OpsError::Failed(e.to_string()))?;
        Ok(address.to_string())
    }

    fn received_to(&self, address: &str) -> Receipt {
        self.receipts.lock().expect("lock").get(address).copied().unwrap_or_default()
    }

    fn has_channel(&self, user_channel_id: u128) -> bool {
        self.channels.lock().expect("lock").contains(&user_channel_id)
    }

    fn open_channel(&self, request: &OrderOpen) -> Result<(), OpsError> {
        if *self.refuse_opens.lock().expect("lock") || !self.is_connected(&request.client) {
            return Err(OpsError::Failed("refused".into()));
        }
        self.channels.lock().expect("lock").insert(request.user_channel_id);
        self.record(Call::Open(request.clone()));
        Ok(())
    }

    fn build_refund(&self, address: &str, amount_sat: u64, _: u32) -> Result<(String, String), OpsError> {
        if *self.refuse_refunds.lock().expect("lock") {
            return Err(OpsError::Failed("no funds".into()));
        }
        self.record(Call::BuildRefund(address.to_owned(), amount_sat));
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        Ok((format!("{n:064x}"), format!("tx{n}")))
    }

    fn broadcast(&self, tx_hex: &str) -> Result<(), OpsError> {
        self.broadcast_attempts.fetch_add(1, Ordering::SeqCst);
        let failing = self.failing_broadcasts.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if failing.is_ok() {
            return Err(OpsError::Failed("chain backend unreachable".into()));
        }
        self.record(Call::Broadcast(tx_hex.to_owned()));
        Ok(())
    }

    fn tx_confirmations(&self, txid: &str) -> Option<u32> {
        Some(self.confirmations.lock().expect("lock").get(txid).copied().unwrap_or(0))
    }

    fn bump_refund(&self, txid: &str, fee_rate: u32) -> Result<(String, String), OpsError> {
        self.record(Call::Bump(txid.to_owned(), fee_rate));
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        Ok((format!("{n:064x}"), format!("tx{n}")))
    }

    fn close_if_idle(&self, user_channel_id: u128) -> Result<bool, OpsError> {
        if *self.busy.lock().expect("lock") {
            return Ok(false);
        }
        self.record(Call::Close(user_channel_id));
        Ok(true)
    }

    fn connect_in_background(&self, peer: &PublicKey, address: &str, allow_private: bool) {
        self.record(Call::Connect(*peer, address.to_owned(), allow_private));
    }
}
