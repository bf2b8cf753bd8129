//! The web widget (`[web] enabled`): a page that sells LSPS1 channels to a person with a browser.
//!
//! | path | what |
//! |---|---|
//! | `GET /`, `GET /order/{id}` | the widget page (buy; follow one order) |
//! | `GET /embed`, `GET /embed/order/{id}` | the same, to be framed by the sites in `frame_ancestors` |
//! | `GET /widget/app.js`, `/widget/app.css`, `/widget/embed.js` | its assets, served from the binary |
//! | `GET /widget/api/config` | the network and the LSPS endpoint's path |
//! | `GET /widget/api/confirmations?order_id=&node=` | the funding transaction's confirmations of the node's completed order |
//! | `GET /widget/api/quote?lsp_balance_sat=&client_balance_sat=&channel_expiry_blocks=` | the price now, from the LSPS1 service's own formula ([`Lsps1Service::quote`]) |
//! | `GET /widget/api/qr.svg?text=…` | a QR code as SVG |
//!
//! The page talks to `POST <http.path>` like any HTTP client: `lsps1.get_info`,
//! `lsps1.create_order` and `lsps1.get_order` with the node id the person typed as
//! `x-inbound-node-id` (a browser cannot sign with the wallet's node key, so the widget needs
//! `http.require_node_signature = false`). See `docs/widget.md` for what that binding allows.
//!
//! [`guard`] stands in front of every route: 404 while `[web]` is off, the per-IP rate limit,
//! and the headers below on every answer. Every page and asset carries a Content-Security-Policy without `unsafe-inline` (scripts,
//! styles, images and requests from this origin only), `X-Content-Type-Options: nosniff` and
//! `Referrer-Policy: no-referrer` (an order page's URL names the order).

mod assets;
mod confirmations;
mod qr;
mod quote;

pub use qr::MAX_QR_TEXT_BYTES;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bitcoin::Network;
use inbound_service::lsps1::Lsps1Service;
use serde_json::json;

use crate::app::{rate_limit, HttpState};

/// `[web]`: the widget's settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebConfig {
    /// Origins (`https://shop.example`) that may frame `/embed`; none by default.
    pub frame_ancestors: Vec<String>,
}

/// What the widget's handlers share.
#[derive(Clone)]
pub(crate) struct WebState {
    pub lsps1: Arc<Lsps1Service>,
    pub config: Arc<WebConfig>,
    /// The node's network, for address checks in the page.
    pub network: Network,
}

/// The widget's routes, merged into the app's router, behind [`guard`].
pub(crate) fn routes(state: HttpState) -> Router<HttpState> {
    Router::new()
        .route("/", get(assets::page))
        .route("/order/{id}", get(assets::page))
        .route("/embed", get(assets::embed_page))
        .route("/embed/order/{id}", get(assets::embed_page))
        .route("/widget/app.js", get(assets::app_js))
        .route("/widget/app.css", get(assets::app_css))
        .route("/widget/embed.js", get(assets::embed_js))
        .route("/widget/api/config", get(config))
        .route("/widget/api/quote", get(quote::quote))
        .route("/widget/api/qr.svg", get(qr::qr_svg))
        .route("/widget/api/confirmations", get(confirmations::confirmations))
        .route_layer(middleware::from_fn_with_state(state, guard))
}

/// In front of every widget route: 404 while `[web]` is off, the per-IP rate limit, and the
/// security headers on every answer (refusals included) that has not set its own.
async fn guard(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    if state.web.is_none() {
        return not_served();
    }
    let response = match rate_limit(&state, &request) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    };
    if response.headers().contains_key(header::CONTENT_SECURITY_POLICY) {
        response
    } else {
        secured(response, "'none'")
    }
}

/// The Content-Security-Policy of every widget answer; `frame_ancestors` is `'none'` or the
/// embedding sites.
pub(crate) fn csp(frame_ancestors: &str) -> String {
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors {frame_ancestors}"
    )
}

/// `response` with the widget's security headers (`frame_ancestors` as in [`csp`]).
pub(crate) fn secured(mut response: Response, frame_ancestors: &str) -> Response {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&csp(frame_ancestors)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if frame_ancestors == "'none'" {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

/// The answer to every widget path while `[web]` is off.
pub(crate) fn not_served() -> Response {
    axum::http::StatusCode::NOT_FOUND.into_response()
}

async fn config(State(state): State<HttpState>) -> Response {
    let Some(web) = &state.web else { return not_served() };
    let network = match web.network {
        Network::Bitcoin => "bitcoin",
        Network::Testnet | Network::Testnet4 => "testnet",
        Network::Signet => "signet",
        Network::Regtest => "regtest",
    };
    Json(json!({ "network": network, "lsps_path": state.config.path })).into_response()
}
