//! Tables for people of the admin API's JSON answers (`inbound admin` without `--json`).

use serde_json::Value;

/// A JSON value as a table cell: strings without quotes, `null` as `-`.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A node id shortened to its first 12 hex digits.
fn short(value: &Value) -> String {
    let text = cell(value);
    match text.get(..12) {
        Some(start) if text.len() > 16 => format!("{start}…"),
        _ => text,
    }
}

/// Left-aligned columns, two spaces apart.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|header| header.chars().count()).collect();
    for row in rows {
        for (width, text) in widths.iter_mut().zip(row) {
            *width = (*width).max(text.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> =
            cells.iter().zip(&widths).map(|(text, width)| format!("{text:<width$}", width = *width)).collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(headers.iter().map(|header| (*header).to_owned()).collect());
    for row in rows {
        out.push_str(&line(row.clone()));
    }
    out
}

fn items(answer: &Value) -> &[Value] {
    answer.get("items").or(Some(answer)).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn unreadable(answer: &Value) -> String {
    let lines = answer.get("unreadable").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    lines.iter().map(|line| format!("unreadable: {}\n", cell(line))).collect()
}

/// `key: value` lines of an object.
pub fn fields(answer: &Value) -> String {
    match answer.as_object() {
        Some(object) => object.iter().map(|(key, value)| format!("{key}: {}\n", cell(value))).collect(),
        None => format!("{}\n", cell(answer)),
    }
}

/// `/v1/node`.
pub fn info(answer: &Value) -> String {
    let mut summary = answer.clone();
    if let Some(peers) = summary.get_mut("peers") {
        *peers = Value::from(peers.as_array().map_or(0, Vec::len));
    }
    fields(&summary)
}

/// `/v1/channels`.
pub fn channels(answer: &Value) -> String {
    let rows: Vec<Vec<String>> = items(answer)
        .iter()
        .map(|channel| {
            ["short_channel_id", "peer", "state", "capacity_sat", "outbound_msat", "inbound_msat", "public"]
                .iter()
                .map(|key| if *key == "peer" { short(&channel[*key]) } else { cell(&channel[*key]) })
                .collect()
        })
        .collect();
    table(&["SCID", "PEER", "STATE", "CAPACITY_SAT", "OUTBOUND_MSAT", "INBOUND_MSAT", "PUBLIC"], &rows)
}

/// `/v1/orders`.
pub fn orders(answer: &Value) -> String {
    let rows: Vec<Vec<String>> = items(answer)
        .iter()
        .map(|order| {
            vec![
                cell(&order["order_id"]),
                cell(&order["state"]),
                short(&order["client"]),
                cell(&order["lsp_balance_sat"]),
                cell(&order["client_balance_sat"]),
                cell(&order["payment"]),
                cell(&order["fee_sat"]),
                cell(&order["fee_earned_sat"]),
            ]
        })
        .collect();
    table(&["ORDER_ID", "STATE", "CLIENT", "LSP_SAT", "CLIENT_SAT", "PAID_BY", "FEE_SAT", "EARNED_SAT"], &rows)
        + &unreadable(answer)
}

/// `/v1/sessions`.
pub fn sessions(answer: &Value) -> String {
    let rows: Vec<Vec<String>> = items(answer)
        .iter()
        .map(|session| {
            vec![
                cell(&session["session_id"]),
                cell(&session["state"]),
                short(&session["client"]),
                cell(&session["intercept_scid"]),
                cell(&session["payment_size_msat"]),
                cell(&session["fee_earned_msat"]),
                cell(&session["held_htlcs"]),
            ]
        })
        .collect();
    table(&["SESSION_ID", "STATE", "CLIENT", "SCID", "PAYMENT_MSAT", "EARNED_MSAT", "HELD"], &rows)
        + &unreadable(answer)
}

/// `/v1/orders/{id}` and `/v1/sessions/{id}`: the summary, then the history.
pub fn detail(answer: &Value) -> String {
    let mut summary = answer.clone();
    if let Some(object) = summary.as_object_mut() {
        for key in ["history", "body", "wire"] {
            object.remove(key);
        }
    }
    let rows: Vec<Vec<String>> = items(&answer["history"])
        .iter()
        .map(|entry| {
            vec![
                cell(&entry["seq"]),
                cell(&entry["at_unix_ms"]),
                cell(&entry["from_state"]),
                cell(&entry["to_state"]),
                {
                    let detail = &entry["detail"];
                    detail.get("input").map(cell).unwrap_or_else(|| detail.to_string())
                },
            ]
        })
        .collect();
    fields(&summary) + "\n" + &table(&["SEQ", "AT_UNIX_MS", "FROM", "TO", "WHY"], &rows)
}

/// `/v1/clients`: one row per client, `total/unfinished` per kind.
pub fn clients(answer: &Value) -> String {
    let kinds = ["lsps1_order", "lsps2_session", "lsps5_webhook", "held_htlc"];
    let rows: Vec<Vec<String>> = items(answer)
        .iter()
        .map(|client| {
            let mut row = vec![short(&client["client"]), cell(&client["last_activity_unix_ms"])];
            for kind in kinds {
                let count = &client["flows"][kind];
                row.push(match count.is_null() {
                    true => "-".to_owned(),
                    false => format!("{}/{}", cell(&count["total"]), cell(&count["active"])),
                });
            }
            row.push(cell(&client["banned"]));
            row
        })
        .collect();
    table(&["CLIENT", "LAST_ACTIVITY_MS", "ORDERS", "SESSIONS", "WEBHOOKS", "HELD", "BANNED"], &rows)
}

/// `/v1/clients/banned`.
pub fn bans(answer: &Value) -> String {
    let rows: Vec<Vec<String>> = items(answer)
        .iter()
        .map(|ban| vec![cell(&ban["client"]), cell(&ban["since_unix_ms"]), cell(&ban["reason"])])
        .collect();
    table(&["CLIENT", "SINCE_UNIX_MS", "REASON"], &rows)
}

/// `/v1/flows`.
pub fn flows(answer: &Value) -> String {
    let mut rows = Vec::new();
    for kind in items(answer) {
        for state in items(&kind["states"]) {
            rows.push(vec![
                cell(&kind["kind"]),
                cell(&state["state"]),
                cell(&state["terminal"]),
                cell(&state["count"]),
            ]);
        }
    }
    table(&["KIND", "STATE", "TERMINAL", "COUNT"], &rows)
}

/// `/v1/vouchers`.
pub fn vouchers(answer: &Value) -> String {
    let rows: Vec<Vec<String>> = items(answer)
        .iter()
        .map(|voucher| {
            vec![
                short(&voucher["id"]),
                cell(&voucher["batch"]),
                cell(&voucher["state"]),
                cell(&voucher["lsp_balance_sat"]),
                cell(&voucher["channel_expiry_blocks"]),
                cell(&voucher["claims"]),
                short(&voucher["client"]),
                cell(&voucher["order_id"]),
            ]
        })
        .collect();
    table(&["ID", "BATCH", "STATE", "LSP_SAT", "LEASE_BLOCKS", "CLAIMS", "CLIENT", "ORDER"], &rows)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn tables_align_columns_and_show_missing_values_as_dashes() {
        let answer = json!({"items": [
            {"order_id": "a1", "state": "completed", "client": "02".repeat(33), "lsp_balance_sat": 100000,
             "client_balance_sat": 0, "payment": "lightning", "fee_sat": 1250, "fee_earned_sat": 1250},
            {"order_id": "b22222", "state": "awaiting_payment", "client": "03aa", "lsp_balance_sat": 5,
             "client_balance_sat": 0, "payment": null, "fee_sat": null, "fee_earned_sat": 0}
        ], "unreadable": ["lsps1_order x: bad"]});
        let text = super::orders(&answer);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("ORDER_ID  STATE             CLIENT"), "{text}");
        assert!(lines[1].starts_with("a1        completed         020202020202…  100000"), "{text}");
        assert!(lines[2].contains("03aa") && lines[2].contains(" -  "), "{text}");
        assert_eq!(lines[3], "unreadable: lsps1_order x: bad");
    }
}
