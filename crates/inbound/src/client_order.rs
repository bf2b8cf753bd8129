//! `inbound client order` and `inbound client order-status`: buy a channel from an LSP with
//! LSPS1 (bLIP-51) and follow the order.
//!
//! Both start a wallet node (role wallet, not listening) and connect it to the LSP: the LSP
//! opens the channel to that node, so the node must stay connected until the order completes.
//! The LSPS1 calls go over that connection (LSPS0), or over HTTP with `--http URL` (an Inbound
//! extension; the requests carry the wallet's node id and a signature by its node key).
//!
//! `order` checks the order (bLIP-51 client checks, invoice amount, address network) and prints
//! it with its payment options. With `--pay lightning` the wallet pays the BOLT11 hold invoice
//! itself, which needs **outbound liquidity**: an existing channel with enough balance to reach
//! the LSP (a fresh wallet has none; fund one first, or pay on chain). With `--pay onchain` it
//! sends `order_total_sat` from its on-chain wallet (which needs confirmed coins). `--max-fee-sat`
//! is required with `--pay`: an order whose fee is above it is not paid. Then it waits, printing
//! each change of the order (payment held, channel published, COMPLETED) and the wallet's view
//! of the channel (confirmations, ready).
//!
//! Output is human-readable lines by default; `--json` prints one JSON object per line instead
//! (`{"event": "order", …}`, `{"event": "progress", …}`, `{"event": "paid", …}`,
//! `{"event": "channel", …}`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, ValueEnum};
use inbound_client::lsps1::{
    payment_for, HttpTransport, Lsps1Client, PayWith, Payment, PeerTransport, Progress, Transport,
};
use inbound_node::bitcoin::hashes::Hash;
use inbound_node::bitcoin::secp256k1::PublicKey;
use inbound_node::lightning::chain::chaininterface::{ConfirmationTarget, FeeEstimator};
use inbound_node::lightning::events::Event;
use inbound_node::Node;
use lsps::lsps1::{Order, OrderState};
use lsps::schema::OnchainAddress;
use serde_json::{json, Value};

use crate::client::resolve_lsp;
use crate::events::wait_for_event;
use crate::wallet::{start_wallet, Wallet};

/// Default `--channel-expiry-blocks` (about three months), lowered to the LSP's maximum.
pub const DEFAULT_CHANNEL_EXPIRY_BLOCKS: u32 = 13_140;

/// How to pay an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PayArg {
    /// The BOLT11 hold invoice, from the wallet's channels.
    Lightning,
    /// The on-chain address, from the wallet's on-chain funds.
    Onchain,
}

/// Where the wallet node lives and how long each step may take.
#[derive(Debug, Clone, Args)]
pub struct WalletArgs {
    /// The LSP, as <node_id>@<host:port> (the wallet connects to it in every case: the channel
    /// is opened to the wallet's node).
    #[arg(long, value_name = "NODE_ID@HOST:PORT")]
    pub lsp: String,
    /// Send the LSPS1 calls to this Inbound HTTP endpoint (https://…/lsps) instead of over the
    /// Lightning connection.
    #[arg(long, value_name = "URL")]
    pub http: Option<String>,
    /// The wallet node.
    #[command(flatten)]
    pub node: crate::client::WalletNodeArgs,
    /// Print JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `inbound client order` options.
#[derive(Debug, Clone, Args)]
pub struct OrderArgs {
    /// The wallet and the LSP.
    #[command(flatten)]
    pub wallet: WalletArgs,
    /// The LSP's side of the channel (the inbound liquidity bought).
    #[arg(long, value_name = "SAT")]
    pub lsp_balance_sat: u64,
    /// The wallet's side, paid to the LSP on top of the fee and pushed back in the channel.
    #[arg(long, default_value_t = 0, value_name = "SAT")]
    pub client_balance_sat: u64,
    /// How long the LSP keeps the channel open. Default: 13140, or the LSP's maximum if lower.
    #[arg(long, value_name = "BLOCKS")]
    pub channel_expiry_blocks: Option<u32>,
    /// Where a failed on-chain payment is refunded. Default with `--pay onchain`: a new address
    /// of the wallet.
    #[arg(long, value_name = "ADDRESS")]
    pub refund_address: Option<String>,
    /// An LSPS1 token (coupon or API key).
    #[arg(long)]
    pub token: Option<String>,
    /// Pay the order right away, and wait for it to complete.
    #[arg(long, value_enum)]
    pub pay: Option<PayArg>,
    /// The most the LSP's fee may be (hard cap; required with `--pay`).
    #[arg(long, value_name = "SAT")]
    pub max_fee_sat: Option<u64>,
    /// How long to wait for the order to complete after paying.
    #[arg(long, default_value_t = 3600, value_name = "SECS")]
    pub wait_secs: u64,
}

/// `inbound client order-status` options.
#[derive(Debug, Clone, Args)]
pub struct OrderStatusArgs {
    /// The wallet and the LSP. The order is bound to the wallet's node id: use the same
    /// `--data-dir` as when ordering.
    #[command(flatten)]
    pub wallet: WalletArgs,
    /// The order, as `order` printed it.
    #[arg(long, value_name = "ID")]
    pub order_id: String,
    /// Wait until the order is COMPLETED or FAILED, printing each change.
    #[arg(long)]
    pub wait: bool,
    /// How long `--wait` waits.
    #[arg(long, default_value_t = 3600, value_name = "SECS")]
    pub wait_secs: u64,
}

impl OrderArgs {
    /// Checks what clap cannot: `--max-fee-sat` with `--pay`, a non-zero balance.
    ///
    /// # Errors
    /// Names the flag.
    pub fn validate(&self) -> Result<()> {
        if self.pay.is_some() && self.max_fee_sat.is_none() {
            bail!("--max-fee-sat is required with --pay: the most the LSP's fee may be");
        }
        if self.lsp_balance_sat == 0 {
            bail!("--lsp-balance-sat must be at least 1");
        }
        if self.channel_expiry_blocks == Some(0) {
            bail!("--channel-expiry-blocks must be at least 1");
        }
        Ok(())
    }
}

/// Runs `inbound client order`; see the module documentation.
///
/// # Errors
/// Bad flags, an unreachable chain backend or LSP, an LSP refusal, an order failing the checks
/// or above the fee cap, a failed payment, a FAILED order or a timeout.
pub async fn order(args: OrderArgs) -> Result<()> {
    args.validate()?;
    let session = Session::start(&args.wallet).await?;
    let outcome = session.order(&args).await;
    session.stop().await;
    outcome
}

/// Runs `inbound client order-status`; see the module documentation.
///
/// # Errors
/// An unreachable chain backend or LSP, an LSP refusal (101: no such order for this node id),
/// a FAILED order or a timeout with `--wait`.
pub async fn order_status(args: OrderStatusArgs) -> Result<()> {
    let session = Session::start(&args.wallet).await?;
    let outcome = session.status(&args).await;
    session.stop().await;
    outcome
}

/// A started wallet connected to the LSP, and the LSPS1 client.
struct Session {
    wallet: Wallet,
    lsps1: Lsps1Client,
    json: bool,
    network: inbound_node::bitcoin::Network,
    _temporary_dir: Option<tempfile::TempDir>,
}

impl Session {
    async fn start(args: &WalletArgs) -> Result<Session> {
        let (lsp_id, address) = resolve_lsp(&args.lsp).await?;
        let (temporary_dir, options) = args.node.options()?;
        let network = options.network;
        let wallet = start_wallet(options).await?;
        let timeout = args.node.timeout();
        let connected = tokio::time::timeout(timeout, wallet.node.connect_peer(lsp_id, address, false))
            .await
            .map_err(|_| anyhow!("timed out after {timeout:?} connecting to {lsp_id}@{address}"))
            .and_then(|result| result.with_context(|| format!("connecting to {lsp_id}@{address}")));
        let transport = connected.and_then(|()| transport(args, &wallet, lsp_id, timeout));
        match transport {
            Ok(transport) => Ok(Session {
                lsps1: Lsps1Client::new(transport, network),
                wallet,
                json: args.json,
                network,
                _temporary_dir: temporary_dir,
            }),
            Err(error) => {
                if let Err(stop_error) = wallet.stop().await {
                    tracing::warn!("{stop_error:#}");
                }
                Err(error)
            }
        }
    }

    async fn stop(self) {
        if let Err(error) = self.wallet.stop().await {
            tracing::warn!("{error:#}");
        }
    }

    fn print(&self, event: &str, text: String, value: Value) {
        if self.json {
            let mut value = value;
            value["event"] = json!(event);
            println!("{value}");
        } else {
            println!("{text}");
        }
    }

    async fn order(&self, args: &OrderArgs) -> Result<()> {
        let info = self.lsps1.get_info().await.context("lsps1.get_info")?;
        let expiry =
            args.channel_expiry_blocks.unwrap_or(DEFAULT_CHANNEL_EXPIRY_BLOCKS.min(info.max_channel_expiry_blocks));
        let refund = match (&args.refund_address, args.pay) {
            (Some(text), _) => Some(parse_refund_address(text, self.network)?),
            (None, Some(PayArg::Onchain)) => {
                Some(OnchainAddress::from(self.wallet.node.new_onchain_address().context("a refund address")?))
            }
            (None, _) => None,
        };
        let mut request = self.lsps1.request(args.lsp_balance_sat, args.client_balance_sat, expiry, refund);
        request.token = args.token.clone();
        let checked = self.lsps1.create_order(&request).await.context("lsps1.create_order")?;
        for warning in &checked.warnings {
            tracing::warn!("order {}: {warning}", checked.order.order_id);
        }
        let order = &checked.order;
        self.print("order", describe_order(order), json!({ "order": order, "lsps1": self.lsps1.describe() }));
        let Some(pay) = args.pay else { return Ok(()) };
        let max_fee_sat = args.max_fee_sat.ok_or_else(|| anyhow!("--max-fee-sat is required with --pay"))?;
        let pay_with = match pay {
            PayArg::Lightning => PayWith::Lightning,
            PayArg::Onchain => PayWith::Onchain,
        };
        let payment = payment_for(order, pay_with, max_fee_sat, self.network)?;
        let wait = Duration::from_secs(args.wait_secs);
        let mut events = self.wallet.events.subscribe();
        self.pay(order, &payment)?;
        let done = match &payment {
            // A Lightning payment that fails (no route, no liquidity) ends the wait at once.
            Payment::Lightning { invoice, .. } => {
                let hash = *invoice.payment_hash();
                let failed =
                    wait_for_event(&mut events, "the payment's outcome", wait + Duration::from_secs(60), |event| {
                        match event {
                            Event::PaymentFailed { payment_hash: Some(failed), reason, .. }
                                if failed.0 == hash.to_byte_array() =>
                            {
                                Some(Err(anyhow!(
                                "the Lightning payment failed: {reason:?} (does the wallet have outbound liquidity?)"
                            )))
                            }
                            _ => None,
                        }
                    });
                tokio::select! {
                    done = self.follow(&order.order_id, Some(&request), wait) => done?,
                    outcome = failed => {
                        outcome?;
                        bail!("the payment watcher ended unexpectedly")
                    }
                }
            }
            Payment::Onchain { .. } => self.follow(&order.order_id, Some(&request), wait).await?,
        };
        self.watch_channel(&done, wait).await
    }

    fn pay(&self, order: &Order, payment: &Payment) -> Result<()> {
        let node: &Node = &self.wallet.node;
        match payment {
            Payment::Lightning { invoice, order_total_sat, fee_total_sat } => {
                node.pay_invoice(invoice).context("paying the order's invoice (does the wallet have a channel?)")?;
                self.print(
                    "paid",
                    format!("paying {order_total_sat} sat (fee {fee_total_sat} sat) by lightning"),
                    json!({ "option": "bolt11", "order_total_sat": order_total_sat, "fee_total_sat": fee_total_sat,
                            "payment_hash": invoice.payment_hash().to_string() }),
                );
            }
            Payment::Onchain { address, order_total_sat, fee_total_sat } => {
                let estimate =
                    node.fee_estimator().get_est_sat_per_1000_weight(ConfirmationTarget::NonAnchorChannelFee);
                let zero_conf_floor = order
                    .payment
                    .onchain
                    .as_ref()
                    .and_then(|onchain| onchain.min_fee_for_0conf)
                    .map_or(0, |rate| rate.sat_per_kwu().saturating_add(1));
                let fee_rate = u32::try_from(zero_conf_floor).unwrap_or(u32::MAX).max(estimate).max(253);
                let tx = node
                    .wallet()
                    .build_send_transaction(address, *order_total_sat, fee_rate)
                    .context("building the on-chain payment (does the wallet have confirmed coins?)")?;
                node.broadcast_transaction(&tx);
                self.print(
                    "paid",
                    format!(
                        "sent {order_total_sat} sat (fee {fee_total_sat} sat) to {address} in {}",
                        tx.compute_txid()
                    ),
                    json!({ "option": "onchain", "order_total_sat": order_total_sat, "fee_total_sat": fee_total_sat,
                            "txid": tx.compute_txid().to_string(), "fee_rate_sat_per_kwu": fee_rate }),
                );
            }
        }
        Ok(())
    }

    /// Waits for COMPLETED (or FAILED, an error), printing each change.
    async fn follow(
        &self,
        order_id: &str,
        request: Option<&lsps::lsps1::CreateOrderRequest>,
        wait: Duration,
    ) -> Result<Order> {
        let done = self
            .lsps1
            .wait_for(
                order_id,
                request,
                wait,
                |order| order.order_state == OrderState::Completed,
                |order| {
                    let progress = Progress::of(order);
                    self.print("progress", format!("order {order_id}: {}", progress.describe()), json!(progress));
                },
            )
            .await?;
        Ok(done)
    }

    /// Once COMPLETED: the wallet's view of the channel, until it is ready.
    async fn watch_channel(&self, order: &Order, wait: Duration) -> Result<()> {
        let Some(channel) = &order.channel else { return Ok(()) };
        let outpoint = channel.funding_outpoint.0;
        let started = tokio::time::Instant::now();
        let mut last = None;
        loop {
            let seen = self.wallet.node.list_channels().into_iter().find(|details| {
                details
                    .funding_txo
                    .is_some_and(|txo| txo.txid == outpoint.txid && u32::from(txo.index) == outpoint.vout)
            });
            let view = seen.as_ref().map(|details| (details.confirmations.unwrap_or(0), details.is_channel_ready));
            if view != last {
                let (confirmations, ready) = view.unwrap_or((0, false));
                self.print(
                    "channel",
                    match view {
                        Some(_) => format!("channel {outpoint}: {confirmations} confirmations, ready: {ready}"),
                        None => format!("channel {outpoint}: not seen by the wallet yet"),
                    },
                    json!({ "funding_outpoint": outpoint.to_string(), "seen": view.is_some(),
                            "confirmations": confirmations, "ready": ready }),
                );
                last = view;
            }
            if view.is_some_and(|(_, ready)| ready) {
                return Ok(());
            }
            if started.elapsed() > wait {
                bail!("the channel {outpoint} was not ready at the wallet after {wait:?}");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn status(&self, args: &OrderStatusArgs) -> Result<()> {
        let order = self.lsps1.get_order(&args.order_id, None).await.context("lsps1.get_order")?;
        self.print("order", describe_order(&order), json!({ "order": order, "lsps1": self.lsps1.describe() }));
        if args.wait && order.order_state == OrderState::Created {
            self.follow(&args.order_id, None, Duration::from_secs(args.wait_secs)).await?;
        } else if order.order_state == OrderState::Failed {
            bail!("order {} FAILED", order.order_id);
        }
        Ok(())
    }
}

fn transport(args: &WalletArgs, wallet: &Wallet, lsp_id: PublicKey, timeout: Duration) -> Result<Arc<dyn Transport>> {
    Ok(match &args.http {
        Some(url) => {
            let node_key = wallet.node.keys_manager().get_node_secret_key();
            Arc::new(
                HttpTransport::new(url, wallet.node.node_id(), timeout)
                    .with_context(|| format!("--http {url}"))?
                    .with_node_key(node_key),
            )
        }
        None => Arc::new(PeerTransport::new(Arc::clone(&wallet.client), lsp_id)),
    })
}

/// Parses `--refund-address` for `network`.
///
/// # Errors
/// If it is not an address of that network.
pub fn parse_refund_address(text: &str, network: inbound_node::bitcoin::Network) -> Result<OnchainAddress> {
    let address: OnchainAddress = text.parse().map_err(|e| anyhow!("--refund-address {text:?}: {e}"))?;
    if !address.is_valid_for_network(network) {
        bail!("--refund-address {text:?} is not a {network} address");
    }
    Ok(address)
}

fn describe_order(order: &Order) -> String {
    let mut lines = vec![format!(
        "order {} ({:?}): {} sat inbound, {} sat yours, {} blocks, created {}",
        order.order_id,
        order.order_state,
        order.lsp_balance_sat.get(),
        order.client_balance_sat.get(),
        order.channel_expiry_blocks,
        order.created_at.to_rfc3339_plus_offset()
    )];
    if let Some(bolt11) = &order.payment.bolt11 {
        lines.push(format!(
            "  lightning: pay {} sat (fee {} sat) by {:?}, state {:?}: {}",
            bolt11.order_total_sat.get(),
            bolt11.fee_total_sat.get(),
            bolt11.expires_at.to_rfc3339_plus_offset(),
            bolt11.state,
            bolt11.invoice
        ));
    }
    if let Some(onchain) = &order.payment.onchain {
        lines.push(format!(
            "  onchain: send {} sat (fee {} sat) to {} by {:?}, state {:?}",
            onchain.order_total_sat.get(),
            onchain.fee_total_sat.get(),
            onchain.address,
            onchain.expires_at.to_rfc3339_plus_offset(),
            onchain.state
        ));
    }
    if let Some(channel) = &order.channel {
        lines.push(format!(
            "  channel: {} funded {}",
            channel.funding_outpoint,
            channel.funded_at.to_rfc3339_plus_offset()
        ));
    }
    lines.join("\n")
}
