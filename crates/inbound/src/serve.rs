//! `inbound serve`: runs the LSP until SIGINT or SIGTERM, then stops it gracefully.
//!
//! Log lines an operator (and the integration test) can rely on, all at `info`:
//! * `LSP started node_id=… listen=… network=…` once the node accepts peers;
//! * `LSP on-chain wallet funding_address=… confirmed_sat=…` right after: where to send the
//!   coins that fund JIT channels (LSPS2) and that the LSP spends on chain;
//! * `LSPS2 service running resumed=… store=…` when `lsps.enabled` lists LSPS2;
//! * `HTTP endpoint listening http_listen=… path=…` when `http.enabled` is set (the bound address,
//!   useful with port 0);
//! * `shutting down signal=…` when a signal arrives;
//! * `HTTP endpoint stopped` once in-flight HTTP requests finished (before the node stops);
//! * `LSP stopped, state persisted` after `Node::stop` returned.
//!
//! A background task that dies (LDK's background processor, which ends when it cannot persist
//! the channel manager; a node helper loop; a service ticker; the HTTP endpoint) is logged at
//! `error` (`a background task died; stopping the LSP …` with its `reason`), the LSP is
//! stopped as after a signal, and the process exits non-zero: an LSP that forwards HTLCs
//! without saving channel state can lose money, so it stops where an operator's supervisor
//! sees it.

use anyhow::{Context, Result};
use tokio::signal::unix::{signal, SignalKind};

use crate::config::{redacted_url, Config};
use crate::lsp::start_lsp;

/// How long in-flight HTTP requests may take to finish after a shutdown signal.
pub const HTTP_DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs the daemon with `config` until a shutdown signal.
///
/// # Errors
/// If the LSP cannot start, the signal handlers cannot be installed, or the final persistence
/// fails.
pub async fn run(config: Config) -> Result<()> {
    // Install the handlers before starting, so a signal during start-up is not lost.
    let mut terminate = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;

    tracing::info!(
        network = %config.network,
        data_dir = %config.data_dir.display(),
        chain = %redacted_url(&config.chain.url),
        "starting the LSP"
    );
    // Bind first, so that a taken port fails the start before the node runs.
    let http_listener = match config.http.enabled {
        true => Some(
            tokio::net::TcpListener::bind(config.http.listen)
                .await
                .with_context(|| format!("binding the HTTP endpoint on {} (http.listen)", config.http.listen))?,
        ),
        false => None,
    };
    let lsp = start_lsp(&config).await?;
    let http = match http_listener {
        Some(listener) => match start_http(listener, &config, &lsp) {
            Ok(http) => Some(http),
            Err(error) => {
                if let Err(stop_error) = lsp.stop().await {
                    tracing::warn!("stopping the LSP after a failed start: {stop_error:#}");
                }
                return Err(error);
            }
        },
        None => None,
    };
    let listen = lsp.listening_address()?;
    tracing::info!(node_id = %lsp.node.node_id(), %listen, network = %config.network, "LSP started");
    match lsp.node.new_onchain_address() {
        Ok(address) => tracing::info!(
            funding_address = %address,
            confirmed_sat = lsp.node.onchain_balance().confirmed_sat,
            "LSP on-chain wallet"
        ),
        Err(error) => tracing::warn!("no on-chain address for the LSP's wallet: {error}"),
    }

    let mut http = http;
    let http_ended = async {
        match http.as_mut() {
            Some(http) => http.ended().await,
            None => std::future::pending().await,
        }
    };
    let failure = tokio::select! {
        _ = terminate.recv() => {
            tracing::info!(signal = "SIGTERM", "shutting down");
            None
        }
        _ = interrupt.recv() => {
            tracing::info!(signal = "SIGINT", "shutting down");
            None
        }
        reason = lsp.wait_for_failure() => Some(reason),
        reason = http_ended => Some(reason),
    };
    if let Some(reason) = &failure {
        tracing::error!(%reason, "a background task died; stopping the LSP and exiting with an error");
    }
    if let Some(http) = http {
        http.stop().await;
    }
    let stats = lsp.server.stats();
    tracing::info!(
        requests = stats.requests,
        answered = stats.answered,
        parse_errors = stats.parse_errors,
        rejected_over_limit = stats.rejected_over_limit,
        "LSPS server counters"
    );
    if let Some(service) = &lsp.lsps2 {
        match service.stats().await {
            Ok(stats) => tracing::info!(
                paid = stats.paid_since_start,
                fees_collected_msat = stats.fees_collected_msat_since_start,
                failed = stats.failed_since_start,
                active = ?stats.active_by_state,
                "LSPS2 counters"
            ),
            Err(error) => tracing::warn!("reading the LSPS2 counters: {error}"),
        }
    }
    // Stops the services' tickers first, then the node.
    let stopped = lsp.stop().await;
    if let Some(reason) = failure {
        if let Err(error) = stopped {
            tracing::error!("{error:#}");
        }
        return Err(anyhow::anyhow!("the LSP stopped because a background task died: {reason}"));
    }
    stopped?;
    tracing::info!("LSP stopped, state persisted");
    Ok(())
}

/// The running HTTP endpoint.
struct HttpEndpoint {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The task was awaited to its end already (by [`ended`](Self::ended)).
    finished: bool,
}

impl HttpEndpoint {
    /// Waits until the endpoint's task ends on its own (it never should before
    /// [`stop`](Self::stop)) and says why.
    async fn ended(&mut self) -> String {
        let outcome = (&mut self.task).await;
        self.finished = true;
        match outcome {
            Ok(Ok(())) => "the HTTP endpoint stopped serving".to_owned(),
            Ok(Err(error)) => format!("the HTTP endpoint failed: {error}"),
            Err(error) => format!("the HTTP endpoint task: {error}"),
        }
    }

    /// Stops accepting, lets in-flight requests finish (at most [`HTTP_DRAIN_TIMEOUT`]).
    async fn stop(self) {
        // The task may have ended already (it logged why); nothing to tell then.
        let _ = self.stop.send(());
        if self.finished {
            return;
        }
        match tokio::time::timeout(HTTP_DRAIN_TIMEOUT, self.task).await {
            Ok(Ok(Ok(()))) => tracing::info!("HTTP endpoint stopped"),
            Ok(Ok(Err(error))) => tracing::warn!("HTTP endpoint: {error}"),
            Ok(Err(error)) => tracing::warn!("HTTP endpoint task: {error}"),
            Err(_) => tracing::warn!("HTTP endpoint: in-flight requests did not finish in time"),
        }
    }
}

/// Serves `[http]` on `listener` through the LSP's own LSPS server (clients'
/// `x-inbound-node-address` go to the LSPS1 service, when it runs).
fn start_http(listener: tokio::net::TcpListener, config: &Config, lsp: &crate::lsp::Lsp) -> Result<HttpEndpoint> {
    let mut state = inbound_http::HttpState::new(std::sync::Arc::clone(&lsp.server), config.http.config.clone())
        .context("the [http] configuration")?;
    if let Some(lsps1) = &lsp.lsps1 {
        state = state.with_address_book(std::sync::Arc::clone(lsps1.client_addresses()));
    }
    let bound = listener.local_addr().context("the HTTP endpoint's bound address")?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(inbound_http::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    tracing::info!(
        http_listen = %bound,
        path = %config.http.config.path,
        require_node_signature = config.http.config.require_node_signature,
        trusted_proxies = config.http.config.trusted_proxies.len(),
        "HTTP endpoint listening"
    );
    Ok(HttpEndpoint { stop, task, finished: false })
}
