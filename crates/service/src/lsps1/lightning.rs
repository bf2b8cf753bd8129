//! The one file of the LSPS1 service that knows `inbound_node::Node` and LDK's events:
//! [`OrderLightning`] for the node, and [`Lsps1EventHandler`], which feeds LDK events to the
//! [`Lsps1Service`] and keeps order payments away from the generic handler.

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;

use bitcoin::consensus::encode::{deserialize_hex, serialize_hex};
use bitcoin::secp256k1::PublicKey;
use bitcoin::{Address, Network, Transaction, Txid};
use inbound_node::lightning::chain::chaininterface::{ConfirmationTarget, FeeEstimator};
use inbound_node::lightning::events::{Event, ReplayEvent};
use inbound_node::lightning::sign::EntropySource;
use inbound_node::{FundingBroadcast, Node, NodeEventHandler};
use tracing::warn;

use super::ops::{OrderLightning, OrderOpen, Receipt, UnconfirmedReceipt};
use super::runner::OrderEvent;
use super::service::Lsps1Service;
use crate::address_book::is_public_ip;
use crate::OpsError;

impl OrderLightning for Node {
    fn random_bytes(&self) -> [u8; 32] {
        self.keys_manager().get_secure_random_bytes()
    }

    fn network(&self) -> Network {
        self.config().network
    }

    fn height(&self) -> u32 {
        self.best_block_height()
    }

    fn fee_rate_sat_per_kwu(&self) -> u32 {
        self.fee_estimator().get_est_sat_per_1000_weight(ConfirmationTarget::NonAnchorChannelFee)
    }

    fn is_connected(&self, peer: &PublicKey) -> bool {
        self.peer_manager().peer_by_node_id(peer).is_some()
    }

    fn create_hold_invoice(
        &self,
        payment_hash: [u8; 32],
        amount_msat: u64,
        expiry_secs: u32,
        min_final_cltv_expiry_delta: u16,
    ) -> Result<String, OpsError> {
        Node::create_hold_invoice(
            self,
            payment_hash,
            amount_msat,
            "LSPS1 channel order",
            expiry_secs,
            min_final_cltv_expiry_delta,
        )
        .map(|invoice| invoice.to_string())
        .map_err(|e| OpsError::Failed(e.to_string()))
    }

    fn claim_payment(&self, preimage: [u8; 32]) {
        self.claim_hold_payment(preimage);
    }

    fn fail_payment(&self, payment_hash: [u8; 32]) {
        self.fail_hold_payment(payment_hash);
    }

    fn new_address(&self) -> Result<String, OpsError> {
        self.new_onchain_address().map(|address| address.to_string()).map_err(|e| OpsError::Failed(e.to_string()))
    }

    fn received_to(&self, address: &str) -> Receipt {
        let Some(address) = parse_address(address, self.config().network) else { return Receipt::default() };
        let receipt = self.received_to_address(&address);
        Receipt { received_sat: receipt.received_sat, confirmations: receipt.min_confirmations }
    }

    fn unconfirmed_to<'a>(&'a self, addresses: &'a [String]) -> crate::BoxFuture<'a, Vec<UnconfirmedReceipt>> {
        Box::pin(async move {
            let network = self.config().network;
            let watched: Vec<(&String, bitcoin::ScriptBuf)> = addresses
                .iter()
                .filter_map(|text| parse_address(text, network).map(|address| (text, address.script_pubkey())))
                .collect();
            let scripts: Vec<bitcoin::ScriptBuf> = watched.iter().map(|(_, script)| script.clone()).collect();
            let payments = match self.chain_source().mempool_payments(&scripts).await {
                Ok(payments) => payments,
                Err(e) => {
                    warn!(error = %e, "cannot read the mempool for 0-conf deposits");
                    return Vec::new();
                }
            };
            let wallet = self.wallet();
            let mut receipts = Vec::new();
            for (address, script) in watched {
                let mut receipt: Option<UnconfirmedReceipt> = None;
                for payment in payments.iter().filter(|p| p.script_pubkey == script && !wallet.has_transaction(p.txid))
                {
                    let receipt = receipt.get_or_insert_with(|| UnconfirmedReceipt {
                        address: address.clone(),
                        received_sat: 0,
                        min_fee_rate_sat_per_kwu: Some(u64::MAX),
                    });
                    receipt.received_sat = receipt.received_sat.saturating_add(payment.value_sat);
                    receipt.min_fee_rate_sat_per_kwu =
                        receipt.min_fee_rate_sat_per_kwu.zip(payment.fee_rate_sat_per_kwu()).map(|(a, b)| a.min(b));
                }
                receipts.extend(receipt);
            }
            receipts
        })
    }

    fn has_channel(&self, user_channel_id: u128) -> bool {
        self.list_channels().iter().any(|channel| channel.user_channel_id == user_channel_id)
    }

    fn open_channel(&self, request: &OrderOpen) -> Result<(), OpsError> {
        let mut config = self.config().user_config();
        config.channel_handshake_config.announce_for_forwarding = request.announce;
        config.channel_handshake_limits.trust_own_funding_0conf = request.zero_conf;
        let push_msat = request.push_sat.checked_mul(1000).ok_or_else(|| OpsError::Failed("push overflows".into()))?;
        Node::open_channel(
            self,
            request.client,
            request.capacity_sat,
            push_msat,
            request.user_channel_id,
            FundingBroadcast::Automatic,
            Some(config),
        )
        .map(|_| ())
        .map_err(|e| OpsError::Failed(e.to_string()))
    }

    fn build_refund(
        &self,
        address: &str,
        amount_sat: u64,
        fee_rate_sat_per_kwu: u32,
    ) -> Result<(String, String), OpsError> {
        let address = parse_address(address, self.config().network)
            .ok_or_else(|| OpsError::Failed(format!("{address} is not an address of this network")))?;
        let tx = self
            .wallet()
            .build_send_transaction(&address, amount_sat, fee_rate_sat_per_kwu)
            .map_err(|e| OpsError::Failed(e.to_string()))?;
        Ok((tx.compute_txid().to_string(), serialize_hex(&tx)))
    }

    fn broadcast(&self, tx_hex: &str) -> Result<(), OpsError> {
        let tx: Transaction = deserialize_hex(tx_hex).map_err(|e| OpsError::Failed(format!("refund tx: {e}")))?;
        self.broadcast_transaction(&tx);
        Ok(())
    }

    fn tx_confirmations(&self, txid: &str) -> Option<u32> {
        self.wallet().tx_confirmations(Txid::from_str(txid).ok()?)
    }

    fn bump_refund(&self, txid: &str, fee_rate_sat_per_kwu: u32) -> Result<(String, String), OpsError> {
        let txid = Txid::from_str(txid).map_err(|e| OpsError::Failed(format!("refund txid: {e}")))?;
        let tx = self.wallet().bump_fee(txid, fee_rate_sat_per_kwu).map_err(|e| OpsError::Failed(e.to_string()))?;
        Ok((tx.compute_txid().to_string(), serialize_hex(&tx)))
    }

    fn close_if_idle(&self, user_channel_id: u128) -> Result<bool, OpsError> {
        let Some(channel) = self.list_channels().into_iter().find(|c| c.user_channel_id == user_channel_id) else {
            return Ok(true);
        };
        if !channel.pending_inbound_htlcs.is_empty() || !channel.pending_outbound_htlcs.is_empty() {
            return Ok(false);
        }
        Node::close_channel(self, &channel.channel_id, channel.counterparty.node_id, false)
            .map(|()| true)
            .map_err(|e| OpsError::Failed(e.to_string()))
    }

    fn connect_in_background(&self, peer: &PublicKey, address: &str, allow_private: bool) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let allow: fn(std::net::IpAddr) -> bool = if allow_private { |_| true } else { is_public_ip };
        let (peer, address) = (*peer, address.to_owned());
        let connect = self.connect_peer_detached(peer, address.clone(), allow);
        runtime.spawn(async move {
            if let Err(error) = connect.await {
                warn!(%peer, %address, %error, "cannot connect to the client (non-public IPs need lsps1.connect_private_addresses)");
            }
        });
    }
}

fn parse_address(text: &str, network: Network) -> Option<Address> {
    Address::from_str(text).ok()?.require_network(network).ok()
}

/// The node event handler of an LSP selling LSPS1 channels: hands `PaymentClaimable`,
/// `ChannelPending` and `ChannelClosed` to the [`Lsps1Service`], and every event to the next
/// handler, except a `PaymentClaimable` for an order's hold invoice (the generic handler would
/// fail it back, having no preimage).
pub struct Lsps1EventHandler {
    service: Arc<Lsps1Service>,
    next: Option<Arc<dyn NodeEventHandler>>,
}

impl Lsps1EventHandler {
    /// A handler feeding `service`, then `next`.
    pub fn new(service: Arc<Lsps1Service>, next: Option<Arc<dyn NodeEventHandler>>) -> Lsps1EventHandler {
        Lsps1EventHandler { service, next }
    }

    /// The LSPS1 part of an event, for callers with their own event handler.
    pub fn order_event(event: &Event) -> Option<OrderEvent> {
        match event {
            Event::PaymentClaimable { payment_hash, amount_msat, purpose, claim_deadline, .. }
                if purpose.preimage().is_none() =>
            {
                Some(OrderEvent::PaymentClaimable {
                    payment_hash: payment_hash.0,
                    amount_msat: *amount_msat,
                    claim_deadline: *claim_deadline,
                })
            }
            Event::ChannelPending { user_channel_id, funding_txo, .. } => Some(OrderEvent::ChannelPending {
                user_channel_id: *user_channel_id,
                funding_outpoint: funding_txo.to_string(),
            }),
            Event::ChannelClosed { user_channel_id, .. } => {
                Some(OrderEvent::ChannelClosed { user_channel_id: *user_channel_id })
            }
            _ => None,
        }
    }
}

impl NodeEventHandler for Lsps1EventHandler {
    fn handle_event(&self, event: Event) -> Pin<Box<dyn Future<Output = Result<(), ReplayEvent>> + Send + '_>> {
        Box::pin(async move {
            if let Some(order_event) = Lsps1EventHandler::order_event(&event) {
                let is_payment = matches!(order_event, OrderEvent::PaymentClaimable { .. });
                match self.service.on_event(order_event).await {
                    Ok(true) if is_payment => return Ok(()),
                    Ok(_) => {}
                    Err(error) => {
                        warn!(%error, "LSPS1 could not handle an event; LDK will replay it");
                        return Err(ReplayEvent());
                    }
                }
            }
            match &self.next {
                Some(next) => next.handle_event(event).await,
                None => Ok(()),
            }
        })
    }
}
