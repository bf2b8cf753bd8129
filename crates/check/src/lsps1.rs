//! LSPS1 (bLIP-51): `get_info`, one unpaid order and what comes back, and every error the
//! checker can provoke without paying.

use std::str::FromStr;

use bitcoin::Network;
use lightning_invoice::{Bolt11Invoice, Currency};
use lsps::lsps1::MAX_INVOICE_LEN;
use lsps::lsps1::{
    check_order, codes, CreateOrderRequest, GetInfoResponse, Order, OrderIssue, OrderState, PaymentState,
};
use lsps::schema::SatAmount;
use serde_json::{json, Value};

use crate::catalogue::Check;
use crate::lsps0::{describe, expected};
use crate::session::{fresh_id, Exchange, Reply, Session, Verdict};

/// LSPS1's checks.
pub(crate) const CHECKS: &[Check] = &[
    Check::Lsps1GetInfo,
    Check::Lsps1GetInfoLimits,
    Check::Lsps1CreateOrder,
    Check::Lsps1OrderMirror,
    Check::Lsps1OrderInitialState,
    Check::Lsps1OrderTotals,
    Check::Lsps1OrderInvoice,
    Check::Lsps1OrderExpiresAt,
    Check::Lsps1OrderNoOnchainWithoutRefund,
    Check::Lsps1GetOrderSame,
    Check::Lsps1GetOrderUnknown,
    Check::Lsps1UnknownToken,
    Check::Lsps1RangeLspBalance,
    Check::Lsps1RangeClientBalance,
    Check::Lsps1RangeExpiry,
    Check::Lsps1RangeConfirmations,
    Check::Lsps1RangeFundingTarget,
    Check::Lsps1PaidOrder,
    Check::Lsps1Refund,
];

/// The `get_info` fields a 100's `data.property` may name.
const GET_INFO_FIELDS: &[&str] = &[
    "min_required_channel_confirmations",
    "min_funding_confirms_within_blocks",
    "supports_zero_channel_reserve",
    "max_channel_expiry_blocks",
    "min_initial_client_balance_sat",
    "max_initial_client_balance_sat",
    "min_initial_lsp_balance_sat",
    "max_initial_lsp_balance_sat",
    "min_channel_balance_sat",
    "max_channel_balance_sat",
];

pub(crate) async fn run(session: &mut Session<'_>) {
    let exchange = session.call("lsps1.get_info", json!({})).await;
    let info = match &exchange.reply {
        Reply::Result(result) => serde_json::from_value::<GetInfoResponse>(result.clone()).map_err(|e| e.to_string()),
        other => Err(describe(other, &exchange)),
    };
    let info = match info {
        Ok(info) => {
            session.judge(Check::Lsps1GetInfo, &exchange, Verdict::Pass("every field present in its type".into()));
            info
        }
        Err(problem) => {
            session.judge(Check::Lsps1GetInfo, &exchange, Verdict::Fail(problem));
            session.skip_all(&CHECKS[1..], "lsps1.get_info gave nothing to order from");
            return;
        }
    };
    let limits = match info.validate() {
        Ok(()) => Verdict::Pass("min ≤ max everywhere".into()),
        Err(error) => Verdict::Fail(error.to_string()),
    };
    session.judge(Check::Lsps1GetInfoLimits, &exchange, limits);

    match smallest_order_request(&info) {
        Some(request) => order_checks(session, &request).await,
        None => session.skip_all(&CHECKS[2..10], "no order fits the get_info limits"),
    }

    let exchange =
        session.call("lsps1.get_order", json!({ "order_id": format!("inbound-check-{}", fresh_id()) })).await;
    let verdict = expect_code(&exchange, codes::NOT_FOUND);
    session.judge(Check::Lsps1GetOrderUnknown, &exchange, verdict);

    if let Some(mut request) = smallest_order_request(&info) {
        request.token = Some(format!("inbound-check-{}", fresh_id()));
        let exchange = session.call("lsps1.create_order", to_params(&request)).await;
        let verdict = expect_code(&exchange, codes::UNRECOGNIZED_OR_STALE_TOKEN);
        session.judge(Check::Lsps1UnknownToken, &exchange, verdict);
        range_checks(session, &info, &request).await;
    } else {
        session.skip_all(&CHECKS[11..], "no order fits the get_info limits");
    }
}

/// The smallest order the terms allow: the minimum client balance, an LSP balance that makes
/// the minimum channel, the least confirmations and funding target, a lease of at most 1008
/// blocks, no token and no refund address. `None` when the limits admit no order. The checks
/// order it unpaid; `inbound check --pay` orders and pays it.
pub fn smallest_order_request(info: &GetInfoResponse) -> Option<CreateOrderRequest> {
    let client = info.min_initial_client_balance_sat.get();
    let lsp =
        info.min_initial_lsp_balance_sat.get().max(1).max(info.min_channel_balance_sat.get().saturating_sub(client));
    let channel = lsp.checked_add(client)?;
    let fits = lsp <= info.max_initial_lsp_balance_sat.get() && channel <= info.max_channel_balance_sat.get();
    fits.then(|| info.order_request(lsp, client, info.max_channel_expiry_blocks.clamp(1, 1008), false))
}

fn to_params(request: &CreateOrderRequest) -> Value {
    serde_json::to_value(request).unwrap_or(Value::Null)
}

async fn order_checks(session: &mut Session<'_>, request: &CreateOrderRequest) {
    let exchange = session.call("lsps1.create_order", to_params(request)).await;
    let order = match &exchange.reply {
        Reply::Result(result) => {
            serde_json::from_value::<Order>(result.clone()).map_err(|e| format!("not an order: {e}"))
        }
        other => Err(expected("an order", other, &exchange)),
    };
    let order = match order {
        Ok(order) => {
            session.judge(Check::Lsps1CreateOrder, &exchange, Verdict::Pass(format!("order {}", order.order_id)));
            order
        }
        Err(problem) => {
            session.judge(Check::Lsps1CreateOrder, &exchange, Verdict::Fail(problem));
            session.skip_all(&CHECKS[3..10], "no order was created");
            return;
        }
    };
    let issues = check_order(&order, request).issues;
    let mirror: Vec<String> = issues
        .iter()
        .filter(|issue| matches!(issue, OrderIssue::MirrorMismatch { .. } | OrderIssue::OrderIdTooLong { .. }))
        .map(ToString::to_string)
        .collect();
    session.judge(Check::Lsps1OrderMirror, &exchange, pass_unless(&mirror, "every field mirrors the request"));

    let mut state = Vec::new();
    if order.order_state != OrderState::Created {
        state.push(format!("order_state is {:?}", order.order_state));
    }
    if order.channel.is_some() {
        state.push("channel is not null".to_owned());
    }
    for (option, payment_state) in payment_states(&order) {
        if payment_state != PaymentState::ExpectPayment {
            state.push(format!("payment.{option}.state is {payment_state:?}"));
        }
    }
    session.judge(Check::Lsps1OrderInitialState, &exchange, pass_unless(&state, "CREATED, EXPECT_PAYMENT, no channel"));

    let totals: Vec<String> = issues
        .iter()
        .filter(|issue| matches!(issue, OrderIssue::TotalMismatch { .. }))
        .map(ToString::to_string)
        .collect();
    session.judge(Check::Lsps1OrderTotals, &exchange, pass_unless(&totals, "every total is fee + client balance"));

    let invoice = match &order.payment.bolt11 {
        None => Verdict::Skip("no bolt11 option offered".into()),
        Some(bolt11) => check_invoice(&bolt11.invoice, bolt11.order_total_sat.get(), session.options.network),
    };
    session.judge(Check::Lsps1OrderInvoice, &exchange, invoice);

    let now = session.now();
    let expired: Vec<String> = [
        order.payment.bolt11.as_ref().map(|o| ("bolt11", o.expires_at)),
        order.payment.bolt12.as_ref().map(|o| ("bolt12", o.expires_at)),
        order.payment.onchain.as_ref().map(|o| ("onchain", o.expires_at)),
    ]
    .into_iter()
    .flatten()
    .filter(|(_, expires_at)| *expires_at <= now)
    .map(|(option, _)| format!("payment.{option}.expires_at is not in the future"))
    .collect();
    session.judge(Check::Lsps1OrderExpiresAt, &exchange, pass_unless(&expired, "every option expires in the future"));

    let onchain = if order.payment.onchain.is_some() {
        Verdict::Fail("payment.onchain offered to an order without refund_onchain_address".into())
    } else {
        Verdict::Pass("no on-chain option without a refund address".into())
    };
    session.judge(Check::Lsps1OrderNoOnchainWithoutRefund, &exchange, onchain);

    let exchange = session.call("lsps1.get_order", json!({ "order_id": order.order_id })).await;
    let verdict = match &exchange.reply {
        Reply::Result(result) => match serde_json::from_value::<Order>(result.clone()) {
            Ok(fetched) if fetched == order => Verdict::Pass("the same order".into()),
            Ok(_) => Verdict::Fail("get_order returned a different order".into()),
            Err(error) => Verdict::Fail(format!("not an order: {error}")),
        },
        other => Verdict::Fail(expected("the order", other, &exchange)),
    };
    session.judge(Check::Lsps1GetOrderSame, &exchange, verdict);
}

fn payment_states(order: &Order) -> Vec<(&'static str, PaymentState)> {
    [
        order.payment.bolt11.as_ref().map(|o| ("bolt11", o.state)),
        order.payment.bolt12.as_ref().map(|o| ("bolt12", o.state)),
        order.payment.onchain.as_ref().map(|o| ("onchain", o.state)),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn check_invoice(text: &str, order_total_sat: u64, network: Network) -> Verdict {
    let length = text.chars().count();
    if length > MAX_INVOICE_LEN {
        return Verdict::Fail(format!("the invoice is {length} characters long"));
    }
    let invoice = match Bolt11Invoice::from_str(text) {
        Ok(invoice) => invoice,
        Err(error) => return Verdict::Fail(format!("not a BOLT11 invoice: {error}")),
    };
    if invoice.currency() != Currency::from(network) {
        return Verdict::Fail(format!("the invoice is for {:?}, the LSP runs on {network}", invoice.currency()));
    }
    match (invoice.amount_milli_satoshis(), order_total_sat.checked_mul(1000)) {
        (Some(asked), Some(total)) if asked == total => {
            Verdict::Pass(format!("{order_total_sat} sat, {length} characters"))
        }
        (asked, _) => Verdict::Fail(format!("the invoice asks {asked:?} msat, order_total_sat is {order_total_sat}")),
    }
}

async fn range_checks(session: &mut Session<'_>, info: &GetInfoResponse, base: &CreateOrderRequest) {
    let above = |max: u64| max.checked_add(1);
    let cases: [(Check, Option<CreateOrderRequest>, &str); 5] = [
        (
            Check::Lsps1RangeLspBalance,
            above(info.max_initial_lsp_balance_sat.get())
                .map(|lsp| CreateOrderRequest { lsp_balance_sat: SatAmount(lsp), ..base.clone() }),
            "max_initial_lsp_balance_sat is the largest amount",
        ),
        (
            Check::Lsps1RangeClientBalance,
            above(info.max_initial_client_balance_sat.get())
                .map(|client| CreateOrderRequest { client_balance_sat: SatAmount(client), ..base.clone() }),
            "max_initial_client_balance_sat is the largest amount",
        ),
        (
            Check::Lsps1RangeExpiry,
            info.max_channel_expiry_blocks
                .checked_add(1)
                .map(|blocks| CreateOrderRequest { channel_expiry_blocks: blocks, ..base.clone() }),
            "max_channel_expiry_blocks is the largest number",
        ),
        (
            Check::Lsps1RangeConfirmations,
            info.min_required_channel_confirmations.checked_sub(1).map(|confirmations| CreateOrderRequest {
                required_channel_confirmations: confirmations,
                ..base.clone()
            }),
            "min_required_channel_confirmations is 0: nothing is below it",
        ),
        (
            Check::Lsps1RangeFundingTarget,
            info.min_funding_confirms_within_blocks
                .checked_sub(1)
                .filter(|blocks| *blocks >= 1)
                .map(|blocks| CreateOrderRequest { funding_confirms_within_blocks: blocks, ..base.clone() }),
            "min_funding_confirms_within_blocks is 1: no target in range is below it",
        ),
    ];
    for (check, request, why_not) in cases {
        let Some(request) = request else {
            session.record(check, Verdict::Skip(why_not.into()), None);
            continue;
        };
        let exchange = session.call("lsps1.create_order", to_params(&request)).await;
        let verdict = match &exchange.reply {
            Reply::Error { code: Some(code), data } if *code == i64::from(codes::OPTION_MISMATCH) => {
                match data.as_ref().and_then(|data| data.get("property")).and_then(Value::as_str) {
                    Some(property) if GET_INFO_FIELDS.contains(&property) => {
                        Verdict::Pass(format!("100, property {property}"))
                    }
                    Some(property) => {
                        Verdict::Fail(format!("100, but data.property {property:?} is no get_info field"))
                    }
                    None => Verdict::Fail("100 without data.property".into()),
                }
            }
            other => Verdict::Fail(expected("error 100", other, &exchange)),
        };
        session.judge(check, &exchange, verdict);
    }
}

/// Pass with `ok` when `problems` is empty, else fail listing them.
pub(crate) fn pass_unless(problems: &[String], ok: &str) -> Verdict {
    if problems.is_empty() {
        Verdict::Pass(ok.to_owned())
    } else {
        Verdict::Fail(problems.join("; "))
    }
}

/// Pass if the answer is error `code`.
pub(crate) fn expect_code(exchange: &Exchange, code: i32) -> Verdict {
    match &exchange.reply {
        Reply::Error { code: Some(got), .. } if *got == i64::from(code) => Verdict::Pass(format!("error {code}")),
        other => Verdict::Fail(expected(&format!("error {code}"), other, exchange)),
    }
}
