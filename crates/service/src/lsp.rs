//! [`LspBuilder`]: the one place that wires the LSP's protocol services to a node, in the order
//! the node forces. `inbound serve`, `inbound demo` and the test harness all use it.
//!
//! 1. [`LspBuilder::build`] creates the enabled services on one store and clock, registers
//!    them with one [`LspsServer`], and chains their event handlers in front of the caller's
//!    generic handler: LSPS1 first (its hold-invoice payments must not reach the generic
//!    handler), then notify-and-wait (HTLCs to hold SCIDs; with LSPS5), then LSPS2. With LSPS5
//!    and LSPS2 both enabled, the LSPS5 service becomes the LSPS2 service's [`ClientNotifier`],
//!    so a payment waiting for an offline client wakes it; with LSPS5 it is also the hold
//!    service's notifier.
//! 2. The caller builds the node with [`LspServices::lsps_handler`] and
//!    [`LspServices::event_handler`], then calls [`LspServices::attach`] with the built node.
//! 3. After the node started, [`LspServices::started`] resumes every stored flow and starts the
//!    tickers; [`LspServices::stopping`] stops them before the node stops. A restart repeats
//!    2 and 3 with the same services.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use inbound_node::{LspsMessageHandler, Node, NodeEventHandler};
use inbound_store::Store;
use lsps::method::Protocol;
use thiserror::Error;
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle};

use crate::clients::ClientBans;
use crate::clock::Clock;
use crate::flow::FlowError;
use crate::lsps1::{Lsps1Config, Lsps1ConfigError, Lsps1EventHandler, Lsps1Service, OrderLightning};
use crate::lsps2::{JitLightning, Lsps2Config, Lsps2ConfigError, Lsps2EventHandler, Lsps2Service};
use crate::lsps5::hold::{HoldEventHandler, HoldNode, HoldService};
use crate::lsps5::{Lsps5BuildError, Lsps5Config, Lsps5Node, Lsps5Service};
use crate::node_adapter::LspsOutbound;
use crate::notify::ClientNotifier;
use crate::vouchers::Vouchers;
use crate::{LspsServer, LspsServerConfig};

/// How often the services check their timers, deposits and outboxes.
pub const DEFAULT_TICK_INTERVAL: Duration = Duration::from_secs(1);

/// A configuration the services refuse.
#[derive(Debug, Error)]
pub enum LspBuildError {
    /// The `[lsps1]` configuration.
    #[error("the [lsps1] configuration: {0}")]
    Lsps1(#[from] Lsps1ConfigError),
    /// The `[lsps2]` configuration.
    #[error("the [lsps2] configuration: {0}")]
    Lsps2(#[from] Lsps2ConfigError),
    /// The `[lsps5]` configuration (or its `extra_ca_file`).
    #[error("the [lsps5] configuration: {0}")]
    Lsps5(#[from] Lsps5BuildError),
    /// LSPS1, LSPS2 or LSPS5 without a store to keep their flows in.
    #[error("LSPS1, LSPS2 and LSPS5 need a store ([store] url)")]
    NoStore,
}

/// Which protocols the LSP serves, on which store and clock.
pub struct LspBuilder {
    server: LspsServerConfig,
    store: Option<Arc<dyn Store>>,
    clock: Arc<dyn Clock>,
    lsps1: Option<Lsps1Config>,
    lsps2: Option<Lsps2Config>,
    lsps5: Option<Lsps5Config>,
    tick_interval: Duration,
}

impl LspBuilder {
    /// An LSP serving only LSPS0 until protocols are added, with the server's default limits.
    pub fn new(clock: Arc<dyn Clock>) -> LspBuilder {
        LspBuilder {
            server: LspsServerConfig::default(),
            store: None,
            clock,
            lsps1: None,
            lsps2: None,
            lsps5: None,
            tick_interval: DEFAULT_TICK_INTERVAL,
        }
    }

    /// The LSPS0 server's limits and the clients answers are shaped for (its `compat` applies
    /// to every protocol added here). Its `enabled_protocols` are replaced by the protocols
    /// added here.
    pub fn server(mut self, config: LspsServerConfig) -> LspBuilder {
        self.server = config;
        self
    }

    /// Where the flows live (needed by LSPS1, LSPS2 and LSPS5).
    pub fn store(mut self, store: Arc<dyn Store>) -> LspBuilder {
        self.store = Some(store);
        self
    }

    /// Serves LSPS1 channel orders.
    pub fn lsps1(mut self, config: Lsps1Config) -> LspBuilder {
        self.lsps1 = Some(config);
        self
    }

    /// Serves LSPS2 JIT channels.
    pub fn lsps2(mut self, config: Lsps2Config) -> LspBuilder {
        self.lsps2 = Some(config);
        self
    }

    /// Serves LSPS5 webhooks and POSTs their notifications.
    pub fn lsps5(mut self, config: Lsps5Config) -> LspBuilder {
        self.lsps5 = Some(config);
        self
    }

    /// How often the services tick ([`DEFAULT_TICK_INTERVAL`]).
    pub fn tick_interval(mut self, interval: Duration) -> LspBuilder {
        self.tick_interval = interval;
        self
    }

    /// Creates the services and the event-handler chain in front of `inner` (the handler that
    /// sees every event the services do not consume).
    ///
    /// # Errors
    /// If a protocol's configuration is invalid.
    pub fn build(self, inner: Arc<dyn NodeEventHandler>) -> Result<LspServices, LspBuildError> {
        let store = || self.store.clone().ok_or(LspBuildError::NoStore);
        let lsps2 = match self.lsps2 {
            Some(config) => Some(Lsps2Service::new(config, store()?, Arc::clone(&self.clock))?),
            None => None,
        };
        let lsps1 = match self.lsps1 {
            Some(config) => {
                Some(Lsps1Service::with_compat(config, store()?, Arc::clone(&self.clock), self.server.compat)?)
            }
            None => None,
        };
        let hold = match &self.lsps5 {
            Some(config) => Some(HoldService::new(config.hold_secs, store()?, Arc::clone(&self.clock))),
            None => None,
        };
        let lsps5 = match self.lsps5 {
            Some(config) => {
                Some(Lsps5Service::with_compat(config, store()?, Arc::clone(&self.clock), self.server.compat)?)
            }
            None => None,
        };
        if let (Some(hold), Some(lsps5)) = (&hold, &lsps5) {
            hold.set_notifier(Arc::clone(lsps5) as Arc<dyn ClientNotifier>);
            lsps5.set_hold(hold);
        }
        if let (Some(lsps2), Some(lsps5)) = (&lsps2, &lsps5) {
            lsps2.set_notifier(Arc::clone(lsps5) as Arc<dyn ClientNotifier>);
        }
        let mut server_config = self.server;
        server_config.enabled_protocols = lsps1
            .as_ref()
            .map(|_| Protocol::Lsps1)
            .into_iter()
            .chain(lsps2.as_ref().map(|_| Protocol::Lsps2))
            .chain(lsps5.as_ref().map(|_| Protocol::Lsps5))
            .collect();
        let server = LspsServer::new(server_config);
        let mut events = inner;
        if let Some(service) = &lsps5 {
            server.register(service.protocol_handler());
        }
        if let Some(service) = &lsps2 {
            server.register(service.protocol_handler());
            events = Arc::new(Lsps2EventHandler::new(Arc::clone(service), Some(events)));
        }
        if let Some(service) = &hold {
            events = Arc::new(HoldEventHandler::new(Arc::clone(service), Some(events)));
        }
        if let Some(service) = &lsps1 {
            server.register(service.protocol_handler());
            events = Arc::new(Lsps1EventHandler::new(Arc::clone(service), Some(events)));
        }
        let bans = self.store.as_ref().map(|store| ClientBans::new(Arc::clone(store), Arc::clone(&self.clock)));
        let vouchers = match (&self.store, &lsps1) {
            (Some(store), Some(lsps1)) => {
                Some(Vouchers::new(Arc::clone(store), Arc::clone(&self.clock), Arc::clone(lsps1)))
            }
            _ => None,
        };
        if let Some(bans) = &bans {
            server.set_gate(Arc::clone(bans) as Arc<dyn crate::ClientGate>);
        }
        Ok(LspServices {
            store: self.store,
            bans,
            server,
            lsps1,
            lsps2,
            lsps5,
            hold,
            vouchers,
            events,
            tick_interval: self.tick_interval,
            tickers: Mutex::new(Vec::new()),
            failure: watch::channel(None).0,
        })
    }
}

/// The LSP's services, built by [`LspBuilder`].
pub struct LspServices {
    /// The store the flows are kept in, if the builder was given one.
    store: Option<Arc<dyn Store>>,
    /// The banned clients (with a store), refused by the server.
    pub bans: Option<Arc<ClientBans>>,
    /// Answers type-37913 requests (and HTTP's) for every enabled protocol.
    pub server: Arc<LspsServer>,
    /// The LSPS1 service, if enabled.
    pub lsps1: Option<Arc<Lsps1Service>>,
    /// The LSPS2 service, if enabled.
    pub lsps2: Option<Arc<Lsps2Service>>,
    /// The LSPS5 service, if enabled.
    pub lsps5: Option<Arc<Lsps5Service>>,
    /// Notify-and-wait over existing channels (hold SCIDs), with LSPS5.
    pub hold: Option<Arc<HoldService>>,
    /// Prepaid channel vouchers (LNURL-channel), delivered by LSPS1: with LSPS1 and a store.
    pub vouchers: Option<Arc<Vouchers>>,
    events: Arc<dyn NodeEventHandler>,
    tick_interval: Duration,
    tickers: Mutex<Vec<AbortHandle>>,
    /// Why a ticker died (it panicked), if one did.
    failure: watch::Sender<Option<String>>,
}

/// How many stored flows [`LspServices::started`] resumed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resumed {
    /// Unfinished LSPS1 orders.
    pub lsps1_orders: usize,
    /// Unfinished LSPS2 sessions.
    pub lsps2_sessions: usize,
    /// LSPS5 deliveries still to POST.
    pub lsps5_deliveries: usize,
    /// HTLCs held for offline clients (notify-and-wait).
    pub held_htlcs: usize,
    /// Clients banned by the operator.
    pub banned_clients: usize,
    /// Vouchers still claimable.
    pub claimable_vouchers: usize,
}

impl LspServices {
    /// The operator's read access to the stored flows, when there is a store.
    pub fn operator(&self) -> Option<crate::operator::Operator> {
        self.store.as_ref().map(|store| crate::operator::Operator::new(Arc::clone(store)))
    }

    /// The node's LSPS message handler (the server).
    pub fn lsps_handler(&self) -> Arc<dyn LspsMessageHandler> {
        Arc::clone(&self.server) as Arc<dyn LspsMessageHandler>
    }

    /// The node's event handler: the services' handlers in front of the caller's.
    pub fn event_handler(&self) -> Arc<dyn NodeEventHandler> {
        Arc::clone(&self.events)
    }

    /// Gives the server and every service the built node. Call it before the node starts (and
    /// again after each rebuild).
    pub fn attach(&self, node: &Arc<Node>) {
        self.server.attach(Arc::clone(node.lsps_transport()) as Arc<dyn LspsOutbound>);
        if let Some(service) = &self.lsps2 {
            service.attach(Arc::clone(node) as Arc<dyn JitLightning>);
        }
        if let Some(service) = &self.lsps1 {
            service.attach(Arc::clone(node) as Arc<dyn OrderLightning>);
        }
        if let Some(service) = &self.lsps5 {
            service.attach(Arc::clone(node) as Arc<dyn Lsps5Node>);
        }
        if let Some(service) = &self.hold {
            service.attach(Arc::clone(node) as Arc<dyn HoldNode>);
        }
    }

    /// After the node started: resumes every stored flow (bans, LSPS1, vouchers, LSPS2, then LSPS5), then ticks every
    /// service until [`LspServices::stopping`].
    ///
    /// # Errors
    /// If the store fails while resuming; nothing is ticking then.
    pub async fn started(&self) -> Result<Resumed, FlowError> {
        self.stopping();
        let mut resumed = Resumed::default();
        if let Some(bans) = &self.bans {
            resumed.banned_clients = bans.resume().await?;
        }
        if let Some(service) = &self.lsps1 {
            resumed.lsps1_orders = service.resume().await?;
        }
        if let Some(vouchers) = &self.vouchers {
            resumed.claimable_vouchers = vouchers.resume().await?;
        }
        if let Some(service) = &self.lsps2 {
            resumed.lsps2_sessions = service.resume().await?;
        }
        if let Some(service) = &self.lsps5 {
            resumed.lsps5_deliveries = service.resume().await?;
        }
        if let Some(service) = &self.hold {
            resumed.held_htlcs = service.resume().await?;
        }
        let mut tickers = self.tickers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(service) = &self.lsps1 {
            tickers.push(self.supervised("LSPS1 ticker", service.spawn_ticker(self.tick_interval)));
        }
        if let Some(service) = &self.lsps2 {
            tickers.push(self.supervised("LSPS2 ticker", service.spawn_ticker(self.tick_interval)));
        }
        if let Some(service) = &self.lsps5 {
            tickers.push(self.supervised("LSPS5 ticker", service.spawn_ticker(self.tick_interval)));
        }
        if let Some(vouchers) = &self.vouchers {
            tickers.push(self.supervised("voucher ticker", vouchers.spawn_ticker(self.tick_interval)));
        }
        if let Some(service) = &self.hold {
            tickers.push(self.supervised("held-payment ticker", service.spawn_ticker(self.tick_interval)));
        }
        Ok(resumed)
    }

    /// Watches a ticker: one that dies (a panic; tickers never return) is recorded as the
    /// services' failure and logged. Stopping (an abort) is not a failure.
    fn supervised(&self, name: &'static str, ticker: JoinHandle<()>) -> AbortHandle {
        let abort = ticker.abort_handle();
        let failure = self.failure.clone();
        tokio::spawn(async move {
            let reason = match ticker.await {
                Err(error) if error.is_cancelled() => return,
                Err(error) => format!("{name}: {error}"),
                Ok(()) => format!("{name}: ended while the LSP was running"),
            };
            tracing::error!(%reason, "a service task died; the LSP must stop");
            failure.send_if_modified(|current| {
                if current.is_some() {
                    return false;
                }
                *current = Some(reason);
                true
            });
        });
        abort
    }

    /// Waits until a service task died and says which and why. A daemon selects on it next
    /// to its shutdown signals and the node's `wait_for_failure`.
    pub async fn wait_for_failure(&self) -> String {
        let mut receiver = self.failure.subscribe();
        let reason = match receiver.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().unwrap_or_default(),
            // The sender lives as long as `self`; never reached.
            Err(_) => return std::future::pending().await,
        };
        reason
    }

    /// Stops the tickers (call it before the node stops; dropping the services does it too).
    pub fn stopping(&self) {
        let mut tickers = self.tickers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for ticker in tickers.drain(..) {
            ticker.abort();
        }
    }
}

impl Drop for LspServices {
    fn drop(&mut self) {
        self.stopping();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    #[tokio::test]
    async fn the_builder_serves_lsps5_and_hands_it_to_lsps2() {
        let store = inbound_store::open("sqlite::memory:").await.expect("store");
        let services = crate::LspBuilder::new(Arc::new(crate::ManualClock::starting_now()))
            .store(store)
            .lsps2(crate::lsps2::Lsps2Config::default())
            .lsps5(crate::lsps5::Lsps5Config { require_channel_or_flow: false, ..crate::lsps5::Lsps5Config::default() })
            .build(Arc::new(inbound_node::IgnoringEventHandler))
            .expect("build");
        assert_eq!(services.server.served_protocols(), [lsps::method::Protocol::Lsps2, lsps::method::Protocol::Lsps5]);
        assert!(services.lsps5.is_some());
        let refused = crate::LspBuilder::new(Arc::new(crate::ManualClock::starting_now()))
            .lsps5(crate::lsps5::Lsps5Config::default())
            .build(Arc::new(inbound_node::IgnoringEventHandler));
        assert!(matches!(refused, Err(crate::LspBuildError::NoStore)));
    }

    #[tokio::test]
    async fn a_dead_ticker_is_the_services_failure_and_a_stopped_one_is_not() {
        let services = crate::LspBuilder::new(Arc::new(crate::ManualClock::starting_now()))
            .build(Arc::new(inbound_node::IgnoringEventHandler))
            .expect("build");
        let stopped = services.supervised("quiet ticker", tokio::spawn(std::future::pending::<()>()));
        stopped.abort();
        let dead = services.supervised("LSPS9 ticker", tokio::spawn(async { panic!("tick exploded") }));
        let reason = tokio::time::timeout(std::time::Duration::from_secs(5), services.wait_for_failure())
            .await
            .expect("the failure is reported");
        assert!(reason.starts_with("LSPS9 ticker: ") && reason.contains("panicked"), "{reason}");
        drop(dead);
    }
}
