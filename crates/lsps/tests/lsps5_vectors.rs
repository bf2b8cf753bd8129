//! The `lsps5.*` conformance vectors: the three methods through the server and client paths,
//! the error codes from our validators, the signed-message template, and the signed webhook
//! POSTs, byte for byte.

mod common;

use common::{bytes, hex, vector};
use lsps::bitcoin::secp256k1::{PublicKey, SecretKey};
use lsps::client::{self, IncomingMessage, IncomingResponse};
use lsps::jsonrpc::RpcError;
use lsps::lsps5::{
    signing_message, validate_set_webhook, verify_webhook_request, Lsps5Error, Notification, SignedWebhookRequest,
    WebhookVerifyError, DEFAULT_MAX_SKEW_SECS,
};
use lsps::method::{Method, Protocol, Request, Response};
use lsps::schema::DateTime;
use lsps::server;
use serde_json::Value;

/// The limit the vectors' LSP uses.
const MAX_WEBHOOKS: u32 = 4;

/// Decodes a vector request the way the LSP does.
fn server_request(v: &Value) -> Request {
    let incoming = server::decode_request(&bytes(&v["request"])).expect("valid request");
    assert_eq!(incoming.id.as_ref().and_then(|id| id.as_str()), v["request"]["id"].as_str());
    incoming.into_request(&[Protocol::Lsps5]).expect("known method, valid params")
}

/// Decodes a vector response the way the client does.
fn client_outcome(v: &Value) -> Result<Value, RpcError> {
    match client::decode_message(&bytes(&v["response"])).expect("valid response") {
        IncomingMessage::Response(IncomingResponse { outcome, .. }) => outcome,
        other => panic!("expected a response, got {other:?}"),
    }
}

/// Encodes our answer with the vector's id and compares it with the vector response.
fn assert_server_answers(v: &Value, outcome: Result<&Response, &RpcError>) {
    let id = client::RequestId::String(v["request"]["id"].as_str().unwrap().into());
    let reply = server::encode_response(Some(&id), outcome);
    assert_eq!(serde_json::from_slice::<Value>(&reply).unwrap(), v["response"], "{}", v["id"]);
}

/// A successful method call: the request decodes, the result decodes, and re-encoding our
/// typed result gives back the vector response.
fn check_ok(id: &str, method: Method) -> Request {
    let v = vector(id);
    let request = server_request(v);
    assert_eq!(request.method(), method);
    let response = Response::decode(method, client_outcome(v).unwrap()).unwrap();
    assert_eq!(&response.to_value(), &v["response"]["result"]);
    assert_server_answers(v, Ok(&response));
    request
}

/// An error call: our error encodes to the vector response, and the client reads it back.
fn check_error(id: &str, error: Lsps5Error) {
    let v = vector(id);
    assert_server_answers(v, Err(&error.to_rpc_error()));
    let received = client_outcome(v).unwrap_err();
    assert_eq!(Lsps5Error::from_rpc_error(&received), Some(error));
}

fn set_webhook_params(request: Request) -> lsps::lsps5::SetWebhookRequest {
    match request {
        Request::Lsps5SetWebhook(params) => params,
        other => panic!("expected set_webhook, got {other:?}"),
    }
}

#[test]
fn set_webhook_ok_and_same_again() {
    for id in ["lsps5.set_webhook.ok", "lsps5.set_webhook.same_again"] {
        let params = set_webhook_params(check_ok(id, Method::Lsps5SetWebhook));
        let valid = validate_set_webhook(&params).unwrap();
        assert_eq!(valid.app_name(), "Example Wallet (iPhone)");
        assert_eq!(valid.webhook(), params.webhook);
    }
}

#[test]
fn set_webhook_errors_come_from_our_validators() {
    for (id, expected) in [
        ("lsps5.set_webhook.too_long", Lsps5Error::TooLong),
        ("lsps5.set_webhook.url_parse_error", Lsps5Error::UrlParseError),
        ("lsps5.set_webhook.unsupported_protocol", Lsps5Error::UnsupportedProtocol),
    ] {
        let params = set_webhook_params(server_request(vector(id)));
        let error = validate_set_webhook(&params).unwrap_err();
        assert_eq!(error, expected, "{id}");
        check_error(id, error);
    }
}

#[test]
fn set_webhook_too_many() {
    let id = "lsps5.set_webhook.too_many";
    let params = set_webhook_params(server_request(vector(id)));
    // The request itself is fine; the LSP refuses it for its count.
    assert!(validate_set_webhook(&params).is_ok());
    let error = Lsps5Error::too_many_webhooks(MAX_WEBHOOKS);
    check_error(id, error);
    assert_eq!(vector(id)["response"]["error"]["data"]["max_webhooks"], MAX_WEBHOOKS);
}

#[test]
fn list_webhooks_ok() {
    let request = check_ok("lsps5.list_webhooks.ok", Method::Lsps5ListWebhooks);
    assert_eq!(request, Request::Lsps5ListWebhooks(Default::default()));
}

#[test]
fn remove_webhook_ok_and_not_found() {
    let request = check_ok("lsps5.remove_webhook.ok", Method::Lsps5RemoveWebhook);
    assert!(matches!(request, Request::Lsps5RemoveWebhook(params) if params.app_name == "Example Wallet (iPhone)"));
    let id = "lsps5.remove_webhook.not_found";
    assert!(matches!(server_request(vector(id)), Request::Lsps5RemoveWebhook(params) if params.app_name == "nope"));
    check_error(id, Lsps5Error::AppNameNotFound);
}

#[test]
fn signing_message_spec_example() {
    let v = vector("lsps5.signing_message.spec_example");
    let message =
        signing_message("2023-05-04T10:52:58.395Z", br#"{"jsonrpc":"2.0","method":"lsps5.goodbye","params":{}}"#);
    assert_eq!(message, v["message"].as_str().unwrap().as_bytes());
    assert_eq!(message, hex(v["message_hex"].as_str().unwrap()));
    assert_eq!(Some(message.len() as u64), v["length"].as_u64());
    assert_eq!(message.len(), 138);
}

/// Flips one bit of a zbase32 character's value, keeping it in the alphabet.
fn tamper_zbase32(text: &str, position: usize) -> String {
    const ALPHABET: &str = "ybndrfg8ejkmcpqxot1uwisza345h769";
    let mut chars: Vec<char> = text.chars().collect();
    let value = ALPHABET.find(chars[position]).unwrap();
    chars[position] = ALPHABET.as_bytes()[value ^ 1] as char;
    chars.into_iter().collect()
}

#[test]
fn webhook_posts_are_byte_identical_and_verify() {
    let cases = [
        ("lsps5.webhook_post.webhook_registered", Notification::WebhookRegistered),
        ("lsps5.webhook_post.payment_incoming", Notification::PaymentIncoming),
        ("lsps5.webhook_post.liquidity_management_request", Notification::LiquidityManagementRequest),
        ("lsps5.webhook_post.onion_message_incoming", Notification::OnionMessageIncoming),
    ];
    for (id, notification) in cases {
        let v = vector(id);
        assert_eq!(v["http_method"], "POST");
        let secret_key = SecretKey::from_slice(&hex(v["signer_privkey_hex_TEST_ONLY"].as_str().unwrap())).unwrap();
        let lsp_node_id: PublicKey = v["lsp_node_id"].as_str().unwrap().parse().unwrap();
        let headers = v["headers"].as_object().unwrap();
        let timestamp = headers["x-lsps5-timestamp"].as_str().unwrap();
        let now: DateTime = timestamp.parse().unwrap();

        // The LSP side reproduces the POST exactly.
        let signed = SignedWebhookRequest::new(&notification, now, &secret_key);
        assert_eq!(signed.body, v["body"].as_str().unwrap().as_bytes(), "{id}");
        assert_eq!(signing_message(timestamp, &signed.body), v["signed_message"].as_str().unwrap().as_bytes(), "{id}");
        assert_eq!(signed.headers.len(), headers.len(), "{id}");
        for (name, value) in &signed.headers {
            assert_eq!(Some(value.as_str()), headers[*name].as_str(), "{id}: header {name}");
        }

        // The delivery service accepts the vector's own headers and body.
        let received: Vec<(&str, &str)> =
            headers.iter().map(|(name, value)| (name.as_str(), value.as_str().unwrap())).collect();
        let body = v["body"].as_str().unwrap().as_bytes();
        let check = |headers: &[(&str, &str)], body: &[u8]| {
            verify_webhook_request(headers.iter().copied(), body, &lsp_node_id, now, DEFAULT_MAX_SKEW_SECS)
        };
        assert_eq!(check(&received, body), Ok(notification.clone()), "{id}");

        // One changed body byte: the JSON stays valid, the signature does not.
        let mut changed_body = body.to_vec();
        let last_letter = changed_body.iter().rposition(u8::is_ascii_lowercase).unwrap();
        changed_body[last_letter] = if changed_body[last_letter] == b'a' { b'b' } else { b'a' };
        assert!(matches!(check(&received, &changed_body), Err(WebhookVerifyError::Signature(_))), "{id}: body");

        // A changed timestamp, still inside the window.
        let later = timestamp.replace(".789Z", ".790Z");
        assert_ne!(later, timestamp);
        let with_timestamp = replace_header(&received, "x-lsps5-timestamp", &later);
        assert!(matches!(check(&with_timestamp, body), Err(WebhookVerifyError::Signature(_))), "{id}: timestamp");

        // A changed signature, at the header byte, inside r, and inside s.
        let signature = headers["x-lsps5-signature"].as_str().unwrap();
        for position in [0, 30, 90] {
            let forged = tamper_zbase32(signature, position);
            let with_signature = replace_header(&received, "x-lsps5-signature", &forged);
            assert!(check(&with_signature, body).is_err(), "{id}: signature position {position}");
        }

        // The same POST an hour later is stale.
        let late = now.checked_add_secs(3600).unwrap();
        let stale = verify_webhook_request(received.iter().copied(), body, &lsp_node_id, late, DEFAULT_MAX_SKEW_SECS);
        assert!(matches!(stale, Err(WebhookVerifyError::OutsideWindow { .. })), "{id}: stale");
    }
}

fn replace_header<'a>(headers: &[(&'a str, &'a str)], name: &str, value: &'a str) -> Vec<(&'a str, &'a str)> {
    headers.iter().map(|&(n, v)| if n == name { (n, value) } else { (n, v) }).collect()
}
