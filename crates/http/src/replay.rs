//! A bounded memory of the node-id proofs already used, so that each is accepted once.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Outcome of [`ReplayCache::insert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// First time: remembered until it expires.
    Fresh,
    /// Used before and not yet expired.
    Replayed,
    /// The cache is full of unexpired proofs: refuse for now.
    Full,
}

/// Proof keys with the Unix time after which they could not verify any more (their timestamp
/// plus the allowed skew), at most `capacity` of them.
pub(crate) struct ReplayCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    expiry: HashMap<[u8; 32], u64>,
    /// Keys in insertion order, for pruning.
    order: VecDeque<[u8; 32]>,
}

impl ReplayCache {
    pub(crate) fn new(capacity: usize) -> ReplayCache {
        ReplayCache { capacity, inner: Mutex::new(Inner::default()) }
    }

    /// Remembers `key` until `expires` (Unix seconds) unless it is there already. `now` drives
    /// pruning: entries whose expiry is past are forgotten (their proofs fail the clock check).
    pub(crate) fn insert(&self, key: [u8; 32], expires: u64, now: u64) -> Seen {
        let mut inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if inner.expiry.get(&key).is_some_and(|&expiry| expiry >= now) {
            return Seen::Replayed;
        }
        if inner.expiry.len() >= self.capacity {
            let Inner { expiry, order } = &mut *inner;
            expiry.retain(|_, at| *at >= now);
            order.retain(|key| expiry.contains_key(key));
            if expiry.len() >= self.capacity {
                return Seen::Full;
            }
        }
        if inner.expiry.insert(key, expires).is_none() {
            inner.order.push_back(key);
        }
        // Cheap incremental pruning from the old end.
        while let Some(oldest) = inner.order.front().copied() {
            match inner.expiry.get(&oldest) {
                Some(&at) if at < now => {
                    inner.expiry.remove(&oldest);
                    inner.order.pop_front();
                }
                _ => break,
            }
        }
        Seen::Fresh
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().expect("lock").expiry.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_replayed_full_and_pruned() {
        let cache = ReplayCache::new(2);
        assert_eq!(cache.insert([1; 32], 100, 0), Seen::Fresh);
        assert_eq!(cache.insert([1; 32], 100, 50), Seen::Replayed);
        assert_eq!(cache.insert([2; 32], 200, 50), Seen::Fresh);
        assert_eq!(cache.insert([3; 32], 200, 50), Seen::Full, "two unexpired proofs fill it");
        assert_eq!(cache.insert([3; 32], 200, 101), Seen::Fresh, "the first expired and made room");
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.insert([1; 32], 300, 101), Seen::Full);
        assert_eq!(cache.insert([9; 32], 400, 201), Seen::Fresh);
        assert_eq!(cache.len(), 1, "both expired entries are gone");
    }
}
