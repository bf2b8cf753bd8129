//! A payer whose channels into the LSP are each smaller than a JIT payment: the payment must
//! arrive in parts. The LSP lets a peer have up to 100 % of a channel in flight towards it
//! (`Config::lsp_max_inbound_htlc_in_flight_percent`); with LDK's default of 10 % each of these
//! channels carries at most 3,500 sat at once and the payer finds no route at all.

mod jit_lsp;

use std::sync::Arc;

use inbound_client::lsps2::Lsps2ClientConfig;
use inbound_harness::{HarnessResult, Network, DEFAULT_TIMEOUT};
use inbound_node::lightning::events::Event;
use inbound_service::lsps2::{JitState, TrustMode};
use inbound_service::SystemClock;
use jit_lsp::*;
use lsps::lsps2::opening_fee_msat;

/// 50,000 sat, paid over channels of 70 % of that each.
const PAYMENT: u64 = 50_000_000;
const PAYER_CHANNEL_SAT: u64 = 35_000;

/// Proves: the payment splits over the payer's channels, the LSP collects the parts, opens one
/// JIT channel and forwards them all, the wallet claims the payment minus one opening fee
/// (split across the parts, bLIP-52), and the session records exactly that fee.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_larger_than_each_payer_channel_arrives_in_parts() -> HarnessResult<()> {
    let network = Network::sim().await?;
    let lsp = network.add_jit_lsp("lsp", config(TrustMode::Never), Arc::new(SystemClock)).await?;
    let payer = network.add_wallet("payer").await?;
    let wallet = network.add_jit_wallet("wallet", Lsps2ClientConfig::default()).await?;
    network.connect(&payer, &lsp).await?;
    network.connect(&wallet, &lsp).await?;
    network.fund(&payer, 1_000_000).await?;
    network.fund(&lsp, LSP_FUNDS_SAT).await?;
    for _ in 0..3 {
        network.open_channel(&payer, &lsp, PAYER_CHANNEL_SAT, 0).await?;
    }
    for channel in payer.node().list_channels() {
        assert!(channel.outbound_capacity_msat < PAYMENT, "no single channel can carry it: {channel:?}");
        // Far above the 10 % (3,500 sat) LDK would allow by default.
        assert!(channel.next_outbound_htlc_limit_msat > PAYER_CHANNEL_SAT * 1000 / 2, "{channel:?}");
    }
    let jit = Jit { lsp, payer, wallet };

    let invoice = buy(&jit, Some(PAYMENT)).await;
    jit.payer.pay(&invoice.invoice).await?;
    let claimed = jit
        .wallet
        .wait_for_event("PaymentClaimed", DEFAULT_TIMEOUT, |event| matches!(event, Event::PaymentClaimed { .. }))
        .await?;
    let Event::PaymentClaimed { amount_msat, htlcs, .. } = claimed else { unreachable!("matched above") };
    let fee = opening_fee_msat(PAYMENT, MIN_FEE_MSAT, PROPORTIONAL_PPM).expect("fee");
    assert!(htlcs.len() >= 2, "the wallet received {} part(s)", htlcs.len());
    assert_eq!(amount_msat, PAYMENT - fee);
    assert_eq!(htlcs.iter().map(|htlc| htlc.value_msat).sum::<u64>(), PAYMENT - fee);
    let paid = wait_for_state(&jit, &invoice, "paid", DEFAULT_TIMEOUT).await?;
    let JitState::Paid { fee_msat, .. } = paid.state else { unreachable!("waited for paid") };
    assert_eq!(fee_msat, fee);
    assert_eq!(jit.wallet.node().list_channels().len(), 1, "one JIT channel for all the parts");
    network.shutdown().await?;
    Ok(())
}
