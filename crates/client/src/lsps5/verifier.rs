//! [`NotificationVerifier`]: what a push relay runs on every webhook POST before waking a
//! device.
//!
//! On top of [`verify_webhook_request_detailed`] (headers, freshness window, the LSP's
//! signature over the verbatim timestamp header and the raw body, the JSON) it keeps a replay
//! cache: the SHA-256 of every signed message accepted within the freshness window. A POST
//! whose signed message was accepted before is refused as [`NotificationRejected::Replayed`],
//! so an eavesdropper who captured one POST cannot make the device wake twice. Entries older
//! than the window leave the cache (such a POST fails the freshness check anyway), and the
//! cache holds at most `capacity` entries, dropping the oldest first: a flood would need the
//! LSP's key, since only signed POSTs are cached.

use std::collections::{BTreeSet, HashSet};
use std::sync::Mutex;
use std::time::SystemTime;

use bitcoin::hashes::{sha256, Hash};
use bitcoin::secp256k1::PublicKey;
use lsps::lsps5::{
    signing_message, verify_webhook_request_detailed, Notification, WebhookVerifyError, DEFAULT_MAX_SKEW_SECS,
};
use lsps::schema::DateTime;

/// Default size of the replay cache: far more notifications than one LSP sends one relay in
/// [`DEFAULT_MAX_SKEW_SECS`] twice over, at 40 bytes an entry.
pub const DEFAULT_REPLAY_CACHE_ENTRIES: usize = 65_536;

/// Why a POST must not wake the device.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotificationRejected {
    /// Headers, timestamp, signature or body are wrong (see [`WebhookVerifyError`]).
    #[error(transparent)]
    Invalid(#[from] WebhookVerifyError),
    /// This exact signed notification was accepted before.
    #[error("this notification was accepted once already (a replay)")]
    Replayed,
}

/// A notification that passed every check, once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedNotification {
    /// What the LSP says happened.
    pub notification: Notification,
    /// When the LSP signed it (its timestamp header).
    pub sent_at: DateTime,
}

/// Verifies webhook POSTs from one LSP; see the module documentation. Shared by reference
/// between the relay's request handlers (it locks a small cache per call).
pub struct NotificationVerifier {
    lsp: PublicKey,
    max_skew_secs: u64,
    capacity: usize,
    seen: Mutex<ReplayCache>,
}

#[derive(Default)]
struct ReplayCache {
    digests: HashSet<[u8; 32]>,
    /// The same digests by the time they were signed, oldest first.
    by_time: BTreeSet<(DateTime, [u8; 32])>,
}

impl NotificationVerifier {
    /// A verifier for POSTs signed by `lsp` (the LSP's node id), with the default window
    /// ([`DEFAULT_MAX_SKEW_SECS`], either way) and cache size
    /// ([`DEFAULT_REPLAY_CACHE_ENTRIES`]).
    pub fn new(lsp: PublicKey) -> NotificationVerifier {
        NotificationVerifier::with_limits(lsp, DEFAULT_MAX_SKEW_SECS, DEFAULT_REPLAY_CACHE_ENTRIES)
    }

    /// A verifier with its own freshness window (seconds, either way) and cache size (at
    /// least one entry).
    pub fn with_limits(lsp: PublicKey, max_skew_secs: u64, capacity: usize) -> NotificationVerifier {
        NotificationVerifier { lsp, max_skew_secs, capacity: capacity.max(1), seen: Mutex::default() }
    }

    /// The LSP whose signatures this verifier accepts.
    pub fn lsp(&self) -> PublicKey {
        self.lsp
    }

    /// [`verify_at`](Self::verify_at) with the system clock.
    ///
    /// # Errors
    /// See [`verify_at`](Self::verify_at); a system clock before 1970 counts as 1970.
    pub fn verify<I, N, V>(&self, headers: I, body: &[u8]) -> Result<VerifiedNotification, NotificationRejected>
    where
        I: IntoIterator<Item = (N, V)>,
        N: AsRef<str>,
        V: AsRef<str>,
    {
        let millis = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX));
        let now = DateTime::from_unix_millis(millis).unwrap_or(DateTime::UNIX_EPOCH);
        self.verify_at(headers, body, now)
    }

    /// Checks one POST (`headers` as received, names in any case; `body` the raw bytes) at
    /// `now`, and records it so that the same POST is refused from then on.
    ///
    /// # Errors
    /// [`NotificationRejected::Invalid`] when the POST fails bLIP-55's checks,
    /// [`NotificationRejected::Replayed`] when it passed them before.
    pub fn verify_at<I, N, V>(
        &self,
        headers: I,
        body: &[u8],
        now: DateTime,
    ) -> Result<VerifiedNotification, NotificationRejected>
    where
        I: IntoIterator<Item = (N, V)>,
        N: AsRef<str>,
        V: AsRef<str>,
    {
        let verified = verify_webhook_request_detailed(headers, body, &self.lsp, now, self.max_skew_secs)?;
        let digest = sha256::Hash::hash(&signing_message(&verified.timestamp, body)).to_byte_array();
        let mut seen = self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        seen.forget_before(now, self.max_skew_secs);
        if !seen.digests.insert(digest) {
            return Err(NotificationRejected::Replayed);
        }
        seen.by_time.insert((verified.sent_at, digest));
        while seen.digests.len() > self.capacity {
            match seen.by_time.pop_first() {
                Some((_, oldest)) => seen.digests.remove(&oldest),
                None => break,
            };
        }
        Ok(VerifiedNotification { notification: verified.notification, sent_at: verified.sent_at })
    }

    /// Entries in the replay cache.
    pub fn cached(&self) -> usize {
        self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).digests.len()
    }
}

impl ReplayCache {
    /// Drops entries signed more than the window before `now`: the freshness check refuses
    /// those POSTs already.
    fn forget_before(&mut self, now: DateTime, max_skew_secs: u64) {
        let cutoff_millis = now.unix_millis().saturating_sub(max_skew_secs.saturating_mul(1000));
        while let Some((sent_at, digest)) = self.by_time.first().copied() {
            if sent_at.unix_millis() >= cutoff_millis {
                break;
            }
            self.by_time.pop_first();
            self.digests.remove(&digest);
        }
    }
}
