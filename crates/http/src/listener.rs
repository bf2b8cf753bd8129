//! [`serve`](crate::serve)'s accept loop: every connection is bounded, so no client can hold the
//! process's descriptors or memory.
//!
//! * at most [`HttpConfig::max_connections`] at once; one more is closed at accept;
//! * at most [`HttpConfig::max_connections_per_ip`] from one IP (not counted for the trusted
//!   proxies, whose clients are behind one address; the global cap bounds them);
//! * the request head must arrive within [`HttpConfig::header_timeout`] (hyper's header-read
//!   timeout, also between keep-alive requests), the body within `body_timeout`;
//! * a connection lives at most [`HttpConfig::connection_timeout`], then is shut down gracefully;
//! * an accept that fails (out of descriptors: `EMFILE`) backs off instead of spinning.
//!
//! On shutdown, connections finish their request in flight (at most [`DRAIN_TIMEOUT`]).

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tower::ServiceExt;
use tracing::{debug, warn};

use crate::config::HttpConfig;
use crate::forwarded::IpNet;

/// How long connections may take to finish after shutdown was asked for.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// The pause after a failed accept.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Connections per IP, released when each connection ends.
struct PerIp {
    max: usize,
    trusted: Vec<IpNet>,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in [`PerIp`]; frees it on drop.
struct IpSlot {
    per_ip: Arc<PerIp>,
    ip: Option<IpAddr>,
}

impl PerIp {
    fn take(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        if self.trusted.iter().any(|net| net.contains(ip)) {
            return Some(IpSlot { per_ip: Arc::clone(self), ip: None });
        }
        let mut open = self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = open.entry(ip).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(IpSlot { per_ip: Arc::clone(self), ip: Some(ip) })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let Some(ip) = self.ip else { return };
        let mut open = self.per_ip.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = open.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&ip);
            }
        }
    }
}

/// Accepts and serves connections to `router` until `shutdown`.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    router: Router,
    config: &HttpConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let per_ip = Arc::new(PerIp {
        max: config.max_connections_per_ip.max(1),
        trusted: config.trusted_proxies.clone(),
        open: Mutex::new(HashMap::new()),
    });
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        warn!(%error, "the HTTP endpoint cannot accept a connection; backing off");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                };
                let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                    debug!(%peer, "HTTP connection limit reached; closed");
                    continue;
                };
                let Some(ip_slot) = per_ip.take(peer.ip()) else {
                    debug!(%peer, "HTTP connection limit per IP reached; closed");
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let router = router.clone();
                let (header_timeout, lifetime) = (config.header_timeout, config.connection_timeout);
                let stopping = stopping.clone();
                connections.spawn(async move {
                    serve_connection(tcp, peer, router, header_timeout, lifetime, stopping).await;
                    drop((slot, ip_slot));
                });
            }
        }
    }
    let _ = stop.send(true);
    if tokio::time::timeout(DRAIN_TIMEOUT, async { while connections.join_next().await.is_some() {} }).await.is_err() {
        warn!(left = connections.len(), "HTTP connections still open after the drain timeout; closing them");
        connections.abort_all();
    }
    Ok(())
}

async fn serve_connection(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    router: Router,
    header_timeout: Duration,
    lifetime: Duration,
    mut stopping: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(request)
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(tcp), service);
    tokio::pin!(connection);
    let expired = tokio::time::sleep(lifetime);
    tokio::pin!(expired);
    let mut closing = false;
    loop {
        tokio::select! {
            outcome = connection.as_mut() => {
                if let Err(error) = outcome {
                    debug!(%peer, %error, "HTTP connection ended with an error");
                }
                return;
            }
            () = &mut expired, if !closing => {
                debug!(%peer, "HTTP connection lived its limit; closing after its request in flight");
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            changed = stopping.changed(), if !closing => {
                if changed.is_err() || *stopping.borrow() {
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}
