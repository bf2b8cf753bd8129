//! The wallet's checks on an order it received (pure, no I/O): bLIP-51's client checks
//! ([`check_order`]) plus what only the wallet knows: its network, and the most it will pay.

use std::str::FromStr;

use bitcoin::Network;
use lightning_invoice::{Bolt11Invoice, Currency};
use lsps::lsps1::{check_order, CreateOrderRequest, Order, OrderIssue, PaymentOption, PaymentState};

use super::Lsps1Error;

/// How the wallet pays an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayWith {
    /// The BOLT11 hold invoice (`payment.bolt11`).
    Lightning,
    /// The on-chain address (`payment.onchain`).
    Onchain,
}

impl PayWith {
    /// The order's payment option this pays.
    pub fn option(self) -> PaymentOption {
        match self {
            PayWith::Lightning => PaymentOption::Bolt11,
            PayWith::Onchain => PaymentOption::Onchain,
        }
    }
}

/// What to pay for an order, once [`payment_for`] accepted it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payment {
    /// Pay this invoice (its amount is `order_total_sat`).
    Lightning {
        /// The LSP's hold invoice.
        invoice: Bolt11Invoice,
        /// The LSP's fee in the total.
        fee_total_sat: u64,
        /// What the invoice asks.
        order_total_sat: u64,
    },
    /// Send exactly `order_total_sat` to `address`.
    Onchain {
        /// The LSP's deposit address, checked for the wallet's network.
        address: bitcoin::Address,
        /// The LSP's fee in the total.
        fee_total_sat: u64,
        /// The amount to send.
        order_total_sat: u64,
    },
}

/// Checks `order` against the `request` the wallet sent and the wallet's `network`: the
/// bLIP-51 rules of [`check_order`] (an error there refuses the order; warnings are returned),
/// the BOLT11 invoice's amount (= `order_total_sat`) and currency, and the on-chain address's
/// network.
///
/// # Errors
/// [`Lsps1Error::BadOrder`], [`Lsps1Error::Invoice`] or [`Lsps1Error::AddressNetwork`].
pub fn check_received(
    order: &Order,
    request: &CreateOrderRequest,
    network: Network,
) -> Result<Vec<OrderIssue>, Lsps1Error> {
    let report = check_order(order, request);
    if !report.is_acceptable() {
        return Err(Lsps1Error::BadOrder(report.errors().cloned().collect()));
    }
    if let Some(bolt11) = &order.payment.bolt11 {
        let invoice = parse_invoice(&bolt11.invoice, network)?;
        let expected_msat = bolt11.order_total_sat.get().checked_mul(1000);
        if invoice.amount_milli_satoshis() != expected_msat || expected_msat.is_none() {
            return Err(Lsps1Error::Invoice(format!(
                "the invoice asks {:?} msat, the order total is {} sat",
                invoice.amount_milli_satoshis(),
                bolt11.order_total_sat.get()
            )));
        }
    }
    if let Some(onchain) = &order.payment.onchain {
        if !onchain.address.is_valid_for_network(network) {
            return Err(Lsps1Error::AddressNetwork { address: onchain.address.as_str().to_owned(), network });
        }
    }
    Ok(report.warnings().cloned().collect())
}

/// What to pay for `order` with `pay_with`, refusing a fee above `max_fee_sat` (the user's
/// hard cap) and an option that is missing or no longer waiting for payment. Run
/// [`check_received`] first.
///
/// # Errors
/// [`Lsps1Error::OptionUnavailable`], [`Lsps1Error::NotPayable`], [`Lsps1Error::FeeAboveCap`],
/// [`Lsps1Error::Invoice`], [`Lsps1Error::AddressNetwork`].
pub fn payment_for(
    order: &Order,
    pay_with: PayWith,
    max_fee_sat: u64,
    network: Network,
) -> Result<Payment, Lsps1Error> {
    let option = pay_with.option();
    let (state, fee_total_sat, order_total_sat) = match pay_with {
        PayWith::Lightning => order.payment.bolt11.as_ref().map(|o| (o.state, o.fee_total_sat, o.order_total_sat)),
        PayWith::Onchain => order.payment.onchain.as_ref().map(|o| (o.state, o.fee_total_sat, o.order_total_sat)),
    }
    .ok_or(Lsps1Error::OptionUnavailable(option))?;
    let (fee_total_sat, order_total_sat) = (fee_total_sat.get(), order_total_sat.get());
    if fee_total_sat > max_fee_sat {
        return Err(Lsps1Error::FeeAboveCap { fee_total_sat, max_fee_sat });
    }
    if state != PaymentState::ExpectPayment {
        return Err(Lsps1Error::NotPayable { option, state });
    }
    match (pay_with, &order.payment.bolt11, &order.payment.onchain) {
        (PayWith::Lightning, Some(bolt11), _) => {
            Ok(Payment::Lightning { invoice: parse_invoice(&bolt11.invoice, network)?, fee_total_sat, order_total_sat })
        }
        (PayWith::Onchain, _, Some(onchain)) => {
            let address = onchain
                .address
                .require_network(network)
                .map_err(|_| Lsps1Error::AddressNetwork { address: onchain.address.as_str().to_owned(), network })?;
            Ok(Payment::Onchain { address, fee_total_sat, order_total_sat })
        }
        _ => Err(Lsps1Error::OptionUnavailable(option)),
    }
}

/// The request `order` says it answers (its mirrored fields), for checking an order whose
/// original request the wallet no longer has: the mirrors then agree by construction, and every
/// other check of [`check_received`] still applies (totals, lengths, invoice amount and
/// currency, address network).
pub fn mirrored_request(order: &Order) -> CreateOrderRequest {
    let onchain = order.payment.onchain.as_ref();
    CreateOrderRequest {
        lsp_balance_sat: order.lsp_balance_sat,
        client_balance_sat: order.client_balance_sat,
        required_channel_confirmations: order.required_channel_confirmations,
        funding_confirms_within_blocks: order.funding_confirms_within_blocks,
        channel_expiry_blocks: order.channel_expiry_blocks,
        token: order.token.clone().filter(|token| !token.is_empty()),
        // The mirror if there is one; else any address, so that an on-chain option is not
        // refused for a refund address the wallet may well have sent.
        refund_onchain_address: onchain.map(|o| o.refund_onchain_address.clone().unwrap_or_else(|| o.address.clone())),
        announce_channel: order.announce_channel,
    }
}

fn parse_invoice(text: &str, network: Network) -> Result<Bolt11Invoice, Lsps1Error> {
    let invoice =
        Bolt11Invoice::from_str(text).map_err(|e| Lsps1Error::Invoice(format!("not a BOLT11 invoice: {e}")))?;
    if invoice.currency() != Currency::from(network) {
        return Err(Lsps1Error::Invoice(format!(
            "the invoice is for {:?}, the wallet is on {network}",
            invoice.currency()
        )));
    }
    Ok(invoice)
}
