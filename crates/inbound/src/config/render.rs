//! The effective configuration written back as TOML, for `inbound config-check`. Secrets are
//! replaced by [`REDACTED`]; a cookie file is shown by its path only.

use inbound_node::bitcoin::Network;
use url::Url;

use super::resolve::name_of;
use super::{ChainAuth, ChainSection, Config, FileConfig, LimitsSection, LspsSection, NetworkName, NodeSection};

/// What a secret is replaced by.
pub const REDACTED: &str = "REDACTED";

pub(super) fn redacted_toml(config: &Config) -> String {
    let url = redacted_url(&config.chain.url);
    let (user, password, cookie_file) = match &config.chain.auth {
        ChainAuth::None | ChainAuth::InUrl => (None, None, None),
        ChainAuth::UserPassword { user, .. } => (Some(user.clone()), Some(REDACTED.to_string()), None),
        ChainAuth::CookieFile(path) => (None, None, Some(path.clone())),
    };
    let file = FileConfig {
        network: Some(network_name(config.network)),
        data_dir: Some(config.data_dir.clone()),
        node: Some(NodeSection { listen: Some(config.node.listen), alias: Some(config.node.alias.clone()) }),
        chain: Some(ChainSection {
            backend: Some(config.chain.backend),
            url: Some(url),
            user,
            password,
            cookie_file,
            poll_interval_secs: Some(config.chain.poll_interval_secs),
        }),
        lsps: Some(LspsSection { enabled: Some(config.lsps.enabled.iter().copied().map(name_of).collect()) }),
        limits: Some(LimitsSection {
            max_pending_per_peer: Some(config.limits.max_pending_per_peer),
            max_pending_total: Some(config.limits.max_pending_total),
            lsps_queue_per_peer: Some(config.limits.lsps_queue_per_peer),
            lsps_queue_total: Some(config.limits.lsps_queue_total),
        }),
    };
    match toml::to_string(&file) {
        Ok(text) => text,
        Err(error) => format!("# the configuration could not be written as TOML: {error}\n"),
    }
}

/// `url` with its password, if any, replaced by [`REDACTED`].
pub fn redacted_url(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        // Cannot fail: a URL with a password has a host, so it can carry a password.
        let _ = url.set_password(Some(REDACTED));
    }
    url.to_string()
}

fn network_name(network: Network) -> NetworkName {
    match network {
        Network::Bitcoin => NetworkName::Bitcoin,
        Network::Signet => NetworkName::Signet,
        Network::Regtest => NetworkName::Regtest,
        _ => NetworkName::Testnet,
    }
}
