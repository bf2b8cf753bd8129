//! LSPS2 end to end on a real bcoin regtest node (the real LSP service, the real wallet client,
//! real LDK over TCP): both trust modes with the JIT funding confirmed on bcoin and exact
//! amounts, a second payment over the new channel, a wallet that never claims in
//! `client_trusts_lsp` mode (the funding never reaches bcoin), and an offline wallet (the
//! payment fails back when the LSP stops waiting, not at CLTV expiry).

mod jit_lsp;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use bitcoin::hashes::Hash;
use bitcoin::Txid;
use inbound_client::lsps2::Lsps2ClientConfig;
use inbound_harness::{wait_until, Backend, HarnessError, HarnessResult, Network, TestNode, DEFAULT_TIMEOUT};
use inbound_node::lightning::events::{Event, ReplayEvent};
use inbound_node::lightning::types::payment::PaymentHash;
use inbound_node::NodeEventHandler;
use inbound_service::lsps2::{FailReason, JitState, Lsps2Config, TrustMode};
use inbound_service::{Clock, ManualClock, SystemClock};
use jit_lsp::*;

/// LDK's `LATENCY_GRACE_PERIOD_BLOCKS`: a hop whose forward is stuck on a closed channel fails
/// the HTLC back upstream this many blocks before the upstream HTLC expires.
const LATENCY_GRACE_PERIOD_BLOCKS: u32 = 3;

/// A wallet's event handler in front of the usual one that swallows `PaymentClaimable`: the
/// payment is neither claimed nor failed, LDK keeps holding its HTLCs.
struct NeverClaims {
    inner: Arc<dyn NodeEventHandler>,
    held: AtomicUsize,
}

impl NodeEventHandler for NeverClaims {
    fn handle_event(&self, event: Event) -> Pin<Box<dyn Future<Output = Result<(), ReplayEvent>> + Send + '_>> {
        if let Event::PaymentClaimable { .. } = event {
            self.held.fetch_add(1, Ordering::SeqCst);
            return Box::pin(async { Ok(()) });
        }
        self.inner.handle_event(event)
    }
}

/// [`setup_with_clock`] on bcoin, optionally with a wallet that never claims.
async fn setup_bcoin(
    network: &Network,
    config: Lsps2Config,
    clock: Arc<dyn Clock>,
    never_claims: Option<&OnceLock<Arc<NeverClaims>>>,
) -> HarnessResult<Jit> {
    let Some(holder) = never_claims else {
        return setup_with_clock(network, config, clock).await;
    };
    let lsp = network.add_jit_lsp("lsp", config, clock).await?;
    let payer = network.add_wallet("payer").await?;
    let wallet = network
        .add_jit_wallet_with("wallet", Lsps2ClientConfig::default(), |inner| {
            let never = Arc::new(NeverClaims { inner, held: AtomicUsize::new(0) });
            let _ = holder.set(Arc::clone(&never));
            never as Arc<dyn NodeEventHandler>
        })
        .await?;
    network.connect(&payer, &lsp).await?;
    network.connect(&wallet, &lsp).await?;
    network.fund(&payer, 1_000_000).await?;
    network.fund(&lsp, LSP_FUNDS_SAT).await?;
    network.open_channel(&payer, &lsp, 500_000, 0).await?;
    Ok(Jit { lsp, payer, wallet })
}

fn bcoin(network: &Network) -> &inbound_regtest::Bcoin {
    match network.backend() {
        Backend::Bcoin(bcoin) => bcoin,
        Backend::Sim(_) => panic!("a bcoin network"),
    }
}

/// The value of output `vout` of `txid` if it is in a bcoin block above `from_height`.
async fn output_in_chain(network: &Network, txid: Txid, vout: u32, from_height: u32) -> HarnessResult<Option<u64>> {
    let bcoin = bcoin(network);
    let tip = bcoin.height().await?;
    for height in from_height + 1..=tip {
        let failed = |e: inbound_node::ChainError| HarnessError::Failed(format!("reading block {height}: {e}"));
        let Some(hash) = bcoin.rpc().get_block_hash(height).await.map_err(failed)? else { continue };
        let block = bcoin.rpc().get_block(&hash).await.map_err(failed)?;
        if let Some(tx) = block.txdata.iter().find(|tx| tx.compute_txid() == txid) {
            let value = tx.output.get(vout as usize).map(|output| output.value.to_sat());
            return Ok(Some(value.unwrap_or(0)));
        }
    }
    Ok(None)
}

async fn in_bcoin_mempool(network: &Network, txid: Txid) -> HarnessResult<bool> {
    Ok(bcoin(network).mempool().await?.contains(&txid))
}

async fn claimed_amount(wallet: &TestNode) -> HarnessResult<u64> {
    let event = wallet
        .wait_for_event("PaymentClaimed", DEFAULT_TIMEOUT, |event| matches!(event, Event::PaymentClaimed { .. }))
        .await?;
    let Event::PaymentClaimed { amount_msat, .. } = event else { unreachable!("matched above") };
    Ok(amount_msat)
}

async fn payment_failed(payer: &TestNode) -> HarnessResult<Event> {
    payer
        .wait_for_event("the payment's outcome", DEFAULT_TIMEOUT, |event| {
            matches!(event, Event::PaymentFailed { .. } | Event::PaymentSent { .. })
        })
        .await
}

/// The paid JIT flow in `trust` mode: exact amounts, the funding in bcoin's mempool after the
/// claim, then mined: the block holds the channel's funding output with the channel's value,
/// and both sides see the confirmation.
async fn paid_flow_confirms_on_bcoin(network: &Network, trust: TrustMode) -> HarnessResult<Jit> {
    let jit = setup_bcoin(network, config(trust), Arc::new(SystemClock), None).await?;
    let invoice = buy(&jit, Some(PAYMENT_MSAT)).await;
    assert_eq!(invoice.client_trusts_lsp, trust == TrustMode::Always);
    jit.payer.pay(&invoice.invoice).await?;
    assert_eq!(claimed_amount(&jit.wallet).await?, PAYMENT_MSAT - MIN_FEE_MSAT);
    let paid = wait_for_state(&jit, &invoice, "paid", DEFAULT_TIMEOUT).await?;
    let JitState::Paid { fee_msat, .. } = paid.state else { unreachable!("waited for paid") };
    assert_eq!(fee_msat, MIN_FEE_MSAT);
    assert_eq!(jit.lsp.lsps2_service().stats().await.expect("stats").fees_collected_msat_since_start, MIN_FEE_MSAT);

    let channel = jit.wallet.node().list_channels().into_iter().next().expect("the JIT channel");
    let funding = channel.funding_txo.expect("funded");
    network.wait_in_mempool(funding.txid, DEFAULT_TIMEOUT).await?;
    let height = bcoin(network).height().await?;
    network.mine(1).await?;
    let value = output_in_chain(network, funding.txid, u32::from(funding.index), height).await?;
    assert_eq!(value, Some(channel.channel_value_satoshis), "the funding output confirmed on bcoin");
    for side in [&jit.wallet, &jit.lsp] {
        let node = side.node();
        wait_until("JIT channel confirmed", DEFAULT_TIMEOUT, || {
            node.list_channels()
                .iter()
                .any(|c| c.channel_id == channel.channel_id && c.confirmations.is_some_and(|n| n >= 1))
        })
        .await?;
    }
    Ok(jit)
}

/// Proves (LSP trusts client): payment − fee exactly, the funding broadcast at once and
/// confirmed on bcoin with the channel's value, and a second payment over the new channel is
/// forwarded normally (no fee, no second channel).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lsp_trusts_client_confirms_on_bcoin_and_forwards_the_next_payment() -> HarnessResult<()> {
    let network = Network::bcoin().await?;
    let jit = paid_flow_confirms_on_bcoin(&network, TrustMode::Never).await?;
    let second = jit.wallet.invoice(3_000_000)?;
    jit.payer.pay(&second).await?;
    jit.wallet
        .wait_for_event("second PaymentClaimed", DEFAULT_TIMEOUT, |event| {
            matches!(event, Event::PaymentClaimed { amount_msat: 3_000_000, .. })
        })
        .await?;
    assert_eq!(jit.wallet.node().list_channels().len(), 1, "no second channel");
    network.shutdown().await
}

/// Proves (client trusts LSP): the same exact amounts, with the held funding broadcast after
/// the claim and confirmed on bcoin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_trusts_lsp_confirms_on_bcoin() -> HarnessResult<()> {
    let network = Network::bcoin().await?;
    paid_flow_confirms_on_bcoin(&network, TrustMode::Always).await?;
    network.shutdown().await
}

/// Proves: in `client_trusts_lsp` mode, a wallet that takes the forwarded HTLCs and never
/// claims makes the LSP abandon the channel when the claim timeout passes (manual clock): the
/// funding never reaches bcoin's mempool or a block, the LSP's on-chain balance is exactly
/// what it was, and the payer's payment fails back (a few blocks before it expires upstream).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_claims_costs_the_lsp_nothing_on_bcoin() -> HarnessResult<()> {
    let network = Network::bcoin().await?;
    let clock = Arc::new(ManualClock::starting_now());
    let holder = OnceLock::new();
    let jit =
        setup_bcoin(&network, config(TrustMode::Always), Arc::clone(&clock) as Arc<dyn Clock>, Some(&holder)).await?;
    let never_claims = holder.get().expect("wrapped").clone();
    let lsp_node = jit.lsp.node();
    let balance_before = lsp_node.onchain_balance();
    let height_before = bcoin(&network).height().await?;

    let invoice = buy(&jit, Some(PAYMENT_MSAT)).await;
    assert!(invoice.client_trusts_lsp);
    send_raw(&jit.payer, &invoice.invoice, PaymentHash(invoice.invoice.payment_hash().to_byte_array()), PAYMENT_MSAT);
    let forwarded = wait_for_state(&jit, &invoice, "forwarded", DEFAULT_TIMEOUT).await?;
    wait_until("the wallet holds the payment", DEFAULT_TIMEOUT, || never_claims.held.load(Ordering::SeqCst) >= 1)
        .await?;
    let funding = lsp_node.manual_funding_transaction(forwarded.user_channel_id).expect("held funding").compute_txid();
    assert!(!in_bcoin_mempool(&network, funding).await?, "the funding waits for the fee");
    let upstream_expiry = jit
        .payer
        .node()
        .list_channels()
        .iter()
        .flat_map(|channel| channel.pending_outbound_htlcs.iter())
        .map(|htlc| htlc.cltv_expiry)
        .max()
        .expect("the payer's HTLC is in flight");

    clock.advance(jit.lsp.lsps2_service().config().policy.claim_timeout_secs);
    jit.lsp.lsps2_service().tick().await.expect("tick");
    let failed = wait_for_state(&jit, &invoice, "failed", DEFAULT_TIMEOUT).await?;
    assert_eq!(failed.state, JitState::Failed { reason: FailReason::ClientNeverClaimed });
    wait_until("funding inputs released", DEFAULT_TIMEOUT, || lsp_node.onchain_balance() == balance_before).await?;

    // The stuck HTLC is failed upstream only near its expiry (see lsps2_lsp_edge_cases.rs).
    let height = bcoin(&network).height().await?;
    network.mine((upstream_expiry - LATENCY_GRACE_PERIOD_BLOCKS).saturating_sub(height)).await?;
    let outcome = payment_failed(&jit.payer).await?;
    assert!(matches!(outcome, Event::PaymentFailed { .. }), "the payment fails: {outcome:?}");
    network.sync_all().await?;
    assert!(!in_bcoin_mempool(&network, funding).await?, "never broadcast");
    assert_eq!(output_in_chain(&network, funding, 0, height_before).await?, None, "never mined");
    assert_eq!(lsp_node.onchain_balance(), balance_before, "the LSP lost nothing on chain");
    network.shutdown().await
}

/// Proves: a payment for a wallet that is offline is failed back as soon as the LSP stops
/// waiting for the client (`client_wait_secs`, manual clock) — no block is mined, so it is not
/// a CLTV-expiry failure — and no channel is opened or funded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_wallet_has_the_payment_failed_back_promptly_on_bcoin() -> HarnessResult<()> {
    let network = Network::bcoin().await?;
    let clock = Arc::new(ManualClock::starting_now());
    let jit = setup_bcoin(&network, config(TrustMode::Never), Arc::clone(&clock) as Arc<dyn Clock>, None).await?;
    let invoice = buy(&jit, Some(PAYMENT_MSAT)).await;
    network.stop(&jit.wallet).await?;
    let height = bcoin(&network).height().await?;
    let lsp_channels = jit.lsp.node().list_channels().len();

    jit.payer.node().pay_invoice(&invoice.invoice)?;
    wait_for_state(&jit, &invoice, "awaiting_client", DEFAULT_TIMEOUT).await?;
    assert!(jit.payer.events().snapshot().iter().all(|e| !matches!(e, Event::PaymentFailed { .. })), "held");
    clock.advance(jit.lsp.lsps2_service().config().policy.client_wait_secs);
    jit.lsp.lsps2_service().tick().await.expect("tick");
    let outcome = payment_failed(&jit.payer).await?;
    assert!(matches!(outcome, Event::PaymentFailed { .. }), "the payment fails: {outcome:?}");
    assert_eq!(bcoin(&network).height().await?, height, "no block mined: not a CLTV expiry");
    wait_for_state(&jit, &invoice, "awaiting_payment", DEFAULT_TIMEOUT).await?;
    assert_eq!(jit.lsp.node().list_channels().len(), lsp_channels, "no channel opened");
    assert!(bcoin(&network).mempool().await?.is_empty(), "nothing broadcast");
    network.shutdown().await
}
