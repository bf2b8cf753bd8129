//! The validation half of [`Config::resolve`](super::Config::resolve): one function per table,
//! each turning the file's optional values (and any override) into effective values or an error
//! naming the key. No I/O happens here.

use std::path::Path;

use inbound_service::lsps1::{Lsps1Config, Lsps1ConfigError};
use inbound_service::lsps2::{ChannelSizing, FeeTier, Lsps2Config, Lsps2ConfigError, SessionPolicy, TrustMode};
use inbound_service::lsps5::Lsps5Config;
use inbound_service::Compat;
use lsps::method::Protocol;
use url::Url;

use super::{
    CompatName, ConfigError, FeeTierSection, LimitsConfig, LimitsSection, Lsps2Section, LspsConfig, LspsSection,
    ProtocolName, StoreConfig, StoreSection, TrustName, AVAILABLE_PROTOCOLS, DEFAULT_LSPS_QUEUE_PER_PEER,
    DEFAULT_LSPS_QUEUE_TOTAL, DEFAULT_MAX_PENDING_PER_PEER, DEFAULT_MAX_PENDING_TOTAL, DEFAULT_STORE_FILE,
};

/// Resolves `[lsps]`: every listed protocol must have a server implementation.
pub(super) fn resolve_lsps(lsps: LspsSection, file_origin: &str) -> Result<LspsConfig, ConfigError> {
    let mut enabled = Vec::new();
    for (index, name) in lsps.enabled.unwrap_or_default().into_iter().enumerate() {
        let protocol = protocol_of(name);
        if !AVAILABLE_PROTOCOLS.contains(&protocol) {
            return Err(ConfigError::invalid(
                &format!("lsps.enabled[{index}]"),
                file_origin,
                format!(
                    "{} is not available: Inbound has its wire layer but no server for it. \
                     Inbound serves LSPS0 (always on), LSPS1, LSPS2 and LSPS5; remove {:?} from lsps.enabled",
                    protocol_title(protocol),
                    format!("lsps{}", protocol.number()),
                ),
            ));
        }
        // LSPS0 is implied and never listed (bLIP-50 `lsps0.list_protocols`).
        if protocol != Protocol::Lsps0 && !enabled.contains(&protocol) {
            enabled.push(protocol);
        }
    }
    enabled.sort_by_key(|protocol| protocol.number());
    if lsps.error_data.is_some() {
        return Err(ConfigError::invalid(
            "lsps.error_data",
            file_origin,
            "replaced by `lsps.compat`: write compat = \"ldk\" instead of error_data = \"ldk_compat\" \
             (it also shapes LSPS1 answers for LDK wallets), or remove the key for the default \"spec\"",
        ));
    }
    let compat = match lsps.compat {
        None | Some(CompatName::Spec) => Compat::Spec,
        Some(CompatName::Ldk) => Compat::Ldk,
    };
    Ok(LspsConfig { enabled, compat })
}

pub(super) fn protocol_of(name: ProtocolName) -> Protocol {
    match name {
        ProtocolName::Lsps0 => Protocol::Lsps0,
        ProtocolName::Lsps1 => Protocol::Lsps1,
        ProtocolName::Lsps2 => Protocol::Lsps2,
        ProtocolName::Lsps5 => Protocol::Lsps5,
    }
}

pub(super) fn name_of(protocol: Protocol) -> ProtocolName {
    match protocol {
        Protocol::Lsps0 => ProtocolName::Lsps0,
        Protocol::Lsps1 => ProtocolName::Lsps1,
        Protocol::Lsps2 => ProtocolName::Lsps2,
        Protocol::Lsps5 => ProtocolName::Lsps5,
    }
}

fn protocol_title(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Lsps0 => "LSPS0 (bLIP-50, transport)",
        Protocol::Lsps1 => "LSPS1 (bLIP-51, channel orders)",
        Protocol::Lsps2 => "LSPS2 (bLIP-52, just-in-time channels)",
        Protocol::Lsps5 => "LSPS5 (bLIP-55, webhooks)",
    }
}

/// Resolves `[limits]`: every bound at least 1, no per-peer bound above its total.
pub(super) fn resolve_limits(limits: LimitsSection, file_origin: &str) -> Result<LimitsConfig, ConfigError> {
    let resolved = LimitsConfig {
        max_pending_per_peer: limits.max_pending_per_peer.unwrap_or(DEFAULT_MAX_PENDING_PER_PEER),
        max_pending_total: limits.max_pending_total.unwrap_or(DEFAULT_MAX_PENDING_TOTAL),
        lsps_queue_per_peer: limits.lsps_queue_per_peer.unwrap_or(DEFAULT_LSPS_QUEUE_PER_PEER),
        lsps_queue_total: limits.lsps_queue_total.unwrap_or(DEFAULT_LSPS_QUEUE_TOTAL),
    };
    let bounds = [
        ("limits.max_pending_per_peer", resolved.max_pending_per_peer),
        ("limits.max_pending_total", resolved.max_pending_total),
        ("limits.lsps_queue_per_peer", resolved.lsps_queue_per_peer),
        ("limits.lsps_queue_total", resolved.lsps_queue_total),
    ];
    for (key, value) in bounds {
        if value == 0 {
            return Err(ConfigError::invalid(key, file_origin, "must be at least 1 (0 would refuse every peer)"));
        }
    }
    let pairs = [
        (
            "limits.max_pending_per_peer",
            resolved.max_pending_per_peer,
            "limits.max_pending_total",
            resolved.max_pending_total,
        ),
        (
            "limits.lsps_queue_per_peer",
            resolved.lsps_queue_per_peer,
            "limits.lsps_queue_total",
            resolved.lsps_queue_total,
        ),
    ];
    for (per_peer_key, per_peer, total_key, total) in pairs {
        if per_peer > total {
            return Err(ConfigError::invalid(
                per_peer_key,
                file_origin,
                format!("{per_peer} exceeds {total_key} ({total}); a per-peer bound cannot be larger than the total"),
            ));
        }
    }
    Ok(resolved)
}

/// Resolves `[store]`: `store.url` if set, else the SQLite file [`DEFAULT_STORE_FILE`] in
/// `data_dir`. Only the form is checked here; the database is opened by the wiring.
pub(super) fn resolve_store(
    store: StoreSection,
    data_dir: &Path,
    file_origin: &str,
    data_dir_origin: &str,
) -> Result<StoreConfig, ConfigError> {
    let Some(url) = store.url else {
        let path = data_dir.join(DEFAULT_STORE_FILE);
        let url = path.to_str().map(str::to_string).ok_or_else(|| {
            ConfigError::invalid("data_dir", data_dir_origin, "must be valid UTF-8 when store.url is not set")
        })?;
        return Ok(StoreConfig { url });
    };
    let trimmed = url.trim();
    if trimmed.is_empty() {
        return Err(ConfigError::invalid("store.url", file_origin, "must not be empty"));
    }
    let supported = ["postgres://", "postgresql://", "sqlite:"];
    if !supported.iter().any(|prefix| trimmed.starts_with(prefix)) {
        if let Some((scheme, _)) = trimmed.split_once("://") {
            // Only the scheme is repeated: the rest may hold a password.
            return Err(ConfigError::invalid(
                "store.url",
                file_origin,
                format!("scheme {scheme:?} is not supported; use a file path, sqlite://PATH or postgres://…"),
            ));
        }
    }
    if trimmed.starts_with("postgres") && Url::parse(trimmed).is_err() {
        return Err(ConfigError::invalid("store.url", file_origin, "is not a valid postgres:// URL"));
    }
    Ok(StoreConfig { url: trimmed.to_string() })
}

/// Validates `[lsps1]` (already merged over [`Lsps1Config::default`] by serde), naming
/// `lsps1.<key>` in errors.
pub(super) fn resolve_lsps1(section: Lsps1Config, file_origin: &str) -> Result<Lsps1Config, ConfigError> {
    section.validate().map_err(|error| {
        let key = match &error {
            Lsps1ConfigError::Reversed { min, .. } => format!("lsps1.{min}"),
            Lsps1ConfigError::Invalid { key: "lsps1", .. } => "lsps1".to_string(),
            Lsps1ConfigError::Invalid { key, .. } => format!("lsps1.{key}"),
        };
        ConfigError::invalid(&key, file_origin, error.to_string())
    })?;
    Ok(section)
}

/// Validates `[lsps5]` (already merged over [`Lsps5Config::default`] by serde), naming
/// `lsps5.<key>` in errors. `extra_ca_file` must be a readable file; whether it holds
/// certificates is checked when the service starts.
pub(super) fn resolve_lsps5(section: Lsps5Config, file_origin: &str) -> Result<Lsps5Config, ConfigError> {
    section
        .validate()
        .map_err(|error| ConfigError::invalid(&format!("lsps5.{}", error.key()), file_origin, error.to_string()))?;
    if let Some(path) = &section.extra_ca_file {
        if !path.is_file() {
            return Err(ConfigError::invalid(
                "lsps5.extra_ca_file",
                file_origin,
                format!("{} is not a readable file", path.display()),
            ));
        }
    }
    Ok(section)
}

/// Resolves `[lsps2]` over [`Lsps2Config::default`] (whose values are the service's `DEFAULT_*`
/// consts) and validates the result, naming the key of the first bad value.
pub(super) fn resolve_lsps2(section: Lsps2Section, file_origin: &str) -> Result<Lsps2Config, ConfigError> {
    let defaults = Lsps2Config::default();
    let sizing_defaults = ChannelSizing::default();
    let policy_defaults = SessionPolicy::default();
    let public_menu = match section.fee_tiers {
        Some(tiers) => tiers_of(tiers, "lsps2.fee_tiers", file_origin)?,
        None => defaults.public_menu.clone(),
    };
    let mut token_menus = defaults.token_menus.clone();
    for (token, tiers) in section.token_menus.unwrap_or_default() {
        let key = format!("lsps2.token_menus.{token}");
        if token.trim().is_empty() {
            return Err(ConfigError::invalid(&key, file_origin, "a token must not be empty"));
        }
        if tiers.is_empty() {
            return Err(ConfigError::invalid(&key, file_origin, "a token menu needs at least one tier"));
        }
        let tiers = tiers_of(tiers, &key, file_origin)?;
        token_menus.insert(token, tiers);
    }
    let config = Lsps2Config {
        public_menu,
        token_menus,
        valid_for_secs: section.valid_for_secs.unwrap_or(defaults.valid_for_secs),
        min_lifetime_blocks: section.min_lifetime_blocks.unwrap_or(defaults.min_lifetime_blocks),
        max_client_to_self_delay_blocks: section
            .max_client_to_self_delay_blocks
            .unwrap_or(defaults.max_client_to_self_delay_blocks),
        lsp_cltv_expiry_delta: section.lsp_cltv_expiry_delta.unwrap_or(defaults.lsp_cltv_expiry_delta),
        trust: section.trust.map(trust_of).unwrap_or(defaults.trust),
        sizing: ChannelSizing {
            overprovisioning_ppm: section.overprovisioning_ppm.unwrap_or(sizing_defaults.overprovisioning_ppm),
            headroom_sat: section.headroom_sat.unwrap_or(sizing_defaults.headroom_sat),
            min_channel_sat: section.min_channel_sat.unwrap_or(sizing_defaults.min_channel_sat),
            max_channel_sat: section.max_channel_sat.unwrap_or(sizing_defaults.max_channel_sat),
        },
        min_fee_open_weight_wu: section.min_fee_open_weight_wu.unwrap_or(defaults.min_fee_open_weight_wu),
        min_fee_multiplier: section.min_fee_multiplier.unwrap_or(defaults.min_fee_multiplier),
        max_open_buys_per_client: section.max_open_buys_per_client.unwrap_or(defaults.max_open_buys_per_client),
        max_unpaid_channels_per_client: section
            .max_unpaid_channels_per_client
            .unwrap_or(defaults.max_unpaid_channels_per_client),
        policy: SessionPolicy {
            mpp_timeout_secs: section.mpp_timeout_secs.unwrap_or(policy_defaults.mpp_timeout_secs),
            client_wait_secs: section.client_wait_secs.unwrap_or(policy_defaults.client_wait_secs),
            open_timeout_secs: section.open_timeout_secs.unwrap_or(policy_defaults.open_timeout_secs),
            claim_timeout_secs: section.claim_timeout_secs.unwrap_or(policy_defaults.claim_timeout_secs),
            unpaid_channel_grace_secs: section
                .unpaid_channel_grace_secs
                .unwrap_or(policy_defaults.unpaid_channel_grace_secs),
            max_open_attempts: section.max_open_attempts.unwrap_or(policy_defaults.max_open_attempts),
            max_parts: section.max_parts.unwrap_or(policy_defaults.max_parts),
            ..policy_defaults
        },
        ..defaults
    };
    // Bounds the service does not check itself: zero would refuse every client or time out at once.
    let at_least_one = [
        ("lsps2.max_open_buys_per_client", config.max_open_buys_per_client),
        ("lsps2.max_unpaid_channels_per_client", config.max_unpaid_channels_per_client),
        ("lsps2.client_wait_secs", config.policy.client_wait_secs),
        ("lsps2.open_timeout_secs", config.policy.open_timeout_secs),
        ("lsps2.claim_timeout_secs", config.policy.claim_timeout_secs),
        ("lsps2.max_open_attempts", u64::from(config.policy.max_open_attempts)),
        ("lsps2.max_parts", u64::try_from(config.policy.max_parts).unwrap_or(u64::MAX)),
        ("lsps2.min_lifetime_blocks", u64::from(config.min_lifetime_blocks)),
        ("lsps2.lsp_cltv_expiry_delta", u64::from(config.lsp_cltv_expiry_delta)),
    ];
    for (key, value) in at_least_one {
        if value == 0 {
            return Err(ConfigError::invalid(key, file_origin, "must be at least 1"));
        }
    }
    config.validate().map_err(|error| {
        let key = match &error {
            Lsps2ConfigError::Menu { menu, .. } if menu == "public" => "lsps2.fee_tiers".to_string(),
            Lsps2ConfigError::Menu { menu, .. } => format!("lsps2.token_menus.{menu}"),
            Lsps2ConfigError::ValidityTooShort => "lsps2.valid_for_secs".to_string(),
            Lsps2ConfigError::CltvDeltaTooLarge => "lsps2.lsp_cltv_expiry_delta".to_string(),
            Lsps2ConfigError::ToSelfDelayTooLarge => "lsps2.max_client_to_self_delay_blocks".to_string(),
            Lsps2ConfigError::Sizing => "lsps2.min_channel_sat".to_string(),
            Lsps2ConfigError::MppTimeoutTooShort => "lsps2.mpp_timeout_secs".to_string(),
            Lsps2ConfigError::PromiseKeyIdReused => "lsps2".to_string(),
        };
        ConfigError::invalid(&key, file_origin, error.to_string())
    })?;
    Ok(config)
}

fn tiers_of(tiers: Vec<FeeTierSection>, key: &str, file_origin: &str) -> Result<Vec<FeeTier>, ConfigError> {
    let mut resolved = Vec::with_capacity(tiers.len());
    for (index, tier) in tiers.into_iter().enumerate() {
        if tier.min_payment_size_msat > tier.max_payment_size_msat {
            return Err(ConfigError::invalid(
                &format!("{key}[{index}].min_payment_size_msat"),
                file_origin,
                format!(
                    "{} exceeds max_payment_size_msat ({})",
                    tier.min_payment_size_msat, tier.max_payment_size_msat
                ),
            ));
        }
        resolved.push(FeeTier {
            min_fee_msat: tier.min_fee_msat,
            proportional: tier.proportional_ppm,
            min_payment_size_msat: tier.min_payment_size_msat,
            max_payment_size_msat: tier.max_payment_size_msat,
        });
    }
    Ok(resolved)
}

pub(super) fn trust_of(name: TrustName) -> TrustMode {
    match name {
        TrustName::Never => TrustMode::Never,
        TrustName::Always => TrustMode::Always,
        TrustName::Adaptive => TrustMode::Adaptive,
    }
}

pub(super) fn trust_name(mode: TrustMode) -> TrustName {
    match mode {
        TrustMode::Never => TrustName::Never,
        TrustMode::Always => TrustName::Always,
        TrustMode::Adaptive => TrustName::Adaptive,
    }
}

/// Validates `[admin]` (already merged over [`inbound_admin::AdminConfig::default`] by serde),
/// with `--admin-listen` / `INBOUND_ADMIN_LISTEN` over `admin.listen`.
pub(super) fn resolve_admin(
    mut section: inbound_admin::AdminConfig,
    file_origin: &str,
    env: &super::Overrides,
    cli: &super::Overrides,
) -> Result<inbound_admin::AdminConfig, ConfigError> {
    let mut origin = file_origin.to_owned();
    let picked =
        super::pick_override(cli, env, |layer| layer.admin_listen.as_ref(), "--admin-listen", super::ENV_ADMIN_LISTEN);
    if let Some((value, from)) = picked {
        section.listen = value.parse().map_err(|error| {
            ConfigError::invalid("admin.listen", &from, format!("{value:?} is not an ip:port address: {error}"))
        })?;
        origin = from;
    }
    if section.key_file.as_ref().is_some_and(|path| path.as_os_str().is_empty()) {
        return Err(ConfigError::invalid("admin.key_file", file_origin, "must not be empty"));
    }
    section.validate().map_err(|error| ConfigError::invalid("admin.listen", &origin, error.to_string()))?;
    Ok(section)
}
