//! The operator's view of the demo: the admin API (started as `inbound serve` starts it, on a
//! free loopback port) lists what the flows created, `/metrics` counts the fees they earned,
//! and `/readyz` says the LSP is ready. Every figure is checked against the other sections.

use anyhow::{bail, Context, Result};
use inbound_admin::AdminClient;
use serde::Serialize;
use serde_json::Value;

use super::flows::{Lsps2Report, JIT_PAYMENT_MSAT};
use super::order::Lsps1Report;
use super::wake::Lsps5Report;
use super::DemoNet;
use crate::config::Config;
use crate::endpoint::{bind_admin, start_admin, Endpoint};

/// The `operator` section of the demo's summary.
#[derive(Debug, Clone, Serialize)]
pub struct OperatorReport {
    /// LSPS1 orders `GET /v1/orders` listed (the demo's one order among them).
    pub orders_listed: usize,
    /// LSPS2 sessions `GET /v1/sessions` listed (the JIT invoices bought).
    pub sessions_listed: usize,
    /// Metric families in the `/metrics` scrape.
    pub metrics_families: usize,
    /// `inbound_fees_earned_msat_total` over every protocol: the LSPS1 order's fee plus the JIT
    /// opening fees, as the other sections report them.
    pub fees_earned_msat: u64,
    /// `/readyz`'s verdict.
    pub ready: bool,
}

/// What the other sections reported, to check the operator's figures against.
pub struct Done<'a> {
    /// The LSPS1 order.
    pub lsps1: &'a Lsps1Report,
    /// The first JIT payment.
    pub lsps2: &'a Lsps2Report,
    /// The woken wallet's JIT payment.
    pub lsps5: &'a Lsps5Report,
}

/// Starts the admin API for the demo's LSP.
pub async fn start(config: &Config, net: &DemoNet<'_>) -> Result<Endpoint> {
    let listener = bind_admin(config).await?.context("the demo's configuration enables the admin API")?;
    start_admin(listener, config, net.lsp)
}

/// Reads the LSP through its admin API and checks every figure.
pub async fn operator(config: &Config, admin: &Endpoint, done: Done<'_>) -> Result<OperatorReport> {
    let key = inbound_admin::AdminKey::read(&config.admin_key_path())?;
    let client = AdminClient::new(&format!("http://{}", admin.bound), key)?;

    let orders = client.get_json("/v1/orders", &[]).await?;
    let orders = orders["items"].as_array().cloned().unwrap_or_default();
    if !orders.iter().any(|order| order["order_id"] == done.lsps1.order_id.as_str()) {
        bail!("GET /v1/orders did not list the demo's order {}", done.lsps1.order_id);
    }
    let shown = client.get_json(&format!("/v1/orders/{}", done.lsps1.order_id), &[]).await?;
    if shown["state"] != "completed" || shown["history"].as_array().is_none_or(Vec::is_empty) {
        bail!("GET /v1/orders/{} is not a completed order with a history: {shown}", done.lsps1.order_id);
    }
    let sessions = client.get_json("/v1/sessions", &[("state", "paid".to_owned())]).await?;
    let sessions = sessions["items"].as_array().cloned().unwrap_or_default();
    // The payer's JIT payment and the woken wallet's.
    if sessions.len() != 2 {
        bail!("GET /v1/sessions?state=paid listed {} sessions; the demo paid two JIT invoices", sessions.len());
    }

    let expected_fees = done
        .lsps1
        .fee_total_sat
        .checked_mul(1_000)
        .and_then(|lsps1| lsps1.checked_add(done.lsps2.fee_msat))
        .and_then(|fees| fees.checked_add(JIT_PAYMENT_MSAT.checked_sub(done.lsps5.paid_after_wake_msat)?))
        .context("the demo's fees overflow")?;
    let stored = sum(&orders, "fee_earned_sat").saturating_mul(1_000).saturating_add(sum(&sessions, "fee_earned_msat"));
    if stored != expected_fees {
        bail!("the admin API's flows earned {stored} msat; the demo's sections add up to {expected_fees} msat");
    }

    let metrics = client.get_text("/metrics").await?;
    let families = metrics.lines().filter(|line| line.starts_with("# TYPE ")).count();
    let fees_earned_msat = counter_sum(&metrics, inbound_service::metrics::FEES_EARNED_MSAT)?;
    if fees_earned_msat != expected_fees {
        bail!("/metrics counted {fees_earned_msat} msat of fees; the demo's sections add up to {expected_fees} msat");
    }
    let readiness = client.readiness().await?;
    if !readiness.ready {
        bail!("/readyz: not ready: {readiness:?}");
    }
    Ok(OperatorReport {
        orders_listed: orders.len(),
        sessions_listed: sessions.len(),
        metrics_families: families,
        fees_earned_msat,
        ready: readiness.ready,
    })
}

fn sum(items: &[Value], key: &str) -> u64 {
    items.iter().filter_map(|item| item[key].as_u64()).fold(0, u64::saturating_add)
}

/// The sum of every series of the counter `name` in a Prometheus text scrape.
fn counter_sum(text: &str, name: &str) -> Result<u64> {
    let mut total = 0u64;
    for line in text.lines().filter(|line| line.starts_with(name)) {
        let rest = &line[name.len()..];
        if !(rest.starts_with('{') || rest.starts_with(' ')) {
            continue;
        }
        let value = line.rsplit(' ').next().unwrap_or_default();
        let value: f64 = value.parse().with_context(|| format!("a metric line without a number: {line}"))?;
        // Counters of msat stay far below 2^53, where f64 is exact.
        total = total.saturating_add(value as u64);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    #[test]
    fn counter_sums_add_every_series_of_one_name_only() {
        let text = "# TYPE inbound_fees_earned_msat_total counter\n\
                    inbound_fees_earned_msat_total{protocol=\"lsps1\"} 1250000\n\
                    inbound_fees_earned_msat_total{protocol=\"lsps2\"} 2000000\n\
                    inbound_fees_earned_msat_total_other 7\n";
        assert_eq!(super::counter_sum(text, "inbound_fees_earned_msat_total").expect("sum"), 3_250_000);
        assert!(super::counter_sum("inbound_x{a=\"b\"} lots", "inbound_x").is_err());
    }
}
