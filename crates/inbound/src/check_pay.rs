//! `inbound check --pay`: the live checks' payments, on regtest. Two more nodes: a payer, funded
//! by mining to it through `--chain-url` (the chain the user controls), with a channel to the
//! LSP; and a wallet that buys from the LSP (a JIT invoice, then an LSPS1 order, then a JIT
//! invoice of which the payer sends only half), paid by the payer; and a node that refuses every
//! channel, whose LSPS1 order the payer pays too, which the LSP must refund. What happened goes back to `inbound-check` as facts; the checker judges them.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use inbound_check::{
    smallest_order_request, JitPayment, LiveFuture, LivePayments, PaidOrder, PayerSaw, RefusedOrder, ShortMpp,
};
use inbound_client::lsps1::{payment_for, Lsps1Client, PayWith, Payment, PeerTransport};
use inbound_client::lsps2::{JitInvoiceRequest, RejectingAcceptor};
use inbound_node::bitcoin::secp256k1::PublicKey;
use inbound_node::bitcoin::{Address, Network};
use inbound_node::lightning::events::Event;
use inbound_node::lightning::ln::channelmanager::{PaymentId, RecipientOnionFields, Retry};
use inbound_node::lightning::routing::router::{PaymentParameters, RouteParameters};
use inbound_node::lightning::types::payment::PaymentHash;
use inbound_node::lightning_invoice::Bolt11Invoice;
use inbound_node::{BitcoindRpc, FundingBroadcast};
use lsps::lsps1::{CreateOrderRequest, Order, OrderState};
use serde_json::json;

use crate::events::wait_for_event;
use crate::wallet::{start_jit_wallet, start_wallet, Wallet, WalletOptions};

/// The payer's channel to the LSP.
pub const PAYER_CHANNEL_SAT: u64 = 1_000_000;
/// The JIT invoice's amount.
pub const JIT_PAYMENT_MSAT: u64 = 50_000_000;
/// The most the wallet pays for the JIT channel (a cap, not the expected fee).
pub const JIT_MAX_FEE_MSAT: u64 = 25_000_000;
/// The JIT invoice of which only half is sent.
pub const SHORT_MPP_MSAT: u64 = 40_000_000;
/// How long the checker waits for that half to fail back: bLIP-52's 90 s and a margin for the
/// LSP's timer.
pub const SHORT_MPP_WAIT: Duration = Duration::from_secs(150);
/// How long the payer's channel may be unable to carry a payment before it counts as failed.
const ROUTE_WAIT: Duration = Duration::from_secs(30);
/// How long the LSP may take to offer JIT channels again after a block.
const MENU_WAIT: Duration = Duration::from_secs(30);
/// The most the wallet pays for the LSPS1 order's fee.
pub const ORDER_MAX_FEE_SAT: u64 = 100_000;
/// Blocks that make the payer's coinbase spendable and its channel confirmed.
const COINBASE_MATURITY: u32 = 100;
const CHANNEL_CONFIRMATIONS: u32 = 6;
/// How long each live step may take.
const STEP: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(100);

/// The payer and the wallet of the live checks.
pub struct PayRig {
    lsp: PublicKey,
    payer: Wallet,
    wallet: Wallet,
    /// The node that refuses every channel, for the refund check.
    refuser: Wallet,
    rpc: BitcoindRpc,
    refund_wait: Duration,
}

impl PayRig {
    /// Starts the payer, the wallet and the refuser under `root`, funds the payer by mining to it,
    /// opens its channel to the LSP and waits until the channel is usable; connects the others.
    /// The refund check waits up to `refund_wait`.
    ///
    /// # Errors
    /// Not regtest, a chain that does not mine, or an LSP that does not accept the channel.
    pub async fn start(
        lsp: PublicKey,
        address: std::net::SocketAddr,
        root: &Path,
        base: &WalletOptions,
        refund_wait: Duration,
    ) -> Result<PayRig> {
        if base.network != Network::Regtest {
            bail!("--pay mines blocks to fund its payer: regtest only");
        }
        let rpc = BitcoindRpc::new(base.chain.clone()).context("the chain backend's RPC")?;
        let options = |name: &str| WalletOptions {
            data_dir: root.join(name),
            network: base.network,
            alias: format!("inbound-check-{name}"),
            chain: base.chain.clone(),
        };
        let payer = start_wallet(options("payer")).await?;
        let wallet = start_jit_wallet(options("wallet")).await?;
        let refuser = start_wallet(options("refuser")).await?;
        refuser.node.set_channel_acceptor(Arc::new(RejectingAcceptor));
        let rig = PayRig { lsp, payer, wallet, refuser, rpc, refund_wait };
        rig.fund_payer().await?;
        rig.payer.node.connect_peer(lsp, address, true).await.context("the payer connecting to the LSP")?;
        rig.open_payer_channel().await?;
        rig.wallet.node.connect_peer(lsp, address, true).await.context("the wallet connecting to the LSP")?;
        rig.refuser.node.connect_peer(lsp, address, true).await.context("the refuser connecting to the LSP")?;
        Ok(rig)
    }

    /// The funded payer, with its channel to the LSP.
    pub fn payer(&self) -> &Wallet {
        &self.payer
    }

    /// The wallet (buys JIT channels; connected to the LSP).
    pub fn wallet(&self) -> &Wallet {
        &self.wallet
    }

    /// The node that refuses every channel (connected to the LSP).
    pub fn refuser(&self) -> &Wallet {
        &self.refuser
    }

    /// Stops the nodes.
    pub async fn stop(&self) {
        for (name, node) in [("payer", &self.payer), ("wallet", &self.wallet), ("refuser", &self.refuser)] {
            if let Err(error) = node.stop().await {
                tracing::warn!("stopping the checker's {name}: {error:#}");
            }
        }
    }

    async fn mine(&self, blocks: u32, to: &Address) -> Result<()> {
        // Bitcoin Core takes the address as written; bcoin only in its own regtest form.
        let standard = self.rpc.call("generatetoaddress", json!([blocks, to.to_string()])).await;
        if standard.is_err() {
            let bcoin = inbound_regtest::bcoin_address(to).map_err(|error| anyhow!("{error}"))?;
            self.rpc.call("generatetoaddress", json!([blocks, bcoin])).await.context("generatetoaddress")?;
        }
        for node in [&self.payer.node, &self.wallet.node] {
            node.sync_chain().await.context("syncing after mining")?;
        }
        Ok(())
    }

    async fn fund_payer(&self) -> Result<()> {
        let address = self.payer.node.new_onchain_address().context("the payer's address")?;
        self.mine(1, &address).await?;
        self.mine(COINBASE_MATURITY, &address).await?;
        poll(STEP, "the payer's coinbase to mature", || async {
            self.payer.node.sync_chain().await?;
            Ok(self.payer.node.onchain_balance().confirmed_sat > PAYER_CHANNEL_SAT)
        })
        .await
    }

    async fn open_payer_channel(&self) -> Result<()> {
        let mut events = self.payer.events.subscribe();
        self.payer
            .node
            .open_channel(self.lsp, PAYER_CHANNEL_SAT, 0, 1, FundingBroadcast::Automatic, None)
            .context("opening the payer's channel")?;
        wait_for_event(&mut events, "the payer's channel pending", STEP, |event| match event {
            Event::ChannelPending { user_channel_id: 1, .. } => Some(Ok(())),
            Event::ChannelClosed { user_channel_id: 1, reason, .. } => {
                Some(Err(anyhow!("the LSP did not take the payer's channel: {reason}")))
            }
            _ => None,
        })
        .await?;
        // The funding transaction reaches the chain backend before it can be mined.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let burn = self.payer.node.new_onchain_address().context("an address")?;
        self.mine(CHANNEL_CONFIRMATIONS, &burn).await?;
        poll(STEP, "the payer's channel to be usable", || async {
            self.payer.node.sync_chain().await?;
            Ok(self
                .payer
                .node
                .channel_manager()
                .list_usable_channels()
                .iter()
                .any(|c| c.counterparty.node_id == self.lsp))
        })
        .await
    }

    /// Pays `invoice` from the payer, once its channel to the LSP can carry the amount: the
    /// channel is briefly unusable while a previous payment settles over it.
    async fn pay(&self, invoice: &Bolt11Invoice) -> Result<PaymentId> {
        let amount_msat = invoice.amount_milli_satoshis().unwrap_or(0);
        poll(ROUTE_WAIT, "the payer's channel to carry the payment", || async {
            Ok(self.payer.node.channel_manager().list_usable_channels().iter().any(|channel| {
                channel.counterparty.node_id == self.lsp && channel.next_outbound_htlc_limit_msat >= amount_msat
            }))
        })
        .await?;
        Ok(self.payer.node.pay_invoice(invoice)?)
    }

    async fn jit(&self) -> Result<JitPayment> {
        let client = self.wallet.lsps2.as_ref().ok_or_else(|| anyhow!("the wallet buys no JIT channels"))?;
        let jit = client
            .jit_invoice(JitInvoiceRequest {
                lsp: self.lsp,
                amount_msat: Some(JIT_PAYMENT_MSAT),
                max_fee_msat: JIT_MAX_FEE_MSAT,
                description: "inbound check".into(),
                expiry_secs: 3600,
                token: None,
            })
            .await
            .map_err(|error| anyhow!("buying the JIT invoice: {error}"))?;
        let params = &jit.opening_fee_params;
        let mut facts = JitPayment {
            payment_msat: JIT_PAYMENT_MSAT,
            min_fee_msat: params.min_fee_msat.get(),
            proportional: params.proportional.get(),
            received_msat: None,
            note: String::new(),
        };
        let hash = PaymentHash(*jit.invoice.payment_hash().as_ref());
        let mut wallet_events = self.wallet.events.subscribe();
        self.pay(&jit.invoice).await.context("paying the JIT invoice")?;
        let claimed = wait_for_event(&mut wallet_events, "the wallet's PaymentClaimed", STEP, |event| match event {
            Event::PaymentClaimed { payment_hash, amount_msat, .. } if *payment_hash == hash => Some(Ok(*amount_msat)),
            _ => None,
        })
        .await;
        match claimed {
            Ok(received) => {
                facts.received_msat = Some(received);
                let channel = self.wallet.node.list_channels().into_iter().find(|c| c.counterparty.node_id == self.lsp);
                facts.note = channel.map_or_else(
                    || "but no channel from the LSP".to_owned(),
                    |c| format!("over a new {} sat channel", c.channel_value_satoshis),
                );
            }
            Err(error) => facts.note = format!("{error:#}"),
        }
        Ok(facts)
    }

    /// `buyer` orders the smallest channel the LSP sells; returns its LSPS1 client, the request,
    /// the order and the order's BOLT11 invoice.
    async fn smallest_order(&self, buyer: &Wallet) -> Result<(Lsps1Client, CreateOrderRequest, Order, Bolt11Invoice)> {
        let transport = PeerTransport::new(Arc::clone(&buyer.client), self.lsp);
        let client = Lsps1Client::new(Arc::new(transport), Network::Regtest).with_poll_interval(POLL);
        let info = client.get_info().await.map_err(|error| anyhow!("lsps1.get_info: {error}"))?;
        let request =
            smallest_order_request(&info).ok_or_else(|| anyhow!("no order fits the LSP's get_info limits"))?;
        let order = client.create_order(&request).await.map_err(|error| anyhow!("lsps1.create_order: {error}"))?.order;
        let Payment::Lightning { invoice, .. } =
            payment_for(&order, PayWith::Lightning, ORDER_MAX_FEE_SAT, Network::Regtest)
                .map_err(|error| anyhow!("the order's payment: {error}"))?
        else {
            bail!("asked for the Lightning payment, got another");
        };
        Ok((client, request, order, invoice))
    }

    async fn order(&self) -> Result<PaidOrder> {
        let (client, request, order, invoice) = self.smallest_order(&self.wallet).await?;
        let mut payer_events = self.payer.events.subscribe();
        let payment_id = self.pay(&invoice).await.context("paying the order")?;
        let done = client
            .wait_for(&order.order_id, Some(&request), STEP, |o| o.order_state != OrderState::Created, |_| {})
            .await
            .map_err(|error| anyhow!("waiting for the order: {error}"))?;
        if done.order_state == OrderState::Completed {
            // The LSP claims the payment once the funding is published: the payer's channel is
            // settled before the next check pays over it.
            wait_for_event(&mut payer_events, "the order's payment to settle", STEP, |event| match event {
                Event::PaymentSent { payment_id: Some(id), .. } if *id == payment_id => Some(Ok(())),
                Event::PaymentFailed { payment_id: id, .. } if *id == payment_id => {
                    Some(Err(anyhow!("the order is COMPLETED but its payment failed back")))
                }
                _ => None,
            })
            .await?;
        }
        let capacity = match &done.channel {
            None => None,
            Some(channel) => {
                let funding = channel.funding_outpoint.0;
                let find = || {
                    self.wallet
                        .node
                        .list_channels()
                        .into_iter()
                        .find(|c| c.funding_txo.map(|o| o.into_bitcoin_outpoint()) == Some(funding))
                        .map(|c| c.channel_value_satoshis)
                };
                // The wallet may learn of the channel a moment after the LSP reports it.
                let seen =
                    poll(Duration::from_secs(30), "the ordered channel", || async { Ok(find().is_some()) }).await;
                seen.ok().and_then(|()| find())
            }
        };
        Ok(PaidOrder { request, order: done, channel_capacity_sat: capacity })
    }
}

impl PayRig {
    async fn mpp(&self) -> Result<ShortMpp> {
        let client = self.wallet.lsps2.as_ref().ok_or_else(|| anyhow!("the wallet buys no JIT channels"))?;
        // The channels opened so far spent the LSP's confirmed coins, and an LSP sells JIT
        // channels from confirmed coins only: a block confirms its change, and the menu returns
        // once the LSP has seen the block.
        let burn = self.payer.node.new_onchain_address().context("an address")?;
        self.mine(1, &burn).await?;
        let request = JitInvoiceRequest {
            lsp: self.lsp,
            amount_msat: Some(SHORT_MPP_MSAT),
            max_fee_msat: JIT_MAX_FEE_MSAT,
            description: "inbound check: a payment that stops short".into(),
            expiry_secs: 3600,
            token: None,
        };
        let deadline = tokio::time::Instant::now() + MENU_WAIT;
        let jit = loop {
            match client.jit_invoice(request.clone()).await {
                Ok(jit) => break jit,
                Err(_) if tokio::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_secs(1)).await,
                Err(error) => bail!("buying the JIT invoice: {error}"),
            }
        };
        let channels_before = self.lsp_channels_of_wallet();
        // Half the invoice, alone, under the invoice's own hash: one MPP part of two.
        let hash = PaymentHash(*jit.invoice.payment_hash().as_ref());
        let route = RouteParameters::from_payment_params_and_value(
            PaymentParameters::from_bolt11_invoice(&jit.invoice),
            SHORT_MPP_MSAT / 2,
        );
        let onion = RecipientOnionFields::secret_only(*jit.invoice.payment_secret());
        let payment_id = PaymentId(hash.0);
        let mut events = self.payer.events.subscribe();
        let sent = tokio::time::Instant::now();
        self.payer
            .node
            .channel_manager()
            .send_payment(hash, onion, payment_id, route, Retry::Attempts(0))
            .map_err(|error| anyhow!("sending the part: {error:?}"))?;
        // true: failed back; false: paid (half accepted as the whole); an error: still held.
        let failed = wait_for_event(&mut events, "the part to fail back", SHORT_MPP_WAIT, |event| match event {
            Event::PaymentFailed { payment_id: id, .. } if *id == payment_id => Some(Ok(true)),
            Event::PaymentSent { payment_id: Some(id), .. } if *id == payment_id => Some(Ok(false)),
            _ => None,
        })
        .await;
        let failed_after = match failed {
            Ok(true) => Some(sent.elapsed()),
            Ok(false) => bail!("half the payment was accepted as the whole"),
            Err(_still_held) => None,
        };
        Ok(ShortMpp {
            failed_after,
            waited: SHORT_MPP_WAIT,
            channel_opened: self.lsp_channels_of_wallet() > channels_before,
        })
    }

    /// The wallet's channels with the LSP.
    fn lsp_channels_of_wallet(&self) -> usize {
        self.wallet.node.list_channels().iter().filter(|c| c.counterparty.node_id == self.lsp).count()
    }
}

impl PayRig {
    async fn refund(&self) -> Result<RefusedOrder> {
        let (client, request, order, invoice) = self.smallest_order(&self.refuser).await?;
        let mut events = self.payer.events.subscribe();
        let payment_id = self.pay(&invoice).await.context("paying the order")?;
        let ended =
            wait_for_event(&mut events, "the refused order's payment to end", self.refund_wait, |event| match event {
                Event::PaymentFailed { payment_id: id, .. } if *id == payment_id => Some(Ok(PayerSaw::Refunded)),
                Event::PaymentSent { payment_id: Some(id), .. } if *id == payment_id => Some(Ok(PayerSaw::Taken)),
                _ => None,
            })
            .await;
        let payment = ended.unwrap_or(PayerSaw::Pending);
        // The order's state may trail the failed HTLC by a moment.
        let mut last = None;
        for _ in 0..50 {
            last = client.get_order(&order.order_id, Some(&request)).await.ok();
            if last.as_ref().is_some_and(|o| o.order_state != OrderState::Created) || payment == PayerSaw::Pending {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(RefusedOrder { payment, order: last, waited: self.refund_wait })
    }
}

impl LivePayments for PayRig {
    fn refused_order(&self) -> LiveFuture<'_, RefusedOrder> {
        Box::pin(async move { self.refund().await.map_err(|error| format!("{error:#}")) })
    }

    fn short_mpp(&self) -> LiveFuture<'_, ShortMpp> {
        Box::pin(async move { self.mpp().await.map_err(|error| format!("{error:#}")) })
    }

    fn jit_payment(&self) -> LiveFuture<'_, JitPayment> {
        Box::pin(async move { self.jit().await.map_err(|error| format!("{error:#}")) })
    }

    fn paid_order(&self) -> LiveFuture<'_, PaidOrder> {
        Box::pin(async move { self.order().await.map_err(|error| format!("{error:#}")) })
    }
}

/// Checks `condition` every [`POLL`] until it holds, at most `timeout`.
async fn poll<F, Fut>(timeout: Duration, what: &str, mut condition: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while !condition().await? {
        if tokio::time::Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}
