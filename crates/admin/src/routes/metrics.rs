//! `GET /metrics`: Prometheus text format. The services' counters (see
//! [`inbound_service::metrics`]) are recorded as they happen; the gauges below are read at
//! each scrape.
//!
//! | gauge | labels |
//! |---|---|
//! | `inbound_flows` | `kind`, `state`: flows in the store (0 once a state empties) |
//! | `inbound_peers` | connected peers |
//! | `inbound_channels` | `state`: `pending`, `usable`, `offline` |
//! | `inbound_onchain_balance_sat` | `status`: `confirmed`, `unconfirmed`, `immature` |
//! | `inbound_lightning_balance_msat` | `direction`: `outbound`, `inbound` |
//! | `inbound_chain_synced_height` | the height the node synced to |
//! | `inbound_store_ping_seconds` | how long a small store query took |

use std::collections::BTreeSet;
use std::sync::Mutex;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::app::AdminState;
use crate::error::{AdminError, ErrorCode};

/// The Prometheus text format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `(kind, state)` pairs given a value, so that an emptied state reads 0, not its last value.
static SEEN_STATES: Mutex<BTreeSet<(&'static str, String)>> = Mutex::new(BTreeSet::new());

pub(crate) async fn scrape(State(state): State<AdminState>) -> Result<impl IntoResponse, AdminError> {
    let Some(handle) = &state.metrics else {
        return Err(AdminError::new(ErrorCode::NoMetrics, "this process records no metrics"));
    };
    if let Some(operator) = &state.operator {
        let ping = operator.ping().await?;
        metrics::gauge!("inbound_store_ping_seconds").set(ping.as_secs_f64());
        let mut totals = std::collections::BTreeMap::new();
        for kind in operator.counts().await? {
            for count in kind.states {
                // A state's finished and unfinished rows (an LSPS1 order completed but still
                // owing a refund) are one series.
                *totals.entry((kind.kind, count.state)).or_insert(0u64) += count.count;
            }
        }
        let mut seen = SEEN_STATES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (kind, state_name) in seen.iter() {
            if !totals.contains_key(&(*kind, state_name.clone())) {
                metrics::gauge!("inbound_flows", "kind" => *kind, "state" => state_name.clone()).set(0.0);
            }
        }
        for ((kind, state_name), total) in totals {
            metrics::gauge!("inbound_flows", "kind" => kind, "state" => state_name.clone()).set(total as f64);
            seen.insert((kind, state_name));
        }
    }
    let info = state.node.info();
    metrics::gauge!("inbound_peers").set(info.peers.len() as f64);
    metrics::gauge!("inbound_chain_synced_height").set(f64::from(info.synced_height));
    let channels = state.node.channels();
    for name in ["pending", "usable", "offline"] {
        let count = channels.iter().filter(|channel| channel.state == name).count();
        metrics::gauge!("inbound_channels", "state" => name).set(count as f64);
    }
    let balances = state.node.balances();
    for (status, sat) in [
        ("confirmed", balances.onchain_confirmed_sat),
        ("unconfirmed", balances.onchain_unconfirmed_sat),
        ("immature", balances.onchain_immature_sat),
    ] {
        metrics::gauge!("inbound_onchain_balance_sat", "status" => status).set(sat as f64);
    }
    metrics::gauge!("inbound_lightning_balance_msat", "direction" => "outbound")
        .set(balances.lightning_outbound_msat as f64);
    metrics::gauge!("inbound_lightning_balance_msat", "direction" => "inbound")
        .set(balances.lightning_inbound_msat as f64);
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], handle.render()))
}
