//! Inbound's client (inbound-client `Lsps2Client` on an inbound-node wallet node, wired as
//! `inbound client jit-invoice` does) buying a JIT channel from LDK's own LSPS2 service
//! (ldk-node 0.7.1 `set_liquidity_provider_lsps2`), paid by an ldk-node payer, on a fresh bcoin
//! chain. Once per trust mode of the LDK service.
//!
//! Checked: the fee Inbound's client agreed is the menu formula, the wallet claims exactly
//! payment − fee, the JIT channel exists and is usable, and its funding confirms after mining.
//!
//! Where LDK deviates from bLIP-52 (spec digest §8.3) and it matters here:
//! * the promise is LDK's own scheme (hex HMAC bound to the client id over an RFC 3339
//!   `+00:00` datetime string); Inbound's client never parses it and echoes it verbatim, so
//!   nothing needs tolerating;
//! * `valid_until` is chrono's serde form with up to nine fractional digits
//!   (`…T12:00:00.123456789Z`), and LDK's promise MACs the instant re-formatted as `…+00:00`.
//!   Tolerated: Inbound's `DateTime` keeps nanoseconds, so the `opening_fee_params` it sends back
//!   in `lsps2.buy` denote the same instant and LDK's promise still verifies (the purchase below
//!   would fail with 201 otherwise);
//! * LDK spreads the fee across HTLCs proportionally instead of bLIP-52's example split; with
//!   one HTLC both give the same `extra_fee`, and Inbound's client checks only the totals;
//! * LDK computes the fee with `div_ceil` (no separate `+ 999 999` overflow step); identical for
//!   every amount that does not overflow u64, as here.

use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context, Result};
use inbound_client::lsps2::JitInvoiceRequest;
use inbound_interop::chain::Chain;
use inbound_interop::ldk::{
    free_local_address, ldk_lsps2_service, open_payer_channels, start_ldk_node, wait_event, wait_onchain_balance,
    LDK_FEE_PPM, LDK_MIN_FEE_MSAT,
};
use inbound_interop::wallet::{wait_inbound_event, InboundWallet};
use inbound_node::lightning::events::Event as LdkEvent;
use ldk_node::Event;

/// The proportional part (with its ceiling) decides the fee, not the floor.
const PAYMENT_MSAT: u64 = 123_456_789;

async fn inbound_wallet_buys_from_ldk(client_trusts_lsp: bool) -> Result<()> {
    let started = Instant::now();
    let chain = Chain::start().await?;
    let dir = tempfile::tempdir()?;
    let lsp_listen = free_local_address()?;
    let lsp = start_ldk_node(&chain, dir.path(), "ldk-lsp", Some(lsp_listen), vec![], |builder| {
        builder.set_liquidity_provider_lsps2(ldk_lsps2_service(client_trusts_lsp));
    })?;
    let lsp_id = lsp.node_id();
    let payer = start_ldk_node(&chain, dir.path(), "payer", Some(free_local_address()?), vec![], |_| {})?;
    let wallet = InboundWallet::start(
        &dir.path().join("wallet"),
        "inbound-wallet",
        chain.bcoin.rpc_url(),
        Duration::from_secs(1),
    )
    .await?;

    let lsp_address = lsp.onchain_payment().new_address().map_err(|e| anyhow!("{e:?}"))?;
    let payer_address = payer.onchain_payment().new_address().map_err(|e| anyhow!("{e:?}"))?;
    chain.bcoin.mine(1, Some(&lsp_address)).await?;
    chain.fund(&payer_address, 1).await?;
    wait_onchain_balance(&lsp, 1_000_000, Duration::from_secs(30)).await?;
    wait_onchain_balance(&payer, 1_000_000, Duration::from_secs(30)).await?;
    open_payer_channels(&chain, &payer, lsp_id, lsp_listen, 1, 5_000_000).await?;
    println!("trust={client_trusts_lsp}: payer channel usable after {:?}", started.elapsed());

    wallet.node.connect_peer(lsp_id, lsp_listen, false).await.map_err(|e| anyhow!("connect: {e}"))?;
    let jit = tokio::time::timeout(
        Duration::from_secs(30),
        wallet.lsps2.jit_invoice(JitInvoiceRequest {
            lsp: lsp_id,
            amount_msat: Some(PAYMENT_MSAT),
            max_fee_msat: 10_000_000,
            description: "interop".into(),
            expiry_secs: 600,
            token: None,
        }),
    )
    .await
    .context("jit_invoice timed out")?
    .map_err(|e| anyhow!("jit_invoice from LDK's LSPS2 service: {e}"))?;
    let fee = lsps::lsps2::opening_fee_msat(PAYMENT_MSAT, LDK_MIN_FEE_MSAT, LDK_FEE_PPM)
        .map_err(|e| anyhow!("fee overflow: {e:?}"))?;
    ensure!(jit.opening_fee_msat == Some(fee), "agreed fee {:?}, menu formula {fee}", jit.opening_fee_msat);
    ensure!(jit.client_trusts_lsp == client_trusts_lsp, "buy answered client_trusts_lsp={}", jit.client_trusts_lsp);
    println!("trust={client_trusts_lsp}: JIT invoice after {:?}", started.elapsed());

    let mut events = wallet.subscribe();
    let hash = jit.invoice.payment_hash().to_string();
    payer.bolt11_payment().send(&jit.invoice, None).map_err(|e| anyhow!("send: {e:?}"))?;
    let claimed =
        wait_inbound_event(&mut events, "the wallet's PaymentClaimed", Duration::from_secs(60), |event| match event {
            LdkEvent::PaymentClaimed { payment_hash, amount_msat, .. } if payment_hash.to_string() == hash => {
                Some(Ok(*amount_msat))
            }
            _ => None,
        })
        .await?;
    wait_event(&payer, "the payer's PaymentSuccessful", Duration::from_secs(30), |event| match event {
        Event::PaymentSuccessful { .. } => Some(Ok(())),
        Event::PaymentFailed { reason, .. } => Some(Err(anyhow!("payment failed: {reason:?}"))),
        _ => None,
    })
    .await?;
    assert_eq!(claimed, PAYMENT_MSAT - fee, "the wallet claims the payment minus the opening fee");
    println!("trust={client_trusts_lsp}: paid after {:?}", started.elapsed());

    let channels = wallet.node.list_channels();
    ensure!(channels.len() == 1, "one JIT channel: {channels:?}");
    let channel = &channels[0];
    ensure!(channel.counterparty.node_id == lsp_id && channel.is_usable, "{channel:?}");
    let funding = channel.funding_txo.ok_or_else(|| anyhow!("no funding outpoint"))?;

    let deadline = Instant::now() + Duration::from_secs(30);
    while !chain.bcoin.mempool().await?.contains(&funding.txid) {
        ensure!(Instant::now() < deadline, "JIT funding {} never reached the mempool", funding.txid);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    chain.mine(6).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let confirmations = wallet.node.list_channels().first().and_then(|c| c.confirmations).unwrap_or(0);
        if confirmations >= 6 {
            break;
        }
        ensure!(Instant::now() < deadline, "JIT channel at {confirmations} confirmations");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("trust={client_trusts_lsp}: claimed {claimed} msat (fee {fee}) in {:?}", started.elapsed());
    wallet.stop().await?;
    for node in [&payer, &lsp] {
        let _ = node.stop();
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn inbound_wallet_buys_a_jit_channel_from_ldk_lsp_trusting_client() {
    inbound_wallet_buys_from_ldk(false).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn inbound_wallet_buys_a_jit_channel_from_ldk_lsp_client_trusts_lsp() {
    inbound_wallet_buys_from_ldk(true).await.unwrap();
}

/// LDK's LSPS2 refusals reach Inbound's client as plain rejections with bLIP-52's codes, and the
/// client keeps talking to the LSP afterwards.
///
/// LDK deviation tolerated here: LDK's error `data` is an `Option<String>` written without
/// `skip_serializing_if` (digest §8.3), so every LDK error carries `"data": null`; Inbound's
/// client takes a null (or string) `data` as "no data" instead of a malformed message.
///
/// LDK deviation tolerated here: a `payment_size_msat` above the entry's
/// `max_payment_size_msat` has no dedicated code in bLIP-52; LDK answers 203
/// (`payment_size_too_large`), and Inbound's client passes whatever code comes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ldk_lsps2_refusals_reach_inbound_client_as_rejections() {
    refusals().await.unwrap();
}

async fn refusals() -> Result<()> {
    use inbound_client::ClientError;
    use lsps::lsps2::BuyRequest;
    use lsps::method::{Request, Response};
    use lsps::schema::MsatAmount;

    let chain = Chain::start().await?;
    let dir = tempfile::tempdir()?;
    let lsp_listen = free_local_address()?;
    let lsp = start_ldk_node(&chain, dir.path(), "ldk-lsp", Some(lsp_listen), vec![], |builder| {
        builder.set_liquidity_provider_lsps2(ldk_lsps2_service(false));
    })?;
    let wallet = InboundWallet::start(
        &dir.path().join("wallet"),
        "inbound-wallet",
        chain.bcoin.rpc_url(),
        Duration::from_secs(1),
    )
    .await?;
    wallet.node.connect_peer(lsp.node_id(), lsp_listen, false).await.map_err(|e| anyhow!("connect: {e}"))?;
    let menu = wallet.lsps2.get_info(lsp.node_id(), None).await.map_err(|e| anyhow!("get_info: {e}"))?;
    ensure!(menu.len() == 1, "LDK offers one entry: {menu:?}");
    let entry = menu[0].clone();

    let buy = |opening_fee_params, payment_size_msat| {
        wallet.lsps.call(lsp.node_id(), Request::Lsps2Buy(BuyRequest { opening_fee_params, payment_size_msat }))
    };
    let code = |outcome: Result<Response, ClientError>| match outcome {
        Err(ClientError::LspRejected(error)) => Ok(error.code),
        other => Err(anyhow!("expected a rejection, got {other:?}")),
    };
    // Above the entry's maximum: no code in bLIP-52; LDK says 203.
    let too_large = Some(MsatAmount(entry.max_payment_size_msat.0 + 1));
    ensure!(code(buy(entry.clone(), too_large).await)? == 203);
    // A changed fee no longer matches the promise: 201 invalid_opening_fee_params.
    let mut tampered = entry.clone();
    tampered.min_fee_msat = MsatAmount(entry.min_fee_msat.0 - 1);
    ensure!(code(buy(tampered, Some(MsatAmount(PAYMENT_MSAT))).await)? == 201);
    // The client did not mute the LSP: a proper purchase still works.
    let Response::Lsps2Buy(bought) = buy(entry, Some(MsatAmount(PAYMENT_MSAT))).await? else {
        return Err(anyhow!("lsps2.buy answered something else"));
    };
    ensure!(!bought.client_trusts_lsp, "{bought:?}");
    wallet.stop().await?;
    let _ = lsp.stop();
    Ok(())
}
