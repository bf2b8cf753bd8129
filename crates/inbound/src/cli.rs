//! The command line, and the dispatch from a parsed command to the module that runs it.

#[cfg(feature = "daemon")]
use std::path::PathBuf;
use std::process::ExitCode;

#[cfg(feature = "daemon")]
use anyhow::Result;
use clap::{Args, Parser, Subcommand};

#[cfg(feature = "daemon")]
use crate::config::{Config, Overrides, ENV_CONFIG};

/// The Inbound Lightning Service Provider.
#[derive(Debug, Parser)]
#[command(name = "inbound", version, about, long_about = None)]
pub struct Cli {
    /// How log lines on standard error are written: text, or one JSON object per line.
    #[arg(long, global = true, env = "INBOUND_LOG_FORMAT", value_enum, default_value_t = crate::logging::LogFormat::Text)]
    pub log_format: crate::logging::LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the LSP daemon until SIGINT or SIGTERM.
    #[cfg(feature = "daemon")]
    Serve(ConfigArgs),
    /// Validate the configuration and print the effective values as TOML (secrets redacted).
    #[cfg(feature = "daemon")]
    ConfigCheck(ConfigArgs),
    /// Run an LSP, a wallet and a payer on a throwaway bcoin regtest chain, try every flow, and
    /// print one JSON summary on stdout.
    #[cfg(feature = "daemon")]
    Demo(DemoArgs),
    /// Wallet-side commands against an LSP.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Check an LSP's conformance to LSPS0/1/2/5 over the wire, requirement by requirement
    /// (exit status 1 if a MUST failed, 2 if the check could not run).
    Check(crate::check::CheckArgs),
    /// Operator commands against a running LSP's admin API (`inbound admin --help`).
    #[cfg(feature = "daemon")]
    Admin(crate::admin_cli::AdminArgs),
}

/// Where the configuration comes from. Flags override `INBOUND_*` variables, which override the
/// file, which overrides the defaults.
#[cfg(feature = "daemon")]
#[derive(Debug, Clone, Default, Args)]
pub struct ConfigArgs {
    /// TOML configuration file (see crates/inbound/inbound.example.toml).
    #[arg(long, short, env = ENV_CONFIG, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Overrides `network` and INBOUND_NETWORK: regtest, signet, testnet or bitcoin.
    #[arg(long)]
    pub network: Option<String>,
    /// Overrides `data_dir` and INBOUND_DATA_DIR.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Overrides `node.listen` and INBOUND_LISTEN (ip:port).
    #[arg(long, value_name = "IP:PORT")]
    pub listen: Option<String>,
    /// Overrides `chain.url` and INBOUND_CHAIN_URL: `http://host:port/`, credentials optional
    /// (`http://user:password@host:port/`).
    #[arg(long, value_name = "URL")]
    pub chain_url: Option<String>,
    /// Overrides `http.enabled` and INBOUND_HTTP_ENABLED: serve LSPS over HTTP POST too.
    #[arg(long, value_name = "true|false")]
    pub http: Option<String>,
    /// Overrides `http.listen` and INBOUND_HTTP_LISTEN (ip:port; port 0 picks one, logged).
    #[arg(long, value_name = "IP:PORT")]
    pub http_listen: Option<String>,
    /// Overrides `admin.listen` and INBOUND_ADMIN_LISTEN (ip:port; port 0 picks one, logged).
    #[arg(long, value_name = "IP:PORT")]
    pub admin_listen: Option<String>,
}

#[cfg(feature = "daemon")]
impl ConfigArgs {
    /// The flags as the highest configuration layer.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            network: self.network.clone(),
            data_dir: self.data_dir.clone(),
            listen: self.listen.clone(),
            chain_url: self.chain_url.clone(),
            http_enabled: self.http.clone(),
            http_listen: self.http_listen.clone(),
            admin_listen: self.admin_listen.clone(),
            keys: Vec::new(),
        }
    }

    /// Loads the configuration: these flags, the process environment, the file, the defaults.
    ///
    /// # Errors
    /// A [`ConfigError`](crate::config::ConfigError) naming the key and where its value came from.
    pub fn load(&self) -> Result<Config> {
        let env = Overrides::from_env(|name| std::env::var(name).ok()).with_keys(
            // Variables that are not UTF-8 cannot be configuration values; `vars()` would panic.
            std::env::vars_os().filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?))),
        );
        Ok(Config::load(self.config.as_deref(), &env, &self.overrides())?)
    }
}

/// `inbound demo` options.
#[cfg(feature = "daemon")]
#[derive(Debug, Clone, Default, Args)]
pub struct DemoArgs {
    /// Keep the nodes' data directories (printed at the end) instead of deleting them.
    #[arg(long)]
    pub keep_dirs: bool,
}

/// `inbound client …`.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Connect a wallet node to an LSP and print the LSP's `lsps0.list_protocols` answer as JSON.
    ListProtocols(ListProtocolsArgs),
    /// Buy an LSPS2 JIT channel from an LSP and print the invoice and fee as JSON.
    JitInvoice(crate::client_jit::JitInvoiceArgs),
    /// Order a channel from an LSP with LSPS1, optionally pay for it and wait until it is open.
    Order(crate::client_order::OrderArgs),
    /// Show an LSPS1 order (optionally wait until it is COMPLETED or FAILED).
    OrderStatus(crate::client_order::OrderStatusArgs),
    /// Register, list or remove the wallet's LSPS5 webhooks at an LSP (use the wallet's
    /// `--data-dir`: webhooks belong to its node id).
    #[command(subcommand)]
    Webhook(crate::client_webhook::WebhookCommand),
    /// Claim a channel by LNURL-channel (a voucher's QR code) and wait until it is ready.
    LnurlChannel(crate::client_lnurl::LnurlChannelArgs),
}

/// `inbound client list-protocols` options.
#[derive(Debug, Clone, Args)]
pub struct ListProtocolsArgs {
    /// The LSP, as <node_id>@<host:port>.
    #[arg(long, value_name = "NODE_ID@HOST:PORT")]
    pub lsp: String,
    /// The wallet node.
    #[command(flatten)]
    pub node: crate::client::WalletNodeArgs,
}

/// Runs `cli` to completion and returns the process exit code. Logging is set up here, with a
/// default filter per command (the daemon tells more than the one-shot commands).
pub async fn run(cli: Cli) -> ExitCode {
    let default_filter = match &cli.command {
        #[cfg(feature = "daemon")]
        Command::Serve(_) => "info",
        #[cfg(feature = "daemon")]
        Command::ConfigCheck(_) | Command::Demo(_) | Command::Admin(_) => "warn",
        Command::Client(_) | Command::Check(_) => "warn",
    };
    crate::logging::init(default_filter, cli.log_format);
    let result = match cli.command {
        #[cfg(feature = "daemon")]
        Command::Serve(args) => match args.load() {
            Ok(config) => crate::serve::run(config).await,
            Err(error) => Err(error),
        },
        #[cfg(feature = "daemon")]
        Command::ConfigCheck(args) => config_check(&args),
        #[cfg(feature = "daemon")]
        Command::Demo(args) => return crate::demo::run(args).await,
        #[cfg(feature = "daemon")]
        Command::Admin(args) => return crate::admin_cli::run(args).await,
        Command::Check(args) => return crate::check::run(args).await,
        Command::Client(ClientCommand::ListProtocols(args)) => crate::client::list_protocols(args).await,
        Command::Client(ClientCommand::JitInvoice(args)) => crate::client_jit::jit_invoice(args).await,
        Command::Client(ClientCommand::Order(args)) => crate::client_order::order(args).await,
        Command::Client(ClientCommand::OrderStatus(args)) => crate::client_order::order_status(args).await,
        Command::Client(ClientCommand::Webhook(command)) => crate::client_webhook::run(command).await,
        Command::Client(ClientCommand::LnurlChannel(args)) => crate::client_lnurl::lnurl_channel(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(feature = "daemon")]
fn config_check(args: &ConfigArgs) -> Result<()> {
    let config = args.load()?;
    print!(
        "# Effective configuration (flags > INBOUND_* variables > file > defaults); secrets redacted.\n{}",
        config.to_redacted_toml()
    );
    Ok(())
}
