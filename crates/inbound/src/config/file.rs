//! The TOML file's schema and its parser.
//!
//! Every field is optional, so that a file only states what differs from the defaults, and every
//! table denies unknown keys, so that a typo is an error instead of a silently ignored setting.
//! Parsing goes through `serde_path_to_error`, so an error names the dotted key it is about
//! (`chain.poll_interval_secs`, `lsps.enabled[1]`). This module reads nothing but the text it is
//! given; the caller reads the file.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The whole file. See `crates/inbound/inbound.example.toml` for an annotated example.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `network`: which chain the node runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkName>,
    /// `data_dir`: where the seed, the channel state and the wallet live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `[node]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeSection>,
    /// `[chain]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainSection>,
    /// `[lsps]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lsps: Option<LspsSection>,
    /// `[limits]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitsSection>,
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

/// `[node]`: the Lightning node itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// `node.listen`: the address peers connect to, `ip:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// `node.alias`: the name used in log lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
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

/// The LSPS protocols, spelled as in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolName {
    /// LSPS0 (bLIP-50), always on.
    Lsps0,
    /// LSPS1 (bLIP-51), channel orders.
    Lsps1,
    /// LSPS2 (bLIP-52), just-in-time channels.
    Lsps2,
    /// LSPS5 (bLIP-55), webhooks.
    Lsps5,
}

/// `[lsps]`: which LSPS protocols the LSP serves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LspsSection {
    /// `lsps.enabled`: protocols served besides LSPS0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<Vec<ProtocolName>>,
}

/// `[limits]`: bounds on per-peer and total work.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    /// `limits.max_pending_per_peer`: LSPS requests of one peer being handled at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pending_per_peer: Option<usize>,
    /// `limits.max_pending_total`: LSPS requests of all peers being handled at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pending_total: Option<usize>,
    /// `limits.lsps_queue_per_peer`: outbound LSPS messages queued for one peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lsps_queue_per_peer: Option<usize>,
    /// `limits.lsps_queue_total`: outbound LSPS messages queued for all peers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lsps_queue_total: Option<usize>,
}

impl FileConfig {
    /// Parses the text of a configuration file. `origin` (usually the file's path) is only used in
    /// error messages.
    ///
    /// # Errors
    /// [`ConfigError::Syntax`] if the text is not TOML; [`ConfigError::Invalid`] naming the key if a
    /// key is unknown or a value has the wrong type or spelling.
    pub fn parse(text: &str, origin: &str) -> Result<FileConfig, ConfigError> {
        let deserializer = toml::Deserializer::parse(text)
            .map_err(|error| ConfigError::Syntax { origin: origin.to_string(), message: describe(&error, text) })?;
        serde_path_to_error::deserialize(deserializer).map_err(|error| {
            let key = error.path().to_string();
            let inner = error.into_inner();
            let location = match line_of(&inner, text) {
                Some(line) => format!("{origin}, line {line}"),
                None => origin.to_string(),
            };
            // A path of "." means the error is about the top-level table itself (an unknown
            // top-level key); the message names the key in that case.
            let key = if key == "." { "(top level)".to_string() } else { key };
            ConfigError::Invalid { key, origin: location, message: inner.message().trim().to_string() }
        })
    }
}

/// The 1-based line an error points at, if it carries a position.
fn line_of(error: &toml::de::Error, text: &str) -> Option<usize> {
    let span = error.span()?;
    let before = text.get(..span.start)?;
    Some(before.matches('\n').count() + 1)
}

/// A one-line description of a syntax error: its message and line.
fn describe(error: &toml::de::Error, text: &str) -> String {
    match line_of(error, text) {
        Some(line) => format!("line {line}: {}", error.message().trim()),
        None => error.message().trim().to_string(),
    }
}
