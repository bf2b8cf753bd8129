//! Configuration of the LSPS0 server and its defaults.
//!
//! | field | default | meaning |
//! |---|---|---|
//! | `enabled_protocols` | none (LSPS0 only) | protocols beyond LSPS0 the LSP serves, once a [`ProtocolHandler`](crate::ProtocolHandler) is registered for them |
//! | `max_pending_per_peer` | [`DEFAULT_MAX_PENDING_PER_PEER`] | in-flight requests one peer may have |
//! | `max_pending_total` | [`DEFAULT_MAX_PENDING_TOTAL`] | in-flight requests over all peers |
//! | `compat` | [`Compat::Spec`] | which clients the answers are shaped for; with [`Compat::Ldk`], `error.data` is a string ([`ErrorData`]) |
//!
//! LSPS0 sets no numeric limit on pending requests (bLIP-50; `docs/spec/lsps-digest.md`
//! §2.10). The defaults are lightning-liquidity's, which the digest recommends copying.

use lsps::jsonrpc::{codes, RpcError};
use lsps::method::Protocol;
use serde_json::Value;

use crate::compat::Compat;

/// Default cap on one peer's in-flight requests (requests handed to a
/// [`ProtocolHandler`](crate::ProtocolHandler) and not yet answered). An honest wallet has one or
/// two in flight; lightning-liquidity also allows 10 pending LSPS1/LSPS2 requests per peer.
pub const DEFAULT_MAX_PENDING_PER_PEER: usize = 10;

/// Default cap on in-flight requests over all peers, as lightning-liquidity's total LSPS2 cap.
/// It bounds the memory and tasks a crowd of peers can make the LSP hold at once.
pub const DEFAULT_MAX_PENDING_TOTAL: usize = 1000;

/// The JSON-RPC error code answering a request over a pending cap: the first code of the
/// implementation-defined server range (-32000 to -32099).
///
/// JSON-RPC clients that do not know a code in that range treat it as -32603, a temporary
/// server failure (bLIP-50, "Error codes"; digest §2.5), which is exactly right here: the request
/// was not processed and may be retried once earlier ones have been answered.
pub const TOO_MANY_PENDING_CODE: i32 = -32000;

/// The message sent with [`TOO_MANY_PENDING_CODE`].
pub const TOO_MANY_PENDING_MESSAGE: &str = "too many pending requests";

/// How `error.data` is sent (digest §2.5, "Interop trap"); [`Compat::error_data`] picks it.
///
/// lightning-liquidity (LDK, 0.2.7 and current main) models `error.data` as `Option<String>`: an
/// LDK client fails to parse an error whose `data` is an object, such as the spec's code 1
/// `{"message": …}`, answers -32700 and ignores the LSP until it reconnects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ErrorData {
    /// As the specs define it: objects (`{"message": …}`, `{"property": …}`, …).
    #[default]
    Spec,
    /// For LSPs serving LDK wallets: `data` is sent as a JSON string: the `message` of an object
    /// that has one, otherwise the object's compact JSON text. Except for -32602, whose
    /// `data.unrecognized` LSPS0 requires ("must carry"): that one stays an object. A correct
    /// LDK client never sends unknown parameters, and a -32602 it cannot parse is no worse
    /// than one it could parse but not act on.
    LdkCompat,
}

impl ErrorData {
    /// `error` as this style sends it.
    pub fn shape(self, error: &RpcError) -> RpcError {
        let mut shaped = error.clone();
        if self == ErrorData::LdkCompat && error.code != codes::INVALID_PARAMS {
            shaped.data = error.data.as_ref().map(|data| match data {
                Value::String(text) => Value::String(text.clone()),
                Value::Object(object) => match object.get("message") {
                    Some(Value::String(message)) => Value::String(message.clone()),
                    _ => Value::String(data.to_string()),
                },
                other => Value::String(other.to_string()),
            });
        }
        shaped
    }
}

/// How the [`LspsServer`](crate::LspsServer) behaves. See the module documentation for defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LspsServerConfig {
    /// Protocols served besides LSPS0 (always on; listing it here changes nothing). A protocol
    /// is served, and listed by `lsps0.list_protocols`, only when it is enabled here *and* a
    /// [`ProtocolHandler`](crate::ProtocolHandler) is registered for it; otherwise its methods
    /// are answered with -32601 like unknown ones.
    pub enabled_protocols: Vec<Protocol>,
    /// Cap on one peer's in-flight requests; a request over it is answered at once with
    /// [`TOO_MANY_PENDING_CODE`] and not processed. `0` refuses every handled request.
    pub max_pending_per_peer: usize,
    /// Cap on in-flight requests over all peers, enforced like `max_pending_per_peer`.
    pub max_pending_total: usize,
    /// The clients answers are shaped for; the server takes the shape of `error.data` from it
    /// ([`Compat::error_data`]), and [`LspBuilder`](crate::LspBuilder) gives it to LSPS1.
    pub compat: Compat,
}

impl Default for LspsServerConfig {
    fn default() -> Self {
        LspsServerConfig {
            enabled_protocols: Vec::new(),
            max_pending_per_peer: DEFAULT_MAX_PENDING_PER_PEER,
            max_pending_total: DEFAULT_MAX_PENDING_TOTAL,
            compat: Compat::Spec,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_named_consts() {
        let config = LspsServerConfig::default();
        assert!(config.enabled_protocols.is_empty());
        assert_eq!(config.max_pending_per_peer, DEFAULT_MAX_PENDING_PER_PEER);
        assert_eq!(config.max_pending_total, DEFAULT_MAX_PENDING_TOTAL);
        assert!((-32099..=-32000).contains(&TOO_MANY_PENDING_CODE));
        assert_eq!(config.compat, Compat::Spec);
        assert_eq!(config.compat.error_data(), ErrorData::Spec);
        assert_eq!(Compat::Ldk.error_data(), ErrorData::LdkCompat);
    }

    #[test]
    fn ldk_compat_sends_data_as_a_string_except_for_invalid_params() {
        let rejected = RpcError::client_rejected("over the cap");
        assert_eq!(ErrorData::Spec.shape(&rejected), rejected);
        let compat = ErrorData::LdkCompat.shape(&rejected);
        assert_eq!((compat.code, compat.message.as_str()), (rejected.code, rejected.message.as_str()));
        assert_eq!(compat.data, Some(Value::String("over the cap".into())));

        let structured = RpcError::with_data(100, "Option mismatch", serde_json::json!({ "property": "x" }));
        assert_eq!(ErrorData::LdkCompat.shape(&structured).data, Some(Value::String(r#"{"property":"x"}"#.into())));

        let invalid = RpcError::unrecognized_params(vec!["extra".into()]);
        assert_eq!(ErrorData::LdkCompat.shape(&invalid), invalid);
        let bare = RpcError::method_not_found();
        assert_eq!(ErrorData::LdkCompat.shape(&bare), bare);
    }
}
