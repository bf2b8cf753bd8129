//! The router: [`app`] and its one handler.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, LazyLock};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{header, HeaderValue, Method as HttpMethod, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use bitcoin::secp256k1::PublicKey;
use lsps::jsonrpc::RpcError;
use lsps::method::{Method, Protocol};
use lsps::server::{decode_request, encode_response};
use serde_json::Value;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::debug;

use crate::config::{HttpConfig, HttpConfigError};
use crate::error::ApiError;
use crate::rate::RateLimiter;

/// The top-level envelope member that carries the client's node id (an Inbound extension).
pub const NODE_ID_MEMBER: &str = "x-inbound-node-id";

/// The pseudo-peer of requests that carry no node id and need none: the secp256k1 generator
/// (secret key 1, so nobody's real node). It may not be claimed as a node id.
pub static ANONYMOUS_PEER: LazyLock<PublicKey> = LazyLock::new(|| {
    "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798".parse().expect("the generator point")
});

/// What [`app`] needs: the dispatcher shared with the peer transport, and the limits.
#[derive(Clone)]
pub struct HttpState {
    /// The same server that answers type-37913 messages.
    server: Arc<inbound_service::LspsServer>,
    /// Checked settings.
    config: Arc<HttpConfig>,
    /// Per-IP request budget, shared by every connection.
    limiter: Arc<RateLimiter>,
}

impl HttpState {
    /// State for [`app`] around `server`, once `config` is [validated](HttpConfig::validate).
    pub fn new(server: Arc<inbound_service::LspsServer>, config: HttpConfig) -> Result<HttpState, HttpConfigError> {
        config.validate()?;
        let limiter = RateLimiter::new(config.rate_burst, config.rate_per_second, config.max_tracked_ips);
        Ok(HttpState { server, config: Arc::new(config), limiter: Arc::new(limiter) })
    }
}

/// The router: `POST <path>` answers one LSPS JSON-RPC request (see the crate documentation),
/// with CORS for the configured origins.
pub fn app(state: HttpState) -> Router {
    let config = Arc::clone(&state.config);
    let router = Router::new()
        .route(&config.path, post(lsps_endpoint))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .with_state(state);
    if config.cors_allowed_origins.is_empty() {
        return router;
    }
    let origins = config.cors_allowed_origins.iter().filter_map(|origin| HeaderValue::from_str(origin).ok());
    router.layer(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([HttpMethod::POST])
            .allow_headers([header::CONTENT_TYPE])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

async fn lsps_endpoint(State(state): State<HttpState>, request: Request) -> Result<Response, ApiError> {
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| addr.ip());
    if !state.limiter.allow(ip) {
        debug!(%ip, "rate limited");
        return Err(ApiError::RateLimited);
    }
    if !is_json(request.headers().get(header::CONTENT_TYPE)) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let body = match tokio::time::timeout(state.config.body_timeout, Bytes::from_request(request, &())).await {
        Err(_) => return Err(ApiError::BodyTimeout),
        Ok(Err(rejection)) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(ApiError::PayloadTooLarge)
        }
        Ok(Err(_)) => return Err(ApiError::BadBody),
        Ok(Ok(body)) => body,
    };
    let answer = match client_identity(&state, &body) {
        Ok(peer) => state.server.call(peer, &body).await,
        Err(refusal) => Some(refusal),
    };
    Ok(match answer {
        Some(answer) => ([(header::CONTENT_TYPE, "application/json")], Body::from(answer)).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// `application/json`, with or without parameters such as `charset`.
fn is_json(content_type: Option<&HeaderValue>) -> bool {
    let Some(Ok(value)) = content_type.map(HeaderValue::to_str) else { return false };
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// The peer to dispatch as, or the encoded -32602 answer when the node id is malformed or
/// missing for a method that needs it. Bodies that fail LSPS0's format checks, notifications
/// and methods this LSP does not serve go to the dispatcher as they are, so they get the
/// same answers as over BOLT8 (-32700, none, -32601).
fn client_identity(state: &HttpState, body: &[u8]) -> Result<PublicKey, Vec<u8>> {
    let Ok(incoming) = decode_request(body) else { return Ok(*ANONYMOUS_PEER) };
    let Some(id) = incoming.id else { return Ok(*ANONYMOUS_PEER) };
    let refuse =
        |message: &str| Err(encode_response(Some(&id), Err(&RpcError::invalid_param(NODE_ID_MEMBER, message))));
    // The body is one JSON object: decode_request checked.
    let claimed = serde_json::from_slice::<serde_json::Map<String, Value>>(body)
        .ok()
        .and_then(|mut object| object.remove(NODE_ID_MEMBER));
    match claimed {
        Some(Value::String(hex)) => match parse_node_id(&hex) {
            Some(peer) => Ok(peer),
            None => refuse("must be a 33-byte compressed secp256k1 public key in hex (66 characters)"),
        },
        Some(_) => refuse("must be a string of 66 hex characters"),
        None => match Method::from_name(&incoming.method) {
            Some(method) if needs_identity(method) && state.server.served_protocols().contains(&method.protocol()) => {
                refuse("missing: this method is bound to the client's node id")
            }
            _ => Ok(*ANONYMOUS_PEER),
        },
    }
}

fn parse_node_id(hex: &str) -> Option<PublicKey> {
    let valid_shape = hex.len() == 66 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    let peer: PublicKey = hex.parse().ok().filter(|_| valid_shape)?;
    (peer != *ANONYMOUS_PEER).then_some(peer)
}

/// Every method but the two that only describe the LSP binds its answer or its effect to the
/// client.
fn needs_identity(method: Method) -> bool {
    !(method.protocol() == Protocol::Lsps0 || method == Method::Lsps1GetInfo)
}
