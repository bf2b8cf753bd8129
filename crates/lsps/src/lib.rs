//! The LSPS wire layer: everything Inbound knows about the bytes that travel between a
//! Lightning wallet (the *client*) and a Lightning Service Provider (the *LSP*).
//!
//! This crate implements the LSP specifications in their bLIP form:
//!
//! | spec  | bLIP | module      | what it is                                              |
//! |-------|------|-------------|---------------------------------------------------------|
//! | LSPS0 | 50   | [`jsonrpc`], [`framing`], [`schema`], [`lsps0`] | transport, JSON-RPC profile, common schemas |
//! | LSPS1 | 51   | [`lsps1`]   | buying a channel up front                               |
//! | LSPS2 | 52   | [`lsps2`]   | just-in-time channels                                   |
//! | LSPS5 | 55   | [`lsps5`]   | webhooks that wake sleeping wallets                     |
//! | Inbound extension | – | [`hold`] | `inbound.hold_scid`: notify-and-wait over an existing channel |
//!
//! # Architecture invariants
//!
//! * No I/O, no async, no clock: time is always an argument ([`schema::DateTime`]).
//! * No LDK node types: only `bitcoin`/`secp256k1` primitives.
//! * Nothing here panics on input. Every decoder returns an error for hostile bytes;
//!   the fuzz targets in `fuzz/` check this.
//! * One method registry ([`method::Method`]) drives dispatch, typed decoding and
//!   `lsps0.list_protocols`; method names are never matched as strings elsewhere.
//!
//! # Where to start
//!
//! * An LSP decodes an incoming payload with [`server::decode_request`], handles the typed
//!   [`method::Request`], and encodes the answer with [`server::encode_response`].
//! * A client builds a payload with [`client::encode_request`] and decodes the answer with
//!   [`client::decode_message`] and [`method::Response::decode`].
//!
//! ```
//! use lsps::method::{Request, Response};
//! use lsps::{client, server, lsps0};
//!
//! // The client asks which protocols the LSP speaks.
//! let id = client::RequestId::from_entropy([7u8; 16]);
//! let payload = client::encode_request(&id, &Request::Lsps0ListProtocols(lsps0::ListProtocolsRequest {}));
//!
//! // The LSP decodes it, answers, and encodes the response.
//! let incoming = server::decode_request(&payload).expect("valid request");
//! let answer = Response::Lsps0ListProtocols(lsps0::ListProtocolsResponse { protocols: vec![1, 2, 5] });
//! let reply = server::encode_response(incoming.id.as_ref(), Ok(&answer));
//!
//! // The client decodes the answer.
//! match client::decode_message(&reply).expect("valid response") {
//!     client::IncomingMessage::Response(response) => {
//!         let result = response.outcome.expect("not an error");
//!         let typed = Response::decode(lsps::method::Method::Lsps0ListProtocols, result).unwrap();
//!         assert!(matches!(typed, Response::Lsps0ListProtocols(r) if r.protocols == vec![1, 2, 5]));
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! ```

#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]
#![forbid(unsafe_code)]

pub mod client;
pub mod framing;
pub mod hold;
pub mod jsonrpc;
pub mod lnurl;
pub mod lsps0;
pub mod lsps1;
pub mod lsps2;
pub mod lsps5;
pub mod method;
pub mod node_proof;
pub mod params;
pub mod schema;
pub mod server;
pub mod signature;

pub use bitcoin;
