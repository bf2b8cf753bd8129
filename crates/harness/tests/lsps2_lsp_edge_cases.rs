//! LSPS2 edge cases at the real LSP service over TCP on the simulated chain: a fixed-amount
//! payment that arrives in several parts (MPP), and a wallet that takes the forwarded HTLCs
//! but never claims them while the LSP holds the funding (`client_trusts_lsp`).

mod jit_lsp;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bitcoin::hashes::Hash;
use inbound_client::lsps2::Lsps2ClientConfig;
use inbound_harness::{wait_until, HarnessResult, Network, TestNode, DEFAULT_TIMEOUT};
use inbound_node::lightning::events::{Event, ReplayEvent};
use inbound_node::lightning::types::payment::PaymentHash;
use inbound_node::NodeEventHandler;
use inbound_service::lsps2::{FailReason, JitState, PurchaseMode, TrustMode};
use inbound_service::{Clock, ManualClock, SystemClock};
use jit_lsp::*;
use lsps::lsps2::opening_fee_msat;

/// Each of the payer's two channels to the LSP in the MPP test: smaller than the payment, so it
/// must be split. The LSP lets a peer have up to 100 % of a channel in flight towards it
/// (`node.max_inbound_htlc_in_flight_percent`); with LDK's default of 10 % each channel would
/// carry at most 1,200 sat at once and the payer would find no route at all (issue 14).
const SMALL_CHANNEL_SAT: u64 = 12_000;
/// More than one small channel can carry, less than two can.
const MPP_PAYMENT_MSAT: u64 = 15_000_000;
/// LDK's `LATENCY_GRACE_PERIOD_BLOCKS`: a hop whose forward is stuck on a closed channel
/// fails the HTLC back upstream this many blocks before the upstream HTLC expires.
const LATENCY_GRACE_PERIOD_BLOCKS: u32 = 3;

/// Proves: a fixed-amount JIT payment that the payer must split (two channels to the LSP,
/// neither big enough alone) is collected by the LSP as several parts of one session, opens
/// one channel, and reaches the wallet as exactly payment − fee; the fee is collected once
/// (the skims of all parts add up to it, one session paid, once in the stats).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_part_payment_is_collected_and_forwarded_minus_the_fee() -> HarnessResult<()> {
    let started = Instant::now();
    let network = Network::sim().await?;
    let lsp = network.add_jit_lsp("lsp", config(TrustMode::Never), Arc::new(SystemClock)).await?;
    let payer = network.add_wallet("payer").await?;
    let wallet = network.add_jit_wallet("wallet", Lsps2ClientConfig::default()).await?;
    network.connect(&payer, &lsp).await?;
    network.connect(&wallet, &lsp).await?;
    network.fund(&payer, 1_000_000).await?;
    network.fund(&lsp, LSP_FUNDS_SAT).await?;
    network.open_channel(&payer, &lsp, SMALL_CHANNEL_SAT, 0).await?;
    network.open_channel(&payer, &lsp, SMALL_CHANNEL_SAT, 0).await?;
    let jit = Jit { lsp, payer, wallet };

    let first_hops = jit.payer.node().channel_manager().list_usable_channels();
    assert_eq!(first_hops.len(), 2);
    let limits: Vec<u64> = first_hops.iter().map(|channel| channel.next_outbound_htlc_limit_msat).collect();
    assert!(limits.iter().all(|limit| *limit < MPP_PAYMENT_MSAT), "no single channel can carry it: {limits:?}");
    assert!(limits.iter().sum::<u64>() >= MPP_PAYMENT_MSAT, "both together can: {limits:?}");
    assert!(limits.iter().all(|limit| *limit > SMALL_CHANNEL_SAT * 1000 / 2), "far above 10 %: {limits:?}");

    let invoice = buy(&jit, Some(MPP_PAYMENT_MSAT)).await;
    let fee = opening_fee_msat(MPP_PAYMENT_MSAT, MIN_FEE_MSAT, PROPORTIONAL_PPM).expect("fee");
    jit.payer.pay(&invoice.invoice).await?;

    let claimed = jit
        .wallet
        .wait_for_event("PaymentClaimed", DEFAULT_TIMEOUT, |event| matches!(event, Event::PaymentClaimed { .. }))
        .await?;
    let Event::PaymentClaimed { amount_msat, htlcs, .. } = claimed else { unreachable!("matched above") };
    assert_eq!(amount_msat, MPP_PAYMENT_MSAT - fee, "the wallet gets payment − fee");
    assert!(htlcs.len() >= 2, "the wallet received the payment in {} part(s)", htlcs.len());

    let paid = wait_for_state(&jit, &invoice, "paid", DEFAULT_TIMEOUT).await?;
    assert_eq!(paid.mode, PurchaseMode::Fixed { payment_size_msat: MPP_PAYMENT_MSAT });
    let JitState::Paid { fee_msat, .. } = paid.state else { unreachable!("waited for paid") };
    assert_eq!(fee_msat, fee);
    assert_eq!(paid.fee_collected_msat, fee, "the fee is collected once, not once per part");

    // The LSP intercepted every part of the payment on the session's SCID...
    let scid = invoice.intercept_scid.0;
    let intercepted = jit
        .lsp
        .events()
        .snapshot()
        .iter()
        .filter(|event| matches!(event, Event::HTLCIntercepted { requested_next_hop_scid, .. } if *requested_next_hop_scid == scid))
        .count();
    assert!(intercepted >= 2, "the LSP collected {intercepted} part(s)");
    // ...and forwarded each over the one JIT channel; their skims add up to the fee.
    let lsp_events = jit.lsp.events();
    let forwards = || {
        lsp_events
            .snapshot()
            .into_iter()
            .filter_map(|event| match event {
                Event::PaymentForwarded { next_user_channel_id: Some(id), skimmed_fee_msat, .. }
                    if id == paid.user_channel_id =>
                {
                    Some(skimmed_fee_msat.unwrap_or(0))
                }
                _ => None,
            })
            .collect::<Vec<u64>>()
    };
    wait_until("every part forwarded", DEFAULT_TIMEOUT, || forwards().len() == htlcs.len()).await?;
    assert_eq!(forwards().iter().sum::<u64>(), fee, "skims of all parts: {:?}", forwards());
    assert_eq!(jit.wallet.node().list_channels().len(), 1, "one JIT channel for all parts");

    let stats = jit.lsp.lsps2_service().stats().await.expect("stats");
    assert_eq!(stats.paid_since_start, 1);
    assert_eq!(stats.fees_collected_msat_since_start, fee);
    network.shutdown().await?;
    println!("MPP JIT payment ({intercepted} parts) took {:?}", started.elapsed());
    Ok(())
}

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

fn payment_outcome(payer: &TestNode) -> Option<Event> {
    payer
        .events()
        .snapshot()
        .into_iter()
        .find(|event| matches!(event, Event::PaymentFailed { .. } | Event::PaymentSent { .. }))
}

/// Proves: in trust mode (`client_trusts_lsp`), a wallet that takes the forwarded HTLCs and
/// sits on them costs the LSP nothing on chain: when the claim timeout passes (manual clock)
/// the session fails with `ClientNeverClaimed`, the held funding transaction is abandoned and
/// never reaches the mempool or a block, and the LSP's wallet balance is exactly what it was
/// before the open. The payer's payment fails once the LSP gives up the stuck HTLC, a few
/// blocks before it would expire upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_claims_costs_the_lsp_nothing_in_trust_mode() -> HarnessResult<()> {
    let started = Instant::now();
    let network = Network::sim().await?;
    let chain = network.sim_chain().expect("sim").clone();
    let clock = Arc::new(ManualClock::starting_now());
    let lsp = network.add_jit_lsp("lsp", config(TrustMode::Always), Arc::clone(&clock) as Arc<dyn Clock>).await?;
    let payer = network.add_wallet("payer").await?;
    let holder = Arc::new(std::sync::OnceLock::<Arc<NeverClaims>>::new());
    let wallet = {
        let holder = Arc::clone(&holder);
        network
            .add_jit_wallet_with("wallet", Lsps2ClientConfig::default(), move |inner| {
                let never = Arc::new(NeverClaims { inner, held: AtomicUsize::new(0) });
                let _ = holder.set(Arc::clone(&never));
                never as Arc<dyn NodeEventHandler>
            })
            .await?
    };
    let never_claims = holder.get().expect("wrapped").clone();
    network.connect(&payer, &lsp).await?;
    network.connect(&wallet, &lsp).await?;
    network.fund(&payer, 1_000_000).await?;
    network.fund(&lsp, LSP_FUNDS_SAT).await?;
    network.open_channel(&payer, &lsp, 500_000, 0).await?;
    let jit = Jit { lsp, payer, wallet };
    let lsp_node = jit.lsp.node();
    let balance_before = lsp_node.onchain_balance();

    let invoice = buy(&jit, Some(PAYMENT_MSAT)).await;
    assert!(invoice.client_trusts_lsp, "TrustMode::Always sells client_trusts_lsp");
    let hash = PaymentHash(invoice.invoice.payment_hash().to_byte_array());
    send_raw(&jit.payer, &invoice.invoice, hash, PAYMENT_MSAT);

    let forwarded = wait_for_state(&jit, &invoice, "forwarded", DEFAULT_TIMEOUT).await?;
    wait_until("the wallet holds the claimable payment", DEFAULT_TIMEOUT, || {
        never_claims.held.load(Ordering::SeqCst) >= 1
    })
    .await?;
    let funding = lsp_node.manual_funding_transaction(forwarded.user_channel_id).expect("held funding").compute_txid();
    let in_mempool = || chain.mempool().iter().any(|tx| tx.compute_txid() == funding);
    assert!(!in_mempool(), "the funding waits for the fee");
    // The payer's HTLC into the LSP, which the LSP cannot settle without the preimage.
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
    assert_eq!(failed.fee_collected_msat, 0);
    wait_until("funding inputs released", DEFAULT_TIMEOUT, || lsp_node.onchain_balance() == balance_before).await?;
    assert!(!lsp_node.list_channels().iter().any(|c| c.user_channel_id == forwarded.user_channel_id), "abandoned");
    assert!(!in_mempool(), "the abandoned funding is never broadcast");
    assert!(payment_outcome(&jit.payer).is_none(), "the payer's HTLC is still stuck at the LSP");

    // The forwarded HTLC sits in a channel that was force-closed before its funding existed
    // on chain, so nothing can resolve it downstream: LDK fails the payer's HTLC back only when
    // it is about to expire (`LATENCY_GRACE_PERIOD_BLOCKS` before `cltv_expiry`), off chain,
    // keeping the payer's channel. Mine up to that height. Every block takes only what is in
    // the mempool, and the funding is not there, so it never reaches a block either.
    let height = chain.tip().height;
    let target = upstream_expiry - LATENCY_GRACE_PERIOD_BLOCKS;
    assert!(!in_mempool());
    network.mine(target.saturating_sub(height)).await?;
    let outcome = jit
        .payer
        .wait_for_event("PaymentFailed", DEFAULT_TIMEOUT, |event| {
            matches!(event, Event::PaymentFailed { .. } | Event::PaymentSent { .. })
        })
        .await?;
    assert!(matches!(outcome, Event::PaymentFailed { .. }), "the payment fails: {outcome:?}");
    assert!(!in_mempool(), "still never broadcast");
    assert!(!jit.payer.node().channel_manager().list_usable_channels().is_empty(), "the payer keeps its channel");
    assert_eq!(lsp_node.onchain_balance(), balance_before, "the LSP lost nothing on chain");
    network.shutdown().await?;
    println!("never-claiming client took {:?} ({} blocks mined)", started.elapsed(), target - height);
    Ok(())
}
