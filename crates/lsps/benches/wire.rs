//! Parse + validate + dispatch + serialise, per method, at the LSP; and the client's decode
//! of each answer. Criterion's `thrpt` line is messages per second.
//!
//! Run: `cargo bench -p inbound-lsps --bench wire`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use lsps::client::{self, IncomingMessage};
use lsps::method::{Method, Protocol, Response};
use lsps::server;

#[path = "support/reference_lsp.rs"]
mod reference_lsp;

use reference_lsp::{typical_requests, ReferenceLsp};

fn server_pipeline(c: &mut Criterion) {
    let lsp = ReferenceLsp::new();
    let mut group = c.benchmark_group("lsp_handle_payload");
    group.throughput(Throughput::Elements(1));
    for (method, payload) in typical_requests(&lsp) {
        // Every typical request must succeed, or the benchmark would measure an error path.
        let answer = server::handle_payload(&payload, &Protocol::ALL, |r| lsp.handle(r)).expect("answered");
        assert!(
            !String::from_utf8_lossy(&answer).contains("\"error\""),
            "{method} failed: {}",
            String::from_utf8_lossy(&answer)
        );
        group.bench_function(method, |b| {
            b.iter(|| server::handle_payload(black_box(&payload), &Protocol::ALL, |r| lsp.handle(r)))
        });
    }
    group.finish();
}

fn client_decode(c: &mut Criterion) {
    let lsp = ReferenceLsp::new();
    let mut group = c.benchmark_group("client_decode_response");
    group.throughput(Throughput::Elements(1));
    for (method, payload) in typical_requests(&lsp) {
        let answer = server::handle_payload(&payload, &Protocol::ALL, |r| lsp.handle(r)).expect("answered");
        let method_id = Method::from_name(method).expect("registered");
        group.bench_function(method, |b| {
            b.iter(|| match client::decode_message(black_box(&answer)) {
                Ok(IncomingMessage::Response(response)) => {
                    Response::decode(method_id, response.outcome.expect("result")).expect("typed")
                }
                other => panic!("unexpected {other:?}"),
            })
        });
    }
    group.finish();
}

criterion_group!(benches, server_pipeline, client_decode);
criterion_main!(benches);
