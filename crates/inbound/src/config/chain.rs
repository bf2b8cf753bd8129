//! The chain part of the configuration: the network, `[chain]` and its resolution. The daemon
//! and the wallet commands (`inbound client …`, also in a wallet-only build) share it.

use std::fmt;
use std::path::PathBuf;

use inbound_node::bitcoin::Network;
use serde::{Deserialize, Serialize};
use url::Url;

use super::{pick_override, ConfigError, Overrides, ENV_CHAIN_URL};

/// Default Bitcoin Core RPC endpoint on mainnet.
pub const DEFAULT_CHAIN_URL_BITCOIN: &str = "http://127.0.0.1:8332/";
/// Default Bitcoin Core RPC endpoint on testnet3.
pub const DEFAULT_CHAIN_URL_TESTNET: &str = "http://127.0.0.1:18332/";
/// Default Bitcoin Core RPC endpoint on signet.
pub const DEFAULT_CHAIN_URL_SIGNET: &str = "http://127.0.0.1:38332/";
/// Default Bitcoin Core RPC endpoint on regtest.
pub const DEFAULT_CHAIN_URL_REGTEST: &str = "http://127.0.0.1:18443/";
/// Default period between looks at the chain tip.
pub const DEFAULT_CHAIN_POLL_INTERVAL_SECS: u64 = inbound_node::config::DEFAULT_CHAIN_POLL_INTERVAL_SECS;
/// The default `chain.url` for `network`: Bitcoin Core's default RPC port on localhost.
pub fn default_chain_url(network: Network) -> &'static str {
    match network {
        Network::Bitcoin => DEFAULT_CHAIN_URL_BITCOIN,
        Network::Signet => DEFAULT_CHAIN_URL_SIGNET,
        Network::Regtest => DEFAULT_CHAIN_URL_REGTEST,
        _ => DEFAULT_CHAIN_URL_TESTNET,
    }
}

/// The networks the daemon runs on, spelled as in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkName {
    /// Local test chain.
    Regtest,
    /// The default signet.
    Signet,
    /// Testnet3.
    Testnet,
    /// Mainnet.
    Bitcoin,
}

/// The chain backends the daemon can use, spelled as in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendName {
    /// Bitcoin Core JSON-RPC (bcoin speaks the subset the node needs).
    Bitcoind,
}

/// `[chain]`: where blocks and fee estimates come from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainSection {
    /// `chain.backend`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<BackendName>,
    /// `chain.url`: the JSON-RPC endpoint, `http://host:port/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `chain.user`: RPC user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `chain.password`: RPC password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// `chain.cookie_file`: Bitcoin Core's `.cookie` file, instead of user and password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie_file: Option<PathBuf>,
    /// `chain.poll_interval_secs`: how often to look for new blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval_secs: Option<u64>,
}

/// The effective `[chain]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainConfig {
    /// The only backend the daemon offers: Bitcoin Core JSON-RPC.
    pub backend: BackendName,
    /// The RPC endpoint as configured (it may carry credentials; see [`ChainAuth::InUrl`]).
    pub url: Url,
    /// How the daemon authenticates to the RPC server.
    pub auth: ChainAuth,
    /// Period between looks at the chain tip, at least 1.
    pub poll_interval_secs: u64,
}

/// RPC credentials. `Debug` never prints a password.
#[derive(Clone, PartialEq, Eq)]
pub enum ChainAuth {
    /// No credentials (the server does not ask for any).
    None,
    /// The credentials are part of `chain.url` (`http://user:password@host:port/`).
    InUrl,
    /// `chain.user` and `chain.password`.
    UserPassword {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// Read `user:password` from this file when connecting (Bitcoin Core's `.cookie`).
    CookieFile(PathBuf),
}

impl fmt::Debug for ChainAuth {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainAuth::None => formatter.write_str("None"),
            ChainAuth::InUrl => formatter.write_str("InUrl"),
            ChainAuth::UserPassword { user, .. } => write!(formatter, "UserPassword {{ user: {user:?}, .. }}"),
            ChainAuth::CookieFile(path) => write!(formatter, "CookieFile({path:?})"),
        }
    }
}

pub(super) fn network_of(name: NetworkName) -> Network {
    match name {
        NetworkName::Regtest => Network::Regtest,
        NetworkName::Signet => Network::Signet,
        NetworkName::Testnet => Network::Testnet,
        NetworkName::Bitcoin => Network::Bitcoin,
    }
}

/// Parses an overriding `network` value, spelled as in the file.
pub(super) fn parse_network(value: &str, origin: &str) -> Result<Network, ConfigError> {
    let name = match value {
        "regtest" => NetworkName::Regtest,
        "signet" => NetworkName::Signet,
        "testnet" => NetworkName::Testnet,
        "bitcoin" => NetworkName::Bitcoin,
        _ => {
            return Err(ConfigError::invalid(
                "network",
                origin,
                format!("unknown network {value:?}; expected one of regtest, signet, testnet, bitcoin"),
            ))
        }
    };
    Ok(network_of(name))
}

/// Resolves `[chain]`. `url_override` is the value and origin of `--chain-url` or
/// `INBOUND_CHAIN_URL`, if either is set.
pub(super) fn resolve_chain(
    chain: ChainSection,
    network: Network,
    file_origin: &str,
    url_override: Option<(String, String)>,
) -> Result<ChainConfig, ConfigError> {
    let (url_text, url_origin) = match (url_override, chain.url) {
        (Some((value, origin)), _) => (value, origin),
        (None, Some(value)) => (value, file_origin.to_string()),
        (None, None) => (default_chain_url(network).to_string(), "defaults".to_string()),
    };
    // The URL may carry a password, so the error does not echo it.
    let url =
        Url::parse(&url_text).map_err(|e| ConfigError::invalid("chain.url", &url_origin, format!("not a URL: {e}")))?;
    if url.scheme() != "http" {
        return Err(ConfigError::invalid(
            "chain.url",
            &url_origin,
            format!("scheme {:?} is not supported; the RPC client speaks plain http:// only", url.scheme()),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::invalid("chain.url", &url_origin, "has no host"));
    }
    let url_has_credentials = !url.username().is_empty() || url.password().is_some();
    let auth = match (chain.user, chain.password, chain.cookie_file) {
        (None, None, None) if url_has_credentials => ChainAuth::InUrl,
        (None, None, None) => ChainAuth::None,
        _ if url_has_credentials => {
            return Err(ConfigError::invalid(
                "chain.url",
                &url_origin,
                "carries credentials while chain.user, chain.password or chain.cookie_file is set too; use one",
            ))
        }
        (Some(user), Some(password), None) => ChainAuth::UserPassword { user, password },
        (None, None, Some(path)) => ChainAuth::CookieFile(path),
        (_, _, Some(_)) => {
            return Err(ConfigError::invalid(
                "chain.cookie_file",
                file_origin,
                "cannot be combined with chain.user or chain.password; use one way to authenticate",
            ))
        }
        (Some(_), None, None) => {
            return Err(ConfigError::invalid("chain.user", file_origin, "needs chain.password as well"))
        }
        (None, Some(_), None) => {
            return Err(ConfigError::invalid("chain.password", file_origin, "needs chain.user as well"))
        }
    };
    let poll_interval_secs = chain.poll_interval_secs.unwrap_or(DEFAULT_CHAIN_POLL_INTERVAL_SECS);
    if poll_interval_secs == 0 {
        return Err(ConfigError::invalid("chain.poll_interval_secs", file_origin, "must be at least 1"));
    }
    Ok(ChainConfig { backend: chain.backend.unwrap_or(BackendName::Bitcoind), url, auth, poll_interval_secs })
}

/// The network and chain of a wallet node started by `inbound client …`: `network` as given,
/// `chain.url` from `chain_url` (the `--chain-url` flag), else `INBOUND_CHAIN_URL` in `env`, else
/// the network's default. Nothing else is read: the daemon's `INBOUND_DATA_DIR` must never
/// become a wallet's data directory, or the two would share a seed.
///
/// # Errors
/// [`ConfigError::Invalid`] for an unknown network or an unusable URL, naming the flag or the
/// variable.
pub fn resolve_wallet_chain(
    network: &str,
    chain_url: Option<&str>,
    env: &Overrides,
) -> Result<(Network, ChainConfig), ConfigError> {
    let network = parse_network(network, "command-line flag --network")?;
    let flags = Overrides { chain_url: chain_url.map(str::to_owned), ..Overrides::default() };
    let url = pick_override(&flags, env, |layer| layer.chain_url.as_ref(), "--chain-url", ENV_CHAIN_URL);
    let chain = resolve_chain(ChainSection::default(), network, "defaults", url)?;
    Ok((network, chain))
}
