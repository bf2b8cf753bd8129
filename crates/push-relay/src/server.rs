//! [`PushRelay`]: the accept loop, one bounded TLS connection per POST, and the handler that
//! verifies and queues.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use inbound_client::lsps5::{NotificationRejected, NotificationVerifier};
use lsps::lsps5::Notification;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info};

use crate::{RelayLimits, Wake};

/// Why the relay could not start.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The listening address could not be bound.
    #[error("binding {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A running relay. Dropping it stops accepting (connections in progress finish).
pub struct PushRelay {
    local_addr: SocketAddr,
    accept_loop: JoinHandle<()>,
    context: Arc<Context>,
}

/// What the relay answered so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// POSTs verified and queued (200).
    pub accepted: u64,
    /// POSTs that failed verification (400).
    pub refused: u64,
    /// Replays of accepted POSTs (409).
    pub replayed: u64,
}

struct Context {
    verifier: Arc<NotificationVerifier>,
    wakes: mpsc::Sender<Wake>,
    max_body_bytes: usize,
    accepted: AtomicU64,
    refused: AtomicU64,
    replayed: AtomicU64,
}

impl PushRelay {
    /// Binds `listen` and serves POSTs over `tls`, checked by `verifier`. Verified wake-ups
    /// arrive on the returned receiver, at most `limits.queue` waiting.
    ///
    /// # Errors
    /// If `listen` cannot be bound.
    pub async fn start(
        listen: SocketAddr,
        tls: Arc<ServerConfig>,
        verifier: Arc<NotificationVerifier>,
        limits: RelayLimits,
    ) -> Result<(PushRelay, mpsc::Receiver<Wake>), RelayError> {
        let listener =
            TcpListener::bind(listen).await.map_err(|source| RelayError::Bind { address: listen, source })?;
        let local_addr = listener.local_addr().map_err(|source| RelayError::Bind { address: listen, source })?;
        let (wakes, receiver) = mpsc::channel(limits.queue.max(1));
        let context = Arc::new(Context {
            verifier,
            wakes,
            max_body_bytes: limits.max_body_bytes,
            accepted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            replayed: AtomicU64::new(0),
        });
        let accept_loop = tokio::spawn(accept_loop(listener, TlsAcceptor::from(tls), Arc::clone(&context), limits));
        info!(%local_addr, "LSPS5 push relay listening");
        Ok((PushRelay { local_addr, accept_loop, context }, receiver))
    }

    /// Counts of what it answered.
    pub fn stats(&self) -> RelayStats {
        RelayStats {
            accepted: self.context.accepted.load(Ordering::Relaxed),
            refused: self.context.refused.load(Ordering::Relaxed),
            replayed: self.context.replayed.load(Ordering::Relaxed),
        }
    }

    /// The address it listens on (the port, when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Drop for PushRelay {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, context: Arc<Context>, limits: RelayLimits) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors or a connection reset before accept: back off briefly.
                debug!(%error, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            debug!(%peer, "connection limit reached; closing");
            continue;
        };
        let (acceptor, context, limits) = (acceptor.clone(), Arc::clone(&context), limits.clone());
        tokio::spawn(async move {
            let served = async {
                let Ok(Ok(tls)) = tokio::time::timeout(limits.header_timeout, acceptor.accept(tcp)).await else {
                    return;
                };
                let service = hyper::service::service_fn(|request| handle(request, Arc::clone(&context)));
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(limits.header_timeout)
                    .keep_alive(false)
                    .serve_connection(TokioIo::new(tls), service);
                if let Err(error) = connection.await {
                    debug!(%peer, %error, "connection ended with an error");
                }
            };
            if tokio::time::timeout(limits.request_timeout, served).await.is_err() {
                debug!(%peer, "connection took too long; closed");
            }
            drop(slot);
        });
    }
}

fn answer(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{text}\n"))));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

async fn handle(request: Request<Incoming>, context: Arc<Context>) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.method() != Method::POST {
        return Ok(answer(StatusCode::METHOD_NOT_ALLOWED, "POST only"));
    }
    let declared = request.headers().get(CONTENT_LENGTH).and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > context.max_body_bytes as u64) {
        return Ok(answer(StatusCode::PAYLOAD_TOO_LARGE, "body too large"));
    }
    // Reserve the queue slot first: a POST that could not be queued is answered 503 before the
    // verifier records it, so the LSP's retry is not taken for a replay.
    let Ok(permit) = context.wakes.try_reserve() else {
        return Ok(answer(StatusCode::SERVICE_UNAVAILABLE, "busy; retry later"));
    };
    let (parts, body) = request.into_parts();
    let target = parts.uri.path_and_query().map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let body = match Limited::new(body, context.max_body_bytes).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            return Ok(answer(StatusCode::PAYLOAD_TOO_LARGE, "body too large"));
        }
        Err(_) => return Ok(answer(StatusCode::BAD_REQUEST, "could not read the body")),
    };
    let headers = parts.headers.iter().filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)));
    match context.verifier.verify(headers, &body) {
        Ok(verified) => {
            if let Notification::Unknown(method) = &verified.notification {
                debug!(method = %lsps::jsonrpc::sanitize_text(method), "ignoring an unknown notification");
                return Ok(answer(StatusCode::OK, "ignored"));
            }
            context.accepted.fetch_add(1, Ordering::Relaxed);
            permit.send(Wake {
                target,
                notification: verified.notification,
                sent_at: verified.sent_at,
                received_at: SystemTime::now(),
            });
            Ok(answer(StatusCode::OK, "ok"))
        }
        Err(NotificationRejected::Replayed) => {
            context.replayed.fetch_add(1, Ordering::Relaxed);
            Ok(answer(StatusCode::CONFLICT, "replayed"))
        }
        Err(NotificationRejected::Invalid(error)) => {
            context.refused.fetch_add(1, Ordering::Relaxed);
            debug!(%error, "refused a webhook POST");
            Ok(answer(StatusCode::BAD_REQUEST, &error.to_string()))
        }
    }
}
