//! `inbound admin …`: the operator's CLI over the admin API of a running `inbound serve`.
//!
//! The URL and key come from the same configuration as `serve` (`admin.listen`, the key file),
//! or from `--url` / `--key-file`. Output is a table for people, or the API's JSON with
//! `--json`. Exit codes: 0 done, 1 failed (unreachable, refused, invalid), 2 `ready` found the LSP
//! not ready, 3 the order or session does not exist, 4 the action does not apply (banning a
//! banned client, unbanning one that is not).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use inbound_admin::{AdminClient, AdminClientError, AdminKey, ErrorCode};
use serde_json::Value;

use crate::cli::ConfigArgs;

/// Exit code of `ready` when the LSP is not ready.
pub const EXIT_NOT_READY: u8 = 2;
/// Exit code when the order or session asked for does not exist.
pub const EXIT_NOT_FOUND: u8 = 3;
/// Exit code when an action does not apply as things stand.
pub const EXIT_CONFLICT: u8 = 4;

/// `inbound admin` options.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The admin API (default: `http://<admin.listen>` from the configuration).
    #[arg(long, value_name = "URL", global = true)]
    pub url: Option<String>,
    /// The admin key file (default: `admin.key_file` from the configuration, else `admin.key`
    /// in the data directory).
    #[arg(long, value_name = "FILE", global = true)]
    pub key_file: Option<PathBuf>,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// The LSP's configuration, for the defaults above.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// What to show.
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// `inbound admin` commands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// The node: id, network, addresses, sync height, peers.
    Info,
    /// On-chain and Lightning balances.
    Balances,
    /// Every channel.
    Channels,
    /// A fresh address of the LSP's on-chain wallet (to fund it).
    NewAddress,
    /// Send coins from the on-chain wallet.
    Send {
        /// The destination (an address of the LSP's network).
        address: String,
        /// How much; the fee comes on top.
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        amount_sat: Option<u64>,
        /// Everything, the fee taken out of it.
        #[arg(long)]
        all: bool,
        /// The fee rate (default: the chain's estimate).
        #[arg(long, value_name = "SAT_PER_VB")]
        fee_rate: Option<u64>,
    },
    /// Connect to a peer (and keep reconnecting to it).
    Connect {
        /// <node_id>@<host:port>.
        peer: String,
    },
    /// Open a channel funded by the on-chain wallet.
    OpenChannel {
        /// <node_id>@<host:port>, or a connected peer's node id.
        peer: String,
        /// The channel's size.
        #[arg(long)]
        amount_sat: u64,
        /// Given to the peer at the start.
        #[arg(long, default_value_t = 0)]
        push_msat: u64,
        /// Announce it to the network (a public, routing channel).
        #[arg(long)]
        public: bool,
    },
    /// Close a channel (cooperatively; --force broadcasts our latest commitment).
    CloseChannel {
        /// The channel id (hex, as `channels` shows it).
        channel_id: String,
        /// Force-close: our funds wait for the CSV delay.
        #[arg(long)]
        force: bool,
        /// Required with --force.
        #[arg(long)]
        yes_force_close: bool,
    },
    /// LSPS1 orders, newest first.
    Orders(ListArgs),
    /// One LSPS1 order with its history.
    Order {
        /// The order id.
        id: String,
    },
    /// Cancel an LSPS1 order that is not paid in full (a partial deposit is refunded).
    CancelOrder {
        /// The order id.
        id: String,
        /// Why (kept in the order's history).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Refund a paid LSPS1 order between open attempts (its HTLC failed back, or its deposit
    /// refunded), or send a refund the LSP kept to --address.
    RefundOrder {
        /// The order id.
        id: String,
        /// Where an on-chain refund goes (an address of the LSP's network).
        #[arg(long)]
        address: Option<String>,
        /// Why (kept in the order's history).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Make a paid LSPS1 order that waits for its next open attempt try now.
    RetryOrder {
        /// The order id.
        id: String,
        /// Why (kept in the order's history).
        #[arg(long)]
        reason: Option<String>,
    },
    /// LSPS2 JIT sessions, newest first.
    Sessions(ListArgs),
    /// One LSPS2 session with its history.
    Session {
        /// The session id.
        id: String,
    },
    /// Fail an LSPS2 session that collects or holds a payment (its HTLCs go back to the payer).
    FailSession {
        /// The session id.
        id: String,
        /// Why (kept in the session's history).
        #[arg(long)]
        reason: Option<String>,
    },
    /// How many flows of each kind are in each state.
    Flows,
    /// The Prometheus metrics, as scraped.
    Metrics,
    /// Whether the LSP is ready (exit code 2 if not).
    Ready,
    /// Ban a client: its LSPS1, LSPS2 and LSPS5 requests get code 1 ("Client rejected").
    Ban {
        /// The client's node id.
        node_id: String,
        /// Why (kept with the ban, at most 256 bytes).
        #[arg(long)]
        reason: String,
    },
    /// Lift a client's ban.
    Unban {
        /// The client's node id.
        node_id: String,
    },
    /// The bans in force.
    Banned,
    /// Clients by last activity, with their flows per kind and whether banned.
    Clients {
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Skip this many first.
        #[arg(long, default_value_t = 0)]
        offset: u32,
    },
    /// Prepaid channel vouchers (LNURL-channel QR codes).
    Voucher {
        /// What to do.
        #[command(subcommand)]
        command: crate::admin_voucher::VoucherCommand,
    },
    /// Write a new admin key; a running LSP uses it from its next request on.
    RotateKey,
}

/// Filters of `orders` and `sessions`.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Only this state.
    #[arg(long)]
    pub state: Option<String>,
    /// Only this client (node id).
    #[arg(long)]
    pub client: Option<String>,
    /// Only ids containing this text.
    #[arg(long)]
    pub id: Option<String>,
    /// Only finished (true) or unfinished (false) ones.
    #[arg(long, value_name = "true|false")]
    pub terminal: Option<bool>,
    /// Only those created at or after this Unix time in milliseconds.
    #[arg(long, value_name = "UNIX_MS")]
    pub created_from: Option<u64>,
    /// Only those created before this Unix time in milliseconds.
    #[arg(long, value_name = "UNIX_MS")]
    pub created_before: Option<u64>,
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    /// Skip this many first.
    #[arg(long, default_value_t = 0)]
    pub offset: u32,
}

impl ListArgs {
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = vec![("limit", self.limit.to_string()), ("offset", self.offset.to_string())];
        let optional = [
            ("state", self.state.clone()),
            ("client", self.client.clone()),
            ("id", self.id.clone()),
            ("terminal", self.terminal.map(|value| value.to_string())),
            ("created_from", self.created_from.map(|value| value.to_string())),
            ("created_before", self.created_before.map(|value| value.to_string())),
        ];
        query.extend(optional.into_iter().filter_map(|(name, value)| value.map(|value| (name, value))));
        query
    }
}

/// Runs `inbound admin …` and returns the exit code.
pub async fn run(args: AdminArgs) -> ExitCode {
    match execute(args).await {
        Ok(code) => code,
        Err(error) => {
            let code = match error.downcast_ref::<AdminClientError>() {
                Some(AdminClientError::Api { error, .. }) if error.code == ErrorCode::NotFound => EXIT_NOT_FOUND,
                Some(AdminClientError::Api { error, .. }) if error.code == ErrorCode::Conflict => EXIT_CONFLICT,
                _ => 1,
            };
            eprintln!("error: {error:#}");
            ExitCode::from(code)
        }
    }
}

async fn execute(args: AdminArgs) -> Result<ExitCode> {
    let (url, key_file) = endpoint(&args)?;
    if let AdminCommand::RotateKey = args.command {
        AdminKey::rotate(&key_file).context("writing a new admin key")?;
        println!("{}", serde_json::json!({ "key_file": key_file.display().to_string(), "rotated": true }));
        return Ok(ExitCode::SUCCESS);
    }
    let key = AdminKey::read(&key_file).context("reading the admin key")?;
    let client = AdminClient::new(&url, key).context("the HTTP client")?;
    let (answer, table): (Value, fn(&Value) -> String) = match &args.command {
        AdminCommand::Info => (client.get_json("/v1/node", &[]).await?, crate::admin_tables::info),
        AdminCommand::Balances => (client.get_json("/v1/balances", &[]).await?, crate::admin_tables::fields),
        AdminCommand::Channels => (client.get_json("/v1/channels", &[]).await?, crate::admin_tables::channels),
        AdminCommand::NewAddress => {
            (client.post_json("/v1/onchain/address", &serde_json::json!({})).await?, crate::admin_tables::fields)
        }
        AdminCommand::Send { address, amount_sat, all, fee_rate } => {
            let body = serde_json::json!({
                "address": address, "amount_sat": amount_sat, "all": all, "fee_rate_sat_per_vb": fee_rate,
            });
            (client.post_json("/v1/onchain/send", &body).await?, crate::admin_tables::fields)
        }
        AdminCommand::Connect { peer } => {
            let (node_id, address) = split_peer(peer)?;
            let address = address.context("give the peer as <node_id>@<host:port>")?;
            let body = serde_json::json!({ "node_id": node_id, "address": address });
            (client.post_json("/v1/peers/connect", &body).await?, crate::admin_tables::fields)
        }
        AdminCommand::OpenChannel { peer, amount_sat, push_msat, public } => {
            let (node_id, address) = split_peer(peer)?;
            let body = serde_json::json!({
                "node_id": node_id, "address": address, "amount_sat": amount_sat, "push_msat": push_msat, "public": public,
            });
            (client.post_json("/v1/channels/open", &body).await?, crate::admin_tables::fields)
        }
        AdminCommand::CloseChannel { channel_id, force, yes_force_close } => {
            let confirm = yes_force_close.then_some(inbound_admin::FORCE_CLOSE_CONFIRMATION);
            let body = serde_json::json!({ "channel_id": channel_id, "force": force, "confirm": confirm });
            (client.post_json("/v1/channels/close", &body).await?, crate::admin_tables::fields)
        }
        AdminCommand::Orders(list) => {
            (client.get_json("/v1/orders", &list.query()).await?, crate::admin_tables::orders)
        }
        AdminCommand::Order { id } => {
            (client.get_json(&format!("/v1/orders/{id}"), &[]).await?, crate::admin_tables::detail)
        }
        AdminCommand::Sessions(list) => {
            (client.get_json("/v1/sessions", &list.query()).await?, crate::admin_tables::sessions)
        }
        AdminCommand::Session { id } => {
            (client.get_json(&format!("/v1/sessions/{id}"), &[]).await?, crate::admin_tables::detail)
        }
        AdminCommand::Flows => (client.get_json("/v1/flows", &[]).await?, crate::admin_tables::flows),
        AdminCommand::CancelOrder { id, reason } => {
            let body = serde_json::json!({ "reason": reason });
            (client.post_json(&format!("/v1/orders/{id}/cancel"), &body).await?, crate::admin_tables::fields)
        }
        AdminCommand::RefundOrder { id, address, reason } => {
            let body = serde_json::json!({ "reason": reason, "address": address });
            (client.post_json(&format!("/v1/orders/{id}/refund"), &body).await?, crate::admin_tables::fields)
        }
        AdminCommand::RetryOrder { id, reason } => {
            let body = serde_json::json!({ "reason": reason });
            (client.post_json(&format!("/v1/orders/{id}/retry-open"), &body).await?, crate::admin_tables::fields)
        }
        AdminCommand::FailSession { id, reason } => {
            let body = serde_json::json!({ "reason": reason });
            (client.post_json(&format!("/v1/sessions/{id}/fail"), &body).await?, crate::admin_tables::fields)
        }
        AdminCommand::Ban { node_id, reason } => {
            let body = serde_json::json!({ "reason": reason });
            (client.post_json(&format!("/v1/clients/{node_id}/ban"), &body).await?, crate::admin_tables::fields)
        }
        AdminCommand::Unban { node_id } => (
            client.post_json(&format!("/v1/clients/{node_id}/unban"), &serde_json::json!({})).await?,
            crate::admin_tables::fields,
        ),
        AdminCommand::Banned => (client.get_json("/v1/clients/banned", &[]).await?, crate::admin_tables::bans),
        AdminCommand::Clients { limit, offset } => {
            let query = [("limit", limit.to_string()), ("offset", offset.to_string())];
            (client.get_json("/v1/clients", &query).await?, crate::admin_tables::clients)
        }
        AdminCommand::Voucher { command } => crate::admin_voucher::run(&client, command).await?,
        AdminCommand::Metrics => {
            print!("{}", client.get_text("/metrics").await?);
            return Ok(ExitCode::SUCCESS);
        }
        AdminCommand::Ready => {
            let readiness = client.readiness().await?;
            match args.json {
                true => println!("{}", serde_json::to_string_pretty(&readiness)?),
                false => println!(
                    "ready: {}\nnode:  {}\nstore: {}\nchain: {}",
                    readiness.ready, readiness.node, readiness.store, readiness.chain
                ),
            }
            return Ok(if readiness.ready { ExitCode::SUCCESS } else { ExitCode::from(EXIT_NOT_READY) });
        }
        AdminCommand::RotateKey => anyhow::bail!("rotate-key was handled before connecting"),
    };
    match args.json {
        true => println!("{}", serde_json::to_string_pretty(&answer)?),
        false => print!("{}", table(&answer)),
    }
    Ok(ExitCode::SUCCESS)
}

/// The URL and key file: the flags, else from the configuration.
fn endpoint(args: &AdminArgs) -> Result<(String, PathBuf)> {
    if let (Some(url), Some(key_file)) = (&args.url, &args.key_file) {
        return Ok((url.clone(), key_file.clone()));
    }
    let config = args.config.load()?;
    let url = match &args.url {
        Some(url) => url.clone(),
        None => {
            let mut address = config.admin.listen;
            if address.port() == 0 {
                anyhow::bail!("admin.listen has port 0 (picked at start, logged as admin_listen=…); pass --url");
            }
            if address.ip().is_unspecified() {
                address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            format!("http://{address}")
        }
    };
    let key_file = args.key_file.clone().unwrap_or_else(|| config.admin_key_path());
    Ok((url, key_file))
}

/// `<node_id>@<host:port>` or a bare node id.
fn split_peer(peer: &str) -> Result<(&str, Option<&str>)> {
    match peer.split_once('@') {
        Some((node_id, address)) if !address.is_empty() => Ok((node_id, Some(address))),
        Some(_) => anyhow::bail!("{peer:?}: the address after @ is empty"),
        None => Ok((peer, None)),
    }
}
