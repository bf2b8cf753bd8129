//! Invoices and payments of the [`Node`]: invoices LDK can claim, hold invoices whose preimage
//! the caller keeps, and paying BOLT11 invoices.

use lightning::ln::channelmanager::{Bolt11InvoiceParameters, PaymentId, Retry};
use lightning_invoice::{Bolt11Invoice, Bolt11InvoiceDescription, Description};

use crate::error::{NodeError, NodeResult};
use crate::node::Node;

impl Node {
    /// Creates a BOLT11 invoice we can claim (LDK derives the preimage; `PaymentClaimable`
    /// carries it and the event handler calls `claim_funds`).
    pub fn create_invoice(
        &self,
        amount_msat: Option<u64>,
        description: &str,
        expiry_secs: u32,
    ) -> NodeResult<Bolt11Invoice> {
        let description = Description::new(description.to_string())
            .map_err(|e| NodeError::Config(format!("invoice description: {e}")))?;
        let params = Bolt11InvoiceParameters {
            amount_msats: amount_msat,
            description: Bolt11InvoiceDescription::Direct(description),
            invoice_expiry_delta_secs: Some(expiry_secs),
            ..Default::default()
        };
        self.parts
            .channel_manager
            .create_bolt11_invoice(params)
            .map_err(|e| NodeError::Ldk(format!("creating an invoice: {e}")))
    }

    /// Creates a BOLT11 **hold invoice** for `payment_hash`, whose preimage only the caller
    /// knows. LDK cannot claim it by itself: `PaymentClaimable` carries no preimage, and the
    /// HTLCs stay held until [`Node::claim_hold_payment`] or [`Node::fail_hold_payment`] (or
    /// LDK fails them at their `claim_deadline`). `min_final_cltv_expiry_delta` is how many
    /// blocks the payment can be held.
    pub fn create_hold_invoice(
        &self,
        payment_hash: [u8; 32],
        amount_msat: u64,
        description: &str,
        expiry_secs: u32,
        min_final_cltv_expiry_delta: u16,
    ) -> NodeResult<Bolt11Invoice> {
        let description = Description::new(description.to_string())
            .map_err(|e| NodeError::Config(format!("invoice description: {e}")))?;
        let params = Bolt11InvoiceParameters {
            amount_msats: Some(amount_msat),
            description: Bolt11InvoiceDescription::Direct(description),
            invoice_expiry_delta_secs: Some(expiry_secs),
            min_final_cltv_expiry_delta: Some(min_final_cltv_expiry_delta),
            payment_hash: Some(lightning::types::payment::PaymentHash(payment_hash)),
        };
        self.parts
            .channel_manager
            .create_bolt11_invoice(params)
            .map_err(|e| NodeError::Ldk(format!("creating a hold invoice: {e}")))
    }

    /// Claims the held payment of a [`Node::create_hold_invoice`] invoice by releasing its
    /// preimage. Idempotent; completion is reported by `PaymentClaimed`.
    pub fn claim_hold_payment(&self, preimage: [u8; 32]) {
        self.parts.channel_manager.claim_funds(lightning::types::payment::PaymentPreimage(preimage));
    }

    /// Fails back every held HTLC paying `payment_hash` (a refund of a hold invoice).
    /// Idempotent: nothing happens if none is held.
    pub fn fail_hold_payment(&self, payment_hash: [u8; 32]) {
        self.parts.channel_manager.fail_htlc_backwards(&lightning::types::payment::PaymentHash(payment_hash));
    }

    /// What our wallet received to `address` (one of its own, from
    /// Pays a BOLT11 invoice; the outcome arrives as `PaymentSent` or `PaymentFailed` with the
    /// returned id.
    pub fn pay_invoice(&self, invoice: &Bolt11Invoice) -> NodeResult<PaymentId> {
        let payment_id = PaymentId(*invoice.payment_hash().as_ref());
        self.parts
            .channel_manager
            .pay_for_bolt11_invoice(invoice, payment_id, None, Default::default(), Retry::Attempts(3))
            .map_err(|e| NodeError::Ldk(format!("paying an invoice: {e:?}")))?;
        Ok(payment_id)
    }
}
