//! The daemon's configuration: defaults, the TOML file, `INBOUND_*` environment variables and
//! command-line flags, layered like ldk-server.
//!
//! Priority, highest first: command-line flags, then the named environment variables below, then
//! the generic ones (`INBOUND__<SECTION>__<KEY>`, any key, with `__FILE` for secrets read from a
//! file; see `env_layer.rs`), then the TOML file, then the built-in defaults below. The settings
//! an operator typically changes per machine have flags and named variables.
//!
//! | key | default | flag | environment variable |
//! |---|---|---|---|
//! | `network` | [`DEFAULT_NETWORK`] (regtest) | `--network` | `INBOUND_NETWORK` |
//! | `data_dir` | [`DEFAULT_DATA_DIR`] | `--data-dir` | `INBOUND_DATA_DIR` |
//! | `node.listen` | [`DEFAULT_LISTEN`] | `--listen` | `INBOUND_LISTEN` |
//! | `node.alias` | [`DEFAULT_ALIAS`] | | |
//! | `node.max_inbound_htlc_in_flight_percent` | [`inbound_node::config::DEFAULT_LSP_MAX_INBOUND_HTLC_IN_FLIGHT_PERCENT`] (100) | | |
//! | `chain.backend` | `"bitcoind"` | | |
//! | `chain.url` | per network: [`default_chain_url`] | `--chain-url` | `INBOUND_CHAIN_URL` |
//! | `chain.user`, `chain.password` | none | | |
//! | `chain.cookie_file` | none | | |
//! | `chain.poll_interval_secs` | [`DEFAULT_CHAIN_POLL_INTERVAL_SECS`] | | |
//! | `lsps.enabled` | `[]` (LSPS0 only, always on) | | |
//! | `lsps.compat` | `"spec"` (`"ldk"`: answers LDK wallets can read, [`inbound_service::Compat`]) | | |
//! | `limits.max_pending_per_peer` | [`DEFAULT_MAX_PENDING_PER_PEER`] | | |
//! | `limits.max_pending_total` | [`DEFAULT_MAX_PENDING_TOTAL`] | | |
//! | `limits.lsps_queue_per_peer` | [`DEFAULT_LSPS_QUEUE_PER_PEER`] | | |
//! | `limits.lsps_queue_total` | [`DEFAULT_LSPS_QUEUE_TOTAL`] | | |
//! | `store.url` | `<data_dir>/`[`DEFAULT_STORE_FILE`] (SQLite) | | |
//! | `lsps2.*` | [`Lsps2Config::default`] (the `DEFAULT_*` consts of `inbound_service::lsps2::config`) | | |
//! | `lsps1.*` | [`Lsps1Config::default`] (the `DEFAULT_*` consts of `inbound_service::lsps1::config`) | | |
//! | `lsps5.*` | [`Lsps5Config::default`] (the `DEFAULT_*` consts of `inbound_service::lsps5::config`) | | |
//! | `http.enabled` | `false` | `--http` (`true`/`false`) | `INBOUND_HTTP_ENABLED` |
//! | `http.listen` | [`DEFAULT_HTTP_LISTEN`] | `--http-listen` | `INBOUND_HTTP_LISTEN` |
//! | `http.*` | [`inbound_http::HttpConfig::default`] | | |
//! | `admin.enabled` | `true` | | |
//! | `admin.listen` | [`inbound_admin::DEFAULT_LISTEN`] | `--admin-listen` | `INBOUND_ADMIN_LISTEN` |
//! | `admin.*` | [`inbound_admin::AdminConfig::default`] | | |
//! | `lnurl.public_url`, `lnurl.node_address` | none (no LNURL-channel) | | |
//! | `web.enabled` | `false` | | |
//! | `web.frame_ancestors` | `[]` | | |
//!
//! The other `[http]` keys ([`HttpSection`]): `path`, `max_body_bytes`, `rate_burst`,
//! `rate_per_second`, `max_tracked_ips`, `body_timeout_secs`, `cors_origins`,
//! `trust_forwarded_for` (proxy IPs or CIDR networks whose `X-Forwarded-For` is believed; none
//! by default), `require_node_signature` (default false), `max_connections`,
//! `max_connections_per_ip`, `header_timeout_secs` and `connection_timeout_secs`.
//!
//! README.md's configuration table lists every key with its default, and
//! `crates/inbound/inbound.example.toml` sets every key to its default (or shows it as an
//! example where it has none); `tests/config_docs.rs` fails when either disagrees with the
//! effective defaults.
//!
//! The `[lsps2]` keys map onto [`Lsps2Config`]: `fee_tiers` (the public menu, an array of tables
//! with `min_fee_msat`, `proportional_ppm`, `min_payment_size_msat`, `max_payment_size_msat`),
//! `token_menus.<token>` (the same, per token), `valid_for_secs`, `min_lifetime_blocks`,
//! `max_client_to_self_delay_blocks`, `lsp_cltv_expiry_delta`, `trust` (`never`, `always`,
//! `adaptive`), the channel sizing (`overprovisioning_ppm`, `headroom_sat`, `min_channel_sat`,
//! `max_channel_sat`), the chain-fee floor (`min_fee_open_weight_wu`, `min_fee_multiplier`), the
//! per-client caps (`max_open_buys_per_client`, `max_unpaid_channels_per_client`) and the session
//! timers (`mpp_timeout_secs`, `client_wait_secs`, `open_timeout_secs`, `claim_timeout_secs`,
//! `unpaid_channel_grace_secs`, `max_open_attempts`, `max_parts`).
//!
//! The `[lsps1]` keys are the fields of [`Lsps1Config`] (balances and channel bounds, the
//! confirmation terms, the fee `fee_base_sat` + `fee_ppm` + `open_tx_vbytes` at the chain's fee
//! rate, the on-chain option, the payment window and hold-invoice CLTV, the retry timers,
//! `max_open_orders_per_client`, `tokens`); an error names `lsps1.<key>`.
//!
//! The `[lsps5]` keys are the fields of [`Lsps5Config`] (webhook limit, cooldown, retention,
//! `require_channel_or_flow`, `allow_private_destinations`, delivery timeouts and retries,
//! `extra_ca_file`); an error names `lsps5.<key>`.
//!
//! Loading has two stages, as in ripgrep: [`Config::resolve`] merges and validates without any
//! I/O, and only the wiring reads what the configuration points at (the cookie file, the data
//! directory). [`Config::load`] adds reading the TOML file in front of the first stage.
//!
//! Without the `daemon` feature (the wallet-only build) only the chain part is here: the network
//! and `[chain]` types, [`default_chain_url`], the overriding layers and [`resolve_wallet_chain`],
//! which `inbound client …` uses. The file, `Config` and the LSP's tables need `daemon`.

mod chain;
#[cfg(feature = "daemon")]
mod env_layer;
#[cfg(feature = "daemon")]
mod file;
#[cfg(feature = "daemon")]
mod http;
#[cfg(feature = "daemon")]
mod lnurl;
#[cfg(feature = "daemon")]
mod render;
#[cfg(feature = "daemon")]
mod resolve;
#[cfg(feature = "daemon")]
mod web;

pub use chain::{
    default_chain_url, resolve_wallet_chain, BackendName, ChainAuth, ChainConfig, ChainSection, NetworkName,
    DEFAULT_CHAIN_POLL_INTERVAL_SECS, DEFAULT_CHAIN_URL_BITCOIN, DEFAULT_CHAIN_URL_REGTEST, DEFAULT_CHAIN_URL_SIGNET,
    DEFAULT_CHAIN_URL_TESTNET,
};

#[cfg(feature = "daemon")]
pub use http::{HttpSection, HttpSettings, DEFAULT_HTTP_LISTEN};
#[cfg(feature = "daemon")]
pub use lnurl::{LnurlSection, LnurlSettings};
#[cfg(feature = "daemon")]
pub use web::{WebSection, WebSettings};

#[cfg(feature = "daemon")]
pub use render::{redacted_url, REDACTED};

#[cfg(feature = "daemon")]
pub use file::{
    CompatName, FeeTierSection, FileConfig, LimitsSection, Lsps2Section, LspsSection, NodeSection, ProtocolName,
    StoreSection, TrustName,
};

use std::path::PathBuf;

use inbound_node::bitcoin::Network;

// The daemon's own settings: the LSPS services, the store, the HTTP endpoint.
#[cfg(feature = "daemon")]
use {
    chain::{network_of, parse_network, resolve_chain},
    inbound_service::{lsps1::Lsps1Config, lsps2::Lsps2Config, lsps5::Lsps5Config, Compat},
    lsps::method::Protocol,
    resolve::{
        resolve_admin, resolve_limits, resolve_lsps, resolve_lsps1, resolve_lsps2, resolve_lsps5, resolve_store,
    },
    std::{fmt, net::SocketAddr, path::Path},
    url::Url,
};

/// Default network. Regtest, so that a forgotten `network` key can never put real money at stake.
pub const DEFAULT_NETWORK: Network = Network::Regtest;
/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "inbound-data";
/// Default peer listening address: all interfaces, the usual Lightning port.
pub const DEFAULT_LISTEN: &str = inbound_node::config::DEFAULT_LISTEN_ADDRESS;
/// Default alias in log lines.
pub const DEFAULT_ALIAS: &str = inbound_node::config::DEFAULT_ALIAS;
/// Default bound on one peer's LSPS requests in progress at the LSP.
#[cfg(feature = "daemon")]
pub const DEFAULT_MAX_PENDING_PER_PEER: usize = inbound_service::DEFAULT_MAX_PENDING_PER_PEER;
/// Default bound on all peers' LSPS requests in progress at the LSP.
#[cfg(feature = "daemon")]
pub const DEFAULT_MAX_PENDING_TOTAL: usize = inbound_service::DEFAULT_MAX_PENDING_TOTAL;
/// Default bound on outbound LSPS messages queued for one peer.
pub const DEFAULT_LSPS_QUEUE_PER_PEER: usize = inbound_node::config::DEFAULT_LSPS_MAX_QUEUED_PER_PEER;
/// Default bound on outbound LSPS messages queued for all peers.
pub const DEFAULT_LSPS_QUEUE_TOTAL: usize = inbound_node::config::DEFAULT_LSPS_MAX_QUEUED_TOTAL;

/// Default SQLite file of the store, inside `data_dir`.
pub const DEFAULT_STORE_FILE: &str = "inbound.sqlite";

/// Environment variable naming the configuration file.
pub const ENV_CONFIG: &str = "INBOUND_CONFIG";
/// Environment variable overriding `network`.
pub const ENV_NETWORK: &str = "INBOUND_NETWORK";
/// Environment variable overriding `data_dir`.
pub const ENV_DATA_DIR: &str = "INBOUND_DATA_DIR";
/// Environment variable overriding `node.listen`.
pub const ENV_LISTEN: &str = "INBOUND_LISTEN";
/// Environment variable overriding `chain.url`.
pub const ENV_CHAIN_URL: &str = "INBOUND_CHAIN_URL";
/// Environment variable overriding `http.enabled` (`true` or `false`).
pub const ENV_HTTP_ENABLED: &str = "INBOUND_HTTP_ENABLED";
/// Environment variable overriding `http.listen`.
pub const ENV_HTTP_LISTEN: &str = "INBOUND_HTTP_LISTEN";
/// Environment variable overriding `admin.listen`.
pub const ENV_ADMIN_LISTEN: &str = "INBOUND_ADMIN_LISTEN";

/// Protocols with a server implementation, the ones `lsps.enabled` accepts: LSPS0 (always on,
/// never listed), LSPS1, LSPS2 and LSPS5.
#[cfg(feature = "daemon")]
pub const AVAILABLE_PROTOCOLS: &[Protocol] = &[Protocol::Lsps0, Protocol::Lsps1, Protocol::Lsps2, Protocol::Lsps5];

/// A configuration that cannot be used. Every variant says where the bad value came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML.
    #[error("{origin}: not valid TOML: {message}")]
    Syntax {
        /// The file.
        origin: String,
        /// The parser's message, with the line.
        message: String,
    },
    /// A key is unknown or has a bad value.
    #[error("`{key}`: {message} (in {origin})")]
    Invalid {
        /// The dotted key, as written in the file (`chain.poll_interval_secs`, `lsps.enabled[0]`).
        key: String,
        /// Where the value came from: the file (and line), an environment variable, a flag.
        origin: String,
        /// What is wrong and, where useful, what would be right.
        message: String,
    },
}

impl ConfigError {
    /// The key the error is about, if it is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            ConfigError::Read { .. } | ConfigError::Syntax { .. } => None,
        }
    }

    fn invalid(key: &str, origin: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { key: key.to_string(), origin: origin.to_string(), message: message.into() }
    }
}

/// Values from one overriding layer: the environment or the command line. Empty strings count
/// as unset, as clap treats empty environment variables.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// `network`.
    pub network: Option<String>,
    /// `data_dir`.
    pub data_dir: Option<PathBuf>,
    /// `node.listen`.
    pub listen: Option<String>,
    /// `chain.url`.
    pub chain_url: Option<String>,
    /// `http.enabled` (`true` or `false`).
    pub http_enabled: Option<String>,
    /// `http.listen`.
    pub http_listen: Option<String>,
    /// `admin.listen`.
    pub admin_listen: Option<String>,
    /// Every other key: the raw `INBOUND__<SECTION>__<KEY>` variables, name and value
    /// (environment layer only; see `env_layer.rs`), applied over the file and under the named
    /// values above.
    pub keys: Vec<(String, String)>,
}

impl Overrides {
    /// Reads the `INBOUND_*` variables through `lookup` (pass `|name| std::env::var(name).ok()`;
    /// tests pass a map so that they never touch the process environment).
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Overrides {
        let get = |name: &str| lookup(name).filter(|value| !value.is_empty());
        Overrides {
            network: get(ENV_NETWORK),
            data_dir: get(ENV_DATA_DIR).map(PathBuf::from),
            listen: get(ENV_LISTEN),
            chain_url: get(ENV_CHAIN_URL),
            http_enabled: get(ENV_HTTP_ENABLED),
            http_listen: get(ENV_HTTP_LISTEN),
            admin_listen: get(ENV_ADMIN_LISTEN),
            keys: Vec::new(),
        }
    }

    /// Adds the `INBOUND__<SECTION>__<KEY>` variables among `variables` (pass
    /// `std::env::vars()`); empty values count as unset.
    pub fn with_keys(mut self, variables: impl IntoIterator<Item = (String, String)>) -> Overrides {
        self.keys = variables
            .into_iter()
            .filter(|(name, value)| name.starts_with(ENV_KEY_PREFIX) && !value.is_empty())
            .collect();
        self
    }
}

/// The prefix of the variables that set any configuration key (`INBOUND__LSPS1__FEE_PPM`).
pub const ENV_KEY_PREFIX: &str = "INBOUND__";

/// The value the highest overriding layer sets, with where it came from: the flag, else the
/// variable.
fn pick_override<T: Clone>(
    cli: &Overrides,
    env: &Overrides,
    get: impl Fn(&Overrides) -> Option<&T>,
    flag: &str,
    variable: &str,
) -> Option<(T, String)> {
    match (get(cli), get(env)) {
        (Some(value), _) => Some((value.clone(), format!("command-line flag {flag}"))),
        (None, Some(value)) => Some((value.clone(), format!("environment variable {variable}"))),
        (None, None) => None,
    }
}

/// The effective configuration. See the module documentation for keys and defaults.
#[cfg(feature = "daemon")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The chain the node runs on.
    pub network: Network,
    /// Seed, channel state and wallet.
    pub data_dir: PathBuf,
    /// `[node]`.
    pub node: NodeConfig,
    /// `[chain]`.
    pub chain: ChainConfig,
    /// `[lsps]`.
    pub lsps: LspsConfig,
    /// `[limits]`.
    pub limits: LimitsConfig,
    /// `[store]`.
    pub store: StoreConfig,
    /// `[lsps2]`, validated ([`Lsps2Config::validate`] passes); used when `lsps.enabled` lists LSPS2.
    pub lsps2: Lsps2Config,
    /// `[http]`, validated.
    pub http: HttpSettings,
    /// `[lsps1]`, validated ([`Lsps1Config::validate`] passes); used when `lsps.enabled` lists LSPS1.
    pub lsps1: Lsps1Config,
    /// `[lsps5]`, validated ([`Lsps5Config::validate`] passes); used when `lsps.enabled` lists LSPS5.
    pub lsps5: Lsps5Config,
    /// `[admin]`, validated ([`inbound_admin::AdminConfig::validate`] passes).
    pub admin: inbound_admin::AdminConfig,
    /// `[lnurl]`: both keys or neither.
    pub lnurl: LnurlSettings,
    /// `[web]`: the widget.
    pub web: WebSettings,
}

/// The effective `[node]` table.
#[cfg(feature = "daemon")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    /// Where peers connect.
    pub listen: SocketAddr,
    /// Name in log lines.
    pub alias: String,
    /// The share of a channel's value (1 to 100) a peer may have in HTLCs towards the LSP.
    pub max_inbound_htlc_in_flight_percent: u8,
}

/// The effective `[lsps]` table.
#[cfg(feature = "daemon")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LspsConfig {
    /// Protocols served besides LSPS0, sorted, without duplicates.
    pub enabled: Vec<Protocol>,
    /// The clients the answers are shaped for (every protocol).
    pub compat: Compat,
}

/// The effective `[limits]` table. Every bound is at least 1, and no per-peer bound exceeds its total.
#[cfg(feature = "daemon")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitsConfig {
    /// One peer's LSPS requests in progress.
    pub max_pending_per_peer: usize,
    /// All peers' LSPS requests in progress.
    pub max_pending_total: usize,
    /// Outbound LSPS messages queued for one peer.
    pub lsps_queue_per_peer: usize,
    /// Outbound LSPS messages queued for all peers.
    pub lsps_queue_total: usize,
}

/// The effective `[store]` table. `Debug` never prints a password.
#[cfg(feature = "daemon")]
#[derive(Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// What `inbound_store::open` gets: an SQLite file path, a `sqlite:` URL or a `postgres://`
    /// URL (which may carry a password).
    pub url: String,
}

#[cfg(feature = "daemon")]
impl StoreConfig {
    /// The location with its password, if any, replaced by [`REDACTED`].
    pub fn redacted(&self) -> String {
        match Url::parse(&self.url) {
            Ok(url) if url.password().is_some() => redacted_url(&url),
            _ => self.url.clone(),
        }
    }
}

#[cfg(feature = "daemon")]
impl fmt::Debug for StoreConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_struct("StoreConfig").field("url", &self.redacted()).finish()
    }
}

#[cfg(feature = "daemon")]
impl Config {
    /// Whether the LSPS1 service runs.
    pub fn lsps1_enabled(&self) -> bool {
        self.lsps.enabled.contains(&Protocol::Lsps1)
    }

    /// Whether the LSPS2 service runs.
    pub fn lsps2_enabled(&self) -> bool {
        self.lsps.enabled.contains(&Protocol::Lsps2)
    }

    /// Whether the LSPS5 service runs.
    pub fn lsps5_enabled(&self) -> bool {
        self.lsps.enabled.contains(&Protocol::Lsps5)
    }

    /// Reads `file` (if any) and resolves it with the overriding layers.
    ///
    /// # Errors
    /// See [`ConfigError`]; every error names the file, variable or flag, and the key.
    pub fn load(file: Option<&Path>, env: &Overrides, cli: &Overrides) -> Result<Config, ConfigError> {
        let keys = env_layer::env_keys(env.keys.iter().cloned())?;
        let (file_config, origin) = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
                let origin = path.display().to_string();
                (FileConfig::parse_layered(Some(&text), &origin, &keys)?, origin)
            }
            None => (FileConfig::parse_layered(None, "defaults", &keys)?, "defaults".to_string()),
        };
        Config::resolve(file_config, &origin, env, cli)
    }

    /// Merges the layers (flags over environment over file over defaults) and validates the
    /// result. Pure: reads no file and no variable. `file_origin` names the file in errors.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the key and the layer it came from.
    pub fn resolve(
        file: FileConfig,
        file_origin: &str,
        env: &Overrides,
        cli: &Overrides,
    ) -> Result<Config, ConfigError> {
        let network = match pick_override(cli, env, |layer| layer.network.as_ref(), "--network", ENV_NETWORK) {
            Some((value, origin)) => parse_network(&value, &origin)?,
            None => file.network.map(network_of).unwrap_or(DEFAULT_NETWORK),
        };
        let (data_dir, data_dir_origin) =
            match pick_override(cli, env, |layer| layer.data_dir.as_ref(), "--data-dir", ENV_DATA_DIR) {
                Some(picked) => picked,
                None => (file.data_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)), file_origin.to_string()),
            };
        if data_dir.as_os_str().is_empty() {
            return Err(ConfigError::invalid("data_dir", &data_dir_origin, "must not be empty"));
        }

        let node = file.node.unwrap_or_default();
        let listen = match pick_override(cli, env, |layer| layer.listen.as_ref(), "--listen", ENV_LISTEN) {
            Some((value, origin)) => value.parse::<SocketAddr>().map_err(|e| {
                ConfigError::invalid("node.listen", &origin, format!("{value:?} is not an ip:port address: {e}"))
            })?,
            None => match node.listen {
                Some(listen) => listen,
                None => DEFAULT_LISTEN
                    .parse()
                    .map_err(|_| ConfigError::invalid("node.listen", "defaults", "built-in default is not ip:port"))?,
            },
        };
        let alias = node.alias.unwrap_or_else(|| DEFAULT_ALIAS.to_string());
        if alias.is_empty() || alias.len() > 32 {
            return Err(ConfigError::invalid("node.alias", file_origin, "must be 1 to 32 bytes long"));
        }
        let max_inbound_htlc_in_flight_percent = node
            .max_inbound_htlc_in_flight_percent
            .unwrap_or(inbound_node::config::DEFAULT_LSP_MAX_INBOUND_HTLC_IN_FLIGHT_PERCENT);
        if !(1..=100).contains(&max_inbound_htlc_in_flight_percent) {
            return Err(ConfigError::invalid(
                "node.max_inbound_htlc_in_flight_percent",
                file_origin,
                "must be 1 to 100",
            ));
        }

        let chain = resolve_chain(
            file.chain.unwrap_or_default(),
            network,
            file_origin,
            pick_override(cli, env, |layer| layer.chain_url.as_ref(), "--chain-url", ENV_CHAIN_URL),
        )?;
        let lsps = resolve_lsps(file.lsps.unwrap_or_default(), file_origin)?;
        let limits = resolve_limits(file.limits.unwrap_or_default(), file_origin)?;
        let store = resolve_store(file.store.unwrap_or_default(), &data_dir, file_origin, &data_dir_origin)?;
        let lsps2 = resolve_lsps2(file.lsps2.unwrap_or_default(), file_origin)?;
        let http = http::resolve_http(file.http.unwrap_or_default(), file_origin, env, cli)?;
        let lsps1 = resolve_lsps1(file.lsps1.unwrap_or_default(), file_origin)?;
        let lsps5 = resolve_lsps5(file.lsps5.unwrap_or_default(), file_origin)?;
        let admin = resolve_admin(file.admin.unwrap_or_default(), file_origin, env, cli)?;
        let lnurl = lnurl::resolve_lnurl(file.lnurl.unwrap_or_default(), file_origin)?;
        if lnurl.public_url.is_some() && !(http.enabled && lsps.enabled.contains(&Protocol::Lsps1)) {
            let why = "LNURL-channel (vouchers) needs [http] enabled and \"lsps1\" in lsps.enabled";
            return Err(ConfigError::invalid("lnurl.public_url", file_origin, why));
        }
        let web = web::resolve_web(file.web.unwrap_or_default(), file_origin)?;
        if web.enabled && !(http.enabled && lsps.enabled.contains(&Protocol::Lsps1)) {
            let why = "the widget needs [http] enabled and \"lsps1\" in lsps.enabled";
            return Err(ConfigError::invalid("web.enabled", file_origin, why));
        }
        if web.enabled && http.config.require_node_signature {
            let why = "a browser cannot sign with the wallet's node key: the widget needs http.require_node_signature = false";
            return Err(ConfigError::invalid("web.enabled", file_origin, why));
        }
        Ok(Config {
            network,
            data_dir,
            node: NodeConfig { listen, alias, max_inbound_htlc_in_flight_percent },
            chain,
            lsps,
            limits,
            store,
            lsps2,
            lsps1,
            lsps5,
            http,
            admin,
            lnurl,
            web,
        })
    }

    /// The admin key file: `admin.key_file`, or `admin.key` in the data directory.
    pub fn admin_key_path(&self) -> PathBuf {
        self.admin.key_path(&self.data_dir)
    }

    /// The effective configuration as TOML, with every secret replaced by [`REDACTED`].
    pub fn to_redacted_toml(&self) -> String {
        render::redacted_toml(self)
    }
}
