//! The LSPS2 (bLIP-52) conformance vectors, run through both codecs, the promise schemes,
//! the fee maths, the buy checks and the forwarding split.
//!
//! Requests go through the LSP's pipeline and results through the client's, and are compared
//! with the vectors as JSON values after re-encoding. One documented difference: an omitted
//! `client_trusts_lsp` (default `false`) is written out explicitly when re-encoded.
//!
//! The two invoice vectors are real signed BOLT11 invoices; this crate has no BOLT11 parser,
//! so only the vector's decoded fields are checked against the buy results and helpers here.
//! Parsing the invoices themselves is tested in the client crate.

mod common;

use common::{client_decodes, hex, lsp_decodes, vector, vectors_with_prefix};
use lsps::client;
use lsps::lsps2::{
    check_menu, decode_extra_fee_tlv, encode_extra_fee_tlv, is_fee_less_than_payment,
    min_final_cltv_expiry_delta_for_jit, opening_fee_msat, select_cheapest, split_opening_fee, validate_buy, BuyMode,
    BuyPolicy, BuyRequest, BuyResponse, ForwardPart, GetInfoResponse, Lsps2Error, OpeningFeeParams, PaymentSize,
    PromiseKey, PromiseScheme, RawOpeningFeeParams, SelectionPolicy, EXTRA_FEE_TLV_TYPE,
};
use lsps::method::{Method, Protocol, Request, Response};
use lsps::schema::{DateTime, MsatAmount, NodeId, Scid};
use lsps::server;
use serde_json::Value;

const ENABLED: [Protocol; 2] = [Protocol::Lsps1, Protocol::Lsps2];

/// Vectors whose response is a result, with the method that produced it.
const RESULT_VECTORS: [(&str, Method); 4] = [
    ("lsps2.get_info.ok", Method::Lsps2GetInfo),
    ("lsps2.get_info.no_token", Method::Lsps2GetInfo),
    ("lsps2.buy.mpp_fixed.ok", Method::Lsps2Buy),
    ("lsps2.buy.no_mpp_var.ok", Method::Lsps2Buy),
];

/// Vectors whose response is an error.
const ERROR_VECTORS: [&str; 4] =
    ["lsps2.get_info.bad_token", "lsps2.buy.invalid_params", "lsps2.buy.too_large", "lsps2.buy.client_rejected"];

/// Vectors with no JSON-RPC exchange.
const OTHER_VECTORS: [&str; 6] = [
    "lsps2.promise.ldk_scheme",
    "lsps2.opening_fee.vectors",
    "lsps2.invoice.mpp_fixed",
    "lsps2.invoice.no_mpp_var",
    "lsps2.forward_split.simple",
    "lsps2.extra_fee_tlv",
];

/// The client of every vector, and the promise secret of `lsps2.promise.ldk_scheme`.
fn client_id() -> NodeId {
    vector("lsps2.promise.ldk_scheme")["client_node_id"].as_str().unwrap().parse().unwrap()
}

fn ldk_key() -> PromiseKey {
    let secret = hex(vector("lsps2.promise.ldk_scheme")["secret_hex_TEST_ONLY"].as_str().unwrap());
    PromiseKey::lightning_liquidity(secret.try_into().expect("32 bytes"))
}

/// A moment between the invoices' timestamp and the first entry's `valid_until`.
fn now() -> DateTime {
    "2025-06-01T12:05:00Z".parse().unwrap()
}

fn menu() -> Vec<OpeningFeeParams> {
    let result = client_decodes(vector("lsps2.get_info.ok")).unwrap();
    match Response::decode(Method::Lsps2GetInfo, result).unwrap() {
        Response::Lsps2GetInfo(GetInfoResponse { opening_fee_params_menu }) => opening_fee_params_menu,
        other => panic!("{other:?}"),
    }
}

fn buy_request(id: &str) -> BuyRequest {
    match lsp_decodes(vector(id)).unwrap_or_else(|error| panic!("{id}: {error}")) {
        Request::Lsps2Buy(request) => request,
        other => panic!("{other:?}"),
    }
}

fn lsp_validates(id: &str) -> Result<lsps::lsps2::ValidatedBuy, Lsps2Error> {
    validate_buy(&buy_request(id), &client_id(), &[ldk_key()], now(), &BuyPolicy::default())
}

fn buy_response(id: &str) -> BuyResponse {
    match Response::decode(Method::Lsps2Buy, client_decodes(vector(id)).unwrap()).unwrap() {
        Response::Lsps2Buy(response) => response,
        other => panic!("{other:?}"),
    }
}

fn u64_of(value: &Value) -> u64 {
    value.as_u64().or_else(|| value.as_str().and_then(|text| text.parse().ok())).expect("an integer")
}

#[test]
fn every_lsps2_vector_is_listed_here() {
    let mut listed: Vec<&str> =
        RESULT_VECTORS.iter().map(|(id, _)| *id).chain(ERROR_VECTORS).chain(OTHER_VECTORS).collect();
    let mut all: Vec<&str> = vectors_with_prefix("lsps2.").iter().filter_map(|v| v["id"].as_str()).collect();
    listed.sort_unstable();
    all.sort_unstable();
    assert_eq!(listed, all);
}

#[test]
fn every_request_round_trips() {
    for v in vectors_with_prefix("lsps2.").into_iter().filter(|v| v.get("request").is_some()) {
        let id = v["id"].as_str().unwrap();
        let request = lsp_decodes(v).unwrap_or_else(|error| panic!("{id}: {error}"));
        assert_eq!(request.method().name(), v["request"]["method"], "{id}");
        assert_eq!(request.params(), v["request"]["params"], "{id}: re-encoded params differ");
        let request_id = client::RequestId::String(v["request"]["id"].as_str().unwrap().to_owned());
        let again = server::decode_request(&client::encode_request(&request_id, &request))
            .unwrap()
            .into_request(&ENABLED)
            .unwrap();
        assert_eq!(again, request, "{id}");
    }
}

#[test]
fn every_result_round_trips() {
    for (id, method) in RESULT_VECTORS {
        let typed = Response::decode(method, client_decodes(vector(id)).unwrap()).unwrap();
        let mut expected = vector(id)["response"]["result"].clone();
        if id == "lsps2.buy.no_mpp_var.ok" {
            // The vector omits `client_trusts_lsp`; it defaults to false and is written out.
            assert!(expected.get("client_trusts_lsp").is_none());
            expected["client_trusts_lsp"] = Value::Bool(false);
        }
        let encoded = typed.to_value();
        assert_eq!(encoded, expected, "{id}: re-encoded result differs");
        assert_eq!(Response::decode(method, encoded).unwrap(), typed, "{id}");
        let request_id = client::RequestId::String(vector(id)["response"]["id"].as_str().unwrap().to_owned());
        let payload = server::encode_response(Some(&request_id), Ok(&typed));
        let mut envelope = vector(id)["response"].clone();
        envelope["result"] = expected;
        assert_eq!(serde_json::from_slice::<Value>(&payload).unwrap(), envelope, "{id}: whole response");
    }
}

#[test]
fn ldk_promises_are_reproduced() {
    let v = vector("lsps2.promise.ldk_scheme");
    assert_eq!(client_id().to_string(), v["client_node_id"]);
    for case in v["cases"].as_array().unwrap() {
        let raw: RawOpeningFeeParams =
            serde_json::from_value(case["opening_fee_params_without_promise"].clone()).unwrap();
        assert_eq!(raw.valid_until.to_rfc3339_plus_offset(), case["valid_until_as_hashed"]);
        let sealed = raw.seal(&ldk_key(), &client_id());
        assert_eq!(sealed.promise.as_str(), case["promise"]);
        let verified = lsps::lsps2::verify_promise(&sealed, &client_id(), &[ldk_key()], now());
        assert_eq!(verified, Ok(PromiseScheme::LightningLiquidity));
    }
}

#[test]
fn get_info_menu_is_sealed_ordered_and_selectable() {
    let menu = menu();
    assert_eq!(menu.len(), 2);
    assert_eq!(check_menu(&menu), Ok(()));
    for entry in &menu {
        let resealed = RawOpeningFeeParams::from(entry).seal(&ldk_key(), &client_id());
        assert_eq!(&resealed, entry, "the LSP side reproduces the served entry, promise included");
    }
    let policy = SelectionPolicy { max_fee_msat: MsatAmount(2_500_000), min_remaining_validity_secs: 600 };
    let selection = select_cheapest(&menu, PaymentSize::Fixed(MsatAmount(42_000_000)), &policy, now()).unwrap();
    assert_eq!(selection.params, &menu[0]);
    assert_eq!(selection.opening_fee_msat, Some(MsatAmount(2_000_000)));
    // The same request with the LSP's token decodes as sent.
    match lsp_decodes(vector("lsps2.get_info.ok")).unwrap() {
        Request::Lsps2GetInfo(request) => assert_eq!(request.token.as_deref(), Some("SECRETDISCOUNT")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_empty_menu_means_no_service() {
    let result = client_decodes(vector("lsps2.get_info.no_token")).unwrap();
    let Response::Lsps2GetInfo(info) = Response::decode(Method::Lsps2GetInfo, result).unwrap() else { panic!() };
    assert!(info.opening_fee_params_menu.is_empty());
    let policy = SelectionPolicy { max_fee_msat: MsatAmount(u64::MAX), min_remaining_validity_secs: 0 };
    let error =
        select_cheapest(&info.opening_fee_params_menu, PaymentSize::Variable { expected_msat: None }, &policy, now());
    assert_eq!(error.unwrap_err().skipped, vec![]);
}

#[test]
fn mpp_fixed_buy_is_accepted_with_the_vector_fee() {
    let v = vector("lsps2.buy.mpp_fixed.ok");
    let validated = lsp_validates("lsps2.buy.mpp_fixed.ok").unwrap();
    let expected_fee = MsatAmount(u64_of(&v["computed_opening_fee_msat"]));
    assert_eq!(
        validated.mode,
        BuyMode::MppFixed { payment_size_msat: MsatAmount(42_000_000), opening_fee_msat: expected_fee }
    );
    assert_eq!(validated.opening_fee_params, menu()[0], "bought verbatim from the menu");
    let response = buy_response("lsps2.buy.mpp_fixed.ok");
    assert_eq!(response.jit_channel_scid, Scid(u64_of(&v["jit_channel_scid_u64"])));
    assert_eq!(response.jit_channel_scid.to_string(), "894512x3192x1");
    assert_eq!(response.route_hint_cltv_expiry_delta(), Some(144));
    assert!(!response.client_trusts_lsp);
}

#[test]
fn no_mpp_var_buy_is_accepted() {
    let validated = lsp_validates("lsps2.buy.no_mpp_var.ok").unwrap();
    assert_eq!(validated.mode, BuyMode::NoMppVariable);
    assert_eq!(validated.opening_fee_params, menu()[1]);
    let response = buy_response("lsps2.buy.no_mpp_var.ok");
    assert!(!response.client_trusts_lsp, "omitted means false");
    assert_eq!(response.jit_channel_scid.to_string(), "894512x3193x0");
}

#[test]
fn buy_errors_are_produced_by_validate_buy() {
    // The forged entry (min_fee_msat lowered) and the overflowing size.
    for (id, error) in [
        ("lsps2.buy.invalid_params", Lsps2Error::InvalidOpeningFeeParams),
        ("lsps2.buy.too_large", Lsps2Error::PaymentSizeTooLarge),
    ] {
        assert_eq!(lsp_validates(id), Err(error.clone()), "{id}");
        let expected = client_decodes(vector(id)).unwrap_err();
        assert_eq!(error.to_rpc_error(), expected, "{id}: code, message and (no) data");
        assert_eq!(Lsps2Error::from_rpc_error(&expected), Some(error), "{id}");
    }
    // The vector also names the other cause of 201: an authentic entry past valid_until.
    let late: DateTime = "2025-06-01T13:00:00.511Z".parse().unwrap();
    let request = buy_request("lsps2.buy.mpp_fixed.ok");
    assert_eq!(
        validate_buy(&request, &client_id(), &[ldk_key()], late, &BuyPolicy::default()),
        Err(Lsps2Error::InvalidOpeningFeeParams)
    );
}

#[test]
fn fixed_shape_errors_match_exactly() {
    let cases = [
        ("lsps2.get_info.bad_token", Lsps2Error::UnrecognizedOrStaleToken),
        ("lsps2.buy.client_rejected", Lsps2Error::ClientRejected { message: "Client rejected".into() }),
    ];
    for (id, error) in cases {
        lsp_decodes(vector(id)).unwrap_or_else(|error| panic!("{id}: {error}"));
        let expected = client_decodes(vector(id)).unwrap_err();
        assert_eq!(error.to_rpc_error(), expected, "{id}");
        assert_eq!(Lsps2Error::from_rpc_error(&expected), Some(error), "{id}");
    }
    // The rejected client's request is otherwise acceptable.
    assert!(lsp_validates("lsps2.buy.client_rejected").is_ok());
}

#[test]
fn opening_fee_cases() {
    for case in vector("lsps2.opening_fee.vectors")["cases"].as_array().unwrap() {
        let size = u64_of(&case["payment_size_msat"]);
        let min_fee = u64_of(&case["min_fee_msat"]);
        let ppm = u32::try_from(u64_of(&case["proportional"])).unwrap();
        let fee = opening_fee_msat(size, min_fee, ppm).ok();
        let expected = case["opening_fee_msat_spec"].as_str().map(|text| text.parse::<u64>().unwrap());
        assert_eq!(fee, expected, "{case}");
        if let (Some(fee), Some(less)) = (fee, case["fee_less_than_payment"].as_bool()) {
            assert_eq!(is_fee_less_than_payment(fee, size), less, "{case}");
        }
        if let Some(ldk) = case.get("opening_fee_msat_lightning_liquidity") {
            // LDK's div_ceil succeeds where the spec's separate +999999 overflows.
            let ldk_fee = size.checked_mul(u64::from(ppm)).map(|product| product.div_ceil(1_000_000).max(min_fee));
            assert_eq!((fee, ldk_fee), (None, Some(u64_of(ldk))), "{case}");
        }
    }
}

#[test]
fn invoice_vectors_agree_with_the_buy_results() {
    let lsp_id = "02e6411d8e0ae3b715dedde8e9dfc9d3759eeca9899d168984c34e6ff5aa213606";
    let cases = [
        ("lsps2.invoice.mpp_fixed", "lsps2.buy.mpp_fixed.ok", true),
        ("lsps2.invoice.no_mpp_var", "lsps2.buy.no_mpp_var.ok", false),
    ];
    for (invoice_id, buy_id, fixed) in cases {
        let decoded = &vector(invoice_id)["decoded"];
        let response = buy_response(buy_id);
        let hints = decoded["route_hint"].as_array().unwrap();
        assert_eq!(hints.len(), 1, "exactly one route hint with one hop");
        let hop = &hints[0];
        let scid: Scid = hop["short_channel_id"].as_str().unwrap().parse().unwrap();
        assert_eq!(scid, response.jit_channel_scid, "{invoice_id}");
        assert_eq!(hop["pubkey"], lsp_id);
        assert_eq!((u64_of(&hop["fee_base_msat"]), u64_of(&hop["fee_proportional_millionths"])), (0, 0));
        assert_eq!(Some(u64_of(&hop["cltv_expiry_delta"]) as u16), response.route_hint_cltv_expiry_delta());
        let normal_delta = 144;
        let c = min_final_cltv_expiry_delta_for_jit(normal_delta, 0).map(u64::from);
        assert_eq!(Some(u64_of(&decoded["min_final_cltv_expiry_delta"])), c, "{invoice_id}: 144 + 2");
        let features: Vec<u64> = decoded["features_bits"].as_array().unwrap().iter().map(u64_of).collect();
        assert_eq!(features.contains(&17), fixed, "{invoice_id}: basic_mpp only in fixed mode");
        let request = buy_request(buy_id);
        assert_eq!(decoded["amount_msat"].as_u64(), request.payment_size_msat.map(MsatAmount::get), "{invoice_id}");
        assert!(vector(invoice_id)["invoice"].as_str().unwrap().starts_with("lnbc"));
    }
    // timestamp + expiry ≤ valid_until, and the payee is the client.
    let fixed = vector("lsps2.invoice.mpp_fixed");
    let valid_until: DateTime = fixed["valid_until"].as_str().unwrap().parse().unwrap();
    let expires = u64_of(&fixed["decoded"]["timestamp"]) + u64_of(&fixed["decoded"]["expiry"]);
    assert!(expires <= valid_until.unix_secs());
    assert_eq!(valid_until, menu()[0].valid_until);
    assert_eq!(fixed["decoded"]["payee"], client_id().to_string());
}

#[test]
fn forward_split_matches_the_vector() {
    let v = vector("lsps2.forward_split.simple");
    let parts = v["parts"].as_array().unwrap();
    let incoming: Vec<u64> = parts.iter().map(|p| u64_of(&p["incoming_part_msat"])).collect();
    let fee = u64_of(&v["opening_fee_msat"]);
    let forwards = split_opening_fee(&incoming, fee, u64_of(&v["htlc_minimum_msat"])).unwrap();
    let expected: Vec<ForwardPart> = parts
        .iter()
        .map(|p| ForwardPart { forward_msat: u64_of(&p["forward_msat"]), extra_fee_msat: p["extra_fee_tlv"].as_u64() })
        .collect();
    assert_eq!(forwards, expected);
    let forwarded: u64 = forwards.iter().map(|f| f.forward_msat).sum();
    assert_eq!(forwarded, u64_of(&v["payment_size_msat"]) - fee);
    // The fee matches what the buy vector computed for the same size.
    assert_eq!(opening_fee_msat(u64_of(&v["payment_size_msat"]), 2_000_000, 5000), Ok(fee));
}

#[test]
fn extra_fee_tlv_bytes() {
    let v = vector("lsps2.extra_fee_tlv");
    let amount = u64_of(&v["extra_fee_msat"]);
    let bytes = hex(v["tlv_hex"].as_str().unwrap());
    assert_eq!(encode_extra_fee_tlv(amount).to_vec(), bytes);
    assert_eq!(decode_extra_fee_tlv(&bytes), Ok(amount));
    assert_eq!(EXTRA_FEE_TLV_TYPE, 0x0001_0001);
}
