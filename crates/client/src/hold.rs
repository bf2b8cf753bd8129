//! Notify-and-wait over an existing channel (an Inbound extension): [`HoldClient`] gets the
//! wallet's *hold SCID* from the LSP (`inbound.hold_scid`, only for a wallet with a channel to
//! it) and makes invoices whose route hint goes through it. A payment to such an invoice
//! reaches the LSP as an intercepted HTLC, which the LSP forwards at once while the wallet is
//! online, and otherwise holds while it wakes the wallet (LSPS5 `payment_incoming`, so register
//! a webhook with [`Lsps5Client`](crate::lsps5::Lsps5Client)), up to the `hold_secs` it answers.
//!
//! The route hint: (LSP node id, hold SCID, fees and CLTV delta). The fees and delta are the
//! ones the LSP announced for the wallet's channel (`counterparty.forwarding_info`,
//! [`WalletNode::counterparty_forwarding_info`]) when the node knows them, else the LSP's answer.
//! The payer pays the hint's fee on top; the wallet receives the invoice amount.
//!
//! The SCID is the same on every call and survives the LSP's restarts, so it may be cached; the
//! invoice is an ordinary one of the wallet's node, claimed like any other payment.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bitcoin::secp256k1::PublicKey;
use lightning::routing::gossip::RoutingFees;
use lightning_invoice::{Bolt11Invoice, Currency};
use lsps::hold::{HoldScidRequest, HoldScidResponse};
use lsps::method::{Request, Response};
use lsps::schema::Scid;
use tracing::info;

use crate::client::LspsClient;
use crate::error::ClientError;
use crate::lsps2::invoice::{build_raw_invoice, sign_jit_invoice, JitInvoiceFields};
use crate::wallet_node::WalletNode;

pub use lsps::hold::NO_CHANNEL_CODE;

/// What [`HoldClient::invoice`] needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldInvoiceRequest {
    /// The LSP (connected, with a channel to the wallet).
    pub lsp: PublicKey,
    /// The amount; `None` for an any-amount invoice.
    pub amount_msat: Option<u64>,
    /// The invoice description.
    pub description: String,
    /// The invoice expiry.
    pub expiry_secs: u32,
}

/// The route hint's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HintTerms {
    /// Base fee the payer pays the LSP.
    pub fee_base_msat: u32,
    /// Proportional fee the payer pays the LSP.
    pub fee_proportional_millionths: u32,
    /// The LSP's CLTV delta.
    pub cltv_expiry_delta: u16,
    /// Whether they come from the channel's `forwarding_info` (else from the LSP's answer).
    pub from_channel: bool,
}

/// An invoice routed through the wallet's hold SCID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldInvoice {
    /// The invoice to give the payer.
    pub invoice: Bolt11Invoice,
    /// The hold SCID in its route hint.
    pub hold_scid: Scid,
    /// The route hint's terms.
    pub hint: HintTerms,
    /// How long the LSP holds a payment while the wallet is offline.
    pub hold_secs: u64,
}

/// The wallet side of notify-and-wait, over any [`WalletNode`].
pub struct HoldClient {
    lsps: Arc<LspsClient>,
    wallet: Arc<dyn WalletNode>,
    min_final_cltv_expiry_delta: u16,
}

impl HoldClient {
    /// A client whose invoices ask for LDK's default `min_final_cltv_expiry_delta`.
    pub fn new(lsps: Arc<LspsClient>, wallet: Arc<dyn WalletNode>) -> HoldClient {
        let min_final_cltv_expiry_delta = lightning::ln::channelmanager::MIN_FINAL_CLTV_EXPIRY_DELTA;
        HoldClient { lsps, wallet, min_final_cltv_expiry_delta }
    }

    /// `inbound.hold_scid`: the wallet's hold SCID and the LSP's terms.
    ///
    /// # Errors
    /// [`ClientError::LspRejected`] with [`NO_CHANNEL_CODE`] when the wallet has no channel with
    /// the LSP, and every error of [`LspsClient::call`].
    pub async fn hold_scid(&self, lsp: PublicKey) -> Result<HoldScidResponse, ClientError> {
        match self.lsps.call(lsp, Request::InboundHoldScid(HoldScidRequest {})).await? {
            Response::InboundHoldScid(answer) => Ok(answer),
            _ => Err(ClientError::UnexpectedResult),
        }
    }

    /// Gets the hold SCID and makes an invoice routed through it (see the module documentation).
    ///
    /// # Errors
    /// [`ClientError::InvalidRequest`] for a zero amount or expiry, [`ClientError::Invoice`] if
    /// the node cannot register or sign it, and every error of [`HoldClient::hold_scid`].
    pub async fn invoice(&self, request: HoldInvoiceRequest) -> Result<HoldInvoice, ClientError> {
        if request.amount_msat == Some(0) {
            return Err(ClientError::InvalidRequest("amount_msat must not be zero".into()));
        }
        if request.expiry_secs == 0 {
            return Err(ClientError::InvalidRequest("expiry_secs must not be zero".into()));
        }
        let answer = self.hold_scid(request.lsp).await?;
        let hint = hint_terms(&answer, self.wallet.counterparty_forwarding_info(&request.lsp));
        let (payment_hash, payment_secret) = self
            .wallet
            .create_inbound_payment(request.amount_msat, request.expiry_secs, self.min_final_cltv_expiry_delta)
            .map_err(|e| ClientError::Invoice(format!("create_inbound_payment: {e}")))?;
        let fields = JitInvoiceFields {
            currency: Currency::from(self.wallet.network()),
            payee: self.wallet.node_id(),
            description: request.description,
            payment_hash,
            payment_secret,
            amount_msat: request.amount_msat,
            timestamp: SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO),
            expiry_secs: request.expiry_secs,
            min_final_cltv_expiry_delta: self.min_final_cltv_expiry_delta,
            lsp: request.lsp,
            intercept_scid: answer.hold_scid.0,
            lsp_cltv_expiry_delta: hint.cltv_expiry_delta,
        };
        let fees =
            RoutingFees { base_msat: hint.fee_base_msat, proportional_millionths: hint.fee_proportional_millionths };
        let raw = build_raw_invoice(&fields, fees)?;
        let invoice = sign_jit_invoice(raw, |raw| self.wallet.sign_invoice(raw))?;
        info!(lsp = %request.lsp, scid = %answer.hold_scid, "invoice through the hold SCID");
        Ok(HoldInvoice { invoice, hold_scid: answer.hold_scid, hint, hold_secs: answer.hold_secs })
    }
}

/// The route hint's terms: the channel's `forwarding_info` when known, else the LSP's answer.
pub fn hint_terms(
    answer: &HoldScidResponse,
    channel: Option<lightning::ln::channel_state::CounterpartyForwardingInfo>,
) -> HintTerms {
    match channel {
        Some(info) => HintTerms {
            fee_base_msat: info.fee_base_msat,
            fee_proportional_millionths: info.fee_proportional_millionths,
            cltv_expiry_delta: info.cltv_expiry_delta,
            from_channel: true,
        },
        None => HintTerms {
            fee_base_msat: answer.fee_base_msat,
            fee_proportional_millionths: answer.fee_proportional_millionths,
            cltv_expiry_delta: answer.cltv_expiry_delta,
            from_channel: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use lightning::ln::channel_state::CounterpartyForwardingInfo;

    use super::*;

    fn answer() -> HoldScidResponse {
        HoldScidResponse {
            hold_scid: Scid(1 << 40),
            fee_base_msat: 1000,
            fee_proportional_millionths: 100,
            cltv_expiry_delta: 72,
            hold_secs: 60,
        }
    }

    #[test]
    fn the_channel_forwarding_info_wins_over_the_lsp_answer() {
        let channel =
            CounterpartyForwardingInfo { fee_base_msat: 5, fee_proportional_millionths: 7, cltv_expiry_delta: 144 };
        let from_channel = hint_terms(&answer(), Some(channel));
        assert_eq!((from_channel.fee_base_msat, from_channel.fee_proportional_millionths), (5, 7));
        assert_eq!((from_channel.cltv_expiry_delta, from_channel.from_channel), (144, true));
        let from_answer = hint_terms(&answer(), None);
        assert_eq!(
            (from_answer.fee_base_msat, from_answer.cltv_expiry_delta, from_answer.from_channel),
            (1000, 72, false)
        );
    }
}
