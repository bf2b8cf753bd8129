//! LSPS2 failure paths at the real LSP service over TCP: `buy` refusals with the spec's codes,
//! an unknown SCID, the MPP timer, and a payment the wallet never takes (a probe) in trust mode.

mod jit_lsp;

use std::sync::Arc;

use bitcoin::hashes::Hash;
use std::time::Duration;

use inbound_client::ClientError;
use inbound_harness::{wait_until, HarnessResult, Network, DEFAULT_TIMEOUT};
use inbound_node::lightning::events::Event;
use inbound_node::lightning::ln::channelmanager::{PaymentId, RecipientOnionFields, Retry};
use inbound_node::lightning::routing::gossip::RoutingFees;
use inbound_node::lightning::routing::router::{PaymentParameters, RouteHint, RouteHintHop, RouteParameters};
use inbound_node::lightning::types::payment::PaymentHash;
use inbound_service::lsps2::{JitState, Lsps2Config, TrustMode};
use inbound_service::{Clock, ManualClock};
use jit_lsp::*;
use lsps::lsps2::{BuyRequest, GetInfoRequest};
use lsps::method::{Request, Response};
use lsps::schema::{MsatAmount, Scid};

async fn call(jit: &Jit, request: Request) -> Result<Response, ClientError> {
    jit.wallet.client().call(jit.lsp.node_id(), request).await
}

fn code(outcome: Result<Response, ClientError>) -> i32 {
    match outcome {
        Err(ClientError::LspRejected(error)) => error.code,
        other => panic!("expected an LSP error, got {other:?}"),
    }
}

/// Proves: over the wire, a forged or expired promise is 201, an oversized payment 203, an
/// unknown token 200, and a client over the open-purchase cap gets 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_buys_are_refused_with_the_spec_codes() -> HarnessResult<()> {
    let network = Network::sim().await?;
    let clock = Arc::new(ManualClock::starting_now());
    let config = Lsps2Config { max_open_buys_per_client: 1, ..config(TrustMode::Never) };
    let jit = setup_with_clock(&network, config, Arc::clone(&clock) as Arc<dyn Clock>).await?;
    let token = GetInfoRequest { token: Some("unknown".into()) };
    assert_eq!(code(call(&jit, Request::Lsps2GetInfo(token)).await), 200);
    let Ok(Response::Lsps2GetInfo(menu)) = call(&jit, Request::Lsps2GetInfo(GetInfoRequest::default())).await else {
        panic!("menu")
    };
    let entry = menu.opening_fee_params_menu[0].clone();

    let mut forged = entry.clone();
    forged.proportional.0 -= 1;
    let buy = |params, size: Option<u64>| {
        Request::Lsps2Buy(BuyRequest { opening_fee_params: params, payment_size_msat: size.map(MsatAmount) })
    };
    assert_eq!(code(call(&jit, buy(forged, None)).await), 201);
    let too_big = entry.max_payment_size_msat.get() + 1;
    assert_eq!(code(call(&jit, buy(entry.clone(), Some(too_big))).await), 203);
    assert!(call(&jit, buy(entry.clone(), Some(PAYMENT_MSAT))).await.is_ok());
    assert_eq!(code(call(&jit, buy(entry.clone(), Some(PAYMENT_MSAT))).await), 1, "per-client cap");
    clock.advance(jit.lsp.lsps2_service().config().valid_for_secs);
    assert_eq!(code(call(&jit, buy(entry, None)).await), 201, "expired");
    network.shutdown().await
}

/// Proves: an HTLC to an intercept SCID the LSP never sold fails back at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_to_an_unknown_scid_fails_at_once() -> HarnessResult<()> {
    let network = Network::sim().await?;
    let jit = setup(&network, config(TrustMode::Never)).await?;
    let invoice = buy(&jit, Some(PAYMENT_MSAT)).await;
    // A second wallet-made invoice pointing at an SCID the LSP never handed out.
    let unknown = Scid(jit.lsp.node().channel_manager().get_intercept_scid());
    let hash = PaymentHash([7; 32]);
    let params = PaymentParameters::from_node_id(jit.wallet.node_id(), 146)
        .with_route_hints(vec![RouteHint(vec![RouteHintHop {
            src_node_id: jit.lsp.node_id(),
            short_channel_id: unknown.0,
            fees: RoutingFees { base_msat: 0, proportional_millionths: 0 },
            cltv_expiry_delta: 144,
            htlc_minimum_msat: None,
            htlc_maximum_msat: None,
        }])])
        .expect("hints");
    let route = RouteParameters::from_payment_params_and_value(params, PAYMENT_MSAT);
    let onion = RecipientOnionFields::secret_only(*invoice.invoice.payment_secret());
    let started = std::time::Instant::now();
    jit.payer
        .node()
        .channel_manager()
        .send_payment(hash, onion, PaymentId(hash.0), route, Retry::Attempts(0))
        .expect("sent");
    jit.payer
        .wait_for_event("PaymentFailed", DEFAULT_TIMEOUT, |event| matches!(event, Event::PaymentFailed { .. }))
        .await?;
    assert!(started.elapsed() < Duration::from_secs(5), "failed at once, not after a timer");
    assert!(jit.wallet.node().list_channels().is_empty(), "no channel for an unknown SCID");
    network.shutdown().await
}

/// Proves: part of a fixed-amount payment is held until the MPP timer (driven by the LSP's
/// manual clock) fires, then failed back; no channel is opened, and the session waits again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_payment_is_failed_back_when_the_mpp_timer_fires() -> HarnessResult<()> {
    let network = Network::sim().await?;
    let clock = Arc::new(ManualClock::starting_now());
    let jit = setup_with_clock(&network, config(TrustMode::Never), Arc::clone(&clock) as Arc<dyn Clock>).await?;
    let invoice = buy(&jit, Some(PAYMENT_MSAT)).await;
    let hash = PaymentHash(invoice.invoice.payment_hash().to_byte_array());
    send_raw(&jit.payer, &invoice.invoice, hash, PAYMENT_MSAT / 2);
    wait_for(&jit, &invoice, |state| matches!(state, JitState::AwaitingPayment { parts, .. } if parts.len() == 1))
        .await?;
    clock.advance(jit.lsp.lsps2_service().config().policy.mpp_timeout_secs);
    jit.lsp.lsps2_service().tick().await.expect("tick");
    jit.payer
        .wait_for_event("PaymentFailed", DEFAULT_TIMEOUT, |event| matches!(event, Event::PaymentFailed { .. }))
        .await?;
    wait_for(&jit, &invoice, |state| matches!(state, JitState::AwaitingPayment { parts, .. } if parts.is_empty()))
        .await?;
    assert!(jit.wallet.node().list_channels().is_empty(), "no channel for a partial payment");
    network.shutdown().await
}

/// Proves: in trust mode, a payment the wallet never takes (a probe with a random hash, which
/// the wallet fails back) leaves the JIT channel unpaid with its funding never broadcast; when
/// the grace period ends (manual clock) the channel is abandoned, the funding never reaches
/// the mempool, and the LSP's wallet balance is exactly what it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_the_wallet_never_takes_costs_the_lsp_nothing_in_trust_mode() -> HarnessResult<()> {
    let network = Network::sim().await?;
    let clock = Arc::new(ManualClock::starting_now());
    let jit = setup_with_clock(&network, config(TrustMode::Always), Arc::clone(&clock) as Arc<dyn Clock>).await?;
    let lsp_node = jit.lsp.node();
    let balance_before = lsp_node.onchain_balance();
    let chain = network.sim_chain().expect("sim").clone();
    let invoice = buy(&jit, Some(PAYMENT_MSAT)).await;
    assert!(invoice.client_trusts_lsp);
    send_raw(&jit.payer, &invoice.invoice, PaymentHash([9; 32]), PAYMENT_MSAT);
    let unpaid = wait_for(&jit, &invoice, |state| matches!(state, JitState::ChannelUnpaid { .. })).await?;
    jit.payer
        .wait_for_event("PaymentFailed", DEFAULT_TIMEOUT, |event| matches!(event, Event::PaymentFailed { .. }))
        .await?;
    let funding = lsp_node.manual_funding_transaction(unpaid.user_channel_id).expect("held funding").compute_txid();
    let in_mempool = || chain.mempool().iter().any(|tx| tx.compute_txid() == funding);
    assert!(!in_mempool(), "the funding of an unpaid channel is never broadcast");
    assert!(!jit.wallet.node().list_channels().is_empty(), "the wallet did get its channel");

    let config = jit.lsp.lsps2_service().config().clone();
    clock.advance(config.valid_for_secs + config.policy.unpaid_channel_grace_secs);
    jit.lsp.lsps2_service().tick().await.expect("tick");
    wait_for(&jit, &invoice, |state| matches!(state, JitState::Failed { .. })).await?;
    wait_until("funding inputs released", DEFAULT_TIMEOUT, || lsp_node.onchain_balance() == balance_before).await?;
    network.mine(1).await?;
    assert!(!in_mempool(), "still never broadcast");
    assert_eq!(lsp_node.onchain_balance(), balance_before, "the LSP lost nothing on chain");
    network.shutdown().await
}

async fn wait_for(
    jit: &Jit,
    invoice: &inbound_client::lsps2::JitInvoice,
    predicate: impl Fn(&JitState) -> bool,
) -> HarnessResult<inbound_service::lsps2::JitSession> {
    inbound_harness::wait_for("session state", DEFAULT_TIMEOUT, || async {
        session(jit, invoice).await.filter(|session| predicate(&session.state))
    })
    .await
}
