//! [`HttpConfig`]: where the endpoint lives and its limits.

use std::time::Duration;

use crate::forwarded::IpNet;

/// The default endpoint path.
pub const DEFAULT_PATH: &str = "/lsps";

/// The default cap on client IPs (or IPv6 /64s) with a rate-limit bucket.
pub const DEFAULT_MAX_TRACKED_IPS: usize = 10_000;

/// Default [`HttpConfig::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// Default [`HttpConfig::max_connections_per_ip`].
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 32;

/// The HTTP transport's settings. [`Default`] is safe for a public endpoint without CORS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpConfig {
    /// The path of the one POST endpoint. Starts with `/`; no `{`, `}` or `*`.
    pub path: String,
    /// The largest accepted body; default 65,533 bytes, the most one BOLT8 message carries, so
    /// HTTP accepts nothing a peer message could not. Larger bodies get 413.
    pub max_body_bytes: usize,
    /// Token-bucket size per client IP: how many requests may arrive at once.
    pub rate_burst: u32,
    /// Tokens refilled per second per client IP: the sustained request rate.
    pub rate_per_second: u32,
    /// How many client IPs may hold a bucket. Full buckets are dropped first when the map is
    /// full; if none is full, requests from new IPs get 429 until some refill.
    pub max_tracked_ips: usize,
    /// Origins (e.g. `https://wallet.example`) that browsers may call the endpoint from. Empty
    /// (the default): no CORS headers, so cross-origin browser calls are refused.
    pub cors_allowed_origins: Vec<String>,
    /// How long a client may take to send its body (408 beyond), so slow senders cannot hold
    /// connections and buffers.
    pub body_timeout: Duration,
    /// Reverse proxies whose `X-Forwarded-For` is believed for the per-IP rate limit (see
    /// [`client_ip`](crate::client_ip)). Empty (the default): the TCP peer is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// Whether methods bound to the client need proof of the node id
    /// ([`lsps::node_proof`]). A proof that is present is always checked.
    pub require_node_signature: bool,
    /// Open connections at once; more are closed at accept. Keeps descriptors for the node and
    /// the store whatever the HTTP clients do.
    pub max_connections: usize,
    /// Open connections from one IP (trusted proxies excepted).
    pub max_connections_per_ip: usize,
    /// How long a client may take to send a request's head (and to start the next one on a
    /// kept-alive connection).
    pub header_timeout: Duration,
    /// How long one connection may live.
    pub connection_timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            path: DEFAULT_PATH.to_owned(),
            max_body_bytes: lsps::framing::MAX_PAYLOAD_BYTES,
            rate_burst: 20,
            rate_per_second: 5,
            max_tracked_ips: DEFAULT_MAX_TRACKED_IPS,
            cors_allowed_origins: Vec::new(),
            body_timeout: Duration::from_secs(10),
            trusted_proxies: Vec::new(),
            require_node_signature: false,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
            header_timeout: Duration::from_secs(10),
            connection_timeout: Duration::from_secs(300),
        }
    }
}

/// A setting [`HttpState::new`](crate::HttpState::new) refuses.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HttpConfigError {
    /// The path does not start with `/` or holds route syntax.
    #[error("http path {0:?} must start with '/' and contain no '{{', '}}' or '*'")]
    Path(String),
    /// A limit is zero.
    #[error("http setting {0} must be greater than zero")]
    Zero(&'static str),
    /// The path is one the LNURL routes or the web widget use.
    #[error("http path {0:?} is taken by the web widget or LNURL routes (/, /order, /embed, /widget, /lnurlc)")]
    Reserved(String),
    /// An origin is not a valid header value, or is `*` (use explicit origins).
    #[error("CORS origin {0:?} is not a valid origin (scheme://host[:port], no '*')")]
    Origin(String),
}

impl HttpConfig {
    /// Checks every setting.
    pub fn validate(&self) -> Result<(), HttpConfigError> {
        if !self.path.starts_with('/') || self.path.contains(['{', '}', '*']) {
            return Err(HttpConfigError::Path(self.path.clone()));
        }
        let taken = ["/order", "/embed", "/widget", "/lnurlc"];
        if self.path == "/"
            || taken.iter().any(|prefix| self.path == *prefix || self.path.starts_with(&format!("{prefix}/")))
        {
            return Err(HttpConfigError::Reserved(self.path.clone()));
        }
        for (name, value) in [
            ("max_body_bytes", self.max_body_bytes),
            ("rate_burst", self.rate_burst as usize),
            ("rate_per_second", self.rate_per_second as usize),
            ("max_tracked_ips", self.max_tracked_ips),
            ("body_timeout", self.body_timeout.as_millis() as usize),
            ("max_connections", self.max_connections),
            ("max_connections_per_ip", self.max_connections_per_ip),
            ("header_timeout", self.header_timeout.as_millis() as usize),
            ("connection_timeout", self.connection_timeout.as_millis() as usize),
        ] {
            if value == 0 {
                return Err(HttpConfigError::Zero(name));
            }
        }
        for origin in &self.cors_allowed_origins {
            let valid = origin.contains("://")
                && !origin.contains('*')
                && !origin.ends_with('/')
                && axum::http::HeaderValue::from_str(origin).is_ok();
            if !valid {
                return Err(HttpConfigError::Origin(origin.clone()));
            }
        }
        Ok(())
    }
}
