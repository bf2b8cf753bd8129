//! [`Voucher`]: a prepaid channel an operator hands out as a static QR code (LNURL-channel,
//! LUD-02), a flow on the kernel (`Kind::Voucher`, id = hex SHA-256 of its `k1`, so the store
//! never holds the bearer secret).
//!
//! ```text
//!            Claim (by a node, before expires_at)              the order failed:
//!  issued ──────────────────────────────────▶ claimed ──┐      Claim again (any node)
//!    │  │   effect OpenOrder (a prepaid LSPS1 order)  ▲  └─────────────┘
//!    │  └── Revoke ──▶ revoked (terminal)             │
//!    └───── Expire (the ticker, at expires_at) ──▶ expired (terminal)
//! ```
//!
//! The channel is delivered by the LSPS1 order flow (`Payment::Voucher`): opening with retries,
//! the history, restart safety. A voucher whose order failed may be claimed again until it
//! expires; while its order is in flight, only the node that claimed it gets `OK` again.

use lsps::schema::{DateTime, NodeId};
use serde::{Deserialize, Serialize};

use crate::flow::TransitionError;

/// The channel a voucher buys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherTerms {
    /// The LSP's side of the channel.
    pub lsp_balance_sat: u64,
    /// How long the LSP keeps the channel open (the lease), in blocks.
    pub channel_expiry_blocks: u32,
}

/// Where a voucher stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum VoucherStatus {
    /// Claimable until `expires_at`.
    Issued,
    /// Claimed by `client`; `order_id` delivers the channel.
    Claimed {
        /// The node the channel goes to.
        client: NodeId,
        /// The LSPS1 order that opens it.
        order_id: String,
        /// Unannounced channel.
        private: bool,
        /// When.
        at: DateTime,
    },
    /// Withdrawn by the operator.
    Revoked {
        /// When.
        at: DateTime,
    },
    /// Not claimed in time.
    Expired,
}

/// One voucher, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Voucher {
    /// Hex SHA-256 of the `k1`.
    pub id: String,
    /// The operator's label for the batch it was printed in.
    pub batch: String,
    /// The channel it buys.
    pub terms: VoucherTerms,
    /// When it was issued.
    pub created_at: DateTime,
    /// When it stops being claimable.
    pub expires_at: DateTime,
    /// Where it stands.
    pub status: VoucherStatus,
    /// Claims made (a failed order's voucher may be claimed again).
    #[serde(default)]
    pub claims: u32,
}

/// What moves a voucher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VoucherInput {
    /// A wallet's LNURL callback for `client`; `order_id` is the order to create, and
    /// `prior_order_failed` says whether the order of an earlier claim failed.
    Claim {
        /// The wallet's node.
        client: NodeId,
        /// Unannounced channel.
        private: bool,
        /// A fresh order id.
        order_id: String,
        /// The earlier claim's order failed (read by the service before the step).
        prior_order_failed: bool,
    },
    /// The operator withdraws it.
    Revoke,
    /// Its time is up (the ticker).
    Expire,
}

/// What the runner does for a voucher.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "effect")]
pub enum VoucherEffect {
    /// Create the prepaid LSPS1 order that opens the channel (idempotent: by `order_id`).
    OpenOrder {
        /// The order's id.
        order_id: String,
        /// The node.
        client: NodeId,
        /// Unannounced channel.
        private: bool,
    },
}

/// Why a claim is refused, for the wallet's `{"status":"ERROR","reason":…}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimRefusal {
    /// Claimed by another node, or in flight for it.
    AlreadyClaimed,
    /// Past `expires_at`.
    Expired,
    /// Withdrawn by the operator.
    Revoked,
}

impl ClaimRefusal {
    /// The reason shown to the person holding the wallet.
    pub fn reason(self) -> &'static str {
        match self {
            ClaimRefusal::AlreadyClaimed => "this voucher has already been claimed",
            ClaimRefusal::Expired => "this voucher has expired",
            ClaimRefusal::Revoked => "this voucher has been revoked",
        }
    }
}

impl Voucher {
    /// The state's name.
    pub fn state_name(&self) -> &'static str {
        match self.status {
            VoucherStatus::Issued => "issued",
            VoucherStatus::Claimed { .. } => "claimed",
            VoucherStatus::Revoked { .. } => "revoked",
            VoucherStatus::Expired => "expired",
        }
    }

    /// Whether nothing more can happen to it: revoked or expired. A claimed voucher is
    /// finished too, unless its order fails (then a claim moves it again).
    pub fn is_terminal(&self) -> bool {
        !matches!(self.status, VoucherStatus::Issued)
    }

    /// When the ticker must expire it.
    pub fn deadline(&self) -> Option<DateTime> {
        matches!(self.status, VoucherStatus::Issued).then_some(self.expires_at)
    }

    /// Why a claim at `now` by `client` would be refused, if it would.
    pub fn refusal(&self, client: &NodeId, prior_order_failed: bool, now: DateTime) -> Option<ClaimRefusal> {
        match &self.status {
            VoucherStatus::Claimed { client: claimer, .. } if !prior_order_failed => {
                (claimer != client).then_some(ClaimRefusal::AlreadyClaimed)
            }
            _ => self.closed(prior_order_failed, now),
        }
    }

    /// Why no node could claim it at `now`: revoked, or expired (a claim in flight is left to
    /// the callback, which knows the node).
    pub fn closed(&self, prior_order_failed: bool, now: DateTime) -> Option<ClaimRefusal> {
        let expired = now.unix_millis() >= self.expires_at.unix_millis();
        match &self.status {
            VoucherStatus::Revoked { .. } => Some(ClaimRefusal::Revoked),
            VoucherStatus::Expired => Some(ClaimRefusal::Expired),
            VoucherStatus::Claimed { .. } if !prior_order_failed => None,
            VoucherStatus::Issued | VoucherStatus::Claimed { .. } => expired.then_some(ClaimRefusal::Expired),
        }
    }

    /// The next voucher and its effects after `input` at `now`.
    ///
    /// # Errors
    /// An input that does not apply: a refused claim (see [`refusal`](Self::refusal)), revoking
    /// a voucher that is not issued, expiring one early or twice.
    pub fn step(&self, input: &VoucherInput, now: DateTime) -> Result<(Voucher, Vec<VoucherEffect>), TransitionError> {
        let refused = TransitionError { state: self.state_name(), input: input_name(input) };
        let mut next = self.clone();
        match input {
            VoucherInput::Claim { client, private, order_id, prior_order_failed } => {
                if self.refusal(client, *prior_order_failed, now).is_some() {
                    return Err(refused);
                }
                if matches!(self.status, VoucherStatus::Claimed { .. }) && !prior_order_failed {
                    // The same node again while its order is in flight: nothing new.
                    return Ok((next, Vec::new()));
                }
                next.status =
                    VoucherStatus::Claimed { client: *client, order_id: order_id.clone(), private: *private, at: now };
                next.claims = next.claims.saturating_add(1);
                let effect =
                    VoucherEffect::OpenOrder { order_id: order_id.clone(), client: *client, private: *private };
                Ok((next, vec![effect]))
            }
            VoucherInput::Revoke => match self.status {
                VoucherStatus::Issued => {
                    next.status = VoucherStatus::Revoked { at: now };
                    Ok((next, Vec::new()))
                }
                _ => Err(refused),
            },
            VoucherInput::Expire => match self.status {
                VoucherStatus::Issued if now.unix_millis() >= self.expires_at.unix_millis() => {
                    next.status = VoucherStatus::Expired;
                    Ok((next, Vec::new()))
                }
                _ => Err(refused),
            },
        }
    }
}

/// A short, stable name of an input.
pub fn input_name(input: &VoucherInput) -> &'static str {
    match input {
        VoucherInput::Claim { .. } => "claim",
        VoucherInput::Revoke => "operator_revoke",
        VoucherInput::Expire => "expire",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(byte: u8) -> NodeId {
        let secp = bitcoin::secp256k1::Secp256k1::new();
        let secret = bitcoin::secp256k1::SecretKey::from_slice(&[byte; 32]).expect("key");
        NodeId(bitcoin::secp256k1::PublicKey::from_secret_key(&secp, &secret))
    }

    fn at(secs: u64) -> DateTime {
        DateTime::from_unix_millis(1_700_000_000_000 + secs * 1000).expect("time")
    }

    fn issued() -> Voucher {
        Voucher {
            id: "ab".repeat(32),
            batch: "b".into(),
            terms: VoucherTerms { lsp_balance_sat: 1_000_000, channel_expiry_blocks: 4320 },
            created_at: at(0),
            expires_at: at(3600),
            status: VoucherStatus::Issued,
            claims: 0,
        }
    }

    fn claim(client: NodeId, order: &str, prior_order_failed: bool) -> VoucherInput {
        VoucherInput::Claim { client, private: true, order_id: order.into(), prior_order_failed }
    }

    #[test]
    fn a_claim_opens_one_order_and_repeats_are_idempotent_for_the_claimer_only() {
        let (claimed, effects) = issued().step(&claim(node(1), "o1", false), at(10)).expect("claim");
        assert_eq!(effects, vec![VoucherEffect::OpenOrder { order_id: "o1".into(), client: node(1), private: true }]);
        assert_eq!((claimed.state_name(), claimed.claims, claimed.is_terminal()), ("claimed", 1, true));
        // The same wallet retrying its callback: nothing new, no second order.
        let (again, effects) = claimed.step(&claim(node(1), "o2", false), at(20)).expect("repeat");
        assert_eq!((again, effects), (claimed.clone(), Vec::new()));
        // Another node (a replayed or leaked k1): refused.
        assert_eq!(claimed.refusal(&node(2), false, at(20)), Some(ClaimRefusal::AlreadyClaimed));
        assert!(claimed.step(&claim(node(2), "o3", false), at(20)).is_err());
        assert!(claimed.step(&VoucherInput::Revoke, at(20)).is_err());
    }

    #[test]
    fn a_failed_order_makes_the_voucher_claimable_again_until_it_expires() {
        let (claimed, _) = issued().step(&claim(node(1), "o1", false), at(10)).expect("claim");
        let (reclaimed, effects) = claimed.step(&claim(node(2), "o2", true), at(20)).expect("again");
        assert_eq!(effects.len(), 1);
        assert_eq!(reclaimed.claims, 2);
        assert!(matches!(&reclaimed.status, VoucherStatus::Claimed { order_id, .. } if order_id == "o2"));
        assert_eq!(claimed.refusal(&node(2), true, at(3600)), Some(ClaimRefusal::Expired));
    }

    #[test]
    fn revoked_and_expired_vouchers_refuse_with_their_reason() {
        let (revoked, _) = issued().step(&VoucherInput::Revoke, at(5)).expect("revoke");
        assert_eq!(revoked.refusal(&node(1), false, at(6)), Some(ClaimRefusal::Revoked));
        assert!(revoked.step(&claim(node(1), "o", false), at(6)).is_err());
        assert!(revoked.step(&VoucherInput::Revoke, at(6)).is_err());

        assert!(issued().step(&VoucherInput::Expire, at(3599)).is_err(), "not before its time");
        assert_eq!(issued().refusal(&node(1), false, at(3600)), Some(ClaimRefusal::Expired));
        let (expired, _) = issued().step(&VoucherInput::Expire, at(3600)).expect("expire");
        assert_eq!((expired.state_name(), expired.deadline()), ("expired", None));
        assert!(expired.step(&claim(node(1), "o", false), at(3601)).is_err());
        assert!(expired.step(&VoucherInput::Expire, at(3601)).is_err());
        assert_eq!(issued().deadline(), Some(at(3600)));
    }
}
