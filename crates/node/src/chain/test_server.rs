//! A canned-answer HTTP/1.1 server for the chain module's unit tests.
//!
//! Each accepted connection is served keep-alive until the client closes it or the handler asks
//! for something else ([`Reply`]). Every request is recorded, so a test can check what path,
//! headers and body the client sent and how many requests (retries included) it made.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::{ChainError, ChainFuture};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) method: String,
    pub(crate) path: String,
    /// Header lines, names lower-cased.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    /// Which accepted connection (0, 1, …) carried the request.
    pub(crate) connection: usize,
}

impl Recorded {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// What the server does with a request.
pub(crate) enum Reply {
    /// A keep-alive answer with a `Content-Length`.
    Body(u16, Vec<u8>),
    /// The same, then the server closes the connection without saying so (a stale keep-alive).
    BodyThenClose(u16, Vec<u8>),
    /// These exact bytes, then the connection is closed. Empty: hang up without answering.
    Raw(Vec<u8>),
}

impl Reply {
    pub(crate) fn text(status: u16, text: &str) -> Reply {
        Reply::Body(status, text.as_bytes().to_vec())
    }
}

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync;

/// The running server; aborted on drop.
pub(crate) struct TestServer {
    pub(crate) port: u16,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: JoinHandle<()>,
}

impl TestServer {
    pub(crate) async fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind test server");
        let port = listener.local_addr().expect("local addr").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let recorded = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            let mut connection = 0;
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, connection, Arc::clone(&handler), Arc::clone(&recorded)));
                connection += 1;
            }
        });
        TestServer { port, requests, task }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("requests").clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    stream: tokio::net::TcpStream,
    connection: usize,
    handler: Arc<Handler>,
    requests: Arc<Mutex<Vec<Recorded>>>,
) {
    let mut stream = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            if stream.read_line(&mut header).await.unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        let length = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok());
        let mut body = vec![0u8; length.unwrap_or(0)];
        if stream.read_exact(&mut body).await.is_err() {
            return;
        }
        let request = Recorded { method, path, headers, body, connection };
        requests.lock().expect("requests").push(request.clone());
        let (bytes, close) = match handler(&request) {
            Reply::Body(status, body) => (response(status, &body), false),
            Reply::BodyThenClose(status, body) => (response(status, &body), true),
            Reply::Raw(bytes) => (bytes, true),
        };
        if stream.get_mut().write_all(&bytes).await.is_err() || close {
            return;
        }
    }
}

fn response(status: u16, body: &[u8]) -> Vec<u8> {
    let mut bytes = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Resolves a future that is ready on its first poll (every [`SimChain`](super::SimChain)
/// answer), so a synchronous handler can serve chain data.
pub(crate) fn ready<T>(mut future: ChainFuture<'_, T>) -> Result<T, ChainError> {
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result,
        Poll::Pending => panic!("future was not ready"),
    }
}
