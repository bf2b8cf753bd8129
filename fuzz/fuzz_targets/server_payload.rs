//! The LSP's side: any bytes from a peer go through the full pipeline (format checks,
//! method lookup, param decoding, the crate's validators via the reference LSP, encoding).
//! Nothing may panic, and every answer must itself pass the client's format checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lsps::client::{self, IncomingMessage};
use lsps::method::Protocol;
use lsps::server;

#[path = "../../crates/lsps/benches/support/reference_lsp.rs"]
mod reference_lsp;

fuzz_target!(|payload: &[u8]| {
    thread_local! {
        static LSP: reference_lsp::ReferenceLsp = reference_lsp::ReferenceLsp::new();
    }
    LSP.with(|lsp| {
        if let Some(answer) = server::handle_payload(payload, &Protocol::ALL, |request| lsp.handle(request)) {
            assert!(answer.len() <= lsps::framing::MAX_PAYLOAD_BYTES);
            match client::decode_message(&answer) {
                Ok(IncomingMessage::Response(_)) => {}
                other => panic!("invalid answer {other:?} to {payload:?}"),
            }
        }
    });
});
