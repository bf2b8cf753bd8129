//! `inbound client webhook set|list|remove`: manage the wallet's LSPS5 (bLIP-55) webhooks at
//! an LSP.
//!
//! The LSP binds webhooks to the wallet's node id, so these commands are useful with the
//! `--data-dir` of the wallet whose webhooks they manage (without it the wallet is a fresh
//! throwaway node with no webhooks). Each prints one JSON object: `set` the LSP's answer
//! (`num_webhooks`, `max_webhooks`, `no_change`), `list` the app names (the LSP never returns
//! URLs), `remove` `{"removed": true}`. bLIP-55's errors (500–503, 1010) are reported by name;
//! `set` checks the app name and URL before connecting.

use anyhow::{anyhow, Result};
use clap::{Args, Subcommand};
use inbound_client::lsps5::Lsps5Client;
use lsps::lsps5::{validate_set_webhook, SetWebhookRequest};
use serde_json::json;

use crate::cli::ListProtocolsArgs;
use crate::client::with_connected_wallet;

/// `inbound client webhook …`.
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Register the webhook of an app (or point it at a new URL); the LSP POSTs
    /// `lsps5.webhook_registered` to it.
    Set(SetWebhookArgs),
    /// List the app names the LSP holds webhooks for.
    List(ListProtocolsArgs),
    /// Make the LSP forget an app's webhook.
    Remove(RemoveWebhookArgs),
}

/// `inbound client webhook set` options.
#[derive(Debug, Clone, Args)]
pub struct SetWebhookArgs {
    /// The LSP and the wallet node.
    #[command(flatten)]
    pub wallet: ListProtocolsArgs,
    /// The app the webhook belongs to (at most 64 bytes).
    #[arg(long, value_name = "NAME")]
    pub app_name: String,
    /// The HTTPS URL the LSP POSTs notifications to (at most 1024 characters).
    #[arg(long, value_name = "URL")]
    pub url: String,
}

/// `inbound client webhook remove` options.
#[derive(Debug, Clone, Args)]
pub struct RemoveWebhookArgs {
    /// The LSP and the wallet node.
    #[command(flatten)]
    pub wallet: ListProtocolsArgs,
    /// The app whose webhook to remove.
    #[arg(long, value_name = "NAME")]
    pub app_name: String,
}

/// Runs one `inbound client webhook` command.
///
/// # Errors
/// A bad `--app-name`/`--url` (before connecting), an unreachable chain backend or LSP, an
/// LSPS5 error from the LSP, or no answer within the timeout.
pub async fn run(command: WebhookCommand) -> Result<()> {
    let printed = match command {
        WebhookCommand::Set(args) => {
            let request = SetWebhookRequest { app_name: args.app_name.clone(), webhook: args.url.clone() };
            validate_set_webhook(&request).map_err(|error| anyhow!("--app-name/--url: {error}"))?;
            let (lsp, answer) = with_connected_wallet(&args.wallet, "lsps5.set_webhook", |wallet, lsp| async move {
                Ok(Lsps5Client::new(wallet.client.clone()).set_webhook(lsp, &args.app_name, &args.url).await?)
            })
            .await?;
            json!({
                "lsp": lsp.to_string(),
                "app_name": request.app_name,
                "num_webhooks": answer.num_webhooks,
                "max_webhooks": answer.max_webhooks,
                "no_change": answer.no_change,
            })
        }
        WebhookCommand::List(args) => {
            let (lsp, answer) = with_connected_wallet(&args, "lsps5.list_webhooks", |wallet, lsp| async move {
                Ok(Lsps5Client::new(wallet.client.clone()).list_webhooks(lsp).await?)
            })
            .await?;
            json!({ "lsp": lsp.to_string(), "app_names": answer.app_names, "max_webhooks": answer.max_webhooks })
        }
        WebhookCommand::Remove(args) => {
            let app_name = args.app_name.clone();
            let (lsp, ()) = with_connected_wallet(&args.wallet, "lsps5.remove_webhook", |wallet, lsp| async move {
                Ok(Lsps5Client::new(wallet.client.clone()).remove_webhook(lsp, &args.app_name).await?)
            })
            .await?;
            json!({ "lsp": lsp.to_string(), "app_name": app_name, "removed": true })
        }
    };
    println!("{printed}");
    Ok(())
}
