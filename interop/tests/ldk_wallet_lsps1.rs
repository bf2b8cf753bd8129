//! ldk-node 0.7.1 as an LSPS1 WALLET (`set_liquidity_source_lsps1`, `lsps1_liquidity()`
//! `request_channel` / `check_order_status`) ordering channels from Inbound's LSP (`inbound
//! serve` with `lsps.enabled = ["lsps1", "lsps2"]`), on a fresh bcoin chain per test.
//!
//! With `lsps.compat = "ldk"`: an order paid by Lightning (polled while the LSP holds the
//! payment and after), an order paid on chain with 0-conf terms, an order the LSP cannot fulfil
//! (refunded), and requests outside `lsps1.get_info`'s limits (refused by ldk-node itself).
//!
//! With the default `"spec"`, lightning-liquidity 0.2.7 cannot use Inbound's spec-exact
//! answers; the failures are pinned so that an LDK release that fixes them shows up here:
//! * an on-chain option with confirmations and no `min_fee_for_0conf` (LDK requires it, bLIP-51
//!   forbids it with confirmations) fails to deserialize, and LDK ignores the LSP until it
//!   reconnects;
//! * `"token": ""` for a request without a token (bLIP-51's mirror) is not LDK's `None`, and
//!   ldk-node aborts the order as not matching its request;
//! * `HOLD` (0.2.7 knows only EXPECT_PAYMENT, PAID, REFUNDED) fails to deserialize.
//!
//! ldk-node's `LSPS1OrderStatus` has no `order_state`: the wallet sees an order's end in its
//! payment option's state and `channel`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context, Result};
use inbound_interop::chain::Chain;
use inbound_interop::ldk::wait_onchain_balance;
use inbound_interop::ldk::{free_local_address, open_payer_channels, socket_address, start_ldk_node, wait_event};
use inbound_interop::serve::{inbound_binary, InboundLsp, Lsps1Options, ServeOptions};
use ldk_node::bitcoin::{Amount, FeeRate};
use ldk_node::lightning_liquidity::lsps1::msgs::{LSPS1OrderId, LSPS1PaymentState};
use ldk_node::liquidity::LSPS1OrderStatus;
use ldk_node::payment::PaymentStatus;
use ldk_node::{Event, Node};
use tempfile::TempDir;

/// The inbound liquidity ordered: `request_channel(LSP_BALANCE_SAT, …)`.
const LSP_BALANCE_SAT: u64 = 500_000;
/// The lease asked for, within Inbound's default `max_channel_expiry_blocks` (13 140).
const EXPIRY_BLOCKS: u32 = 1008;

/// A chain, an `inbound serve` with LSPS1 and the test's data directory.
struct Setup {
    chain: Chain,
    dir: TempDir,
    lsp: InboundLsp,
}

async fn start(compat: &'static str, lsps1: Lsps1Options) -> Result<Setup> {
    let chain = Chain::start().await?;
    let dir = tempfile::tempdir()?;
    let lsp = start_lsp(&chain, dir.path(), "lsp", compat, lsps1)?;
    Ok(Setup { chain, dir, lsp })
}

fn start_lsp(chain: &Chain, dir: &Path, name: &str, compat: &'static str, lsps1: Lsps1Options) -> Result<InboundLsp> {
    let options = ServeOptions { compat, lsps1: Some(lsps1), ..ServeOptions::default() };
    InboundLsp::start(&inbound_binary()?, chain, &dir.join(name), &options)
}

/// An ldk-node wallet whose LSPS1 source is `lsp` (which ldk-node then trusts for 0-conf), that
/// accepts the LSP's anchor channel without an on-chain reserve.
fn lsps1_wallet(chain: &Chain, dir: &Path, name: &str, lsp: &InboundLsp, token: Option<&str>) -> Result<Arc<Node>> {
    let (lsp_id, lsp_address) = (lsp.node_id, socket_address(lsp.listen)?);
    let token = token.map(str::to_owned);
    start_ldk_node(chain, dir, name, None, vec![lsp_id], |builder| {
        builder.set_liquidity_source_lsps1(lsp_id, lsp_address, token);
    })
}

/// An ldk-node payer with coins and a usable 5 000 000 sat channel to the LSP.
async fn payer_with_channel(setup: &Setup) -> Result<Arc<Node>> {
    let payer = start_ldk_node(&setup.chain, setup.dir.path(), "payer", Some(free_local_address()?), vec![], |_| {})?;
    let address = payer.onchain_payment().new_address().map_err(|e| anyhow!("{e:?}"))?;
    setup.chain.fund(&address, 1).await?;
    wait_onchain_balance(&payer, 10_000_000, Duration::from_secs(30)).await?;
    open_payer_channels(&setup.chain, &payer, setup.lsp.node_id, setup.lsp.listen, 1, 5_000_000).await?;
    Ok(payer)
}

fn log_of(dir: &Path, name: &str) -> Result<String> {
    let path = dir.join(name).join("ldk_node.log");
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

fn tail(log: &str) -> String {
    log.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// Polls `check_order_status` until `done` accepts the order.
async fn poll_order(
    wallet: &Node,
    order_id: &LSPS1OrderId,
    what: &str,
    timeout: Duration,
    done: impl Fn(&LSPS1OrderStatus) -> bool,
) -> Result<LSPS1OrderStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        let status = wallet
            .lsps1_liquidity()
            .check_order_status(order_id.clone())
            .map_err(|e| anyhow!("check_order_status while waiting for {what}: {e:?}"))?;
        if done(&status) {
            return Ok(status);
        }
        ensure!(Instant::now() < deadline, "no {what} after {timeout:?}: {status:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn bolt11_state(order: &LSPS1OrderStatus) -> Option<LSPS1PaymentState> {
    order.payment_options.bolt11.as_ref().map(|bolt11| bolt11.state.clone())
}

/// The wallet's one channel, from the LSP.
fn channel_from(wallet: &Node, lsp: &InboundLsp) -> Result<ldk_node::ChannelDetails> {
    let channels = wallet.list_channels();
    ensure!(channels.len() == 1, "one ordered channel: {channels:?}");
    let channel = channels[0].clone();
    ensure!(channel.counterparty_node_id == lsp.node_id, "{channel:?}");
    Ok(channel)
}

/// The ordered channel is paid by a payer over Lightning (the LSP's hold invoice). The LSP has
/// no coins at first, so it holds the payment and retries the open: the wallet polls the order
/// during that hold (LDK reads `PAID`; the payer's payment is still pending, so the preimage is
/// not released), then the LSP gets coins, opens, claims, and the wallet polls again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ldk_wallet_orders_a_channel_paid_by_lightning_and_polls_it_during_the_hold() {
    let started = Instant::now();
    let mut s = start("ldk", Lsps1Options::default()).await.unwrap();
    let payer = payer_with_channel(&s).await.unwrap();
    let wallet = lsps1_wallet(&s.chain, s.dir.path(), "wallet", &s.lsp, None).unwrap();
    println!("payer channel usable after {:?}", started.elapsed());

    let order = wallet.lsps1_liquidity().request_channel(LSP_BALANCE_SAT, 0, EXPIRY_BLOCKS, false);
    let order = order.unwrap_or_else(|e| {
        panic!("request_channel: {e:?}; wallet log:\n{}", tail(&log_of(s.dir.path(), "wallet").unwrap()))
    });
    s.lsp.wait_for_line("LSPS1 order created", Duration::from_secs(10)).unwrap();
    let params = &order.order_params;
    assert_eq!(
        (params.lsp_balance_sat, params.client_balance_sat, params.channel_expiry_blocks),
        (LSP_BALANCE_SAT, 0, EXPIRY_BLOCKS)
    );
    assert_eq!(params.token, None, "an absent token is mirrored as absent");
    assert!(order.payment_options.onchain.is_none(), "1-confirmation terms are left out for LDK: {order:?}");
    assert!(order.channel_state.is_none());
    let bolt11 = order.payment_options.bolt11.clone().expect("a hold invoice");
    assert_eq!(bolt11.state, LSPS1PaymentState::ExpectPayment);
    assert_eq!(bolt11.order_total_sat, bolt11.fee_total_sat, "no client balance: the total is the fee");
    assert_eq!(bolt11.invoice.amount_milli_satoshis(), Some(bolt11.order_total_sat * 1000));

    let payment_id = payer.bolt11_payment().send(&bolt11.invoice, None).expect("send");
    // The HTLC is held and the open fails for want of coins, again and again.
    s.lsp.wait_for_line("opening the ordered channel", Duration::from_secs(30)).unwrap();
    for _ in 0..2 {
        let held = poll_order(&wallet, &order.order_id, "the held payment", Duration::from_secs(30), |o| {
            bolt11_state(o) == Some(LSPS1PaymentState::Paid)
        })
        .await
        .unwrap();
        assert!(held.channel_state.is_none(), "no channel yet: {held:?}");
        let pending = payer.payment(&payment_id).expect("payment").status;
        assert_eq!(pending, PaymentStatus::Pending, "the LSP holds the HTLC: the preimage is not released");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    println!("polled during the hold after {:?}", started.elapsed());

    // Coins for the LSP: the next open attempt goes through.
    let funding_address = s.lsp.funding_address.clone();
    payer.onchain_payment().send_to_address(&funding_address, 2_000_000, None).expect("coins for the LSP");
    s.chain.wait_mempool(1, Duration::from_secs(20)).await.unwrap();
    s.chain.mine(1).await.unwrap();
    wait_event(&payer, "the payer's PaymentSuccessful", Duration::from_secs(60), |event| match event {
        Event::PaymentSuccessful { payment_id: Some(id), .. } if *id == payment_id => Some(Ok(())),
        Event::PaymentFailed { reason, .. } => Some(Err(anyhow!("payment failed: {reason:?}"))),
        _ => None,
    })
    .await
    .unwrap();
    s.lsp.wait_for_line("channel published; claiming the held payment", Duration::from_secs(10)).unwrap();

    let done =
        poll_order(&wallet, &order.order_id, "the channel", Duration::from_secs(30), |o| o.channel_state.is_some())
            .await
            .unwrap();
    assert_eq!(bolt11_state(&done), Some(LSPS1PaymentState::Paid));
    let funding = done.channel_state.expect("channel").funding_outpoint;
    let deadline = Instant::now() + Duration::from_secs(30);
    let channel = loop {
        let channel = channel_from(&wallet, &s.lsp).unwrap();
        if channel.is_usable || Instant::now() > deadline {
            break channel;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(channel.is_usable, "0-conf: usable before any confirmation: {channel:?}");
    assert_eq!(channel.funding_txo, Some(funding), "the order's channel is the wallet's channel");
    assert_eq!(channel.channel_value_sats, LSP_BALANCE_SAT);
    assert_eq!(channel.outbound_capacity_msat, 0, "the whole channel is the LSP's side");
    let output = s.chain.output(funding).await.unwrap();
    assert_eq!(output.value, Amount::from_sat(LSP_BALANCE_SAT), "the funding output holds the ordered balance");
    let log = log_of(s.dir.path(), "wallet").unwrap();
    assert!(!log.contains("Failed to deserialize"), "LDK read every answer:\n{}", tail(&log));
    println!("ordered channel delivered after {:?}", started.elapsed());
    for node in [&wallet, &payer] {
        let _ = node.stop();
    }
}

/// With 0-conf terms (`onchain_payment_confirmations = 0`, `min_fee_for_0conf`) the on-chain
/// option is offered to LDK; the wallet pays it from its own coins above that fee rate, and the
/// LSP opens the channel (with the client balance pushed) before any block is mined.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ldk_wallet_pays_an_order_on_chain_with_zero_conf_terms() {
    let started = Instant::now();
    let terms =
        Lsps1Options { onchain_payment_confirmations: 0, min_fee_for_0conf: Some(253), ..Lsps1Options::default() };
    let s = start("ldk", terms).await.unwrap();
    let wallet = lsps1_wallet(&s.chain, s.dir.path(), "wallet", &s.lsp, None).unwrap();
    let wallet_address = wallet.onchain_payment().new_address().unwrap();
    s.chain.bcoin.mine(1, Some(&s.lsp.funding_address)).await.unwrap();
    s.chain.fund(&wallet_address, 1).await.unwrap();
    wait_onchain_balance(&wallet, 10_000_000, Duration::from_secs(30)).await.unwrap();

    let client_balance_sat = 100_000;
    let order = wallet.lsps1_liquidity().request_channel(LSP_BALANCE_SAT, client_balance_sat, EXPIRY_BLOCKS, false);
    let order = order.unwrap_or_else(|e| {
        panic!("request_channel: {e:?}; wallet log:\n{}", tail(&log_of(s.dir.path(), "wallet").unwrap()))
    });
    let onchain = order.payment_options.onchain.clone().expect("0-conf terms are offered");
    assert_eq!(onchain.min_onchain_payment_confirmations, Some(0));
    assert_eq!(onchain.min_fee_for_0conf, FeeRate::from_sat_per_kwu(253));
    assert_eq!(onchain.order_total_sat, onchain.fee_total_sat + client_balance_sat);
    assert!(onchain.refund_onchain_address.is_some(), "the refund address is mirrored");

    let height = s.chain.bcoin.height().await.unwrap();
    wallet
        .onchain_payment()
        .send_to_address(&onchain.address, onchain.order_total_sat, Some(FeeRate::from_sat_per_kwu(1_000)))
        .expect("pay the order");
    wait_event(&wallet, "the ordered channel's ChannelReady", Duration::from_secs(60), |event| match event {
        Event::ChannelReady { counterparty_node_id: Some(peer), .. } if *peer == s.lsp.node_id => Some(Ok(())),
        _ => None,
    })
    .await
    .unwrap();
    assert_eq!(s.chain.bcoin.height().await.unwrap(), height, "counted and opened at 0 confirmations");

    let done =
        poll_order(&wallet, &order.order_id, "the channel", Duration::from_secs(30), |o| o.channel_state.is_some())
            .await
            .unwrap();
    assert_eq!(done.payment_options.onchain.map(|o| o.state), Some(LSPS1PaymentState::Paid));
    let funding = done.channel_state.expect("channel").funding_outpoint;
    let channel = channel_from(&wallet, &s.lsp).unwrap();
    assert_eq!(channel.funding_txo, Some(funding));
    assert_eq!(channel.channel_value_sats, LSP_BALANCE_SAT + client_balance_sat);
    let balance = wallet.list_balances().total_lightning_balance_sats;
    assert_eq!(balance, client_balance_sat, "the client balance is pushed to the wallet");
    let output = s.chain.output(funding).await.unwrap();
    assert_eq!(output.value, Amount::from_sat(LSP_BALANCE_SAT + client_balance_sat));
    println!("on-chain order delivered after {:?}", started.elapsed());
    let _ = wallet.stop();
}

/// An LSP without coins cannot open; once the order's payment window is over it fails the held
/// HTLC back, the payer's payment fails, and ldk-node sees the option REFUNDED with no channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_the_lsp_cannot_fulfil_is_refunded_and_ldk_sees_it() {
    let started = Instant::now();
    let short = Lsps1Options { payment_window_secs: 60, min_open_window_secs: 0, ..Lsps1Options::default() };
    let mut s = start("ldk", short).await.unwrap();
    let payer = payer_with_channel(&s).await.unwrap();
    let wallet = lsps1_wallet(&s.chain, s.dir.path(), "wallet", &s.lsp, None).unwrap();
    let order = wallet.lsps1_liquidity().request_channel(LSP_BALANCE_SAT, 0, EXPIRY_BLOCKS, false).expect("order");
    let invoice = order.payment_options.bolt11.clone().expect("a hold invoice").invoice;
    let payment_id = payer.bolt11_payment().send(&invoice, None).expect("send");
    s.lsp.wait_for_line("opening the ordered channel", Duration::from_secs(30)).unwrap();
    let reason = wait_event(&payer, "the payer's PaymentFailed", Duration::from_secs(120), |event| match event {
        Event::PaymentFailed { payment_id: Some(id), reason, .. } if *id == payment_id => Some(Ok(*reason)),
        Event::PaymentSuccessful { .. } => Some(Err(anyhow!("the LSP claimed a payment it could not deliver"))),
        _ => None,
    })
    .await
    .unwrap();
    println!("payment failed back ({reason:?}) after {:?}", started.elapsed());
    let refunded = poll_order(&wallet, &order.order_id, "the refund", Duration::from_secs(10), |o| {
        bolt11_state(o) == Some(LSPS1PaymentState::Refunded)
    })
    .await
    .unwrap();
    assert!(refunded.channel_state.is_none());
    assert!(wallet.list_channels().is_empty());
    assert!(!s.lsp.drain_log().iter().any(|line| line.contains("claiming the held payment")));
    for node in [&wallet, &payer] {
        let _ = node.stop();
    }
}

/// ldk-node checks a request against `lsps1.get_info` (channel size, LSP balance, client
/// balance) before it sends `create_order`, so those reach no LSP: no order exists. It does not
/// check `channel_expiry_blocks`: that request reaches Inbound, which refuses it with 100 and a
/// string `data` LDK parses; the connection stays usable, and a valid order then succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_outside_get_info_limits_are_refused_before_any_order_exists() {
    let limits = Lsps1Options { max_lsp_balance_sat: 1_000_000, ..Lsps1Options::default() };
    let mut s = start("ldk", limits).await.unwrap();
    let wallet = lsps1_wallet(&s.chain, s.dir.path(), "wallet", &s.lsp, None).unwrap();
    let refused = [
        ((2_000_000, 0), "Requested LSP-side balance of 2000000sat doesn't meet the LSP-provided limits (min: 20000sat, max: 1000000sat)"),
        ((10_000, 0), "Requested channel size of 10000sat doesn't meet the LSP-provided limits (min: 20000sat, max: 16777215sat)"),
        ((500_000, 2_000_000), "Requested client-side balance of 2000000sat doesn't meet the LSP-provided limits (min: 0sat, max: 1000000sat)"),
    ];
    for ((lsp_sat, client_sat), logged) in refused {
        let answer = wallet.lsps1_liquidity().request_channel(lsp_sat, client_sat, EXPIRY_BLOCKS, false);
        assert!(answer.is_err(), "refused by ldk-node: {answer:?}");
        let log = log_of(s.dir.path(), "wallet").unwrap();
        assert!(log.contains(logged), "ldk-node's own check ({logged}); log tail:\n{}", tail(&log));
    }
    assert!(!s.lsp.drain_log().iter().any(|line| line.contains("LSPS1 order created")), "no order exists");

    let too_long = wallet.lsps1_liquidity().request_channel(LSP_BALANCE_SAT, 0, 20_000, false);
    assert!(too_long.is_err(), "Inbound refuses a lease over max_channel_expiry_blocks: {too_long:?}");
    let log = log_of(s.dir.path(), "wallet").unwrap();
    let failed = log
        .lines()
        .find(|line| line.contains("OrderRequestFailed"))
        .unwrap_or_else(|| panic!("no OrderRequestFailed in the wallet log; tail:\n{}", tail(&log)));
    assert!(failed.contains("code: 100,") && failed.contains("data: Some(\""), "code 100, string data: {failed}");
    assert!(!log.contains("Failed to deserialize"), "{}", tail(&log));

    wallet.lsps1_liquidity().request_channel(LSP_BALANCE_SAT, 0, EXPIRY_BLOCKS, false).expect("a valid order");
    s.lsp.wait_for_line("LSPS1 order created", Duration::from_secs(10)).unwrap();
    let _ = wallet.stop();
}

/// Spec mode, pinned: with the default on-chain terms (1 confirmation, no `min_fee_for_0conf`)
/// LDK cannot deserialize the order and ignores the LSP; without the on-chain option, the
/// order's `"token": ""` does not match ldk-node's `None` and ldk-node drops the order. Either
/// way the LSP created an order the wallet never sees.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_spec_mode_ldk_cannot_use_the_order() {
    let chain = Chain::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut onchain_lsp = start_lsp(&chain, dir.path(), "lsp-onchain", "spec", Lsps1Options::default()).unwrap();
    let no_onchain = Lsps1Options { accept_onchain: false, ..Lsps1Options::default() };
    let mut lightning_lsp = start_lsp(&chain, dir.path(), "lsp-lightning", "spec", no_onchain).unwrap();
    let cases = [
        (&mut onchain_lsp, "wallet-onchain", "Failed to deserialize invalid LSPS message"),
        (&mut lightning_lsp, "wallet-lightning", "LSP-provided parameters don't match our order"),
    ];
    for (lsp, name, failure) in cases {
        let wallet = lsps1_wallet(&chain, dir.path(), name, lsp, None).unwrap();
        let answer = wallet.lsps1_liquidity().request_channel(LSP_BALANCE_SAT, 0, EXPIRY_BLOCKS, false);
        assert!(answer.is_err(), "{name}: LDK 0.2.7 cannot use the spec-exact order: {answer:?}");
        lsp.wait_for_line("LSPS1 order created", Duration::from_secs(10)).unwrap();
        let log = log_of(dir.path(), name).unwrap();
        assert!(log.contains(failure), "{name}: expected {failure:?}; wallet log tail:\n{}", tail(&log));
        let _ = wallet.stop();
    }
}

/// Spec mode, pinned: with a token both sides know (so the mirror matches) and no on-chain
/// option, ldk-node gets its order; but while the LSP holds the payment, `get_order` says
/// `HOLD`, which lightning-liquidity 0.2.7 cannot deserialize: the poll fails and LDK ignores
/// the LSP from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_spec_mode_ldk_cannot_read_hold() {
    let options = Lsps1Options { accept_onchain: false, tokens: vec!["VIP".into()], ..Lsps1Options::default() };
    let mut s = start("spec", options).await.unwrap();
    let payer = payer_with_channel(&s).await.unwrap();
    let wallet = lsps1_wallet(&s.chain, s.dir.path(), "wallet", &s.lsp, Some("VIP")).unwrap();
    let order = wallet.lsps1_liquidity().request_channel(LSP_BALANCE_SAT, 0, EXPIRY_BLOCKS, false);
    let order = order.unwrap_or_else(|e| {
        panic!("request_channel: {e:?}; wallet log:\n{}", tail(&log_of(s.dir.path(), "wallet").unwrap()))
    });
    assert_eq!(order.order_params.token.as_deref(), Some("VIP"));
    let invoice = order.payment_options.bolt11.clone().expect("a hold invoice").invoice;
    payer.bolt11_payment().send(&invoice, None).expect("send");
    // The LSP has no coins: it holds the HTLC and keeps retrying the open.
    s.lsp.wait_for_line("opening the ordered channel", Duration::from_secs(30)).unwrap();
    let held = wallet.lsps1_liquidity().check_order_status(order.order_id.clone());
    assert!(held.is_err(), "LDK 0.2.7 cannot read HOLD: {held:?}");
    let log = log_of(s.dir.path(), "wallet").unwrap();
    assert!(log.contains("Failed to deserialize invalid LSPS message"), "wallet log tail:\n{}", tail(&log));
    for node in [&wallet, &payer] {
        let _ = node.stop();
    }
}
