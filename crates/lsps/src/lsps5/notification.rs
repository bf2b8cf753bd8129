//! The LSPS5 webhook notifications (bLIP-55, "Notifications").
//!
//! These travel only as the body of an HTTPS POST from the LSP to a webhook; they must never
//! be sent over the LSPS0 peer connection. The body is a JSON-RPC 2.0 notification,
//! `{"jsonrpc":"2.0","method":"…","params":{…}}`, with all three members and no `id`.
//!
//! | method                              | params                 | when                          |
//! |-------------------------------------|------------------------|-------------------------------|
//! | `lsps5.webhook_registered`          | `{}`                   | right after a changing `set_webhook`, to that webhook only |
//! | `lsps5.payment_incoming`            | `{}`                   | payments wait for the client  |
//! | `lsps5.expiry_soon`                 | `{"timeout": height}`  | a contract is within 24 blocks of forcing a close |
//! | `lsps5.liquidity_management_request`| `{}`                   | the LSP wants liquidity back  |
//! | `lsps5.onion_message_incoming`      | `{}`                   | onion messages wait           |
//!
//! Receivers ignore unknown params and unknown methods (the latter decode as
//! [`Notification::Unknown`]).

use serde_json::{Map, Value};
use thiserror::Error;

use crate::jsonrpc::{encode_notification, parse_object, FormatError, JSONRPC_VERSION};

/// The five notification methods bLIP-55 defines. The method names live here and nowhere
/// else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NotificationMethod {
    /// `lsps5.webhook_registered`.
    WebhookRegistered,
    /// `lsps5.payment_incoming`.
    PaymentIncoming,
    /// `lsps5.expiry_soon`.
    ExpirySoon,
    /// `lsps5.liquidity_management_request`.
    LiquidityManagementRequest,
    /// `lsps5.onion_message_incoming`.
    OnionMessageIncoming,
}

impl NotificationMethod {
    /// Every method, in spec order.
    pub const ALL: [NotificationMethod; 5] = [
        NotificationMethod::WebhookRegistered,
        NotificationMethod::PaymentIncoming,
        NotificationMethod::ExpirySoon,
        NotificationMethod::LiquidityManagementRequest,
        NotificationMethod::OnionMessageIncoming,
    ];

    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            NotificationMethod::WebhookRegistered => "lsps5.webhook_registered",
            NotificationMethod::PaymentIncoming => "lsps5.payment_incoming",
            NotificationMethod::ExpirySoon => "lsps5.expiry_soon",
            NotificationMethod::LiquidityManagementRequest => "lsps5.liquidity_management_request",
            NotificationMethod::OnionMessageIncoming => "lsps5.onion_message_incoming",
        }
    }

    /// The method with this wire name.
    pub fn from_name(name: &str) -> Option<NotificationMethod> {
        NotificationMethod::ALL.into_iter().find(|method| method.name() == name)
    }

    /// Whether the per-method cooldown applies. `webhook_registered` is exempt (bLIP-55,
    /// "the LSP MUST NOT send the same notification, other than `webhook_registered`, …").
    pub const fn has_cooldown(self) -> bool {
        !matches!(self, NotificationMethod::WebhookRegistered)
    }

    /// A small dense index, for per-method tables.
    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

/// One webhook notification.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Notification {
    /// This webhook was just registered or changed. Sent to that one webhook only.
    WebhookRegistered,
    /// One or more payments are waiting for the client.
    PaymentIncoming,
    /// A timelocked contract on a client channel is close to forcing a channel close.
    ExpirySoon {
        /// The block height at which the LSP would have to close the channel.
        timeout: u32,
    },
    /// The LSP wants to reclaim liquidity (close or splice out) or stop serving the client.
    LiquidityManagementRequest,
    /// Onion messages are waiting for the client.
    OnionMessageIncoming,
    /// A method this crate does not know, as a receiver decoded it. Receivers must ignore it
    /// rather than fail. An LSP should not build one: vendor methods must not use the
    /// `lsps5.` prefix, and this variant sends empty params.
    Unknown(String),
}

/// Why a body is not an LSPS5 notification.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum NotificationError {
    /// Not one JSON object (or too large, or containing NUL).
    #[error(transparent)]
    Format(#[from] FormatError),
    /// A JSON object, but not a JSON-RPC 2.0 notification with by-name params.
    #[error("not a JSON-RPC notification: {0}")]
    NotNotification(&'static str),
    /// A known method whose params lack, or mistype, a parameter it defines.
    #[error("params.{0} is missing or malformed")]
    BadParam(&'static str),
}

impl Notification {
    /// The method, or `None` for [`Notification::Unknown`].
    pub fn method(&self) -> Option<NotificationMethod> {
        Some(match self {
            Notification::WebhookRegistered => NotificationMethod::WebhookRegistered,
            Notification::PaymentIncoming => NotificationMethod::PaymentIncoming,
            Notification::ExpirySoon { .. } => NotificationMethod::ExpirySoon,
            Notification::LiquidityManagementRequest => NotificationMethod::LiquidityManagementRequest,
            Notification::OnionMessageIncoming => NotificationMethod::OnionMessageIncoming,
            Notification::Unknown(_) => return None,
        })
    }

    /// The wire method name.
    pub fn method_name(&self) -> &str {
        match self {
            Notification::Unknown(name) => name,
            // `method()` is `None` only for `Unknown`, so the fallback is never used.
            known => known.method().map_or("", NotificationMethod::name),
        }
    }

    /// The `params` object.
    pub fn params(&self) -> Value {
        match self {
            Notification::ExpirySoon { timeout } => serde_json::json!({ "timeout": timeout }),
            _ => Value::Object(Map::new()),
        }
    }

    /// The exact POST body: `{"jsonrpc":"2.0","method":"…","params":{…}}`, compact, in that
    /// member order. These bytes are what gets signed.
    pub fn body_bytes(&self) -> Vec<u8> {
        encode_notification(self.method_name(), &self.params())
    }

    /// Decodes a POST body. Unknown methods become [`Notification::Unknown`] and unknown
    /// params are ignored; members other than `jsonrpc`, `method` and `params` are ignored
    /// too, except `id`, which would make it a request.
    pub fn from_body(body: &[u8]) -> Result<Notification, NotificationError> {
        let object = parse_object(body)?;
        if object.get("jsonrpc").and_then(Value::as_str) != Some(JSONRPC_VERSION) {
            return Err(NotificationError::NotNotification("jsonrpc member is not \"2.0\""));
        }
        if object.contains_key("id") {
            return Err(NotificationError::NotNotification("a notification has no id"));
        }
        let Some(Value::String(method)) = object.get("method") else {
            return Err(NotificationError::NotNotification("method is missing or not a string"));
        };
        let Some(Value::Object(params)) = object.get("params") else {
            return Err(NotificationError::NotNotification("params is missing or not an object"));
        };
        Ok(match NotificationMethod::from_name(method) {
            Some(NotificationMethod::WebhookRegistered) => Notification::WebhookRegistered,
            Some(NotificationMethod::PaymentIncoming) => Notification::PaymentIncoming,
            Some(NotificationMethod::ExpirySoon) => Notification::ExpirySoon {
                timeout: params
                    .get("timeout")
                    .and_then(Value::as_u64)
                    .and_then(|timeout| u32::try_from(timeout).ok())
                    .ok_or(NotificationError::BadParam("timeout"))?,
            },
            Some(NotificationMethod::LiquidityManagementRequest) => Notification::LiquidityManagementRequest,
            Some(NotificationMethod::OnionMessageIncoming) => Notification::OnionMessageIncoming,
            None => Notification::Unknown(method.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_notification() -> Vec<Notification> {
        vec![
            Notification::WebhookRegistered,
            Notification::PaymentIncoming,
            Notification::ExpirySoon { timeout: 901_234 },
            Notification::LiquidityManagementRequest,
            Notification::OnionMessageIncoming,
        ]
    }

    #[test]
    fn names_are_unique_prefixed_and_round_trip() {
        for method in NotificationMethod::ALL {
            assert!(method.name().starts_with("lsps5."));
            assert_eq!(NotificationMethod::from_name(method.name()), Some(method));
            assert_eq!(NotificationMethod::ALL[method.index()], method);
        }
        assert_eq!(NotificationMethod::from_name("lsps5.goodbye"), None);
        assert!(!NotificationMethod::WebhookRegistered.has_cooldown());
        assert!(NotificationMethod::PaymentIncoming.has_cooldown());
    }

    #[test]
    fn bodies_are_exact_and_round_trip() {
        assert_eq!(
            Notification::PaymentIncoming.body_bytes(),
            br#"{"jsonrpc":"2.0","method":"lsps5.payment_incoming","params":{}}"#
        );
        assert_eq!(
            Notification::ExpirySoon { timeout: 901_234 }.body_bytes(),
            br#"{"jsonrpc":"2.0","method":"lsps5.expiry_soon","params":{"timeout":901234}}"#
        );
        for notification in every_notification() {
            assert_eq!(Notification::from_body(&notification.body_bytes()), Ok(notification.clone()));
            assert_eq!(notification.method().map(NotificationMethod::name), Some(notification.method_name()));
        }
    }

    #[test]
    fn receivers_are_lenient_where_the_spec_says_so() {
        let extra = br#" {"params":{"timeout":7,"colour":"blue"},"method":"lsps5.expiry_soon","jsonrpc":"2.0","x":1} "#;
        assert_eq!(Notification::from_body(extra), Ok(Notification::ExpirySoon { timeout: 7 }));
        let extra = br#"{"jsonrpc":"2.0","method":"lsps5.payment_incoming","params":{"amount_msat":"1"}}"#;
        assert_eq!(Notification::from_body(extra), Ok(Notification::PaymentIncoming));
        let unknown = br#"{"jsonrpc":"2.0","method":"lsps5.goodbye","params":{}}"#;
        assert_eq!(Notification::from_body(unknown), Ok(Notification::Unknown("lsps5.goodbye".into())));
        assert_eq!(
            Notification::Unknown("vendor.ping".into()).body_bytes(),
            br#"{"jsonrpc":"2.0","method":"vendor.ping","params":{}}"#
        );
    }

    #[test]
    fn malformed_bodies_are_errors() {
        for bad in [
            &b"{"[..],
            b"[]",
            b"",
            br#"{"jsonrpc":"2.0","method":"lsps5.payment_incoming","params":{}}\0"#,
            br#"{"method":"lsps5.payment_incoming","params":{}}"#,
            br#"{"jsonrpc":"1.0","method":"lsps5.payment_incoming","params":{}}"#,
            br#"{"jsonrpc":"2.0","id":"a","method":"lsps5.payment_incoming","params":{}}"#,
            br#"{"jsonrpc":"2.0","method":5,"params":{}}"#,
            br#"{"jsonrpc":"2.0","method":"lsps5.payment_incoming"}"#,
            br#"{"jsonrpc":"2.0","method":"lsps5.payment_incoming","params":[]}"#,
        ] {
            assert!(
                matches!(
                    Notification::from_body(bad),
                    Err(NotificationError::Format(_) | NotificationError::NotNotification(_))
                ),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        for bad_timeout in
            [r#"{}"#, r#"{"timeout":"5"}"#, r#"{"timeout":-1}"#, r#"{"timeout":4294967296}"#, r#"{"timeout":1.5}"#]
        {
            let body = format!(r#"{{"jsonrpc":"2.0","method":"lsps5.expiry_soon","params":{bad_timeout}}}"#);
            assert_eq!(
                Notification::from_body(body.as_bytes()),
                Err(NotificationError::BadParam("timeout")),
                "{bad_timeout}"
            );
        }
    }
}
