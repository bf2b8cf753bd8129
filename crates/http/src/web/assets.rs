//! The page and its assets, compiled into the binary (`crates/http/web/`): plain ES modules and
//! CSS, no build step, nothing fetched from elsewhere.

use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::{not_served, secured};
use crate::app::{rate_limit, HttpState};

const PAGE: &str = include_str!("../../web/index.html");
const APP_JS: &str = include_str!("../../web/app.js");
const APP_CSS: &str = include_str!("../../web/app.css");
const EMBED_JS: &str = include_str!("../../web/embed.js");

fn asset(
    state: &HttpState,
    request: &Request,
    content_type: &'static str,
    body: &'static str,
    frame: &str,
) -> Response {
    if let Err(error) = rate_limit(state, request) {
        return error.into_response();
    }
    let response = ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response();
    secured(response, frame)
}

/// `/` and `/order/{id}`: not to be framed.
pub(crate) async fn page(State(state): State<HttpState>, request: Request) -> Response {
    match state.web {
        Some(_) => asset(&state, &request, "text/html; charset=utf-8", PAGE, "'none'"),
        None => not_served(),
    }
}

/// `/embed` and `/embed/order/{id}`: framed by the configured sites only.
pub(crate) async fn embed_page(State(state): State<HttpState>, request: Request) -> Response {
    let frame = match &state.web {
        Some(web) if !web.config.frame_ancestors.is_empty() => web.config.frame_ancestors.join(" "),
        Some(_) => "'none'".to_owned(),
        None => return not_served(),
    };
    asset(&state, &request, "text/html; charset=utf-8", PAGE, &frame)
}

pub(crate) async fn app_js(State(state): State<HttpState>, request: Request) -> Response {
    match state.web {
        Some(_) => asset(&state, &request, "text/javascript; charset=utf-8", APP_JS, "'none'"),
        None => not_served(),
    }
}

pub(crate) async fn app_css(State(state): State<HttpState>, request: Request) -> Response {
    match state.web {
        Some(_) => asset(&state, &request, "text/css; charset=utf-8", APP_CSS, "'none'"),
        None => not_served(),
    }
}

/// The script tag other sites include: it puts an iframe of `/embed` where it stands.
pub(crate) async fn embed_js(State(state): State<HttpState>, request: Request) -> Response {
    match state.web {
        Some(_) => asset(&state, &request, "text/javascript; charset=utf-8", EMBED_JS, "'none'"),
        None => not_served(),
    }
}
