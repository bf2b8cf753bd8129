//! LSPS5 error codes (bLIP-55, `lsps5.set_webhook` and `lsps5.remove_webhook` errors).
//!
//! | code | name                   | `data`                      | returned by      |
//! |------|------------------------|-----------------------------|------------------|
//! | 500  | `too_long`             | none                        | `set_webhook`    |
//! | 501  | `url_parse_error`      | none                        | `set_webhook`    |
//! | 502  | `unsupported_protocol` | none                        | `set_webhook`    |
//! | 503  | `too_many_webhooks`    | `{"max_webhooks": uint}` (required) | `set_webhook` |
//! | 1010 | `app_name_not_found`   | none                        | `remove_webhook` |
//!
//! 1010 lies outside LSPS5's 500–599 block; it is nevertheless the normative value, and LDK
//! uses it too. The message texts are the spec's names, which is also what LDK sends.

use serde_json::Value;
use thiserror::Error;

use crate::jsonrpc::RpcError;

/// The LSPS5 error codes.
pub mod codes {
    /// `app_name` or `webhook` is longer than its limit.
    pub const TOO_LONG: i32 = 500;
    /// `webhook` is not a valid URL.
    pub const URL_PARSE_ERROR: i32 = 501;
    /// `webhook` uses a scheme other than `https`.
    pub const UNSUPPORTED_PROTOCOL: i32 = 502;
    /// The client already has the maximum number of webhooks.
    pub const TOO_MANY_WEBHOOKS: i32 = 503;
    /// `remove_webhook` named an app that has no webhook.
    pub const APP_NAME_NOT_FOUND: i32 = 1010;
}

/// An LSPS5 error, as the LSP sends it and as the client reads it back.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum Lsps5Error {
    /// 500: `app_name` is over 64 bytes as sent, or `webhook` over 1024 characters.
    #[error("app_name or webhook is too long")]
    TooLong,
    /// 501: `webhook` is not a valid absolute `https://host/…` URL.
    #[error("webhook is not a valid URL")]
    UrlParseError,
    /// 502: `webhook` is a URL, but not `https`.
    #[error("webhook scheme is not https")]
    UnsupportedProtocol,
    /// 503: registering one more app name would exceed the limit.
    #[error("too many webhooks (max {max_webhooks:?})")]
    TooManyWebhooks {
        /// The limit. Always `Some` when we send it (the spec requires `data.max_webhooks`);
        /// `None` when an LSP omitted it, as LDK does.
        max_webhooks: Option<u32>,
    },
    /// 1010: `remove_webhook` named an app with no webhook.
    #[error("app_name not found")]
    AppNameNotFound,
}

impl Lsps5Error {
    /// The 503 answer for an LSP whose limit is `max_webhooks`.
    pub fn too_many_webhooks(max_webhooks: u32) -> Lsps5Error {
        Lsps5Error::TooManyWebhooks { max_webhooks: Some(max_webhooks) }
    }

    /// The JSON-RPC error code.
    pub fn code(&self) -> i32 {
        match self {
            Lsps5Error::TooLong => codes::TOO_LONG,
            Lsps5Error::UrlParseError => codes::URL_PARSE_ERROR,
            Lsps5Error::UnsupportedProtocol => codes::UNSUPPORTED_PROTOCOL,
            Lsps5Error::TooManyWebhooks { .. } => codes::TOO_MANY_WEBHOOKS,
            Lsps5Error::AppNameNotFound => codes::APP_NAME_NOT_FOUND,
        }
    }

    /// The spec's name for the code, used as the error `message`.
    pub fn name(&self) -> &'static str {
        match self {
            Lsps5Error::TooLong => "too_long",
            Lsps5Error::UrlParseError => "url_parse_error",
            Lsps5Error::UnsupportedProtocol => "unsupported_protocol",
            Lsps5Error::TooManyWebhooks { .. } => "too_many_webhooks",
            Lsps5Error::AppNameNotFound => "app_name_not_found",
        }
    }

    /// The error object to send. Only 503 carries `data`; the others define none.
    ///
    /// A 503 built without a limit (only possible by decoding an LDK answer) is sent without
    /// `data`, which is what LDK itself does.
    pub fn to_rpc_error(&self) -> RpcError {
        match self {
            Lsps5Error::TooManyWebhooks { max_webhooks: Some(max_webhooks) } => {
                RpcError::with_data(self.code(), self.name(), serde_json::json!({ "max_webhooks": max_webhooks }))
            }
            _ => RpcError::new(self.code(), self.name()),
        }
    }

    /// Reads an error received from an LSP. `None` if the code is not an LSPS5 code (the
    /// caller then treats it as a generic error, as LSPS0 says).
    ///
    /// The message text is ignored. A 503 whose `data` is missing, a string (LDK), or lacks
    /// a valid `max_webhooks` still decodes, with `max_webhooks: None`.
    pub fn from_rpc_error(error: &RpcError) -> Option<Lsps5Error> {
        Some(match error.code {
            codes::TOO_LONG => Lsps5Error::TooLong,
            codes::URL_PARSE_ERROR => Lsps5Error::UrlParseError,
            codes::UNSUPPORTED_PROTOCOL => Lsps5Error::UnsupportedProtocol,
            codes::TOO_MANY_WEBHOOKS => Lsps5Error::TooManyWebhooks {
                max_webhooks: error
                    .data
                    .as_ref()
                    .and_then(|data| data.get("max_webhooks"))
                    .and_then(Value::as_u64)
                    .and_then(|max| u32::try_from(max).ok()),
            },
            codes::APP_NAME_NOT_FOUND => Lsps5Error::AppNameNotFound,
            _ => return None,
        })
    }
}

impl From<Lsps5Error> for RpcError {
    fn from(error: Lsps5Error) -> RpcError {
        error.to_rpc_error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Lsps5Error; 5] = [
        Lsps5Error::TooLong,
        Lsps5Error::UrlParseError,
        Lsps5Error::UnsupportedProtocol,
        Lsps5Error::TooManyWebhooks { max_webhooks: Some(4) },
        Lsps5Error::AppNameNotFound,
    ];

    #[test]
    fn every_error_round_trips() {
        for error in ALL {
            let rpc = error.to_rpc_error();
            assert_eq!(rpc.message, error.name());
            assert_eq!(Lsps5Error::from_rpc_error(&rpc), Some(error));
            assert_eq!(RpcError::from(error), rpc);
        }
    }

    #[test]
    fn only_503_carries_data() {
        for error in ALL {
            assert_eq!(error.to_rpc_error().data.is_some(), error.code() == codes::TOO_MANY_WEBHOOKS, "{error:?}");
        }
        let rpc = Lsps5Error::too_many_webhooks(10).to_rpc_error();
        assert_eq!(
            serde_json::to_string(&rpc).unwrap(),
            r#"{"code":503,"message":"too_many_webhooks","data":{"max_webhooks":10}}"#
        );
    }

    #[test]
    fn ldk_style_503_is_tolerated() {
        let bare = RpcError::new(503, "whatever LDK says");
        assert_eq!(Lsps5Error::from_rpc_error(&bare), Some(Lsps5Error::TooManyWebhooks { max_webhooks: None }));
        let string_data = RpcError::with_data(503, "x", Value::String("max 10".into()));
        assert_eq!(Lsps5Error::from_rpc_error(&string_data), Some(Lsps5Error::TooManyWebhooks { max_webhooks: None }));
        let huge = RpcError::with_data(503, "x", serde_json::json!({"max_webhooks": u64::MAX}));
        assert_eq!(Lsps5Error::from_rpc_error(&huge), Some(Lsps5Error::TooManyWebhooks { max_webhooks: None }));
        // An omitted limit is re-sent without data rather than with a made-up one.
        assert_eq!(Lsps5Error::TooManyWebhooks { max_webhooks: None }.to_rpc_error().data, None);
    }

    #[test]
    fn foreign_codes_are_not_lsps5() {
        for code in [-32602, 1, 100, 504, 1000, 1002, 1003] {
            assert_eq!(Lsps5Error::from_rpc_error(&RpcError::new(code, "x")), None, "{code}");
        }
    }
}
