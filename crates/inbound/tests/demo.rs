//! End to end: `inbound demo` (the debug binary) starts bcoin, the LSP, a wallet and a payer,
//! runs every flow and prints one JSON object on stdout.

mod common;

use std::time::{Duration, Instant};

use common::inbound;
use serde_json::Value;

const DEMO_TIMEOUT: Duration = Duration::from_secs(600);

#[test]
fn demo_runs_every_flow_and_prints_one_json_summary() {
    let started = Instant::now();
    let mut command = inbound();
    command.arg("demo").env("RUST_LOG", "warn");
    let output = run_with_timeout(command, DEMO_TIMEOUT);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "demo failed ({}):\n{stderr}", output.status);

    let summary: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {}", String::from_utf8_lossy(&output.stdout)));
    assert!(summary.get("error").is_none(), "{summary}");
    assert_eq!(summary["lsps0"]["protocols"], serde_json::json!([1, 2, 5]), "{summary}");
    assert_eq!(summary["chain"]["backend"], "bcoin");
    assert!(summary["chain"]["height"].as_u64().is_some_and(|height| height > 432 + 100), "{summary}");
    assert_eq!(summary["channel"]["payer_lsp_capacity_sat"], 1_000_000);
    assert_eq!(summary["channel"]["funding_txid"].as_str().map(str::len), Some(64), "{summary}");
    assert_eq!(summary["payment"]["amount_msat"], 50_000_000);
    let lsps2 = &summary["lsps2"];
    let msat = |key: &str| lsps2[key].as_u64().unwrap_or_else(|| panic!("lsps2.{key} missing: {summary}"));
    assert_eq!(msat("paid_msat"), 50_000_000, "{summary}");
    assert!(msat("fee_msat") > 0, "{summary}");
    assert_eq!(msat("received_msat") + msat("fee_msat"), msat("paid_msat"), "{summary}");
    assert!(msat("channel_capacity_sat") * 1000 >= msat("received_msat"), "{summary}");
    assert_eq!(lsps2["funding_txid"].as_str().map(str::len), Some(64), "{summary}");
    assert!(msat("funding_confirmations") >= 1, "{summary}");
    let lsps1 = &summary["lsps1"];
    let sat = |key: &str| lsps1[key].as_u64().unwrap_or_else(|| panic!("lsps1.{key} missing: {summary}"));
    assert_eq!(lsps1["order_state"], "COMPLETED", "{summary}");
    assert_eq!(lsps1["payment_method"], "bolt11", "{summary}");
    assert_eq!(lsps1["order_id"].as_str().map(str::len), Some(36), "{summary}");
    assert_eq!(sat("lsp_balance_sat"), 200_000, "{summary}");
    assert_eq!(sat("client_balance_sat"), 10_000, "{summary}");
    assert_eq!(sat("channel_capacity_sat"), sat("lsp_balance_sat") + sat("client_balance_sat"), "{summary}");
    assert!(sat("fee_total_sat") > 0, "{summary}");
    assert_eq!(sat("order_total_sat"), sat("client_balance_sat") + sat("fee_total_sat"), "{summary}");
    assert_eq!(lsps1["funding_txid"].as_str().map(str::len), Some(64), "{summary}");
    assert_ne!(lsps1["funding_txid"], lsps2["funding_txid"], "{summary}");
    let lsps5 = &summary["lsps5"];
    let number = |key: &str| lsps5[key].as_u64().unwrap_or_else(|| panic!("lsps5.{key} missing: {summary}"));
    assert_eq!(number("webhooks_registered"), 1, "{summary}");
    assert_eq!(number("notifications_received"), 2, "webhook_registered and payment_incoming: {summary}");
    assert_eq!(lsps5["signatures_valid"], true, "{summary}");
    assert_eq!(
        number("paid_after_wake_msat"),
        msat("received_msat"),
        "the same JIT offer, paid after the wake: {summary}"
    );
    assert!(number("wake_to_paid_ms") > 0, "{summary}");
    let operator = &summary["operator"];
    let count = |key: &str| operator[key].as_u64().unwrap_or_else(|| panic!("operator.{key} missing: {summary}"));
    assert_eq!(count("orders_listed"), 1, "the demo's one LSPS1 order: {summary}");
    assert_eq!(count("sessions_listed"), 2, "the two paid JIT invoices: {summary}");
    assert!(count("metrics_families") >= 10, "{summary}");
    // Fees: the LSPS1 order's, the payer's JIT payment's, and the woken wallet's JIT payment's.
    let jit_fees = 2 * msat("fee_msat");
    assert_eq!(count("fees_earned_msat"), sat("fee_total_sat") * 1000 + jit_fees, "{summary}");
    assert_eq!(operator["ready"], true, "{summary}");
    // A prepaid voucher claimed by LNURL-channel: its channel delivered by a voucher-paid LSPS1
    // order; the same voucher refused to a second node.
    let vouchers = &summary["vouchers"];
    assert_eq!(vouchers["order_state"], "completed", "{summary}");
    assert_eq!(vouchers["channel_capacity_sat"], 150_000, "{summary}");
    assert!(vouchers["lnurl"].as_str().is_some_and(|lnurl| lnurl.starts_with("LNURL1")), "{summary}");
    assert_eq!(vouchers["voucher_id"].as_str().map(str::len), Some(64), "{summary}");
    assert!(vouchers["reuse_refused"].as_str().is_some_and(|why| why.contains("already been claimed")), "{summary}");
    // A channel bought as the web widget buys it: the quote is what the order charged.
    let widget = &summary["widget"];
    assert_eq!(widget["order_state"], "COMPLETED", "{summary}");
    assert_eq!(widget["quoted_fee_sat"], widget["order_fee_sat"], "{summary}");
    assert!(widget["content_security_policy"].as_str().is_some_and(|csp| !csp.contains("unsafe")), "{summary}");
    assert!(widget["funding_outpoint"].as_str().is_some_and(|outpoint| outpoint.contains(':')), "{summary}");
    // The conformance checker against the demo's own LSP: every catalogue entry, no MUST broken.
    let check = &summary["check"];
    let outcome = |key: &str| check[key].as_u64().unwrap_or_else(|| panic!("check.{key} missing: {summary}"));
    assert_eq!(outcome("fail"), 0, "{summary}");
    let total = outcome("pass") + outcome("fail") + outcome("warn") + outcome("skip");
    assert_eq!(total, inbound_check::CATALOGUE.len() as u64, "{summary}");
    // Skipped: the check below the minimum confirmations (the demo's LSP asks for none) and the
    // four live checks (the demo runs the checker without --pay).
    assert_eq!(outcome("skip"), 5, "{summary}");
    assert_eq!(outcome("warn"), 0, "{summary}");
    // Progress went to stderr, with every step and the total.
    assert!(stderr.contains("pay an LSP invoice (payer→LSP): ok"), "{stderr}");
    assert!(stderr.contains("pay a JIT invoice (payer→LSP→new channel→wallet): ok"), "{stderr}");
    assert!(stderr.contains("buy a channel by LSPS1 (wallet orders, payer pays the hold invoice): ok"), "{stderr}");
    assert!(stderr.contains("push relay: verified lsps5.payment_incoming"), "{stderr}");
    assert!(stderr.contains("all flows passed"), "{stderr}");
    println!("demo_runs_every_flow_and_prints_one_json_summary took {:?}", started.elapsed());
}

/// Runs `command` to completion, killing it after `timeout`.
fn run_with_timeout(mut command: std::process::Command, timeout: Duration) -> std::process::Output {
    use std::process::Stdio;
    let child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn inbound demo");
    let pid = child.id();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match receiver.recv_timeout(timeout) {
        Ok(output) => output.expect("demo output"),
        Err(_) => {
            if let Ok(pid) = libc::pid_t::try_from(pid) {
                // SAFETY: kill(2) on the child we spawned; it has not been reaped (wait is pending).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            panic!("inbound demo did not finish within {timeout:?}");
        }
    }
}
