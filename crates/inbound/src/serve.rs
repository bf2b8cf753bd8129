//! `inbound serve`: runs the LSP until SIGINT or SIGTERM, then stops it gracefully.
//!
//! Log lines an operator (and the integration test) can rely on, all at `info`:
//! * `LSP started node_id=… listen=… network=…` once the node accepts peers;
//! * `LSP on-chain wallet funding_address=… confirmed_sat=…` right after: where to send the
//!   coins that fund JIT channels (LSPS2) and that the LSP spends on chain;
//! * `LSPS2 service running resumed=… store=…` when `lsps.enabled` lists LSPS2;
//! * `HTTP endpoint listening http_listen=… path=…` when `http.enabled` is set (the bound address,
//!   useful with port 0);
//! * `admin API listening admin_listen=… key_file=…` when `admin.enabled` is set (the default);
//! * `shutting down signal=…` when a signal arrives;
//! * `HTTP endpoint stopped` once in-flight HTTP requests finished (before the node stops);
//! * `LSP stopped, state persisted` after `Node::stop` returned.
//!
//! A background task that dies (LDK's background processor, which ends when it cannot persist
//! the channel manager; a node helper loop; a service ticker; the HTTP endpoint or the admin API) is logged at
//! `error` (`a background task died; stopping the LSP …` with its `reason`), the LSP is
//! stopped as after a signal, and the process exits non-zero: an LSP that forwards HTLCs
//! without saving channel state can lose money, so it stops where an operator's supervisor
//! sees it.

use anyhow::{Context, Result};
use tokio::signal::unix::{signal, SignalKind};

use crate::config::{redacted_url, Config};
use crate::endpoint::{bind_admin, bind_http, ended, start_admin, start_http, Endpoint};
use crate::lsp::{start_lsp, Lsp};

/// Runs the daemon with `config` until a shutdown signal.
///
/// # Errors
/// If the LSP cannot start, the signal handlers cannot be installed, or the final persistence
/// fails.
pub async fn run(config: Config) -> Result<()> {
    // Install the handlers before starting, so a signal during start-up is not lost.
    let mut terminate = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    // The services' counters go to the recorder from their first request on.
    if config.admin.enabled {
        if let Err(error) = inbound_admin::install_metrics_recorder() {
            tracing::warn!("no metrics recorder: {error}");
        }
    }

    tracing::info!(
        network = %config.network,
        data_dir = %config.data_dir.display(),
        chain = %redacted_url(&config.chain.url),
        "starting the LSP"
    );
    raise_open_file_limit();
    // Bind first, so that a taken port fails the start before the node runs.
    let http_listener = bind_http(&config).await?;
    let admin_listener = bind_admin(&config).await?;
    let lsp = start_lsp(&config).await?;
    let (mut http, mut admin) = match start_endpoints(http_listener, admin_listener, &config, &lsp) {
        Ok(endpoints) => endpoints,
        Err(error) => {
            if let Err(stop_error) = lsp.stop().await {
                tracing::warn!("stopping the LSP after a failed start: {stop_error:#}");
            }
            return Err(error);
        }
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
        reason = ended(&mut http) => Some(reason),
        reason = ended(&mut admin) => Some(reason),
    };
    if let Some(reason) = &failure {
        tracing::error!(%reason, "a background task died; stopping the LSP and exiting with an error");
    }
    for endpoint in [http, admin].into_iter().flatten() {
        endpoint.stop().await;
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

/// Starts the endpoints whose listeners were bound; on an error, stops the one already started.
fn start_endpoints(
    http: Option<tokio::net::TcpListener>,
    admin: Option<tokio::net::TcpListener>,
    config: &Config,
    lsp: &Lsp,
) -> Result<(Option<Endpoint>, Option<Endpoint>)> {
    let http = http.map(|listener| start_http(listener, config, lsp)).transpose()?;
    let admin = match admin.map(|listener| start_admin(listener, config, lsp)).transpose() {
        Ok(admin) => admin,
        Err(error) => {
            if let Some(http) = http {
                tokio::spawn(http.stop());
            }
            return Err(error);
        }
    };
    Ok((http, admin))
}

/// Raises the soft open-file limit to the hard one (peers, the store, the wallet and HTTP clients
/// all take descriptors; `http.max_connections` bounds the HTTP share) and logs both.
fn raise_open_file_limit() {
    #[cfg(unix)]
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(soft) => {
            let hard = rlimit::Resource::NOFILE.get().map(|(_, hard)| hard).unwrap_or(soft);
            tracing::info!(nofile_soft = soft, nofile_hard = hard, "open-file limit");
        }
        Err(error) => tracing::warn!(%error, "cannot raise the open-file limit"),
    }
}
