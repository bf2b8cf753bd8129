//! `inbound serve` as a real child process against a bcoin regtest chain the test starts:
//! it logs its node id, answers `lsps0.list_protocols` from an in-test wallet node and from
//! `inbound client list-protocols` over TCP, exits 0 on SIGTERM after persisting, and comes back
//! with the same node id on the same data directory. With LSPS2 enabled it lists protocol 2 and
//! answers `lsps2.get_info` with a menu once its wallet is funded. With LSPS5 enabled it lists
//! protocol 5, keeps a registered webhook across a restart, and `inbound client webhook
//! list|set|remove` manage the same wallet's webhooks.

mod common;

use std::str::FromStr;
use std::time::{Duration, Instant};

use common::{field, inbound, write_file, Daemon};
use inbound::wallet::{start_jit_wallet, start_wallet, WalletOptions};
use inbound_node::bitcoin::secp256k1::PublicKey;
use inbound_node::bitcoin::{Address, Network};
use inbound_node::BitcoindRpcConfig;
use inbound_regtest::{Bcoin, COINBASE_MATURITY};

const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

fn start_serve(config: &std::path::Path) -> (Daemon, PublicKey, std::net::SocketAddr) {
    let mut command = inbound();
    command.arg("serve").arg("--config").arg(config);
    let mut daemon = Daemon::spawn(command);
    let line = daemon.wait_for_line("LSP started", START_TIMEOUT);
    let node_id = field(&line, "node_id").and_then(|id| PublicKey::from_str(id).ok());
    let listen = field(&line, "listen").and_then(|address| address.parse().ok());
    match (node_id, listen) {
        (Some(node_id), Some(listen)) => (daemon, node_id, listen),
        _ => panic!("no node_id= and listen= in {line:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_lsps0_and_restarts_with_the_same_identity() {
    let started = Instant::now();
    let bcoin = Bcoin::start().await.expect("bcoin regtest node");
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("lsp");
    let config = write_file(
        dir.path(),
        "inbound.toml",
        &format!(
            "network = \"regtest\"\ndata_dir = {:?}\n[node]\nlisten = \"127.0.0.1:0\"\nalias = \"test-lsp\"\n\
             [chain]\nurl = {:?}\npoll_interval_secs = 1\n",
            data_dir.display().to_string(),
            bcoin.rpc_url()
        ),
    );

    let (mut daemon, node_id, listen) = start_serve(&config);

    // An in-test wallet node asks over TCP.
    let wallet_dir = dir.path().join("wallet");
    let wallet = start_wallet(WalletOptions {
        data_dir: wallet_dir,
        network: Network::Regtest,
        alias: "test-wallet".into(),
        chain: BitcoindRpcConfig::new(bcoin.rpc_url()),
    })
    .await
    .expect("wallet node");
    wallet.node.connect_peer(node_id, listen, false).await.expect("connect to the daemon");
    let protocols = tokio::time::timeout(Duration::from_secs(30), wallet.client.list_protocols(node_id))
        .await
        .expect("answer in time")
        .expect("list_protocols");
    assert!(protocols.is_empty(), "only LSPS0, which is never listed: {protocols:?}");
    wallet.stop().await.expect("stop wallet");

    // So does `inbound client list-protocols`, as a second process.
    let output = inbound()
        .args(["client", "list-protocols", "--lsp", &format!("{node_id}@{listen}"), "--chain-url", bcoin.rpc_url()])
        .output()
        .expect("run inbound client");
    assert!(output.status.success(), "client failed: {}", String::from_utf8_lossy(&output.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).expect("client prints JSON");
    assert_eq!(answer["protocols"], serde_json::json!([]));
    assert_eq!(answer["lsp"], node_id.to_string());

    // SIGTERM: graceful stop, state persisted, exit 0.
    daemon.terminate();
    let status = daemon.wait_exit(STOP_TIMEOUT);
    assert!(status.success(), "exit status {status}; log:\n{}", daemon.log.join("\n"));
    assert!(
        daemon.log.iter().any(|line| line.contains("shutting down") && line.contains("SIGTERM")),
        "{}",
        daemon.log.join("\n")
    );
    assert!(daemon.log.iter().any(|line| line.contains("LSP stopped, state persisted")), "{}", daemon.log.join("\n"));
    assert!(data_dir.join("store").is_dir(), "the node's store was written");

    // Same data directory, same identity.
    let (mut daemon, restarted_id, _) = start_serve(&config);
    assert_eq!(restarted_id, node_id, "the seed persisted");
    daemon.terminate();
    let status = daemon.wait_exit(STOP_TIMEOUT);
    assert!(status.success(), "exit status {status} after restart; log:\n{}", daemon.log.join("\n"));
    println!("serve_answers_lsps0_and_restarts_with_the_same_identity took {:?}", started.elapsed());
}

#[test]
fn serve_refuses_a_bad_configuration_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config =
        write_file(dir.path(), "inbound.toml", "[lsps]\nenabled = [\"lsps5\"]\n[lsps5]\nmax_webhooks_per_client = 0\n");
    let output = inbound().arg("serve").arg("--config").arg(&config).output().expect("run inbound serve");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`lsps5.max_webhooks_per_client`") && stderr.contains("at least 1"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_lsps2_lists_it_and_answers_get_info() {
    let started = Instant::now();
    let bcoin = Bcoin::start().await.expect("bcoin regtest node");
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("lsp");
    let config = write_file(
        dir.path(),
        "inbound.toml",
        &format!(
            "network = \"regtest\"\ndata_dir = {:?}\n[node]\nlisten = \"127.0.0.1:0\"\n\
             [chain]\nurl = {:?}\npoll_interval_secs = 1\n[lsps]\nenabled = [\"lsps2\"]\n",
            data_dir.display().to_string(),
            bcoin.rpc_url()
        ),
    );
    let (mut daemon, node_id, listen) = start_serve(&config);
    let line = daemon.wait_for_line("funding_address=", START_TIMEOUT);
    let address: Address = field(&line, "funding_address")
        .and_then(|text| text.parse::<Address<_>>().ok())
        .and_then(|address| address.require_network(Network::Regtest).ok())
        .unwrap_or_else(|| panic!("no regtest funding_address= in {line:?}"));
    // Logged during the start, before "LSP started".
    assert!(daemon.log.iter().any(|line| line.contains("LSPS2 service running")), "{}", daemon.log.join("\n"));
    assert!(data_dir.join("inbound.sqlite").is_file(), "the default store was created in the data directory");

    // Fund the daemon's wallet with a matured coinbase; the menu is bounded by what it can fund.
    bcoin.mine(1, Some(&address)).await.expect("mine to the LSP");
    bcoin.mine(COINBASE_MATURITY, None).await.expect("mature the coinbase");

    let wallet = start_jit_wallet(WalletOptions {
        data_dir: dir.path().join("wallet"),
        network: Network::Regtest,
        alias: "test-jit-wallet".into(),
        chain: BitcoindRpcConfig::new(bcoin.rpc_url()),
    })
    .await
    .expect("wallet node");
    wallet.node.connect_peer(node_id, listen, false).await.expect("connect to the daemon");
    let protocols = tokio::time::timeout(Duration::from_secs(30), wallet.client.list_protocols(node_id))
        .await
        .expect("answer in time")
        .expect("list_protocols");
    assert_eq!(protocols, vec![2], "LSPS2 is listed");

    let lsps2 = wallet.lsps2.clone().expect("a JIT wallet");
    let deadline = Instant::now() + Duration::from_secs(60);
    let menu = loop {
        let menu = tokio::time::timeout(Duration::from_secs(30), lsps2.get_info(node_id, None))
            .await
            .expect("answer in time")
            .expect("lsps2.get_info");
        // Empty until the daemon's chain poll has seen the matured coinbase.
        if !menu.is_empty() || Instant::now() > deadline {
            break menu;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(!menu.is_empty(), "the funded LSP offers a fee menu; log:\n{}", daemon.log.join("\n"));
    wallet.stop().await.expect("stop wallet");

    daemon.terminate();
    let status = daemon.wait_exit(STOP_TIMEOUT);
    assert!(status.success(), "exit status {status}; log:\n{}", daemon.log.join("\n"));
    assert!(daemon.log.iter().any(|line| line.contains("LSPS2 counters")), "{}", daemon.log.join("\n"));
    println!("serve_with_lsps2_lists_it_and_answers_get_info took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_lsps5_stores_webhooks_across_a_restart() {
    use lsps::lsps5::{ListWebhooksRequest, SetWebhookRequest};
    use lsps::method::{Request, Response};

    let started = Instant::now();
    let bcoin = Bcoin::start().await.expect("bcoin regtest node");
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("lsp");
    let config = write_file(
        dir.path(),
        "inbound.toml",
        &format!(
            "network = \"regtest\"\ndata_dir = {:?}\n[node]\nlisten = \"127.0.0.1:0\"\n\
             [chain]\nurl = {:?}\npoll_interval_secs = 1\n[lsps]\nenabled = [\"lsps5\"]\n\
             [lsps5]\nrequire_channel_or_flow = false\n",
            data_dir.display().to_string(),
            bcoin.rpc_url()
        ),
    );
    let wallet = start_wallet(WalletOptions {
        data_dir: dir.path().join("wallet"),
        network: Network::Regtest,
        alias: "test-webhook-wallet".into(),
        chain: BitcoindRpcConfig::new(bcoin.rpc_url()),
    })
    .await
    .expect("wallet node");
    let call = |node_id, request| {
        let client = wallet.client.clone();
        async move {
            tokio::time::timeout(Duration::from_secs(30), client.call(node_id, request))
                .await
                .expect("answer in time")
                .expect("answered")
        }
    };
    let set = || {
        Request::Lsps5SetWebhook(SetWebhookRequest {
            app_name: "app".into(),
            webhook: "https://webhook.invalid/wake?t=1".into(),
        })
    };
    let list = || Request::Lsps5ListWebhooks(ListWebhooksRequest {});

    let (mut daemon, node_id, listen) = start_serve(&config);
    assert!(daemon.log.iter().any(|line| line.contains("LSPS5 service running")), "{}", daemon.log.join("\n"));
    wallet.node.connect_peer(node_id, listen, false).await.expect("connect to the daemon");
    let protocols = wallet.client.list_protocols(node_id).await.expect("list_protocols");
    assert_eq!(protocols, vec![5], "LSPS5 is listed");
    match call(node_id, set()).await {
        Response::Lsps5SetWebhook(answer) => assert_eq!((answer.num_webhooks, answer.no_change), (1, false)),
        other => panic!("set_webhook: {other:?}"),
    }
    daemon.terminate();
    assert!(daemon.wait_exit(STOP_TIMEOUT).success(), "{}", daemon.log.join("\n"));

    let (mut daemon, restarted_id, listen) = start_serve(&config);
    assert_eq!(restarted_id, node_id);
    wallet.node.connect_peer(node_id, listen, false).await.expect("reconnect to the daemon");
    match call(node_id, list()).await {
        Response::Lsps5ListWebhooks(answer) => assert_eq!(answer.app_names, ["app"], "stored across the restart"),
        other => panic!("list_webhooks: {other:?}"),
    }
    match call(node_id, set()).await {
        Response::Lsps5SetWebhook(answer) => assert!(answer.no_change),
        other => panic!("set_webhook again: {other:?}"),
    }
    wallet.stop().await.expect("stop wallet");

    // The same wallet (its data directory, so its node id) through `inbound client webhook`.
    let client = |args: &[&str]| {
        let lsp = format!("{node_id}@{listen}");
        let wallet_dir = dir.path().join("wallet");
        let output = inbound()
            .args(["client", "webhook"])
            .args(args)
            .args(["--lsp", &lsp, "--chain-url", bcoin.rpc_url(), "--network", "regtest"])
            .arg("--data-dir")
            .arg(&wallet_dir)
            .output()
            .expect("run inbound client webhook");
        let stdout: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
        (output.status.success(), stdout, String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let (ok, listed, stderr) = client(&["list"]);
    assert!(ok, "{stderr}");
    assert_eq!(listed["app_names"], serde_json::json!(["app"]), "{stderr}");
    assert_eq!(listed["lsp"], node_id.to_string());
    let (ok, set_answer, stderr) = client(&["set", "--app-name", "app2", "--url", "https://webhook.invalid/two"]);
    assert!(ok, "{stderr}");
    assert_eq!(
        (&set_answer["num_webhooks"], &set_answer["no_change"]),
        (&serde_json::json!(2), &serde_json::json!(false))
    );
    let (ok, _, stderr) = client(&["set", "--app-name", "app3", "--url", "http://webhook.invalid/plain"]);
    assert!(!ok && stderr.contains("https"), "a plain-HTTP webhook is refused before connecting: {stderr}");
    let (ok, removed, stderr) = client(&["remove", "--app-name", "app"]);
    assert!(ok && removed["removed"] == true, "{stderr}");
    let (ok, _, stderr) = client(&["remove", "--app-name", "app"]);
    assert!(!ok && stderr.contains("app_name not found"), "{stderr}");
    let (ok, listed, stderr) = client(&["list"]);
    assert!(ok, "{stderr}");
    assert_eq!(listed["app_names"], serde_json::json!(["app2"]), "{stderr}");
    daemon.terminate();
    assert!(daemon.wait_exit(STOP_TIMEOUT).success(), "{}", daemon.log.join("\n"));
    println!("serve_with_lsps5_stores_webhooks_across_a_restart took {:?}", started.elapsed());
}

/// Proves (issue: the ChannelManager silently stopped being saved): when the node can no longer
/// persist its channel state, `inbound serve` does not go on serving. The store directory is
/// replaced by a plain file (which refuses writes even to root), a block is mined so that the
/// channel manager needs saving, and the daemon logs the dead background processor at `error`
/// and exits non-zero by itself, without a signal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_exits_loudly_when_channel_state_cannot_be_saved() {
    let bcoin = Bcoin::start().await.expect("bcoin regtest node");
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("lsp");
    let config = write_file(
        dir.path(),
        "inbound.toml",
        &format!(
            "network = \"regtest\"\ndata_dir = {:?}\n[node]\nlisten = \"127.0.0.1:0\"\n\
             [chain]\nurl = {:?}\npoll_interval_secs = 1\n",
            data_dir.display().to_string(),
            bcoin.rpc_url()
        ),
    );
    let (mut daemon, _, _) = start_serve(&config);
    let store = data_dir.join(inbound_node::STORE_DIR_NAME);
    std::fs::rename(&store, data_dir.join("store.moved")).expect("move the store away");
    std::fs::write(&store, b"not a directory").expect("a file where the store was");
    bcoin.mine(1, None).await.expect("mine");

    let status = daemon.wait_exit(Duration::from_secs(120));
    let log = daemon.log.join("\n");
    assert!(!status.success(), "exited {status} although channel state cannot be saved:\n{log}");
    assert!(log.contains("a background task died"), "{log}");
    assert!(log.contains("LDK background processor"), "{log}");
    assert!(!log.contains("LSP stopped, state persisted"), "{log}");
}
