//! The web widget's routes through the router: the pages and assets with their security
//! headers, the QR and config endpoints, the quote's refusals, 404 without `[web]`, and the
//! paths the widget reserves. The page in a browser, and the quote against a running node, are
//! tested in `crates/inbound/tests/widget_browser.rs`.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::{header, Request, StatusCode};
use axum::response::Response;
use inbound_http::web::WebConfig;
use inbound_http::{app, HttpConfig, HttpConfigError, HttpState};
use inbound_service::lsps1::{Lsps1Config, Lsps1Service};
use inbound_service::{Clock, LspsServer, LspsServerConfig, SystemClock};
use serde_json::Value;
use tower::ServiceExt;

async fn router(web: bool) -> axum::Router {
    let server = LspsServer::new(LspsServerConfig::default());
    let mut state = HttpState::new(server, HttpConfig::default()).expect("valid config");
    if web {
        let store = inbound_store::open("sqlite::memory:").await.expect("a store");
        let lsps1 = Lsps1Service::new(Lsps1Config::default(), store, Arc::new(SystemClock) as Arc<dyn Clock>)
            .expect("LSPS1 config");
        let config = WebConfig { frame_ancestors: vec!["https://shop.example".into()] };
        state = state.with_web(lsps1, config, bitcoin::Network::Regtest);
    }
    app(state)
}

async fn get(router: &axum::Router, uri: &str) -> Response {
    router.clone().oneshot(Request::get(uri).body(Body::empty()).expect("request")).await.expect("answer")
}

fn header_of(response: &Response, name: header::HeaderName) -> String {
    response.headers().get(name).map(|value| value.to_str().expect("ASCII").to_owned()).unwrap_or_default()
}

async fn body(response: Response) -> String {
    String::from_utf8(to_bytes(response.into_body(), 1 << 20).await.expect("body").to_vec()).expect("UTF-8")
}

#[tokio::test]
async fn pages_and_assets_carry_a_strict_policy() {
    let router = router(true).await;
    for path in
        ["/", "/order/3f0c7c2e-0000-4000-8000-000000000000", "/widget/app.js", "/widget/app.css", "/widget/embed.js"]
    {
        let response = get(&router, path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let csp = header_of(&response, header::CONTENT_SECURITY_POLICY);
        assert!(csp.starts_with("default-src 'none'; script-src 'self'; style-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        assert!(csp.ends_with("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(header_of(&response, header::X_FRAME_OPTIONS), "DENY", "{path}");
        assert_eq!(header_of(&response, header::X_CONTENT_TYPE_OPTIONS), "nosniff", "{path}");
        assert_eq!(header_of(&response, header::REFERRER_POLICY), "no-referrer", "{path}");
    }
    let page = get(&router, "/").await;
    assert!(header_of(&page, header::CONTENT_TYPE).starts_with("text/html"));
    let html = body(page).await;
    assert!(html.contains(r#"<script type="module" src="/widget/app.js"></script>"#), "{html}");
    assert!(!html.contains("<script>") && !html.contains("style="), "no inline script or style");
    let js = get(&router, "/widget/app.js").await;
    assert!(header_of(&js, header::CONTENT_TYPE).starts_with("text/javascript"));
    assert!(!body(js).await.contains("innerHTML"), "the page never parses LSP data as HTML");
}

#[tokio::test]
async fn the_embed_page_may_be_framed_by_the_configured_sites_only() {
    let router = router(true).await;
    let response = get(&router, "/embed").await;
    assert_eq!(response.status(), StatusCode::OK);
    let csp = header_of(&response, header::CONTENT_SECURITY_POLICY);
    assert!(csp.ends_with("frame-ancestors https://shop.example"), "{csp}");
    assert_eq!(header_of(&response, header::X_FRAME_OPTIONS), "");
    assert_eq!(get(&router, "/embed/order/x").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn config_qr_and_quote_answer_and_refuse_bad_input() {
    let router = router(true).await;
    let config: Value = serde_json::from_str(&body(get(&router, "/widget/api/config").await).await).expect("JSON");
    assert_eq!(config, serde_json::json!({ "network": "regtest", "lsps_path": "/lsps" }));

    let qr = get(&router, "/widget/api/qr.svg?text=LIGHTNING%3ALNBCRT1%3Cscript%3E").await;
    assert_eq!(qr.status(), StatusCode::OK);
    assert_eq!(header_of(&qr, header::CONTENT_TYPE), "image/svg+xml");
    let svg = body(qr).await;
    assert!(
        svg.contains("<svg") && !svg.contains("script") && !svg.contains("LNBCRT"),
        "the text is encoded, not written"
    );
    let refused = get(&router, "/widget/api/qr.svg").await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(header_of(&refused, header::CONTENT_SECURITY_POLICY).starts_with("default-src 'none'"), "refusals too");
    assert_eq!(get(&router, "/widget/api/qr.svg?text=").await.status(), StatusCode::BAD_REQUEST);
    let long = "A".repeat(inbound_http::web::MAX_QR_TEXT_BYTES + 1);
    assert_eq!(get(&router, &format!("/widget/api/qr.svg?text={long}")).await.status(), StatusCode::BAD_REQUEST);

    assert_eq!(get(&router, "/widget/api/confirmations").await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(get(&router, "/widget/api/confirmations?order_id=x&node=02zz").await.status(), StatusCode::BAD_REQUEST);
    let node = "033dd22479352d5df4cd36f088ad2134c4758aac4713707ce43e72c0ac91938061";
    let unknown = get(&router, &format!("/widget/api/confirmations?order_id=nope&node={node}")).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND, "another node's or an unknown order says nothing");

    let bad =
        get(&router, "/widget/api/quote?lsp_balance_sat=many&client_balance_sat=0&channel_expiry_blocks=144").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let error: Value = serde_json::from_str(&body(bad).await).expect("JSON");
    assert_eq!(error["error"]["property"], "lsp_balance_sat");
    let missing = get(&router, "/widget/api/quote?lsp_balance_sat=100000").await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn without_web_nothing_is_served_and_the_widget_paths_are_reserved() {
    let router = router(false).await;
    for path in ["/", "/order/x", "/embed", "/widget/app.js", "/widget/api/config", "/widget/api/qr.svg?text=a"] {
        assert_eq!(get(&router, path).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    for path in ["/", "/widget", "/order/x", "/embed", "/lnurlc/callback"] {
        let config = HttpConfig { path: path.to_owned(), ..HttpConfig::default() };
        assert!(matches!(config.validate(), Err(HttpConfigError::Reserved(_))), "{path}");
    }
    let config = HttpConfig { path: "/orders-api".to_owned(), ..HttpConfig::default() };
    assert!(config.validate().is_ok(), "a path that merely starts with the same letters is free");
}
