//! LDK's variable-amount JIT deviation, pinned: an ldk-node 0.7.1 wallet that receives through
//! `receive_variable_amount_via_jit_channel` (bLIP-52's no-MPP mode, no `payment_size_msat`)
//! refuses the first payment of every LSP that charges a fee, Inbound's and ldk-node's own.
//!
//! ldk-node stores the chosen menu entry's `proportional` (not the caller's limit) and, when
//! the payment arrives, allows a withheld fee of at most `proportional × amount received / 10⁶`.
//! bLIP-52's fee is `max(min_fee_msat, proportional × payment / 10⁶)` and comes out of the
//! payment, so the amount received is the payment minus the fee and the allowance is always
//! below the fee: the wallet fails the HTLC back (`counterparty-withheld fee of … exceeds our
//! limit of …`). Even menus where the proportional part dominates cannot avoid it. When LDK
//! computes its limit from the payment (or honours `min_fee_msat`), the pins below fail.
//!
//! What Inbound does after such a refusal, also checked here: the HTLC goes back to the payer
//! at once, the opened channel stays as an unpaid channel, the opening fee is collected from
//! the next payment to the same invoice (one large enough for ldk-node's limit to cover the fee
//! still owed), and the adaptive trust mode answers the client's next purchase with
//! `client_trusts_lsp: true`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context, Result};
use inbound_interop::chain::Chain;
use inbound_interop::ldk::{
    free_local_address, ldk_lsps2_service, open_payer_channels, socket_address, start_ldk_node, wait_event,
    wait_onchain_balance, LDK_FEE_PPM, LDK_MIN_FEE_MSAT,
};
use inbound_interop::serve::{inbound_binary, InboundLsp, ServeOptions, TEST_TIER};
use ldk_node::bitcoin::secp256k1::PublicKey;
use ldk_node::lightning_invoice::{Bolt11Invoice, Bolt11InvoiceDescription, Description};

use ldk_node::{Event, Node};

/// The first payment: the proportional part of the fee dominates (above 100 000 000 msat).
const FIRST_MSAT: u64 = 500_000_000;
/// The next payment to the same invoice: large enough that ldk-node's allowance
/// (`proportional × (payment − fee) / 10⁶`) covers the fee the first one left owed.
const NEXT_MSAT: u64 = 600_000_000;
/// The wallet's own limit: five times the menu's proportional, so ldk-node accepts the menu.
const WALLET_LIMIT_PPM: u64 = 50_000;

/// ldk-node's allowance for a withheld fee on a variable-amount JIT payment of `payment_msat`
/// that carried `fee_msat`: the menu's proportional applied to what arrives.
fn ldk_allowance_msat(payment_msat: u64, fee_msat: u64, proportional_ppm: u32) -> u64 {
    ((payment_msat - fee_msat) * u64::from(proportional_ppm)).div_ceil(1_000_000)
}

/// A payer with a usable 10 000 000 sat channel to `lsp` (an LDK LSP lets 10 % of it be in
/// flight, enough for [`NEXT_MSAT`]), and an ldk-node wallet whose LSPS2 source is `lsp`.
async fn payer_and_wallet(
    chain: &Chain,
    dir: &std::path::Path,
    lsp: PublicKey,
    lsp_listen: std::net::SocketAddr,
) -> Result<(Arc<Node>, Arc<Node>)> {
    let payer = start_ldk_node(chain, dir, "payer", Some(free_local_address()?), vec![], |_| {})?;
    let payer_address = payer.onchain_payment().new_address().map_err(|e| anyhow!("{e:?}"))?;
    chain.fund(&payer_address, 1).await?;
    wait_onchain_balance(&payer, 20_000_000, Duration::from_secs(30)).await?;
    open_payer_channels(chain, &payer, lsp, lsp_listen, 1, 10_000_000).await?;
    let address = socket_address(lsp_listen)?;
    let wallet = start_ldk_node(chain, dir, "wallet", None, vec![lsp], |builder| {
        builder.set_liquidity_source_lsps2(lsp, address, None);
    })?;
    Ok((payer, wallet))
}

/// A variable-amount JIT invoice, asked again while the LSP's menu is still empty (its wallet
/// has not seen its coins yet).
async fn variable_invoice(wallet: &Node) -> Result<Bolt11Invoice> {
    let description =
        Bolt11InvoiceDescription::Direct(Description::new("variable".into()).map_err(|e| anyhow!("{e}"))?);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match wallet.bolt11_payment().receive_variable_amount_via_jit_channel(
            &description,
            3600,
            Some(WALLET_LIMIT_PPM),
        ) {
            Ok(invoice) => return Ok(invoice),
            Err(error) if Instant::now() < deadline => {
                eprintln!("receive_variable_amount_via_jit_channel: {error:?}; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(error) => return Err(anyhow!("receive_variable_amount_via_jit_channel: {error:?}")),
        }
    }
}

/// Pays `invoice` `amount_msat` from `payer` and waits for the outcome: `Ok(true)` if it
/// succeeded, `Ok(false)` if it failed.
async fn pay(payer: &Node, invoice: &Bolt11Invoice, amount_msat: u64) -> Result<bool> {
    let id = payer.bolt11_payment().send_using_amount(invoice, amount_msat, None).map_err(|e| {
        let log = std::fs::read_to_string(payer.config().storage_dir_path + "/ldk_node.log").unwrap_or_default();
        let failure = log.lines().rfind(|line| line.contains("Failed to send payment")).unwrap_or("").to_owned();
        anyhow!("send: {e:?} ({failure})")
    })?;
    wait_event(payer, "the payer's payment outcome", Duration::from_secs(60), |event| match event {
        Event::PaymentSuccessful { payment_id: Some(paid), .. } if *paid == id => Some(Ok(true)),
        Event::PaymentFailed { payment_id: Some(failed), .. } if *failed == id => Some(Ok(false)),
        _ => None,
    })
    .await
}

fn wallet_log(dir: &std::path::Path) -> Result<String> {
    let path = dir.join("wallet/ldk_node.log");
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

/// The refusal line ldk-node logs for `fee_msat` over `limit_msat`.
fn refusal(fee_msat: u64, limit_msat: u64) -> String {
    format!("as the counterparty-withheld fee of {fee_msat}msat exceeds our limit of {limit_msat}msat")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ldk_wallet_refuses_a_variable_amount_jit_payment_and_inbound_keeps_the_channel_unpaid() {
    let started = Instant::now();
    let chain = Chain::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A channel of at least 1 000 000 sat, so that the next payment fits in it.
    let options = ServeOptions { trust: "adaptive", min_channel_sat: 1_000_000, ..ServeOptions::default() };
    let mut lsp = InboundLsp::start(&inbound_binary().unwrap(), &chain, &dir.path().join("lsp"), &options).unwrap();
    // Two coins: the JIT funding spends one, and the second purchase's menu needs the other
    // (unconfirmed change is not liquidity the LSP offers).
    chain.bcoin.mine(2, Some(&lsp.funding_address)).await.unwrap();
    let (payer, wallet) = payer_and_wallet(&chain, dir.path(), lsp.node_id, lsp.listen).await.unwrap();
    let invoice = variable_invoice(&wallet).await.unwrap();
    let bought = lsp.wait_for_line("LSPS2 session bought", Duration::from_secs(10)).unwrap();
    assert!(bought.contains("Variable") && bought.contains("client_trusts_lsp=false"), "{bought}");
    println!("variable-amount JIT invoice after {:?}", started.elapsed());

    // The first payment: the JIT channel opens and the wallet refuses the fee.
    let fee = lsps::lsps2::opening_fee_msat(FIRST_MSAT, TEST_TIER.min_fee_msat, TEST_TIER.proportional_ppm).unwrap();
    let allowance = ldk_allowance_msat(FIRST_MSAT, fee, TEST_TIER.proportional_ppm);
    assert_eq!((fee, allowance), (5_000_000, 4_950_000));
    let sent = Instant::now();
    assert!(!pay(&payer, &invoice, FIRST_MSAT).await.unwrap(), "LDK's wallet refuses the withheld fee");
    let failed_after = sent.elapsed();
    println!("first payment failed back {failed_after:?} after the send");
    assert!(failed_after < Duration::from_secs(20), "the HTLC is failed back at once, not held: {failed_after:?}");
    let log = wallet_log(dir.path()).unwrap();
    assert!(log.contains(&refusal(fee, allowance)), "LDK's deviation, pinned; wallet log:\n{log}");

    // Inbound keeps the channel (funding already broadcast: it trusted the client) as unpaid.
    lsp.wait_for_line("client left a JIT channel unpaid", Duration::from_secs(10)).unwrap();
    let channels = wallet.list_channels();
    ensure_one_usable(&channels, lsp.node_id).unwrap();
    let funding = channels[0].funding_txo.expect("funding outpoint");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !chain.bcoin.mempool().await.unwrap().contains(&funding.txid) {
        assert!(Instant::now() < deadline, "the JIT funding was not broadcast");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The adaptive trust rule: this client left a channel unpaid, so it now trusts the LSP.
    let description = Bolt11InvoiceDescription::Direct(Description::new("again".into()).unwrap());
    wallet.bolt11_payment().receive_via_jit_channel(100_000_000, &description, 3600, None).expect("a second purchase");
    let again = lsp.wait_for_line("LSPS2 session bought", Duration::from_secs(10)).unwrap();
    assert!(again.contains("client_trusts_lsp=true"), "{again}");

    // The next payment to the first invoice pays the fee still owed, over the same channel.
    assert!(ldk_allowance_msat(NEXT_MSAT, fee, TEST_TIER.proportional_ppm) >= fee, "large enough for LDK");
    let mut events = Vec::new();
    assert!(pay(&payer, &invoice, NEXT_MSAT).await.unwrap(), "the next payment goes through");
    let received = wait_event(&wallet, "the wallet's PaymentReceived", Duration::from_secs(30), |event| {
        events.push(format!("{event:?}"));
        match event {
            Event::PaymentReceived { amount_msat, .. } => Some(Ok(*amount_msat)),
            _ => None,
        }
    })
    .await
    .with_context(|| format!("wallet events: {events:?}"))
    .unwrap();
    assert_eq!(received, NEXT_MSAT - fee, "the opening fee of the first payment comes out of the next one");
    let paid = lsp.wait_for_line("to=\"paid\"", Duration::from_secs(10)).unwrap();
    assert!(paid.contains("from=forwarded"), "the unpaid session is paid: {paid}");
    let channels = wallet.list_channels();
    ensure_one_usable(&channels, lsp.node_id).unwrap();
    assert_eq!(channels[0].funding_txo, Some(funding), "no second channel");
    println!("fee collected from the next payment after {:?}", started.elapsed());
    for node in [&wallet, &payer] {
        let _ = node.stop();
    }
}

/// The same refusal against ldk-node's own LSPS2 service (same fee terms): the deviation is
/// LDK's client, not anything Inbound's LSP does.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ldk_wallet_refuses_it_from_ldk_nodes_own_lsp_too() {
    let chain = Chain::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let lsp_listen = free_local_address().unwrap();
    let lsp = start_ldk_node(&chain, dir.path(), "ldk-lsp", Some(lsp_listen), vec![], |builder| {
        builder.set_liquidity_provider_lsps2(ldk_lsps2_service(false));
    })
    .unwrap();
    let lsp_address = lsp.onchain_payment().new_address().unwrap();
    chain.bcoin.mine(1, Some(&lsp_address)).await.unwrap();
    let (payer, wallet) = payer_and_wallet(&chain, dir.path(), lsp.node_id(), lsp_listen).await.unwrap();
    wait_onchain_balance(&lsp, 1_000_000, Duration::from_secs(30)).await.unwrap();
    let invoice = variable_invoice(&wallet).await.unwrap();
    let fee = lsps::lsps2::opening_fee_msat(FIRST_MSAT, LDK_MIN_FEE_MSAT, LDK_FEE_PPM).unwrap();
    let allowance = ldk_allowance_msat(FIRST_MSAT, fee, LDK_FEE_PPM);
    assert!(!pay(&payer, &invoice, FIRST_MSAT).await.unwrap(), "LDK's wallet refuses LDK's LSP as well");
    let log = wallet_log(dir.path()).unwrap();
    assert!(log.contains(&refusal(fee, allowance)), "LDK's deviation, pinned; wallet log:\n{log}");
    for node in [&wallet, &payer, &lsp] {
        let _ = node.stop();
    }
}

fn ensure_one_usable(channels: &[ldk_node::ChannelDetails], lsp: PublicKey) -> Result<()> {
    ensure!(channels.len() == 1, "one JIT channel: {channels:?}");
    ensure!(channels[0].counterparty_node_id == lsp && channels[0].is_usable, "{:?}", channels[0]);
    Ok(())
}
