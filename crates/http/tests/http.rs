//! The HTTP transport end to end: `oneshot` through the router, and one real socket.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use axum::response::Response;
use bitcoin::secp256k1::PublicKey;
use inbound_http::{app, serve, HttpConfig, HttpState, ANONYMOUS_PEER, NODE_ADDRESS_MEMBER, NODE_ID_MEMBER};
use inbound_service::{BoxFuture, LspsServer, LspsServerConfig, PeerAddressBook, ProtocolHandler};
use lsps::jsonrpc::RpcError;
use lsps::lsps2::GetInfoResponse;
use lsps::method::{Protocol, Request as LspsRequest, Response as LspsResponse};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

const CLIENT: &str = "033dd22479352d5df4cd36f088ad2134c4758aac4713707ce43e72c0ac91938061";

/// An LSPS2 handler that records who asked and answers `get_info` with an empty menu.
#[derive(Default)]
struct RecordingLsps2(Mutex<Vec<PublicKey>>);

impl ProtocolHandler for RecordingLsps2 {
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

fn setup(config: HttpConfig) -> (axum::Router, Arc<LspsServer>, Arc<RecordingLsps2>) {
    let server = LspsServer::new(LspsServerConfig { enabled_protocols: vec![Protocol::Lsps2], ..Default::default() });
    let handler = Arc::new(RecordingLsps2::default());
    server.register(Arc::clone(&handler) as Arc<dyn ProtocolHandler>);
    let state = HttpState::new(Arc::clone(&server), config).expect("valid config");
    (app(state), server, handler)
}

fn post(body: impl Into<Body>) -> Request<Body> {
    Request::post("/lsps").header(header::CONTENT_TYPE, "application/json").body(body.into()).unwrap()
}

fn rpc(method: &str, node_id: Option<Value>) -> Vec<u8> {
    let mut request = json!({"jsonrpc": "2.0", "id": "r1", "method": method, "params": {}});
    if let Some(node_id) = node_id {
        request[NODE_ID_MEMBER] = node_id;
    }
    serde_json::to_vec(&request).unwrap()
}

async fn send(router: &axum::Router, request: Request<Body>) -> (StatusCode, Response) {
    let response = router.clone().oneshot(request).await.unwrap();
    (response.status(), response)
}

async fn json_body(response: Response) -> Value {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn list_protocols_needs_no_node_id() {
    let (router, server, _) = setup(HttpConfig::default());
    let (status, response) = send(&router, post(rpc("lsps0.list_protocols", None))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(json_body(response).await, json!({"jsonrpc": "2.0", "id": "r1", "result": {"protocols": [2]}}));
    assert_eq!(server.stats().requests, 1, "it went through the dispatcher");
}

#[tokio::test]
async fn every_bad_message_format_vector_gets_parse_error_with_status_200() {
    let vectors: Value = serde_json::from_str(include_str!("../../lsps/tests/vectors.json")).unwrap();
    let family: Vec<&Value> = vectors["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["id"].as_str().unwrap().starts_with("lsps0.bad_message_format."))
        .collect();
    assert!(family.len() >= 7);
    let (router, server, handler) = setup(HttpConfig::default());
    for vector in &family {
        let hex = vector["payload_hex"].as_str().unwrap();
        let payload: Vec<u8> =
            (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
        let (status, response) = send(&router, post(payload)).await;
        assert_eq!(status, StatusCode::OK, "{}", vector["id"]);
        assert_eq!(json_body(response).await, vector["expected_lsp_response"], "{}", vector["id"]);
    }
    assert_eq!(server.stats().parse_errors, family.len() as u64);
    assert!(handler.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_registered_handler_is_reached_as_the_claimed_node() {
    let (router, server, handler) = setup(HttpConfig::default());
    let (status, response) = send(&router, post(rpc("lsps2.get_info", Some(json!(CLIENT))))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json_body(response).await,
        json!({"jsonrpc": "2.0", "id": "r1", "result": {"opening_fee_params_menu": []}})
    );
    assert_eq!(*handler.0.lock().unwrap(), vec![CLIENT.parse::<PublicKey>().unwrap()]);
    assert_eq!(server.stats().pending, 0);
}

#[tokio::test]
async fn a_missing_or_invalid_node_id_is_invalid_params() {
    let (router, server, handler) = setup(HttpConfig::default());
    let upper = CLIENT.to_uppercase();
    for (method, node_id) in [
        ("lsps2.get_info", None),
        ("lsps2.buy", None),
        ("lsps2.get_info", Some(json!("02abcd"))),
        ("lsps2.get_info", Some(json!(format!("{CLIENT}00")))),
        ("lsps2.get_info", Some(json!(CLIENT.replacen("03", "05", 1)))),
        ("lsps2.get_info", Some(json!(42))),
        ("lsps2.get_info", Some(json!(ANONYMOUS_PEER.to_string()))),
    ] {
        let (status, response) = send(&router, post(rpc(method, node_id.clone()))).await;
        assert_eq!(status, StatusCode::OK);
        let answer = json_body(response).await;
        assert_eq!(answer["id"], "r1");
        assert_eq!(answer["error"]["code"], -32602, "{method} {node_id:?}");
        assert_eq!(answer["error"]["data"]["property"], NODE_ID_MEMBER);
    }
    assert!(handler.0.lock().unwrap().is_empty());
    assert_eq!(server.stats().requests, 0, "refused before the dispatcher");
    // Hex case does not matter; an unserved protocol is -32601, not a missing node id.
    let (_, response) = send(&router, post(rpc("lsps2.get_info", Some(json!(upper))))).await;
    assert!(json_body(response).await["result"].is_object());
    let (_, response) = send(&router, post(rpc("lsps5.list_webhooks", None))).await;
    assert_eq!(json_body(response).await["error"]["code"], -32601);
    // A malformed body is -32700 even with a bad node id.
    let (_, response) =
        send(&router, post(r#"{"jsonrpc":"1.0","id":"x","method":"lsps2.buy","x-inbound-node-id":1}"#)).await;
    assert_eq!(json_body(response).await["error"]["code"], -32700);
}

/// Proves: `x-inbound-node-address` (member, else header) is checked and remembered for the
/// request's node id; a malformed one is -32602 naming it and reaches no handler; an
/// anonymous request's address is ignored.
#[tokio::test]
async fn the_node_address_is_checked_and_remembered_for_the_node() {
    let server = LspsServer::new(LspsServerConfig { enabled_protocols: vec![Protocol::Lsps2], ..Default::default() });
    let handler = Arc::new(RecordingLsps2::default());
    server.register(Arc::clone(&handler) as Arc<dyn ProtocolHandler>);
    let book = Arc::new(PeerAddressBook::new());
    let state = HttpState::new(Arc::clone(&server), HttpConfig::default()).expect("config");
    let router = app(state.with_address_book(Arc::clone(&book)));
    let client: PublicKey = CLIENT.parse().unwrap();
    let with_address = |address: Value| {
        let mut body: Value = serde_json::from_slice(&rpc("lsps2.get_info", Some(json!(CLIENT)))).unwrap();
        body[NODE_ADDRESS_MEMBER] = address;
        serde_json::to_vec(&body).unwrap()
    };
    for bad in [json!("no-port"), json!("host:0"), json!(7), json!(format!("{}:1", "a".repeat(300)))] {
        let (_, response) = send(&router, post(with_address(bad.clone()))).await;
        let answer = json_body(response).await;
        assert_eq!(answer["error"]["code"], -32602, "{bad}");
        assert_eq!(answer["error"]["data"]["property"], NODE_ADDRESS_MEMBER, "{bad}");
    }
    assert!(handler.0.lock().unwrap().is_empty() && book.is_empty());
    let (_, response) = send(&router, post(with_address(json!("203.0.113.7:9735")))).await;
    assert!(json_body(response).await["result"].is_object());
    assert_eq!(book.get(&client).as_deref(), Some("203.0.113.7:9735"));
    let mut request = post(rpc("lsps2.get_info", Some(json!(CLIENT))));
    request.headers_mut().insert(NODE_ADDRESS_MEMBER, "[2001:db8::1]:9735".parse().unwrap());
    let (_, response) = send(&router, request).await;
    assert!(json_body(response).await["result"].is_object());
    assert_eq!(book.get(&client).as_deref(), Some("[2001:db8::1]:9735"), "the header form");
    let mut anonymous = post(rpc("lsps0.list_protocols", None));
    anonymous.headers_mut().insert(NODE_ADDRESS_MEMBER, "198.51.100.1:9735".parse().unwrap());
    send(&router, anonymous).await;
    assert_eq!(book.len(), 1, "anonymous addresses are ignored");
}

#[tokio::test]
async fn notifications_get_204() {
    let (router, server, _) = setup(HttpConfig::default());
    let (status, response) =
        send(&router, post(r#"{"jsonrpc":"2.0","method":"lsps0.list_protocols","params":{}}"#)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(axum::body::to_bytes(response.into_body(), 1).await.unwrap().is_empty());
    assert_eq!(server.stats().notifications, 1);
}

#[tokio::test]
async fn oversized_bodies_get_413_and_the_limit_itself_passes() {
    let (router, _, _) = setup(HttpConfig::default());
    let padded = |len: usize| {
        let mut body = br#"{"jsonrpc":"2.0","id":"r1","method":"lsps0.list_protocols","params":{}"#.to_vec();
        body.resize(len - 1, b' ');
        body.push(b'}');
        body
    };
    let (status, _) = send(&router, post(padded(65_533))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, response) = send(&router, post(padded(65_534))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json_body(response).await, json!({"error": "request body too large"}));
}

#[tokio::test]
async fn other_content_types_get_415() {
    let (router, server, _) = setup(HttpConfig::default());
    for content_type in [None, Some("text/plain"), Some("application/jsonx")] {
        let mut request = Request::post("/lsps");
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let (status, _) = send(&router, request.body(Body::from(rpc("lsps0.list_protocols", None))).unwrap()).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type:?}");
    }
    let request = Request::post("/lsps")
        .header(header::CONTENT_TYPE, "Application/JSON; charset=utf-8")
        .body(Body::from(rpc("lsps0.list_protocols", None)))
        .unwrap();
    assert_eq!(send(&router, request).await.0, StatusCode::OK);
    assert_eq!(server.stats().requests, 1);
}

#[tokio::test]
async fn each_ip_has_its_own_token_bucket() {
    let (router, _, _) = setup(HttpConfig { rate_burst: 2, rate_per_second: 1, ..HttpConfig::default() });
    let from = |ip: [u8; 4]| {
        let mut request = post(rpc("lsps0.list_protocols", None));
        request.extensions_mut().insert(ConnectInfo(SocketAddr::from((ip, 4242))));
        request
    };
    assert_eq!(send(&router, from([192, 0, 2, 1])).await.0, StatusCode::OK);
    assert_eq!(send(&router, from([192, 0, 2, 1])).await.0, StatusCode::OK);
    let (status, response) = send(&router, from([192, 0, 2, 1])).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    assert_eq!(send(&router, from([192, 0, 2, 2])).await.0, StatusCode::OK, "another IP is not limited");
}

#[tokio::test]
async fn cors_preflight_allows_configured_origins_only() {
    let config = HttpConfig { cors_allowed_origins: vec!["https://wallet.example".into()], ..HttpConfig::default() };
    let (router, _, _) = setup(config);
    let preflight = |origin: &str| {
        Request::options("/lsps")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
            .body(Body::empty())
            .unwrap()
    };
    let (status, allowed) = send(&router, preflight("https://wallet.example")).await;
    assert!(status.is_success());
    assert_eq!(allowed.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://wallet.example");
    assert!(allowed.headers()[header::ACCESS_CONTROL_ALLOW_METHODS].to_str().unwrap().contains("POST"));
    let (_, refused) = send(&router, preflight("https://evil.example")).await;
    assert!(refused.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    // The default configuration serves no CORS at all.
    let (router, _, _) = setup(HttpConfig::default());
    let (_, response) = send(&router, preflight("https://wallet.example")).await;
    assert!(response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}

#[tokio::test]
async fn bad_configurations_are_refused() {
    let server = LspsServer::new(LspsServerConfig::default());
    for config in [
        HttpConfig { path: "lsps".into(), ..HttpConfig::default() },
        HttpConfig { path: "/{x}".into(), ..HttpConfig::default() },
        HttpConfig { rate_burst: 0, ..HttpConfig::default() },
        HttpConfig { cors_allowed_origins: vec!["*".into()], ..HttpConfig::default() },
        HttpConfig { cors_allowed_origins: vec!["https://a.example/".into()], ..HttpConfig::default() },
    ] {
        assert!(HttpState::new(Arc::clone(&server), config).is_err());
    }
}

#[tokio::test]
async fn serves_over_a_real_socket_with_a_custom_path_and_shuts_down() {
    let server = LspsServer::new(LspsServerConfig { enabled_protocols: vec![Protocol::Lsps2], ..Default::default() });
    let handler = Arc::new(RecordingLsps2::default());
    server.register(Arc::clone(&handler) as Arc<dyn ProtocolHandler>);
    let state = HttpState::new(server, HttpConfig { path: "/v1/lsps".into(), ..HttpConfig::default() }).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(serve(listener, state, async move {
        let _ = stopped.await;
    }));

    let body = rpc("lsps2.get_info", Some(json!(CLIENT)));
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/lsps HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    let answer: Value = serde_json::from_str(raw.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(answer["result"], json!({"opening_fee_params_menu": []}));
    assert_eq!(*handler.0.lock().unwrap(), vec![CLIENT.parse::<PublicKey>().unwrap()]);

    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(5), serving).await.unwrap().unwrap().unwrap();
}
