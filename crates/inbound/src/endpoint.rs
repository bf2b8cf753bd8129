//! The LSP's HTTP front ends as running tasks: the LSPS endpoint (`[http]`) and the admin API
//! (`[admin]`). `inbound serve` and `inbound demo` start them the same way.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::config::Config;
use crate::lsp::Lsp;

/// How long in-flight requests may take to finish after a shutdown signal.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A server task with a stop signal.
pub struct Endpoint {
    name: &'static str,
    /// The address it serves on.
    pub bound: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The task was awaited to its end already (by [`ended`](Self::ended)).
    finished: bool,
}

impl Endpoint {
    /// Spawns `serve(shutdown)` as the endpoint called `name` (for log lines).
    fn spawn<F>(name: &'static str, bound: SocketAddr, serve: impl FnOnce(ShutdownSignal) -> F) -> Endpoint
    where
        F: Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(Box::pin(async move {
            let _ = stopped.await;
        })));
        Endpoint { name, bound, stop, task, finished: false }
    }

    /// Waits until the endpoint's task ends on its own (it never should before
    /// [`stop`](Self::stop)) and says why.
    pub async fn ended(&mut self) -> String {
        let outcome = (&mut self.task).await;
        self.finished = true;
        match outcome {
            Ok(Ok(())) => format!("the {} stopped serving", self.name),
            Ok(Err(error)) => format!("the {} failed: {error}", self.name),
            Err(error) => format!("the {} task: {error}", self.name),
        }
    }

    /// Stops accepting, lets in-flight requests finish (at most [`DRAIN_TIMEOUT`]).
    pub async fn stop(self) {
        // The task may have ended already (it logged why); nothing to tell then.
        let _ = self.stop.send(());
        if self.finished {
            return;
        }
        let name = self.name;
        match tokio::time::timeout(DRAIN_TIMEOUT, self.task).await {
            Ok(Ok(Ok(()))) => tracing::info!("{name} stopped"),
            Ok(Ok(Err(error))) => tracing::warn!("{name}: {error}"),
            Ok(Err(error)) => tracing::warn!("{name} task: {error}"),
            Err(_) => tracing::warn!("{name}: in-flight requests did not finish in time"),
        }
    }
}

/// Waits until `endpoint` ends on its own; never, when there is none.
pub async fn ended(endpoint: &mut Option<Endpoint>) -> String {
    match endpoint {
        Some(endpoint) => endpoint.ended().await,
        None => std::future::pending().await,
    }
}

type ShutdownSignal = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// Binds `[http]` if it is enabled (before the node starts, so a taken port fails the start).
///
/// # Errors
/// If the address is taken.
pub async fn bind_http(config: &Config) -> Result<Option<tokio::net::TcpListener>> {
    if !config.http.enabled {
        return Ok(None);
    }
    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .with_context(|| format!("binding the HTTP endpoint on {} (http.listen)", config.http.listen))?;
    Ok(Some(listener))
}

/// Binds `[admin]` if it is enabled.
///
/// # Errors
/// If the address is taken.
pub async fn bind_admin(config: &Config) -> Result<Option<tokio::net::TcpListener>> {
    if !config.admin.enabled {
        return Ok(None);
    }
    let listener = tokio::net::TcpListener::bind(config.admin.listen)
        .await
        .with_context(|| format!("binding the admin API on {} (admin.listen)", config.admin.listen))?;
    Ok(Some(listener))
}

/// Serves `[http]` on `listener` through the LSP's own LSPS server (clients'
/// `x-inbound-node-address` go to the LSPS1 service, when it runs).
///
/// # Errors
/// If the `[http]` settings are refused.
pub fn start_http(listener: tokio::net::TcpListener, config: &Config, lsp: &Lsp) -> Result<Endpoint> {
    let mut state = inbound_http::HttpState::new(Arc::clone(&lsp.server), config.http.config.clone())
        .context("the [http] configuration")?;
    if let Some(lsps1) = &lsp.lsps1 {
        state = state.with_address_book(Arc::clone(lsps1.client_addresses()));
    }
    if let (true, Some(lsps1)) = (config.web.enabled, &lsp.lsps1) {
        state = state.with_web(Arc::clone(lsps1), config.web.config.clone(), config.network);
        tracing::info!(frame_ancestors = config.web.config.frame_ancestors.len(), "web widget served at /");
    }
    if let (Some(vouchers), Some(lnurl)) = (&lsp.vouchers, &lsp.lnurl) {
        state = state.with_lnurl(Arc::clone(vouchers), lnurl.clone());
        tracing::info!(public_url = %lnurl.public_url, node_uri = %lnurl.node_uri, "LNURL-channel served (vouchers)");
    }
    let bound = listener.local_addr().context("the HTTP endpoint's bound address")?;
    let endpoint = Endpoint::spawn("HTTP endpoint", bound, |shutdown| inbound_http::serve(listener, state, shutdown));
    tracing::info!(
        http_listen = %bound,
        path = %config.http.config.path,
        require_node_signature = config.http.config.require_node_signature,
        trusted_proxies = config.http.config.trusted_proxies.len(),
        "HTTP endpoint listening"
    );
    Ok(endpoint)
}

/// Serves the admin API on `listener`: the key file is created at first start (mode 0600), the
/// process's Prometheus recorder backs `/metrics`.
///
/// # Errors
/// If the key file cannot be read or created.
pub fn start_admin(listener: tokio::net::TcpListener, config: &Config, lsp: &Lsp) -> Result<Endpoint> {
    let key_path = config.admin_key_path();
    if let Some(parent) = key_path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let key = inbound_admin::AdminKey::load_or_create(&key_path).context("the admin key (admin.key_file)")?;
    let node = Arc::clone(&lsp.node) as Arc<dyn inbound_admin::NodeView>;
    let control = Arc::clone(&lsp.node) as Arc<dyn inbound_admin::NodeControl>;
    let mut state = inbound_admin::AdminState::new(node, control, lsp.operator.clone(), Arc::new(key))
        .with_max_chain_lag(config.admin.max_chain_lag_blocks);
    if let Some(bans) = &lsp.bans {
        state = state.with_bans(Arc::clone(bans));
    }
    if let Some(lsps1) = &lsp.lsps1 {
        state = state.with_lsps1(Arc::clone(lsps1));
    }
    if let Some(lsps2) = &lsp.lsps2 {
        state = state.with_lsps2(Arc::clone(lsps2));
    }
    if let Some(vouchers) = &lsp.vouchers {
        state = state.with_vouchers(Arc::clone(vouchers), lsp.lnurl.clone());
    }
    match inbound_admin::install_metrics_recorder() {
        Ok(handle) => state = state.with_metrics(handle),
        Err(error) => tracing::warn!("no /metrics: {error}"),
    }
    let bound = listener.local_addr().context("the admin API's bound address")?;
    let endpoint = Endpoint::spawn("admin API", bound, |shutdown| inbound_admin::serve(listener, state, shutdown));
    tracing::info!(admin_listen = %bound, key_file = %key_path.display(), "admin API listening");
    Ok(endpoint)
}
