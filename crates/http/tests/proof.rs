//! The node-id proof headers and `X-Forwarded-For` through the router.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use inbound_http::{app, HttpConfig, HttpState, NODE_ID_MEMBER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use inbound_service::{BoxFuture, LspsServer, LspsServerConfig, ProtocolHandler};
use lsps::jsonrpc::RpcError;
use lsps::lsps2::GetInfoResponse;
use lsps::method::{Protocol, Request as LspsRequest, Response as LspsResponse};
use lsps::node_proof::sign_request;
use serde_json::{json, Value};
use tower::ServiceExt;

/// An LSPS2 handler that records who asked.
#[derive(Default)]
struct Recording(Mutex<Vec<PublicKey>>);

impl ProtocolHandler for Recording {
    fn protocol(&self) -> Protocol {
        Protocol::Lsps2
    }

    fn handle(&self, peer: PublicKey, request: LspsRequest) -> BoxFuture<'static, Result<LspsResponse, RpcError>> {
        self.0.lock().unwrap().push(peer);
        Box::pin(async move {
            match request {
                LspsRequest::Lsps2GetInfo(_) => {
                    Ok(LspsResponse::Lsps2GetInfo(GetInfoResponse { opening_fee_params_menu: vec![] }))
                }
                _ => Err(RpcError::internal_error()),
            }
        })
    }
}

fn setup(config: HttpConfig) -> (axum::Router, Arc<Recording>) {
    let server = LspsServer::new(LspsServerConfig { enabled_protocols: vec![Protocol::Lsps2], ..Default::default() });
    let handler = Arc::new(Recording::default());
    server.register(Arc::clone(&handler) as Arc<dyn ProtocolHandler>);
    (app(HttpState::new(server, config).expect("valid config")), handler)
}

fn node_key() -> (SecretKey, PublicKey) {
    let secret = SecretKey::from_slice(&[0x42; 32]).unwrap();
    (secret, secret.public_key(&Secp256k1::signing_only()))
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn body(id: &str, method: &str, node_id: Option<PublicKey>) -> Vec<u8> {
    let mut request = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": {}});
    if let Some(node_id) = node_id {
        request[NODE_ID_MEMBER] = json!(node_id.to_string());
    }
    serde_json::to_vec(&request).unwrap()
}

fn post(body: Vec<u8>, proof: Option<(String, String)>) -> Request<Body> {
    let mut builder = Request::post("/lsps").header(header::CONTENT_TYPE, "application/json");
    if let Some((timestamp, signature)) = proof {
        builder = builder.header(TIMESTAMP_HEADER, timestamp).header(SIGNATURE_HEADER, signature);
    }
    builder.body(Body::from(body)).unwrap()
}

fn signed(key: &SecretKey, timestamp: u64, body: Vec<u8>) -> Request<Body> {
    let signature = sign_request(key, timestamp, &body);
    post(body, Some((timestamp.to_string(), signature)))
}

async fn answer(router: &axum::Router, request: Request<Body>) -> Value {
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn assert_invalid(answer: &Value, property: &str) {
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    assert_eq!(answer["error"]["data"]["property"], property, "{answer}");
}

#[tokio::test]
async fn a_valid_proof_is_accepted_once() {
    let (router, handler) = setup(HttpConfig { require_node_signature: true, ..HttpConfig::default() });
    let (key, node_id) = node_key();
    let request = body("a", "lsps2.get_info", Some(node_id));
    let timestamp = now();
    let first = answer(&router, signed(&key, timestamp, request.clone())).await;
    assert!(first["result"].is_object(), "{first}");
    assert_eq!(*handler.0.lock().unwrap(), vec![node_id]);
    let replay = answer(&router, signed(&key, timestamp, request)).await;
    assert_invalid(&replay, SIGNATURE_HEADER);
    assert!(replay["error"]["data"]["message"].as_str().unwrap().contains("replayed"));
    // A new request (new id) signed at the same second is fine.
    let again = answer(&router, signed(&key, timestamp, body("b", "lsps2.get_info", Some(node_id)))).await;
    assert!(again["result"].is_object(), "{again}");
    assert_eq!(handler.0.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn invalid_proofs_are_refused_even_when_not_required() {
    let (router, handler) = setup(HttpConfig::default());
    let (key, node_id) = node_key();
    let other = SecretKey::from_slice(&[0x43; 32]).unwrap();
    let request = body("a", "lsps2.get_info", Some(node_id));
    let t = now();
    // Someone else's key.
    assert_invalid(&answer(&router, signed(&other, t, request.clone())).await, SIGNATURE_HEADER);
    // Signed over another body.
    let signature = sign_request(&key, t, &body("z", "lsps2.get_info", Some(node_id)));
    assert_invalid(&answer(&router, post(request.clone(), Some((t.to_string(), signature)))).await, SIGNATURE_HEADER);
    // Garbage signature, bad timestamp, one header without the other.
    assert_invalid(
        &answer(&router, post(request.clone(), Some((t.to_string(), "nonsense".into())))).await,
        SIGNATURE_HEADER,
    );
    let signature = sign_request(&key, t, &request);
    assert_invalid(
        &answer(&router, post(request.clone(), Some(("-1".into(), signature.clone())))).await,
        TIMESTAMP_HEADER,
    );
    let only_sig = Request::post("/lsps")
        .header(header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature)
        .body(Body::from(request.clone()))
        .unwrap();
    assert_invalid(&answer(&router, only_sig).await, TIMESTAMP_HEADER);
    // Expired and future proofs.
    assert_invalid(&answer(&router, signed(&key, t - 400, request.clone())).await, TIMESTAMP_HEADER);
    assert_invalid(&answer(&router, signed(&key, t + 400, request.clone())).await, TIMESTAMP_HEADER);
    // A proof with no node id to prove.
    let anonymous = body("c", "lsps0.list_protocols", None);
    assert_invalid(&answer(&router, signed(&key, t, anonymous)).await, NODE_ID_MEMBER);
    assert!(handler.0.lock().unwrap().is_empty(), "nothing reached the handler");
    // Not required: no proof at all is still fine.
    assert!(answer(&router, post(request, None)).await["result"].is_object());
}

#[tokio::test]
async fn required_proofs_bind_methods_only() {
    let (router, handler) = setup(HttpConfig { require_node_signature: true, ..HttpConfig::default() });
    let (_, node_id) = node_key();
    let refused = answer(&router, post(body("a", "lsps2.get_info", Some(node_id)), None)).await;
    assert_invalid(&refused, SIGNATURE_HEADER);
    assert!(handler.0.lock().unwrap().is_empty());
    // list_protocols needs none, with or without an (unproven, so ignored) node id.
    for node in [None, Some(node_id)] {
        let listed = answer(&router, post(body("b", "lsps0.list_protocols", node), None)).await;
        assert_eq!(listed["result"], json!({"protocols": [2]}));
    }
}

#[tokio::test]
async fn forwarded_for_is_only_believed_from_trusted_proxies() {
    let config = HttpConfig {
        rate_burst: 1,
        rate_per_second: 1,
        trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
        ..HttpConfig::default()
    };
    let (router, _) = setup(config);
    let from = |peer: [u8; 4], forwarded: Option<&str>| {
        let mut request = post(body("x", "lsps0.list_protocols", None), None);
        if let Some(forwarded) = forwarded {
            request.headers_mut().insert("x-forwarded-for", forwarded.parse().unwrap());
        }
        request.extensions_mut().insert(ConnectInfo(SocketAddr::from((peer, 4242))));
        request
    };
    let status = |request: Request<Body>| {
        let router = router.clone();
        async move { router.oneshot(request).await.unwrap().status() }
    };
    // Two clients behind the proxy have their own buckets.
    assert_eq!(status(from([10, 0, 0, 1], Some("198.51.100.1"))).await, StatusCode::OK);
    assert_eq!(status(from([10, 0, 0, 1], Some("198.51.100.2"))).await, StatusCode::OK);
    assert_eq!(status(from([10, 0, 0, 1], Some("198.51.100.1"))).await, StatusCode::TOO_MANY_REQUESTS);
    // A forged left entry does not buy a new bucket: the right-most untrusted one counts.
    assert_eq!(status(from([10, 0, 0, 1], Some("203.0.113.77, 198.51.100.2"))).await, StatusCode::TOO_MANY_REQUESTS);
    // An untrusted peer's header is ignored: its own address is its bucket.
    assert_eq!(status(from([192, 0, 2, 9], Some("203.0.113.1"))).await, StatusCode::OK);
    assert_eq!(status(from([192, 0, 2, 9], Some("203.0.113.2"))).await, StatusCode::TOO_MANY_REQUESTS);
    // The proxy's own requests without a header count as the proxy.
    assert_eq!(status(from([10, 0, 0, 1], None)).await, StatusCode::OK);
    assert_eq!(status(from([10, 0, 0, 1], None)).await, StatusCode::TOO_MANY_REQUESTS);
}
