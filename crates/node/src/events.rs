//! LDK event handling: the node handles what is generic, then forwards every event.
//!
//! There is exactly one consumer of each LDK event queue: the background processor calls
//! the node's internal dispatcher for every event of the channel manager and the chain monitor.
//! The dispatcher first does the node's own part:
//!
//! | event | node's action |
//! |---|---|
//! | `FundingGenerationReady` | the wallet builds and signs the funding transaction; LDK broadcasts it, or, for channels opened with [`FundingBroadcast::Manual`], the transaction is stored for [`Node::broadcast_manual_funding`](crate::Node::broadcast_manual_funding) |
//! | `SpendableOutputs` | handed to the output sweeper, which sweeps into the wallet |
//! | `OpenChannelRequest` (wallet role) | accepted; 0-conf if the peer is in `trusted_peers_0conf` |
//! | `ChannelPending`, `ChannelReady`, `ChannelClosed` | logged |
//!
//! and then passes the event, unchanged, to the injected [`NodeEventHandler`] (the service layer:
//! `HTLCIntercepted`, `PaymentClaimable`, `PaymentForwarded`, …). The handler must not redo the
//! node's part. If the handler returns `Err(ReplayEvent)`, LDK replays the event later; the node's
//! part is idempotent per channel.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bitcoin::consensus::encode::{deserialize, serialize};
use bitcoin::Transaction;
use lightning::chain::chaininterface::{ConfirmationTarget, FeeEstimator};
use lightning::events::{Event, ReplayEvent};
use lightning::util::logger::Level;
use lightning::util::persist::KVStoreSync;
use lightning_persister::fs_store::FilesystemStore;

use crate::chain::ChainFeeEstimator;
use crate::logger::NodeLogger;
use crate::types::{ChannelManager, Sweeper};
use crate::wallet::OnchainWallet;

/// KV-store namespace where funding transactions of manual-broadcast channels wait.
pub const MANUAL_FUNDING_NAMESPACE: &str = "manual_funding";

/// How a channel's funding transaction reaches the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FundingBroadcast {
    /// LDK broadcasts it as soon as the peer has signed (`funding_transaction_generated`).
    Automatic,
    /// Nothing is broadcast until the service calls
    /// [`Node::broadcast_manual_funding`](crate::Node::broadcast_manual_funding)
    /// (`funding_transaction_generated_manual_broadcast`; LSPS2 `client_trusts_lsp`, §4.9).
    Manual,
}

/// Receives every LDK [`Event`] after the node's own handling. Implemented by the service layer.
pub trait NodeEventHandler: Send + Sync {
    /// Handles one event. Return `Err(ReplayEvent())` to have LDK deliver it again later (for
    /// example when a database write failed); the event is then not considered handled.
    fn handle_event(&self, event: Event) -> Pin<Box<dyn Future<Output = Result<(), ReplayEvent>> + Send + '_>>;
}

/// Adapts a synchronous closure into a [`NodeEventHandler`].
pub struct SyncEventHandler<F>(pub F);

impl<F> NodeEventHandler for SyncEventHandler<F>
where
    F: Fn(Event) -> Result<(), ReplayEvent> + Send + Sync,
{
    fn handle_event(&self, event: Event) -> Pin<Box<dyn Future<Output = Result<(), ReplayEvent>> + Send + '_>> {
        let result = (self.0)(event);
        Box::pin(async move { result })
    }
}

/// A [`NodeEventHandler`] that ignores everything (the default).
#[derive(Debug, Default, Clone, Copy)]
pub struct IgnoringEventHandler;

impl NodeEventHandler for IgnoringEventHandler {
    fn handle_event(&self, _event: Event) -> Pin<Box<dyn Future<Output = Result<(), ReplayEvent>> + Send + '_>> {
        Box::pin(async { Ok(()) })
    }
}

/// The node's single event consumer. See the module documentation.
pub(crate) struct EventDispatcher {
    pub(crate) channel_manager: Arc<ChannelManager>,
    pub(crate) wallet: Arc<OnchainWallet>,
    pub(crate) sweeper: Arc<Sweeper>,
    pub(crate) fee_estimator: Arc<ChainFeeEstimator>,
    pub(crate) store: Arc<FilesystemStore>,
    pub(crate) logger: Arc<NodeLogger>,
    pub(crate) handler: Arc<dyn NodeEventHandler>,
    pub(crate) wallet_role: bool,
    pub(crate) trusted_peers_0conf: Vec<bitcoin::secp256k1::PublicKey>,
    /// `user_channel_id`s of channels opened with [`FundingBroadcast::Manual`]. In memory only:
    /// an unfunded channel does not survive a restart anyway.
    pub(crate) manual_broadcast: Mutex<HashSet<u128>>,
}

impl EventDispatcher {
    pub(crate) async fn handle(&self, event: Event) -> Result<(), ReplayEvent> {
        self.handle_generic(&event).await?;
        self.handler.handle_event(event).await
    }

    async fn handle_generic(&self, event: &Event) -> Result<(), ReplayEvent> {
        match event {
            Event::FundingGenerationReady {
                temporary_channel_id,
                counterparty_node_id,
                channel_value_satoshis,
                output_script,
                user_channel_id,
            } => {
                let fee_rate = self.fee_estimator.get_est_sat_per_1000_weight(ConfirmationTarget::NonAnchorChannelFee);
                let tx = match self.wallet.build_funding_transaction(
                    output_script.clone(),
                    *channel_value_satoshis,
                    fee_rate,
                ) {
                    Ok(tx) => tx,
                    Err(e) => {
                        self.logger.log_line(
                            Level::Error,
                            &format!("cannot fund channel {temporary_channel_id}: {e}; closing it"),
                        );
                        let _ = self.channel_manager.force_close_broadcasting_latest_txn(
                            temporary_channel_id,
                            counterparty_node_id,
                            "funding failed".to_string(),
                        );
                        return Ok(());
                    }
                };
                let manual = self.lock_manual().remove(user_channel_id);
                let result = if manual {
                    if let Err(e) = self.store.write(
                        MANUAL_FUNDING_NAMESPACE,
                        "",
                        &manual_funding_key(*user_channel_id),
                        serialize(&tx),
                    ) {
                        self.logger.log_line(Level::Error, &format!("storing manual funding tx: {e}"));
                        self.lock_manual().insert(*user_channel_id);
                        return Err(ReplayEvent());
                    }
                    self.channel_manager.funding_transaction_generated_manual_broadcast(
                        *temporary_channel_id,
                        *counterparty_node_id,
                        tx,
                    )
                } else {
                    self.channel_manager.funding_transaction_generated(*temporary_channel_id, *counterparty_node_id, tx)
                };
                match result {
                    Ok(()) => self.logger.log_line(
                        Level::Info,
                        &format!(
							"funded channel {temporary_channel_id} ({channel_value_satoshis} sat, manual broadcast: {manual})"
						),
                    ),
                    // Typically a replay for an already funded channel, or the peer went away.
                    Err(e) => self
                        .logger
                        .log_line(Level::Warn, &format!("funding channel {temporary_channel_id} rejected: {e:?}")),
                }
            }
            Event::SpendableOutputs { outputs, channel_id } => {
                // Static outputs are swept too: they pay to KeysManager scripts, not to the wallet.
                let tracked = self.sweeper.track_spendable_outputs(outputs.clone(), *channel_id, false, None).await;
                if tracked.is_err() {
                    self.logger.log_line(Level::Error, "output sweeper could not persist; replaying");
                    return Err(ReplayEvent());
                }
            }
            Event::OpenChannelRequest { temporary_channel_id, counterparty_node_id, funding_satoshis, .. }
                if self.wallet_role =>
            {
                let user_channel_id = u128::from_be_bytes(temporary_channel_id.0[..16].try_into().unwrap_or([0; 16]));
                let result = if self.trusted_peers_0conf.contains(counterparty_node_id) {
                    self.channel_manager.accept_inbound_channel_from_trusted_peer_0conf(
                        temporary_channel_id,
                        counterparty_node_id,
                        user_channel_id,
                        None,
                    )
                } else {
                    self.channel_manager.accept_inbound_channel(
                        temporary_channel_id,
                        counterparty_node_id,
                        user_channel_id,
                        None,
                    )
                };
                self.logger.log_line(
                    Level::Info,
                    &format!("inbound channel of {funding_satoshis} sat from {counterparty_node_id}: {result:?}"),
                );
            }
            Event::ChannelPending { channel_id, counterparty_node_id, funding_txo, .. } => self.logger.log_line(
                Level::Info,
                &format!("channel {channel_id} with {counterparty_node_id} pending, funding {funding_txo}"),
            ),
            Event::ChannelReady { channel_id, counterparty_node_id, .. } => {
                self.logger.log_line(Level::Info, &format!("channel {channel_id} with {counterparty_node_id} ready"))
            }
            Event::ChannelClosed { channel_id, reason, .. } => {
                self.logger.log_line(Level::Info, &format!("channel {channel_id} closed: {reason}"))
            }
            _ => {}
        }
        Ok(())
    }

    fn lock_manual(&self) -> std::sync::MutexGuard<'_, HashSet<u128>> {
        match self.manual_broadcast.lock() {
            Ok(set) => set,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    pub(crate) fn expect_manual_broadcast(&self, user_channel_id: u128) {
        self.lock_manual().insert(user_channel_id);
    }

    pub(crate) fn manual_funding_transaction(&self, user_channel_id: u128) -> Option<Transaction> {
        let bytes = self.store.read(MANUAL_FUNDING_NAMESPACE, "", &manual_funding_key(user_channel_id)).ok()?;
        deserialize(&bytes).ok()
    }
}

pub(crate) fn manual_funding_key(user_channel_id: u128) -> String {
    format!("{user_channel_id:032x}")
}
