//! LSPS7 (bLIP-57, lease extension) is an unmerged draft; Inbound does not serve it.
//! These vectors pin down how the draft's messages meet Inbound's code: an LSP answers its
//! methods with -32601 (so a client can discover the absence), and a client can still read
//! the draft's results at the envelope level.

mod common;

use lsps::client::{self, IncomingMessage};
use lsps::method::{Method, Protocol};
use lsps::server;

#[test]
fn draft_methods_are_method_not_found() {
    for id in ["lsps7.draft.get_extendable_channels", "lsps7.draft.create_order"] {
        let vector = common::vector(id);
        let payload = common::bytes(&vector["request"]);
        let incoming = server::decode_request(&payload).expect("draft request is well-formed JSON-RPC");
        assert!(Method::from_name(&incoming.method).is_none());
        let error = incoming.into_request(&Protocol::ALL).unwrap_err();
        assert_eq!(error.code, -32601, "{id}");
    }
}

#[test]
fn draft_results_pass_client_format_checks() {
    for id in ["lsps7.draft.get_extendable_channels", "lsps7.draft.create_order"] {
        let vector = common::vector(id);
        let payload = common::bytes(&vector["response"]);
        match client::decode_message(&payload).expect("draft response is well-formed") {
            IncomingMessage::Response(response) => {
                let result = response.outcome.expect("a result");
                assert_eq!(result, vector["response"]["result"], "{id}");
            }
            other => panic!("{id}: unexpected {other:?}"),
        }
    }
}
