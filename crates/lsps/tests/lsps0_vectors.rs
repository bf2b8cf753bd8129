//! The `lsps0.*` conformance vectors: framing, the JSON-RPC profile at both ends, the common
//! schemas, feature bit 729 and `LSPS0.ln_signature`.

mod common;

use common::{bytes, hex, vector, vectors_with_prefix};
use lsps::bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use lsps::client::{self, IncomingMessage, IncomingResponse};
use lsps::jsonrpc::RpcError;
use lsps::lsps0::{ListProtocolsRequest, ListProtocolsResponse};
use lsps::method::{Method, Protocol, Request, Response};
use lsps::schema::{
    Blob, ConnectionString, DateTime, FeeRate, Host, MsatAmount, NodeId, OnchainAddress, Outpoint, Ppm, SatAmount,
    Scid, TxidHex,
};
use lsps::{framing, server, signature};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// The exact -32700 answer, in our member order.
const PARSE_ERROR_RESPONSE: &str = r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}"#;

fn json(payload: &[u8]) -> Value {
    serde_json::from_slice(payload).expect("our output is JSON")
}

/// Decodes a response on the client side and returns its `result` or error.
fn client_outcome(response: &Value) -> Result<Value, RpcError> {
    match client::decode_message(&bytes(response)).expect("a valid response") {
        IncomingMessage::Response(IncomingResponse { outcome, .. }) => outcome,
        other => panic!("expected a response, got {other:?}"),
    }
}

#[test]
fn list_protocols_ok() {
    let v = vector("lsps0.list_protocols.ok");
    let incoming = server::decode_request(&bytes(&v["request"])).unwrap();
    let request = incoming.clone().into_request(&[]).unwrap();
    assert_eq!(request, Request::Lsps0ListProtocols(ListProtocolsRequest {}));
    let answer = Response::Lsps0ListProtocols(ListProtocolsResponse::for_enabled(&Protocol::ALL));
    let reply = server::encode_response(incoming.id.as_ref(), Ok(&answer));
    assert_eq!(json(&reply), v["response"]);
    // The client reads it back.
    let result = client_outcome(&v["response"]).unwrap();
    let typed = Response::decode(Method::Lsps0ListProtocols, result).unwrap();
    assert_eq!(typed, answer);
}

#[test]
fn bolt8_framing() {
    let v = vector("lsps0.bolt8_framing");
    let payload = v["payload_utf8"].as_str().unwrap().as_bytes();
    let message = framing::encode_message(payload).unwrap();
    assert_eq!(message, hex(v["bolt8_message_hex"].as_str().unwrap()));
    assert_eq!(framing::decode_message(&message).unwrap(), payload);
    assert_eq!(v["max_payload_bytes"].as_u64(), Some(framing::MAX_PAYLOAD_BYTES as u64));
    // Our own client encoder produces the same payload for the same id.
    let id = client::RequestId::String("889bcbfe243b5525c49551e2a90569f6".into());
    let encoded = client::encode_request(&id, &Request::Lsps0ListProtocols(ListProtocolsRequest {}));
    assert_eq!(encoded, payload);
}

#[test]
fn unknown_field_in_result_is_ignored() {
    let v = vector("lsps0.unknown_field_in_result_is_ignored");
    let result = client_outcome(&v["response"]).unwrap();
    let typed = Response::decode(Method::Lsps0ListProtocols, result).unwrap();
    assert_eq!(typed.to_value(), v["expected_client_view"]);
}

#[test]
fn method_not_found() {
    let v = vector("lsps0.method_not_found");
    let reply = server::handle_payload(&bytes(&v["request"]), &Protocol::ALL, |_| panic!("never dispatched")).unwrap();
    assert_eq!(json(&reply), v["response"]);
    assert_eq!(
        String::from_utf8(reply).unwrap(),
        r#"{"jsonrpc":"2.0","id":"d1b4a88277f4c4b1cffe6c1c44f68368","error":{"code":-32601,"message":"Method not found"}}"#
    );
}

#[test]
fn every_bad_message_format_vector_is_refused_by_both_sides() {
    let family = vectors_with_prefix("lsps0.bad_message_format.");
    assert_eq!(family.len(), 7, "the vector file changed");
    for v in family {
        let id = v["id"].as_str().unwrap();
        let payload = hex(v["payload_hex"].as_str().unwrap());
        assert_eq!(payload, v["payload_utf8"].as_str().unwrap().as_bytes(), "{id}");
        let reply = server::handle_payload(&payload, &Protocol::ALL, |_| panic!("{id} was dispatched")).unwrap();
        assert_eq!(json(&reply), v["expected_lsp_response"], "{id}");
        assert_eq!(String::from_utf8(reply).unwrap(), PARSE_ERROR_RESPONSE, "{id}");
        assert!(client::decode_message(&payload).is_err(), "{id}: the client must refuse it too");
    }
}

#[test]
fn client_rejected() {
    let v = vector("lsps0.client_rejected");
    let error = RpcError::client_rejected("Client rejected");
    assert_eq!(serde_json::to_value(&error).unwrap(), v["response"]["error"]);
    let id = client::RequestId::String(v["response"]["id"].as_str().unwrap().into());
    let reply = server::encode_response(Some(&id), Err(&error));
    assert_eq!(json(&reply), v["response"]);
    assert_eq!(client_outcome(&v["response"]), Err(error));
}

/// Parses `json` as `T` and checks it serialises back to the same JSON.
fn round_trip<T: Serialize + DeserializeOwned>(json: &Value) -> T {
    let parsed: T = serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("{json} does not parse: {e}"));
    assert_eq!(&serde_json::to_value(&parsed).unwrap(), json);
    parsed
}

#[test]
fn schema_vectors() {
    let v = vector("lsps0.schema.vectors");
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 18, "the vector file changed");
    for case in cases {
        let json = &case["json"];
        match case["type"].as_str().unwrap() {
            "LSPS0.sat" => assert_eq!(Some(round_trip::<SatAmount>(json).get()), case["value"].as_u64()),
            "LSPS0.msat" => assert_eq!(Some(round_trip::<MsatAmount>(json).get()), case["value"].as_u64()),
            "LSPS0.ppm" => assert_eq!(round_trip::<Ppm>(json), Ppm(2500)),
            "LSPS0.onchain_fee_rate" => assert_eq!(round_trip::<FeeRate>(json).sat_per_kwu(), 253),
            "LSPS0.scid" => {
                let scid = round_trip::<Scid>(json);
                match (case["u64_hex"].as_str(), case["u64"].as_u64()) {
                    (Some(packed), _) => assert_eq!(scid.0.to_be_bytes().to_vec(), hex(packed)),
                    (None, Some(packed)) => assert_eq!(scid.0, packed),
                    _ => panic!("scid case without its u64"),
                }
            }
            "LSPS0.pubkey" => {
                let node_id = round_trip::<NodeId>(json);
                let upper = Value::String(json.as_str().unwrap().to_ascii_uppercase());
                assert_eq!(serde_json::from_value::<NodeId>(upper).unwrap(), node_id);
            }
            "LSPS0.connection_string" => {
                let parsed = round_trip::<ConnectionString>(json);
                if let Some(parts) = case.get("parsed") {
                    assert_eq!(parsed.node_id.to_string(), parts["node_id"].as_str().unwrap());
                    assert_eq!(parsed.host, Host::Ipv6(parts["host"].as_str().unwrap().parse().unwrap()));
                    assert_eq!(Some(u64::from(parsed.port)), parts["port"].as_u64());
                }
            }
            "LSPS0.onchain_address" => {
                let address = round_trip::<OnchainAddress>(json);
                assert!(address.is_valid_for_network(lsps::bitcoin::Network::Bitcoin));
            }
            "LSPS0.datetime" => {
                let instant = round_trip::<DateTime>(json);
                assert_eq!(instant.unix_secs(), 1_748_779_200);
            }
            "LSPS0.binary_blob" => {
                let blob = round_trip::<Blob>(json);
                assert_eq!(blob.0, hex(case["bytes_hex"].as_str().unwrap()));
            }
            "LSPS0.txid" => {
                // Either case is read; lowercase is written.
                let text = json.as_str().unwrap();
                let txid = round_trip::<TxidHex>(json);
                assert_eq!(serde_json::from_value::<TxidHex>(Value::String(text.to_ascii_uppercase())).unwrap(), txid);
                let upper_outpoint = format!("{}:0", text.to_ascii_uppercase());
                assert_eq!(upper_outpoint.parse::<Outpoint>().unwrap().txid(), txid.0);
            }
            "LSPS0.outpoint" => assert_eq!(round_trip::<Outpoint>(json).vout(), 0),
            "LSPS0.output_index" => assert_eq!(round_trip::<u16>(json), 0),
            other => panic!("schema case {other} has no check"),
        }
    }
}

#[test]
fn feature_bit_729() {
    let v = vector("lsps0.feature_bit_729");
    let bit = v["bit"].as_u64().unwrap() as usize;
    assert_eq!(bit, framing::LSPS_FEATURE_BIT);
    let features = framing::feature_bytes_with_bit(bit);
    assert_eq!(features, hex(v["features_hex"].as_str().unwrap()));
    let from_end = v["byte_index_from_end"].as_u64().unwrap() as usize;
    assert_eq!(format!("{:#x}", features[features.len() - 1 - from_end]), v["mask"].as_str().unwrap());
    assert!(framing::supports_lsps(&features));
}

#[test]
fn ln_signature() {
    let v = vector("lsps0.ln_signature");
    let secret_key = SecretKey::from_slice(&hex(v["signer_privkey_hex_TEST_ONLY"].as_str().unwrap())).unwrap();
    let node_id: PublicKey = v["signer_node_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(secret_key.public_key(&Secp256k1::signing_only()), node_id);
    let message = v["message"].as_str().unwrap().as_bytes();
    let expected = v["signature"].as_str().unwrap();
    assert_eq!(signature::sign_message(&secret_key, message), expected);
    assert_eq!(signature::recover_signer(message, expected), Ok(node_id));
    assert_eq!(signature::verify(message, expected, &node_id), Ok(()));
    let mut tampered = message.to_vec();
    tampered[0] ^= 1;
    assert!(signature::verify(&tampered, expected, &node_id).is_err());
}
