//! Property tests for the transport and schema layer: hostile bytes never panic, every
//! answer the LSP produces is itself a valid message, and every schema type round-trips.

use lsps::client::{self, IncomingMessage, RequestId};
use lsps::jsonrpc::RpcError;
use lsps::method::{Method, Protocol, Request, Response};
use lsps::schema::{DateTime, MsatAmount, SatAmount, Scid};
use lsps::{lsps1, lsps5, server};
use proptest::prelude::*;

/// The LSP's answer to any payload is either nothing (a notification) or a response the
/// client side accepts.
fn answer_is_valid(answer: Option<Vec<u8>>) {
    if let Some(answer) = answer {
        assert!(answer.len() <= lsps::framing::MAX_PAYLOAD_BYTES);
        match client::decode_message(&answer) {
            Ok(IncomingMessage::Response(_)) => {}
            other => panic!("LSP produced an invalid answer: {other:?}"),
        }
    }
}

fn reject_everything(_: Request) -> Result<Response, RpcError> {
    Err(RpcError::internal_error())
}

/// JSON-ish payloads: fragments that make the parser walk deeper than random bytes do.
fn jsonish() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("\"jsonrpc\":\"2.0\",".to_string()),
        Just("\"id\":\"a\",".to_string()),
        Just("\"id\":null,".to_string()),
        Just("\"method\":\"lsps1.create_order\",".to_string()),
        Just("\"method\":\"lsps2.buy\",".to_string()),
        Just("\"params\":{".to_string()),
        Just("\"lsp_balance_sat\":\"1\",".to_string()),
        Just("\"payment_size_msat\":\"18446744073709551615\"".to_string()),
        Just(":".to_string()),
        Just(",".to_string()),
        Just("\\u0000".to_string()),
        "[a-z0-9\" ]{0,8}",
    ];
    prop::collection::vec(atom, 0..40).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn server_never_panics_on_bytes(payload in prop::collection::vec(any::<u8>(), 0..512)) {
        answer_is_valid(server::handle_payload(&payload, &Protocol::ALL, reject_everything));
    }

    #[test]
    fn server_never_panics_on_jsonish(payload in jsonish()) {
        answer_is_valid(server::handle_payload(payload.as_bytes(), &Protocol::ALL, reject_everything));
    }

    #[test]
    fn client_never_panics(payload in prop::collection::vec(any::<u8>(), 0..512), text in jsonish()) {
        let _ = client::decode_message(&payload);
        if let Ok(IncomingMessage::Response(response)) = client::decode_message(text.as_bytes()) {
            if let Ok(result) = response.outcome {
                for method in Method::ALL {
                    let _ = Response::decode(*method, result.clone());
                }
            }
        }
    }

    #[test]
    fn schema_parsers_never_panic(text in "\\PC{0,80}") {
        let _ = text.parse::<DateTime>();
        let _ = text.parse::<Scid>();
        let _ = text.parse::<MsatAmount>();
        let _ = text.parse::<lsps::schema::OnchainAddress>();
        let _ = text.parse::<lsps::schema::Outpoint>();
        let _ = text.parse::<lsps::schema::NodeId>();
        let _ = text.parse::<lsps::schema::ConnectionString>();
        let _ = text.parse::<lsps::schema::Blob>();
    }

    #[test]
    fn amounts_round_trip(value in any::<u64>()) {
        let json = serde_json::to_string(&SatAmount(value)).unwrap();
        prop_assert_eq!(json.clone(), format!("\"{value}\""));
        prop_assert_eq!(serde_json::from_str::<SatAmount>(&json).unwrap(), SatAmount(value));
    }

    #[test]
    fn datetimes_round_trip(millis in 0u64..=253_402_300_799_999) {
        let instant = DateTime::from_unix_millis(millis).unwrap();
        let text = instant.to_string();
        prop_assert_eq!(text.len(), 24);
        prop_assert_eq!(text.parse::<DateTime>().unwrap(), instant);
        prop_assert_eq!(instant.to_rfc3339_plus_offset().parse::<DateTime>().unwrap(), instant);
    }

    #[test]
    fn datetime_offsets_agree(millis in 86_400_000u64..=253_402_214_399_000, offset_minutes in -1439i64..=1439) {
        let instant = DateTime::from_unix_millis(millis).unwrap();
        let local = DateTime::from_unix_millis((millis as i64 + offset_minutes * 60_000) as u64).unwrap();
        let local_text = local.to_string();
        let sign = if offset_minutes < 0 { '-' } else { '+' };
        let abs = offset_minutes.unsigned_abs();
        let with_offset = format!("{}{sign}{:02}:{:02}", &local_text[..local_text.len() - 1], abs / 60, abs % 60);
        prop_assert_eq!(with_offset.parse::<DateTime>().unwrap(), instant);
    }

    #[test]
    fn scids_round_trip(value in any::<u64>()) {
        let text = Scid(value).to_string();
        prop_assert_eq!(text.parse::<Scid>().unwrap(), Scid(value));
    }

    #[test]
    fn requests_round_trip(id in any::<[u8; 16]>(), order_id in "[a-zA-Z0-9-]{1,64}", app in "\\PC{0,20}") {
        let id = RequestId::from_entropy(id);
        for request in [
            Request::Lsps1GetOrder(lsps1::GetOrderRequest { order_id: order_id.clone() }),
            Request::Lsps5RemoveWebhook(lsps5::RemoveWebhookRequest { app_name: app.clone() }),
            Request::Lsps0ListProtocols(lsps::lsps0::ListProtocolsRequest {}),
        ] {
            let payload = client::encode_request(&id, &request);
            let incoming = server::decode_request(&payload).unwrap();
            prop_assert_eq!(incoming.id.as_ref(), Some(&id));
            prop_assert_eq!(incoming.into_request(&Protocol::ALL).unwrap(), request);
        }
    }
}
