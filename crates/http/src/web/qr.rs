//! `GET /widget/api/qr.svg?text=…`: a QR code of `text` as SVG (the `qrcode` crate). The text is
//! encoded, never written into the SVG, so nothing in it can script the image.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use qrcode::{EcLevel, QrCode};

use super::{not_served, secured};
use crate::app::{rate_limit, HttpState};

/// The longest text encoded (a BOLT11 invoice with a long description fits).
pub const MAX_QR_TEXT_BYTES: usize = 2048;

pub(crate) async fn qr_svg(State(state): State<HttpState>, request: Request) -> Response {
    if state.web.is_none() {
        return not_served();
    }
    if let Err(error) = rate_limit(&state, &request) {
        return error.into_response();
    }
    let query = request.uri().query().unwrap_or_default();
    let text = url::form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == "text").map(|(_, value)| value);
    let Some(text) = text.filter(|text| !text.is_empty() && text.len() <= MAX_QR_TEXT_BYTES) else {
        return (StatusCode::BAD_REQUEST, format!("text: 1 to {MAX_QR_TEXT_BYTES} bytes")).into_response();
    };
    // Upper case where it is equal (BOLT11, bech32 addresses, BIP21's scheme) encodes denser.
    let code = match QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M) {
        Ok(code) => code,
        Err(_) => return (StatusCode::BAD_REQUEST, "text does not fit a QR code").into_response(),
    };
    let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(320, 320).quiet_zone(true).build();
    let response =
        ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "no-store")], svg).into_response();
    secured(response, "'none'")
}
