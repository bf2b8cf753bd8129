//! [`Lsps5Service`]'s registration methods on SQLite in memory (and one test on PostgreSQL):
//! every error code, the digest's examples and vectors, persistence before the answer, the
//! per-client limit and `no_change`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use inbound_store::{Kind, NewRecord, Store};
use lsps::jsonrpc::RpcError;
use lsps::lsps5::{Notification, RemoveWebhookRequest, SetWebhookRequest};
use serde_json::{json, Value};

use super::config::{Lsps5Config, NO_PRIOR_ACTIVITY_CODE};
use super::ops::Lsps5Node;
use super::service::{Lsps5Service, NotifyOutcome};
use crate::{Clock, LspsServer, LspsServerConfig, ManualClock};

const URL: &str = "https://notify.example-wallet.com/v1/lsps5?l=02e6411d8e0ae3b7&t=3a1f9c0d6b7e4a25";

/// The node as the LSPS5 service sees it: a key, who is connected, who has a channel.
pub(super) struct FakeNode {
    pub(super) key: SecretKey,
    pub(super) connected: Mutex<HashSet<PublicKey>>,
    pub(super) channels: Mutex<HashSet<PublicKey>>,
}

impl FakeNode {
    pub(super) fn new() -> Arc<FakeNode> {
        Arc::new(FakeNode {
            key: SecretKey::from_slice(&[0x42; 32]).expect("key"),
            connected: Mutex::new(HashSet::new()),
            channels: Mutex::new(HashSet::new()),
        })
    }
}

impl Lsps5Node for FakeNode {
    fn node_secret_key(&self) -> SecretKey {
        self.key
    }

    fn is_connected(&self, client: &PublicKey) -> bool {
        self.connected.lock().unwrap().contains(client)
    }

    fn has_channel_with(&self, client: &PublicKey) -> bool {
        self.channels.lock().unwrap().contains(client)
    }
}

pub(super) fn client(n: u8) -> PublicKey {
    PublicKey::from_secret_key(&Secp256k1::new(), &SecretKey::from_slice(&[n; 32]).expect("key"))
}

pub(super) fn open_config() -> Lsps5Config {
    Lsps5Config { require_channel_or_flow: false, ..Lsps5Config::default() }
}

pub(super) struct Setup {
    pub(super) service: Arc<Lsps5Service>,
    pub(super) store: Arc<dyn Store>,
    pub(super) clock: Arc<ManualClock>,
    pub(super) node: Arc<FakeNode>,
}

pub(super) async fn setup_on(config: Lsps5Config, store: Arc<dyn Store>) -> Setup {
    let clock = Arc::new(ManualClock::starting_now());
    let service = Lsps5Service::new(config, Arc::clone(&store), Arc::clone(&clock) as Arc<dyn Clock>).expect("config");
    let node = FakeNode::new();
    service.attach(Arc::clone(&node) as Arc<dyn Lsps5Node>);
    Setup { service, store, clock, node }
}

pub(super) async fn setup(config: Lsps5Config) -> Setup {
    setup_on(config, inbound_store::open("sqlite::memory:").await.expect("store")).await
}

fn set(app_name: &str, webhook: &str) -> SetWebhookRequest {
    SetWebhookRequest { app_name: app_name.into(), webhook: webhook.into() }
}

fn code(error: RpcError) -> i32 {
    error.code
}

#[tokio::test]
async fn set_list_remove_follow_the_digest() {
    let setup = setup(Lsps5Config { max_webhooks_per_client: 4, ..open_config() }).await;
    let service = &setup.service;
    let first = service.set_webhook(client(1), set("Example Wallet (iPhone)", URL)).await.expect("set");
    assert_eq!((first.num_webhooks, first.max_webhooks, first.no_change), (1, 4, false));
    let again = service.set_webhook(client(1), set("Example Wallet (iPhone)", URL)).await.expect("set");
    assert_eq!((again.num_webhooks, again.no_change), (1, true));
    let listed = service.list_webhooks(client(1)).await.expect("list");
    assert_eq!(listed.app_names, ["Example Wallet (iPhone)"]);
    assert_eq!(listed.max_webhooks, 4);
    assert!(service.list_webhooks(client(2)).await.expect("list").app_names.is_empty(), "per client");
    service
        .remove_webhook(client(1), RemoveWebhookRequest { app_name: "Example Wallet (iPhone)".into() })
        .await
        .expect("remove");
    assert!(service.list_webhooks(client(1)).await.expect("list").app_names.is_empty());
}

#[tokio::test]
async fn every_error_code() {
    let setup = setup(Lsps5Config { max_webhooks_per_client: 2, ..open_config() }).await;
    let service = &setup.service;
    assert_eq!(code(service.set_webhook(client(1), set(&"a".repeat(65), URL)).await.unwrap_err()), 500);
    let long_url = format!("https://example.com/{}", "a".repeat(1024));
    assert_eq!(code(service.set_webhook(client(1), set("a", &long_url)).await.unwrap_err()), 500);
    assert_eq!(code(service.set_webhook(client(1), set("a", "https//missing-colon")).await.unwrap_err()), 501);
    assert_eq!(code(service.set_webhook(client(1), set("a", "http://notify.example.com/x")).await.unwrap_err()), 502);
    service.set_webhook(client(1), set("a", "https://a.example/")).await.expect("first");
    service.set_webhook(client(1), set("b", "https://b.example/")).await.expect("second");
    let full = service.set_webhook(client(1), set("c", "https://c.example/")).await.unwrap_err();
    assert_eq!((full.code, full.data), (503, Some(json!({ "max_webhooks": 2 }))));
    // Replacing the URL of a known name does not count against the limit.
    let replaced = service.set_webhook(client(1), set("b", "https://b2.example/")).await.expect("replace");
    assert_eq!((replaced.num_webhooks, replaced.no_change), (2, false));
    let missing = service.remove_webhook(client(1), RemoveWebhookRequest { app_name: "nope".into() }).await;
    assert_eq!(code(missing.unwrap_err()), 1010);
    let never = service.remove_webhook(client(9), RemoveWebhookRequest { app_name: "a".into() }).await;
    assert_eq!(code(never.unwrap_err()), 1010);
    // Nothing refused was stored.
    assert_eq!(service.list_webhooks(client(1)).await.expect("list").app_names, ["a", "b"]);
}

#[tokio::test]
async fn a_registration_is_stored_before_the_answer_and_survives_a_restart() {
    let store = inbound_store::open("sqlite::memory:").await.expect("store");
    let setup = setup_on(open_config(), Arc::clone(&store)).await;
    setup.service.set_webhook(client(1), set("app", URL)).await.expect("set");
    let record = store.get(Kind::Lsps5Webhook, &client(1).to_string()).await.expect("get").expect("stored");
    assert_eq!(record.state, "active");
    assert_eq!(record.client_node_id.as_deref(), Some(client(1).to_string().as_str()));
    let restarted = setup_on(open_config(), store).await;
    assert_eq!(restarted.service.list_webhooks(client(1)).await.expect("list").app_names, ["app"]);
    let again = restarted.service.set_webhook(client(1), set("app", URL)).await.expect("set");
    assert!(again.no_change);
}

#[tokio::test]
async fn webhook_registered_goes_to_the_new_webhook_only() {
    let setup = setup(open_config()).await;
    let service = &setup.service;
    service.set_webhook(client(1), set("a", "https://a.example/")).await.expect("a");
    service.set_webhook(client(1), set("b", "https://b.example/")).await.expect("b");
    service.set_webhook(client(1), set("b", "https://b.example/")).await.expect("b again");
    let log = service.delivery_log(&client(1), 10).await.expect("log");
    let mut sent: Vec<(&str, &str)> = log.iter().map(|d| (d.url.as_str(), d.method.as_str())).collect();
    sent.sort_unstable();
    assert_eq!(
        sent,
        [("https://a.example/", "lsps5.webhook_registered"), ("https://b.example/", "lsps5.webhook_registered")],
        "one each; the unchanged pair sends nothing"
    );
}

#[tokio::test]
async fn strangers_cannot_register_unless_allowed() {
    let setup = setup(Lsps5Config::default()).await;
    let service = &setup.service;
    let refused = service.set_webhook(client(1), set("a", URL)).await.unwrap_err();
    assert_eq!((refused.code, refused.message.as_str()), (NO_PRIOR_ACTIVITY_CODE, "no prior activity"));
    assert!(service.list_webhooks(client(1)).await.expect("list").app_names.is_empty());
    // A channel is enough.
    setup.node.channels.lock().unwrap().insert(client(2));
    service.set_webhook(client(2), set("a", URL)).await.expect("with a channel");
    // So is an unfinished LSPS2 session (or LSPS1 order) in the store.
    let session = NewRecord {
        kind: Kind::Lsps2Session,
        id: "s1".into(),
        state: "awaiting_payment".into(),
        terminal: false,
        client_node_id: Some(client(3).to_string()),
        scid: Some(7),
        deadline_unix_ms: None,
        body: json!({}),
        created_at_unix_ms: 1,
    };
    setup.store.insert(session, json!({}), vec![]).await.expect("session");
    service.set_webhook(client(3), set("a", URL)).await.expect("with a session");
}

/// The digest's vectors, through the LSPS0 server (so the JSON on the wire is checked).
#[tokio::test]
async fn the_vectors_through_the_server() {
    let vectors: Value = serde_json::from_str(include_str!("../../../lsps/tests/vectors.json")).expect("vectors");
    let vector = |id: &str| -> (Value, Value) {
        let list = vectors.get("vectors").and_then(Value::as_array).cloned().unwrap_or_default();
        let found = list.into_iter().find(|v| v["id"] == id).unwrap_or_else(|| panic!("vector {id}"));
        (found["request"].clone(), found["response"].clone())
    };
    let setup = setup(Lsps5Config { max_webhooks_per_client: 4, ..open_config() }).await;
    let server = LspsServer::new(LspsServerConfig {
        enabled_protocols: vec![lsps::method::Protocol::Lsps5],
        ..Default::default()
    });
    server.register(setup.service.protocol_handler());
    let peer = client(1);
    let call = |request: Value| {
        let server = Arc::clone(&server);
        async move {
            let answer = server.call(peer, request.to_string().as_bytes()).await.expect("answered");
            serde_json::from_slice::<Value>(&answer).expect("json")
        }
    };
    for id in [
        "lsps5.set_webhook.ok",
        "lsps5.set_webhook.same_again",
        "lsps5.set_webhook.too_long",
        "lsps5.set_webhook.url_parse_error",
        "lsps5.set_webhook.unsupported_protocol",
        "lsps5.list_webhooks.ok",
    ] {
        let (request, response) = vector(id);
        assert_eq!(call(request).await, response, "{id}");
    }
    for n in 2..=4 {
        let request = json!({"jsonrpc": "2.0", "id": format!("fill{n}"), "method": "lsps5.set_webhook",
            "params": {"app_name": format!("app {n}"), "webhook": format!("{URL}&n={n}")}});
        assert!(call(request).await.get("result").is_some());
    }
    let (request, response) = vector("lsps5.set_webhook.too_many");
    assert_eq!(call(request).await, response, "too_many");
    for id in ["lsps5.remove_webhook.ok", "lsps5.remove_webhook.not_found"] {
        let (request, response) = vector(id);
        assert_eq!(call(request).await, response, "{id}");
    }
}

#[tokio::test]
async fn registrations_on_postgres() {
    let Some(schema) = crate::test_pg::PgSchema::create("lsps5_service").await else { return };
    let setup = setup_on(Lsps5Config { max_webhooks_per_client: 1, ..open_config() }, schema.open().await).await;
    let service = &setup.service;
    let first = service.set_webhook(client(1), set("a", URL)).await.expect("set");
    assert!(!first.no_change);
    assert!(service.set_webhook(client(1), set("a", URL)).await.expect("again").no_change);
    assert_eq!(service.set_webhook(client(1), set("b", URL)).await.unwrap_err().code, 503);
    assert_eq!(service.delivery_log(&client(1), 10).await.expect("log").len(), 1);
    service.remove_webhook(client(1), RemoveWebhookRequest { app_name: "a".into() }).await.expect("remove");
    assert!(service.list_webhooks(client(1)).await.expect("list").app_names.is_empty());
    setup.store.close().await.expect("close");
    schema.drop_schema().await;
}

#[tokio::test]
async fn notify_needs_webhooks_an_offline_client_and_the_cooldown_over() {
    let setup = setup(open_config()).await;
    let service = &setup.service;
    let notify = |n| service.notify(client(n), Notification::PaymentIncoming);
    assert_eq!(notify(1).await.expect("notify"), NotifyOutcome::NoWebhooks);
    service.set_webhook(client(1), set("a", "https://127.0.0.1:9/a")).await.expect("a");
    service.set_webhook(client(1), set("b", "https://127.0.0.1:9/b")).await.expect("b");
    setup.node.connected.lock().unwrap().insert(client(1));
    assert_eq!(notify(1).await.expect("notify"), NotifyOutcome::Connected);
    setup.node.connected.lock().unwrap().clear();
    assert_eq!(notify(1).await.expect("notify"), NotifyOutcome::Queued(2));
    assert_eq!(notify(1).await.expect("notify"), NotifyOutcome::CoolingDown);
    let other = service.notify(client(1), Notification::OnionMessageIncoming).await.expect("notify");
    assert_eq!(other, NotifyOutcome::Queued(2), "the cooldown is per method");
    setup.clock.advance(300);
    assert_eq!(notify(1).await.expect("notify"), NotifyOutcome::Queued(2), "after the cooldown");
    // Connecting resets the cooldown, which the ticker notices by itself.
    setup.node.connected.lock().unwrap().insert(client(1));
    service.tick().await.expect("tick");
    setup.node.connected.lock().unwrap().clear();
    assert_eq!(notify(1).await.expect("notify"), NotifyOutcome::Queued(2));
    let log = service.delivery_log(&client(1), 100).await.expect("log");
    let incoming = log.iter().filter(|d| d.method == "lsps5.payment_incoming").count();
    assert_eq!(incoming, 6, "three notifications to two webhooks");
    // The tick POSTed what was queued before it: refused, a loopback address is not public.
    let refused = log.iter().filter(|d| d.state_name() == "refused").count();
    assert_eq!(refused, 8, "two webhook_registered and three payment/onion notifications to two webhooks");
    assert_eq!(service.pending_deliveries().await.expect("pending").len(), 2, "the last notify waits for a tick");
}

#[tokio::test]
async fn webhooks_are_kept_while_a_channel_lasts_and_a_retention_after() {
    let setup = setup(open_config()).await;
    let service = &setup.service;
    let day = 86_400;
    let names = |n| async move { service.list_webhooks(client(n)).await.expect("list").app_names };
    service.set_webhook(client(1), set("lonely", "https://127.0.0.1:9/a")).await.expect("no channel");
    service.set_webhook(client(2), set("busy", "https://127.0.0.1:9/b")).await.expect("channel");
    setup.node.channels.lock().unwrap().insert(client(2));
    service.tick().await.expect("tick");
    setup.clock.advance(6 * day);
    service.tick().await.expect("tick");
    assert_eq!(names(1).await, ["lonely"], "kept for the retention");
    setup.clock.advance(day);
    service.tick().await.expect("tick");
    assert!(names(1).await.is_empty(), "forgotten 7 days after the last activity");
    setup.clock.advance(30 * day);
    service.tick().await.expect("tick");
    assert_eq!(names(2).await, ["busy"], "kept while the channel is open");
    setup.node.channels.lock().unwrap().clear();
    setup.clock.advance(6 * day);
    service.tick().await.expect("tick");
    assert_eq!(names(2).await, ["busy"], "kept for the retention after the channel closed");
    setup.clock.advance(2 * day);
    service.tick().await.expect("tick");
    assert!(names(2).await.is_empty());
}

#[tokio::test]
async fn a_client_churning_its_webhook_cannot_grow_the_queue() {
    let store = inbound_store::open("sqlite::memory:").await.expect("store");
    let clock = Arc::new(ManualClock::starting_now());
    let config = Lsps5Config { max_webhooks_per_client: 1, ..open_config() };
    // No node attached: nothing is POSTed, so every delivery stays pending.
    let service = Lsps5Service::new(config, store, Arc::clone(&clock) as Arc<dyn Clock>).expect("service");
    for n in 0..10 {
        service.set_webhook(client(1), set("app", &format!("https://example.com/{n}"))).await.expect("set");
    }
    let pending = service.pending_deliveries().await.expect("pending");
    assert_eq!(pending.len() as u64, super::PENDING_DELIVERIES_PER_WEBHOOK);
    assert_eq!(
        service.list_webhooks(client(1)).await.expect("list").app_names,
        ["app"],
        "the registration itself works"
    );
}
