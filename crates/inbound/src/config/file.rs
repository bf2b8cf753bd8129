//! The TOML file's schema and its parser.
//!
//! Every field is optional, so that a file only states what differs from the defaults, and every
//! table denies unknown keys, so that a typo is an error instead of a silently ignored setting.
//! Parsing goes through `serde_path_to_error`, so an error names the dotted key it is about
//! (`chain.poll_interval_secs`, `lsps.enabled[1]`). This module reads nothing but the text it is
//! given; the caller reads the file.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use inbound_service::lsps1::Lsps1Config;
use inbound_service::lsps5::Lsps5Config;
use serde::{Deserialize, Serialize};

use super::{ChainSection, ConfigError, NetworkName};

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
    /// `[store]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreSection>,
    /// `[lsps2]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lsps2: Option<Lsps2Section>,
    /// `[http]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<super::HttpSection>,
    /// `[lsps1]`: the channel-order service (bLIP-51); keys as in [`Lsps1Config`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lsps1: Option<Lsps1Config>,
    /// `[lsps5]`: the webhook service (bLIP-55); keys as in [`Lsps5Config`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lsps5: Option<Lsps5Config>,
    /// `[admin]`: the operator's admin API; keys as in [`inbound_admin::AdminConfig`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<inbound_admin::AdminConfig>,
    /// `[lnurl]`: where wallets reach the LSP for LNURL-channel (vouchers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lnurl: Option<super::LnurlSection>,
    /// `[web]`: the web widget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<super::WebSection>,
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
    /// `node.max_inbound_htlc_in_flight_percent`: how much of a channel's value a peer may have
    /// in HTLCs towards the LSP at once, 1 to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_inbound_htlc_in_flight_percent: Option<u8>,
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
    /// `lsps.compat`: the clients the answers are shaped for ([`inbound_service::Compat`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compat: Option<CompatName>,
    /// `lsps.error_data`, replaced by `lsps.compat`: read only to name the new key in the error.
    #[serde(default, skip_serializing)]
    pub error_data: Option<ReplacedKey>,
}

/// A key that was replaced by another: any value is read, so that the error can name the new
/// key instead of calling the old one unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplacedKey;

impl<'de> Deserialize<'de> for ReplacedKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<ReplacedKey, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer)?;
        Ok(ReplacedKey)
    }
}

/// The `lsps.compat` settings, spelled as in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompatName {
    /// As the bLIPs say.
    Spec,
    /// Readable by LDK's lightning-liquidity 0.2.7 (ldk-node 0.7.1 wallets), still spec-valid.
    Ldk,
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

/// `[store]`: the database of the LSP's durable state (LSPS1 orders, LSPS2 sessions).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// `store.url`: an SQLite file path (or `sqlite://` URL) or a `postgres://` URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The LSPS2 trust modes, spelled as in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrustName {
    /// Always LSP-trusts-client.
    Never,
    /// Always client-trusts-LSP.
    Always,
    /// LSP-trusts-client, except for clients that left a channel unpaid.
    Adaptive,
}

/// One `[[lsps2.fee_tiers]]` (or `[[lsps2.token_menus.<token>]]`) entry. Every key is required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeTierSection {
    /// Fee floor, msat.
    pub min_fee_msat: u64,
    /// Fee per million msat of payment size.
    pub proportional_ppm: u32,
    /// Smallest payment, msat, inclusive.
    pub min_payment_size_msat: u64,
    /// Largest payment, msat, inclusive.
    pub max_payment_size_msat: u64,
}

/// `[lsps2]`: the just-in-time channel service (bLIP-52). Only used when `lsps.enabled` lists
/// `"lsps2"`, but always validated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lsps2Section {
    /// `lsps2.valid_for_secs`: how long a fee menu stays valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_for_secs: Option<u64>,
    /// `lsps2.min_lifetime_blocks`: how long the LSP keeps a JIT channel open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_lifetime_blocks: Option<u32>,
    /// `lsps2.max_client_to_self_delay_blocks`: cap on the client's `to_self_delay`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_client_to_self_delay_blocks: Option<u32>,
    /// `lsps2.lsp_cltv_expiry_delta`: the route hint's CLTV delta.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lsp_cltv_expiry_delta: Option<u32>,
    /// `lsps2.trust`: when clients must trust the LSP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<TrustName>,
    /// `lsps2.overprovisioning_ppm`: channel capacity over the forwarded amount, per million.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overprovisioning_ppm: Option<u32>,
    /// `lsps2.headroom_sat`: fixed extra channel capacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headroom_sat: Option<u64>,
    /// `lsps2.min_channel_sat`: the smallest JIT channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_channel_sat: Option<u64>,
    /// `lsps2.max_channel_sat`: the largest JIT channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_channel_sat: Option<u64>,
    /// `lsps2.min_fee_open_weight_wu`: weight of an open, for the chain-fee floor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_fee_open_weight_wu: Option<u64>,
    /// `lsps2.min_fee_multiplier`: multiplier of the open's chain cost, for the fee floor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_fee_multiplier: Option<u64>,
    /// `lsps2.max_open_buys_per_client`: unfinished purchases per client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_open_buys_per_client: Option<u64>,
    /// `lsps2.max_unpaid_channels_per_client`: unpaid channels before a client is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unpaid_channels_per_client: Option<u64>,
    /// `lsps2.mpp_timeout_secs`: how long parts of one payment are held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mpp_timeout_secs: Option<u64>,
    /// `lsps2.client_wait_secs`: how long a paid session waits for an offline client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_wait_secs: Option<u64>,
    /// `lsps2.open_timeout_secs`: how long an open may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_timeout_secs: Option<u64>,
    /// `lsps2.claim_timeout_secs`: how long the client may hold the forwarded HTLCs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_timeout_secs: Option<u64>,
    /// `lsps2.unpaid_channel_grace_secs`: how long an unpaid channel is kept after `valid_until`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unpaid_channel_grace_secs: Option<u64>,
    /// `lsps2.max_open_attempts`: failed opens before a session fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_open_attempts: Option<u32>,
    /// `lsps2.max_parts`: the most parts one payment may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parts: Option<usize>,
    /// `[[lsps2.fee_tiers]]`: the public menu, cheapest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_tiers: Option<Vec<FeeTierSection>>,
    /// `[[lsps2.token_menus.<token>]]`: menus offered to holders of a token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_menus: Option<BTreeMap<String, Vec<FeeTierSection>>>,
}

impl FileConfig {
    /// Parses the text of a configuration file. `origin` (usually the file's path) is only used in
    /// error messages.
    ///
    /// # Errors
    /// [`ConfigError::Syntax`] if the text is not TOML; [`ConfigError::Invalid`] naming the key if a
    /// key is unknown or a value has the wrong type or spelling.
    /// Parses `text` (when there is a file) with the environment's keys over it
    /// (`INBOUND__<SECTION>__<KEY>`, see `env_layer.rs`). An error in a key set from the
    /// environment names the variable; errors in the file keep their line.
    ///
    /// # Errors
    /// As [`FileConfig::parse`].
    pub fn parse_layered(
        text: Option<&str>,
        origin: &str,
        keys: &[super::env_layer::EnvKey],
    ) -> Result<FileConfig, ConfigError> {
        if keys.is_empty() {
            return match text {
                Some(text) => FileConfig::parse(text, origin),
                None => Ok(FileConfig::default()),
            };
        }
        let mut table: toml::Table = match text {
            Some(text) => toml::from_str(text)
                .map_err(|error| ConfigError::Syntax { origin: origin.to_string(), message: describe(&error, text) })?,
            None => toml::Table::new(),
        };
        super::env_layer::apply(keys, &mut table)?;
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|error| {
            let key = error.path().to_string();
            let from_env =
                keys.iter().find(|env| key == env.dotted() || key.starts_with(&format!("{}.", env.dotted())));
            let origin = from_env.map_or_else(|| origin.to_string(), |env| env.variable.clone());
            let key = if key == "." { "(top level)".to_string() } else { key };
            ConfigError::Invalid { key, origin, message: error.into_inner().to_string().trim().to_string() }
        })
    }

    /// Parses the TOML `text`; `origin` names it in errors.
    ///
    /// # Errors
    /// [`ConfigError::Syntax`] for bad TOML, [`ConfigError::Invalid`] naming the key otherwise.
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
