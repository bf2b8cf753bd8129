//! [`TestNode`]: one LDK node of a [`Network`](crate::Network), its role and its event log.

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bitcoin::secp256k1::PublicKey;
use inbound_client::LspsClient;
use inbound_node::lightning::events::{Event, ReplayEvent};
use inbound_node::lightning::types::payment::PaymentPreimage;
use inbound_node::lightning_invoice::Bolt11Invoice;
use inbound_node::types::ChannelManager;
use inbound_node::{LspsMessageHandler, Node, NodeEventHandler, NodeRole};
use inbound_service::LspsServer;

use crate::raw::RawLsps;
use crate::wait::{wait_until, HarnessError, HarnessResult, DEFAULT_TIMEOUT};

/// Most events a node's log keeps; the oldest are dropped beyond it.
pub const MAX_RECORDED_EVENTS: usize = 10_000;

/// What a node does with LSPS0 traffic.
#[derive(Clone)]
pub enum Role {
    /// An LSP: an [`LspsServer`] answers (LDK role [`NodeRole::Lsp`], feature bit 729).
    Lsp(Arc<LspsServer>),
    /// A wallet or payer: an [`LspsClient`] calls LSPs (LDK role [`NodeRole::Wallet`]).
    Wallet(Arc<LspsClient>),
    /// A test double that records raw payloads, with the LDK role given.
    Raw(Arc<RawLsps>, NodeRole),
}

impl Role {
    pub(crate) fn node_role(&self) -> NodeRole {
        match self {
            Role::Lsp(_) => NodeRole::Lsp,
            Role::Wallet(_) => NodeRole::Wallet,
            Role::Raw(_, role) => *role,
        }
    }

    pub(crate) fn handler(&self) -> Arc<dyn LspsMessageHandler> {
        match self {
            Role::Lsp(server) => Arc::clone(server) as Arc<dyn LspsMessageHandler>,
            Role::Wallet(client) => Arc::clone(client) as Arc<dyn LspsMessageHandler>,
            Role::Raw(raw, _) => Arc::clone(raw) as Arc<dyn LspsMessageHandler>,
        }
    }

    pub(crate) fn attach(&self, node: &Node) {
        let transport = Arc::clone(node.lsps_transport());
        match self {
            Role::Lsp(server) => server.attach(transport),
            Role::Wallet(client) => client.attach(transport),
            Role::Raw(..) => {}
        }
    }
}

/// Records every LDK event a node forwards, and claims payments whose preimage LDK knows (the
/// invoices of [`TestNode::invoice`]), as a wallet or LSP would.
#[derive(Default)]
pub struct EventRecorder {
    events: Mutex<VecDeque<Event>>,
    channel_manager: Mutex<Option<Arc<ChannelManager>>>,
}

impl EventRecorder {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Event>> {
        self.events.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn set_channel_manager(&self, manager: Option<Arc<ChannelManager>>) {
        *self.channel_manager.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = manager;
    }

    fn record(&self, event: Event) {
        if let Event::PaymentClaimable { purpose, .. } = &event {
            let manager = self.channel_manager.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
            if let (Some(preimage), Some(manager)) = (purpose.preimage(), manager) {
                manager.claim_funds(preimage);
            }
        }
        let mut events = self.lock();
        if events.len() >= MAX_RECORDED_EVENTS {
            events.pop_front();
        }
        events.push_back(event);
    }

    /// Removes and returns the oldest recorded event matching `predicate`.
    pub fn take(&self, predicate: impl Fn(&Event) -> bool) -> Option<Event> {
        let mut events = self.lock();
        let index = events.iter().position(predicate)?;
        events.remove(index)
    }

    /// A copy of every recorded event, oldest first.
    pub fn snapshot(&self) -> Vec<Event> {
        self.lock().iter().cloned().collect()
    }
}

impl NodeEventHandler for EventRecorder {
    fn handle_event(&self, event: Event) -> Pin<Box<dyn Future<Output = Result<(), ReplayEvent>> + Send + '_>> {
        self.record(event);
        Box::pin(async { Ok(()) })
    }
}

/// One node of a [`Network`](crate::Network). It survives
/// [`Network::restart`](crate::Network::restart): [`TestNode::node`] then returns the rebuilt node,
/// and the role's server or client is the same object, attached to the new transport.
pub struct TestNode {
    pub(crate) name: String,
    pub(crate) dir: PathBuf,
    pub(crate) role: Role,
    pub(crate) events: Arc<EventRecorder>,
    /// The LSPS2 wiring of a [`Network::add_jit_wallet`](crate::Network::add_jit_wallet) wallet.
    pub(crate) jit: Option<crate::jit::JitWallet>,
    /// The services of an LSP added with [`Network::add_lsp_serving`](crate::Network::add_lsp_serving).
    pub(crate) lsp: Option<inbound_service::LspServices>,
    pub(crate) node: Mutex<Option<Arc<Node>>>,
    pub(crate) address: Mutex<Option<SocketAddr>>,
}

impl TestNode {
    /// The name given when the node was added (also its log alias).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node's data directory.
    pub fn data_dir(&self) -> &PathBuf {
        &self.dir
    }

    /// The running node.
    ///
    /// # Panics
    /// If the node is stopped (between [`Network::stop`](crate::Network::stop) and a restart).
    pub fn node(&self) -> Arc<Node> {
        self.node.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone().expect("node is running")
    }

    /// The node's id (stable across restarts: it comes from the seed file).
    pub fn node_id(&self) -> PublicKey {
        self.node().node_id()
    }

    /// Where the node accepts peers (the same address after a restart).
    ///
    /// # Panics
    /// If the node was never started.
    pub fn address(&self) -> SocketAddr {
        self.address.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).expect("node has listened")
    }

    /// The node's role.
    pub fn role(&self) -> &Role {
        &self.role
    }

    /// The LSP's server.
    ///
    /// # Panics
    /// If the node is not an LSP.
    pub fn server(&self) -> &Arc<LspsServer> {
        match &self.role {
            Role::Lsp(server) => server,
            _ => panic!("{} is not an LSP", self.name),
        }
    }

    /// The wallet's client.
    ///
    /// # Panics
    /// If the node is not a wallet.
    pub fn client(&self) -> &Arc<LspsClient> {
        match &self.role {
            Role::Wallet(client) => client,
            _ => panic!("{} is not a wallet", self.name),
        }
    }

    /// The raw recorder.
    ///
    /// # Panics
    /// If the node is not a raw node.
    pub fn raw(&self) -> &Arc<RawLsps> {
        match &self.role {
            Role::Raw(raw, _) => raw,
            _ => panic!("{} is not a raw node", self.name),
        }
    }

    /// The node's event log.
    pub fn events(&self) -> &Arc<EventRecorder> {
        &self.events
    }

    /// Waits until an event matching `predicate` has been recorded (before or during the wait),
    /// then removes it from the log and returns it, so each event satisfies one wait only.
    pub async fn wait_for_event(
        &self,
        what: &str,
        timeout: Duration,
        predicate: impl Fn(&Event) -> bool,
    ) -> HarnessResult<Event> {
        let mut found = None;
        wait_until(&format!("{what} at {}", self.name), timeout, || {
            found = self.events.take(&predicate);
            found.is_some()
        })
        .await?;
        found.ok_or_else(|| HarnessError::Failed("event vanished".into()))
    }

    /// A BOLT11 invoice for `amount_msat` that this node claims automatically when paid.
    pub fn invoice(&self, amount_msat: u64) -> HarnessResult<Bolt11Invoice> {
        Ok(self.node().create_invoice(Some(amount_msat), &format!("harness invoice of {}", self.name), 3600)?)
    }

    /// Pays `invoice` and waits for the outcome: the preimage on `PaymentSent`, an error on
    /// `PaymentFailed` or after [`DEFAULT_TIMEOUT`].
    pub async fn pay(&self, invoice: &Bolt11Invoice) -> HarnessResult<PaymentPreimage> {
        let payment_id = self.node().pay_invoice(invoice)?;
        let outcome = self
            .wait_for_event("payment outcome", DEFAULT_TIMEOUT, |event| match event {
                Event::PaymentSent { payment_id: Some(id), .. } => *id == payment_id,
                Event::PaymentFailed { payment_id: id, .. } => *id == payment_id,
                _ => false,
            })
            .await?;
        match outcome {
            Event::PaymentSent { payment_preimage, .. } => Ok(payment_preimage),
            other => Err(HarnessError::Failed(format!("payment failed: {other:?}"))),
        }
    }
}
