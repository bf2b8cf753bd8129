//! Node configuration and its defaults.
//!
//! | setting | default | meaning |
//! |---|---|---|
//! | `network` | [`DEFAULT_NETWORK`] (bitcoin) | chain the node runs on |
//! | `data_dir` | none (required) | seed, channel state, wallet |
//! | `listen_address` | [`DEFAULT_LISTEN_ADDRESS`] | where to accept peers; `None` = outbound only |
//! | `role` | [`NodeRole::Lsp`] | LSP or wallet knobs (below) |
//! | `min_funding_confirmations` | [`DEFAULT_MIN_FUNDING_CONFIRMATIONS`] | `minimum_depth` we ask for |
//! | `lsps_max_queued_per_peer` | [`DEFAULT_LSPS_MAX_QUEUED_PER_PEER`] | outbound LSPS0 queue per peer |
//! | `lsps_max_queued_total` | [`DEFAULT_LSPS_MAX_QUEUED_TOTAL`] | outbound LSPS0 queue, all peers |
//! | `reconnect_interval_secs` | [`DEFAULT_RECONNECT_INTERVAL_SECS`] | reconnect loop period |
//! | `fee_update_interval_secs` | [`DEFAULT_FEE_UPDATE_INTERVAL_SECS`] | fee estimate refresh |
//! | `log_level` | [`DEFAULT_LOG_LEVEL`] | LDK log filter |
//! | `htlc_forward_poll_ms` | [`DEFAULT_HTLC_FORWARD_POLL_MS`] | process received HTLCs within this many ms instead of LDK's randomized forwarding batch delay; `None` = LDK's delay |
//! | `lsp_max_inbound_htlc_in_flight_percent` | [`DEFAULT_LSP_MAX_INBOUND_HTLC_IN_FLIGHT_PERCENT`] | LSP role: how much of a channel's value the peer may have in HTLCs towards the LSP at once |
//!
//! Role-specific LDK [`UserConfig`] knobs ([`Config::user_config`]):
//! * [`NodeRole::Lsp`]: `accept_intercept_htlcs = true` (JIT channels, LSPS2 §4.7),
//!   `accept_forwards_to_priv_channels = true` (client channels are unannounced), feature bit 729
//!   advertised, inbound channels accepted automatically, and
//!   `max_inbound_htlc_value_in_flight_percent_of_channel` from
//!   [`Config::lsp_max_inbound_htlc_in_flight_percent`] (100 by default, as ldk-node's LSP: a
//!   payer's channel to the LSP may carry its whole value at once; LDK's own default of 10 %
//!   makes a payment larger than a tenth of each channel unroutable).
//! * [`NodeRole::Wallet`]: `manually_accept_inbound_channels = true` (the node accepts them
//!   itself, 0-conf from [`Config::trusted_peers_0conf`]) and
//!   `channel_config.accept_underpaying_htlcs = true` (the LSP skims its opening fee, LSPS2 §4.10).

use std::net::SocketAddr;
use std::path::PathBuf;

use bitcoin::secp256k1::PublicKey;
use bitcoin::Network;
use lightning::util::config::UserConfig;
use lightning::util::logger::Level;

/// Default network.
pub const DEFAULT_NETWORK: Network = Network::Bitcoin;
/// Default listening address (all interfaces, the usual Lightning port).
pub const DEFAULT_LISTEN_ADDRESS: &str = "0.0.0.0:9735";
/// Default confirmations we require before a channel funded by the peer is usable.
pub const DEFAULT_MIN_FUNDING_CONFIRMATIONS: u32 = 6;
/// Default bound on queued outbound LSPS0 messages per peer. An LSP answers one request with one
/// response and clients may have about 10 requests in flight (§2.10), so 32 leaves headroom.
pub const DEFAULT_LSPS_MAX_QUEUED_PER_PEER: usize = 32;
/// Default bound on queued outbound LSPS0 messages over all peers (at most ~2 MB of typical
/// ≤ 1 kB messages, 256 MB in the pathological 64 kB case).
pub const DEFAULT_LSPS_MAX_QUEUED_TOTAL: usize = 4096;
/// Default period of the reconnect loop for peers we have channels with.
pub const DEFAULT_RECONNECT_INTERVAL_SECS: u64 = 10;
/// Default period between fee estimate refreshes.
pub const DEFAULT_FEE_UPDATE_INTERVAL_SECS: u64 = 60;
/// Default chain poll period for real backends.
pub const DEFAULT_CHAIN_POLL_INTERVAL_SECS: u64 = 5;
/// Default period of the HTLC forwarding poll (see [`Config::htlc_forward_poll_ms`]).
pub const DEFAULT_HTLC_FORWARD_POLL_MS: u64 = 5;
/// Default share of a channel's value that a peer may have in flight towards an LSP-role node
/// (LDK's own default is 10).
pub const DEFAULT_LSP_MAX_INBOUND_HTLC_IN_FLIGHT_PERCENT: u8 = 100;
/// Default LDK log level.
pub const DEFAULT_LOG_LEVEL: Level = Level::Info;
/// Default alias used in log lines.
pub const DEFAULT_ALIAS: &str = "inbound";

/// Which side of an LSP relationship this node is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeRole {
    /// The LSP: intercepts HTLCs for JIT channels and advertises feature bit 729.
    Lsp,
    /// A wallet (LSP client or payer): accepts channels manually and underpaying HTLCs.
    Wallet,
}

/// Everything a [`Node`](crate::Node) needs besides its injected collaborators. See the module
/// documentation for defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// The chain the node runs on.
    pub network: Network,
    /// Directory holding the seed, LDK state and the wallet. Created if missing.
    pub data_dir: PathBuf,
    /// Where to accept inbound peer connections; `None` disables listening.
    pub listen_address: Option<SocketAddr>,
    /// Name used in log lines.
    pub alias: String,
    /// LSP or wallet.
    pub role: NodeRole,
    /// `minimum_depth` we require for channels the peer funds (`0` is not allowed here; 0-conf is
    /// negotiated per channel with trusted peers).
    pub min_funding_confirmations: u32,
    /// Peers whose inbound channels a [`NodeRole::Wallet`] node accepts as 0-conf (its LSPs).
    pub trusted_peers_0conf: Vec<PublicKey>,
    /// Outbound LSPS0 queue bound per peer.
    pub lsps_max_queued_per_peer: usize,
    /// Outbound LSPS0 queue bound over all peers.
    pub lsps_max_queued_total: usize,
    /// Reconnect loop period, seconds.
    pub reconnect_interval_secs: u64,
    /// Fee estimate refresh period, seconds.
    pub fee_update_interval_secs: u64,
    /// LDK log level.
    pub log_level: Level,
    /// When set, a task checks every this many milliseconds whether the channel manager holds
    /// HTLCs to process (received `update_add_htlc`s, forwards queued by
    /// `forward_intercepted_htlc`) and processes them at once. LDK 0.2's background processor
    /// otherwise waits a randomized batch delay (log-normal, mean ~50 ms, up to 200 ms) before
    /// each round, which an LSP pays twice on a JIT first payment (interception, then forward).
    /// The poll starts after the same 2 s start-up grace LDK keeps for peers to reconnect.
    /// `None` keeps LDK's batching (more timing privacy for a forwarding node).
    pub htlc_forward_poll_ms: Option<u64>,
    /// [`NodeRole::Lsp`] only: the most a peer may have in HTLCs towards this node on one
    /// channel, as a percentage of the channel's value (1 to 100; LDK's
    /// `max_inbound_htlc_value_in_flight_percent_of_channel`). Applies to channels opened to the
    /// LSP and by it.
    pub lsp_max_inbound_htlc_in_flight_percent: u8,
}

impl Config {
    /// A configuration with every default and the given data directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            network: DEFAULT_NETWORK,
            data_dir: data_dir.into(),
            listen_address: DEFAULT_LISTEN_ADDRESS.parse().ok(),
            alias: DEFAULT_ALIAS.to_string(),
            role: NodeRole::Lsp,
            min_funding_confirmations: DEFAULT_MIN_FUNDING_CONFIRMATIONS,
            trusted_peers_0conf: Vec::new(),
            lsps_max_queued_per_peer: DEFAULT_LSPS_MAX_QUEUED_PER_PEER,
            lsps_max_queued_total: DEFAULT_LSPS_MAX_QUEUED_TOTAL,
            reconnect_interval_secs: DEFAULT_RECONNECT_INTERVAL_SECS,
            fee_update_interval_secs: DEFAULT_FEE_UPDATE_INTERVAL_SECS,
            log_level: DEFAULT_LOG_LEVEL,
            htlc_forward_poll_ms: Some(DEFAULT_HTLC_FORWARD_POLL_MS),
            lsp_max_inbound_htlc_in_flight_percent: DEFAULT_LSP_MAX_INBOUND_HTLC_IN_FLIGHT_PERCENT,
        }
    }

    /// The LDK [`UserConfig`] for this configuration's role (see the module documentation).
    pub fn user_config(&self) -> UserConfig {
        let mut config = UserConfig::default();
        config.channel_handshake_config.minimum_depth = self.min_funding_confirmations.max(1);
        match self.role {
            NodeRole::Lsp => {
                config.accept_intercept_htlcs = true;
                config.accept_forwards_to_priv_channels = true;
                config.channel_handshake_config.max_inbound_htlc_value_in_flight_percent_of_channel =
                    self.lsp_max_inbound_htlc_in_flight_percent.clamp(1, 100);
            }
            NodeRole::Wallet => {
                config.manually_accept_inbound_channels = true;
                config.channel_config.accept_underpaying_htlcs = true;
            }
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_knobs() {
        let mut config = Config::new("/tmp/x");
        let lsp = config.user_config();
        assert!(lsp.accept_intercept_htlcs && lsp.accept_forwards_to_priv_channels);
        assert!(!lsp.manually_accept_inbound_channels);
        assert_eq!(lsp.channel_handshake_config.max_inbound_htlc_value_in_flight_percent_of_channel, 100);
        config.lsp_max_inbound_htlc_in_flight_percent = 0;
        let clamped = config.user_config().channel_handshake_config;
        assert_eq!(clamped.max_inbound_htlc_value_in_flight_percent_of_channel, 1);
        config.role = NodeRole::Wallet;
        let wallet = config.user_config();
        assert!(wallet.manually_accept_inbound_channels && wallet.channel_config.accept_underpaying_htlcs);
        let ldk_default =
            UserConfig::default().channel_handshake_config.max_inbound_htlc_value_in_flight_percent_of_channel;
        assert_eq!(wallet.channel_handshake_config.max_inbound_htlc_value_in_flight_percent_of_channel, ldk_default);
        assert!(!wallet.accept_intercept_htlcs);
    }
}
