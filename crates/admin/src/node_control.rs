//! What the admin API asks the node to do, as the [`NodeControl`] trait, and its one
//! implementation for [`inbound_node::Node`]: a fresh address, a withdrawal, a peer connection,
//! a channel opened to a chosen peer (public or private), a channel closed.

use std::net::SocketAddr;

use bitcoin::secp256k1::PublicKey;
use inbound_node::bitcoin::address::NetworkUnchecked;
use inbound_node::bitcoin::Address;
use inbound_node::SendAmount;
use serde::{Deserialize, Serialize};

/// Why the node did not do it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The request itself is wrong (an address of another network, an unknown channel, …).
    #[error("{0}")]
    Invalid(String),
    /// The node refused or failed (not enough funds, the peer refused, …).
    #[error("{0}")]
    Refused(String),
}

/// A channel the node started to open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenedChannel {
    /// The id LDK reports in this channel's events (decimal).
    pub user_channel_id: String,
    /// The channel id (temporary until the funding is created).
    pub channel_id: String,
}

/// The future of [`NodeControl::connect`].
pub type ConnectFuture<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ControlError>> + Send + 'a>>;

/// What the admin API asks of the node.
pub trait NodeControl: Send + Sync {
    /// A fresh receive address of the on-chain wallet.
    fn new_address(&self) -> Result<String, ControlError>;
    /// Sends `amount_sat` (`None`: everything) to `address`; returns the txid.
    fn send(
        &self,
        address: &str,
        amount_sat: Option<u64>,
        fee_rate_sat_per_vb: Option<u64>,
    ) -> Result<String, ControlError>;
    /// Connects to `node_id` at `address` and keeps reconnecting to it.
    fn connect(&self, node_id: PublicKey, address: SocketAddr) -> ConnectFuture<'_>;
    /// Opens a channel of `amount_sat` to a connected peer, pushing `push_msat` to it.
    fn open_channel(
        &self,
        node_id: PublicKey,
        amount_sat: u64,
        push_msat: u64,
        public: bool,
    ) -> Result<OpenedChannel, ControlError>;
    /// Closes the channel `channel_id` (hex): cooperatively, or with `force` by broadcasting
    /// the latest commitment.
    fn close_channel(&self, channel_id: &str, force: bool) -> Result<(), ControlError>;
}

fn refused(error: impl std::fmt::Display) -> ControlError {
    ControlError::Refused(error.to_string())
}

/// sat/vB to sat/kWU (LDK's and the wallet's unit): × 250, at least 253 (the relay floor).
fn kwu(sat_per_vb: u64) -> Result<u32, ControlError> {
    let kwu = sat_per_vb.checked_mul(250).and_then(|rate| u32::try_from(rate).ok());
    kwu.map(|rate| rate.max(253))
        .ok_or_else(|| ControlError::Invalid(format!("fee rate {sat_per_vb} sat/vB is too high")))
}

impl NodeControl for inbound_node::Node {
    fn new_address(&self) -> Result<String, ControlError> {
        self.new_onchain_address().map(|address| address.to_string()).map_err(refused)
    }

    fn send(
        &self,
        address: &str,
        amount_sat: Option<u64>,
        fee_rate_sat_per_vb: Option<u64>,
    ) -> Result<String, ControlError> {
        let network = self.config().network;
        let parsed: Address<NetworkUnchecked> =
            address.parse().map_err(|_| ControlError::Invalid(format!("{address:?} is not a Bitcoin address")))?;
        let address = parsed
            .require_network(network)
            .map_err(|_| ControlError::Invalid(format!("{address} is not an address of {network}")))?;
        let amount = match amount_sat {
            Some(0) => return Err(ControlError::Invalid("the amount must be more than 0 sat".into())),
            Some(sat) => SendAmount::Sat(sat),
            None => SendAmount::All,
        };
        let rate = fee_rate_sat_per_vb.map(kwu).transpose()?;
        self.send_onchain(&address, amount, rate).map(|txid| txid.to_string()).map_err(refused)
    }

    fn connect(&self, node_id: PublicKey, address: SocketAddr) -> ConnectFuture<'_> {
        Box::pin(async move { self.connect_peer(node_id, address, true).await.map_err(refused) })
    }

    fn open_channel(
        &self,
        node_id: PublicKey,
        amount_sat: u64,
        push_msat: u64,
        public: bool,
    ) -> Result<OpenedChannel, ControlError> {
        if !self.connected_peers().contains(&node_id) {
            return Err(ControlError::Invalid(format!("{node_id} is not connected; give its address")));
        }
        let mut config = self.config().user_config();
        config.channel_handshake_config.announce_for_forwarding = public;
        let mut random = [0u8; 16];
        getrandom::getrandom(&mut random).map_err(refused)?;
        let user_channel_id = u128::from_be_bytes(random);
        let channel_id = inbound_node::Node::open_channel(
            self,
            node_id,
            amount_sat,
            push_msat,
            user_channel_id,
            inbound_node::FundingBroadcast::Automatic,
            Some(config),
        )
        .map_err(refused)?;
        Ok(OpenedChannel { user_channel_id: user_channel_id.to_string(), channel_id: channel_id.to_string() })
    }

    fn close_channel(&self, channel_id: &str, force: bool) -> Result<(), ControlError> {
        let channel = self
            .list_channels()
            .into_iter()
            .find(|channel| channel.channel_id.to_string() == channel_id.to_ascii_lowercase())
            .ok_or_else(|| ControlError::Invalid(format!("no channel {channel_id}")))?;
        inbound_node::Node::close_channel(self, &channel.channel_id, channel.counterparty.node_id, force)
            .map_err(refused)
    }
}
