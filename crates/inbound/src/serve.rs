//! `inbound serve`: runs the LSP until SIGINT or SIGTERM, then stops it gracefully.
//!
//! Log lines an operator (and the integration test) can rely on, all at `info`:
//! * `LSP started node_id=… listen=… network=…` once the node accepts peers;
//! * `LSP on-chain wallet funding_address=… confirmed_sat=…` right after: where to send the
//!   coins that fund JIT channels (LSPS2) and that the LSP spends on chain;
//! * `LSPS2 service running resumed=… store=…` when `lsps.enabled` lists LSPS2;
//! * `shutting down signal=…` when a signal arrives;
//! * `LSP stopped, state persisted` after `Node::stop` returned.

use anyhow::{Context, Result};
use tokio::signal::unix::{signal, SignalKind};

use crate::config::{redacted_url, Config};
use crate::lsp::start_lsp;

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
    let lsp = start_lsp(&config).await?;
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

    let signal_name = tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    };
    tracing::info!(signal = signal_name, "shutting down");
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
    // Stops the LSPS2 ticker first, then the node.
    lsp.stop().await?;
    tracing::info!("LSP stopped, state persisted");
    Ok(())
}
