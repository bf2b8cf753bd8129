//! `[lnurl]`: where wallets reach the LSP for LNURL-channel (vouchers). Both keys have no
//! default; with both set (and `[http]` and LSPS1 enabled), `/lnurlc/…` is served and
//! `inbound admin voucher create` can issue vouchers whose LNURLs point there.

use inbound_service::vouchers::LnurlConfig;
use lsps::lnurl::NodeUri;
use lsps::schema::NodeId;
use serde::{Deserialize, Serialize};
use url::Url;

use super::ConfigError;

/// `[lnurl]` as written in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LnurlSection {
    /// `lnurl.public_url`: the public base URL of the HTTP front end (`https://…`, usually the
    /// TLS proxy in front of `http.listen`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// `lnurl.node_address`: `host:port` where wallets connect to the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_address: Option<String>,
}

/// The effective `[lnurl]` table: both keys, or neither.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LnurlSettings {
    /// The public base URL.
    pub public_url: Option<Url>,
    /// The node's public `host:port`.
    pub node_address: Option<String>,
}

impl LnurlSettings {
    /// The LNURL endpoint of the node `node_id`, when both keys are set.
    pub fn endpoint(&self, node_id: NodeId) -> Option<LnurlConfig> {
        let (public_url, address) = (self.public_url.clone()?, self.node_address.clone()?);
        Some(LnurlConfig { public_url, node_uri: NodeUri { node_id, address } })
    }

    /// The section as written back by `config-check`.
    pub(super) fn section(&self) -> LnurlSection {
        LnurlSection {
            public_url: self.public_url.as_ref().map(Url::to_string),
            node_address: self.node_address.clone(),
        }
    }
}

/// Checks `[lnurl]`: an `http(s)` URL with a host and no query, a `host:port`, both or neither.
pub(super) fn resolve_lnurl(section: LnurlSection, file_origin: &str) -> Result<LnurlSettings, ConfigError> {
    let public_url = match section.public_url {
        None => None,
        Some(text) => {
            let url = Url::parse(&text)
                .map_err(|error| ConfigError::invalid("lnurl.public_url", file_origin, format!("{text:?}: {error}")))?;
            if !matches!(url.scheme(), "https" | "http") || url.host().is_none() || url.query().is_some() {
                let why = "must be an https:// (or http:// for tests) URL with a host and no query";
                return Err(ConfigError::invalid("lnurl.public_url", file_origin, why));
            }
            Some(url)
        }
    };
    let node_address = match section.node_address {
        None => None,
        Some(address) => {
            // The same rule as the channel request's `uri` that wallets read.
            if lsps::lnurl::check_address(&address).is_err() {
                return Err(ConfigError::invalid(
                    "lnurl.node_address",
                    file_origin,
                    format!("{address:?} is not host:port"),
                ));
            }
            Some(address)
        }
    };
    if public_url.is_some() != node_address.is_some() {
        let why = "set both lnurl.public_url and lnurl.node_address, or neither";
        return Err(ConfigError::invalid("lnurl.public_url", file_origin, why));
    }
    Ok(LnurlSettings { public_url, node_address })
}
