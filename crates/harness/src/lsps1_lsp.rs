//! LSPs with the LSPS1 service wired in ([`Network::add_lsps1_lsp`]): the node's events go
//! through an [`Lsps1EventHandler`] (which then records them in the [`EventRecorder`]), the
//! service is registered with the LSPS0 server, attached to every (re)built node, resumed
//! after each start, and ticked every [`LSPS1_LSP_TICK`].

use std::sync::Arc;
use std::time::Duration;

use inbound_node::{Node, NodeEventHandler};
use inbound_service::lsps1::{Lsps1Config, Lsps1EventHandler, Lsps1Service, OrderLightning};
use inbound_service::Clock;
use inbound_service::{LspsServer, LspsServerConfig};
use lsps::method::Protocol;

use crate::network::Network;
use crate::test_node::{EventRecorder, Role, TestNode};
use crate::ticker_slot::TickerSlot;
use crate::wait::{HarnessError, HarnessResult};

/// How often an LSPS1 LSP's service ticks (the production ticker's period).
pub const LSPS1_LSP_TICK: Duration = Duration::from_secs(1);

/// The LSPS1 parts of an LSPS1 LSP.
pub(crate) struct Lsps1Lsp {
    pub(crate) service: Arc<Lsps1Service>,
    pub(crate) events: Arc<Lsps1EventHandler>,
    ticker: TickerSlot,
}

impl Lsps1Lsp {
    /// Called by the network after the node is built and before it starts.
    pub(crate) fn attach(&self, node: &Arc<Node>) {
        self.service.attach(Arc::clone(node) as Arc<dyn OrderLightning>);
    }

    /// Called by the network after the node started: resume the orders, start ticking.
    pub(crate) async fn started(&self) -> HarnessResult<()> {
        self.service.resume().await.map_err(|e| HarnessError::Failed(format!("resuming LSPS1: {e}")))?;
        self.ticker.replace(self.service.spawn_ticker(LSPS1_LSP_TICK));
        Ok(())
    }

    /// Called by the network before the node stops.
    pub(crate) fn stopping(&self) {
        self.ticker.stop();
    }
}

impl Network {
    /// Adds an LSP selling LSPS1 channels with `config`, orders in the store at `store_url`
    /// (e.g. [`Network::sqlite_store`], which survives [`Network::restart`] like a database would) and the given
    /// `clock`. Returns the node; its service is [`TestNode::lsps1_service`].
    pub async fn add_lsps1_lsp(
        &self,
        name: &str,
        config: Lsps1Config,
        store_url: &str,
        clock: Arc<dyn Clock>,
    ) -> HarnessResult<Arc<TestNode>> {
        let store = inbound_store::open(store_url)
            .await
            .map_err(|e| HarnessError::Failed(format!("opening the store: {e}")))?;
        let service = Lsps1Service::new(config, store, clock)
            .map_err(|e| HarnessError::Failed(format!("LSPS1 configuration: {e}")))?;
        let server_config = LspsServerConfig { enabled_protocols: vec![Protocol::Lsps1], ..Default::default() };
        let server = LspsServer::new(server_config);
        server.register(service.protocol_handler());
        let recorder = Arc::new(EventRecorder::default());
        let events = Arc::new(Lsps1EventHandler::new(
            Arc::clone(&service),
            Some(Arc::clone(&recorder) as Arc<dyn NodeEventHandler>),
        ));
        let lsp = Lsps1Lsp { service, events, ticker: TickerSlot::default() };
        self.add_node_full(name, Role::Lsp(server), recorder, None, None, Some(lsp)).await
    }
}

impl TestNode {
    /// The LSPS1 service of an LSP added with [`Network::add_lsps1_lsp`].
    ///
    /// # Panics
    /// If the node is not an LSPS1 LSP.
    pub fn lsps1_service(&self) -> &Arc<Lsps1Service> {
        &self.lsps1_lsp.as_ref().unwrap_or_else(|| panic!("{} is not an LSPS1 LSP", self.name)).service
    }
}
