//! What the admin API reads from the Lightning node, as the [`NodeView`] trait, and its one
//! implementation for [`inbound_node::Node`] (the only code here that names LDK types).

use std::future::Future;
use std::pin::Pin;

use serde::Serialize;

/// The node's identity and position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeInfo {
    /// The node id, hex.
    pub node_id: String,
    /// The node's alias (log name).
    pub alias: String,
    /// `bitcoin`, `testnet`, `signet` or `regtest`.
    pub network: String,
    /// Where it accepts peers, if it listens.
    pub listen: Option<String>,
    /// The height the node has synced to.
    pub synced_height: u32,
    /// Connected peers.
    pub peers: Vec<String>,
    /// Channels, and how many of them are usable.
    pub channels: usize,
    /// Usable channels (open and the peer connected).
    pub usable_channels: usize,
}

/// Money the node holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Balances {
    /// On chain, confirmed and spendable.
    pub onchain_confirmed_sat: u64,
    /// On chain, unconfirmed (ours and others').
    pub onchain_unconfirmed_sat: u64,
    /// On chain, immature coinbase.
    pub onchain_immature_sat: u64,
    /// What the node can send over its channels now.
    pub lightning_outbound_msat: u64,
    /// What the node can receive over its channels now.
    pub lightning_inbound_msat: u64,
    /// The node's side of every channel (reserves included).
    pub lightning_balance_msat: u64,
    /// What the node could send over the channels it opened that are not ready yet (their
    /// funding is not confirmed), in sat.
    pub pending_open_sat: u64,
}

/// One channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChannelView {
    /// The channel id, hex.
    pub channel_id: String,
    /// The peer's node id.
    pub peer: String,
    /// The channel's SCID (`block x tx x output`), once confirmed.
    pub short_channel_id: Option<String>,
    /// The funding outpoint, `txid:vout`.
    pub funding_outpoint: Option<String>,
    /// Its size.
    pub capacity_sat: u64,
    /// What the node can send over it now.
    pub outbound_msat: u64,
    /// What the node can receive over it now.
    pub inbound_msat: u64,
    /// `pending` (not ready), `usable` (ready, peer connected) or `offline` (ready, peer away).
    pub state: &'static str,
    /// Whether it is announced to the network.
    pub public: bool,
    /// Whether the node opened it.
    pub outbound: bool,
    /// Funding confirmations so far, if known.
    pub confirmations: Option<u32>,
}

/// Whether the node works, as `/readyz` asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeHealth {
    /// Running and its background tasks are alive.
    Running,
    /// Not running, or a background task died (why).
    Down(String),
}

/// The future of [`NodeView::chain_tip`].
pub type TipFuture<'a> = Pin<Box<dyn Future<Output = Result<u32, String>> + Send + 'a>>;

/// What the admin API needs from the node.
pub trait NodeView: Send + Sync {
    /// Identity, sync height, peers and channel counts.
    fn info(&self) -> NodeInfo;
    /// On-chain and Lightning balances.
    fn balances(&self) -> Balances;
    /// Every channel.
    fn channels(&self) -> Vec<ChannelView>;
    /// Whether the node runs.
    fn health(&self) -> NodeHealth;
    /// The chain backend's best height (asked over the network).
    fn chain_tip(&self) -> TipFuture<'_>;
}

impl NodeView for inbound_node::Node {
    fn info(&self) -> NodeInfo {
        let channels = self.list_channels();
        NodeInfo {
            node_id: self.node_id().to_string(),
            alias: self.config().alias.clone(),
            network: self.config().network.to_string(),
            listen: self.listening_address().map(|address| address.to_string()),
            synced_height: self.best_block_height(),
            peers: self.connected_peers().iter().map(ToString::to_string).collect(),
            channels: channels.len(),
            usable_channels: channels.iter().filter(|channel| channel.is_usable).count(),
        }
    }

    fn balances(&self) -> Balances {
        let wallet = self.onchain_balance();
        let mut balances = Balances {
            onchain_confirmed_sat: wallet.confirmed_sat,
            onchain_unconfirmed_sat: wallet.trusted_pending_sat.saturating_add(wallet.untrusted_pending_sat),
            onchain_immature_sat: wallet.immature_sat,
            ..Balances::default()
        };
        for channel in self.list_channels() {
            balances.lightning_outbound_msat =
                balances.lightning_outbound_msat.saturating_add(channel.outbound_capacity_msat);
            balances.lightning_inbound_msat =
                balances.lightning_inbound_msat.saturating_add(channel.inbound_capacity_msat);
            balances.lightning_balance_msat = balances.lightning_balance_msat.saturating_add(
                channel
                    .outbound_capacity_msat
                    .saturating_add(channel.unspendable_punishment_reserve.unwrap_or(0).saturating_mul(1_000)),
            );
            if !channel.is_channel_ready && channel.is_outbound {
                let ours_msat = channel.outbound_capacity_msat;
                balances.pending_open_sat = balances.pending_open_sat.saturating_add(ours_msat / 1_000);
            }
        }
        balances
    }

    fn channels(&self) -> Vec<ChannelView> {
        self.list_channels()
            .into_iter()
            .map(|channel| ChannelView {
                channel_id: channel.channel_id.to_string(),
                peer: channel.counterparty.node_id.to_string(),
                short_channel_id: channel.short_channel_id.map(|scid| lsps::schema::Scid(scid).to_string()),
                funding_outpoint: channel.funding_txo.map(|outpoint| format!("{}:{}", outpoint.txid, outpoint.index)),
                capacity_sat: channel.channel_value_satoshis,
                outbound_msat: channel.outbound_capacity_msat,
                inbound_msat: channel.inbound_capacity_msat,
                state: match (channel.is_channel_ready, channel.is_usable) {
                    (false, _) => "pending",
                    (true, true) => "usable",
                    (true, false) => "offline",
                },
                public: channel.is_announced,
                outbound: channel.is_outbound,
                confirmations: channel.confirmations,
            })
            .collect()
    }

    fn health(&self) -> NodeHealth {
        if let Some(reason) = self.failure() {
            return NodeHealth::Down(reason);
        }
        match self.is_running() {
            true => NodeHealth::Running,
            false => NodeHealth::Down("the node is not running".to_owned()),
        }
    }

    fn chain_tip(&self) -> TipFuture<'_> {
        Box::pin(async move {
            self.chain_source().best_block().await.map(|best| best.height).map_err(|error| error.to_string())
        })
    }
}
