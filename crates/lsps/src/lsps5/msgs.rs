//! LSPS5 wire types (bLIP-55): `set_webhook`, `list_webhooks`, `remove_webhook`.

use serde::{Deserialize, Serialize};

use crate::params::Params;

/// `lsps5.set_webhook` params. Lengths and the URL are checked by the service, which
/// answers with the LSPS5 codes (500/501/502) rather than -32602.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetWebhookRequest {
    /// Human-readable app name, at most 64 bytes as sent.
    pub app_name: String,
    /// An `https` URL, at most 1024 ASCII characters.
    pub webhook: String,
}

impl Params for SetWebhookRequest {
    const FIELDS: &'static [&'static str] = &["app_name", "webhook"];
}

/// `lsps5.set_webhook` result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetWebhookResponse {
    /// Webhooks registered for this client, this one included.
    pub num_webhooks: u32,
    /// The most this client may register.
    pub max_webhooks: u32,
    /// Whether this exact (app_name, webhook) pair was already stored.
    pub no_change: bool,
}

/// `lsps5.list_webhooks` params: none.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListWebhooksRequest {}

impl Params for ListWebhooksRequest {
    const FIELDS: &'static [&'static str] = &[];
}

/// `lsps5.list_webhooks` result: names only, never URLs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListWebhooksResponse {
    /// The registered app names.
    pub app_names: Vec<String>,
    /// The most this client may register.
    pub max_webhooks: u32,
}

/// `lsps5.remove_webhook` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveWebhookRequest {
    /// The app whose webhook to forget.
    pub app_name: String,
}

impl Params for RemoveWebhookRequest {
    const FIELDS: &'static [&'static str] = &["app_name"];
}

/// `lsps5.remove_webhook` result: an empty object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveWebhookResponse {}
