//! The services' Prometheus metrics, recorded through the [`metrics`] facade.
//!
//! Nothing is exported here: a process that wants the numbers installs a recorder (the daemon
//! installs `metrics-exporter-prometheus` and serves it on the admin listener); without one
//! every call is a no-op. Counters count since the process started, as Prometheus expects.
//! The names are listed once, here, and documented in the README's "Operating Inbound".

use std::time::Duration;

/// LSPS requests answered, by `method` and JSON-RPC `code` (`"ok"` for a result).
pub const LSPS_REQUESTS: &str = "inbound_lsps_requests_total";
/// How long a protocol handler took, by `method`, in seconds.
pub const LSPS_REQUEST_SECONDS: &str = "inbound_lsps_request_duration_seconds";
/// Fees earned, in millisatoshis, by `protocol` (`lsps1`: a completed order's fee; `lsps2`: a
/// JIT session's opening fee, once skimmed).
pub const FEES_EARNED_MSAT: &str = "inbound_fees_earned_msat_total";
/// Channels delivered to clients, by `protocol`.
pub const CHANNELS_DELIVERED: &str = "inbound_channels_delivered_total";
/// Flows that ended failed (LSPS1 orders refunded, LSPS2 sessions failed), by `protocol`.
pub const FLOWS_FAILED: &str = "inbound_flows_failed_total";
/// LSPS5 webhook POSTs, by `result` (`delivered`, `refused`, `retry`).
pub const WEBHOOK_POSTS: &str = "inbound_webhook_posts_total";

/// Records one answered LSPS request.
pub(crate) fn lsps_request(method: &'static str, code: Option<i32>, took: Duration) {
    let code = match code {
        None => "ok".to_owned(),
        Some(code) => code.to_string(),
    };
    ::metrics::counter!(LSPS_REQUESTS, "method" => method, "code" => code).increment(1);
    ::metrics::histogram!(LSPS_REQUEST_SECONDS, "method" => method).record(took.as_secs_f64());
}

/// Records a fee earned.
pub(crate) fn fee_earned(protocol: &'static str, msat: u64) {
    ::metrics::counter!(FEES_EARNED_MSAT, "protocol" => protocol).increment(msat);
}

/// Records a channel delivered to a client.
pub(crate) fn channel_delivered(protocol: &'static str) {
    ::metrics::counter!(CHANNELS_DELIVERED, "protocol" => protocol).increment(1);
}

/// Records a flow that ended failed.
pub(crate) fn flow_failed(protocol: &'static str) {
    ::metrics::counter!(FLOWS_FAILED, "protocol" => protocol).increment(1);
}

/// Records one webhook POST's result.
pub(crate) fn webhook_post(result: &'static str) {
    ::metrics::counter!(WEBHOOK_POSTS, "result" => result).increment(1);
}
