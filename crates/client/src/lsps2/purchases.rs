//! The wallet's open JIT purchases: what was agreed with which LSP for which payment hash, and
//! the two decisions that depend on it — accepting the LSP's 0-conf channel and judging the fee
//! the LSP skimmed off the payment.
//!
//! The registry is in memory and bounded ([`Lsps2ClientConfig::max_open_purchases`]). It is
//! **not persisted**: after a restart, a JIT payment still in flight is not recognised, its
//! skimmed HTLCs are failed back (as for any unexpected skim), and the LSP's channel is decided by
//! the fallback acceptor.
//!
//! [`Lsps2ClientConfig::max_open_purchases`]: super::Lsps2ClientConfig::max_open_purchases

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use bitcoin::secp256k1::PublicKey;
use inbound_node::lightning::types::payment::PaymentHash;
use inbound_node::{ChannelDecision, InboundChannelRequest};
use lsps::lsps2::{opening_fee_msat, OpeningFeeParams};
use lsps::schema::{DateTime, Scid};

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

/// The bounded, in-memory set of open purchases. See the module documentation.
#[derive(Debug)]
pub struct PurchaseRegistry {
    max_open: usize,
    open_grace_secs: u64,
    purchases: Mutex<HashMap<PaymentHash, Purchase>>,
}

impl PurchaseRegistry {
    /// A registry holding at most `max_open` purchases; a purchase grants its LSP a 0-conf channel
    /// until `valid_until + open_grace_secs`.
    pub fn new(max_open: usize, open_grace_secs: u64) -> Self {
        PurchaseRegistry { max_open, open_grace_secs, purchases: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<PaymentHash, Purchase>> {
        // Every update under this lock is a single map operation; nothing can panic half-way.
        self.purchases.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the purchase is past its window at `now` and may be forgotten.
    fn expired(&self, purchase: &Purchase, now: DateTime) -> bool {
        purchase.valid_until.checked_add_secs(self.open_grace_secs).is_some_and(|end| end < now)
    }

    /// Forgets expired purchases, then tells whether one more fits.
    pub fn has_room(&self, now: DateTime) -> bool {
        let mut purchases = self.lock();
        purchases.retain(|_, purchase| !self.expired(purchase, now));
        purchases.len() < self.max_open
    }

    /// Records a purchase. `false` if the registry is full (after forgetting expired ones).
    pub fn insert(&self, payment_hash: PaymentHash, purchase: Purchase, now: DateTime) -> bool {
        let mut purchases = self.lock();
        purchases.retain(|_, purchase| !self.expired(purchase, now));
        if purchases.len() >= self.max_open {
            return false;
        }
        purchases.insert(payment_hash, purchase);
        true
    }

    /// The purchase of `payment_hash`, if any.
    pub fn get(&self, payment_hash: &PaymentHash) -> Option<Purchase> {
        self.lock().get(payment_hash).cloned()
    }

    /// Marks the purchase of `payment_hash` claimed.
    pub fn mark_settled(&self, payment_hash: &PaymentHash) {
        if let Some(purchase) = self.lock().get_mut(payment_hash) {
            purchase.settled = true;
        }
    }

    /// Forgets the purchase of `payment_hash` (claimed for good, or failed).
    pub fn remove(&self, payment_hash: &PaymentHash) -> Option<Purchase> {
        self.lock().remove(payment_hash)
    }

    /// Open purchases.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no purchase is open.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// The JIT decision for an inbound channel at `now`: `Some(Accept 0-conf + underpaying, with
    /// 100 % of the channel allowed in flight towards us, so that it can carry the payment)` if
    /// the opener is an LSP with an unsettled purchase whose window (until `valid_until` plus the
    /// grace) is still open and the channel is unannounced (bLIP-52 §4.8); `None` otherwise, for
    /// the caller's fallback.
    pub fn decide(&self, request: &InboundChannelRequest, now: DateTime) -> Option<ChannelDecision> {
        if request.is_announced {
            return None;
        }
        let purchases = self.lock();
        let open = purchases.values().any(|purchase| {
            purchase.lsp == request.counterparty_node_id && !purchase.settled && !self.expired(purchase, now)
        });
        open.then(|| ChannelDecision::Accept {
            zero_conf: true,
            accept_underpaying_htlcs: true,
            max_inbound_htlc_value_in_flight_percent_of_channel: Some(100),
            user_channel_id: inbound_node::default_user_channel_id(&request.temporary_channel_id),
        })
    }
}
