//! The router: [`app`], the LSPS endpoint's handler, and the LNURL routes (`lnurl.rs`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method as HttpMethod, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use lsps::node_proof::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::debug;

use crate::address::{note_client_address, NODE_ADDRESS_MEMBER};
use crate::config::{HttpConfig, HttpConfigError};
use crate::error::ApiError;
use crate::forwarded::client_ip;
use crate::identity::{client_identity, ProofHeaders, Refusal};
use crate::lnurl::{self, LnurlState};
use crate::rate::RateLimiter;
use crate::replay::ReplayCache;
use inbound_service::vouchers::{LnurlConfig, LNURL_PREFIX};

/// The most node-id proofs remembered against replay (each for at most 10 minutes).
pub const MAX_REMEMBERED_PROOFS: usize = 100_000;

/// The `X-Forwarded-For` header.
const FORWARDED_FOR: &str = "x-forwarded-for";

/// What [`app`] needs: the dispatcher shared with the peer transport, and the limits.
#[derive(Clone)]
pub struct HttpState {
    /// The same server that answers type-37913 messages.
    pub(crate) server: Arc<inbound_service::LspsServer>,
    /// Checked settings.
    pub(crate) config: Arc<HttpConfig>,
    /// Per-IP request budget, shared by every connection.
    limiter: Arc<RateLimiter>,
    /// Node-id proofs already used.
    pub(crate) replay: Arc<ReplayCache>,
    /// Where clients said their nodes listen, if an LSPS service uses it.
    pub(crate) addresses: Option<Arc<inbound_service::PeerAddressBook>>,
    /// LNURL-channel for vouchers, if served.
    pub(crate) lnurl: Option<LnurlState>,
    /// The web widget, if served.
    pub(crate) web: Option<crate::web::WebState>,
}

impl HttpState {
    /// State for [`app`] around `server`, once `config` is [validated](HttpConfig::validate).
    pub fn new(server: Arc<inbound_service::LspsServer>, config: HttpConfig) -> Result<HttpState, HttpConfigError> {
        config.validate()?;
        let limiter = RateLimiter::new(config.rate_burst, config.rate_per_second, config.max_tracked_ips);
        let replay = Arc::new(ReplayCache::new(MAX_REMEMBERED_PROOFS));
        Ok(HttpState {
            server,
            config: Arc::new(config),
            limiter: Arc::new(limiter),
            replay,
            addresses: None,
            lnurl: None,
            web: None,
        })
    }

    /// Remembers the `x-inbound-node-address` of clients in `book` (the LSPS1 service's
    /// `client_addresses`). Without a book the address is checked and then ignored.
    pub fn with_address_book(mut self, book: Arc<inbound_service::PeerAddressBook>) -> HttpState {
        self.addresses = Some(book);
        self
    }

    /// Serves the web widget (`/`, `/order/…`, `/embed…`, `/widget/…`, see [`crate::web`]),
    /// which sells `lsps1`'s channels on a node of `network`.
    pub fn with_web(
        mut self,
        lsps1: Arc<inbound_service::lsps1::Lsps1Service>,
        config: crate::web::WebConfig,
        network: bitcoin::Network,
    ) -> HttpState {
        self.web = Some(crate::web::WebState { lsps1, config: Arc::new(config), network });
        self
    }

    /// Serves LNURL-channel (`/lnurlc/…`) for `vouchers`, reached at `config`'s public URL.
    pub fn with_lnurl(mut self, vouchers: Arc<inbound_service::vouchers::Vouchers>, config: LnurlConfig) -> HttpState {
        self.lnurl = Some(LnurlState { vouchers, config: Arc::new(config) });
        self
    }
}

/// The router: `POST <path>` answers one LSPS JSON-RPC request (see the crate documentation),
/// with CORS for the configured origins; `GET /lnurlc/…` serves vouchers when
/// [`HttpState::with_lnurl`] set them.
pub fn app(state: HttpState) -> Router {
    let config = Arc::clone(&state.config);
    let router = Router::new()
        .route(&config.path, post(lsps_endpoint))
        .route(&format!("{LNURL_PREFIX}/callback"), get(lnurl::callback))
        .route(&format!("{LNURL_PREFIX}/{{k1}}"), get(lnurl::channel_request))
        .merge(crate::web::routes(state.clone()))
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
            .allow_headers([
                header::CONTENT_TYPE,
                HeaderName::from_static(SIGNATURE_HEADER),
                HeaderName::from_static(TIMESTAMP_HEADER),
                HeaderName::from_static(NODE_ADDRESS_MEMBER),
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// Takes one token from the client IP's bucket (the TCP peer, or the client named by trusted
/// proxies' `X-Forwarded-For`); [`ApiError::RateLimited`] when it is empty.
pub(crate) fn rate_limit(state: &HttpState, request: &Request) -> Result<(), ApiError> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| addr.ip());
    let forwarded = request.headers().get_all(FORWARDED_FOR).iter().filter_map(|value| value.to_str().ok());
    let ip = client_ip(peer, forwarded, &state.config.trusted_proxies);
    if state.limiter.allow(ip) {
        Ok(())
    } else {
        debug!(%ip, path = request.uri().path(), "rate limited");
        Err(ApiError::RateLimited)
    }
}

/// The request's query parameters, decoded.
pub(crate) fn query_pairs(request: &Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes()).into_owned().collect()
}

async fn lsps_endpoint(State(state): State<HttpState>, request: Request) -> Result<Response, ApiError> {
    rate_limit(&state, &request)?;
    if !is_json(request.headers().get(header::CONTENT_TYPE)) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let proof = ProofHeaders {
        signature: request.headers().get(SIGNATURE_HEADER).cloned(),
        timestamp: request.headers().get(TIMESTAMP_HEADER).cloned(),
    };
    let address_header = request.headers().get(NODE_ADDRESS_MEMBER).cloned();
    let body = match tokio::time::timeout(state.config.body_timeout, Bytes::from_request(request, &())).await {
        Err(_) => return Err(ApiError::BodyTimeout),
        Ok(Err(rejection)) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(ApiError::PayloadTooLarge)
        }
        Ok(Err(_)) => return Err(ApiError::BadBody),
        Ok(Ok(body)) => body,
    };
    let answer = match client_identity(&state, &proof, &body) {
        Ok(peer) => match note_client_address(&state, peer, address_header.as_ref(), &body) {
            Ok(()) => state.server.call(peer, &body).await,
            Err(Refusal::Answer(refusal)) => Some(refusal),
            Err(Refusal::Busy) => return Err(ApiError::RateLimited),
        },
        Err(Refusal::Answer(refusal)) => Some(refusal),
        Err(Refusal::Busy) => return Err(ApiError::RateLimited),
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
