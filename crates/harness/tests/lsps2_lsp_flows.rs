//! LSPS2 end to end with the real LSP service and the real wallet client, over TCP on the
//! simulated chain: payer → LSP (confirmed channel) → JIT channel → wallet.

mod jit_lsp;

use std::time::{Duration, Instant};

use bitcoin::hashes::Hash;

use inbound_harness::{wait_until, HarnessResult, Network, DEFAULT_TIMEOUT};
use inbound_node::lightning::events::Event;
use inbound_node::lightning::ln::channelmanager::{PaymentId, Retry};
use std::sync::Arc;

use inbound_service::lsps2::{JitState, Lsps2Config, TrustMode};
use inbound_service::{Clock, ManualClock};
use jit_lsp::*;
use lsps::lsps2::opening_fee_msat;

async fn claimed_amount(jit: &Jit) -> HarnessResult<u64> {
    let event = jit
        .wallet
        .wait_for_event("PaymentClaimed", DEFAULT_TIMEOUT, |event| matches!(event, Event::PaymentClaimed { .. }))
        .await?;
    let Event::PaymentClaimed { amount_msat, .. } = event else { unreachable!("matched above") };
    Ok(amount_msat)
}

/// Proves: a fixed-amount JIT payment opens a 0-conf channel, the wallet receives exactly
/// payment − fee, the LSP records the fee, the funding is broadcast at once
/// (LSP-trusts-client) and confirms when mined, and a second payment flows over the channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_invoice_pays_the_wallet_minus_the_fee_and_the_channel_confirms() -> HarnessResult<()> {
    let started = Instant::now();
    let network = Network::sim().await?;
    let jit = setup(&network, config(TrustMode::Never)).await?;
    let invoice = buy(&jit, Some(PAYMENT_MSAT)).await;
    assert!(!invoice.client_trusts_lsp);
    jit.payer.pay(&invoice.invoice).await?;
    assert_eq!(claimed_amount(&jit).await?, PAYMENT_MSAT - MIN_FEE_MSAT);
    let paid = wait_for_state(&jit, &invoice, "paid", DEFAULT_TIMEOUT).await?;
    let JitState::Paid { fee_msat, .. } = paid.state else { unreachable!("waited for paid") };
    assert_eq!(fee_msat, MIN_FEE_MSAT);
    let stats = jit.lsp.lsps2_service().stats().await.expect("stats");
    assert_eq!(stats.fees_collected_msat_since_start, MIN_FEE_MSAT);

    let channel = jit.wallet.node().list_channels().into_iter().next().expect("the JIT channel");
    let funding = channel.funding_txo.expect("funded").txid;
    network.wait_in_mempool(funding, DEFAULT_TIMEOUT).await?;
    network.mine(1).await?;
    let wallet_node = jit.wallet.node();
    wait_until("JIT channel confirmed", DEFAULT_TIMEOUT, || {
        wallet_node.list_channels().first().and_then(|c| c.confirmations).is_some_and(|n| n >= 1)
    })
    .await?;

    let second = jit.wallet.invoice(3_000_000)?;
    jit.payer.pay(&second).await?;
    assert_eq!(claimed_amount(&jit).await?, 3_000_000, "no fee on the next payment");
    assert_eq!(jit.wallet.node().list_channels().len(), 1, "no second channel");
    network.shutdown().await?;
    println!("fixed invoice flow took {:?}", started.elapsed());
    Ok(())
}

/// Proves: a variable-amount invoice takes its fee from the single HTLC's amount.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variable_invoice_takes_the_fee_of_the_amount_paid() -> HarnessResult<()> {
    let network = Network::sim().await?;
    let jit = setup(&network, config(TrustMode::Never)).await?;
    let invoice = buy(&jit, None).await;
    // The wallet accepts at most 10 % of the 100 000 sat JIT channel in flight (LDK's default
    // `max_inbound_htlc_value_in_flight_percent_of_channel`), so the forward must stay below
    // 10 000 000 msat until the wallet raises that for JIT channels.
    let amount_msat = 9_500_000;
    let payment_id = PaymentId(invoice.invoice.payment_hash().to_byte_array());
    jit.payer
        .node()
        .channel_manager()
        .pay_for_bolt11_invoice(&invoice.invoice, payment_id, Some(amount_msat), Default::default(), Retry::Attempts(0))
        .expect("payment sent");
    let fee = opening_fee_msat(amount_msat, MIN_FEE_MSAT, PROPORTIONAL_PPM).expect("fee");
    assert_eq!(claimed_amount(&jit).await?, amount_msat - fee);
    wait_for_state(&jit, &invoice, "paid", DEFAULT_TIMEOUT).await?;
    network.shutdown().await
}

/// Proves: with `client_trusts_lsp`, the funding transaction reaches the mempool only after
/// the wallet claimed and the LSP collected its fee; then it confirms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_trust_mode_the_funding_is_broadcast_after_the_fee_is_collected() -> HarnessResult<()> {
    let network = Network::sim().await?;
    let jit = setup(&network, config(TrustMode::Always)).await?;
    let invoice = buy(&jit, Some(PAYMENT_MSAT)).await;
    assert!(invoice.client_trusts_lsp);
    let chain = network.sim_chain().expect("sim").clone();
    let mempool_before = chain.mempool().len();
    jit.payer.pay(&invoice.invoice).await?;
    assert_eq!(claimed_amount(&jit).await?, PAYMENT_MSAT - MIN_FEE_MSAT);
    let paid = wait_for_state(&jit, &invoice, "paid", DEFAULT_TIMEOUT).await?;
    let funding = jit.lsp.node().manual_funding_transaction(paid.user_channel_id).expect("held funding tx");
    network.wait_in_mempool(funding.compute_txid(), DEFAULT_TIMEOUT).await?;
    assert_eq!(chain.mempool().len(), mempool_before + 1, "only the funding was broadcast");
    network.mine(1).await?;
    let wallet_node = jit.wallet.node();
    wait_until("JIT channel confirmed", DEFAULT_TIMEOUT, || {
        wallet_node.list_channels().first().and_then(|c| c.confirmations).is_some_and(|n| n >= 1)
    })
    .await?;
    network.shutdown().await
}

/// Proves: a payment that arrives while the wallet is offline waits for it; when the wallet
/// connects, the channel opens and the payment completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_wallet_gets_its_payment_when_it_connects() -> HarnessResult<()> {
    let network = Network::sim().await?;
    let jit = setup(&network, config(TrustMode::Never)).await?;
    let invoice = buy(&jit, Some(PAYMENT_MSAT)).await;
    network.disconnect(&jit.wallet, &jit.lsp).await?;
    jit.payer.node().pay_invoice(&invoice.invoice)?;
    wait_for_state(&jit, &invoice, "awaiting_client", DEFAULT_TIMEOUT).await?;
    network.connect(&jit.wallet, &jit.lsp).await?;
    assert_eq!(claimed_amount(&jit).await?, PAYMENT_MSAT - MIN_FEE_MSAT);
    jit.payer
        .wait_for_event("PaymentSent", Duration::from_secs(10), |event| matches!(event, Event::PaymentSent { .. }))
        .await?;
    network.shutdown().await
}

/// Proves (`min_lifetime`, bLIP-52 §4.11): the LSP's own policy never closes a paid JIT
/// channel: with every LSPS2 timer long past (manual clock, ticked) and the funding buried
/// `min_lifetime` blocks deep, the channel is still open and usable on both sides, and the
/// wallet saw no close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_jit_channel_outlives_min_lifetime() -> HarnessResult<()> {
    const MIN_LIFETIME_BLOCKS: u32 = 12;
    let network = Network::sim().await?;
    let clock = Arc::new(ManualClock::starting_now());
    let config = Lsps2Config { min_lifetime_blocks: MIN_LIFETIME_BLOCKS, ..config(TrustMode::Never) };
    let jit = setup_with_clock(&network, config, Arc::clone(&clock) as Arc<dyn Clock>).await?;
    let invoice = buy(&jit, Some(PAYMENT_MSAT)).await;
    assert_eq!(invoice.opening_fee_params.min_lifetime, MIN_LIFETIME_BLOCKS);
    jit.payer.pay(&invoice.invoice).await?;
    assert_eq!(claimed_amount(&jit).await?, PAYMENT_MSAT - MIN_FEE_MSAT);
    wait_for_state(&jit, &invoice, "paid", DEFAULT_TIMEOUT).await?;
    let channel = jit.wallet.node().list_channels().into_iter().next().expect("the JIT channel");
    network.wait_in_mempool(channel.funding_txo.expect("funded").txid, DEFAULT_TIMEOUT).await?;

    let policy = jit.lsp.lsps2_service().config().policy.clone();
    let far =
        jit.lsp.lsps2_service().config().valid_for_secs + policy.claim_timeout_secs + policy.unpaid_channel_grace_secs;
    for _ in 0..MIN_LIFETIME_BLOCKS {
        network.mine(1).await?;
        clock.advance(far);
        jit.lsp.lsps2_service().tick().await.expect("tick");
    }
    let (wallet_node, lsp_node) = (jit.wallet.node(), jit.lsp.node());
    wait_until("the JIT channel is min_lifetime deep", DEFAULT_TIMEOUT, || {
        wallet_node
            .list_channels()
            .iter()
            .any(|c| c.channel_id == channel.channel_id && c.confirmations.is_some_and(|n| n >= MIN_LIFETIME_BLOCKS))
    })
    .await?;
    for node in [&wallet_node, &lsp_node] {
        let usable = node.channel_manager().list_usable_channels();
        assert!(usable.iter().any(|c| c.channel_id == channel.channel_id), "still open and usable");
    }
    let closed = jit.wallet.events().snapshot().into_iter().any(|e| matches!(e, Event::ChannelClosed { .. }));
    assert!(!closed, "the wallet saw no close");
    assert!(matches!(session(&jit, &invoice).await.expect("session").state, JitState::Paid { .. }));
    network.shutdown().await
}
