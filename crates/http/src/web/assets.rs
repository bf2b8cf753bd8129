//! The page and its assets, compiled into the binary (`crates/http/web/`): plain ES modules and
//! CSS, no build step, nothing fetched from elsewhere.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::{not_served, secured};
use crate::app::HttpState;

const PAGE: &str = include_str!("../../web/index.html");
const APP_JS: &str = include_str!("../../web/app.js");
const APP_CSS: &str = include_str!("../../web/app.css");
const EMBED_JS: &str = include_str!("../../web/embed.js");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// `/` and `/order/{id}`: not to be framed ([`guard`](super::guard) adds the headers).
pub(crate) async fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE)
}

/// `/embed` and `/embed/order/{id}`: framed by the configured sites only.
pub(crate) async fn embed_page(State(state): State<HttpState>) -> Response {
    let Some(web) = &state.web else { return not_served() };
    let frame = match web.config.frame_ancestors.is_empty() {
        true => "'none'".to_owned(),
        false => web.config.frame_ancestors.join(" "),
    };
    secured(asset("text/html; charset=utf-8", PAGE), &frame)
}

pub(crate) async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

pub(crate) async fn app_css() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

/// The script tag other sites include: it puts an iframe of `/embed` where it stands.
pub(crate) async fn embed_js() -> Response {
    asset("text/javascript; charset=utf-8", EMBED_JS)
}
