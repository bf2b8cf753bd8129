//! [`Lsps2Client`] on an `inbound_node::Node`: constructors that keep the purchases in the
//! node's data directory, and the node's channel acceptor.

use std::sync::Arc;

use inbound_node::{ChannelAcceptor, ChannelDecision, DefaultChannelAcceptor, InboundChannelRequest, Node};
use lsps::schema::DateTime;

use crate::error::ClientError;
use crate::lsps2::{now, FallbackAcceptor, Lsps2Client, Lsps2ClientConfig, PurchaseFile, PurchaseRegistry};
use crate::LspsClient;

impl Lsps2Client {
    /// A client with [`Lsps2ClientConfig::default`]; see [`with_config`](Self::with_config).
    ///
    /// # Errors
    /// [`ClientError::PurchaseStore`] if the stored purchases cannot be loaded.
    pub fn new(lsps: Arc<LspsClient>, node: Arc<Node>) -> Result<Arc<Self>, ClientError> {
        Self::with_config(lsps, node, Lsps2ClientConfig::default())
    }

    /// [`Lsps2Client::open`] with the purchases kept in
    /// [`PURCHASES_FILE_NAME`](crate::lsps2::PURCHASES_FILE_NAME) in the node's data directory.
    /// Create it once the node is built, install its [`acceptor`](Self::acceptor) on the node
    /// and attach it to the node's [`WalletEventHandler`](super::WalletEventHandler), both before
    /// `Node::start`.
    ///
    /// # Errors
    /// [`ClientError::PurchaseStore`] if the file cannot be read or is corrupt (see
    /// [`Lsps2Client::open`]).
    pub fn with_config(
        lsps: Arc<LspsClient>,
        node: Arc<Node>,
        config: Lsps2ClientConfig,
    ) -> Result<Arc<Self>, ClientError> {
        let registry = Self::open_registry(&config, PurchaseFile::in_dir(&node.config().data_dir))?;
        let trusted_peers_0conf = node.config().trusted_peers_0conf.clone();
        Ok(Self::build(lsps, node, config, Arc::new(registry), trusted_peers_0conf))
    }

    /// The channel acceptor to install on the node (`Node::set_channel_acceptor` or
    /// `NodeBuilder::set_channel_acceptor`).
    ///
    /// It accepts a channel **0-conf with underpaying HTLCs** and 100 % in flight only if
    /// [`is_jit_channel`](Self::is_jit_channel) says so. Every other request goes to the
    /// [`Lsps2ClientConfig::fallback`]: by default the node's own behaviour (accept; 0-conf only
    /// for the node's `trusted_peers_0conf`) but **without** underpaying HTLCs; or a rejection.
    pub fn acceptor(&self) -> Arc<dyn ChannelAcceptor> {
        let fallback: Arc<dyn ChannelAcceptor> = match self.config().fallback {
            FallbackAcceptor::NodeDefault => Arc::new(DefaultChannelAcceptor {
                trusted_peers_0conf: self.trusted_peers_0conf().to_vec(),
                accept_underpaying_htlcs: false,
            }),
            FallbackAcceptor::Reject => Arc::new(RejectingAcceptor),
        };
        Arc::new(JitChannelAcceptor::new(Arc::clone(self.purchases()), fallback))
    }
}

impl PurchaseRegistry {
    /// The node's decision for an inbound channel at `now`: `Some(Accept 0-conf + underpaying,
    /// with 100 % of the channel allowed in flight towards us)` for a JIT channel
    /// ([`is_jit_channel`](Self::is_jit_channel)); `None` otherwise, for the caller's fallback.
    pub fn decide(&self, request: &InboundChannelRequest, now: DateTime) -> Option<ChannelDecision> {
        self.is_jit_channel(&request.counterparty_node_id, request.is_announced, now).then(|| ChannelDecision::Accept {
            zero_conf: true,
            accept_underpaying_htlcs: true,
            max_inbound_htlc_value_in_flight_percent_of_channel: Some(100),
            user_channel_id: inbound_node::default_user_channel_id(&request.temporary_channel_id),
        })
    }
}

/// See [`Lsps2Client::acceptor`].
pub struct JitChannelAcceptor {
    registry: Arc<PurchaseRegistry>,
    fallback: Arc<dyn ChannelAcceptor>,
}

impl JitChannelAcceptor {
    /// An acceptor over `registry`, handing non-JIT requests to `fallback`.
    pub fn new(registry: Arc<PurchaseRegistry>, fallback: Arc<dyn ChannelAcceptor>) -> Self {
        JitChannelAcceptor { registry, fallback }
    }
}

impl ChannelAcceptor for JitChannelAcceptor {
    fn decide(&self, request: &InboundChannelRequest) -> ChannelDecision {
        self.registry.decide(request, now()).unwrap_or_else(|| self.fallback.decide(request))
    }
}

/// Rejects every inbound channel.
#[derive(Debug, Default, Clone, Copy)]
pub struct RejectingAcceptor;

impl ChannelAcceptor for RejectingAcceptor {
    fn decide(&self, _request: &InboundChannelRequest) -> ChannelDecision {
        ChannelDecision::Reject { reason: "no open JIT channel purchase".into() }
    }
}
