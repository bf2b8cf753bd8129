//! LSPS2 with the LSP restarted (harness `restart`: graceful stop, rebuild from the data
//! directory; the session store survives like a database) at three points of the flow.

mod jit_lsp;

use std::time::Instant;

use bitcoin::hashes::Hash;
use inbound_harness::{wait_until, HarnessResult, Network, DEFAULT_TIMEOUT};
use inbound_node::lightning::events::Event;
use inbound_node::lightning::types::payment::PaymentHash;
use inbound_service::lsps2::{JitState, TrustMode};
use jit_lsp::*;

async fn claimed_amount(jit: &Jit) -> HarnessResult<u64> {
    let event = jit
        .wallet
        .wait_for_event("PaymentClaimed", DEFAULT_TIMEOUT, |event| matches!(event, Event::PaymentClaimed { .. }))
        .await?;
    let Event::PaymentClaimed { amount_msat, .. } = event else { unreachable!("matched above") };
    Ok(amount_msat)
}

async fn payer_channel_usable(jit: &Jit) -> HarnessResult<()> {
    let payer = jit.payer.node();
    wait_until("payer channel usable after the LSP restart", DEFAULT_TIMEOUT, || {
        !payer.channel_manager().list_usable_channels().is_empty()
    })
    .await
}

/// Proves: an LSP restarted while it holds an intercepted payment (the wallet is offline)
/// resumes the session; LDK's replayed `HTLCIntercepted` is deduplicated, and when the wallet
/// connects exactly one channel opens and the payment completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_intercept_resumes_and_opens_once() -> HarnessResult<()> {
    let started = Instant::now();
    let network = Network::sim().await?;
    let jit = setup(&network, config(TrustMode::Never)).await?;
    let invoice = buy(&jit, Some(PAYMENT_MSAT)).await;
    network.disconnect(&jit.wallet, &jit.lsp).await?;
    jit.payer.node().pay_invoice(&invoice.invoice)?;
    wait_for_state(&jit, &invoice, "awaiting_client", DEFAULT_TIMEOUT).await?;

    network.restart(&jit.lsp).await?;
    payer_channel_usable(&jit).await?;
    let resumed = session(&jit, &invoice).await.expect("session survives");
    assert!(matches!(resumed.state, JitState::AwaitingClient { ref parts, .. } if parts.len() == 1));

    network.connect(&jit.wallet, &jit.lsp).await?;
    assert_eq!(claimed_amount(&jit).await?, PAYMENT_MSAT - MIN_FEE_MSAT);
    wait_for_state(&jit, &invoice, "paid", DEFAULT_TIMEOUT).await?;
    assert_eq!(jit.wallet.node().list_channels().len(), 1, "no double open");
    network.shutdown().await?;
    println!("restart after intercept took {:?}", started.elapsed());
    Ok(())
}

/// Proves: an LSP restarted after opening a JIT channel whose fee is still owed (a probe was
/// failed by the wallet; the funding was broadcast) still knows the channel, and the real
/// payment then pays the fee over it without a second open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_open_collects_the_fee_from_the_next_payment() -> HarnessResult<()> {
    let network = Network::sim().await?;
    let jit = setup(&network, config(TrustMode::Never)).await?;
    let invoice = buy(&jit, Some(PAYMENT_MSAT)).await;
    send_raw(&jit.payer, &invoice.invoice, PaymentHash([5; 32]), PAYMENT_MSAT);
    wait_for_state(&jit, &invoice, "channel_unpaid", DEFAULT_TIMEOUT).await?;
    jit.payer
        .wait_for_event("probe failed", DEFAULT_TIMEOUT, |event| matches!(event, Event::PaymentFailed { .. }))
        .await?;

    network.restart(&jit.lsp).await?;
    payer_channel_usable(&jit).await?;
    let wallet = jit.wallet.node();
    wait_until("JIT channel usable after the LSP restart", DEFAULT_TIMEOUT, || {
        wallet.channel_manager().list_usable_channels().len() == 1
    })
    .await?;

    let hash = PaymentHash(invoice.invoice.payment_hash().to_byte_array());
    send_raw(&jit.payer, &invoice.invoice, hash, PAYMENT_MSAT);
    assert_eq!(claimed_amount(&jit).await?, PAYMENT_MSAT - MIN_FEE_MSAT);
    wait_for_state(&jit, &invoice, "paid", DEFAULT_TIMEOUT).await?;
    assert_eq!(jit.wallet.node().list_channels().len(), 1, "no second channel");
    network.shutdown().await
}

/// Proves: an LSP restarted after the fee was collected keeps the session paid and the
/// channel, and a second payment forwards normally over the JIT channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_forward_keeps_the_channel_and_forwards_normally() -> HarnessResult<()> {
    let network = Network::sim().await?;
    let jit = setup(&network, config(TrustMode::Never)).await?;
    let invoice = buy(&jit, Some(PAYMENT_MSAT)).await;
    jit.payer.pay(&invoice.invoice).await?;
    assert_eq!(claimed_amount(&jit).await?, PAYMENT_MSAT - MIN_FEE_MSAT);
    wait_for_state(&jit, &invoice, "paid", DEFAULT_TIMEOUT).await?;

    network.restart(&jit.lsp).await?;
    payer_channel_usable(&jit).await?;
    let wallet = jit.wallet.node();
    wait_until("JIT channel usable after the LSP restart", DEFAULT_TIMEOUT, || {
        wallet.channel_manager().list_usable_channels().len() == 1
    })
    .await?;
    assert!(matches!(session(&jit, &invoice).await.expect("session").state, JitState::Paid { .. }));

    let second = jit.wallet.invoice(4_000_000)?;
    jit.payer.pay(&second).await?;
    assert_eq!(claimed_amount(&jit).await?, 4_000_000);
    assert_eq!(jit.wallet.node().list_channels().len(), 1);
    network.shutdown().await
}
