//! The router: [`app`], its state and the bearer-key check in front of every `/v1` path and
//! `/metrics`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use inbound_service::clients::ClientBans;
use inbound_service::lsps1::Lsps1Service;
use inbound_service::lsps2::Lsps2Service;
use inbound_service::operator::Operator;
use inbound_service::vouchers::{LnurlConfig, Vouchers};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::error::{AdminError, ErrorCode};
use crate::key::AdminKey;
use crate::node_control::NodeControl;
use crate::node_view::NodeView;
use crate::routes;

/// Failed authentications allowed in a burst before the API answers 429.
pub const AUTH_FAILURE_BURST: u32 = 20;
/// How fast the failure budget refills.
pub const AUTH_FAILURE_REFILL: Duration = Duration::from_secs(1);

/// What the admin API serves from.
#[derive(Clone)]
pub struct AdminState {
    pub(crate) node: Arc<dyn NodeView>,
    pub(crate) control: Arc<dyn NodeControl>,
    pub(crate) operator: Option<Operator>,
    pub(crate) bans: Option<Arc<ClientBans>>,
    pub(crate) lsps1: Option<Arc<Lsps1Service>>,
    pub(crate) lsps2: Option<Arc<Lsps2Service>>,
    pub(crate) vouchers: Option<Arc<Vouchers>>,
    pub(crate) lnurl: Option<Arc<LnurlConfig>>,
    pub(crate) metrics: Option<PrometheusHandle>,
    pub(crate) key: Arc<AdminKey>,
    pub(crate) max_chain_lag_blocks: u32,
    failures: Arc<Mutex<FailureBudget>>,
}

impl AdminState {
    /// The state for a node (what it shows, what it may be asked to do), the flows' store (if
    /// the LSP keeps flows) and the key.
    pub fn new(
        node: Arc<dyn NodeView>,
        control: Arc<dyn NodeControl>,
        operator: Option<Operator>,
        key: Arc<AdminKey>,
    ) -> AdminState {
        AdminState {
            node,
            control,
            operator,
            bans: None,
            lsps1: None,
            lsps2: None,
            vouchers: None,
            lnurl: None,
            metrics: None,
            key,
            max_chain_lag_blocks: crate::DEFAULT_MAX_CHAIN_LAG_BLOCKS,
            failures: Arc::new(Mutex::new(FailureBudget::new(Instant::now()))),
        }
    }

    /// Lets the operator ban and unban clients (`/v1/clients/…`).
    pub fn with_bans(mut self, bans: Arc<ClientBans>) -> AdminState {
        self.bans = Some(bans);
        self
    }

    /// Lets the operator act on LSPS1 orders (`/v1/orders/{id}/…`).
    pub fn with_lsps1(mut self, service: Arc<Lsps1Service>) -> AdminState {
        self.lsps1 = Some(service);
        self
    }

    /// Lets the operator fail LSPS2 sessions (`/v1/sessions/{id}/fail`).
    pub fn with_lsps2(mut self, service: Arc<Lsps2Service>) -> AdminState {
        self.lsps2 = Some(service);
        self
    }

    /// Lets the operator issue, list and revoke vouchers (`/v1/vouchers…`); issuing needs
    /// `lnurl`, where the vouchers' LNURLs point.
    pub fn with_vouchers(mut self, vouchers: Arc<Vouchers>, lnurl: Option<LnurlConfig>) -> AdminState {
        self.vouchers = Some(vouchers);
        self.lnurl = lnurl.map(Arc::new);
        self
    }

    /// Serves `/metrics` from this recorder's handle (the process's Prometheus recorder).
    pub fn with_metrics(mut self, handle: PrometheusHandle) -> AdminState {
        self.metrics = Some(handle);
        self
    }

    /// `/readyz` fails when the node lags its chain backend by more than `blocks`.
    pub fn with_max_chain_lag(mut self, blocks: u32) -> AdminState {
        self.max_chain_lag_blocks = blocks;
        self
    }
}

/// A token bucket of failed authentications, shared by every client.
struct FailureBudget {
    tokens: u32,
    refilled_at: Instant,
}

impl FailureBudget {
    fn new(now: Instant) -> FailureBudget {
        FailureBudget { tokens: AUTH_FAILURE_BURST, refilled_at: now }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.refilled_at);
        let earned = (elapsed.as_millis() / AUTH_FAILURE_REFILL.as_millis().max(1)) as u64;
        if earned > 0 {
            let earned = u32::try_from(earned).unwrap_or(u32::MAX);
            self.tokens = self.tokens.saturating_add(earned).min(AUTH_FAILURE_BURST);
            self.refilled_at = now;
        }
    }
}

/// The router. `/healthz` and `/readyz` answer without a key (they say only whether the LSP is
/// up); everything else needs `Authorization: Bearer <key>`.
pub fn app(state: AdminState) -> Router {
    let authenticated = Router::new()
        .route("/metrics", get(routes::metrics::scrape))
        .route("/v1/node", get(routes::node::info))
        .route("/v1/balances", get(routes::node::balances))
        .route("/v1/channels", get(routes::node::channels))
        .route("/v1/channels/open", post(routes::node_ops::open_channel))
        .route("/v1/channels/close", post(routes::node_ops::close_channel))
        .route("/v1/peers/connect", post(routes::node_ops::connect))
        .route("/v1/onchain/address", post(routes::node_ops::new_address))
        .route("/v1/onchain/send", post(routes::node_ops::send))
        .route("/v1/orders", get(routes::flows::orders))
        .route("/v1/orders/{id}", get(routes::flows::order))
        .route("/v1/orders/{id}/cancel", post(routes::orders::cancel))
        .route("/v1/orders/{id}/refund", post(routes::orders::refund))
        .route("/v1/orders/{id}/retry-open", post(routes::orders::retry_open))
        .route("/v1/sessions", get(routes::flows::sessions))
        .route("/v1/sessions/{id}", get(routes::flows::session))
        .route("/v1/sessions/{id}/fail", post(routes::orders::fail_session))
        .route("/v1/vouchers", get(routes::vouchers::list).post(routes::vouchers::issue))
        .route("/v1/vouchers/{id}/revoke", post(routes::vouchers::revoke))
        .route("/v1/flows", get(routes::flows::counts))
        .route("/v1/clients", get(routes::flows::clients))
        .route("/v1/clients/banned", get(routes::clients::banned))
        .route("/v1/clients/{node_id}/ban", post(routes::clients::ban))
        .route("/v1/clients/{node_id}/unban", post(routes::clients::unban))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz))
        .merge(authenticated)
        .fallback(not_found)
        .with_state(state)
}

async fn not_found() -> AdminError {
    AdminError::new(ErrorCode::NotFound, "no such path")
}

/// Lets a request through only with the admin key; failures draw from a shared budget, and
/// an empty budget answers 429 without looking at the key.
async fn authenticate(State(state): State<AdminState>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_owned);
    {
        let mut budget = state.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        budget.refill(Instant::now());
        if budget.tokens == 0 {
            let mut response =
                AdminError::new(ErrorCode::RateLimited, "too many failed authentications; try again shortly")
                    .into_response();
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        }
    }
    let key = Arc::clone(&state.key);
    let accepted = match presented {
        // Re-reading the key file is blocking I/O.
        Some(presented) => tokio::task::spawn_blocking(move || key.matches(&presented)).await.unwrap_or(false),
        None => false,
    };
    if accepted {
        return next.run(request).await;
    }
    let mut budget = state.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    budget.tokens = budget.tokens.saturating_sub(1);
    drop(budget);
    tracing::warn!(path = %request.uri().path(), "admin API: request without the admin key refused");
    AdminError::new(ErrorCode::Unauthorized, "send the admin key as `Authorization: Bearer <key>`").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failure_budget_refills_one_per_interval_up_to_the_burst() {
        let start = Instant::now();
        let mut budget = FailureBudget::new(start);
        budget.tokens = 0;
        budget.refill(start + AUTH_FAILURE_REFILL / 2);
        assert_eq!(budget.tokens, 0);
        budget.refill(start + AUTH_FAILURE_REFILL * 3);
        assert_eq!(budget.tokens, 3);
        budget.refill(start + AUTH_FAILURE_REFILL * 1_000);
        assert_eq!(budget.tokens, AUTH_FAILURE_BURST);
    }
}
