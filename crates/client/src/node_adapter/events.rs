//! [`WalletEventHandler`]: the wallet node's event handler, which runs every event through
//! [`Lsps2Client::handle_event`] before passing it on.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock, Weak};

use inbound_node::lightning::events::{Event, ReplayEvent};
use inbound_node::NodeEventHandler;
use tracing::warn;

use crate::lsps2::{EventOutcome, Lsps2Client};

/// Routes `PaymentClaimable` through the LSPS2 checks ([`Lsps2Client::handle_event`]) and every
/// other event, `PaymentClaimed` included, on to the inner handler.
///
/// Create it before the node (it is the node's event handler), then [`attach`](Self::attach)
/// the [`Lsps2Client`] before `Node::start`. Until it is attached, `PaymentClaimable` events are
/// handed back to LDK for replay.
pub struct WalletEventHandler {
    inner: Option<Arc<dyn NodeEventHandler>>,
    client: RwLock<Weak<Lsps2Client>>,
}

impl WalletEventHandler {
    /// A handler passing every other event to `inner` (if any).
    pub fn new(inner: Option<Arc<dyn NodeEventHandler>>) -> Arc<Self> {
        Arc::new(WalletEventHandler { inner, client: RwLock::new(Weak::new()) })
    }

    /// Connects the LSPS2 client whose purchases are checked. Held weakly (the client holds the
    /// node, which holds this handler).
    pub fn attach(&self, client: &Arc<Lsps2Client>) {
        *self.client.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::downgrade(client);
    }

    fn client(&self) -> Option<Arc<Lsps2Client>> {
        self.client.read().unwrap_or_else(|poisoned| poisoned.into_inner()).upgrade()
    }

    async fn handle(&self, event: Event) -> Result<(), ReplayEvent> {
        let outcome = match (self.client(), &event) {
            (Some(client), _) => client.handle_event(&event),
            (None, Event::PaymentClaimable { payment_hash, .. }) => {
                warn!(%payment_hash, "PaymentClaimable before an Lsps2Client is attached; replaying later");
                return Err(ReplayEvent());
            }
            (None, _) => EventOutcome::PassOn,
        };
        match (outcome, &self.inner) {
            (EventOutcome::PassOn, Some(inner)) => inner.handle_event(event).await,
            _ => Ok(()),
        }
    }
}

impl NodeEventHandler for WalletEventHandler {
    fn handle_event(&self, event: Event) -> Pin<Box<dyn Future<Output = Result<(), ReplayEvent>> + Send + '_>> {
        Box::pin(self.handle(event))
    }
}
