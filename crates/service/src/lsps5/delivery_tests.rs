//! Webhook delivery against a real local HTTPS server (a certificate made at test time,
//! trusted through `extra_ca_file`): signed POSTs that verify, retries, timeouts, redirects,
//! huge answers, the SSRF guard and a restart.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bitcoin::secp256k1::{PublicKey, Secp256k1};
use lsps::lsps5::{verify_webhook_request, Notification, SetWebhookRequest, DEFAULT_MAX_SKEW_SECS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::config::Lsps5Config;
use super::delivery::DeliveryStatus;
use super::service::NotifyOutcome;
use super::service_tests::{client, open_config, setup, setup_on, FakeNode, Setup};
use crate::Clock;

/// What the test webhook does with the next request.
#[derive(Clone, Copy, Debug)]
enum Behaviour {
    Status(u16),
    Hang,
    Redirect,
    Huge,
}

/// One request the webhook received.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

struct Webhook {
    address: SocketAddr,
    ca_file: PathBuf,
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Behaviour>>>,
    huge_bytes_written: Arc<AtomicU64>,
}

impl Webhook {
    /// Serves HTTPS for `localhost` on a free port; answers 200 once `script` is used up.
    async fn start(script: Vec<Behaviour>) -> Webhook {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
        let ca_file = std::env::temp_dir().join(format!(
            "inbound-lsps5-ca-{}-{}.pem",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_nanos()
        ));
        std::fs::write(&ca_file, certified.cert.pem()).expect("ca file");
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let webhook = Webhook {
            address,
            ca_file,
            received: Arc::default(),
            script: Arc::new(Mutex::new(script.into())),
            huge_bytes_written: Arc::default(),
        };
        let (received, script, huge) =
            (Arc::clone(&webhook.received), Arc::clone(&webhook.script), Arc::clone(&webhook.huge_bytes_written));
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, received, script, huge) =
                    (acceptor.clone(), Arc::clone(&received), Arc::clone(&script), Arc::clone(&huge));
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let Some(request) = read_request(&mut tls).await else { return };
                    received.lock().unwrap().push(request);
                    let behaviour = script.lock().unwrap().pop_front().unwrap_or(Behaviour::Status(200));
                    let head = match behaviour {
                        Behaviour::Status(status) => {
                            format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        }
                        Behaviour::Hang => {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            return;
                        }
                        Behaviour::Redirect => format!(
                            "HTTP/1.1 307 Temporary Redirect\r\nlocation: https://localhost:{}/elsewhere\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                            address.port()
                        ),
                        Behaviour::Huge => "HTTP/1.1 200 OK\r\ncontent-length: 67108864\r\n\r\n".to_owned(),
                    };
                    if tls.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    if let Behaviour::Huge = behaviour {
                        let chunk = vec![b'x'; 64 * 1024];
                        for _ in 0..1024 {
                            if tls.write_all(&chunk).await.is_err() {
                                return;
                            }
                            huge.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                        }
                    }
                    let _ = tls.shutdown().await;
                });
            }
        });
        webhook
    }

    fn url(&self) -> String {
        format!("https://localhost:{}/hook?t=abc", self.address.port())
    }

    fn config(&self) -> Lsps5Config {
        Lsps5Config {
            allow_private_destinations: true,
            extra_ca_file: Some(self.ca_file.clone()),
            connect_timeout_secs: 2,
            request_timeout_secs: 2,
            ..open_config()
        }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// Reads one HTTP/1.1 request (head and a `content-length` body).
async fn read_request<S: AsyncReadExt + Unpin>(stream: &mut S) -> Option<Received> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break end;
        }
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 || buffer.len() > 65_536 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize = headers.iter().find(|(name, _)| name == "content-length")?.1.parse().ok()?;
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    Some(Received { path, headers, body })
}

fn set(webhook: &str) -> SetWebhookRequest {
    SetWebhookRequest { app_name: "wallet".into(), webhook: webhook.into() }
}

fn lsp_id(node: &FakeNode) -> PublicKey {
    PublicKey::from_secret_key(&Secp256k1::new(), &node.key)
}

async fn statuses(setup: &Setup) -> Vec<(String, DeliveryStatus)> {
    let mut log = setup.service.delivery_log(&client(1), 100).await.expect("log");
    log.sort_by(|a, b| a.id.cmp(&b.id));
    log.into_iter().map(|delivery| (delivery.method, delivery.status)).collect()
}

fn delivered(status: &DeliveryStatus) -> bool {
    matches!(status, DeliveryStatus::Delivered { http_status: 200, .. })
}

#[tokio::test]
async fn a_signed_post_arrives_and_verifies() {
    let webhook = Webhook::start(vec![]).await;
    let setup = setup(webhook.config()).await;
    setup.service.set_webhook(client(1), set(&webhook.url())).await.expect("set");
    setup.service.tick().await.expect("tick");
    assert_eq!(
        setup.service.notify(client(1), Notification::PaymentIncoming).await.expect("notify"),
        NotifyOutcome::Queued(1)
    );
    setup.service.tick().await.expect("tick");
    let received = webhook.received();
    assert_eq!(received.len(), 2, "{received:?}");
    let lsp = lsp_id(&setup.node);
    for (request, expected) in received.iter().zip([Notification::WebhookRegistered, Notification::PaymentIncoming]) {
        assert_eq!(request.path, "/hook?t=abc");
        let header = |name: &str| request.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(header("content-type"), Some("application/json"));
        assert!(header("x-lsps5-timestamp").is_some() && header("x-lsps5-signature").is_some());
        let verified = verify_webhook_request(
            request.headers.clone(),
            &request.body,
            &lsp,
            setup.clock.now(),
            DEFAULT_MAX_SKEW_SECS,
        )
        .expect("verifies");
        assert_eq!(verified, expected);
    }
    let log = statuses(&setup).await;
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|(_, status)| delivered(status)), "{log:?}");
}

#[tokio::test]
async fn a_500_is_retried_and_delivered_once() {
    let webhook = Webhook::start(vec![Behaviour::Status(500)]).await;
    let setup = setup(webhook.config()).await;
    setup.service.set_webhook(client(1), set(&webhook.url())).await.expect("set");
    setup.service.tick().await.expect("tick");
    assert_eq!(statuses(&setup).await[0].1, DeliveryStatus::Pending, "kept for a retry");
    setup.service.tick().await.expect("tick");
    assert_eq!(webhook.received().len(), 1, "not before the backoff");
    setup.clock.advance(2);
    setup.service.tick().await.expect("tick");
    setup.service.tick().await.expect("tick");
    assert_eq!(webhook.received().len(), 2);
    let log = statuses(&setup).await;
    assert!(log.len() == 1 && delivered(&log[0].1), "{log:?}");
}

#[tokio::test]
async fn a_webhook_that_keeps_failing_is_given_up() {
    let webhook = Webhook::start(vec![Behaviour::Status(503); 10]).await;
    let setup = setup(Lsps5Config { delivery_attempts: 2, ..webhook.config() }).await;
    setup.service.set_webhook(client(1), set(&webhook.url())).await.expect("set");
    setup.service.tick().await.expect("tick");
    setup.clock.advance(60);
    setup.service.tick().await.expect("tick");
    assert!(matches!(statuses(&setup).await[0].1, DeliveryStatus::Failed { .. }));
    setup.clock.advance(600);
    setup.service.tick().await.expect("tick");
    assert_eq!(webhook.received().len(), 2, "two attempts, then nothing");
}

#[tokio::test]
async fn a_hanging_webhook_times_out() {
    let webhook = Webhook::start(vec![Behaviour::Hang]).await;
    let setup = setup(Lsps5Config { request_timeout_secs: 1, ..webhook.config() }).await;
    setup.service.set_webhook(client(1), set(&webhook.url())).await.expect("set");
    let started = Instant::now();
    setup.service.tick().await.expect("tick");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert_eq!(webhook.received().len(), 1);
    assert_eq!(statuses(&setup).await[0].1, DeliveryStatus::Pending, "a timeout is retried");
}

#[tokio::test]
async fn hanging_webhooks_hold_up_one_slot_each() {
    let webhook = Webhook::start(vec![Behaviour::Hang, Behaviour::Hang]).await;
    let config = Lsps5Config { request_timeout_secs: 2, max_concurrent_deliveries: 4, ..webhook.config() };
    let setup = setup(config).await;
    for app_name in ["one", "two"] {
        let request =
            SetWebhookRequest { app_name: app_name.into(), webhook: format!("{}&app={app_name}", webhook.url()) };
        setup.service.set_webhook(client(1), request).await.expect("set");
    }
    let started = Instant::now();
    setup.service.tick().await.expect("tick");
    let elapsed = started.elapsed();
    assert_eq!(webhook.received().len(), 2);
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_millis(3_500),
        "one timeout, not two: {elapsed:?}"
    );
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let webhook = Webhook::start(vec![Behaviour::Redirect]).await;
    let setup = setup(webhook.config()).await;
    setup.service.set_webhook(client(1), set(&webhook.url())).await.expect("set");
    setup.service.tick().await.expect("tick");
    let received = webhook.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert!(
        matches!(&statuses(&setup).await[0].1, DeliveryStatus::Refused { reason, .. } if reason.contains("307")),
        "{:?}",
        statuses(&setup).await
    );
}

#[tokio::test]
async fn a_huge_answer_is_cut_off() {
    let webhook = Webhook::start(vec![Behaviour::Huge]).await;
    let setup = setup(webhook.config()).await;
    setup.service.set_webhook(client(1), set(&webhook.url())).await.expect("set");
    let started = Instant::now();
    setup.service.tick().await.expect("tick");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert!(delivered(&statuses(&setup).await[0].1), "the status counts");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let written = webhook.huge_bytes_written.load(Ordering::Relaxed);
    assert!(written < 16 * 1024 * 1024, "the LSP stopped reading: {written} bytes written");
}

#[tokio::test]
async fn a_host_resolving_to_loopback_is_refused() {
    let webhook = Webhook::start(vec![]).await;
    let setup = setup(Lsps5Config { allow_private_destinations: false, ..webhook.config() }).await;
    setup.service.set_webhook(client(1), set(&webhook.url())).await.expect("set");
    setup.service.tick().await.expect("tick");
    assert!(webhook.received().is_empty(), "nothing reached the server");
    let log = statuses(&setup).await;
    assert!(
        matches!(&log[0].1, DeliveryStatus::Refused { reason, .. } if reason.contains("forbidden destination")),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_persisted_notification_is_delivered_after_a_restart() {
    let webhook = Webhook::start(vec![]).await;
    let store = inbound_store::open("sqlite::memory:").await.expect("store");
    let before = setup_on(webhook.config(), Arc::clone(&store)).await;
    before.service.set_webhook(client(1), set(&webhook.url())).await.expect("set");
    before.service.tick().await.expect("tick");
    // The LSP stops after persisting a notification and before POSTing it: a service that is
    // not attached to a node POSTs nothing.
    let unattached = crate::lsps5::Lsps5Service::new(
        webhook.config(),
        Arc::clone(&store),
        Arc::clone(&before.clock) as Arc<dyn Clock>,
    )
    .expect("service");
    unattached.notify(client(1), Notification::PaymentIncoming).await.expect("notify");
    unattached.tick().await.expect("tick");
    drop(unattached);
    assert_eq!(webhook.received().len(), 1, "only webhook_registered so far");
    let after = setup_on(webhook.config(), store).await;
    assert_eq!(after.service.resume().await.expect("resume"), 1);
    let received = webhook.received();
    assert_eq!(received.len(), 2);
    let verified = verify_webhook_request(
        received[1].headers.clone(),
        &received[1].body,
        &lsp_id(&after.node),
        after.clock.now(),
        DEFAULT_MAX_SKEW_SECS,
    );
    assert_eq!(verified, Ok(Notification::PaymentIncoming));
}
