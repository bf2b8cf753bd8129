//! [`Lsps5Client`] against Inbound's real LSPS5 service (SQLite in memory, an [`LspsServer`]
//! piped to the client), and [`NotificationVerifier`] on POSTs signed as the LSP signs them.

use std::sync::{Arc, Mutex};

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use inbound_service::lsps5::{Lsps5Config, Lsps5Node, Lsps5Service};
use inbound_service::{Clock, LspsServer, LspsServerConfig, ManualClock};
use lsps::jsonrpc::codes as rpc_codes;
use lsps::lsps5::{Lsps5Error, Notification, SignedWebhookRequest, WebhookVerifyError};
use lsps::method::Protocol;
use lsps::schema::DateTime;

use super::*;
use crate::{ClientConfig, LspsOutbound, LspsSendError};

fn key(byte: u8) -> (SecretKey, PublicKey) {
    let secret = SecretKey::from_slice(&[byte; 32]).expect("key");
    (secret, secret.public_key(&Secp256k1::signing_only()))
}

const URL: &str = "https://push.example-wallet.com/lsps5/token-3a1f9c0d";

struct Node;

impl Lsps5Node for Node {
    fn node_secret_key(&self) -> SecretKey {
        key(0x42).0
    }
    fn is_connected(&self, _: &PublicKey) -> bool {
        true
    }
    fn has_channel_with(&self, _: &PublicKey) -> bool {
        true
    }
}

/// Sends each request to the server as `wallet` and feeds the answer back to the client.
struct Pipe {
    server: Arc<LspsServer>,
    client: Mutex<Option<Arc<LspsClient>>>,
    wallet: PublicKey,
}

impl LspsOutbound for Pipe {
    fn send(&self, lsp: PublicKey, payload: Vec<u8>) -> Result<(), LspsSendError> {
        let server = Arc::clone(&self.server);
        let client = self.client.lock().expect("lock").clone().ok_or(LspsSendError::PeerNotConnected)?;
        let wallet = self.wallet;
        tokio::spawn(async move {
            if let Some(answer) = server.call(wallet, &payload).await {
                client.on_message(lsp, &answer);
            }
        });
        Ok(())
    }
}

/// A wallet talking to an LSP that runs Inbound's LSPS5 service with at most 2 webhooks.
async fn lsp_and_wallet() -> (Lsps5Client, PublicKey, Arc<Lsps5Service>) {
    let store = inbound_store::open("sqlite::memory:").await.expect("store");
    let clock = Arc::new(ManualClock::starting_now()) as Arc<dyn Clock>;
    let config = Lsps5Config { max_webhooks_per_client: 2, ..Lsps5Config::default() };
    let service = Lsps5Service::new(config, store, clock).expect("config");
    service.attach(Arc::new(Node) as Arc<dyn Lsps5Node>);
    let server = LspsServer::new(LspsServerConfig { enabled_protocols: vec![Protocol::Lsps5], ..Default::default() });
    server.register(service.protocol_handler());
    let client = LspsClient::new(ClientConfig::default());
    let pipe = Arc::new(Pipe { server, client: Mutex::new(Some(Arc::clone(&client))), wallet: key(0x21).1 });
    client.attach(pipe as Arc<dyn LspsOutbound>);
    (Lsps5Client::new(client), key(0x42).1, service)
}

#[tokio::test]
async fn set_list_remove_round_trip_with_the_lsp() {
    let (lsps5, lsp, service) = lsp_and_wallet().await;
    let first = lsps5.set_webhook(lsp, "wallet", URL).await.expect("set");
    assert_eq!((first.num_webhooks, first.max_webhooks, first.no_change), (1, 2, false));
    let again = lsps5.set_webhook(lsp, "wallet", URL).await.expect("set again");
    assert!(again.no_change);
    lsps5.set_webhook(lsp, "watch", &format!("{URL}/watch")).await.expect("second app");
    let listed = lsps5.list_webhooks(lsp).await.expect("list");
    let mut names = listed.app_names.clone();
    names.sort();
    assert_eq!((names, listed.max_webhooks), (vec!["wallet".to_owned(), "watch".to_owned()], 2));

    // The third app name is over the LSP's maximum: its 503 comes back typed, with the max.
    let third = lsps5.set_webhook(lsp, "tablet", URL).await;
    assert_eq!(third, Err(Lsps5ClientError::Rejected(Lsps5Error::TooManyWebhooks { max_webhooks: Some(2) })));

    lsps5.remove_webhook(lsp, "watch").await.expect("remove");
    assert_eq!(lsps5.remove_webhook(lsp, "watch").await, Err(Lsps5ClientError::Rejected(Lsps5Error::AppNameNotFound)));
    assert_eq!(lsps5.list_webhooks(lsp).await.expect("list").app_names, vec!["wallet".to_owned()]);
    assert_eq!(service.list_webhooks(key(0x21).1).await.expect("service list").app_names, vec!["wallet".to_owned()]);
}

#[tokio::test]
async fn bad_requests_fail_before_anything_is_sent() {
    let (lsps5, lsp, service) = lsp_and_wallet().await;
    for (app_name, webhook, expected) in [
        ("wallet", "http://push.example.com/x", Lsps5Error::UnsupportedProtocol),
        ("wallet", "not a url", Lsps5Error::UrlParseError),
        ("w".repeat(65).as_str(), URL, Lsps5Error::TooLong),
        ("wallet", &format!("https://push.example.com/{}", "a".repeat(1024)), Lsps5Error::TooLong),
    ] {
        assert_eq!(
            lsps5.set_webhook(lsp, app_name, webhook).await,
            Err(Lsps5ClientError::Rejected(expected)),
            "{app_name} {webhook}"
        );
    }
    assert!(service.list_webhooks(key(0x21).1).await.expect("list").app_names.is_empty());
}

#[tokio::test]
async fn other_failures_stay_call_errors() {
    let detached = Lsps5Client::new(LspsClient::new(ClientConfig::default()));
    assert!(matches!(
        detached.list_webhooks(key(0x42).1).await,
        Err(Lsps5ClientError::Call(ClientError::Transport(_)))
    ));
    let not_lsps5 = ClientError::LspRejected(lsps::jsonrpc::RpcError::new(rpc_codes::METHOD_NOT_FOUND, "no"));
    assert!(matches!(Lsps5ClientError::from(not_lsps5), Lsps5ClientError::Call(ClientError::LspRejected(_))));
}

fn at(text: &str) -> DateTime {
    text.parse().expect("datetime")
}

fn signed(notification: &Notification, now: DateTime) -> SignedWebhookRequest {
    SignedWebhookRequest::new(notification, now, &key(0x42).0)
}

fn headers(request: &SignedWebhookRequest) -> Vec<(&'static str, String)> {
    request.headers.to_vec()
}

#[test]
fn the_verifier_accepts_each_notification_once() {
    let verifier = NotificationVerifier::new(key(0x42).1);
    let now = at("2026-12-03T10:00:00.250Z");
    let post = signed(&Notification::PaymentIncoming, now);
    let verified = verifier.verify_at(headers(&post), &post.body, now).expect("first");
    assert_eq!(verified.notification, Notification::PaymentIncoming);
    assert_eq!(verified.sent_at, now);
    assert_eq!(verifier.verify_at(headers(&post), &post.body, now), Err(NotificationRejected::Replayed));
    // Header names in another case are the same headers: still a replay.
    let shouted: Vec<_> = headers(&post).into_iter().map(|(n, v)| (n.to_uppercase(), v)).collect();
    assert_eq!(verifier.verify_at(shouted, &post.body, now), Err(NotificationRejected::Replayed));
    // The same notification signed a millisecond later is a new one.
    let later = at("2026-12-03T10:00:00.251Z");
    let next = signed(&Notification::PaymentIncoming, later);
    assert!(verifier.verify_at(headers(&next), &next.body, later).is_ok());
    assert_eq!(verifier.cached(), 2);
}

#[test]
fn the_verifier_refuses_forgeries_and_stale_posts_without_caching_them() {
    let verifier = NotificationVerifier::with_limits(key(0x42).1, 60, 100);
    let now = at("2026-12-03T10:00:00Z");
    let post = signed(&Notification::ExpirySoon { timeout: 800_000 }, now);
    let mut tampered = post.body.clone();
    let position = tampered.iter().position(|b| *b == b'8').expect("digit");
    tampered[position] = b'9';
    assert!(matches!(
        verifier.verify_at(headers(&post), &tampered, now),
        Err(NotificationRejected::Invalid(WebhookVerifyError::Signature(_)))
    ));
    let other_lsp = SignedWebhookRequest::new(&Notification::PaymentIncoming, now, &key(0x43).0);
    assert!(matches!(
        verifier.verify_at(headers(&other_lsp), &other_lsp.body, now),
        Err(NotificationRejected::Invalid(WebhookVerifyError::Signature(_)))
    ));
    let stale_at = now.checked_add_secs(61).expect("time");
    assert!(matches!(
        verifier.verify_at(headers(&post), &post.body, stale_at),
        Err(NotificationRejected::Invalid(WebhookVerifyError::OutsideWindow { .. }))
    ));
    assert_eq!(verifier.cached(), 0);
    assert!(verifier.verify_at(headers(&post), &post.body, now).is_ok());
}

#[test]
fn the_cache_forgets_what_the_window_refuses_and_stays_bounded() {
    let verifier = NotificationVerifier::with_limits(key(0x42).1, 60, 3);
    let start = at("2026-12-03T10:00:00Z");
    for second in 0..5 {
        let now = start.checked_add_secs(second).expect("time");
        let post = signed(&Notification::PaymentIncoming, now);
        verifier.verify_at(headers(&post), &post.body, now).expect("fresh");
        assert!(verifier.cached() <= 3);
    }
    assert_eq!(verifier.cached(), 3);
    // Two minutes on, everything cached is outside the window and leaves the cache.
    let later = start.checked_add_secs(120).expect("time");
    let post = signed(&Notification::LiquidityManagementRequest, later);
    verifier.verify_at(headers(&post), &post.body, later).expect("fresh");
    assert_eq!(verifier.cached(), 1);
}

#[test]
fn ldk_style_timestamps_verify_verbatim() {
    // lightning-liquidity writes `…+00:00`; the signature covers that text exactly.
    let (secret, lsp) = key(0x42);
    let now = at("2026-12-03T10:00:00.5Z");
    let timestamp = now.to_rfc3339_plus_offset();
    let body = Notification::OnionMessageIncoming.body_bytes();
    let signature = lsps::signature::sign_message(&secret, &lsps::lsps5::signing_message(&timestamp, &body));
    let verifier = NotificationVerifier::new(lsp);
    let headers = [("x-lsps5-timestamp", timestamp), ("x-lsps5-signature", signature)];
    assert_eq!(
        verifier.verify_at(headers.clone(), &body, now).expect("ok").notification,
        Notification::OnionMessageIncoming
    );
    assert_eq!(verifier.verify_at(headers, &body, now), Err(NotificationRejected::Replayed));
}
