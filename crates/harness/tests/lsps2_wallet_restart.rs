//! LSPS2 with the *wallet* restarted between `lsps2.buy` and the payment, on the simulated
//! chain: the purchase is loaded back from the wallet's data directory, so the wallet still
//! accepts the LSP's 0-conf channel and the payment with the fee skimmed.

mod jit_lsp;

use bitcoin::hashes::Hash;
use inbound_client::lsps2::PURCHASES_FILE_NAME;
use inbound_harness::{HarnessResult, Network, DEFAULT_TIMEOUT};
use inbound_node::lightning::events::Event;
use inbound_node::lightning::ln::channelmanager::{PaymentId, Retry};
use inbound_service::lsps2::TrustMode;
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

/// Proves: a wallet restarted right after buying a fixed-amount JIT channel still has the
/// purchase (from `lsps2_purchases.json`); the payer's payment then opens the channel and the
/// wallet receives exactly payment − fee; the settled purchase is then forgotten on disk too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_restarted_after_buying_still_gets_its_jit_payment() -> HarnessResult<()> {
    let network = Network::sim().await?;
    let jit = setup(&network, config(TrustMode::Never)).await?;
    let invoice = buy(&jit, Some(PAYMENT_MSAT)).await;
    assert!(jit.wallet.data_dir().join(PURCHASES_FILE_NAME).exists(), "saved before the invoice was returned");

    network.restart(&jit.wallet).await?;
    assert_eq!(jit.wallet.lsps2().purchases().len(), 1, "the purchase was loaded back");
    network.connect(&jit.wallet, &jit.lsp).await?;
    jit.payer.pay(&invoice.invoice).await?;
    assert_eq!(claimed_amount(&jit).await?, PAYMENT_MSAT - MIN_FEE_MSAT);
    wait_for_state(&jit, &invoice, "paid", DEFAULT_TIMEOUT).await?;
    assert!(jit.wallet.lsps2().purchases().is_empty(), "settled and forgotten");

    network.restart(&jit.wallet).await?;
    assert!(jit.wallet.lsps2().purchases().is_empty(), "forgotten on disk too");
    network.shutdown().await
}

/// Proves: a variable-amount purchase in `client_trusts_lsp` mode survives a wallet that is
/// down while the payment arrives (the LSP holds it for the client): after the restart the
/// wallet accepts the channel, the fee of the amount paid is skimmed, and the LSP broadcasts
/// the held funding once it has the preimage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_down_when_the_payment_arrives_gets_it_after_its_restart() -> HarnessResult<()> {
    let network = Network::sim().await?;
    let jit = setup(&network, config(TrustMode::Always)).await?;
    let invoice = buy(&jit, None).await;
    assert!(invoice.client_trusts_lsp);

    network.stop(&jit.wallet).await?;
    let amount_msat = 9_500_000;
    let payment_id = PaymentId(invoice.invoice.payment_hash().to_byte_array());
    jit.payer
        .node()
        .channel_manager()
        .pay_for_bolt11_invoice(&invoice.invoice, payment_id, Some(amount_msat), Default::default(), Retry::Attempts(0))
        .expect("payment sent");
    wait_for_state(&jit, &invoice, "awaiting_client", DEFAULT_TIMEOUT).await?;

    network.restart(&jit.wallet).await?;
    assert_eq!(jit.wallet.lsps2().purchases().len(), 1, "the purchase was loaded back");
    network.connect(&jit.wallet, &jit.lsp).await?;
    let fee = opening_fee_msat(amount_msat, MIN_FEE_MSAT, PROPORTIONAL_PPM).expect("fee");
    assert_eq!(claimed_amount(&jit).await?, amount_msat - fee);
    let paid = wait_for_state(&jit, &invoice, "paid", DEFAULT_TIMEOUT).await?;
    let funding = jit.lsp.node().manual_funding_transaction(paid.user_channel_id).expect("held funding tx");
    network.wait_in_mempool(funding.compute_txid(), DEFAULT_TIMEOUT).await?;
    jit.payer
        .wait_for_event("PaymentSent", DEFAULT_TIMEOUT, |event| matches!(event, Event::PaymentSent { .. }))
        .await?;
    network.shutdown().await
}
