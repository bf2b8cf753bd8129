//! `inbound serve`'s logs: `--log-format json` writes one JSON object per line, LDK's own
//! records included (target `lightning::…`, the node's alias in the message); `RUST_LOG`
//! filters LDK by its module like any other target; a key set through the environment layer
//! (`INBOUND__NODE__ALIAS`) is used.

mod common;

use std::time::Duration;

use common::lsp::regtest_config;
use common::{inbound, Daemon};
use inbound::wallet::{start_wallet, WalletOptions};
use inbound_node::bitcoin::Network;
use inbound_node::BitcoindRpcConfig;
use inbound_regtest::Bcoin;
use serde_json::Value;

const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `inbound serve` with `RUST_LOG=rust_log` and `extra` arguments until a wallet has
/// connected, then stops it and returns every stderr line.
async fn run_once(bcoin: &Bcoin, dir: &std::path::Path, rust_log: &str, extra: &[&str]) -> Vec<String> {
    let config = regtest_config(dir, bcoin.rpc_url(), "");
    let mut command = inbound();
    command.args(extra).arg("serve").arg("--config").arg(&config);
    command.env("RUST_LOG", rust_log).env("INBOUND__NODE__ALIAS", "env-alias");
    let mut daemon = Daemon::spawn(command);
    let line = daemon.wait_for_line("LSP started", START_TIMEOUT);
    // Text lines carry `node_id=…`; JSON lines carry it as a field.
    let node_id = match serde_json::from_str::<Value>(&line) {
        Ok(json) => json["fields"]["node_id"].as_str().map(str::to_owned),
        Err(_) => common::field(&line, "node_id").map(str::to_owned),
    };
    let node_id = node_id.and_then(|id| id.parse().ok()).expect("node id");
    let listen = daemon.log.iter().rev().find_map(|line| {
        let json = serde_json::from_str::<Value>(line).ok();
        let text = json.as_ref().and_then(|json| json["fields"]["listen"].as_str()).map(str::to_owned);
        text.or_else(|| common::field(line, "listen").map(str::to_owned))
    });
    let listen = listen.and_then(|address| address.parse().ok()).expect("listen address");
    let wallet = start_wallet(WalletOptions {
        data_dir: dir.join("wallet"),
        network: Network::Regtest,
        alias: "wallet".into(),
        chain: BitcoindRpcConfig::new(bcoin.rpc_url()),
    })
    .await
    .expect("wallet");
    wallet.node.connect_peer(node_id, listen, false).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(500)).await;
    wallet.stop().await.expect("stop wallet");
    daemon.terminate();
    let status = daemon.wait_exit(STOP_TIMEOUT);
    assert!(status.success(), "exit status {status}; log:\n{}", daemon.log.join("\n"));
    daemon.log.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_ldk_records_and_rust_log_filters_them_by_module() {
    let bcoin = Bcoin::start().await.expect("bcoin regtest node");
    let dir = tempfile::tempdir().expect("tempdir");

    let json = run_once(&bcoin, dir.path(), "info,lightning=debug", &["--log-format", "json"]).await;
    let parsed: Vec<Value> = json
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}")))
        .collect();
    let started = parsed.iter().find(|line| line["fields"]["message"] == "LSP started").expect("LSP started");
    assert_eq!(started["level"], "INFO");
    assert_eq!(started["target"], "inbound::serve");
    let ldk = parsed
        .iter()
        .filter(|line| line["target"].as_str().is_some_and(|target| target.starts_with("lightning")))
        .collect::<Vec<_>>();
    assert!(!ldk.is_empty(), "LDK's records go through tracing: {json:#?}");
    assert!(
        ldk.iter().all(|line| line["fields"]["message"].as_str().is_some_and(|m| m.starts_with("[env-alias] "))),
        "the alias from INBOUND__NODE__ALIAS: {ldk:#?}"
    );

    let quiet = run_once(&bcoin, dir.path(), "info,lightning=off", &[]).await;
    assert!(quiet.iter().any(|line| line.contains("LSP started")), "{quiet:#?}");
    assert!(!quiet.iter().any(|line| line.contains(" lightning::")), "RUST_LOG=lightning=off silences LDK: {quiet:#?}");
}
