//! The demo's last flow: `inbound check` (the conformance checker, without `--pay`) against the
//! demo's own LSP, through a node of its own, as an operator would run it against theirs, with
//! a webhook receiver on the push relay's certificate (which the demo's LSP trusts), so the
//! `webhook_registered` POST is checked too.

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use inbound_check::{CheckOptions, Outcome};
use inbound_node::bitcoin::Network;
use inbound_node::BitcoindRpcConfig;
use inbound_push_relay::TlsConfig;
use serde::Serialize;

use super::setup::DEMO_POLL_INTERVAL_SECS;
use super::{poll_until, DemoNet, STEP_TIMEOUT};
use crate::check::RelayReceiver;
use crate::wallet::WalletOptions;

/// The `check` section of the demo's summary: the checker's counts over its whole catalogue.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// Checks passed.
    pub pass: usize,
    /// MUSTs broken (the demo fails unless this is 0).
    pub fail: usize,
    /// SHOULDs broken.
    pub warn: usize,
    /// Checks that did not apply.
    pub skip: usize,
    /// The names of the checks that warned or were skipped, for the reader.
    pub not_passed: Vec<String>,
}

/// Runs the whole catalogue against the demo's LSP.
///
/// The channels the flows opened left the LSP's wallet with only unconfirmed change, and an LSP
/// sells JIT channels only from confirmed coins (its menu is empty until then), so one block is
/// mined first and the LSP synced: the LSPS2 buy checks then run instead of being skipped.
pub async fn check(net: &DemoNet<'_>, root: &std::path::Path, tls: Arc<TlsConfig>) -> Result<CheckReport> {
    net.bcoin.mine(1, None).await.context("mining the LSP's change")?;
    poll_until("the LSP's change to confirm", STEP_TIMEOUT, || async {
        net.lsp.node.sync_chain().await.context("syncing the LSP")?;
        Ok(net.lsp.node.onchain_balance().confirmed_sat > 0)
    })
    .await?;
    let mut chain = BitcoindRpcConfig::new(net.bcoin.rpc_url());
    chain.poll_interval = std::time::Duration::from_secs(DEMO_POLL_INTERVAL_SECS);
    let options = WalletOptions {
        data_dir: root.join("checker"),
        network: Network::Regtest,
        alias: "demo-checker".to_owned(),
        chain,
    };
    let lsp_id = net.lsp.node.node_id();
    let address = net.lsp.listening_address()?;
    let mut check_options = CheckOptions::new(format!("{lsp_id}@{address}"), Network::Regtest);
    let listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    check_options.webhooks = Some(RelayReceiver::start(lsp_id, listen, None, tls).await?);
    let report = crate::check::check_lsp(lsp_id, address, options, &check_options).await?;
    if report.must_failed() {
        let failed: Vec<String> = report
            .with_outcome(Outcome::Fail)
            .map(|finding| format!("{}: {}", finding.check, finding.detail))
            .collect();
        bail!("inbound check failed {} MUST(s) against the demo's LSP: {}", failed.len(), failed.join("; "));
    }
    let not_passed = report
        .findings
        .iter()
        .filter(|finding| finding.outcome != Outcome::Pass)
        .map(|finding| format!("{} {}: {}", finding.outcome.label(), finding.check, finding.detail))
        .collect();
    let counts = report.counts;
    Ok(CheckReport { pass: counts.pass, fail: counts.fail, warn: counts.warn, skip: counts.skip, not_passed })
}
