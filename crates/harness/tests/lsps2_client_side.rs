//! The wallet side of LSPS2 against real LDK nodes, before the real LSP service exists: the LSP
//! here is a minimal test double — a `ProtocolHandler` answering `lsps2.get_info` / `lsps2.buy`
//! with a sealed menu and a real intercept SCID, and a loop that, on `HTLCIntercepted`, opens a
//! 0-conf channel to the wallet and forwards the payment minus a fee.
//!
//! * `jit_payment_opens_a_zero_conf_channel_and_is_claimed`: payer → LSP → (new channel) →
//!   wallet; the wallet accepts the 0-conf channel and claims `payment − fee`.
//! * `lsp_skimming_more_than_agreed_is_failed_back`: the LSP takes 1 sat too much; the wallet
//!   fails the payment back and the payer sees it fail.

use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::PublicKey;
use inbound_client::lsps2::{JitInvoiceRequest, Lsps2ClientConfig};
use inbound_harness::{wait_until, HarnessResult, Network, TestNode, DEFAULT_TIMEOUT};
use inbound_node::lightning::events::{Event, HTLCHandlingFailureType};
use inbound_node::lightning::ln::channelmanager::{PaymentId, Retry};
use inbound_node::lightning::types::payment::PaymentHash;
use inbound_node::lightning_invoice::Bolt11Invoice;
use inbound_node::{FundingBroadcast, Node};
use inbound_service::{BoxFuture, LspsServerConfig, ProtocolHandler};
use lsps::jsonrpc::RpcError;
use lsps::lsps2::{
    opening_fee_msat, validate_buy, BuyPolicy, BuyResponse, GetInfoResponse, PromiseKey, RawOpeningFeeParams,
};
use lsps::method::{Protocol, Request, Response};
use lsps::schema::{DateTime, MsatAmount, NodeId, Ppm, Scid};
use tokio::task::JoinHandle;

const MIN_FEE_MSAT: u64 = 5_000;
const PROPORTIONAL_PPM: u32 = 2_000;
const PAYMENT_MSAT: u64 = 10_000_000;
const LSP_CLTV_EXPIRY_DELTA: u32 = 144;
/// Just above the payment: the wallet must accept 100 % of a JIT channel in flight.
const JIT_CHANNEL_SAT: u64 = 12_000;

/// The LSPS2 half of the test LSP: one menu entry, sealed for the asking client.
struct Lsps2Double {
    key: PromiseKey,
    node: OnceLock<Arc<Node>>,
}

fn now() -> DateTime {
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis() as u64;
    DateTime::from_unix_millis(millis).expect("in range")
}

impl ProtocolHandler for Lsps2Double {
    fn protocol(&self) -> Protocol {
        Protocol::Lsps2
    }

    fn handle(&self, peer: PublicKey, request: Request) -> BoxFuture<'static, Result<Response, RpcError>> {
        let answer = match request {
            Request::Lsps2GetInfo(_) => {
                let raw = RawOpeningFeeParams {
                    min_fee_msat: MsatAmount(MIN_FEE_MSAT),
                    proportional: Ppm(PROPORTIONAL_PPM),
                    valid_until: now().checked_add_secs(600).expect("in range"),
                    min_lifetime: 1008,
                    max_client_to_self_delay: 2016,
                    min_payment_size_msat: MsatAmount(1_000_000),
                    max_payment_size_msat: MsatAmount(100_000_000),
                };
                let entry = raw.seal(&self.key, &NodeId(peer));
                Ok(Response::Lsps2GetInfo(GetInfoResponse { opening_fee_params_menu: vec![entry] }))
            }
            Request::Lsps2Buy(buy) => {
                match validate_buy(&buy, &NodeId(peer), std::slice::from_ref(&self.key), now(), &BuyPolicy::default()) {
                    Err(error) => Err(error.to_rpc_error()),
                    Ok(_) => {
                        let node = self.node.get().expect("LSP node set");
                        Ok(Response::Lsps2Buy(BuyResponse {
                            jit_channel_scid: Scid(node.channel_manager().get_intercept_scid()),
                            lsp_cltv_expiry_delta: LSP_CLTV_EXPIRY_DELTA,
                            client_trusts_lsp: false,
                        }))
                    }
                }
            }
            _ => Err(RpcError::internal_error()),
        };
        Box::pin(async move { answer })
    }
}

/// The LSP's event loop of the double: every intercepted HTLC is forwarded to `wallet` over a
/// 0-conf channel (opened on first use), minus the opening fee plus `extra_skim_msat`.
fn spawn_lsp_loop(lsp: Arc<TestNode>, wallet: PublicKey, extra_skim_msat: u64) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut next_user_channel_id = 1_000u128;
        loop {
            let intercepted = lsp.events().take(|event| matches!(event, Event::HTLCIntercepted { .. }));
            let Some(Event::HTLCIntercepted { intercept_id, expected_outbound_amount_msat, .. }) = intercepted else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let node = lsp.node();
            let usable = |node: &Node| {
                node.channel_manager()
                    .list_usable_channels()
                    .into_iter()
                    .find(|channel| channel.counterparty.node_id == wallet)
            };
            if usable(&node).is_none() {
                next_user_channel_id += 1;
                node.open_channel(wallet, JIT_CHANNEL_SAT, 0, next_user_channel_id, FundingBroadcast::Automatic, None)
                    .expect("open_channel");
            }
            let mut channel = None;
            let ready = wait_until("JIT channel usable at the LSP", DEFAULT_TIMEOUT, || {
                channel = usable(&node);
                channel.is_some()
            })
            .await;
            let Some(channel) = channel.filter(|_| ready.is_ok()) else {
                let _ = node.channel_manager().fail_intercepted_htlc(intercept_id);
                continue;
            };
            let fee = opening_fee_msat(expected_outbound_amount_msat, MIN_FEE_MSAT, PROPORTIONAL_PPM).expect("fee");
            let forward = expected_outbound_amount_msat - fee - extra_skim_msat;
            node.channel_manager()
                .forward_intercepted_htlc(intercept_id, &channel.channel_id, wallet, forward)
                .expect("forward_intercepted_htlc");
        }
    })
}

/// Payer ⇄ LSP (confirmed channel) and a JIT wallet connected to the LSP; returns the LSP loop.
async fn setup(
    network: &Network,
    extra_skim_msat: u64,
) -> HarnessResult<(Arc<TestNode>, Arc<TestNode>, Arc<TestNode>, JoinHandle<()>)> {
    let double = Arc::new(Lsps2Double { key: PromiseKey::inbound_v1(1, [42; 32]), node: OnceLock::new() });
    let config = LspsServerConfig { enabled_protocols: vec![Protocol::Lsps2], ..LspsServerConfig::default() };
    let lsp = network.add_lsp_with("lsp", config, vec![Arc::clone(&double) as _]).await?;
    let _ = double.node.set(lsp.node());
    let payer = network.add_wallet("payer").await?;
    let wallet = network.add_jit_wallet("wallet", Lsps2ClientConfig::default()).await?;
    network.connect(&payer, &lsp).await?;
    network.connect(&wallet, &lsp).await?;
    network.fund(&payer, 1_000_000).await?;
    network.fund(&lsp, 1_000_000).await?;
    network.open_channel(&payer, &lsp, 500_000, 0).await?;
    let lsp_loop = spawn_lsp_loop(Arc::clone(&lsp), wallet.node_id(), extra_skim_msat);
    Ok((lsp, payer, wallet, lsp_loop))
}

async fn buy(wallet: &TestNode, lsp: &TestNode) -> inbound_client::lsps2::JitInvoice {
    buy_amount(wallet, lsp, Some(PAYMENT_MSAT)).await
}

async fn buy_amount(wallet: &TestNode, lsp: &TestNode, amount_msat: Option<u64>) -> inbound_client::lsps2::JitInvoice {
    let request = JitInvoiceRequest {
        lsp: lsp.node_id(),
        amount_msat,
        max_fee_msat: 50_000,
        description: "coffee".into(),
        expiry_secs: 3600,
        token: None,
    };
    wallet.lsps2().jit_invoice(request).await.expect("jit_invoice")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jit_payment_opens_a_zero_conf_channel_and_is_claimed() -> HarnessResult<()> {
    let network = Network::sim().await?;
    let (lsp, payer, wallet, lsp_loop) = setup(&network, 0).await?;
    let jit = buy(&wallet, &lsp).await;
    let fee = opening_fee_msat(PAYMENT_MSAT, MIN_FEE_MSAT, PROPORTIONAL_PPM).expect("fee");
    assert_eq!(jit.opening_fee_msat, Some(fee));
    assert!(!jit.client_trusts_lsp);
    // The invoice as the payer sees it (§4.6).
    let invoice = Bolt11Invoice::from_str(&jit.invoice.to_string()).expect("parses");
    assert_eq!(invoice.amount_milli_satoshis(), Some(PAYMENT_MSAT));
    assert_eq!(invoice.recover_payee_pub_key(), wallet.node_id());
    let hints = invoice.route_hints();
    assert_eq!((hints.len(), hints[0].0.len()), (1, 1));
    assert_eq!((hints[0].0[0].src_node_id, hints[0].0[0].short_channel_id), (lsp.node_id(), jit.intercept_scid.0));
    assert_eq!(u32::from(hints[0].0[0].cltv_expiry_delta), LSP_CLTV_EXPIRY_DELTA);
    let normal = u64::from(inbound_node::lightning::ln::channelmanager::MIN_FINAL_CLTV_EXPIRY_DELTA);
    assert_eq!(invoice.min_final_cltv_expiry_delta(), normal + 2);
    assert!(invoice.features().expect("features").supports_basic_mpp());

    payer.pay(&jit.invoice).await?;
    let claimed = wallet
        .wait_for_event("PaymentClaimed", DEFAULT_TIMEOUT, |event| matches!(event, Event::PaymentClaimed { .. }))
        .await?;
    let Event::PaymentClaimed { amount_msat, .. } = claimed else { unreachable!("matched above") };
    assert_eq!(amount_msat, PAYMENT_MSAT - fee, "the wallet receives the payment minus the agreed fee");
    let channels = wallet.node().list_channels();
    assert_eq!(channels.len(), 1);
    assert_eq!(channels[0].counterparty.node_id, lsp.node_id());
    assert_eq!(channels[0].confirmations_required, Some(0), "accepted as 0-conf");
    assert!(wallet.lsps2().purchases().is_empty(), "the purchase is settled and forgotten");
    lsp_loop.abort();
    network.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lsp_skimming_more_than_agreed_is_failed_back() -> HarnessResult<()> {
    let network = Network::sim().await?;
    let (lsp, payer, wallet, lsp_loop) = setup(&network, 1_000).await?;
    let jit = buy(&wallet, &lsp).await;
    let outcome = payer.pay(&jit.invoice).await;
    assert!(outcome.is_err(), "the payer's payment fails: {outcome:?}");
    let hash = PaymentHash(jit.invoice.payment_hash().to_byte_array());
    wallet
        .wait_for_event("HTLCHandlingFailed", DEFAULT_TIMEOUT, |event| {
            matches!(event, Event::HTLCHandlingFailed {
                failure_type: HTLCHandlingFailureType::Receive { payment_hash }, ..
            } if *payment_hash == hash)
        })
        .await?;
    assert_eq!(wallet.node().list_channels().len(), 1, "the JIT channel itself was accepted");
    assert!(wallet.events().take(|event| matches!(event, Event::PaymentClaimed { .. })).is_none());
    assert_eq!(wallet.lsps2().purchases().len(), 1, "still open: a correct retry could succeed");
    lsp_loop.abort();
    network.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variable_amount_jit_payment_is_claimed_with_the_fee_of_the_amount() -> HarnessResult<()> {
    let network = Network::sim().await?;
    let (lsp, payer, wallet, lsp_loop) = setup(&network, 0).await?;
    let jit = buy_amount(&wallet, &lsp, None).await;
    assert_eq!((jit.opening_fee_msat, jit.invoice.amount_milli_satoshis()), (None, None));
    assert!(!jit.invoice.features().expect("features").supports_basic_mpp(), "no MPP in variable mode");
    let amount_msat = 7_000_000;
    let payment_id = PaymentId(jit.invoice.payment_hash().to_byte_array());
    payer
        .node()
        .channel_manager()
        .pay_for_bolt11_invoice(&jit.invoice, payment_id, Some(amount_msat), Default::default(), Retry::Attempts(0))
        .expect("payment sent");
    let claimed = wallet
        .wait_for_event("PaymentClaimed", DEFAULT_TIMEOUT, |event| matches!(event, Event::PaymentClaimed { .. }))
        .await?;
    let Event::PaymentClaimed { amount_msat: received, .. } = claimed else { unreachable!("matched above") };
    let fee = opening_fee_msat(amount_msat, MIN_FEE_MSAT, PROPORTIONAL_PPM).expect("fee");
    assert_eq!(received, amount_msat - fee);
    payer.wait_for_event("PaymentSent", DEFAULT_TIMEOUT, |event| matches!(event, Event::PaymentSent { .. })).await?;
    lsp_loop.abort();
    network.shutdown().await
}
