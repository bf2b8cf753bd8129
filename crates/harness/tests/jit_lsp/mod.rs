//! Shared set-up of the LSPS2 LSP-side tests: an LSP running the real `Lsps2Service`, a payer
//! with a confirmed channel to it, and a JIT wallet using the real `Lsps2Client`.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use inbound_client::lsps2::{JitInvoice, JitInvoiceRequest, Lsps2ClientConfig};
use inbound_harness::{wait_for, HarnessResult, Network, TestNode};
use inbound_node::lightning::ln::channelmanager::{PaymentId, RecipientOnionFields, Retry};
use inbound_node::lightning::routing::router::{PaymentParameters, RouteParameters};
use inbound_node::lightning::types::payment::PaymentHash;
use inbound_node::lightning_invoice::Bolt11Invoice;
use inbound_service::lsps2::{FeeTier, JitSession, Lsps2Config, TrustMode};
use inbound_service::{Clock, SystemClock};

/// The opening fee floor of the test menu.
pub const MIN_FEE_MSAT: u64 = 1_000_000;
/// The test menu's proportional fee.
pub const PROPORTIONAL_PPM: u32 = 10_000;
/// A payment whose fee is the floor.
pub const PAYMENT_MSAT: u64 = 10_000_000;
/// What the LSP's wallet holds.
pub const LSP_FUNDS_SAT: u64 = 1_000_000;

/// One tier; `trust` as given.
pub fn config(trust: TrustMode) -> Lsps2Config {
    Lsps2Config {
        public_menu: vec![FeeTier {
            min_fee_msat: MIN_FEE_MSAT,
            proportional: PROPORTIONAL_PPM,
            min_payment_size_msat: 1_000_000,
            max_payment_size_msat: 200_000_000,
        }],
        trust,
        ..Lsps2Config::default()
    }
}

/// The LSP, the payer and the JIT wallet.
pub struct Jit {
    pub lsp: Arc<TestNode>,
    pub payer: Arc<TestNode>,
    pub wallet: Arc<TestNode>,
}

/// Payer ⇄ LSP with a confirmed 500 000 sat channel, the LSP's wallet funded, and a JIT wallet
/// connected to the LSP.
pub async fn setup(network: &Network, config: Lsps2Config) -> HarnessResult<Jit> {
    setup_with_clock(network, config, Arc::new(SystemClock)).await
}

/// [`setup`] with the LSP's clock injected.
pub async fn setup_with_clock(network: &Network, config: Lsps2Config, clock: Arc<dyn Clock>) -> HarnessResult<Jit> {
    let lsp = network.add_jit_lsp("lsp", config, clock).await?;
    let payer = network.add_wallet("payer").await?;
    let wallet = network.add_jit_wallet("wallet", Lsps2ClientConfig::default()).await?;
    network.connect(&payer, &lsp).await?;
    network.connect(&wallet, &lsp).await?;
    network.fund(&payer, 1_000_000).await?;
    network.fund(&lsp, LSP_FUNDS_SAT).await?;
    network.open_channel(&payer, &lsp, 500_000, 0).await?;
    Ok(Jit { lsp, payer, wallet })
}

/// The wallet buys a JIT invoice from the LSP (`amount_msat` `None`: variable invoice).
pub async fn buy(jit: &Jit, amount_msat: Option<u64>) -> JitInvoice {
    let request = JitInvoiceRequest {
        lsp: jit.lsp.node_id(),
        amount_msat,
        max_fee_msat: 5 * MIN_FEE_MSAT,
        description: "jit".into(),
        expiry_secs: 600,
        token: None,
    };
    jit.wallet.lsps2().jit_invoice(request).await.expect("jit_invoice")
}

/// The LSP's session behind `invoice`.
pub async fn session(jit: &Jit, invoice: &JitInvoice) -> Option<JitSession> {
    jit.lsp.lsps2_service().session_by_scid(invoice.intercept_scid.0).await.expect("store")
}

/// Waits until the LSP's session behind `invoice` is in state `state`.
pub async fn wait_for_state(
    jit: &Jit,
    invoice: &JitInvoice,
    state: &str,
    timeout: Duration,
) -> HarnessResult<JitSession> {
    wait_for(&format!("session in {state}"), timeout, || async {
        session(jit, invoice).await.filter(|session| session.state.name() == state)
    })
    .await
}

/// Sends `amount_msat` towards `invoice` with `payment_hash` (the invoice's own hash for a
/// partial payment, a random one for a probe), without retries.
pub fn send_raw(payer: &TestNode, invoice: &Bolt11Invoice, payment_hash: PaymentHash, amount_msat: u64) {
    let params = PaymentParameters::from_bolt11_invoice(invoice);
    let route = RouteParameters::from_payment_params_and_value(params, amount_msat);
    let onion = RecipientOnionFields::secret_only(*invoice.payment_secret());
    payer
        .node()
        .channel_manager()
        .send_payment(payment_hash, onion, PaymentId(payment_hash.0), route, Retry::Attempts(0))
        .expect("payment sent");
}
