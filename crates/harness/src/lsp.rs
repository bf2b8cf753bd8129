//! LSPs wired by the production [`LspBuilder`] ([`Network::add_lsp_serving`]): the services' event
//! handlers sit in front of the node's [`EventRecorder`], the services are attached to every
//! (re)built node, resumed after each start and ticked every [`LSP_TICK`] until the node stops.

use std::sync::Arc;
use std::time::Duration;

use inbound_node::NodeEventHandler;
use inbound_service::lsps1::{Lsps1Config, Lsps1Service};
use inbound_service::lsps2::{Lsps2Config, Lsps2Service};
use inbound_service::lsps5::hold::HoldService;
use inbound_service::lsps5::Lsps5Service;
use inbound_service::{Clock, LspBuilder};

use crate::network::Network;
use crate::test_node::{EventRecorder, Role, TestNode};
use crate::wait::{HarnessError, HarnessResult};

/// How often an LSP's services tick (the production ticker's period).
pub const LSP_TICK: Duration = inbound_service::lsp::DEFAULT_TICK_INTERVAL;

impl Network {
    /// Adds an LSP with the services `builder` describes, wired exactly as `inbound serve`
    /// wires them. Give it a store that survives [`Network::restart`] (e.g. an SQLite file at
    /// [`Network::sqlite_store`]), like a database would. Its services are
    /// [`TestNode::lsps1_service`] and [`TestNode::lsps2_service`].
    pub async fn add_lsp_serving(&self, name: &str, builder: LspBuilder) -> HarnessResult<Arc<TestNode>> {
        let recorder = Arc::new(EventRecorder::default());
        let services = builder
            .tick_interval(LSP_TICK)
            .build(Arc::clone(&recorder) as Arc<dyn NodeEventHandler>)
            .map_err(|e| HarnessError::Failed(e.to_string()))?;
        let role = Role::Lsp(Arc::clone(&services.server));
        self.add_node_full(name, role, recorder, None, Some(services)).await
    }

    /// Adds an LSP serving LSPS2 with `config`, sessions in an SQLite file store
    /// ([`Network::sqlite_store`]) and the given `clock`.
    pub async fn add_jit_lsp(
        &self,
        name: &str,
        config: Lsps2Config,
        clock: Arc<dyn Clock>,
    ) -> HarnessResult<Arc<TestNode>> {
        let store = open_store(&self.sqlite_store(name)).await?;
        self.add_lsp_serving(name, LspBuilder::new(clock).store(store).lsps2(config)).await
    }

    /// Adds an LSP selling LSPS1 channels with `config`, orders in the store at `store_url` and
    /// the given `clock`.
    pub async fn add_lsps1_lsp(
        &self,
        name: &str,
        config: Lsps1Config,
        store_url: &str,
        clock: Arc<dyn Clock>,
    ) -> HarnessResult<Arc<TestNode>> {
        let store = open_store(store_url).await?;
        self.add_lsp_serving(name, LspBuilder::new(clock).store(store).lsps1(config)).await
    }
}

/// Opens a flow store for an LSP.
///
/// # Errors
/// If the store cannot be opened.
pub async fn open_store(url: &str) -> HarnessResult<Arc<dyn inbound_store::Store>> {
    inbound_store::open(url).await.map_err(|e| HarnessError::Failed(format!("opening the store: {e}")))
}

impl TestNode {
    /// The LSPS2 service of an LSP that serves LSPS2.
    ///
    /// # Panics
    /// If the node serves no LSPS2.
    pub fn lsps2_service(&self) -> &Arc<Lsps2Service> {
        self.lsp.as_ref().and_then(|lsp| lsp.lsps2.as_ref()).unwrap_or_else(|| panic!("{} serves no LSPS2", self.name))
    }

    /// The LSPS1 service of an LSP that serves LSPS1.
    ///
    /// # Panics
    /// If the node serves no LSPS1.
    pub fn lsps1_service(&self) -> &Arc<Lsps1Service> {
        self.lsp.as_ref().and_then(|lsp| lsp.lsps1.as_ref()).unwrap_or_else(|| panic!("{} serves no LSPS1", self.name))
    }

    /// The LSPS5 service of an LSP that serves LSPS5.
    ///
    /// # Panics
    /// If the node serves no LSPS5.
    pub fn lsps5_service(&self) -> &Arc<Lsps5Service> {
        self.lsp.as_ref().and_then(|lsp| lsp.lsps5.as_ref()).unwrap_or_else(|| panic!("{} serves no LSPS5", self.name))
    }

    /// The notify-and-wait service of an LSP that serves LSPS5.
    ///
    /// # Panics
    /// If the node serves no LSPS5.
    pub fn hold_service(&self) -> &Arc<HoldService> {
        self.lsp.as_ref().and_then(|lsp| lsp.hold.as_ref()).unwrap_or_else(|| panic!("{} serves no LSPS5", self.name))
    }
}
