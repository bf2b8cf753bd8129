//! Wallets with the LSPS2 client side wired in ([`Network::add_jit_wallet`]): the node's events go
//! through a [`WalletEventHandler`] (which wraps the [`EventRecorder`](crate::EventRecorder)),
//! and its inbound channels are decided by the [`Lsps2Client`]'s acceptor.

use std::sync::{Arc, Mutex};

use inbound_client::lsps2::{Lsps2Client, Lsps2ClientConfig, WalletEventHandler};
use inbound_client::{ClientConfig, LspsClient};
use inbound_node::{Node, NodeEventHandler};

use crate::network::Network;
use crate::test_node::{Role, TestNode};
use crate::wait::{HarnessError, HarnessResult};

/// The LSPS2 parts of a JIT wallet. A restart builds a new [`Lsps2Client`], which loads its
/// purchases from the node's data directory as in production, and re-attaches it.
pub(crate) struct JitWallet {
    pub(crate) events: Arc<WalletEventHandler>,
    /// The node's event handler: `events`, or what [`Network::add_jit_wallet_with`] wrapped
    /// around it.
    pub(crate) front: Arc<dyn NodeEventHandler>,
    pub(crate) config: Lsps2ClientConfig,
    pub(crate) client: Mutex<Option<Arc<Lsps2Client>>>,
}

impl JitWallet {
    /// Called by the network after the node is built and before it starts.
    pub(crate) fn wire(&self, lsps: &Arc<LspsClient>, node: &Arc<Node>) -> HarnessResult<()> {
        let client = Lsps2Client::with_config(Arc::clone(lsps), Arc::clone(node), self.config.clone())
            .map_err(|e| HarnessError::Failed(format!("loading the JIT purchases: {e}")))?;
        node.set_channel_acceptor(client.acceptor());
        self.events.attach(&client);
        *self.client.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(client);
        Ok(())
    }
}

impl Network {
    /// Adds a wallet that buys JIT channels: an [`LspsClient`], an [`Lsps2Client`] with `config`
    /// (see [`TestNode::lsps2`]), its channel acceptor, and a [`WalletEventHandler`] in front of
    /// the event log — so `PaymentClaimable` is not recorded, `PaymentClaimed` is.
    pub async fn add_jit_wallet(&self, name: &str, config: Lsps2ClientConfig) -> HarnessResult<Arc<TestNode>> {
        self.add_jit_wallet_with(name, config, |events| events).await
    }

    /// [`Network::add_jit_wallet`] with the node's event handler replaced by what `wrap`
    /// makes of the [`WalletEventHandler`] chain, to play a misbehaving wallet (one that
    /// swallows `PaymentClaimable` and never claims, say).
    pub async fn add_jit_wallet_with(
        &self,
        name: &str,
        config: Lsps2ClientConfig,
        wrap: impl FnOnce(Arc<dyn NodeEventHandler>) -> Arc<dyn NodeEventHandler>,
    ) -> HarnessResult<Arc<TestNode>> {
        let lsps = LspsClient::new(ClientConfig::default());
        let recorder = Arc::new(crate::test_node::EventRecorder::default());
        let events = WalletEventHandler::new(Some(Arc::clone(&recorder) as Arc<dyn NodeEventHandler>));
        let front = wrap(Arc::clone(&events) as Arc<dyn NodeEventHandler>);
        let jit = JitWallet { events, front, config, client: Mutex::new(None) };
        self.add_node_with(name, Role::Wallet(lsps), recorder, Some(jit)).await
    }
}

impl TestNode {
    /// The LSPS2 client of a wallet added with [`Network::add_jit_wallet`].
    ///
    /// # Panics
    /// If the node is not a JIT wallet or is stopped.
    pub fn lsps2(&self) -> Arc<Lsps2Client> {
        let jit = self.jit.as_ref().unwrap_or_else(|| panic!("{} is not a JIT wallet", self.name));
        jit.client.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone().expect("JIT wallet is running")
    }
}
