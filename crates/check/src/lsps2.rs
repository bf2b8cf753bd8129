//! LSPS2 (bLIP-52): the fee menu, its promises, two unpaid buys (one per MPP mode) and every
//! refusal `lsps2.buy` owes a client, provoked with changed copies of a menu entry.

use lsps::lsps2::{check_menu, codes, opening_fee_msat, BuyResponse, OpeningFeeParams};
use lsps::schema::DateTime;
use serde_json::{json, Map, Value};

use crate::catalogue::Check;
use crate::lsps0::{describe, expected};
use crate::lsps1::{expect_code, pass_unless};
use crate::session::{fresh_id, Reply, Session, Verdict};

/// LSPS2's checks.
pub(crate) const CHECKS: &[Check] = &[
    Check::Lsps2GetInfo,
    Check::Lsps2MenuOrder,
    Check::Lsps2ValidUntil,
    Check::Lsps2Promise,
    Check::Lsps2UnknownToken,
    Check::Lsps2BuyMpp,
    Check::Lsps2BuyNoMpp,
    Check::Lsps2ScidUnique,
    Check::Lsps2TamperedPromise,
    Check::Lsps2TamperedParams,
    Check::Lsps2Expired,
    Check::Lsps2SizeBelowMin,
    Check::Lsps2SizeAboveMax,
    Check::Lsps2FeeOverflow,
    Check::Lsps2JitPayment,
    Check::Lsps2MppShort,
];

/// The keys of an `opening_fee_params`, exactly (bLIP-52: no more, no fewer).
const ENTRY_KEYS: &[&str] = &[
    "min_fee_msat",
    "proportional",
    "valid_until",
    "min_lifetime",
    "max_client_to_self_delay",
    "min_payment_size_msat",
    "max_payment_size_msat",
    "promise",
];

const MAX_PROMISE_BYTES: usize = 512;
const MIN_VALIDITY_SECS: u64 = 600;

pub(crate) async fn run(session: &mut Session<'_>) {
    let exchange = session.call("lsps2.get_info", json!({})).await;
    let raw_menu: Result<Vec<Map<String, Value>>, String> = match &exchange.reply {
        Reply::Result(result) => match result.get("opening_fee_params_menu").and_then(Value::as_array) {
            Some(entries) => entries
                .iter()
                .map(|entry| entry.as_object().cloned().ok_or_else(|| "a menu entry is not an object".to_owned()))
                .collect(),
            None => Err("the result has no opening_fee_params_menu array".into()),
        },
        other => Err(describe(other, &exchange)),
    };
    let raw_menu = match raw_menu {
        Ok(menu) => menu,
        Err(problem) => {
            session.judge(Check::Lsps2GetInfo, &exchange, Verdict::Fail(problem));
            session.skip_all(&CHECKS[1..], "lsps2.get_info gave no menu");
            return;
        }
    };
    let mut shape = Vec::new();
    let mut menu = Vec::new();
    for (index, entry) in raw_menu.iter().enumerate() {
        let extra: Vec<&String> = entry.keys().filter(|key| !ENTRY_KEYS.contains(&key.as_str())).collect();
        if !extra.is_empty() {
            shape.push(format!("entry {index} has keys the spec does not define: {extra:?}"));
        }
        match serde_json::from_value::<OpeningFeeParams>(Value::Object(entry.clone())) {
            Ok(params) => menu.push(params),
            Err(error) if extra.is_empty() => shape.push(format!("entry {index}: {error}")),
            Err(_) => {}
        }
    }
    session.judge(Check::Lsps2GetInfo, &exchange, pass_unless(&shape, &format!("{} menu entries", raw_menu.len())));

    let order = match check_menu(&menu) {
        Ok(()) => Verdict::Pass("each entry costs more than the one before".into()),
        Err(error) => Verdict::Fail(error.to_string()),
    };
    session.judge(Check::Lsps2MenuOrder, &exchange, order);

    let now = session.now();
    let soon: Vec<String> = menu
        .iter()
        .enumerate()
        .filter(|(_, params)| params.valid_until <= now || params.valid_until.secs_since(&now) < MIN_VALIDITY_SECS)
        .map(|(index, params)| format!("entry {index} is valid for {} s", params.valid_until.secs_since(&now)))
        .collect();
    session.judge(Check::Lsps2ValidUntil, &exchange, pass_unless(&soon, "every entry valid for 10 minutes or more"));

    let promises: Vec<String> = raw_menu
        .iter()
        .enumerate()
        .filter_map(|(index, entry)| {
            promise_problem(entry.get("promise")).map(|problem| format!("entry {index}: {problem}"))
        })
        .collect();
    session.judge(Check::Lsps2Promise, &exchange, pass_unless(&promises, "short printable ASCII"));

    let exchange = session.call("lsps2.get_info", json!({ "token": format!("inbound-check-{}", fresh_id()) })).await;
    let verdict = expect_code(&exchange, codes::UNRECOGNIZED_OR_STALE_TOKEN);
    session.judge(Check::Lsps2UnknownToken, &exchange, verdict);

    match (raw_menu.first(), menu.first()) {
        (Some(raw), Some(params)) if raw_menu.len() == menu.len() => buys(session, raw, params).await,
        (None, _) => session.skip_all(&CHECKS[5..], "the menu is empty"),
        _ => session.skip_all(&CHECKS[5..], "the menu's entries do not decode"),
    }
}

fn promise_problem(promise: Option<&Value>) -> Option<String> {
    let Some(Value::String(promise)) = promise else {
        return Some("no promise string".into());
    };
    if promise.len() > MAX_PROMISE_BYTES {
        return Some(format!("the promise is {} bytes", promise.len()));
    }
    let escapes = |c: char| !(' '..='~').contains(&c) || c == '"' || c == '\\';
    promise.chars().any(escapes).then(|| "the promise holds characters outside printable ASCII, or \" or \\".into())
}

/// A payment size in the entry's range whose fee is below it.
fn good_size(params: &OpeningFeeParams) -> Option<u64> {
    let (min, max) = (params.min_payment_size_msat.get(), params.max_payment_size_msat.get());
    let fits = |size: u64| {
        opening_fee_msat(size, params.min_fee_msat.get(), params.proportional.get()).is_ok_and(|fee| fee < size)
    };
    [min, max.min(min.saturating_mul(2)), max].into_iter().find(|size| *size >= min && *size <= max && fits(*size))
}

async fn buys(session: &mut Session<'_>, raw: &Map<String, Value>, params: &OpeningFeeParams) {
    let entry = Value::Object(raw.clone());
    let mut scids = Vec::new();
    match good_size(params) {
        Some(size) => {
            let request = json!({ "opening_fee_params": entry, "payment_size_msat": size.to_string() });
            let exchange = session.call("lsps2.buy", request).await;
            let verdict = buy_verdict(&exchange.reply, &exchange, &mut scids);
            session.judge(Check::Lsps2BuyMpp, &exchange, verdict);
        }
        None => session.record(
            Check::Lsps2BuyMpp,
            Verdict::Skip("no size in the first entry's range exceeds its fee".into()),
            None,
        ),
    }
    let exchange = session.call("lsps2.buy", json!({ "opening_fee_params": entry })).await;
    let verdict = buy_verdict(&exchange.reply, &exchange, &mut scids);
    session.judge(Check::Lsps2BuyNoMpp, &exchange, verdict);
    let unique = match scids.as_slice() {
        [first, second] if first == second => Verdict::Fail(format!("both buys got {first}")),
        [first, second] => Verdict::Pass(format!("{first} and {second}")),
        _ => Verdict::Skip("fewer than two buys succeeded".into()),
    };
    session.record(Check::Lsps2ScidUnique, unique, None);

    let mut tampered = raw.clone();
    let promise = raw.get("promise").and_then(Value::as_str).unwrap_or_default();
    tampered.insert("promise".into(), Value::String(flip_last(promise)));
    refused(
        session,
        Check::Lsps2TamperedPromise,
        json!({ "opening_fee_params": tampered }),
        codes::INVALID_OPENING_FEE_PARAMS,
    )
    .await;

    let mut tampered = raw.clone();
    let fee = params.min_fee_msat.get();
    let lowered = if fee > 0 { fee - 1 } else { 1 };
    tampered.insert("min_fee_msat".into(), Value::String(lowered.to_string()));
    refused(
        session,
        Check::Lsps2TamperedParams,
        json!({ "opening_fee_params": tampered }),
        codes::INVALID_OPENING_FEE_PARAMS,
    )
    .await;

    let mut expired = raw.clone();
    let an_hour_ago =
        DateTime::from_unix_secs(session.now().unix_secs().saturating_sub(3600)).unwrap_or(DateTime::UNIX_EPOCH);
    expired.insert("valid_until".into(), serde_json::to_value(an_hour_ago).unwrap_or(Value::Null));
    refused(session, Check::Lsps2Expired, json!({ "opening_fee_params": expired }), codes::INVALID_OPENING_FEE_PARAMS)
        .await;

    match params.min_payment_size_msat.get().checked_sub(1) {
        Some(size) => {
            let request = json!({ "opening_fee_params": entry, "payment_size_msat": size.to_string() });
            refused(session, Check::Lsps2SizeBelowMin, request, codes::PAYMENT_SIZE_TOO_SMALL).await;
        }
        None => session.record(Check::Lsps2SizeBelowMin, Verdict::Skip("min_payment_size_msat is 0".into()), None),
    }
    match params.max_payment_size_msat.get().checked_add(1) {
        Some(size) => {
            let request = json!({ "opening_fee_params": entry, "payment_size_msat": size.to_string() });
            refused(session, Check::Lsps2SizeAboveMax, request, codes::PAYMENT_SIZE_TOO_LARGE).await;
        }
        None => session.record(
            Check::Lsps2SizeAboveMax,
            Verdict::Skip("max_payment_size_msat is the largest u64".into()),
            None,
        ),
    }
    if opening_fee_msat(u64::MAX, params.min_fee_msat.get(), params.proportional.get()).is_err() {
        let request = json!({ "opening_fee_params": entry, "payment_size_msat": u64::MAX.to_string() });
        refused(session, Check::Lsps2FeeOverflow, request, codes::PAYMENT_SIZE_TOO_LARGE).await;
    } else {
        session.record(Check::Lsps2FeeOverflow, Verdict::Skip("proportional is 0: no fee overflows".into()), None);
    }
}

fn buy_verdict(reply: &Reply, exchange: &crate::session::Exchange, scids: &mut Vec<String>) -> Verdict {
    let Reply::Result(result) = reply else {
        return Verdict::Fail(expected("a buy result", reply, exchange));
    };
    match serde_json::from_value::<BuyResponse>(result.clone()) {
        Ok(buy) if buy.lsp_cltv_expiry_delta > u32::from(u16::MAX) => {
            Verdict::Fail(format!("lsp_cltv_expiry_delta {} does not fit a route hint", buy.lsp_cltv_expiry_delta))
        }
        Ok(buy) => {
            let scid = buy.jit_channel_scid.to_string();
            scids.push(scid.clone());
            Verdict::Pass(format!(
                "SCID {scid}, CLTV delta {}, client_trusts_lsp {}",
                buy.lsp_cltv_expiry_delta, buy.client_trusts_lsp
            ))
        }
        Err(error) => Verdict::Fail(format!("not a buy result: {error}")),
    }
}

async fn refused(session: &mut Session<'_>, check: Check, request: Value, code: i32) {
    let exchange = session.call("lsps2.buy", request).await;
    let verdict = expect_code(&exchange, code);
    session.judge(check, &exchange, verdict);
}

/// `promise` with its last character changed (to another printable one).
fn flip_last(promise: &str) -> String {
    let mut chars: Vec<char> = promise.chars().collect();
    match chars.last_mut() {
        Some(last) => *last = if *last == '0' { '1' } else { '0' },
        None => chars.push('0'),
    }
    chars.into_iter().collect()
}
