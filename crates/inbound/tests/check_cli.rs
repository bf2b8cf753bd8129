//! `inbound check` as a user runs it: against `inbound serve` (LSPS1, LSPS2 and LSPS5, a funded
//! wallet) on a bcoin regtest chain, every check passes, the signed `webhook_registered` POST to
//! the checker's receiver and the live checks of `--pay` (a JIT payment and a paid order)
//! included, with the report as JSON and as JUnit XML; a bad `--only` and
//! an unreachable LSP exit 2.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::lsp::{regtest_config, Serve};
use common::{inbound, write_file};
use inbound_check::CATALOGUE;
use inbound_regtest::Bcoin;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_serve_passes_every_check() {
    let bcoin = Bcoin::start().await.expect("bcoin regtest node");
    let dir = tempfile::tempdir().expect("tempdir");
    // The checker's webhook receiver: a certificate the LSP trusts, on loopback (which the LSP
    // may POST to in tests only). A minimum of one confirmation, so that there is a minimum to
    // go below (with 0 that check has nothing to test). Short LSPS1 windows (an order keeps trying to open until it
    // expires), so that the order for a node that refuses every channel is refunded within the
    // test.
    let (cert, key) = inbound_push_relay::self_signed_pem(&["localhost".to_owned()]).expect("a certificate");
    let cert_file = write_file(dir.path(), "receiver.pem", &cert);
    let key_file = write_file(dir.path(), "receiver.key", &key);
    let extra = format!(
        "[lsps]\nenabled = [\"lsps1\", \"lsps2\", \"lsps5\"]\n[http]\nenabled = true\nlisten = \"127.0.0.1:0\"\n[lsps1]\nmin_required_channel_confirmations = 1\npayment_window_secs = 60\nmin_open_window_secs = 5\nopen_retry_base_secs = 1\nopen_retry_max_secs = 2\n[lsps5]\nallow_private_destinations = true\nextra_ca_file = {:?}\n",
        cert_file.display().to_string()
    );
    let config = regtest_config(dir.path(), bcoin.rpc_url(), &extra);
    let mut lsp = Serve::start(dir.path(), &config);
    // Confirmed coins, so that the LSP offers JIT channels and the buy checks run.
    lsp.fund(&bcoin).await;

    let target = format!("{}@{}", lsp.node_id, lsp.listen);
    let junit = dir.path().join("check.xml");
    let output = inbound()
        .args(["check", "--lsp", &target, "--chain-url", bcoin.rpc_url(), "--json", "--junit"])
        .arg(&junit)
        .args(["--pay", "--refund-wait-secs", "150"])
        .args(["--webhook-listen", "127.0.0.1:0", "--webhook-tls-cert"])
        .arg(&cert_file)
        .arg("--webhook-tls-key")
        .arg(&key_file)
        .output()
        .expect("run inbound check");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}: {stdout}\n{}", output.status, String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_str(&stdout).expect("one JSON object");
    let findings = report["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), CATALOGUE.len());
    for finding in findings {
        assert_eq!(finding["outcome"], "PASS", "{finding}");
    }
    assert_eq!(report["protocols"], serde_json::json!([1, 2, 5]));
    let xml = std::fs::read_to_string(&junit).expect("the JUnit file");
    assert!(xml.contains("<testsuite name=\"lsps2\""), "{xml}");
    assert!(xml.contains(" failures=\"0\""), "{xml}");

    // The live checks' channels spent the LSP's confirmed coins; a block confirms its change, so
    // it sells JIT channels again.
    bcoin.mine(1, None).await.expect("a block");
    lsp.wait_for(&["balances"], "the LSP's change to confirm", |balances| {
        balances["onchain_confirmed_sat"].as_u64().is_some_and(|sat| sat > 1_000_000)
    })
    .await;

    // Only LSPS1, as a table: the other protocols' checks are skipped as not selected.
    let output = inbound()
        .args(["check", "--lsp", &target, "--chain-url", bcoin.rpc_url(), "--only", "lsps1"])
        .output()
        .expect("run inbound check");
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{table}");
    assert!(table.contains("PASS  MUST    lsps1.order.totals"), "{table}");
    assert!(table.contains("SKIP  MUST    lsps2.buy.mpp"), "{table}");
    assert!(table.contains("SKIP  MUST    lsps1.pay.refund"), "without --pay: {table}");
    assert!(table.contains("not selected (--only)"), "{table}");

    // Over the HTTP endpoint (no node, a random client key proven by signature): the same checks
    // pass, except what only a Lightning connection shows (bit 729 in `init`), the webhook POST
    // (no receiver this time) and the live checks (no --pay).
    let http_line = lsp.daemon.log.iter().find(|line| line.contains("HTTP endpoint listening")).expect("the HTTP line");
    let http_url = format!("http://{}/lsps", common::field(http_line, "http_listen").expect("http_listen="));
    let output = inbound().args(["check", "--lsp", &target, "--http", &http_url, "--json"]).output().expect("run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}: {stdout}\n{}", output.status, String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_str(&stdout).expect("one JSON object");
    for finding in report["findings"].as_array().expect("findings") {
        let skipped = [
            "lsps0.init.feature_bit",
            "lsps5.webhook_registered.posted",
            "lsps2.pay.jit_payment",
            "lsps2.pay.mpp_short",
            "lsps1.pay.order_completed",
            "lsps1.pay.refund",
        ];
        let wanted = if skipped.contains(&finding["check"].as_str().unwrap_or_default()) { "SKIP" } else { "PASS" };
        assert_eq!(finding["outcome"], wanted, "over HTTP: {finding}");
    }

    // A bad flag, and an LSP that is not there, are "could not run".
    let output = inbound().args(["check", "--lsp", &target, "--only", "lsps3"]).output().expect("run");
    assert_eq!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stderr));
    let closed = TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("its address");
    let nobody = format!("{}@{closed}", lsp.node_id);
    let output = inbound()
        .args(["check", "--lsp", &nobody, "--chain-url", bcoin.rpc_url(), "--timeout-secs", "2"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("connecting to"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    lsp.daemon.terminate();
    assert!(lsp.daemon.wait_exit(Duration::from_secs(30)).success());
}
