//! `[admin]`: where the admin API listens and which key it takes.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The admin API's default address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9781";

/// The most chain blocks the node may lag behind its chain backend and still be ready.
pub const DEFAULT_MAX_CHAIN_LAG_BLOCKS: u32 = 2;

/// The `[admin]` table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Serve the admin API (default on).
    pub enabled: bool,
    /// Where it listens (default [`DEFAULT_LISTEN`]).
    pub listen: SocketAddr,
    /// The key file (default `admin.key` in the data directory), created at first start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// Bind an address other than loopback. The API speaks plain HTTP, so the key would cross
    /// the network in clear: only behind a TLS-terminating proxy or on a private network.
    pub allow_remote: bool,
    /// `/readyz` fails when the node is more than this many blocks behind its chain backend.
    pub max_chain_lag_blocks: u32,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            enabled: true,
            // The constant is a valid address; `parse` cannot fail on it.
            listen: DEFAULT_LISTEN.parse().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 9781))),
            key_file: None,
            allow_remote: false,
            max_chain_lag_blocks: DEFAULT_MAX_CHAIN_LAG_BLOCKS,
        }
    }
}

/// A configuration the admin API refuses.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AdminConfigError {
    /// A non-loopback address without `allow_remote`.
    #[error(
        "admin.listen = {0} is not a loopback address; the admin API speaks plain HTTP, so set admin.allow_remote = true only behind a TLS-terminating proxy or on a private network"
    )]
    Remote(SocketAddr),
}

impl AdminConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`AdminConfigError::Remote`] for a non-loopback `listen` without `allow_remote`.
    pub fn validate(&self) -> Result<(), AdminConfigError> {
        if !self.listen.ip().is_loopback() && !self.allow_remote {
            return Err(AdminConfigError::Remote(self.listen));
        }
        Ok(())
    }

    /// The key file: `key_file`, or [`DEFAULT_KEY_FILE`](crate::DEFAULT_KEY_FILE) in `data_dir`.
    pub fn key_path(&self, data_dir: &std::path::Path) -> PathBuf {
        self.key_file.clone().unwrap_or_else(|| data_dir.join(crate::DEFAULT_KEY_FILE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_is_allowed_without_the_override() {
        assert_eq!(AdminConfig::default().validate(), Ok(()));
        let ipv6 = AdminConfig { listen: "[::1]:9781".parse().expect("address"), ..AdminConfig::default() };
        assert_eq!(ipv6.validate(), Ok(()));
        let remote = AdminConfig { listen: "0.0.0.0:9781".parse().expect("address"), ..AdminConfig::default() };
        assert!(matches!(remote.validate(), Err(AdminConfigError::Remote(_))));
        let allowed = AdminConfig { allow_remote: true, ..remote };
        assert_eq!(allowed.validate(), Ok(()));
    }
}
