//! [`Lsps2Client::handle_event`]: the wallet node's only consumer of `PaymentClaimable` (with the
//! `node` feature, `WalletEventHandler` calls it for `inbound-node`).
//!
//! | payment | skimmed fee | action |
//! |---|---|---|
//! | a registered JIT purchase | passes [`check_jit_payment`] | `claim_funds` |
//! | a registered JIT purchase | fails it | `fail_htlc_backwards`, logged |
//! | any other payment | nonzero | `fail_htlc_backwards`, logged |
//! | any other payment | zero | `claim_funds` |
//!
//! A payment whose preimage LDK does not know (not made with `create_inbound_payment`) is failed
//! back too. Every other event is the wallet's to handle ([`EventOutcome::PassOn`]), as are
//! `PaymentClaimed` (after the purchase is forgotten) and `HTLCHandlingFailed`.
//!
//! ## When the wallet claims, by trust mode (bLIP-52 §4.9)
//!
//! `PaymentClaimable` fires once the HTLCs are irrevocably committed on the JIT channel. The
//! wallet then claims at once in **both** modes; it verifies the fee (table above), not the
//! funding transaction:
//!
//! * `client_trusts_lsp: true`: the LSP may withhold the funding broadcast until it sees the
//!   preimage, and the client **must** release it as soon as the HTLCs are irrevocably committed,
//!   without waiting for the broadcast. Waiting would deadlock the flow.
//! * `client_trusts_lsp: false` (LSP trusts client, the default): the LSP must broadcast right
//!   after `funding_signed`. The client **may** claim at once (the choice made here), or first
//!   wait for the funding in a mempool or a block and check its output. Claiming at once is the
//!   same 0-conf trust the wallet already grants by accepting the channel 0-conf: if the LSP never
//!   broadcasts or double-spends the funding, the wallet loses `payment − fee`, which it did not
//!   have before. LDK checks the funding output's script and amount when the transaction
//!   confirms and closes the channel if they are wrong. Waiting for confirmations would need the
//!   invoice's CLTV margin raised from +2 to +2+N (§4.6), which the invoice does not do.
//!
//! A wallet that does not want to trust an LSP with the funding of a `client_trusts_lsp: true`
//! sale refuses the purchase up front ([`ClientTrustsLspPolicy::Refuse`](super::ClientTrustsLspPolicy::Refuse)).

use lightning::events::{Event, PaymentPurpose};
use lightning::types::payment::PaymentHash;
use tracing::{info, warn};

use super::client::Lsps2Client;
use super::purchases::{check_jit_payment, SkimRejection};

/// What to do with one `PaymentClaimable`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimDecision {
    /// Claim it.
    Claim,
    /// Fail it back, for this reason.
    FailBack(SkimRejection),
}

/// Whether [`Lsps2Client::handle_event`] consumed an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventOutcome {
    /// A `PaymentClaimable`, claimed or failed back already: nothing else may act on it.
    Consumed,
    /// Every other event: the wallet handles it as usual.
    PassOn,
}

impl Lsps2Client {
    /// Runs one LDK event through the LSPS2 checks (table in the module documentation): a
    /// `PaymentClaimable` is claimed or failed back through the [`WalletNode`](crate::WalletNode)
    /// and consumed; a `PaymentClaimed` forgets its purchase and is passed on, like every other
    /// event. Call it first for every event of the wallet node, before the node starts.
    pub fn handle_event(&self, event: &Event) -> EventOutcome {
        match event {
            Event::PaymentClaimable { payment_hash, amount_msat, counterparty_skimmed_fee_msat, purpose, .. } => {
                self.on_payment_claimable(*payment_hash, *amount_msat, *counterparty_skimmed_fee_msat, purpose);
                EventOutcome::Consumed
            }
            Event::PaymentClaimed { payment_hash, .. } => {
                if let Err(error) = self.purchases().remove(payment_hash) {
                    warn!(%payment_hash, %error, "could not save the settled JIT purchase's removal");
                }
                EventOutcome::PassOn
            }
            _ => EventOutcome::PassOn,
        }
    }

    fn on_payment_claimable(
        &self,
        payment_hash: PaymentHash,
        amount_msat: u64,
        skimmed_msat: u64,
        purpose: &PaymentPurpose,
    ) {
        let registry = self.purchases();
        let purchase = registry.get(&payment_hash);
        let wallet = self.wallet();
        match (decide_claim(purchase.as_ref(), amount_msat, skimmed_msat), purpose.preimage()) {
            (ClaimDecision::Claim, Some(preimage)) => {
                if let Some(purchase) = &purchase {
                    // A failed write only means the purchase could grant one more 0-conf channel
                    // after a restart, until `PaymentClaimed` removes it; the claim goes ahead.
                    if let Err(error) = registry.mark_settled(&payment_hash) {
                        warn!(%payment_hash, %error, "could not save the JIT purchase as settled");
                    }
                    info!(
                        %payment_hash,
                        amount_msat,
                        skimmed_msat,
                        client_trusts_lsp = purchase.client_trusts_lsp,
                        "claiming a JIT channel payment"
                    );
                }
                wallet.claim_funds(preimage);
            }
            (ClaimDecision::Claim, None) => {
                warn!(%payment_hash, "no preimage known for a claimable payment; failing it back");
                wallet.fail_htlc_backwards(&payment_hash);
            }
            (ClaimDecision::FailBack(reason), _) => {
                // A JIT purchase stays registered until it expires: a retry by the payer,
                // forwarded with the agreed fee, can still succeed.
                warn!(%payment_hash, amount_msat, skimmed_msat, %reason, "failing a payment back");
                wallet.fail_htlc_backwards(&payment_hash);
            }
        }
    }
}

/// The decision for a payment given its purchase (if it is a JIT payment).
pub fn decide_claim(
    purchase: Option<&super::purchases::Purchase>,
    amount_msat: u64,
    skimmed_msat: u64,
) -> ClaimDecision {
    let verdict = match purchase {
        Some(purchase) => check_jit_payment(&purchase.fee, amount_msat, skimmed_msat),
        None if skimmed_msat > 0 => Err(SkimRejection::UnexpectedSkim { skimmed_msat }),
        None => Ok(()),
    };
    match verdict {
        Ok(()) => ClaimDecision::Claim,
        Err(reason) => ClaimDecision::FailBack(reason),
    }
}
