//! The accept loop over real sockets: the global and per-IP connection caps close the extra
//! connection at accept, a client that does not finish its request head is cut off, a
//! connection is closed after its lifetime, and a slot freed by a closed connection is usable
//! again. Every other request is still answered.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use inbound_http::{serve, HttpConfig, HttpState};
use inbound_service::{LspsServer, LspsServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start(config: HttpConfig) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let server = LspsServer::new(LspsServerConfig::default());
    let state = HttpState::new(Arc::clone(&server), config).expect("valid config");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, state, async move {
        let _ = stopped.await;
    }));
    (address, stop)
}

/// Whether the server closed `stream` (EOF or reset) within `wait`.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut byte = [0u8; 1024];
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut byte)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// One `lsps0.list_protocols` over a new connection: the status line.
async fn ask(address: SocketAddr) -> String {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let body = r#"{"jsonrpc":"2.0","id":"1","method":"lsps0.list_protocols","params":{}}"#;
    let request = format!(
        "POST /lsps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer))
        .await
        .expect("answered")
        .expect("read");
    answer.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn connections_over_the_per_ip_cap_are_closed_and_slots_come_back() {
    let config =
        HttpConfig { max_connections_per_ip: 2, header_timeout: Duration::from_secs(30), ..HttpConfig::default() };
    let (address, _stop) = start(config).await;
    let mut first = TcpStream::connect(address).await.expect("connect");
    let mut second = TcpStream::connect(address).await.expect("connect");
    let mut third = TcpStream::connect(address).await.expect("connect");
    assert!(closed_within(&mut third, Duration::from_secs(2)).await, "a third connection from one IP is closed");
    assert!(!closed_within(&mut first, Duration::from_millis(300)).await, "the first two stay");
    assert!(!closed_within(&mut second, Duration::from_millis(300)).await);
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(ask(address).await, "HTTP/1.1 200 OK", "a freed slot serves again");
}

#[tokio::test]
async fn the_global_cap_holds_too() {
    let config = HttpConfig { max_connections: 3, header_timeout: Duration::from_secs(30), ..HttpConfig::default() };
    let (address, _stop) = start(config).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(TcpStream::connect(address).await.expect("connect"));
    }
    let mut extra = TcpStream::connect(address).await.expect("connect");
    assert!(closed_within(&mut extra, Duration::from_secs(2)).await, "the fourth connection is closed");
    open.clear();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(ask(address).await, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn slow_heads_and_old_connections_are_cut_off() {
    let config = HttpConfig {
        header_timeout: Duration::from_millis(500),
        connection_timeout: Duration::from_secs(2),
        ..HttpConfig::default()
    };
    let (address, _stop) = start(config).await;
    // Half a request head, then nothing: closed after the header timeout.
    let mut slow = TcpStream::connect(address).await.expect("connect");
    slow.write_all(b"POST /lsps HTTP/1.1\r\nHost: x\r\n").await.expect("write");
    let started = Instant::now();
    assert!(closed_within(&mut slow, Duration::from_secs(3)).await, "a half-sent head is cut off");
    assert!(started.elapsed() >= Duration::from_millis(400), "not before the header timeout");
    // An idle connection that never sends anything is cut off too.
    let mut idle = TcpStream::connect(address).await.expect("connect");
    assert!(closed_within(&mut idle, Duration::from_secs(3)).await, "an idle connection is cut off");
    // A busy kept-alive connection (a request every 300 ms) is closed once it lived 2 s.
    let mut busy = TcpStream::connect(address).await.expect("connect");
    let body = r#"{"jsonrpc":"2.0","id":"1","method":"lsps0.list_protocols","params":{}}"#;
    let request = format!(
        "POST /lsps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let started = Instant::now();
    let mut answered = 0;
    let lived = loop {
        if busy.write_all(request.as_bytes()).await.is_err() {
            break started.elapsed();
        }
        let mut buffer = [0u8; 4096];
        match tokio::time::timeout(Duration::from_secs(2), busy.read(&mut buffer)).await {
            Ok(Ok(read)) if read > 0 => answered += 1,
            _ => break started.elapsed(),
        }
        assert!(started.elapsed() < Duration::from_secs(6), "a connection outlived its limit");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(answered >= 3, "kept-alive requests are served ({answered})");
    assert!(lived >= Duration::from_millis(1900), "not closed before its lifetime: {lived:?}");
    assert_eq!(ask(address).await, "HTTP/1.1 200 OK");
}
