//! The relay over real TLS on loopback: signed POSTs become wake-ups once; forgeries,
//! replays, other methods and oversized bodies are answered without one; slow and excess
//! connections are closed.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use inbound_push_relay::{self_signed_tls, NotificationVerifier, PushRelay, RelayLimits, Wake};
use lsps::lsps5::{Notification, SignedWebhookRequest};
use lsps::schema::DateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

fn lsp_key() -> (SecretKey, PublicKey) {
    let secret = SecretKey::from_slice(&[0x42; 32]).expect("key");
    (secret, secret.public_key(&Secp256k1::signing_only()))
}

fn now() -> DateTime {
    let millis = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).expect("clock").as_millis();
    DateTime::from_unix_millis(u64::try_from(millis).expect("millis")).expect("now")
}

struct Setup {
    relay: PushRelay,
    wakes: mpsc::Receiver<Wake>,
    http: reqwest::Client,
}

impl Setup {
    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.relay.local_addr().port())
    }

    async fn post(&self, path: &str, signed: &SignedWebhookRequest, body: &[u8]) -> u16 {
        let mut request = self.http.post(self.url(path)).body(body.to_vec());
        for (name, value) in &signed.headers {
            request = request.header(*name, value);
        }
        request.send().await.expect("answered").status().as_u16()
    }
}

async fn setup(limits: RelayLimits) -> Setup {
    let (tls, pem) = self_signed_tls(&["localhost".to_owned()]).expect("tls");
    let verifier = Arc::new(NotificationVerifier::new(lsp_key().1));
    let (relay, wakes) =
        PushRelay::start("127.0.0.1:0".parse().expect("addr"), tls, verifier, limits).await.expect("start");
    let http = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).expect("pem"))
        .resolve("localhost", relay.local_addr())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    Setup { relay, wakes, http }
}

#[tokio::test]
async fn a_signed_post_wakes_once_and_everything_else_is_refused() {
    let mut setup = setup(RelayLimits::default()).await;
    let signed = SignedWebhookRequest::new(&Notification::PaymentIncoming, now(), &lsp_key().0);
    assert_eq!(setup.post("/wake/device-7?app=demo", &signed, &signed.body).await, 200);
    let wake = setup.wakes.recv().await.expect("wake");
    assert_eq!((wake.target.as_str(), &wake.notification), ("/wake/device-7?app=demo", &Notification::PaymentIncoming));
    assert_eq!(wake.to_json()["method"], "lsps5.payment_incoming");

    // The same POST again is a replay.
    assert_eq!(setup.post("/wake/device-7?app=demo", &signed, &signed.body).await, 409);
    // A changed body, another LSP's signature, a non-POST.
    let mut tampered = signed.body.clone();
    tampered.push(b' ');
    assert_eq!(setup.post("/wake/device-7", &signed, &tampered).await, 400);
    let stranger = SignedWebhookRequest::new(
        &Notification::PaymentIncoming,
        now(),
        &SecretKey::from_slice(&[7; 32]).expect("key"),
    );
    assert_eq!(setup.post("/wake/device-7", &stranger, &stranger.body).await, 400);
    let get = setup.http.get(setup.url("/wake/device-7")).send().await.expect("answered");
    assert_eq!(get.status().as_u16(), 405);
    // Too large: refused from the declared length.
    let huge = vec![b' '; 64 * 1024];
    assert_eq!(setup.post("/wake/device-7", &signed, &huge).await, 413);
    // An unknown method, signed: accepted and ignored.
    let vendor = SignedWebhookRequest::new(&Notification::Unknown("vendor.ping".into()), now(), &lsp_key().0);
    assert_eq!(setup.post("/wake/device-7", &vendor, &vendor.body).await, 200);
    assert!(setup.wakes.try_recv().is_err(), "nothing else woke the device");
    let stats = setup.relay.stats();
    assert_eq!((stats.accepted, stats.refused, stats.replayed), (1, 2, 1), "{stats:?}");
}

#[tokio::test]
async fn a_full_queue_is_503_and_the_retry_is_not_a_replay() {
    let mut setup = setup(RelayLimits { queue: 1, ..RelayLimits::default() }).await;
    let first = SignedWebhookRequest::new(&Notification::PaymentIncoming, now(), &lsp_key().0);
    assert_eq!(setup.post("/a", &first, &first.body).await, 200);
    tokio::time::sleep(Duration::from_millis(2)).await;
    let second = SignedWebhookRequest::new(&Notification::ExpirySoon { timeout: 900_000 }, now(), &lsp_key().0);
    assert_eq!(setup.post("/a", &second, &second.body).await, 503);
    assert_eq!(setup.wakes.recv().await.expect("first").notification, Notification::PaymentIncoming);
    assert_eq!(setup.post("/a", &second, &second.body).await, 200);
    assert_eq!(setup.wakes.recv().await.expect("second").notification, Notification::ExpirySoon { timeout: 900_000 });
}

#[tokio::test]
async fn slow_and_excess_connections_are_closed() {
    let limits = RelayLimits { max_connections: 2, header_timeout: Duration::from_secs(1), ..RelayLimits::default() };
    let setup = setup(limits).await;
    let address = setup.relay.local_addr();
    // Two silent connections take both slots and are closed after the header timeout.
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(tokio::net::TcpStream::connect(address).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A third is closed at once: it reads end-of-file well before the timeout.
    let mut third = tokio::net::TcpStream::connect(address).await.expect("connect");
    let mut buffer = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buffer)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "the third connection was served: {read:?}");
    for stream in &mut silent {
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "a silent connection stayed open: {read:?}");
    }
    drop(silent);
    // Once they are gone, a real POST goes through again.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let signed = SignedWebhookRequest::new(&Notification::OnionMessageIncoming, now(), &lsp_key().0);
    assert_eq!(setup.post("/b", &signed, &signed.body).await, 200);
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
    stream.write_all(b"not tls").await.expect("write");
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await;
    assert!(read.is_ok(), "garbage instead of a TLS handshake is closed within the timeout");
}
