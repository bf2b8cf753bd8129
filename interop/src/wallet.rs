//! Inbound's own wallet side in-process: an inbound-node wallet node wired for LSPS2 the way
//! `inbound client jit-invoice` does it (crates/inbound/src/lsp.rs), without depending on the
//! `inbound` crate (which links the store; see Cargo.toml).

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use inbound_client::lsps2::{JitInvoice, JitInvoiceRequest, Lsps2Client, WalletEventHandler};
use inbound_client::{ClientConfig, LspsClient, LspsOutbound};
use inbound_node::bitcoin::secp256k1::PublicKey;
use inbound_node::bitcoin::Network;
use inbound_node::lightning::events::{Event, ReplayEvent};
use inbound_node::lightning::util::logger::Level;
use inbound_node::{BitcoindRpcConfig, LspsMessageHandler, Node, NodeBuilder, NodeEventHandler, NodeRole};
use tokio::sync::broadcast;

/// Fans the node's events out to subscribers (after the [`WalletEventHandler`] has claimed
/// JIT payments).
struct Events(broadcast::Sender<Event>);

/// The node's event handler: shows subscribers each `PaymentClaimable` as LDK hands it over
/// (the [`WalletEventHandler`] consumes it and passes on only `PaymentClaimed`), then lets the
/// [`WalletEventHandler`] handle every event.
struct Tap {
    events: broadcast::Sender<Event>,
    wallet: Arc<WalletEventHandler>,
}

impl NodeEventHandler for Tap {
    fn handle_event(&self, event: Event) -> Pin<Box<dyn Future<Output = Result<(), ReplayEvent>> + Send + '_>> {
        if matches!(event, Event::PaymentClaimable { .. }) {
            let _ = self.events.send(event.clone());
        }
        self.wallet.handle_event(event)
    }
}

impl NodeEventHandler for Events {
    fn handle_event(&self, event: Event) -> Pin<Box<dyn Future<Output = Result<(), ReplayEvent>> + Send + '_>> {
        let _ = self.0.send(event);
        Box::pin(async { Ok(()) })
    }
}

/// A started JIT wallet node.
pub struct InboundWallet {
    /// The node (role wallet, not listening).
    pub node: Arc<Node>,
    /// Buys JIT channels.
    pub lsps2: Arc<Lsps2Client>,
    /// The raw LSPS client under it (for requests the JIT flow never sends).
    pub lsps: Arc<LspsClient>,
    events: broadcast::Sender<Event>,
}

impl InboundWallet {
    /// Builds and starts a wallet node in `dir` on the bcoin node at `rpc_url`.
    ///
    /// # Errors
    /// If the node cannot be built or started.
    pub async fn start(dir: &Path, alias: &str, rpc_url: &str, poll_interval: Duration) -> Result<InboundWallet> {
        let client = LspsClient::new(ClientConfig::default());
        let (events, _) = broadcast::channel(1024);
        let inner: Arc<dyn NodeEventHandler> = Arc::new(Events(events.clone()));
        let wallet_events = WalletEventHandler::new(Some(inner));
        let mut chain = BitcoindRpcConfig::new(rpc_url);
        chain.poll_interval = poll_interval;
        let mut builder = NodeBuilder::new(dir);
        builder
            .set_network(Network::Regtest)
            .set_role(NodeRole::Wallet)
            .set_alias(alias.to_string())
            .set_listen_address(None)
            .set_log_level(Level::Warn)
            .set_chain_source_bitcoind_rpc(chain)
            .set_lsps_message_handler(Arc::clone(&client) as Arc<dyn LspsMessageHandler>)
            .set_event_handler(Arc::new(Tap { events: events.clone(), wallet: Arc::clone(&wallet_events) }));
        let node = Arc::new(builder.build().await.with_context(|| format!("building wallet {alias}"))?);
        client.attach(Arc::clone(node.lsps_transport()) as Arc<dyn LspsOutbound>);
        let lsps2 = Lsps2Client::new(Arc::clone(&client), Arc::clone(&node))
            .with_context(|| format!("loading wallet {alias}'s JIT purchases"))?;
        node.set_channel_acceptor(lsps2.acceptor());
        wallet_events.attach(&lsps2);
        node.start().await.with_context(|| format!("starting wallet {alias}"))?;
        Ok(InboundWallet { node, lsps2, lsps: client, events })
    }

    /// Buys a JIT invoice for `amount_msat` from `lsp` (fee cap `max_fee_msat`), asking again
    /// every 500 ms for up to `within`: Inbound's menu is empty until its wallet has seen its
    /// coins.
    ///
    /// # Errors
    /// The last refusal once `within` has passed.
    pub async fn buy_jit_invoice(
        &self,
        lsp: PublicKey,
        amount_msat: u64,
        max_fee_msat: u64,
        within: Duration,
    ) -> Result<JitInvoice> {
        let deadline = std::time::Instant::now() + within;
        loop {
            let request = JitInvoiceRequest {
                lsp,
                amount_msat: Some(amount_msat),
                max_fee_msat,
                description: "interop".into(),
                expiry_secs: 3600,
                token: None,
            };
            match self.lsps2.jit_invoice(request).await {
                Ok(jit) => return Ok(jit),
                Err(error) if std::time::Instant::now() < deadline => {
                    eprintln!("jit_invoice: {error}; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(error) => bail!("jit_invoice: {error}"),
            }
        }
    }

    /// Every event handled after this call: those the [`WalletEventHandler`] passes on, and
    /// each `PaymentClaimable` as LDK hands it over (before the wallet claims it).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Stops the node.
    ///
    /// # Errors
    /// If the final persistence fails.
    pub async fn stop(&self) -> Result<()> {
        self.node.stop().await.map_err(|e| anyhow!("stopping the wallet: {e}"))
    }
}

/// Waits up to `timeout` for an event `select` picks.
///
/// # Errors
/// On timeout, a closed or lagging channel, or the error `select` returns.
pub async fn wait_inbound_event<T>(
    events: &mut broadcast::Receiver<Event>,
    what: &str,
    timeout: Duration,
    mut select: impl FnMut(&Event) -> Option<Result<T>>,
) -> Result<T> {
    let wait = async {
        loop {
            match events.recv().await {
                Ok(event) => {
                    if let Some(outcome) = select(&event) {
                        return outcome;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => bail!("missed {missed} events waiting for {what}"),
                Err(broadcast::error::RecvError::Closed) => bail!("the node stopped while waiting for {what}"),
            }
        }
    };
    tokio::time::timeout(timeout, wait).await.map_err(|_| anyhow!("timed out after {timeout:?} waiting for {what}"))?
}
