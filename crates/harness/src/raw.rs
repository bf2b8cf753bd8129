//! [`RawLsps`]: an LSPS0 handler that parses nothing and records everything, so a test can
//! play a misbehaving client or LSP with raw type-37913 payloads.

use std::sync::Mutex;
use std::time::Duration;

use bitcoin::secp256k1::PublicKey;
use inbound_node::LspsMessageHandler;

use crate::wait::{wait_until, HarnessResult};

/// Most payloads a [`RawLsps`] keeps; older ones are dropped (and counted) beyond it.
pub const MAX_RECORDED_PAYLOADS: usize = 100_000;

#[derive(Default)]
struct Recorded {
    messages: Vec<(PublicKey, Vec<u8>)>,
    dropped: usize,
    connected: Vec<(PublicKey, bool)>,
    disconnected: Vec<PublicKey>,
}

/// Records every LSPS0 callback. Send through the node
/// ([`Node::send_lsps_message`](inbound_node::Node::send_lsps_message)).
#[derive(Default)]
pub struct RawLsps {
    recorded: Mutex<Recorded>,
}

impl RawLsps {
    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.recorded.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every payload received so far, oldest first, with its sender.
    pub fn messages(&self) -> Vec<(PublicKey, Vec<u8>)> {
        self.lock().messages.clone()
    }

    /// Number of payloads received (recorded or dropped).
    pub fn count(&self) -> usize {
        let recorded = self.lock();
        recorded.messages.len() + recorded.dropped
    }

    /// The `index`th payload received (0-based), if still recorded.
    pub fn payload(&self, index: usize) -> Option<Vec<u8>> {
        let recorded = self.lock();
        index.checked_sub(recorded.dropped).and_then(|i| recorded.messages.get(i)).map(|(_, payload)| payload.clone())
    }

    /// Waits until `count` payloads have been received in total.
    pub async fn wait_for_count(&self, count: usize, timeout: Duration) -> HarnessResult<()> {
        wait_until(&format!("{count} raw LSPS0 payloads"), timeout, || self.count() >= count).await
    }

    /// Whether `peer` connected at least once, and whether it set feature bit 729 last time.
    pub fn connected_as(&self, peer: &PublicKey) -> Option<bool> {
        self.lock().connected.iter().rev().find(|(p, _)| p == peer).map(|(_, advertises)| *advertises)
    }

    /// How many times `peer` disconnected.
    pub fn disconnects(&self, peer: &PublicKey) -> usize {
        self.lock().disconnected.iter().filter(|p| *p == peer).count()
    }
}

impl LspsMessageHandler for RawLsps {
    fn handle(&self, peer: PublicKey, payload: Vec<u8>) {
        let mut recorded = self.lock();
        if recorded.messages.len() >= MAX_RECORDED_PAYLOADS {
            recorded.messages.remove(0);
            recorded.dropped += 1;
        }
        recorded.messages.push((peer, payload));
    }

    fn peer_connected(&self, peer: PublicKey, peer_advertises_lsps: bool) {
        self.lock().connected.push((peer, peer_advertises_lsps));
    }

    fn peer_disconnected(&self, peer: PublicKey) {
        self.lock().disconnected.push(peer);
    }
}
