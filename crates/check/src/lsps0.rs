//! LSPS0 (bLIP-50): the feature bit, `lsps0.list_protocols`, ids, and what an LSP does with
//! unknown methods and parameters and with malformed payloads.

use lsps::framing::MAX_PAYLOAD_BYTES;
use lsps::jsonrpc::codes::{INVALID_PARAMS, METHOD_NOT_FOUND, PARSE_ERROR};
use serde_json::{json, Value};

use crate::catalogue::Check;
use crate::session::{fresh_id, Exchange, Reply, Session, Verdict};

/// LSPS0's checks.
pub(crate) const CHECKS: &[Check] = &[
    Check::Lsps0FeatureBit,
    Check::Lsps0ListProtocols,
    Check::Lsps0IdStringEcho,
    Check::Lsps0IdNumberEcho,
    Check::Lsps0MethodUnknown,
    Check::Lsps0ParamsUnknown,
    Check::Lsps0ErrorData,
    Check::Lsps0MaxPayload,
    Check::Lsps0FormatIncomplete,
    Check::Lsps0FormatNotObject,
    Check::Lsps0FormatBatch,
    Check::Lsps0FormatTwoValues,
    Check::Lsps0FormatNul,
    Check::Lsps0FormatNotRequest,
    Check::Lsps0FormatByPosition,
    Check::Lsps0KeepsServing,
    Check::Lsps0ResponseFormat,
];

/// The unknown parameter and method the checker sends.
const UNKNOWN_PARAM: &str = "inbound_check_unknown_param";
const UNKNOWN_METHOD: &str = "lsps0.inbound_check_no_such_method";

/// The feature bit and `lsps0.list_protocols`; returns the protocols the LSP listed.
pub(crate) async fn basics(session: &mut Session<'_>) -> Option<Vec<u16>> {
    let bit = match session.link().advertises_lsps() {
        Some(true) => Verdict::Pass("bit 729 is set in init".into()),
        Some(false) => Verdict::Fail("bit 729 is not set in init (it is optional)".into()),
        None => Verdict::Skip("this link cannot see the LSP's init".into()),
    };
    session.record(Check::Lsps0FeatureBit, bit, None);

    let exchange = session.call("lsps0.list_protocols", json!({})).await;
    let (verdict, protocols) = match &exchange.reply {
        Reply::Result(result) => {
            let (protocols, problems) = protocols_of(result);
            let verdict = if problems.is_empty() {
                Verdict::Pass(format!("protocols {protocols:?}"))
            } else {
                Verdict::Fail(problems.join("; "))
            };
            (verdict, Some(protocols))
        }
        other => (Verdict::Fail(describe(other, &exchange)), None),
    };
    let echoed = matches!(exchange.reply, Reply::Result(_) | Reply::Error { .. });
    session.judge(Check::Lsps0ListProtocols, &exchange, verdict);
    let echo = if echoed {
        Verdict::Pass("the answer to a string id carried that id".into())
    } else {
        Verdict::Fail(format!("no answer carried the request's id: {}", describe(&exchange.reply, &exchange)))
    };
    session.judge(Check::Lsps0IdStringEcho, &exchange, echo);
    protocols
}

/// The LSPS numbers listed (0 left out), and what is wrong with the list.
fn protocols_of(result: &Value) -> (Vec<u16>, Vec<String>) {
    let Some(list) = result.get("protocols").and_then(Value::as_array) else {
        return (Vec::new(), vec!["the result has no protocols array".into()]);
    };
    let mut protocols = Vec::new();
    let mut problems = Vec::new();
    for entry in list {
        match entry.as_u64().and_then(|number| u16::try_from(number).ok()) {
            Some(0) => problems.push("protocols lists 0 (LSPS0 is implied and never listed)".to_owned()),
            Some(number) => protocols.push(number),
            None => problems.push(format!("protocols holds {entry}, not an LSPS number")),
        }
    }
    (protocols, problems)
}

/// The unusual requests, each followed by a liveness probe: unknown method and parameter, a
/// numeric id, a maximum-size payload, and every kind of malformed payload.
pub(crate) async fn unusual(session: &mut Session<'_>) {
    let exchange = session.call_or_null("lsps0.list_protocols", json!({ UNKNOWN_PARAM: true })).await;
    let verdict = match &exchange.reply {
        Reply::Error { code: Some(code), data }
            if *code == i64::from(INVALID_PARAMS) && is_string(&exchange.answer_id) =>
        {
            let names = data.as_ref().and_then(|data| data.get("unrecognized")).and_then(Value::as_array);
            match names {
                Some(names) if names.iter().any(|name| name == UNKNOWN_PARAM) => {
                    Verdict::Pass("-32602 with the parameter in data.unrecognized".into())
                }
                Some(_) => Verdict::Fail("-32602, but data.unrecognized does not name the parameter".into()),
                None => Verdict::Fail("-32602 without data.unrecognized".into()),
            }
        }
        Reply::Result(_) => Verdict::Fail("the unknown parameter was ignored".into()),
        other => Verdict::Fail(expected("-32602", other, &exchange)),
    };
    session.judge(Check::Lsps0ParamsUnknown, &exchange, verdict);
    session.ensure_listening().await;

    let padding = "a".repeat(MAX_PAYLOAD_BYTES);
    let id = fresh_id();
    let mut payload = serde_json::to_vec(
        &json!({ "jsonrpc": "2.0", "id": id, "method": "lsps0.list_protocols", "params": { UNKNOWN_PARAM: "" } }),
    )
    .unwrap_or_default();
    let room = MAX_PAYLOAD_BYTES.saturating_sub(payload.len());
    let at = payload.len().saturating_sub(3); // before `""}}`'s closing quote
    payload.splice(at..at, padding.bytes().take(room));
    let exchange = session.exchange(payload, &[Value::String(id), Value::Null]).await;
    let verdict = match &exchange.reply {
        Reply::Result(_) | Reply::Error { .. } if exchange.answer_id != Some(Value::Null) => {
            Verdict::Pass(format!("a {MAX_PAYLOAD_BYTES}-byte request was answered"))
        }
        other => Verdict::Fail(format!("a {MAX_PAYLOAD_BYTES}-byte request: {}", describe(other, &exchange))),
    };
    session.judge(Check::Lsps0MaxPayload, &exchange, verdict);
    session.ensure_listening().await;

    let exchange = session.call_or_null(UNKNOWN_METHOD, json!({})).await;
    let verdict = match &exchange.reply {
        Reply::Error { code: Some(code), .. }
            if *code == i64::from(METHOD_NOT_FOUND) && is_string(&exchange.answer_id) =>
        {
            Verdict::Pass("-32601 with the request's id".into())
        }
        other => Verdict::Fail(expected("-32601", other, &exchange)),
    };
    session.judge(Check::Lsps0MethodUnknown, &exchange, verdict);
    session.ensure_listening().await;

    let number = u64::from(u32::from_str_radix(&fresh_id()[..6], 16).unwrap_or(7)) + 1;
    let payload =
        serde_json::to_vec(&json!({ "jsonrpc": "2.0", "id": number, "method": "lsps0.list_protocols", "params": {} }))
            .unwrap_or_default();
    let exchange = session.exchange(payload, &[json!(number), json!(number.to_string()), Value::Null]).await;
    let verdict = match (&exchange.reply, &exchange.answer_id) {
        (Reply::Result(_), Some(id)) if *id == json!(number) => {
            Verdict::Pass("the numeric id came back as a number".into())
        }
        (_, Some(id)) if *id == json!(number.to_string()) => {
            Verdict::Fail("the numeric id came back as a string".into())
        }
        (other, _) => Verdict::Fail(expected("the result with the numeric id", other, &exchange)),
    };
    session.judge(Check::Lsps0IdNumberEcho, &exchange, verdict);
    session.ensure_listening().await;

    malformed(session).await;
}

async fn malformed(session: &mut Session<'_>) {
    let request = |id: &str| json!({ "jsonrpc": "2.0", "id": id, "method": "lsps0.list_protocols", "params": {} });
    let id = fresh_id();
    let whole = serde_json::to_vec(&request(&id)).unwrap_or_default();
    let incomplete = whole.split_last().map_or_else(Vec::new, |(_, rest)| rest.to_vec());
    parse_error(session, Check::Lsps0FormatIncomplete, incomplete, &id, false).await;
    // Straight after the first garbage, on the same connection.
    let exchange = session.call("lsps0.list_protocols", json!({})).await;
    let verdict = match &exchange.reply {
        Reply::Result(_) => Verdict::Pass("answered a request right after a malformed message".into()),
        other => Verdict::Fail(format!("after a malformed message: {}", describe(other, &exchange))),
    };
    session.judge(Check::Lsps0KeepsServing, &exchange, verdict);
    session.ensure_listening().await;

    let id = fresh_id();
    let not_object = serde_json::to_vec(&Value::String(
        String::from_utf8_lossy(&serde_json::to_vec(&request(&id)).unwrap_or_default()).into_owned(),
    ))
    .unwrap_or_default();
    parse_error(session, Check::Lsps0FormatNotObject, not_object, &id, true).await;

    let id = fresh_id();
    let batch = serde_json::to_vec(&json!([request(&id)])).unwrap_or_default();
    parse_error(session, Check::Lsps0FormatBatch, batch, &id, true).await;

    let id = fresh_id();
    let one = serde_json::to_vec(&request(&id)).unwrap_or_default();
    let two = [one.as_slice(), b" ", one.as_slice()].concat();
    parse_error(session, Check::Lsps0FormatTwoValues, two, &id, true).await;

    let id = fresh_id();
    let nul = [serde_json::to_vec(&request(&id)).unwrap_or_default().as_slice(), b"\0"].concat();
    parse_error(session, Check::Lsps0FormatNul, nul, &id, true).await;

    let id = fresh_id();
    let response = serde_json::to_vec(&json!({ "jsonrpc": "2.0", "id": id, "result": {} })).unwrap_or_default();
    parse_error(session, Check::Lsps0FormatNotRequest, response, &id, true).await;

    let id = fresh_id();
    let by_position =
        serde_json::to_vec(&json!({ "jsonrpc": "2.0", "id": id, "method": "lsps0.list_protocols", "params": [] }))
            .unwrap_or_default();
    parse_error(session, Check::Lsps0FormatByPosition, by_position, &id, true).await;
}

/// Sends `payload` and expects -32700 with id null (an answer carrying `id` is matched too, to
/// report it).
/// With `then_listen`, makes sure the LSP listens again afterwards.
async fn parse_error(session: &mut Session<'_>, check: Check, payload: Vec<u8>, id: &str, then_listen: bool) {
    let exchange = session.exchange(payload, &[Value::Null, Value::String(id.to_owned())]).await;
    let verdict = match (&exchange.reply, &exchange.answer_id) {
        (Reply::Error { code: Some(code), .. }, Some(Value::Null)) if *code == i64::from(PARSE_ERROR) => {
            Verdict::Pass("-32700 with id null".into())
        }
        (Reply::Error { code, .. }, Some(answer_id)) => {
            Verdict::Fail(format!("error {} with id {answer_id}; expected -32700 with id null", code_text(*code)))
        }
        (other, _) => Verdict::Fail(expected("-32700 with id null", other, &exchange)),
    };
    session.judge(check, &exchange, verdict);
    if then_listen {
        session.ensure_listening().await;
    }
}

/// The checks over everything the LSP sent in the run: the format of its messages and the
/// shape of its errors' `data`.
pub(crate) fn conclude(session: &mut Session<'_>) {
    let (errors, bad_data) = session.error_data();
    let verdict = match (&bad_data, errors) {
        (Some(_), _) => Verdict::Fail("an error's data is not an object".into()),
        (None, 0) => Verdict::Skip("the LSP sent no error".into()),
        (None, errors) => Verdict::Pass(format!("data was an object or absent in all {errors} errors")),
    };
    session.record(Check::Lsps0ErrorData, verdict, bad_data);

    let (malformed, seen) = session.malformed();
    let first = malformed.first().cloned();
    let (_full, oversized) = session.dropped();
    let verdict = match (&first, oversized) {
        (Some(first), _) => {
            Verdict::Fail(format!("{} malformed message(s) seen; first: {}", malformed.len(), first.request))
        }
        (None, oversized) if oversized > 0 => {
            Verdict::Fail(format!("{oversized} message(s) larger than a BOLT8 message can carry"))
        }
        (None, _) if seen == 0 => Verdict::Skip("the LSP sent nothing".into()),
        (None, _) => Verdict::Pass(format!("all {seen} messages well-formed")),
    };
    session.record(Check::Lsps0ResponseFormat, verdict, first);
}

fn is_string(id: &Option<Value>) -> bool {
    matches!(id, Some(Value::String(_)))
}

fn code_text(code: Option<i64>) -> String {
    code.map_or_else(|| "without a numeric code".to_owned(), |code| code.to_string())
}

/// `wanted`, and what came instead.
pub(crate) fn expected(wanted: &str, reply: &Reply, exchange: &Exchange) -> String {
    format!("expected {wanted}, got {}", describe(reply, exchange))
}

/// What an answer was, in a few words.
pub(crate) fn describe(reply: &Reply, exchange: &Exchange) -> String {
    match reply {
        Reply::Result(_) => "a result".into(),
        Reply::Error { code, .. } if exchange.answer_id == Some(Value::Null) => {
            format!("error {} with id null", code_text(*code))
        }
        Reply::Error { code, .. } => format!("error {}", code_text(*code)),
        Reply::Malformed => "a message that is not a response".into(),
        Reply::Silent | Reply::Flooded | Reply::NotSent => exchange.evidence.response.clone(),
    }
}
