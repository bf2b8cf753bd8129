//! The validation half of [`Config::resolve`](super::Config::resolve): one function per table,
//! each turning the file's optional values (and any override) into effective values or an error
//! naming the key. No I/O happens here.

use inbound_node::bitcoin::Network;
use lsps::method::Protocol;
use url::Url;

use super::{
    default_chain_url, BackendName, ChainAuth, ChainConfig, ChainSection, ConfigError, LimitsConfig, LimitsSection,
    LspsConfig, LspsSection, NetworkName, ProtocolName, AVAILABLE_PROTOCOLS, DEFAULT_CHAIN_POLL_INTERVAL_SECS,
    DEFAULT_LSPS_QUEUE_PER_PEER, DEFAULT_LSPS_QUEUE_TOTAL, DEFAULT_MAX_PENDING_PER_PEER, DEFAULT_MAX_PENDING_TOTAL,
};

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
                    "{} is not available yet: it has no server implementation so far ({}). \
                     Today only LSPS0 is served, and it is always on; remove {:?} from lsps.enabled",
                    protocol_title(protocol),
                    planned_in(protocol),
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
    Ok(LspsConfig { enabled })
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

fn planned_in(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Lsps0 => "it exists",
        Protocol::Lsps1 => "planned in issue 5",
        Protocol::Lsps2 => "planned in issue 4",
        Protocol::Lsps5 => "planned in issues 4 and 5",
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
