//! A local HTTPS webhook for `localhost` (shared by the LSPS5 harness tests through
//! `#[path]`): records every request and answers 200.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One POST the webhook received: its headers (names lowercase) and body.
pub type Received = (Vec<(String, String)>, Vec<u8>);

/// A local HTTPS webhook for `localhost` that records every request and answers 200. Returns
/// its URL, the PEM of its certificate and what it received.
pub async fn start_webhook(dir: &std::path::Path) -> (String, std::path::PathBuf, Arc<Mutex<Vec<Received>>>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let ca_file = dir.join("webhook-ca.pem");
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
    let url = format!("https://localhost:{}/wake?device=harness", listener.local_addr().expect("address").port());
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let recorder = Arc::clone(&received);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, recorder) = (acceptor.clone(), Arc::clone(&recorder));
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(read) = tls.read(&mut chunk).await else { return };
                    if read == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..read]);
                    let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") else { continue };
                    let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
                    let headers: Vec<(String, String)> = head
                        .split("\r\n")
                        .skip(1)
                        .filter_map(|line| line.split_once(':'))
                        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
                        .collect();
                    let length = headers
                        .iter()
                        .find(|(name, _)| name == "content-length")
                        .and_then(|(_, value)| value.parse::<usize>().ok())
                        .unwrap_or(0);
                    if buffer.len() < end + 4 + length {
                        continue;
                    }
                    let body = buffer[end + 4..end + 4 + length].to_vec();
                    recorder.lock().expect("lock").push((headers, body));
                    let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                    let _ = tls.shutdown().await;
                    return;
                }
            });
        }
    });
    (url, ca_file, received)
}

/// Now, for verifying notifications.
pub fn now() -> lsps::schema::DateTime {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs();
    lsps::schema::DateTime::from_unix_secs(secs).expect("now")
}
