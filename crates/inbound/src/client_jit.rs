//! `inbound client jit-invoice`: buys an LSPS2 JIT channel (bLIP-52) from an LSP and prints the
//! invoice and fee as JSON.
//!
//! It starts a wallet node (role wallet, not listening) wired for LSPS2
//! ([`start_jit_wallet`]: the `WalletEventHandler` in front of the usual event handler, the
//! `Lsps2Client`'s channel acceptor), connects to the LSP and calls `Lsps2Client::jit_invoice`. The purchase is
//! saved in the wallet's data directory, so the invoice can be paid into a later run of a
//! wallet on the same data directory too: with `--wait-secs N` the wallet stays up for N
//! seconds, accepts the LSP's 0-conf channel, checks the skimmed fee, claims, and prints a second
//! JSON line. Without it (the default, 0) the command exits at once; a payment arriving while no
//! wallet process runs waits at the LSP for the wallet to connect, and fails back if it does not.

use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use clap::Args;
use inbound_client::lsps2::JitInvoiceRequest;
use inbound_node::lightning::events::Event;
use serde_json::json;

use crate::client::resolve_lsp;
use crate::events::wait_for_event;
use crate::wallet::start_jit_wallet;

/// `inbound client jit-invoice` options.
#[derive(Debug, Clone, Args)]
pub struct JitInvoiceArgs {
    /// The LSP, as <node_id>@<host:port>.
    #[arg(long, value_name = "NODE_ID@HOST:PORT")]
    pub lsp: String,
    /// The invoice amount (MPP + fixed-amount mode). Omit for a variable-amount invoice.
    #[arg(long, value_name = "MSAT")]
    pub amount_msat: Option<u64>,
    /// The highest opening fee accepted.
    #[arg(long, value_name = "MSAT")]
    pub max_fee_msat: u64,
    /// An LSPS2 token for `lsps2.get_info`.
    #[arg(long)]
    pub token: Option<String>,
    /// The invoice description.
    #[arg(long, default_value = "inbound JIT invoice")]
    pub description: String,
    /// The wanted invoice expiry (shortened to the offer's `valid_until`).
    #[arg(long, default_value_t = 3600, value_name = "SECS")]
    pub expiry_secs: u32,
    /// Stay online this long to receive the payment (0: exit after printing the invoice).
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    pub wait_secs: u64,
    /// The wallet node.
    #[command(flatten)]
    pub node: crate::client::WalletNodeArgs,
}

/// Runs `inbound client jit-invoice`; see the module documentation.
///
/// # Errors
/// A bad `--lsp`, an unreachable chain backend or LSP, an LSP refusal, no offer under the fee
/// cap, or a timeout.
pub async fn jit_invoice(args: JitInvoiceArgs) -> Result<()> {
    let (lsp_id, address) = resolve_lsp(&args.lsp).await?;
    let (_temporary_dir, options) = args.node.options()?;
    let wallet = start_jit_wallet(options).await?;
    let node = &wallet.node;
    let events = &wallet.events;
    let lsps2 = wallet.lsps2.clone().ok_or_else(|| anyhow!("the wallet node was started without LSPS2"))?;

    let timeout = args.node.timeout();
    let mut subscription = events.subscribe();
    let outcome = async {
        tokio::time::timeout(timeout, node.connect_peer(lsp_id, address, false))
            .await
            .map_err(|_| anyhow!("timed out after {timeout:?} connecting to {lsp_id}@{address}"))?
            .with_context(|| format!("connecting to {lsp_id}@{address}"))?;
        let request = JitInvoiceRequest {
            lsp: lsp_id,
            amount_msat: args.amount_msat,
            max_fee_msat: args.max_fee_msat,
            description: args.description.clone(),
            expiry_secs: args.expiry_secs,
            token: args.token.clone(),
        };
        let jit = tokio::time::timeout(timeout * 2, lsps2.jit_invoice(request))
            .await
            .map_err(|_| anyhow!("timed out buying a JIT channel"))?
            .context("buying a JIT channel")?;
        println!(
            "{}",
            json!({
                "lsp": lsp_id.to_string(),
                "invoice": jit.invoice.to_string(),
                "opening_fee_msat": jit.opening_fee_msat,
                "opening_fee_params": jit.opening_fee_params,
                "jit_channel_scid": jit.intercept_scid.to_string(),
                "lsp_cltv_expiry_delta": jit.lsp_cltv_expiry_delta,
                "client_trusts_lsp": jit.client_trusts_lsp,
            })
        );
        if args.wait_secs > 0 {
            let hash = jit.invoice.payment_hash().to_string();
            let received_msat =
                wait_for_event(&mut subscription, "the JIT payment", Duration::from_secs(args.wait_secs), |event| {
                    match event {
                        Event::PaymentClaimed { payment_hash, amount_msat, .. } if payment_hash.to_string() == hash => {
                            Some(Ok(*amount_msat))
                        }
                        _ => None,
                    }
                })
                .await?;
            println!("{}", json!({ "payment_hash": hash, "received_msat": received_msat }));
        }
        Ok::<(), anyhow::Error>(())
    }
    .await;
    if let Err(error) = node.stop().await {
        tracing::warn!("stopping the wallet node: {error:#}");
    }
    outcome
}
