//! The wallet's open JIT purchases: what was agreed with which LSP for which payment hash, and
//! the two decisions that depend on it — accepting the LSP's 0-conf channel and judging the fee
//! the LSP skimmed off the payment.
//!
//! The registry is bounded ([`Lsps2ClientConfig::max_open_purchases`]; expired purchases are
//! pruned whenever one is added) and, when opened with [`PurchaseRegistry::open`], durable: every
//! change is written to a [`PurchaseFile`] before the call returns, so a wallet restarted between
//! `lsps2.buy` and the payment still accepts the LSP's channel and the skimmed payment.
//! [`PurchaseRegistry::new`] makes an in-memory registry (tests).
//!
//! [`Lsps2ClientConfig::max_open_purchases`]: super::Lsps2ClientConfig::max_open_purchases

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use bitcoin::secp256k1::PublicKey;
use lightning::types::payment::PaymentHash;
use lsps::lsps2::{opening_fee_msat, OpeningFeeParams};
use lsps::schema::{DateTime, Scid};
use tracing::warn;

use super::purchase_file::{PurchaseFile, PurchaseFileError};

/// What the wallet agreed to pay for one JIT channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgreedFee {
    /// MPP + fixed-amount invoice: the payment size and the fee computed at `buy` time.
    Fixed {
        /// The invoice amount (`payment_size_msat` sent in `lsps2.buy`).
        payment_size_msat: u64,
        /// The opening fee for that size.
        opening_fee_msat: u64,
    },
    /// No-MPP + variable-amount invoice: the fee is computed from the amount that arrives, and
    /// must also stay within the user's cap (only the fee floor could be checked when buying).
    Variable {
        /// The menu entry that was bought.
        params: OpeningFeeParams,
        /// The user's `max_fee_msat`.
        max_fee_msat: u64,
    },
}

/// One open purchase, keyed by the invoice's payment hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purchase {
    /// The LSP that sold it (and will open the channel).
    pub lsp: PublicKey,
    /// The intercept SCID in the invoice's route hint.
    pub intercept_scid: Scid,
    /// The bought entry's `valid_until`: the deadline of the whole JIT flow.
    pub valid_until: DateTime,
    /// Whether the LSP sold it with `client_trusts_lsp` (it may withhold the funding broadcast
    /// until the wallet claims; bLIP-52 §4.9).
    pub client_trusts_lsp: bool,
    /// The fee agreement.
    pub fee: AgreedFee,
    /// Set once the payment was claimed: the purchase no longer grants a 0-conf channel.
    pub settled: bool,
}

/// Why a JIT payment is failed back instead of claimed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SkimRejection {
    /// The LSP took more than the agreed opening fee (bLIP-52 §4.10).
    #[error("the LSP skimmed {skimmed_msat} msat, more than the agreed {agreed_msat} msat")]
    FeeAboveAgreed {
        /// What the LSP deducted.
        skimmed_msat: u64,
        /// What was agreed.
        agreed_msat: u64,
    },
    /// What arrived plus what was skimmed is less than the invoice amount.
    #[error(
        "received {received_msat} msat + {skimmed_msat} msat skimmed is below the invoice's {payment_size_msat} msat"
    )]
    BelowPaymentSize {
        /// Claimable amount.
        received_msat: u64,
        /// Skimmed fee.
        skimmed_msat: u64,
        /// The invoice amount.
        payment_size_msat: u64,
    },
    /// Variable mode: the fee for the amount that arrived exceeds the user's cap.
    #[error("the LSP skimmed {skimmed_msat} msat, above the cap of {max_fee_msat} msat")]
    FeeAboveCap {
        /// What the LSP deducted.
        skimmed_msat: u64,
        /// The user's cap.
        max_fee_msat: u64,
    },
    /// The fee for the arriving amount overflows u64 (variable mode).
    #[error("the opening fee for the arriving amount overflows")]
    FeeOverflow,
    /// A payment that is not a JIT purchase arrived with a skimmed fee.
    #[error("{skimmed_msat} msat skimmed off a payment that is not a JIT channel purchase")]
    UnexpectedSkim {
        /// What the peer deducted.
        skimmed_msat: u64,
    },
}

/// Checks a `PaymentClaimable` of a JIT purchase (bLIP-52 §4.10): the skimmed fee must not
/// exceed the agreed opening fee — in variable mode the fee of the amount the LSP was asked to
/// forward, `amount_msat + skimmed_msat`, and within the user's cap — and in fixed mode what arrived plus what was skimmed
/// must cover the invoice amount.
pub fn check_jit_payment(fee: &AgreedFee, amount_msat: u64, skimmed_msat: u64) -> Result<(), SkimRejection> {
    let agreed_msat = match fee {
        AgreedFee::Fixed { payment_size_msat, opening_fee_msat } => {
            let total = amount_msat.saturating_add(skimmed_msat);
            if total < *payment_size_msat {
                return Err(SkimRejection::BelowPaymentSize {
                    received_msat: amount_msat,
                    skimmed_msat,
                    payment_size_msat: *payment_size_msat,
                });
            }
            *opening_fee_msat
        }
        AgreedFee::Variable { params, max_fee_msat } => {
            let forwarded = amount_msat.checked_add(skimmed_msat).ok_or(SkimRejection::FeeOverflow)?;
            let fee = opening_fee_msat(forwarded, params.min_fee_msat.get(), params.proportional.get())
                .map_err(|_| SkimRejection::FeeOverflow)?;
            if skimmed_msat > *max_fee_msat {
                return Err(SkimRejection::FeeAboveCap { skimmed_msat, max_fee_msat: *max_fee_msat });
            }
            fee
        }
    };
    if skimmed_msat > agreed_msat {
        return Err(SkimRejection::FeeAboveAgreed { skimmed_msat, agreed_msat });
    }
    Ok(())
}

/// The bounded, optionally durable set of open purchases. See the module documentation.
#[derive(Debug)]
pub struct PurchaseRegistry {
    max_open: usize,
    open_grace_secs: u64,
    file: Option<PurchaseFile>,
    purchases: Mutex<HashMap<PaymentHash, Purchase>>,
}

impl PurchaseRegistry {
    /// An in-memory registry holding at most `max_open` purchases; a purchase grants its LSP a
    /// 0-conf channel until `valid_until + open_grace_secs`.
    pub fn new(max_open: usize, open_grace_secs: u64) -> Self {
        PurchaseRegistry { max_open, open_grace_secs, file: None, purchases: Mutex::new(HashMap::new()) }
    }

    /// A durable registry backed by `file`: loads what it holds, forgets purchases expired at
    /// `now` (rewriting the file if any were). Purchases over `max_open` (after the cap was
    /// lowered) are kept — they were agreed — but no new one is added until there is room.
    ///
    /// # Errors
    /// [`PurchaseFileError`] if the file cannot be read or is corrupt (it is left untouched).
    pub fn open(
        file: PurchaseFile,
        max_open: usize,
        open_grace_secs: u64,
        now: DateTime,
    ) -> Result<Self, PurchaseFileError> {
        let loaded = file.load()?;
        let registry = PurchaseRegistry { max_open, open_grace_secs, file: Some(file), purchases: Mutex::new(loaded) };
        {
            let mut purchases = registry.lock();
            if registry.prune(&mut purchases, now) {
                registry.persist(&purchases)?;
            }
        }
        Ok(registry)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<PaymentHash, Purchase>> {
        // Every update under this lock is a map operation plus a file write; nothing can panic
        // half-way.
        self.purchases.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Writes `purchases` to the file, if there is one. Called with the lock held, so that
    /// writes happen in the order of the changes.
    fn persist(&self, purchases: &HashMap<PaymentHash, Purchase>) -> Result<(), PurchaseFileError> {
        match &self.file {
            Some(file) => file.save(purchases),
            None => Ok(()),
        }
    }

    /// Whether the purchase is past its window at `now` and may be forgotten.
    fn expired(&self, purchase: &Purchase, now: DateTime) -> bool {
        purchase.valid_until.checked_add_secs(self.open_grace_secs).is_some_and(|end| end < now)
    }

    /// Forgets expired purchases; whether any was.
    fn prune(&self, purchases: &mut HashMap<PaymentHash, Purchase>, now: DateTime) -> bool {
        let before = purchases.len();
        purchases.retain(|_, purchase| !self.expired(purchase, now));
        purchases.len() != before
    }

    /// Forgets expired purchases, then tells whether one more fits. A failure to rewrite the
    /// file after pruning is logged: the expired entries are pruned again on the next write.
    pub fn has_room(&self, now: DateTime) -> bool {
        let mut purchases = self.lock();
        if self.prune(&mut purchases, now) {
            if let Err(error) = self.persist(&purchases) {
                warn!(%error, "could not rewrite the JIT purchase file after pruning");
            }
        }
        purchases.len() < self.max_open
    }

    /// Records a purchase, durably for a registry made with [`open`](Self::open).
    /// `Ok(false)` if the registry is full (after forgetting expired ones).
    ///
    /// # Errors
    /// [`PurchaseFileError`] if it could not be written; it is then not recorded at all.
    pub fn insert(
        &self,
        payment_hash: PaymentHash,
        purchase: Purchase,
        now: DateTime,
    ) -> Result<bool, PurchaseFileError> {
        let mut purchases = self.lock();
        self.prune(&mut purchases, now);
        if purchases.len() >= self.max_open {
            return Ok(false);
        }
        let previous = purchases.insert(payment_hash, purchase);
        if let Err(error) = self.persist(&purchases) {
            match previous {
                Some(previous) => purchases.insert(payment_hash, previous),
                None => purchases.remove(&payment_hash),
            };
            return Err(error);
        }
        Ok(true)
    }

    /// The purchase of `payment_hash`, if any.
    pub fn get(&self, payment_hash: &PaymentHash) -> Option<Purchase> {
        self.lock().get(payment_hash).cloned()
    }

    /// Marks the purchase of `payment_hash` claimed (and saves that).
    ///
    /// # Errors
    /// [`PurchaseFileError`] if the file could not be written; the mark holds in memory.
    pub fn mark_settled(&self, payment_hash: &PaymentHash) -> Result<(), PurchaseFileError> {
        let mut purchases = self.lock();
        match purchases.get_mut(payment_hash) {
            Some(purchase) if !purchase.settled => {
                purchase.settled = true;
                self.persist(&purchases)
            }
            _ => Ok(()),
        }
    }

    /// Forgets the purchase of `payment_hash` (claimed for good, or failed) and saves that.
    ///
    /// # Errors
    /// [`PurchaseFileError`] if the file could not be written; the purchase is forgotten in
    /// memory, and the file catches up at the next write.
    pub fn remove(&self, payment_hash: &PaymentHash) -> Result<Option<Purchase>, PurchaseFileError> {
        let mut purchases = self.lock();
        let removed = purchases.remove(payment_hash);
        if removed.is_some() {
            self.persist(&purchases)?;
        }
        Ok(removed)
    }

    /// Open purchases.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no purchase is open.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
    /// Whether an inbound channel from `opener` is a JIT channel at `now`: the opener is an LSP
    /// with an unsettled purchase whose window (until `valid_until` plus the grace) is still
    /// open, and the channel is unannounced (bLIP-52 §4.8). See
    /// [`Lsps2Client::is_jit_channel`](super::Lsps2Client::is_jit_channel) for how to accept it.
    pub fn is_jit_channel(&self, opener: &PublicKey, is_announced: bool, now: DateTime) -> bool {
        if is_announced {
            return false;
        }
        let purchases = self.lock();
        purchases.values().any(|purchase| purchase.lsp == *opener && !purchase.settled && !self.expired(purchase, now))
    }
}
