//! Inbound's LSP (`inbound serve`, a child process) killed with SIGKILL in the middle of a JIT
//! payment and restarted from the same data directory, on bcoin, with an ldk-node payer and an
//! Inbound wallet node: the flow resumes from what was persisted; the wallet is paid once,
//! exactly payment − opening fee, over one JIT channel; the payer's payment succeeds; no HTLC is
//! left behind.
//!
//! Two moments: while the LSP holds the intercepted payment for a wallet that is offline
//! (session `awaiting_client`), and right after it started opening the channel (session
//! `opening_channel`, the kill lands somewhere in the open handshake or just after it).

use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context, Result};
use inbound_interop::chain::Chain;
use inbound_interop::ldk::{free_local_address, open_payer_channels, socket_address, start_ldk_node, wait_event};
use inbound_interop::serve::{inbound_binary, InboundLsp, ServeOptions, TEST_TIER};
use inbound_interop::wallet::{wait_inbound_event, InboundWallet};
use inbound_node::lightning::events::Event as InboundEvent;
use ldk_node::Event;

const PAYMENT_MSAT: u64 = 50_000_000;

/// Where the LSP is killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KillAt {
    /// Holding the payment while the wallet is offline.
    AwaitingClient,
    /// As soon as the session moved to `opening_channel`.
    OpeningChannel,
}

async fn killed_mid_flow(at: KillAt) -> Result<()> {
    let started = Instant::now();
    let chain = Chain::start().await?;
    let dir = tempfile::tempdir()?;
    let binary = inbound_binary()?;
    let lsp_dir = dir.path().join("lsp");
    let options = ServeOptions { trust: "never", ..ServeOptions::default() };
    let mut lsp = InboundLsp::start(&binary, &chain, &lsp_dir, &options)?;
    let lsp_id = lsp.node_id;
    let payer = start_ldk_node(&chain, dir.path(), "payer", Some(free_local_address()?), vec![], |_| {})?;
    let wallet =
        InboundWallet::start(&dir.path().join("wallet"), "wallet", chain.bcoin.rpc_url(), Duration::from_secs(1))
            .await?;

    let payer_address = payer.onchain_payment().new_address().map_err(|e| anyhow!("{e:?}"))?;
    chain.bcoin.mine(1, Some(&lsp.funding_address)).await?;
    chain.fund(&payer_address, 1).await?;
    inbound_interop::ldk::wait_onchain_balance(&payer, 1_000_000, Duration::from_secs(30)).await?;
    open_payer_channels(&chain, &payer, lsp_id, lsp.listen, 1, 5_000_000).await?;

    // The wallet buys (the menu is empty until the LSP's wallet has seen its coinbase).
    wallet.node.connect_peer(lsp_id, lsp.listen, false).await.map_err(|e| anyhow!("connect: {e}"))?;
    let jit = wallet.buy_jit_invoice(lsp_id, PAYMENT_MSAT, 2_000_000, Duration::from_secs(30)).await?;
    let fee = lsps::lsps2::opening_fee_msat(PAYMENT_MSAT, TEST_TIER.min_fee_msat, TEST_TIER.proportional_ppm)
        .map_err(|e| anyhow!("fee overflow: {e:?}"))?;
    ensure!(jit.opening_fee_msat == Some(fee), "agreed fee {:?}, menu fee {fee}", jit.opening_fee_msat);
    if at == KillAt::AwaitingClient {
        wallet.node.disconnect_peer(lsp_id);
    }
    let mut events = wallet.subscribe();

    payer.bolt11_payment().send(&jit.invoice, None).map_err(|e| anyhow!("send: {e:?}"))?;
    let needle = match at {
        KillAt::AwaitingClient => "to=\"awaiting_client\"",
        KillAt::OpeningChannel => "to=\"opening_channel\"",
    };
    lsp.wait_for_line(needle, Duration::from_secs(30))?;
    lsp.kill()?;
    println!("{at:?}: LSP killed after {:?}", started.elapsed());

    let mut lsp = InboundLsp::start(&binary, &chain, &lsp_dir, &options).context("restarting the killed LSP")?;
    ensure!(lsp.node_id == lsp_id, "same node after the restart");
    payer.connect(lsp_id, socket_address(lsp.listen)?, true).map_err(|e| anyhow!("payer reconnect: {e:?}"))?;
    wallet.node.connect_peer(lsp_id, lsp.listen, false).await.map_err(|e| anyhow!("wallet reconnect: {e}"))?;

    let claimed =
        wait_inbound_event(&mut events, "the wallet's PaymentClaimed", Duration::from_secs(60), |event| match event {
            InboundEvent::PaymentClaimed { amount_msat, .. } => Some(Ok(*amount_msat)),
            _ => None,
        })
        .await
        .with_context(|| format!("LSP log after the restart:\n{}", lsp.drain_log().join("\n")))?;
    ensure!(claimed == PAYMENT_MSAT - fee, "the wallet got {claimed} msat, expected payment − fee");
    wait_event(&payer, "the payer's PaymentSuccessful", Duration::from_secs(30), |event| match event {
        Event::PaymentSuccessful { .. } => Some(Ok(())),
        Event::PaymentFailed { reason, .. } => Some(Err(anyhow!("payment failed: {reason:?}"))),
        _ => None,
    })
    .await?;
    lsp.wait_for_line("to=\"paid\"", Duration::from_secs(30))?;

    // One JIT channel, usable; no second open; no HTLC left at the wallet; the payer's channel
    // to the LSP usable again.
    let channels = wallet.node.list_channels();
    ensure!(channels.len() == 1, "one JIT channel at the wallet: {channels:?}");
    ensure!(channels[0].counterparty.node_id == lsp_id && channels[0].is_usable, "{:?}", channels[0]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // The fulfilled HTLC leaves the wallet's channel once the commitment dance is over.
        let settled = wallet.node.list_channels().iter().all(|c| c.pending_inbound_htlcs.is_empty());
        let payer_channels = payer.list_channels();
        if settled && !payer_channels.is_empty() && payer_channels.iter().all(|c| c.is_usable) {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "HTLC left at the wallet ({:?}) or the payer's channel not usable ({payer_channels:?})",
            wallet.node.list_channels()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("{at:?}: wallet paid {claimed} msat (fee {fee}) in {:?}", started.elapsed());
    let _ = payer.stop();
    let _ = wallet.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lsp_killed_while_holding_the_payment_resumes_and_pays_once() {
    killed_mid_flow(KillAt::AwaitingClient).await.expect("killed while awaiting the client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lsp_killed_while_opening_the_channel_resumes_and_pays_once() {
    killed_mid_flow(KillAt::OpeningChannel).await.expect("killed while opening");
}
