//! The admin API of `inbound serve`, as an operator uses it: a real child process on a bcoin
//! regtest chain, two wallets placing LSPS1 orders over Lightning, and the `inbound admin` CLI
//! and a Prometheus scrape reading them back; a ban taking effect on a live peer; the key file's
//! mode, a wrong key, a rotation.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::lsp::{admin_with_key, regtest_config, Serve};
use common::write_file;
use inbound::wallet::{start_wallet, WalletOptions};
use inbound_admin::{AdminClient, AdminClientError, ErrorCode};
use inbound_node::bitcoin::Network;
use inbound_node::BitcoindRpcConfig;
use inbound_regtest::Bcoin;
use lsps::lsps1::{CreateOrderRequest, GetOrderRequest};
use lsps::method::{Request, Response};
use lsps::schema::SatAmount;

const STOP_TIMEOUT: Duration = Duration::from_secs(30);
const ANSWER: Duration = Duration::from_secs(30);

fn order_request(lsp_balance_sat: u64) -> CreateOrderRequest {
    CreateOrderRequest {
        lsp_balance_sat: SatAmount(lsp_balance_sat),
        client_balance_sat: SatAmount(0),
        required_channel_confirmations: 0,
        funding_confirms_within_blocks: 6,
        channel_expiry_blocks: 144,
        token: None,
        refund_onchain_address: None,
        announce_channel: false,
    }
}

/// The value of the sample of `name` whose labels include `labels`.
fn sample(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|sample| {
            sample.metric == name && labels.iter().all(|(key, value)| sample.labels.get(key) == Some(*value))
        })
        .and_then(|sample| match sample.value {
            prometheus_parse::Value::Counter(value)
            | prometheus_parse::Value::Gauge(value)
            | prometheus_parse::Value::Untyped(value) => Some(value),
            _ => None,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_and_cli_show_what_the_lsp_did() {
    let bcoin = Bcoin::start().await.expect("bcoin regtest node");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = regtest_config(dir.path(), bcoin.rpc_url(), "[lsps]\nenabled = [\"lsps1\"]\n");
    let mut lsp = Serve::start(dir.path(), &config);
    let (node_id, listen, url) = (lsp.node_id, lsp.listen, lsp.admin_url.clone());

    // The key was created at first start, readable by the owner only.
    let key_file = lsp.key_file.clone();
    let mode = std::fs::metadata(&key_file).expect("the admin key file").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // Two wallets order channels: a two, b one; b asks for a's order too (101).
    let mut wallets = Vec::new();
    let mut orders = Vec::new();
    for (name, count) in [("a", 2), ("b", 1)] {
        let wallet = start_wallet(WalletOptions {
            data_dir: dir.path().join(name),
            network: Network::Regtest,
            alias: format!("wallet-{name}"),
            chain: BitcoindRpcConfig::new(bcoin.rpc_url()),
        })
        .await
        .expect("wallet node");
        wallet.node.connect_peer(node_id, listen, false).await.expect("connect to the daemon");
        for index in 0..count {
            let request = Request::Lsps1CreateOrder(order_request(100_000 + index * 10_000));
            let answer = tokio::time::timeout(ANSWER, wallet.client.call(node_id, request)).await.expect("in time");
            let Ok(Response::Lsps1CreateOrder(order)) = answer else { panic!("create_order: {answer:?}") };
            orders.push((wallet.node.node_id().to_string(), order.order_id));
        }
        wallets.push(wallet);
    }
    let foreign = Request::Lsps1GetOrder(GetOrderRequest { order_id: orders[0].1.clone() });
    let refused = tokio::time::timeout(ANSWER, wallets[1].client.call(node_id, foreign)).await.expect("in time");
    assert!(refused.is_err(), "another client's order: {refused:?}");

    // The CLI, as JSON.
    let info = lsp.admin_json(&["info"]);
    assert_eq!(info["node_id"], node_id.to_string());
    assert_eq!(info["network"], "regtest");
    assert_eq!(info["peers"].as_array().map(Vec::len), Some(2), "{info}");
    let listed = lsp.admin_json(&["orders"]);
    let ids: Vec<&str> =
        listed["items"].as_array().expect("items").iter().filter_map(|o| o["order_id"].as_str()).collect();
    let newest_first: Vec<&str> = orders.iter().rev().map(|(_, id)| id.as_str()).collect();
    assert_eq!(ids, newest_first, "{listed}");
    let a_client = orders[0].0.as_str();
    let of_a = lsp.admin_json(&["orders", "--client", a_client]);
    assert_eq!(of_a["items"].as_array().map(Vec::len), Some(2), "{of_a}");
    let prefix = &orders[2].1[..8];
    let by_id = lsp.admin_json(&["orders", "--id", prefix]);
    assert_eq!(by_id["items"][0]["order_id"], orders[2].1.as_str(), "{by_id}");
    let none_completed = lsp.admin_json(&["orders", "--state", "completed"]);
    assert_eq!(none_completed["items"], serde_json::json!([]));
    let shown = lsp.admin_json(&["order", &orders[0].1]);
    assert_eq!(shown["state"], "awaiting_payment");
    assert_eq!(shown["lsp_balance_sat"], 100_000);
    assert_eq!(shown["wire"]["order_state"], "CREATED", "the client's view: {shown}");
    assert_eq!(shown["history"][0]["seq"], 1, "{shown}");

    // The CLI for people, and its exit codes.
    let table = lsp.admin(&["orders"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(table.status.success() && text.starts_with("ORDER_ID") && text.contains(&orders[1].1), "{text}");
    let missing = lsp.admin(&["order", "no-such-order"]);
    assert_eq!(missing.status.code(), Some(3), "{}", String::from_utf8_lossy(&missing.stderr));
    let ready = lsp.admin(&["ready"]);
    assert!(ready.status.success(), "{}", String::from_utf8_lossy(&ready.stdout));
    assert!(String::from_utf8_lossy(&ready.stdout).starts_with("ready: true"));
    let wrong_key = write_file(dir.path(), "wrong.key", &"ab".repeat(32));
    std::fs::set_permissions(&wrong_key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let refused = admin_with_key(&url, &wrong_key, &["info"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("401"), "{}", String::from_utf8_lossy(&refused.stderr));

    // /metrics, parsed as Prometheus text and checked against what happened.
    let key = inbound_admin::AdminKey::read(&key_file).expect("key");
    let client = AdminClient::new(&url, key.clone()).expect("client");
    let text = client.get_text("/metrics").await.expect("metrics");
    let scrape =
        prometheus_parse::Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("Prometheus text format");
    let requests = |method: &str, code: &str| {
        sample(&scrape, "inbound_lsps_requests_total", &[("method", method), ("code", code)])
    };
    assert_eq!(requests("lsps1.create_order", "ok"), Some(3.0), "{text}");
    assert_eq!(requests("lsps1.get_order", "101"), Some(1.0), "{text}");
    assert_eq!(sample(&scrape, "inbound_flows", &[("kind", "lsps1_order"), ("state", "awaiting_payment")]), Some(3.0));
    assert_eq!(sample(&scrape, "inbound_peers", &[]), Some(2.0), "{text}");
    assert!(sample(&scrape, "inbound_chain_synced_height", &[]).is_some_and(|height| height > 0.0), "{text}");

    // A ban: the client's requests get code 1 until it is lifted; the history says who did it.
    let b_client = orders[2].0.clone();
    let banned = lsp.admin_json(&["ban", &b_client, "--reason", "fee drain"]);
    assert_eq!(banned["banned"], true, "{banned}");
    let refused = tokio::time::timeout(
        ANSWER,
        wallets[1].client.call(node_id, Request::Lsps1CreateOrder(order_request(100_000))),
    )
    .await
    .expect("in time");
    match refused {
        Err(inbound_client::ClientError::LspRejected(error)) => assert_eq!(error.code, 1, "{error:?}"),
        other => panic!("a banned client's order must get code 1: {other:?}"),
    }
    let again = lsp.admin(&["ban", &b_client, "--reason", "twice"]);
    assert_eq!(again.status.code(), Some(4), "{}", String::from_utf8_lossy(&again.stderr));
    let list = lsp.admin_json(&["banned"]);
    assert_eq!(list[0]["client"], b_client.as_str(), "{list}");
    assert_eq!(list[0]["reason"], "fee drain", "{list}");
    let bad_id = lsp.admin(&["ban", "not-a-node", "--reason", "x"]);
    assert_eq!(bad_id.status.code(), Some(1));
    let clients = lsp.admin_json(&["clients"]);
    let listed = |node: &str| clients.as_array().and_then(|all| all.iter().find(|c| c["client"] == node)).cloned();
    let b = listed(&b_client).expect("b is listed");
    assert_eq!((b["banned"].clone(), b["flows"]["lsps1_order"]["total"].clone()), (true.into(), 1.into()), "{clients}");
    let a = listed(a_client).expect("a is listed");
    assert_eq!(a["flows"]["lsps1_order"], serde_json::json!({"total": 2, "active": 2}), "{clients}");
    assert_eq!(a["banned"], false);
    let lifted = lsp.admin_json(&["unban", &b_client]);
    assert_eq!(lifted["banned"], false, "{lifted}");
    let served = tokio::time::timeout(
        ANSWER,
        wallets[1].client.call(node_id, Request::Lsps1CreateOrder(order_request(100_000))),
    )
    .await
    .expect("in time");
    assert!(matches!(served, Ok(Response::Lsps1CreateOrder(_))), "served again: {served:?}");

    // An operator's action on an order: cancelling an unpaid one, which then cannot be cancelled
    // again; the history names the operator and the reason.
    let unpaid = orders[1].1.as_str();
    let cancelled = lsp.admin_json(&["cancel-order", unpaid, "--reason", "asked by the client"]);
    assert_eq!(cancelled["state"], "expired", "{cancelled}");
    let twice = lsp.admin(&["cancel-order", unpaid]);
    assert_eq!(twice.status.code(), Some(4), "{}", String::from_utf8_lossy(&twice.stderr));
    let not_paid = lsp.admin(&["refund-order", &orders[0].1]);
    assert_eq!(not_paid.status.code(), Some(4), "an unpaid order has nothing to refund");
    let shown = lsp.admin_json(&["order", unpaid]);
    let last = shown["history"].as_array().and_then(|history| history.last()).cloned().expect("history");
    assert_eq!(last["detail"]["input"], "operator_cancel", "{shown}");
    assert_eq!(last["detail"]["note"]["reason"], "asked by the client", "{shown}");
    assert_eq!(shown["wire"]["order_state"], "FAILED", "the client sees it failed: {shown}");

    // Rotation: the running LSP takes the new key at the next request; the old one stops working.
    let rotated = lsp.admin_json(&["rotate-key"]);
    assert_eq!(rotated["rotated"], true);
    let stale = client.get_json("/v1/node", &[]).await;
    assert!(
        matches!(&stale, Err(AdminClientError::Api { status: 401, error }) if error.code == ErrorCode::Unauthorized),
        "{stale:?}"
    );
    let fresh = AdminClient::new(&url, inbound_admin::AdminKey::read(&key_file).expect("new key")).expect("client");
    assert_eq!(fresh.get_json("/v1/node", &[]).await.expect("new key works")["node_id"], node_id.to_string());

    for wallet in &wallets {
        wallet.stop().await.expect("stop wallet");
    }
    lsp.daemon.terminate();
    let status = lsp.daemon.wait_exit(STOP_TIMEOUT);
    let log = lsp.daemon.log.join("\n");
    assert!(status.success(), "exit status {status}; log:\n{log}");
    assert!(log.contains("admin API stopped"), "{log}");
}
