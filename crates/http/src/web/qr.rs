//! `GET /widget/api/qr.svg?text=…`: a QR code of `text` as SVG (the `qrcode` crate). The text is
//! encoded, never written into the SVG, so nothing in it can script the image.

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use qrcode::{EcLevel, QrCode};

use crate::app::query_pairs;

/// The longest text encoded (a BOLT11 invoice with a long description fits).
pub const MAX_QR_TEXT_BYTES: usize = 2048;

pub(crate) async fn qr_svg(request: Request) -> Response {
    let query = query_pairs(&request);
    let text = query.iter().find(|(key, _)| key == "text").map(|(_, value)| value);
    let Some(text) = text.filter(|text| !text.is_empty() && text.len() <= MAX_QR_TEXT_BYTES) else {
        return (StatusCode::BAD_REQUEST, format!("text: 1 to {MAX_QR_TEXT_BYTES} bytes")).into_response();
    };
    let code = match QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M) {
        Ok(code) => code,
        Err(_) => return (StatusCode::BAD_REQUEST, "text does not fit a QR code").into_response(),
    };
    let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(320, 320).quiet_zone(true).build();
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "no-store")], svg).into_response()
}
