//! LSPs with the LSPS2 service wired in ([`Network::add_jit_lsp`]): the node's events go
//! through an [`Lsps2EventHandler`] (which then records them in the [`EventRecorder`]), the
//! service is registered with the LSPS0 server, attached to every (re)built node, resumed
//! after each start, and ticked every [`JIT_LSP_TICK`].

use std::sync::Arc;
use std::time::Duration;

use inbound_node::{Node, NodeEventHandler};
use inbound_service::lsps2::{JitLightning, Lsps2Config, Lsps2EventHandler, Lsps2Service};
use inbound_service::Clock;
use inbound_service::{LspsServer, LspsServerConfig};
use lsps::method::Protocol;

use crate::network::Network;
use crate::test_node::{EventRecorder, Role, TestNode};
use crate::ticker_slot::TickerSlot;
use crate::wait::{HarnessError, HarnessResult};

/// How often a JIT LSP's service checks its timers (the production ticker's period).
pub const JIT_LSP_TICK: Duration = Duration::from_secs(1);

/// The LSPS2 parts of a JIT LSP.
pub(crate) struct JitLsp {
    pub(crate) service: Arc<Lsps2Service>,
    pub(crate) events: Arc<Lsps2EventHandler>,
    ticker: TickerSlot,
}

impl JitLsp {
    /// Called by the network after the node is built and before it starts.
    pub(crate) fn attach(&self, node: &Arc<Node>) {
        self.service.attach(Arc::clone(node) as Arc<dyn JitLightning>);
    }

    /// Called by the network after the node started: resume the sessions, start ticking.
    pub(crate) async fn started(&self) -> HarnessResult<()> {
        self.service.resume().await.map_err(|e| HarnessError::Failed(format!("resuming LSPS2: {e}")))?;
        self.ticker.replace(self.service.spawn_ticker(JIT_LSP_TICK));
        Ok(())
    }

    /// Called by the network before the node stops.
    pub(crate) fn stopping(&self) {
        self.ticker.stop();
    }
}

impl Network {
    /// Adds an LSP serving LSPS2 with `config`, sessions in a SQLite file store ([`Network::sqlite_store`]; it
    /// survives [`Network::restart`], like a database would) and the given `clock`. Returns
    /// the node; its service is [`TestNode::lsps2_service`].
    pub async fn add_jit_lsp(
        &self,
        name: &str,
        config: Lsps2Config,
        clock: Arc<dyn Clock>,
    ) -> HarnessResult<Arc<TestNode>> {
        let store = inbound_store::open(&self.sqlite_store(name))
            .await
            .map_err(|e| HarnessError::Failed(format!("opening the store: {e}")))?;
        let service = Lsps2Service::new(config, store, clock)
            .map_err(|e| HarnessError::Failed(format!("LSPS2 configuration: {e}")))?;
        let server_config = LspsServerConfig { enabled_protocols: vec![Protocol::Lsps2], ..Default::default() };
        let server = LspsServer::new(server_config);
        server.register(service.protocol_handler());
        let recorder = Arc::new(EventRecorder::default());
        let events = Arc::new(Lsps2EventHandler::new(
            Arc::clone(&service),
            Some(Arc::clone(&recorder) as Arc<dyn NodeEventHandler>),
        ));
        let jit_lsp = JitLsp { service, events, ticker: TickerSlot::default() };
        self.add_node_prepared(name, Role::Lsp(server), recorder, None, Some(jit_lsp)).await
    }
}

impl TestNode {
    /// The LSPS2 service of an LSP added with [`Network::add_jit_lsp`].
    ///
    /// # Panics
    /// If the node is not a JIT LSP.
    pub fn lsps2_service(&self) -> &Arc<Lsps2Service> {
        &self.jit_lsp.as_ref().unwrap_or_else(|| panic!("{} is not a JIT LSP", self.name)).service
    }
}
