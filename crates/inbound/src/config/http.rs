//! `[http]`: the LSPS JSON-RPC over HTTP endpoint (`inbound-http`), its file schema, its
//! resolution (with `INBOUND_HTTP_ENABLED`, `INBOUND_HTTP_LISTEN`, `--http`, `--http-listen`) and
//! its rendering back to TOML.

use std::net::SocketAddr;
use std::time::Duration;

use inbound_http::{HttpConfig, HttpConfigError, IpNet};
use serde::{Deserialize, Serialize};

use super::{pick_override, ConfigError, Overrides, ENV_HTTP_ENABLED, ENV_HTTP_LISTEN};

/// Default `http.listen`: localhost only, for a reverse proxy in front (set
/// `http.trust_forwarded_for` to it).
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:9780";

/// `[http]` as written in the file. Every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// `http.enabled`: serve LSPS over HTTP POST too (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// `http.listen`: `ip:port` to bind; port 0 picks a free one (logged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// `http.path`: the endpoint's path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `http.max_body_bytes`: the largest request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,
    /// `http.rate_burst`: requests one client IP may send at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_burst: Option<u32>,
    /// `http.rate_per_second`: sustained requests per second per client IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_second: Option<u32>,
    /// `http.max_tracked_ips`: client IPs with a rate-limit bucket at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tracked_ips: Option<usize>,
    /// `http.body_timeout_secs`: how long a client may take to send its body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_timeout_secs: Option<u64>,
    /// `http.cors_origins`: origins browsers may call the endpoint from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors_origins: Option<Vec<String>>,
    /// `http.trust_forwarded_for`: proxy IPs or CIDR networks whose `X-Forwarded-For` is believed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_forwarded_for: Option<Vec<String>>,
    /// `http.require_node_signature`: methods bound to a client need proof of its node id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_node_signature: Option<bool>,
    /// `http.max_connections`: open connections at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,
    /// `http.max_connections_per_ip`: open connections from one IP (trusted proxies excepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections_per_ip: Option<usize>,
    /// `http.header_timeout_secs`: how long a client may take to send a request's head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_timeout_secs: Option<u64>,
    /// `http.connection_timeout_secs`: how long one connection may live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_timeout_secs: Option<u64>,
}

/// The effective `[http]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Whether `inbound serve` starts the endpoint.
    pub enabled: bool,
    /// Where it listens.
    pub listen: SocketAddr,
    /// The checked transport settings ([`HttpConfig::validate`] passes).
    pub config: HttpConfig,
    /// `http.trust_forwarded_for` as written (for rendering).
    pub trust_forwarded_for: Vec<String>,
}

/// Resolves `[http]`: flags over variables over the file over [`HttpConfig::default`].
pub(super) fn resolve_http(
    section: HttpSection,
    file_origin: &str,
    env: &Overrides,
    cli: &Overrides,
) -> Result<HttpSettings, ConfigError> {
    let defaults = HttpConfig::default();
    let enabled = match pick_override(cli, env, |layer| layer.http_enabled.as_ref(), "--http", ENV_HTTP_ENABLED) {
        Some((value, origin)) => match value.as_str() {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err(ConfigError::invalid("http.enabled", &origin, format!("{value:?} is not true or false"))),
        },
        None => section.enabled.unwrap_or(false),
    };
    let listen = match pick_override(cli, env, |layer| layer.http_listen.as_ref(), "--http-listen", ENV_HTTP_LISTEN) {
        Some((value, origin)) => value.parse::<SocketAddr>().map_err(|e| {
            ConfigError::invalid("http.listen", &origin, format!("{value:?} is not an ip:port address: {e}"))
        })?,
        None => match section.listen {
            Some(listen) => listen,
            None => DEFAULT_HTTP_LISTEN
                .parse()
                .map_err(|_| ConfigError::invalid("http.listen", "defaults", "built-in default is not ip:port"))?,
        },
    };
    let trust_forwarded_for = section.trust_forwarded_for.unwrap_or_default();
    let mut trusted_proxies = Vec::with_capacity(trust_forwarded_for.len());
    for (index, text) in trust_forwarded_for.iter().enumerate() {
        let net = text.trim().parse::<IpNet>().map_err(|error| {
            ConfigError::invalid(&format!("http.trust_forwarded_for[{index}]"), file_origin, error.to_string())
        })?;
        trusted_proxies.push(net);
    }
    let body_timeout = match section.body_timeout_secs {
        Some(secs) => Duration::from_secs(secs),
        None => defaults.body_timeout,
    };
    let config = HttpConfig {
        path: section.path.unwrap_or(defaults.path),
        max_body_bytes: section.max_body_bytes.unwrap_or(defaults.max_body_bytes),
        rate_burst: section.rate_burst.unwrap_or(defaults.rate_burst),
        rate_per_second: section.rate_per_second.unwrap_or(defaults.rate_per_second),
        max_tracked_ips: section.max_tracked_ips.unwrap_or(defaults.max_tracked_ips),
        cors_allowed_origins: section.cors_origins.unwrap_or_default(),
        body_timeout,
        trusted_proxies,
        require_node_signature: section.require_node_signature.unwrap_or(false),
        max_connections: section.max_connections.unwrap_or(defaults.max_connections),
        max_connections_per_ip: section.max_connections_per_ip.unwrap_or(defaults.max_connections_per_ip),
        header_timeout: section.header_timeout_secs.map_or(defaults.header_timeout, Duration::from_secs),
        connection_timeout: section.connection_timeout_secs.map_or(defaults.connection_timeout, Duration::from_secs),
    };
    config.validate().map_err(|error| {
        let key = match &error {
            HttpConfigError::Path(_) | HttpConfigError::Reserved(_) => "http.path".to_string(),
            HttpConfigError::Zero(name @ ("body_timeout" | "header_timeout" | "connection_timeout")) => {
                format!("http.{name}_secs")
            }
            HttpConfigError::Zero(name) => format!("http.{name}"),
            HttpConfigError::Origin(origin) => {
                let index = config.cors_allowed_origins.iter().position(|o| o == origin).unwrap_or(0);
                format!("http.cors_origins[{index}]")
            }
        };
        ConfigError::invalid(&key, file_origin, error.to_string())
    })?;
    Ok(HttpSettings { enabled, listen, config, trust_forwarded_for })
}

/// The effective `[http]` table as file values, for `config-check`.
pub(super) fn http_section(settings: &HttpSettings) -> HttpSection {
    let config = &settings.config;
    HttpSection {
        enabled: Some(settings.enabled),
        listen: Some(settings.listen),
        path: Some(config.path.clone()),
        max_body_bytes: Some(config.max_body_bytes),
        rate_burst: Some(config.rate_burst),
        rate_per_second: Some(config.rate_per_second),
        max_tracked_ips: Some(config.max_tracked_ips),
        body_timeout_secs: Some(config.body_timeout.as_secs()),
        cors_origins: Some(config.cors_allowed_origins.clone()),
        trust_forwarded_for: Some(settings.trust_forwarded_for.clone()),
        require_node_signature: Some(config.require_node_signature),
        max_connections: Some(config.max_connections),
        max_connections_per_ip: Some(config.max_connections_per_ip),
        header_timeout_secs: Some(config.header_timeout.as_secs()),
        connection_timeout_secs: Some(config.connection_timeout.as_secs()),
    }
}
