//! Peer connections (sockets driven by [`crate::net`]): listening, outbound connects, the address
//! book and the reconnect loop.
//!
//! Addresses of peers we connected to with `persist = true` are stored in the KV store
//! (namespace [`PEER_NAMESPACE`], key = node id hex, value = `ip:port`). Every
//! `reconnect_interval_secs` the reconnect loop dials each peer we have a channel with that is not
//! connected and whose address we know. Inbound-only peers (clients behind NAT) are expected to
//! reconnect to us themselves.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::secp256k1::PublicKey;
use lightning::util::logger::Level;
use lightning::util::persist::KVStoreSync;
use lightning_persister::fs_store::FilesystemStore;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::error::{NodeError, NodeResult};
use crate::logger::NodeLogger;
use crate::types::{ChannelManager, PeerManager};

/// KV-store namespace of the peer address book.
pub const PEER_NAMESPACE: &str = "peers";
/// How long [`connect_peer`] waits for the noise handshake and `init` exchange.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to `peer` at `address` unless already connected, and waits until the `init` exchange
/// is done. With `persist`, the address is remembered for the reconnect loop.
pub(crate) async fn connect_peer(
    peer_manager: &Arc<PeerManager>,
    store: &FilesystemStore,
    peer: PublicKey,
    address: SocketAddr,
    persist: bool,
) -> NodeResult<()> {
    if persist {
        store
            .write(PEER_NAMESPACE, "", &peer.to_string(), address.to_string().into_bytes())
            .map_err(|e| NodeError::io("writing the peer address book", e))?;
    }
    if peer_manager.peer_by_node_id(&peer).is_some() {
        return Ok(());
    }
    let connection = crate::net::connect_outbound(Arc::clone(peer_manager), peer, address).await?;
    // The task ends when the connection closes; if that happens before the handshake completes
    // (e.g. the peer still holds our previous connection), fail fast instead of waiting.
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    while Instant::now() < deadline {
        if peer_manager.peer_by_node_id(&peer).is_some() {
            return Ok(());
        }
        if connection.is_finished() {
            return Err(NodeError::Connection(format!("{peer} at {address} closed during the handshake")));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err(NodeError::Connection(format!("handshake with {peer} at {address} timed out")))
}

/// Resolves once the stop flag is `true` (or its sender is gone). The guard returned by
/// `wait_for` is dropped inside, so callers stay `Send`.
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Known peer addresses from the address book. Malformed entries are skipped.
pub(crate) fn stored_peers(store: &FilesystemStore) -> Vec<(PublicKey, SocketAddr)> {
    let keys = store.list(PEER_NAMESPACE, "").unwrap_or_default();
    keys.into_iter()
        .filter_map(|key| {
            let peer: PublicKey = key.parse().ok()?;
            let value = store.read(PEER_NAMESPACE, "", &key).ok()?;
            let address: SocketAddr = String::from_utf8(value).ok()?.parse().ok()?;
            Some((peer, address))
        })
        .collect()
}

/// Accepts inbound connections until `stop` flips to `true`.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    peer_manager: Arc<PeerManager>,
    mut stop: watch::Receiver<bool>,
    logger: Arc<NodeLogger>,
) {
    loop {
        tokio::select! {
            _ = crate::peers::stopped(&mut stop) => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => crate::net::setup_inbound(Arc::clone(&peer_manager), stream),
                Err(e) => {
                    logger.log_line(Level::Warn, &format!("accept failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                },
            },
        }
    }
}

/// Reconnects to channel peers with a known address at once and then every `interval`, until `stop`.
pub(crate) async fn reconnect_loop(
    peer_manager: Arc<PeerManager>,
    channel_manager: Arc<ChannelManager>,
    store: Arc<FilesystemStore>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
    logger: Arc<NodeLogger>,
) {
    loop {
        let channel_peers: std::collections::HashSet<PublicKey> =
            channel_manager.list_channels().into_iter().map(|channel| channel.counterparty.node_id).collect();
        for (peer, address) in stored_peers(&store) {
            if !channel_peers.contains(&peer) || peer_manager.peer_by_node_id(&peer).is_some() {
                continue;
            }
            if let Err(e) = connect_peer(&peer_manager, &store, peer, address, false).await {
                logger.log_line(Level::Debug, &format!("reconnect to {peer}: {e}"));
            }
        }
        tokio::select! {
            _ = crate::peers::stopped(&mut stop) => return,
            _ = tokio::time::sleep(interval) => {},
        }
    }
}
