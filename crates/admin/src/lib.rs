//! # inbound-admin
//!
//! The operator's admin API of an Inbound LSP, and the client the `inbound admin` CLI uses.
//!
//! JSON over HTTP on its own listener (`[admin] listen`, `127.0.0.1:9781` by default; a
//! non-loopback address is refused unless `allow_remote` is set, since the API speaks plain
//! HTTP). Every path but `/healthz` and `/readyz` needs `Authorization: Bearer <key>`: the
//! key is 64 hex digits in a file of mode 0600 (`admin.key` in the data directory), created at
//! first start, compared in constant time and re-read when the file changes, so rotating it
//! is writing a new file ([`AdminKey::rotate`]). Failed authentications draw from a shared
//! budget of [`AUTH_FAILURE_BURST`] refilled one per second; when it is empty every
//! request that needs the key gets 429 until it refills.
//!
//! | path | answer |
//! |---|---|
//! | `GET /healthz` | `{"status":"ok"}` while the process answers |
//! | `GET /readyz` | [`Readiness`]: 200 when the node runs, the store answers and the node is within `max_chain_lag_blocks` of its chain backend, else 503 |
//! | `GET /metrics` | Prometheus text format (see [`inbound_service::metrics`] and `routes/metrics.rs`) |
//! | `GET /v1/node` | [`NodeInfo`] |
//! | `GET /v1/balances` | [`Balances`] |
//! | `GET /v1/channels` | [`ChannelView`]s |
//! | `POST /v1/onchain/address` | a fresh address of the on-chain wallet |
//! | `POST /v1/onchain/send` `{"address", "amount_sat" or "all": true, "fee_rate_sat_per_vb"?}` | withdraws; the txid |
//! | `POST /v1/peers/connect` `{"node_id", "address": "host:port"}` | connects (and keeps reconnecting) |
//! | `POST /v1/channels/open` `{"node_id", "address"?, "amount_sat", "push_msat"?, "public"?}` | opens a channel funded by the wallet |
//! | `POST /v1/channels/close` `{"channel_id", "force"?, "confirm": "force-close"}` | closes cooperatively, or forced with the confirmation |
//! | `GET /v1/orders?state=&terminal=&client=&created_from=&created_before=&id=&limit=&offset=` | LSPS1 orders, newest first |
//! | `GET /v1/orders/{id}` | one order: its summary, `get_order` answer, stored state and history |
//! | `POST /v1/orders/{id}/cancel`, `/refund`, `/retry-open` `{"reason": …, "address": …}` | the operator's actions on an order; 409 where one does not apply |
//! | `GET /v1/sessions?…` | LSPS2 sessions, same filters |
//! | `GET /v1/sessions/{id}` | one session with its stored state and history |
//! | `POST /v1/sessions/{id}/fail` `{"reason": …}` | fails a session that collects or holds a payment (its HTLCs go back); 409 otherwise |
//! | `GET /v1/flows` | how many flows of each kind are in each state |
//! | `GET /v1/clients?limit=&offset=` | clients by last activity, with their flows per kind (total, unfinished) and whether banned |
//! | `GET /v1/clients/banned` | the bans in force |
//! | `POST /v1/clients/{node_id}/ban` `{"reason": "…"}` | bans a client (its LSPS1/2/5 requests get code 1); 409 if banned already |
//! | `POST /v1/clients/{node_id}/unban` | lifts the ban; 409 if there is none |
//!
//! Actions go through the service's flows as an operator's inputs (recorded in the history
//! with `"actor": "operator"`), never straight to the database.
//!
//! Errors are `{"error": {"code": "…", "message": "…"}}` with a stable [`ErrorCode`].

#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]
#![forbid(unsafe_code)]

mod app;
mod client;
mod config;
mod error;
mod key;
mod node_control;
mod node_view;
mod routes;

use std::future::Future;

pub use app::{app, AdminState, AUTH_FAILURE_BURST, AUTH_FAILURE_REFILL};
pub use client::{AdminClient, AdminClientError, REQUEST_TIMEOUT};
pub use config::{AdminConfig, AdminConfigError, DEFAULT_LISTEN, DEFAULT_MAX_CHAIN_LAG_BLOCKS};
pub use error::{AdminError, ErrorCode};
pub use key::{AdminKey, KeyError, DEFAULT_KEY_FILE};
pub use node_control::{ConnectFuture, ControlError, NodeControl, OpenedChannel};
pub use node_view::{Balances, ChannelView, NodeHealth, NodeInfo, NodeView, TipFuture};
pub use routes::clients::{BanView, StandingView};
pub use routes::health::{Readiness, READY_CHECK_TIMEOUT};
pub use routes::node_ops::FORCE_CLOSE_CONFIRMATION;
pub use routes::orders::{ActionView, SessionActionView};
pub use routes::vouchers::{IssuedView, VoucherView};

/// The process-wide Prometheus recorder: installed by the first call, its handle returned by
/// every call. The services' counters go to it from then on.
///
/// # Errors
/// If another metrics recorder was installed in this process first.
pub fn install_metrics_recorder() -> Result<metrics_exporter_prometheus::PrometheusHandle, String> {
    static HANDLE: std::sync::OnceLock<Result<metrics_exporter_prometheus::PrometheusHandle, String>> =
        std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).map_err(|error| error.to_string())?;
            Ok(handle)
        })
        .clone()
}

/// Serves [`app`] on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AdminState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await
}
