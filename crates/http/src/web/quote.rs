//! `GET /widget/api/quote`: what an order of these sizes costs now, from the LSPS1 service
//! ([`Lsps1Service::quote`](inbound_service::lsps1::Lsps1Service::quote)), checked as an order
//! would be. The page shows it as the sliders move; it never computes a fee itself.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::not_served;
use crate::app::{query_pairs, HttpState};

/// The query parameter `name` as a number, or `name` as the error.
fn number<T: std::str::FromStr>(query: &[(String, String)], name: &'static str) -> Result<T, &'static str> {
    let value = query.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    value.and_then(|text| text.parse().ok()).ok_or(name)
}

pub(crate) async fn quote(State(state): State<HttpState>, request: Request) -> Response {
    let Some(web) = &state.web else { return not_served() };
    let query = query_pairs(&request);
    let parsed = (|| {
        Ok::<_, &'static str>((
            number::<u64>(&query, "lsp_balance_sat")?,
            number::<u64>(&query, "client_balance_sat")?,
            number::<u32>(&query, "channel_expiry_blocks")?,
        ))
    })();
    let (lsp, client, expiry) = match parsed {
        Ok(values) => values,
        Err(name) => {
            let error = json!({ "error": { "property": name, "message": format!("{name} must be a whole number") } });
            return (StatusCode::BAD_REQUEST, Json(error)).into_response();
        }
    };
    let info = web.lsps1.get_info(lsps::lsps1::GetInfoRequest::default());
    let order = info.order_request(lsp, client, expiry, false);
    match web.lsps1.quote(&order) {
        Ok(quote) => Json(quote).into_response(),
        Err(error) => {
            let property = error.data.as_ref().and_then(|data| data.get("property")).cloned();
            let body = json!({ "error": { "property": property, "message": error.message } });
            (StatusCode::BAD_REQUEST, Json(body)).into_response()
        }
    }
}
