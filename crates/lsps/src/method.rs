//! The method registry: the one place that lists every LSPS method Inbound speaks, its
//! protocol, its parameter type and its result type.
//!
//! Dispatch ([`Request::decode`]), client-side result decoding ([`Response::decode`]) and
//! `lsps0.list_protocols` ([`Protocol`]) are all generated from the table in this file, so a
//! method name appears exactly once in the code base.

use serde_json::{Map, Value};
use thiserror::Error;

use crate::jsonrpc::RpcError;
use crate::params::{decode_params, encode_params};
use crate::{hold, lsps0, lsps1, lsps2, lsps5};

/// An LSPS protocol, numbered as in `lsps0.list_protocols`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// LSPS0 (bLIP-50): transport and discovery. Always on, never listed.
    Lsps0,
    /// LSPS1 (bLIP-51): channel orders.
    Lsps1,
    /// LSPS2 (bLIP-52): just-in-time channels.
    Lsps2,
    /// LSPS5 (bLIP-55): webhooks.
    Lsps5,
}

impl Protocol {
    /// Every protocol Inbound implements.
    pub const ALL: [Protocol; 4] = [Protocol::Lsps0, Protocol::Lsps1, Protocol::Lsps2, Protocol::Lsps5];

    /// The protocol number (`N` in `LSPSN`).
    pub const fn number(self) -> u16 {
        match self {
            Protocol::Lsps0 => 0,
            Protocol::Lsps1 => 1,
            Protocol::Lsps2 => 2,
            Protocol::Lsps5 => 5,
        }
    }

    /// The protocol with this number, if Inbound implements it.
    pub fn from_number(number: u16) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|protocol| protocol.number() == number)
    }
}

/// Why a result could not be decoded into the method's result type (client side).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ResultError {
    /// The result does not have the shape the spec defines. Unknown keys are ignored, except
    /// inside LSPS2 `opening_fee_params`, where the spec says to abort.
    #[error("malformed {method} result at {property}: {message}")]
    Malformed {
        /// The method whose result it was.
        method: &'static str,
        /// Dotted path to the offending field.
        property: String,
        /// What was wrong.
        message: String,
    },
}

macro_rules! registry {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, $protocol:ident, $params:ty, $result:ty; )*) => {
        /// An LSPS method.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Method {
            $( $(#[$doc])* $variant, )*
        }

        impl Method {
            /// Every method, in registry order.
            pub const ALL: &'static [Method] = &[$(Method::$variant),*];

            /// The wire name, e.g. `lsps2.buy`.
            pub const fn name(self) -> &'static str {
                match self { $( Method::$variant => $name, )* }
            }

            /// The method with this wire name.
            pub fn from_name(name: &str) -> Option<Method> {
                match name { $( $name => Some(Method::$variant), )* _ => None }
            }

            /// The protocol the method belongs to.
            pub const fn protocol(self) -> Protocol {
                match self { $( Method::$variant => Protocol::$protocol, )* }
            }
        }

        /// A decoded request: the method and its typed parameters.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Request {
            $( $(#[$doc])* $variant($params), )*
        }

        impl Request {
            /// The method this request calls.
            pub fn method(&self) -> Method {
                match self { $( Request::$variant(_) => Method::$variant, )* }
            }

            /// Decodes by-name params for `method` (see [`decode_params`] for the errors).
            pub fn decode(method: Method, params: Map<String, Value>) -> Result<Request, RpcError> {
                match method { $( Method::$variant => decode_params::<$params>(params).map(Request::$variant), )* }
            }

            /// The by-name params object to put on the wire.
            pub fn params(&self) -> Value {
                match self { $( Request::$variant(params) => encode_params(params), )* }
            }
        }

        /// A decoded result: the method and its typed result.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Response {
            $( $(#[$doc])* $variant($result), )*
        }

        impl Response {
            /// The method this result answers.
            pub fn method(&self) -> Method {
                match self { $( Response::$variant(_) => Method::$variant, )* }
            }

            /// Decodes the `result` of a call to `method`. Unknown keys are ignored.
            pub fn decode(method: Method, result: Value) -> Result<Response, ResultError> {
                match method {
                    $( Method::$variant => decode_result::<$result>(method, result).map(Response::$variant), )*
                }
            }

            /// The result object to put on the wire.
            pub fn to_value(&self) -> Value {
                match self { $( Response::$variant(result) => to_object(result), )* }
            }
        }
    };
}

registry! {
    /// `lsps0.list_protocols`: which LSPS the LSP serves.
    Lsps0ListProtocols => "lsps0.list_protocols", Lsps0, lsps0::ListProtocolsRequest, lsps0::ListProtocolsResponse;
    /// `lsps1.get_info`: what channels the LSP sells.
    Lsps1GetInfo => "lsps1.get_info", Lsps1, lsps1::GetInfoRequest, lsps1::GetInfoResponse;
    /// `lsps1.create_order`: order a channel.
    Lsps1CreateOrder => "lsps1.create_order", Lsps1, lsps1::CreateOrderRequest, lsps1::Order;
    /// `lsps1.get_order`: how an order stands.
    Lsps1GetOrder => "lsps1.get_order", Lsps1, lsps1::GetOrderRequest, lsps1::Order;
    /// `lsps2.get_info`: the JIT fee menu.
    Lsps2GetInfo => "lsps2.get_info", Lsps2, lsps2::GetInfoRequest, lsps2::GetInfoResponse;
    /// `lsps2.buy`: buy a JIT channel, get an intercept SCID.
    Lsps2Buy => "lsps2.buy", Lsps2, lsps2::BuyRequest, lsps2::BuyResponse;
    /// `lsps5.set_webhook`: register or replace a webhook.
    Lsps5SetWebhook => "lsps5.set_webhook", Lsps5, lsps5::SetWebhookRequest, lsps5::SetWebhookResponse;
    /// `lsps5.list_webhooks`: the registered app names.
    Lsps5ListWebhooks => "lsps5.list_webhooks", Lsps5, lsps5::ListWebhooksRequest, lsps5::ListWebhooksResponse;
    /// `lsps5.remove_webhook`: forget a webhook.
    Lsps5RemoveWebhook => "lsps5.remove_webhook", Lsps5, lsps5::RemoveWebhookRequest, lsps5::RemoveWebhookResponse;
    /// `inbound.hold_scid`: an **Inbound extension**, not an LSPS method: the client's hold SCID
    /// for notify-and-wait over an existing channel ([`hold`]). Served with LSPS5 (its handler
    /// answers it), but never named `lsps5.*`.
    InboundHoldScid => "inbound.hold_scid", Lsps5, hold::HoldScidRequest, hold::HoldScidResponse;
}

fn decode_result<T: serde::de::DeserializeOwned>(method: Method, result: Value) -> Result<T, ResultError> {
    serde_path_to_error::deserialize(result).map_err(|error| ResultError::Malformed {
        method: method.name(),
        property: error.path().to_string(),
        message: error.into_inner().to_string(),
    })
}

fn to_object<T: serde::Serialize>(result: &T) -> Value {
    serde_json::to_value(result).unwrap_or_else(|_| Value::Object(Map::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_belong_to_their_protocol() {
        for method in Method::ALL {
            assert_eq!(Method::from_name(method.name()), Some(*method));
            let prefix = format!("lsps{}.", method.protocol().number());
            // Inbound extensions never borrow an LSPS prefix.
            let extension = method.name().starts_with("inbound.");
            assert!(method.name().starts_with(&prefix) || extension, "{}", method.name());
            assert!(!(extension && method.name().starts_with("lsps")), "{}", method.name());
        }
        assert_eq!(Method::from_name("lsps9.frobnicate"), None);
        assert_eq!(Method::from_name("LSPS0.list_protocols"), None);
    }

    #[test]
    fn protocol_numbers() {
        for protocol in Protocol::ALL {
            assert_eq!(Protocol::from_number(protocol.number()), Some(protocol));
        }
        assert_eq!(Protocol::from_number(3), None);
    }
}
