//! `[web]`: the web widget on the HTTP front end (`inbound_http::web`).

use inbound_http::web::WebConfig;
use serde::{Deserialize, Serialize};

use super::ConfigError;

/// `[web]` as written in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSection {
    /// `web.enabled`: serve the widget (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// `web.frame_ancestors`: sites (`https://shop.example`) that may frame `/embed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_ancestors: Option<Vec<String>>,
}

/// The effective `[web]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebSettings {
    /// Whether `inbound serve` serves the widget.
    pub enabled: bool,
    /// Its settings.
    pub config: WebConfig,
}

impl WebSettings {
    /// The section as written back by `config-check`.
    pub(super) fn section(&self) -> WebSection {
        WebSection { enabled: Some(self.enabled), frame_ancestors: Some(self.config.frame_ancestors.clone()) }
    }
}

/// Checks `[web]`: each frame ancestor an `http(s)://host[:port]` origin (no path, no `*`, no
/// spaces or `;`, which would change the Content-Security-Policy).
pub(super) fn resolve_web(section: WebSection, file_origin: &str) -> Result<WebSettings, ConfigError> {
    let frame_ancestors = section.frame_ancestors.unwrap_or_default();
    for (index, origin) in frame_ancestors.iter().enumerate() {
        let parsed = url::Url::parse(origin).ok();
        let valid = parsed.as_ref().is_some_and(|url| {
            matches!(url.scheme(), "https" | "http")
                && url.host().is_some()
                && url.path() == "/"
                && url.query().is_none()
        }) && !origin.ends_with('/')
            && !origin.contains(['*', ';', ' ', '\'', '"', ','])
            && origin.is_ascii();
        if !valid {
            let key = format!("web.frame_ancestors[{index}]");
            return Err(ConfigError::invalid(
                &key,
                file_origin,
                format!("{origin:?} is not an origin (https://host[:port])"),
            ));
        }
    }
    Ok(WebSettings { enabled: section.enabled.unwrap_or(false), config: WebConfig { frame_ancestors } })
}
