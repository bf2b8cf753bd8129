//! Accounting of in-flight requests: a per-peer and a total cap.
//!
//! A request holds a [`PendingSlot`] from the moment it is handed to a protocol handler until
//! its answer has been queued (or dropped). Dropping the slot frees it, so a handler that panics
//! or a task that is cancelled cannot leak one.
//!
//! A peer has an entry only while it has requests in flight, so the table never holds more
//! than `max_pending_total` entries. A peer that disconnects keeps its in-flight slots until its
//! handlers return: the handlers still run and still cost, and freeing the slots early would let
//! a peer exceed its cap by reconnecting.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use bitcoin::secp256k1::PublicKey;

/// Which cap refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The peer already has `max_pending_per_peer` requests in flight.
    PeerCap,
    /// All peers together have `max_pending_total` requests in flight.
    TotalCap,
}

#[derive(Default)]
struct Table {
    per_peer: HashMap<PublicKey, usize>,
    total: usize,
    peak_total: usize,
}

/// The in-flight request counts, shared by the server and its tasks.
pub(crate) struct PendingTable {
    max_per_peer: usize,
    max_total: usize,
    table: Mutex<Table>,
}

impl PendingTable {
    pub(crate) fn new(max_per_peer: usize, max_total: usize) -> Arc<PendingTable> {
        Arc::new(PendingTable { max_per_peer, max_total, table: Mutex::new(Table::default()) })
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // A panic while holding this lock cannot leave the counts half-updated (each update is
        // one statement), so a poisoned lock is still consistent.
        self.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes a slot for one request of `peer`, or says which cap is reached.
    pub(crate) fn try_reserve(self: &Arc<Self>, peer: PublicKey) -> Result<PendingSlot, Refusal> {
        let mut table = self.lock();
        if table.total >= self.max_total {
            return Err(Refusal::TotalCap);
        }
        let count = table.per_peer.get(&peer).copied().unwrap_or(0);
        if count >= self.max_per_peer {
            return Err(Refusal::PeerCap);
        }
        table.per_peer.insert(peer, count + 1);
        table.total += 1;
        table.peak_total = table.peak_total.max(table.total);
        Ok(PendingSlot { table: Arc::clone(self), peer })
    }

    fn release(&self, peer: &PublicKey) {
        let mut table = self.lock();
        table.total = table.total.saturating_sub(1);
        match table.per_peer.get_mut(peer) {
            Some(count) if *count > 1 => *count -= 1,
            Some(_) => {
                table.per_peer.remove(peer);
            }
            None => debug_assert!(false, "released a slot that was never reserved"),
        }
    }

    /// In-flight requests over all peers.
    pub(crate) fn total(&self) -> usize {
        self.lock().total
    }

    /// The highest `total` ever reached.
    pub(crate) fn peak_total(&self) -> usize {
        self.lock().peak_total
    }

    /// In-flight requests of `peer`.
    pub(crate) fn for_peer(&self, peer: &PublicKey) -> usize {
        self.lock().per_peer.get(peer).copied().unwrap_or(0)
    }

    /// Peers with at least one request in flight.
    pub(crate) fn peers(&self) -> usize {
        self.lock().per_peer.len()
    }
}

/// One in-flight request. Dropping it frees the slot.
pub(crate) struct PendingSlot {
    table: Arc<PendingTable>,
    peer: PublicKey,
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        self.table.release(&self.peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn peer(byte: u8) -> PublicKey {
        let secp = bitcoin::secp256k1::Secp256k1::signing_only();
        let secret = bitcoin::secp256k1::SecretKey::from_slice(&[byte; 32]).expect("valid key");
        PublicKey::from_secret_key(&secp, &secret)
    }

    #[test]
    fn caps_per_peer_and_in_total() {
        let table = PendingTable::new(2, 3);
        let (alice, bob) = (peer(1), peer(2));
        let a1 = table.try_reserve(alice).expect("a1");
        let _a2 = table.try_reserve(alice).expect("a2");
        assert_eq!(table.try_reserve(alice).err(), Some(Refusal::PeerCap));
        let _b1 = table.try_reserve(bob).expect("b1");
        assert_eq!(table.try_reserve(bob).err(), Some(Refusal::TotalCap));
        assert_eq!((table.total(), table.for_peer(&alice), table.peers()), (3, 2, 2));
        drop(a1);
        assert_eq!((table.total(), table.for_peer(&alice)), (2, 1));
        let _b2 = table.try_reserve(bob).expect("b2 after a1 freed its slot");
        assert_eq!(table.peak_total(), 3);
    }

    #[test]
    fn entries_disappear_with_their_last_slot() {
        let table = PendingTable::new(5, 5);
        let slots: Vec<PendingSlot> = (0..3).map(|_| table.try_reserve(peer(9)).expect("slot")).collect();
        assert_eq!(table.peers(), 1);
        drop(slots);
        assert_eq!((table.total(), table.peers(), table.for_peer(&peer(9))), (0, 0, 0));
    }

    #[test]
    fn zero_caps_refuse_everything() {
        let table = PendingTable::new(0, 10);
        assert_eq!(table.try_reserve(peer(1)).err(), Some(Refusal::PeerCap));
        let table = PendingTable::new(10, 0);
        assert_eq!(table.try_reserve(peer(1)).err(), Some(Refusal::TotalCap));
    }
}
