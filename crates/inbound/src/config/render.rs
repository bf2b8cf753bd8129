//! The effective configuration written back as TOML, for `inbound config-check`. Secrets are
//! replaced by [`REDACTED`]; a cookie file is shown by its path only.

use inbound_node::bitcoin::Network;
use url::Url;

use inbound_service::lsps2::{FeeTier, Lsps2Config};
use inbound_service::Compat;

use super::resolve::{name_of, trust_name};
use super::{
    ChainAuth, ChainSection, CompatName, Config, FeeTierSection, FileConfig, LimitsSection, Lsps2Section, LspsSection,
    NetworkName, NodeSection, StoreSection,
};

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
        node: Some(NodeSection {
            listen: Some(config.node.listen),
            alias: Some(config.node.alias.clone()),
            max_inbound_htlc_in_flight_percent: Some(config.node.max_inbound_htlc_in_flight_percent),
        }),
        chain: Some(ChainSection {
            backend: Some(config.chain.backend),
            url: Some(url),
            user,
            password,
            cookie_file,
            poll_interval_secs: Some(config.chain.poll_interval_secs),
        }),
        lsps: Some(LspsSection {
            enabled: Some(config.lsps.enabled.iter().copied().map(name_of).collect()),
            compat: Some(match config.lsps.compat {
                Compat::Spec => CompatName::Spec,
                Compat::Ldk => CompatName::Ldk,
            }),
            error_data: None,
        }),
        limits: Some(LimitsSection {
            max_pending_per_peer: Some(config.limits.max_pending_per_peer),
            max_pending_total: Some(config.limits.max_pending_total),
            lsps_queue_per_peer: Some(config.limits.lsps_queue_per_peer),
            lsps_queue_total: Some(config.limits.lsps_queue_total),
        }),
        store: Some(StoreSection { url: Some(config.store.redacted()) }),
        lsps2: Some(lsps2_section(&config.lsps2)),
        http: Some(super::http::http_section(&config.http)),
        lsps1: Some(config.lsps1.clone()),
        lsps5: Some(config.lsps5.clone()),
        admin: Some(config.admin.clone()),
        lnurl: Some(config.lnurl.section()),
        web: Some(config.web.section()),
    };
    match toml::to_string(&file) {
        // An array of tables at the end is written without the final newline.
        Ok(text) if !text.ends_with('\n') => text + "\n",
        Ok(text) => text,
        Err(error) => format!("# the configuration could not be written as TOML: {error}\n"),
    }
}

fn lsps2_section(config: &Lsps2Config) -> Lsps2Section {
    let tiers = |tiers: &[FeeTier]| -> Vec<FeeTierSection> {
        tiers
            .iter()
            .map(|tier| FeeTierSection {
                min_fee_msat: tier.min_fee_msat,
                proportional_ppm: tier.proportional,
                min_payment_size_msat: tier.min_payment_size_msat,
                max_payment_size_msat: tier.max_payment_size_msat,
            })
            .collect()
    };
    Lsps2Section {
        valid_for_secs: Some(config.valid_for_secs),
        min_lifetime_blocks: Some(config.min_lifetime_blocks),
        max_client_to_self_delay_blocks: Some(config.max_client_to_self_delay_blocks),
        lsp_cltv_expiry_delta: Some(config.lsp_cltv_expiry_delta),
        trust: Some(trust_name(config.trust)),
        overprovisioning_ppm: Some(config.sizing.overprovisioning_ppm),
        headroom_sat: Some(config.sizing.headroom_sat),
        min_channel_sat: Some(config.sizing.min_channel_sat),
        max_channel_sat: Some(config.sizing.max_channel_sat),
        min_fee_open_weight_wu: Some(config.min_fee_open_weight_wu),
        min_fee_multiplier: Some(config.min_fee_multiplier),
        max_open_buys_per_client: Some(config.max_open_buys_per_client),
        max_unpaid_channels_per_client: Some(config.max_unpaid_channels_per_client),
        mpp_timeout_secs: Some(config.policy.mpp_timeout_secs),
        client_wait_secs: Some(config.policy.client_wait_secs),
        open_timeout_secs: Some(config.policy.open_timeout_secs),
        claim_timeout_secs: Some(config.policy.claim_timeout_secs),
        unpaid_channel_grace_secs: Some(config.policy.unpaid_channel_grace_secs),
        max_open_attempts: Some(config.policy.max_open_attempts),
        max_parts: Some(config.policy.max_parts),
        fee_tiers: Some(tiers(&config.public_menu)),
        token_menus: (!config.token_menus.is_empty())
            .then(|| config.token_menus.iter().map(|(token, menu)| (token.clone(), tiers(menu))).collect()),
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
