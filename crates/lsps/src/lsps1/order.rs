//! Order arithmetic for the LSP and the client's checks on an order it received
//! (bLIP-51 §"lsps1.create_order" → "Client checks", §"Payment").
//!
//! The LSP computes each option's total with [`order_total_sat`]. The client runs
//! [`check_order`] on every order it receives (from `create_order` and `get_order`) and
//! abandons an order whose report has errors. Warnings are logged only: they flag rules the
//! spec's own examples break.

use std::fmt;

use thiserror::Error;

use super::msgs::{CreateOrderRequest, Order, MAX_INVOICE_LEN, MAX_ORDER_ID_LEN};
use crate::schema::SatAmount;

/// `order_total_sat` for a payment option: the LSP's fee plus the client balance the LSP
/// pushes back (bLIP-51 §"Payment"). `None` if the sum overflows u64, which an LSP must treat
/// as an order it cannot offer.
pub fn order_total_sat(fee_total_sat: SatAmount, client_balance_sat: SatAmount) -> Option<SatAmount> {
    fee_total_sat.checked_add(client_balance_sat)
}

/// One of the payment options of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PaymentOption {
    /// `payment.bolt11`.
    Bolt11,
    /// `payment.bolt12`.
    Bolt12,
    /// `payment.onchain`.
    Onchain,
}

impl fmt::Display for PaymentOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PaymentOption::Bolt11 => "bolt11",
            PaymentOption::Bolt12 => "bolt12",
            PaymentOption::Onchain => "onchain",
        })
    }
}

/// How much an [`OrderIssue`] matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The order breaks a rule the client relies on; abandon it.
    Error,
    /// The order breaks a rule that is harmless to the client; log it.
    Warning,
}

/// Something wrong with an order the client received.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum OrderIssue {
    /// `order_id` is longer than 64 characters.
    #[error("order_id is {length} characters long; at most {MAX_ORDER_ID_LEN} are allowed")]
    OrderIdTooLong {
        /// Its length in characters.
        length: usize,
    },
    /// A field that must mirror the request does not.
    #[error("{field} does not mirror the request")]
    MirrorMismatch {
        /// The order's field, dotted (`payment.onchain.refund_onchain_address`).
        field: &'static str,
    },
    /// `order_total_sat` ≠ `fee_total_sat + client_balance_sat` (or the sum overflows).
    #[error("payment.{option}.order_total_sat is not fee_total_sat + client_balance_sat")]
    TotalMismatch {
        /// The option at fault.
        option: PaymentOption,
    },
    /// The BOLT11 invoice or BOLT12 offer is longer than 2048 characters.
    #[error("payment.{option} is {length} characters long; at most {MAX_INVOICE_LEN} are allowed")]
    PaymentTextTooLong {
        /// The option at fault.
        option: PaymentOption,
        /// The invoice's or offer's length in characters.
        length: usize,
    },
    /// An on-chain option although the request had no refund address, which bLIP-51
    /// forbids: a failed order could not be refunded.
    #[error("payment.onchain offered without a refund address")]
    OnchainWithoutRefundAddress,
    /// `min_fee_for_0conf` is present although `min_onchain_payment_confirmations > 0`.
    /// bLIP-51 says it must then be absent, but its own example sets both, so this is a
    /// warning: the field is simply meaningless.
    #[error("min_fee_for_0conf is set although {confirmations} confirmations are required")]
    ZeroConfFeeWithConfirmations {
        /// `min_onchain_payment_confirmations`.
        confirmations: u16,
    },
}

impl OrderIssue {
    /// Whether the client must abandon the order or only log the issue.
    pub fn severity(&self) -> Severity {
        match self {
            OrderIssue::ZeroConfFeeWithConfirmations { .. } => Severity::Warning,
            OrderIssue::OrderIdTooLong { .. }
            | OrderIssue::MirrorMismatch { .. }
            | OrderIssue::TotalMismatch { .. }
            | OrderIssue::PaymentTextTooLong { .. }
            | OrderIssue::OnchainWithoutRefundAddress => Severity::Error,
        }
    }
}

/// The result of [`check_order`]: every issue found, errors and warnings together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderReport {
    /// The issues, in the order they were found.
    pub issues: Vec<OrderIssue>,
}

impl OrderReport {
    /// Whether no issue is an error, i.e. the order may be paid.
    pub fn is_acceptable(&self) -> bool {
        self.errors().next().is_none()
    }

    /// The issues of [`Severity::Error`].
    pub fn errors(&self) -> impl Iterator<Item = &OrderIssue> {
        self.issues.iter().filter(|issue| issue.severity() == Severity::Error)
    }

    /// The issues of [`Severity::Warning`].
    pub fn warnings(&self) -> impl Iterator<Item = &OrderIssue> {
        self.issues.iter().filter(|issue| issue.severity() == Severity::Warning)
    }
}

/// Checks an order against the request that created it (client side, bLIP-51 §"Client
/// checks").
///
/// Call it on the result of `create_order` and again on every `get_order` result, with the
/// request the client sent. It checks the mirrored fields, `order_total_sat` of each option
/// (with checked arithmetic), the 64-character `order_id` and 2048-character invoice/offer
/// limits, and the on-chain rules. Whether `fee_total_sat` is *acceptable* is the wallet's
/// policy and is not judged here.
pub fn check_order(order: &Order, request: &CreateOrderRequest) -> OrderReport {
    let mut issues = Vec::new();
    let order_id_length = order.order_id.chars().count();
    if order_id_length > MAX_ORDER_ID_LEN {
        issues.push(OrderIssue::OrderIdTooLong { length: order_id_length });
    }
    check_mirrors(order, request, &mut issues);

    let payment = &order.payment;
    let totals = [
        payment.bolt11.as_ref().map(|o| (PaymentOption::Bolt11, o.fee_total_sat, o.order_total_sat, Some(&o.invoice))),
        payment.bolt12.as_ref().map(|o| (PaymentOption::Bolt12, o.fee_total_sat, o.order_total_sat, Some(&o.offer))),
        payment.onchain.as_ref().map(|o| (PaymentOption::Onchain, o.fee_total_sat, o.order_total_sat, None)),
    ];
    for (option, fee_total_sat, total_sat, text) in totals.into_iter().flatten() {
        if order_total_sat(fee_total_sat, order.client_balance_sat) != Some(total_sat) {
            issues.push(OrderIssue::TotalMismatch { option });
        }
        let length = text.map_or(0, |text| text.chars().count());
        if length > MAX_INVOICE_LEN {
            issues.push(OrderIssue::PaymentTextTooLong { option, length });
        }
    }

    if let Some(onchain) = &payment.onchain {
        match (&request.refund_onchain_address, &onchain.refund_onchain_address) {
            (None, _) => issues.push(OrderIssue::OnchainWithoutRefundAddress),
            // Compare what the addresses pay to, so a change of case is not a mismatch.
            (Some(sent), Some(mirrored)) if sent.script_pubkey() != mirrored.script_pubkey() => {
                issues.push(OrderIssue::MirrorMismatch { field: "payment.onchain.refund_onchain_address" })
            }
            // The mirror is missing on servers older than Sep 2024.
            _ => {}
        }
        if onchain.min_onchain_payment_confirmations > 0 && onchain.min_fee_for_0conf.is_some() {
            issues.push(OrderIssue::ZeroConfFeeWithConfirmations {
                confirmations: onchain.min_onchain_payment_confirmations,
            });
        }
    }
    OrderReport { issues }
}

fn check_mirrors(order: &Order, request: &CreateOrderRequest, issues: &mut Vec<OrderIssue>) {
    // No token may come back as `""` (bLIP-51), `null` or no member (LDK): all mean none.
    let sent_token = request.token.as_deref().unwrap_or("");
    let mirrored_token = order.token.as_deref().unwrap_or("");
    let mirrors = [
        ("lsp_balance_sat", order.lsp_balance_sat == request.lsp_balance_sat),
        ("client_balance_sat", order.client_balance_sat == request.client_balance_sat),
        (
            "required_channel_confirmations",
            order.required_channel_confirmations == request.required_channel_confirmations,
        ),
        (
            "funding_confirms_within_blocks",
            order.funding_confirms_within_blocks == request.funding_confirms_within_blocks,
        ),
        ("channel_expiry_blocks", order.channel_expiry_blocks == request.channel_expiry_blocks),
        ("token", mirrored_token == sent_token),
        ("announce_channel", order.announce_channel == request.announce_channel),
    ];
    for (field, equal) in mirrors {
        if !equal {
            issues.push(OrderIssue::MirrorMismatch { field });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsps1::msgs::{Bolt11Payment, OnchainPayment, OrderState, PaymentInfo, PaymentState};
    use crate::schema::FeeRate;

    fn request() -> CreateOrderRequest {
        CreateOrderRequest {
            lsp_balance_sat: SatAmount(2_000_000),
            client_balance_sat: SatAmount(100_000),
            required_channel_confirmations: 0,
            funding_confirms_within_blocks: 6,
            channel_expiry_blocks: 13_140,
            token: None,
            refund_onchain_address: Some("bc1qgnqkxgyrwjcsc9ey68ysqntfh5tkmzse0wraan".parse().unwrap()),
            announce_channel: false,
        }
    }

    fn order() -> Order {
        let expires_at = "2025-06-01T13:00:00Z".parse().unwrap();
        Order {
            order_id: "4f1c2a8e-6b3d-4e57-9a0f-2d8c7b6e5a41".into(),
            lsp_balance_sat: SatAmount(2_000_000),
            client_balance_sat: SatAmount(100_000),
            required_channel_confirmations: 0,
            funding_confirms_within_blocks: 6,
            channel_expiry_blocks: 13_140,
            token: Some(String::new()),
            created_at: "2025-06-01T12:00:00Z".parse().unwrap(),
            announce_channel: false,
            order_state: OrderState::Created,
            payment: PaymentInfo {
                bolt11: Some(Bolt11Payment {
                    state: PaymentState::ExpectPayment,
                    expires_at,
                    fee_total_sat: SatAmount(12_345),
                    order_total_sat: SatAmount(112_345),
                    invoice: "lnbc1".into(),
                }),
                bolt12: None,
                onchain: Some(OnchainPayment {
                    state: PaymentState::ExpectPayment,
                    expires_at,
                    fee_total_sat: SatAmount(15_000),
                    order_total_sat: SatAmount(115_000),
                    address: "bc1pd2wx0dfflnl5pz9jsjak48jhjk4g6vnkwq0d4jzrxnlpke4le4nq6zk2tv".parse().unwrap(),
                    min_onchain_payment_confirmations: 0,
                    min_fee_for_0conf: Some(FeeRate(253)),
                    refund_onchain_address: Some("BC1QGNQKXGYRWJCSC9EY68YSQNTFH5TKMZSE0WRAAN".parse().unwrap()),
                }),
            },
            channel: None,
        }
    }

    #[test]
    fn a_consistent_order_has_no_issues() {
        assert_eq!(check_order(&order(), &request()), OrderReport::default());
        assert_eq!(order_total_sat(SatAmount(1), SatAmount(2)), Some(SatAmount(3)));
        assert_eq!(order_total_sat(SatAmount(u64::MAX), SatAmount(1)), None);
    }

    #[test]
    fn every_rule_is_reported() {
        let mut order = order();
        order.order_id = "x".repeat(65);
        order.token = Some("coupon".into());
        order.channel_expiry_blocks = 1;
        let bolt11 = order.payment.bolt11.as_mut().unwrap();
        bolt11.order_total_sat = SatAmount(112_344);
        bolt11.invoice = "l".repeat(MAX_INVOICE_LEN + 1);
        let onchain = order.payment.onchain.as_mut().unwrap();
        onchain.min_onchain_payment_confirmations = 1;
        onchain.refund_onchain_address =
            Some("bc1qft5p2uhsdcdc3l2ua4ap5qqfg4pjaqlp250x7us7a8qqhrxrxfsq2gp3gp".parse().unwrap());
        let report = check_order(&order, &request());
        assert_eq!(
            report.issues,
            vec![
                OrderIssue::OrderIdTooLong { length: 65 },
                OrderIssue::MirrorMismatch { field: "channel_expiry_blocks" },
                OrderIssue::MirrorMismatch { field: "token" },
                OrderIssue::TotalMismatch { option: PaymentOption::Bolt11 },
                OrderIssue::PaymentTextTooLong { option: PaymentOption::Bolt11, length: MAX_INVOICE_LEN + 1 },
                OrderIssue::MirrorMismatch { field: "payment.onchain.refund_onchain_address" },
                OrderIssue::ZeroConfFeeWithConfirmations { confirmations: 1 },
            ]
        );
        assert!(!report.is_acceptable());
        assert_eq!(report.warnings().count(), 1);
    }

    #[test]
    fn warnings_alone_leave_the_order_acceptable() {
        let mut order = order();
        order.payment.onchain.as_mut().unwrap().min_onchain_payment_confirmations = 1;
        let report = check_order(&order, &request());
        assert!(report.is_acceptable());
        assert_eq!(report.errors().count(), 0);
        assert_eq!(report.warnings().count(), 1);
    }

    #[test]
    fn overflowing_totals_and_missing_refund_address() {
        let mut order = order();
        order.client_balance_sat = SatAmount(u64::MAX);
        let mut request = request();
        request.client_balance_sat = SatAmount(u64::MAX);
        request.refund_onchain_address = None;
        let report = check_order(&order, &request);
        assert!(report.issues.contains(&OrderIssue::TotalMismatch { option: PaymentOption::Onchain }));
        assert!(report.issues.contains(&OrderIssue::OnchainWithoutRefundAddress));
    }
}
