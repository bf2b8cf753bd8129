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
//! | `OpenChannelRequest` (wallet role) | decided by the [`ChannelAcceptor`] (default [`DefaultChannelAcceptor`]: accepted; 0-conf if the peer is in `trusted_peers_0conf`) |
//! | `ChannelPending`, `ChannelReady`, `ChannelClosed` | logged |
//!
//! and then passes the event, unchanged, to the injected [`NodeEventHandler`] (the service layer:
//! `HTLCIntercepted`, `PaymentClaimable`, `PaymentForwarded`, …). The handler must not redo the
//! node's part. If the handler returns `Err(ReplayEvent)`, LDK replays the event later; the node's
//! part is idempotent per channel.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};

use bitcoin::consensus::encode::{deserialize, serialize};
use bitcoin::secp256k1::PublicKey;
use bitcoin::Transaction;
use lightning::chain::chaininterface::{ConfirmationTarget, FeeEstimator};
use lightning::events::{Event, InboundChannelFunds, ReplayEvent};
use lightning::ln::types::ChannelId;
use lightning::util::config::{ChannelConfigOverrides, ChannelConfigUpdate, ChannelHandshakeConfigUpdate};
use lightning::util::logger::Level;
use lightning::util::persist::KVStoreSync;
use lightning_persister::fs_store::FilesystemStore;

use crate::chain::ChainFeeEstimator;
use crate::config::Config;
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

/// An inbound channel a [`NodeRole::Wallet`](crate::NodeRole::Wallet) node is asked to accept
/// (from LDK's `Event::OpenChannelRequest`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundChannelRequest {
    /// LDK's temporary channel id.
    pub temporary_channel_id: ChannelId,
    /// The opener.
    pub counterparty_node_id: PublicKey,
    /// The channel's capacity.
    pub funding_satoshis: u64,
    /// What the opener pushes to us on open (0 for dual-funded channels).
    pub push_msat: u64,
    /// Whether the opener wants the channel announced.
    pub is_announced: bool,
}

/// What to do with an [`InboundChannelRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelDecision {
    /// Refuse the channel: the opener gets a BOLT `error` with `reason`
    /// (`force_close_broadcasting_latest_txn` on the unaccepted channel; nothing is broadcast).
    Reject {
        /// Sent to the peer and logged.
        reason: String,
    },
    /// Accept the channel.
    Accept {
        /// Accept with `minimum_depth = 0` (`accept_inbound_channel_from_trusted_peer_0conf`).
        zero_conf: bool,
        /// Whether this channel, and only this one, accepts HTLCs paying less than their onion
        /// says (LSPS2 fee skimming, bLIP-52 §4.10). Set through LDK's per-channel
        /// `ChannelConfigOverrides`, so it overrides the role's default for this channel.
        accept_underpaying_htlcs: bool,
        /// Overrides LDK's cap on the value of HTLCs in flight towards us, as a percentage of the
        /// channel (`None`: the role's default, LDK's 10 %). A JIT channel must carry the
        /// payment that opened it, so its acceptor raises this to 100.
        max_inbound_htlc_value_in_flight_percent_of_channel: Option<u8>,
        /// The `user_channel_id` LDK reports in this channel's events.
        user_channel_id: u128,
    },
}

/// Decides on inbound channels of a wallet-role node. Injected with
/// [`NodeBuilder::set_channel_acceptor`](crate::NodeBuilder::set_channel_acceptor) or replaced at
/// run time with [`Node::set_channel_acceptor`](crate::Node::set_channel_acceptor). Called on the
/// event-processing task, so it must answer quickly and must not block. LSP-role nodes accept
/// every inbound channel automatically and never call it.
pub trait ChannelAcceptor: Send + Sync {
    /// Decides on one request.
    fn decide(&self, request: &InboundChannelRequest) -> ChannelDecision;
}

/// The node's own behaviour: accept every channel, 0-conf only from `trusted_peers_0conf`,
/// underpaying HTLCs as the role's [`UserConfig`](lightning::util::config::UserConfig) says
/// (true for wallets), `user_channel_id` from [`default_user_channel_id`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DefaultChannelAcceptor {
    /// Peers whose channels are accepted as 0-conf.
    pub trusted_peers_0conf: Vec<PublicKey>,
    /// Whether accepted channels take underpaying HTLCs.
    pub accept_underpaying_htlcs: bool,
}

impl DefaultChannelAcceptor {
    /// The default for `config`: its `trusted_peers_0conf` and its role's
    /// `accept_underpaying_htlcs`.
    pub fn from_config(config: &Config) -> Self {
        DefaultChannelAcceptor {
            trusted_peers_0conf: config.trusted_peers_0conf.clone(),
            accept_underpaying_htlcs: config.user_config().channel_config.accept_underpaying_htlcs,
        }
    }
}

impl ChannelAcceptor for DefaultChannelAcceptor {
    fn decide(&self, request: &InboundChannelRequest) -> ChannelDecision {
        ChannelDecision::Accept {
            zero_conf: self.trusted_peers_0conf.contains(&request.counterparty_node_id),
            accept_underpaying_htlcs: self.accept_underpaying_htlcs,
            max_inbound_htlc_value_in_flight_percent_of_channel: None,
            user_channel_id: default_user_channel_id(&request.temporary_channel_id),
        }
    }
}

/// The `user_channel_id` the node gives inbound channels by default: the first 16 bytes of the
/// temporary channel id, big-endian.
pub fn default_user_channel_id(temporary_channel_id: &ChannelId) -> u128 {
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&temporary_channel_id.0[..16]);
    u128::from_be_bytes(bytes)
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
    pub(crate) acceptor: RwLock<Arc<dyn ChannelAcceptor>>,
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
            Event::OpenChannelRequest {
                temporary_channel_id,
                counterparty_node_id,
                funding_satoshis,
                channel_negotiation_type,
                is_announced,
                ..
            } if self.wallet_role => {
                let request = InboundChannelRequest {
                    temporary_channel_id: *temporary_channel_id,
                    counterparty_node_id: *counterparty_node_id,
                    funding_satoshis: *funding_satoshis,
                    push_msat: match channel_negotiation_type {
                        InboundChannelFunds::PushMsat(push_msat) => *push_msat,
                        InboundChannelFunds::DualFunded => 0,
                    },
                    is_announced: *is_announced,
                };
                let decision = self.channel_acceptor().decide(&request);
                self.apply_channel_decision(&request, &decision);
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

    fn channel_acceptor(&self) -> Arc<dyn ChannelAcceptor> {
        Arc::clone(&self.acceptor.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    pub(crate) fn set_channel_acceptor(&self, acceptor: Arc<dyn ChannelAcceptor>) {
        *self.acceptor.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = acceptor;
    }

    fn apply_channel_decision(&self, request: &InboundChannelRequest, decision: &ChannelDecision) {
        let InboundChannelRequest { temporary_channel_id, counterparty_node_id, funding_satoshis, .. } = request;
        let result = match decision {
            ChannelDecision::Reject { reason } => self.channel_manager.force_close_broadcasting_latest_txn(
                temporary_channel_id,
                counterparty_node_id,
                reason.clone(),
            ),
            ChannelDecision::Accept {
                zero_conf,
                accept_underpaying_htlcs,
                max_inbound_htlc_value_in_flight_percent_of_channel,
                user_channel_id,
            } => {
                let overrides = ChannelConfigOverrides {
                    handshake_overrides: max_inbound_htlc_value_in_flight_percent_of_channel.map(|percent| {
                        ChannelHandshakeConfigUpdate {
                            max_inbound_htlc_value_in_flight_percent_of_channel: Some(percent),
                            ..Default::default()
                        }
                    }),
                    update_overrides: Some(ChannelConfigUpdate {
                        accept_underpaying_htlcs: Some(*accept_underpaying_htlcs),
                        ..Default::default()
                    }),
                };
                if *zero_conf {
                    self.channel_manager.accept_inbound_channel_from_trusted_peer_0conf(
                        temporary_channel_id,
                        counterparty_node_id,
                        *user_channel_id,
                        Some(overrides),
                    )
                } else {
                    self.channel_manager.accept_inbound_channel(
                        temporary_channel_id,
                        counterparty_node_id,
                        *user_channel_id,
                        Some(overrides),
                    )
                }
            }
        };
        self.logger.log_line(
            Level::Info,
            &format!(
                "inbound channel of {funding_satoshis} sat from {counterparty_node_id}: {decision:?} -> {result:?}"
            ),
        );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NodeRole;

    fn request(from: PublicKey) -> InboundChannelRequest {
        InboundChannelRequest {
            temporary_channel_id: ChannelId([5; 32]),
            counterparty_node_id: from,
            funding_satoshis: 100_000,
            push_msat: 0,
            is_announced: false,
        }
    }

    #[test]
    fn default_acceptor_keeps_the_role_behaviour() {
        let secp = bitcoin::secp256k1::Secp256k1::new();
        let key = |byte| {
            let secret = bitcoin::secp256k1::SecretKey::from_slice(&[byte; 32]).expect("valid key");
            PublicKey::from_secret_key(&secp, &secret)
        };
        let (trusted, other) = (key(1), key(2));
        let mut config = Config::new("/tmp/x");
        config.role = NodeRole::Wallet;
        config.trusted_peers_0conf = vec![trusted];
        let acceptor = DefaultChannelAcceptor::from_config(&config);
        let user_channel_id = default_user_channel_id(&ChannelId([5; 32]));
        assert_eq!(user_channel_id, u128::from_be_bytes([5; 16]));
        assert_eq!(
            acceptor.decide(&request(trusted)),
            ChannelDecision::Accept {
                zero_conf: true,
                accept_underpaying_htlcs: true,
                max_inbound_htlc_value_in_flight_percent_of_channel: None,
                user_channel_id
            }
        );
        assert_eq!(
            acceptor.decide(&request(other)),
            ChannelDecision::Accept {
                zero_conf: false,
                accept_underpaying_htlcs: true,
                max_inbound_htlc_value_in_flight_percent_of_channel: None,
                user_channel_id
            }
        );
    }
}
