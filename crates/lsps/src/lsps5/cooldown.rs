//! The per-method notification cooldown (bLIP-55, "Rate limiting").
//!
//! While a client stays offline, the LSP must not send it the same notification method
//! (other than `lsps5.webhook_registered`) again within a cooldown "of the order of
//! minutes"; resetting the cooldown when the client comes online is suggested. [`Cooldown`]
//! is that policy as a pure, bounded, in-memory tracker:
//!
//! * key: (client, [`NotificationMethod`]); time is an argument;
//! * [`Cooldown::should_send`] answers and, when it says yes, records the send;
//! * [`Cooldown::client_connected`] forgets a client, so its next offline period starts fresh;
//! * at most `max_clients` clients are tracked; adding one more evicts the client whose last
//!   recorded send is the oldest. That client's cooldowns have expired unless the table is
//!   full of clients notified within the last cooldown, in which case eviction lets one
//!   extra notification through rather than growing without bound.
//!
//! The tracker is in-memory: after a restart every client may be notified once more, which
//! the spec's "cooldown" wording tolerates. (LDK uses one 60 s cooldown across all methods.)

use std::collections::BTreeMap;

use super::NotificationMethod;
use crate::schema::DateTime;

/// Our default cooldown: 5 minutes per method per client.
pub const DEFAULT_COOLDOWN_SECS: u64 = 300;

/// Our default bound on tracked clients (LDK tracks at most 100,000 peers per service).
pub const DEFAULT_MAX_TRACKED_CLIENTS: usize = 100_000;

/// What is remembered about one client.
#[derive(Clone, Debug)]
struct ClientEntry {
    /// When each method was last sent, indexed by [`NotificationMethod::index`].
    last_sent: [Option<DateTime>; NotificationMethod::ALL.len()],
    /// Position in the eviction order (larger is more recent).
    touched: u64,
}

/// Per-client, per-method notification cooldowns with a bounded client table.
///
/// `K` identifies a client, typically its node id.
#[derive(Clone, Debug)]
pub struct Cooldown<K: Ord + Clone> {
    cooldown_secs: u64,
    max_clients: usize,
    clients: BTreeMap<K, ClientEntry>,
    /// `touched` → client, oldest first.
    eviction_order: BTreeMap<u64, K>,
    next_touch: u64,
}

impl<K: Ord + Clone> Default for Cooldown<K> {
    fn default() -> Self {
        Cooldown::new(DEFAULT_COOLDOWN_SECS, DEFAULT_MAX_TRACKED_CLIENTS)
    }
}

impl<K: Ord + Clone> Cooldown<K> {
    /// A tracker with the given cooldown and client bound (a bound of 0 is treated as 1).
    pub fn new(cooldown_secs: u64, max_clients: usize) -> Cooldown<K> {
        Cooldown {
            cooldown_secs,
            max_clients: max_clients.max(1),
            clients: BTreeMap::new(),
            eviction_order: BTreeMap::new(),
            next_touch: 0,
        }
    }

    /// The cooldown, in seconds.
    pub fn cooldown_secs(&self) -> u64 {
        self.cooldown_secs
    }

    /// Whether `method` may be sent to `client`'s webhooks at `now`. A `true` answer is
    /// recorded as a send, so call this only when about to send.
    ///
    /// `webhook_registered` is always allowed and never recorded. If the clock went
    /// backwards past the last send, sending is allowed (and the earlier time recorded)
    /// rather than silencing the client until the clock catches up.
    pub fn should_send(&mut self, client: &K, method: NotificationMethod, now: DateTime) -> bool {
        if !method.has_cooldown() {
            return true;
        }
        if let Some(last) = self.clients.get(client).and_then(|entry| entry.last_sent[method.index()]) {
            let cooldown_millis = self.cooldown_secs.saturating_mul(1000);
            if now >= last && now.unix_millis() - last.unix_millis() < cooldown_millis {
                return false;
            }
        }
        self.record(client, method, now);
        true
    }

    /// The client connected: forget its cooldowns, so the next time it goes offline it can
    /// be notified at once.
    pub fn client_connected(&mut self, client: &K) {
        if let Some(entry) = self.clients.remove(client) {
            self.eviction_order.remove(&entry.touched);
        }
    }

    /// How many clients are tracked.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Whether no client is tracked.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    fn record(&mut self, client: &K, method: NotificationMethod, now: DateTime) {
        let touched = self.next_touch;
        self.next_touch += 1;
        if let Some(entry) = self.clients.get_mut(client) {
            self.eviction_order.remove(&entry.touched);
            entry.touched = touched;
            entry.last_sent[method.index()] = Some(now);
        } else {
            while self.clients.len() >= self.max_clients {
                let Some((_, oldest)) = self.eviction_order.pop_first() else { break };
                self.clients.remove(&oldest);
            }
            let mut last_sent = [None; NotificationMethod::ALL.len()];
            last_sent[method.index()] = Some(now);
            self.clients.insert(client.clone(), ClientEntry { last_sent, touched });
        }
        self.eviction_order.insert(touched, client.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> DateTime {
        DateTime::from_unix_secs(1_750_000_000 + secs).unwrap()
    }

    #[test]
    fn same_method_waits_for_the_cooldown() {
        let mut cooldown = Cooldown::new(300, 10);
        assert!(cooldown.should_send(&1, NotificationMethod::PaymentIncoming, at(0)));
        assert!(!cooldown.should_send(&1, NotificationMethod::PaymentIncoming, at(1)));
        assert!(!cooldown.should_send(&1, NotificationMethod::PaymentIncoming, at(299)));
        assert!(cooldown.should_send(&1, NotificationMethod::PaymentIncoming, at(300)));
        assert!(!cooldown.should_send(&1, NotificationMethod::PaymentIncoming, at(599)));
    }

    #[test]
    fn methods_and_clients_are_independent() {
        let mut cooldown = Cooldown::new(300, 10);
        assert!(cooldown.should_send(&1, NotificationMethod::PaymentIncoming, at(0)));
        assert!(cooldown.should_send(&1, NotificationMethod::OnionMessageIncoming, at(1)));
        assert!(cooldown.should_send(&1, NotificationMethod::ExpirySoon, at(2)));
        assert!(cooldown.should_send(&2, NotificationMethod::PaymentIncoming, at(3)));
        assert!(!cooldown.should_send(&1, NotificationMethod::OnionMessageIncoming, at(4)));
    }

    #[test]
    fn webhook_registered_is_exempt() {
        let mut cooldown = Cooldown::new(300, 10);
        for second in 0..5 {
            assert!(cooldown.should_send(&1, NotificationMethod::WebhookRegistered, at(second)));
        }
        assert!(cooldown.is_empty(), "exempt sends are not recorded");
    }

    #[test]
    fn reconnecting_resets_the_cooldown() {
        let mut cooldown = Cooldown::new(300, 10);
        assert!(cooldown.should_send(&1, NotificationMethod::PaymentIncoming, at(0)));
        cooldown.client_connected(&1);
        assert!(cooldown.is_empty());
        assert!(cooldown.should_send(&1, NotificationMethod::PaymentIncoming, at(10)));
        cooldown.client_connected(&7);
        assert_eq!(cooldown.len(), 1);
    }

    #[test]
    fn a_clock_that_went_back_does_not_silence_the_client() {
        let mut cooldown = Cooldown::new(300, 10);
        assert!(cooldown.should_send(&1, NotificationMethod::PaymentIncoming, at(1000)));
        assert!(cooldown.should_send(&1, NotificationMethod::PaymentIncoming, at(10)));
        assert!(!cooldown.should_send(&1, NotificationMethod::PaymentIncoming, at(20)));
    }

    #[test]
    fn the_table_is_bounded_and_evicts_the_stalest_client() {
        let mut cooldown = Cooldown::new(300, 3);
        for client in 0..3 {
            assert!(cooldown.should_send(&client, NotificationMethod::PaymentIncoming, at(client)));
        }
        // Client 0 sends again, so client 1 is now the stalest.
        assert!(cooldown.should_send(&0, NotificationMethod::ExpirySoon, at(10)));
        assert!(cooldown.should_send(&3, NotificationMethod::PaymentIncoming, at(11)));
        assert_eq!(cooldown.len(), 3);
        assert!(cooldown.should_send(&1, NotificationMethod::PaymentIncoming, at(12)), "1 was evicted");
        assert!(!cooldown.should_send(&0, NotificationMethod::PaymentIncoming, at(13)), "0 was kept");
        assert_eq!(cooldown.len(), 3);
        for client in 100..1000 {
            cooldown.should_send(&client, NotificationMethod::PaymentIncoming, at(20));
        }
        assert_eq!(cooldown.len(), 3);
        assert_eq!(cooldown.eviction_order.len(), 3);
    }

    #[test]
    fn a_zero_bound_still_works() {
        let mut cooldown = Cooldown::new(300, 0);
        assert!(cooldown.should_send(&1, NotificationMethod::PaymentIncoming, at(0)));
        assert!(!cooldown.should_send(&1, NotificationMethod::PaymentIncoming, at(1)));
        assert_eq!(Cooldown::<u8>::default().cooldown_secs(), DEFAULT_COOLDOWN_SECS);
    }
}
