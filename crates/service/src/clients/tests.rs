//! Bans through the LSP's own wiring: `LspBuilder` with LSPS1 on SQLite, requests through the
//! `LspsServer`, the ban recorded in the store with its history, and a restart that keeps it.

use std::sync::Arc;

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use inbound_store::Kind;
use serde_json::{json, Value};

use crate::flow::{Applied, TransitionError};
use crate::lsps1::Lsps1Config;
use crate::{LspBuilder, LspServices, ManualClock};

fn key(byte: u8) -> PublicKey {
    PublicKey::from_secret_key(&Secp256k1::new(), &SecretKey::from_slice(&[byte; 32]).expect("key"))
}

fn services(store: Arc<dyn inbound_store::Store>) -> LspServices {
    LspBuilder::new(Arc::new(ManualClock::starting_now()))
        .store(store)
        .lsps1(Lsps1Config::default())
        .build(Arc::new(inbound_node::IgnoringEventHandler))
        .expect("build")
}

async fn call(services: &LspServices, peer: PublicKey, method: &str) -> Value {
    let request = json!({"jsonrpc": "2.0", "id": "1", "method": method, "params": {}});
    let answer = services.server.call(peer, request.to_string().as_bytes()).await.expect("an answer");
    serde_json::from_slice(&answer).expect("JSON")
}

#[tokio::test]
async fn a_banned_client_gets_code_1_until_unbanned_and_the_ban_survives_a_restart() {
    let store = inbound_store::open("sqlite::memory:").await.expect("store");
    let lsp = services(Arc::clone(&store));
    let bans = lsp.bans.clone().expect("bans with a store");
    let (bad, good) = (key(1), key(2));
    assert!(call(&lsp, bad, "lsps1.get_info").await.get("result").is_some());

    assert_eq!(bans.ban(bad, "drains fees".into()).await.expect("ban"), Applied::Done);
    let refused = call(&lsp, bad, "lsps1.get_info").await;
    assert_eq!(refused["error"]["code"], 1, "{refused}");
    assert_eq!(refused["error"]["message"], "Client rejected");
    assert!(call(&lsp, good, "lsps1.get_info").await.get("result").is_some(), "others are served");
    let protocols = call(&lsp, bad, "lsps0.list_protocols").await;
    assert_eq!(protocols["result"]["protocols"], json!([1]), "LSPS0 still answers: {protocols}");

    let twice = bans.ban(bad, "again".into()).await.expect("ban");
    assert_eq!(twice, Applied::Refused(TransitionError { state: "banned", input: "operator_ban" }));
    assert!(matches!(bans.ban(good, "x".repeat(257)).await, Err(crate::clients::BanError::ReasonTooLong)));
    assert!(!bans.is_banned(&good));
    assert_eq!(bans.unban(good).await.expect("unban"), Applied::NotFound);

    // A restart: new services over the same store load the ban.
    drop(lsp);
    let lsp = services(Arc::clone(&store));
    assert_eq!(lsp.started().await.expect("resume").banned_clients, 1);
    let bans = lsp.bans.clone().expect("bans");
    assert_eq!(call(&lsp, bad, "lsps1.get_info").await["error"]["code"], 1);
    assert_eq!(bans.list().await.expect("list").len(), 1);

    assert_eq!(bans.unban(bad).await.expect("unban"), Applied::Done);
    assert!(call(&lsp, bad, "lsps1.get_info").await.get("result").is_some(), "served again");
    assert_eq!(
        bans.unban(bad).await.expect("unban"),
        Applied::Refused(TransitionError { state: "in_good_standing", input: "operator_unban" })
    );
    let history = store.history(Kind::ClientStanding, &lsps::schema::NodeId(bad).to_string()).await.expect("history");
    let inputs: Vec<&Value> = history.iter().map(|entry| &entry.detail["input"]).collect();
    assert_eq!(inputs, [&json!("operator_ban"), &json!("operator_unban")]);
    assert_eq!(history[1].detail["note"]["actor"], "operator");
    lsp.stopping();
}
