//! `inbound client order --pay onchain` (a child process) against `inbound serve` with LSPS1 (a
//! child process) on a bcoin regtest chain: the CLI's wallet, funded beforehand in its data
//! directory, orders a channel, pays the deposit address, and waits until the order is
//! COMPLETED and the channel ready at the wallet, while the test mines a block every second.

mod common;

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{field, inbound, write_file, Daemon};
use inbound::wallet::{start_wallet, WalletOptions};
use inbound_node::bitcoin::secp256k1::PublicKey;
use inbound_node::bitcoin::{Address, Network};
use inbound_node::BitcoindRpcConfig;
use inbound_regtest::{Bcoin, COINBASE_MATURITY};
use serde_json::Value;

const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_order_paid_on_chain_completes() {
    let bcoin = Bcoin::start().await.expect("bcoin regtest node");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_file(
        dir.path(),
        "inbound.toml",
        &format!(
            "network = \"regtest\"\ndata_dir = {:?}\n[node]\nlisten = \"127.0.0.1:0\"\n\
             [chain]\nurl = {:?}\npoll_interval_secs = 1\n[lsps]\nenabled = [\"lsps1\"]\n",
            dir.path().join("lsp").display().to_string(),
            bcoin.rpc_url()
        ),
    );
    let mut command = inbound();
    command.arg("serve").arg("--config").arg(&config);
    let mut daemon = Daemon::spawn(command);
    let line = daemon.wait_for_line("LSP started", START_TIMEOUT);
    let node_id = field(&line, "node_id").and_then(|id| PublicKey::from_str(id).ok()).expect("node_id=");
    let listen = field(&line, "listen").expect("listen=").to_owned();
    let line = daemon.wait_for_line("funding_address=", START_TIMEOUT);
    let lsp_address: Address = field(&line, "funding_address")
        .and_then(|text| text.parse::<Address<_>>().ok())
        .and_then(|address| address.require_network(Network::Regtest).ok())
        .unwrap_or_else(|| panic!("no regtest funding_address= in {line:?}"));

    // The CLI's wallet: created in its data directory, given a matured coinbase, stopped.
    let wallet_dir = dir.path().join("cli-wallet");
    let wallet = start_wallet(WalletOptions {
        data_dir: wallet_dir.clone(),
        network: Network::Regtest,
        alias: "cli-wallet".into(),
        chain: BitcoindRpcConfig::new(bcoin.rpc_url()),
    })
    .await
    .expect("wallet node");
    let wallet_address = wallet.node.new_onchain_address().expect("wallet address");
    wallet.stop().await.expect("stop the wallet");
    bcoin.mine(1, Some(&lsp_address)).await.expect("mine to the LSP");
    bcoin.mine(1, Some(&wallet_address)).await.expect("mine to the wallet");
    bcoin.mine(COINBASE_MATURITY, None).await.expect("mature the coinbases");

    // Blocks keep coming while the CLI runs: the deposit and the funding need confirmations.
    let mining = Arc::new(AtomicBool::new(true));
    let miner = {
        let (mining, bcoin) = (Arc::clone(&mining), &bcoin);
        async move {
            while mining.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if let Err(error) = bcoin.mine(1, None).await {
                    eprintln!("mining: {error}");
                }
            }
        }
    };
    let mut cli = std::process::Command::new(env!("CARGO_BIN_EXE_inbound"));
    cli.args(["client", "order", "--lsp", &format!("{node_id}@{listen}"), "--chain-url", bcoin.rpc_url()])
        .arg("--data-dir")
        .arg(&wallet_dir)
        .args(["--lsp-balance-sat", "100000", "--client-balance-sat", "10000", "--pay", "onchain"])
        .args(["--max-fee-sat", "20000", "--wait-secs", "300", "--json"])
        .env("RUST_LOG", "warn");
    let run = tokio::task::spawn_blocking(move || cli.output());
    let (output, ()) = tokio::join!(
        async {
            let output = run.await;
            mining.store(false, Ordering::Relaxed);
            output
        },
        miner
    );
    let output = output.expect("task").expect("run inbound client order");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{}\nstdout:\n{stdout}\nstderr:\n{stderr}", output.status);
    let events: Vec<Value> =
        stdout.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))).collect();
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert_eq!(kinds.first(), Some(&"order"), "{stdout}");
    assert!(kinds.contains(&"paid"), "{stdout}");
    let paid = events.iter().find(|e| e["event"] == "paid").expect("paid");
    assert_eq!(paid["option"], "onchain", "{stdout}");
    let completed = events.iter().any(|e| e["event"] == "progress" && e["order_state"] == "COMPLETED");
    assert!(completed, "COMPLETED reported: {stdout}");
    let last = events.last().expect("events");
    assert_eq!((last["event"].as_str(), last["ready"].as_bool()), (Some("channel"), Some(true)), "{stdout}");

    daemon.terminate();
    let status = daemon.wait_exit(STOP_TIMEOUT);
    assert!(status.success(), "exit status {status}; log:\n{}", daemon.log.join("\n"));
}
