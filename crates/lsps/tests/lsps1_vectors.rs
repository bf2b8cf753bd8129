//! The LSPS1 (bLIP-51) conformance vectors, run through both codecs and the validators.
//!
//! Requests go through the LSP's pipeline (`server::decode_request` →
//! `IncomingRequest::into_request`), responses through the client's (`client::decode_message`
//! → `Response::decode`). Every decoded value is encoded again and compared with the vector
//! as JSON values (key order does not matter). Error vectors are produced by the validators
//! or the typed errors and compared on code, `data`, and the `message` bLIP-51 names.

mod common;

use common::{client_decodes, lsp_decodes, vector, vectors_with_prefix};
use lsps::bitcoin::Network;
use lsps::client::{self, IncomingMessage};
use lsps::jsonrpc::codes;
use lsps::lsps1::{
    check_order, order_total_sat, validate_create_order, CreateOrderRequest, GetInfoResponse, Lsps1Error, Order,
    OrderState, PaymentInfo, PaymentState,
};
use lsps::method::{Method, Protocol, Request, Response};
use lsps::server;
use serde_json::json;

const ENABLED: [Protocol; 2] = [Protocol::Lsps1, Protocol::Lsps2];

/// Vectors whose response is a result, with the method that produced it.
const RESULT_VECTORS: [(&str, Method); 7] = [
    ("lsps1.get_info.ok", Method::Lsps1GetInfo),
    ("lsps1.create_order.ok", Method::Lsps1CreateOrder),
    ("lsps1.get_order.hold", Method::Lsps1GetOrder),
    ("lsps1.get_order.completed", Method::Lsps1GetOrder),
    ("lsps1.get_order.failed", Method::Lsps1GetOrder),
    ("lsps1.get_order.onchain_paid", Method::Lsps1GetOrder),
    ("lsps1.legacy_pre_2024_06.create_order_response", Method::Lsps1CreateOrder),
];

/// Vectors whose response is an error.
const ERROR_VECTORS: [&str; 5] = [
    "lsps1.create_order.option_mismatch",
    "lsps1.create_order.invalid_params",
    "lsps1.create_order.bad_token",
    "lsps1.create_order.client_rejected",
    "lsps1.get_order.not_found",
];

fn typed_result(id: &str, method: Method) -> Response {
    let result = client_decodes(vector(id)).expect("a result");
    Response::decode(method, result).unwrap_or_else(|error| panic!("{id}: {error}"))
}

fn order(id: &str) -> Order {
    match typed_result(id, Method::Lsps1GetOrder) {
        Response::Lsps1GetOrder(order) => order,
        other => panic!("{other:?}"),
    }
}

fn create_order_request(id: &str) -> CreateOrderRequest {
    match lsp_decodes(vector(id)).expect("a valid request") {
        Request::Lsps1CreateOrder(request) => request,
        other => panic!("{other:?}"),
    }
}

/// The LSP-side terms: the `get_info` result of `lsps1.get_info.ok`.
fn lsp_terms() -> GetInfoResponse {
    match typed_result("lsps1.get_info.ok", Method::Lsps1GetInfo) {
        Response::Lsps1GetInfo(info) => info,
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_lsps1_vector_is_listed_here() {
    let mut listed: Vec<&str> = RESULT_VECTORS.iter().map(|(id, _)| *id).chain(ERROR_VECTORS).collect();
    let mut all: Vec<&str> = vectors_with_prefix("lsps1.").iter().filter_map(|v| v["id"].as_str()).collect();
    listed.sort_unstable();
    all.sort_unstable();
    assert_eq!(listed, all);
}

#[test]
fn every_request_round_trips() {
    for v in vectors_with_prefix("lsps1.").into_iter().filter(|v| v.get("request").is_some()) {
        let id = v["id"].as_str().unwrap();
        let request = match lsp_decodes(v) {
            Ok(request) => request,
            Err(error) => {
                assert_eq!(id, "lsps1.create_order.invalid_params", "only this request is malformed: {error}");
                continue;
            }
        };
        assert_eq!(request.method().name(), v["request"]["method"], "{id}");
        assert_eq!(request.params(), v["request"]["params"], "{id}: re-encoded params differ");
        // Through the client's encoder and the LSP's decoder again.
        let request_id = client::RequestId::String(v["request"]["id"].as_str().unwrap().to_owned());
        let payload = client::encode_request(&request_id, &request);
        let again = server::decode_request(&payload).unwrap().into_request(&ENABLED).unwrap();
        assert_eq!(again, request, "{id}");
    }
}

#[test]
fn every_result_round_trips() {
    for (id, method) in RESULT_VECTORS {
        let typed = typed_result(id, method);
        let expected = &vector(id)["response"]["result"];
        let encoded = typed.to_value();
        if id == "lsps1.legacy_pre_2024_06.create_order_response" {
            // The old shape is read, but only the current shape is ever written.
            assert_ne!(&encoded, expected);
            assert!(encoded["payment"]["bolt11"].is_object() && encoded.get("expires_at").is_none());
        } else {
            assert_eq!(&encoded, expected, "{id}: re-encoded result differs");
        }
        assert_eq!(Response::decode(method, encoded).unwrap(), typed, "{id}: decode → encode → decode");
        // The LSP's full envelope, read back by the client.
        let request_id = client::RequestId::String(vector(id)["response"]["id"].as_str().unwrap().to_owned());
        let payload = server::encode_response(Some(&request_id), Ok(&typed));
        match client::decode_message(&payload).unwrap() {
            IncomingMessage::Response(response) => {
                assert_eq!(response.id, Some(request_id));
                assert_eq!(Response::decode(method, response.outcome.unwrap()).unwrap(), typed);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn get_info_terms_are_consistent() {
    let info = lsp_terms();
    assert_eq!(info.validate(), Ok(()));
    assert_eq!(info.max_initial_lsp_balance_sat.get(), 10_000_000);
}

#[test]
fn create_order_ok_passes_both_sides() {
    let request = create_order_request("lsps1.create_order.ok");
    assert_eq!(validate_create_order(&request, &lsp_terms(), Network::Bitcoin), Ok(()));
    let order = match typed_result("lsps1.create_order.ok", Method::Lsps1CreateOrder) {
        Response::Lsps1CreateOrder(order) => order,
        other => panic!("{other:?}"),
    };
    let report = check_order(&order, &request);
    assert!(report.issues.is_empty(), "{:?}", report.issues);
    // The LSP's total helper reproduces every option's order_total_sat.
    let bolt11 = order.payment.bolt11.as_ref().unwrap();
    assert_eq!(order_total_sat(bolt11.fee_total_sat, order.client_balance_sat), Some(bolt11.order_total_sat));
    let onchain = order.payment.onchain.as_ref().unwrap();
    assert_eq!(order_total_sat(onchain.fee_total_sat, order.client_balance_sat), Some(onchain.order_total_sat));
    // The same request on the wrong network is refused: the refund address is mainnet.
    let error = validate_create_order(&request, &lsp_terms(), Network::Regtest).unwrap_err();
    assert_eq!((error.code, error.property()), (codes::INVALID_PARAMS, Some("refund_onchain_address")));
}

#[test]
fn every_get_order_state_passes_the_client_checks() {
    let request = create_order_request("lsps1.create_order.ok");
    let expectations = [
        ("lsps1.get_order.hold", OrderState::Created, PaymentState::Hold),
        ("lsps1.get_order.completed", OrderState::Completed, PaymentState::Paid),
        ("lsps1.get_order.failed", OrderState::Failed, PaymentState::Refunded),
    ];
    for (id, order_state, bolt11_state) in expectations {
        let order = order(id);
        assert_eq!(order.order_state, order_state, "{id}");
        assert_eq!(order.payment.bolt11.as_ref().unwrap().state, bolt11_state, "{id}");
        assert_eq!(order.channel.is_some(), order_state == OrderState::Completed, "{id}");
        assert!(check_order(&order, &request).issues.is_empty(), "{id}");
    }
    let paid_onchain = order("lsps1.get_order.onchain_paid");
    let onchain = paid_onchain.payment.onchain.as_ref().unwrap();
    assert_eq!(
        (onchain.state, onchain.min_onchain_payment_confirmations, onchain.min_fee_for_0conf),
        (PaymentState::Paid, 1, None)
    );
    assert!(check_order(&paid_onchain, &request).issues.is_empty());
}

#[test]
fn legacy_order_decodes_into_the_current_shape() {
    let legacy = match typed_result("lsps1.legacy_pre_2024_06.create_order_response", Method::Lsps1CreateOrder) {
        Response::Lsps1CreateOrder(order) => order,
        other => panic!("{other:?}"),
    };
    let current = order("lsps1.get_order.hold");
    let old_payment = &vector("lsps1.legacy_pre_2024_06.create_order_response")["response"]["result"]["payment"];
    let mut bolt11 = current.payment.bolt11.clone().unwrap();
    bolt11.state = PaymentState::ExpectPayment;
    assert_eq!(bolt11.invoice, old_payment["bolt11_invoice"].as_str().unwrap());
    let mut onchain = current.payment.onchain.clone().unwrap();
    // One fee, one total and one expiry served the whole old payment; no refund mirror existed.
    onchain.fee_total_sat = bolt11.fee_total_sat;
    onchain.order_total_sat = bolt11.order_total_sat;
    onchain.expires_at = "2025-06-01T13:00:00.000Z".parse().unwrap();
    onchain.refund_onchain_address = None;
    let expected =
        Order { payment: PaymentInfo { bolt11: Some(bolt11), bolt12: None, onchain: Some(onchain) }, ..current };
    assert_eq!(legacy, expected);
    let report = check_order(&legacy, &create_order_request("lsps1.create_order.ok"));
    assert!(report.issues.is_empty(), "{:?}", report.issues);
}

#[test]
fn option_mismatch_is_produced_by_the_validator() {
    let v = vector("lsps1.create_order.option_mismatch");
    let request = create_order_request("lsps1.create_order.option_mismatch");
    let produced = validate_create_order(&request, &lsp_terms(), Network::Bitcoin).unwrap_err();
    let expected = client_decodes(v).unwrap_err();
    assert_eq!((produced.code, &produced.message, &produced.data), (expected.code, &expected.message, &expected.data));
    assert_eq!(produced.property(), Some("max_initial_lsp_balance_sat"));
    assert_eq!(
        Lsps1Error::from_rpc_error(&expected),
        Some(Lsps1Error::OptionMismatch {
            property: "max_initial_lsp_balance_sat".into(),
            message: "lsp_balance_sat exceeds 10000000".into()
        })
    );
}

#[test]
fn invalid_params_is_produced_by_params_decoding() {
    let v = vector("lsps1.create_order.invalid_params");
    let produced = lsp_decodes(v).unwrap_err();
    let expected = client_decodes(v).unwrap_err();
    assert_eq!((produced.code, &produced.message), (expected.code, &expected.message));
    assert_eq!(produced.property(), Some("announce_channel"));
    assert_eq!(produced.unrecognized(), Some(vec![]));
    assert_eq!((expected.property(), expected.unrecognized()), (Some("announce_channel"), Some(vec![])));
    // `data.message` is free text: serde's wording differs from the vector's "Not a boolean".
    assert!(produced.data.as_ref().unwrap()["message"].is_string());
    assert_eq!(Lsps1Error::from_rpc_error(&expected), None, "-32602 is handled generically");
}

#[test]
fn fixed_shape_errors_match_exactly() {
    let cases = [
        ("lsps1.create_order.bad_token", Lsps1Error::UnrecognizedOrStaleToken),
        ("lsps1.create_order.client_rejected", Lsps1Error::ClientRejected { message: "Client rejected".into() }),
        ("lsps1.get_order.not_found", Lsps1Error::NotFound),
    ];
    for (id, error) in cases {
        let v = vector(id);
        // The request itself is well-formed; the refusal is the service's decision.
        let request = lsp_decodes(v).unwrap_or_else(|error| panic!("{id}: {error}"));
        if let Request::Lsps1CreateOrder(request) = &request {
            assert_eq!(validate_create_order(request, &lsp_terms(), Network::Bitcoin), Ok(()), "{id}");
        }
        let expected = client_decodes(v).unwrap_err();
        assert_eq!(error.to_rpc_error(), expected, "{id}");
        assert_eq!(Lsps1Error::from_rpc_error(&expected), Some(error), "{id}");
    }
    assert_eq!(vector("lsps1.get_order.not_found")["response"]["error"]["data"], json!({}));
}
