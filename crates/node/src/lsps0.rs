//! LSPS0 transport: peer message type 37913 carrying raw bytes (bLIP-50, `docs/spec/lsps-digest.md` §2.1).
//!
//! [`Lsps0Transport`] is the PeerManager's custom message handler. It does **not** interpret
//! JSON: every received payload goes, with the sender's node id, to an injected
//! [`LspsMessageHandler`], and [`Lsps0Transport::send`] queues raw payloads for the PeerManager to
//! pick up. Parsing, validation and the JSON-RPC profile live in the `inbound-lsps` crate and the
//! service layer.
//!
//! Limits (§2.1, §2.10):
//! * A payload is at most [`MAX_LSPS_PAYLOAD_BYTES`] = 65,533 bytes (BOLT8's 65,535 minus the
//!   2-byte type). Bigger payloads are dropped and logged, on receipt and on send (a bigger frame
//!   cannot even be encrypted; LDK would panic).
//! * Outbound messages wait in a bounded queue per peer
//!   ([`DEFAULT_LSPS_MAX_QUEUED_PER_PEER`](crate::config::DEFAULT_LSPS_MAX_QUEUED_PER_PEER)
//!   messages) and overall
//!   ([`DEFAULT_LSPS_MAX_QUEUED_TOTAL`](crate::config::DEFAULT_LSPS_MAX_QUEUED_TOTAL)). The
//!   queues drain every time the PeerManager processes events, which the transport triggers itself
//!   after each send, so in practice they hold only what a burst produces.
//! * Messages are only queued for connected peers; a peer's queue is dropped when it disconnects.
//!
//! Feature bit 729 (`option_supports_lsps`, §2.7) is set in our `init` and `node_announcement`
//! features when the node is an LSP, and the handler learns whether each peer set it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use bitcoin::secp256k1::PublicKey;
use lightning::ln::msgs::{DecodeError, Init, LightningError};
use lightning::ln::peer_handler::CustomMessageHandler;
use lightning::ln::wire::{CustomMessageReader, Type};
use lightning::util::logger::Level;
use lightning::util::ser::{LengthLimitedRead, Writeable, Writer};
use lightning_types::features::{InitFeatures, NodeFeatures};
use tokio::sync::Notify;

use crate::logger::NodeLogger;

/// The LSPS0 peer message type (`lsps0_message_id`, 0x9419; odd, so peers that don't know it ignore it).
pub const LSPS_MESSAGE_TYPE: u16 = 37913;
/// The `option_supports_lsps` feature bit (odd = optional).
pub const LSPS_FEATURE_BIT: usize = 729;
/// Largest payload a type-37913 message can carry: 65,535 − 2 bytes of message type.
pub const MAX_LSPS_PAYLOAD_BYTES: usize = 65_533;

/// Receives LSPS0 traffic from the node. Implemented by the service layer (LSP side) or the
/// client SDK (wallet side).
///
/// All methods are called from the PeerManager's message processing, so they must return
/// quickly and must not block: hand work to a task or a channel. Calling
/// [`Node::send_lsps_message`](crate::Node::send_lsps_message) from inside is fine.
pub trait LspsMessageHandler: Send + Sync {
    /// A type-37913 message arrived from `peer`. `payload` is the raw bytes after the type, at
    /// most [`MAX_LSPS_PAYLOAD_BYTES`] long, not validated in any way (it may not even be UTF-8).
    fn handle(&self, peer: PublicKey, payload: Vec<u8>);
    /// `peer` completed the `init` exchange. `peer_advertises_lsps` tells whether it set feature
    /// bit 729 (as optional or required) in its `init` features, i.e. whether it claims to be an LSP.
    fn peer_connected(&self, peer: PublicKey, peer_advertises_lsps: bool);
    /// `peer` disconnected; anything still queued for it was dropped.
    fn peer_disconnected(&self, peer: PublicKey);
}

/// An [`LspsMessageHandler`] that drops everything; the default when none is injected.
#[derive(Debug, Default, Clone, Copy)]
pub struct IgnoringLspsHandler;

impl LspsMessageHandler for IgnoringLspsHandler {
    fn handle(&self, _peer: PublicKey, _payload: Vec<u8>) {}
    fn peer_connected(&self, _peer: PublicKey, _peer_advertises_lsps: bool) {}
    fn peer_disconnected(&self, _peer: PublicKey) {}
}

/// Why [`Lsps0Transport::send`] refused a message. Nothing was queued in any case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LspsSendError {
    /// The payload is longer than [`MAX_LSPS_PAYLOAD_BYTES`].
    #[error("payload of {len_bytes} bytes exceeds the LSPS0 limit of {MAX_LSPS_PAYLOAD_BYTES}")]
    PayloadTooLarge {
        /// The rejected payload's length.
        len_bytes: usize,
    },
    /// The peer is not connected (LSPS0 messages are never stored for later).
    #[error("peer is not connected")]
    PeerNotConnected,
    /// The peer's outbound queue is full.
    #[error("outbound queue for this peer is full ({limit} messages)")]
    PeerQueueFull {
        /// The per-peer limit.
        limit: usize,
    },
    /// All peers' queues together are full.
    #[error("outbound queue is full ({limit} messages in total)")]
    TotalQueueFull {
        /// The total limit.
        limit: usize,
    },
}

/// Where the service layer and the client SDK send LSPS0 payloads. Implemented by
/// [`Lsps0Transport`]; tests substitute a recorder. Both `inbound-service` and `inbound-client`
/// depend on this trait only, never on the transport itself.
pub trait LspsOutbound: Send + Sync {
    /// Queues `payload` for `peer` without blocking. See [`Lsps0Transport::send`] for the limits.
    ///
    /// # Errors
    /// See [`LspsSendError`]; nothing was queued when an error is returned.
    fn send(&self, peer: PublicKey, payload: Vec<u8>) -> Result<(), LspsSendError>;
}

impl LspsOutbound for Lsps0Transport {
    fn send(&self, peer: PublicKey, payload: Vec<u8>) -> Result<(), LspsSendError> {
        Lsps0Transport::send(self, peer, payload)
    }
}

/// A type-37913 message: the raw payload, written as-is after the type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLspsMessage {
    /// The payload bytes (one JSON object per bLIP-50, but not checked here).
    pub payload: Vec<u8>,
}

impl Type for RawLspsMessage {
    fn type_id(&self) -> u16 {
        LSPS_MESSAGE_TYPE
    }
}

impl Writeable for RawLspsMessage {
    fn write<W: Writer>(&self, writer: &mut W) -> Result<(), lightning::io::Error> {
        writer.write_all(&self.payload)
    }
}

#[derive(Default)]
struct TransportState {
    /// Connected peers and whether each advertised bit 729.
    connected: HashMap<PublicKey, bool>,
    queues: HashMap<PublicKey, VecDeque<Vec<u8>>>,
    total_queued: usize,
}

/// The PeerManager's custom message handler for LSPS0. See the module documentation.
pub struct Lsps0Transport {
    handler: Arc<dyn LspsMessageHandler>,
    advertise_lsps: bool,
    max_queued_per_peer: usize,
    max_queued_total: usize,
    state: Mutex<TransportState>,
    wake: Arc<Notify>,
    logger: Arc<NodeLogger>,
}

impl Lsps0Transport {
    /// Creates the transport. `advertise_lsps` sets feature bit 729 in our features (LSP role).
    pub fn new(
        handler: Arc<dyn LspsMessageHandler>,
        advertise_lsps: bool,
        max_queued_per_peer: usize,
        max_queued_total: usize,
        logger: Arc<NodeLogger>,
    ) -> Self {
        Self {
            handler,
            advertise_lsps,
            max_queued_per_peer,
            max_queued_total,
            state: Mutex::new(TransportState::default()),
            wake: Arc::new(Notify::new()),
            logger,
        }
    }

    fn lock(&self) -> MutexGuard<'_, TransportState> {
        match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Queues `payload` for `peer` and wakes the PeerManager to send it.
    ///
    /// # Errors
    /// See [`LspsSendError`]; an oversized payload is also logged.
    pub fn send(&self, peer: PublicKey, payload: Vec<u8>) -> Result<(), LspsSendError> {
        if payload.len() > MAX_LSPS_PAYLOAD_BYTES {
            self.logger.log_line(
                Level::Warn,
                &format!("dropping outbound LSPS0 message of {} bytes to {peer}: too large", payload.len()),
            );
            return Err(LspsSendError::PayloadTooLarge { len_bytes: payload.len() });
        }
        {
            let mut state = self.lock();
            if !state.connected.contains_key(&peer) {
                return Err(LspsSendError::PeerNotConnected);
            }
            if state.total_queued >= self.max_queued_total {
                return Err(LspsSendError::TotalQueueFull { limit: self.max_queued_total });
            }
            let queue = state.queues.entry(peer).or_default();
            if queue.len() >= self.max_queued_per_peer {
                return Err(LspsSendError::PeerQueueFull { limit: self.max_queued_per_peer });
            }
            queue.push_back(payload);
            state.total_queued += 1;
        }
        self.wake.notify_one();
        Ok(())
    }

    /// Whether `peer` is connected and, if so, whether it advertised feature bit 729.
    pub fn peer_advertises_lsps(&self, peer: &PublicKey) -> Option<bool> {
        self.lock().connected.get(peer).copied()
    }

    /// Number of outbound messages currently queued (all peers).
    pub fn queued_messages(&self) -> usize {
        self.lock().total_queued
    }

    /// Notified whenever a message is queued; the node's waker task then calls
    /// `PeerManager::process_events`.
    pub(crate) fn wake_signal(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }
}

/// Whether a feature bit field has bit 729 or its even partner 728 set.
fn advertises_lsps(le_flags: &[u8]) -> bool {
    let byte = LSPS_FEATURE_BIT / 8;
    le_flags.get(byte).is_some_and(|flags| flags & 0b11 != 0)
}

impl CustomMessageReader for Lsps0Transport {
    type CustomMessage = RawLspsMessage;

    fn read<R: LengthLimitedRead>(
        &self,
        message_type: u16,
        buffer: &mut R,
    ) -> Result<Option<Self::CustomMessage>, DecodeError> {
        if message_type != LSPS_MESSAGE_TYPE {
            return Ok(None);
        }
        let len_bytes = buffer.remaining_bytes();
        if len_bytes > MAX_LSPS_PAYLOAD_BYTES as u64 {
            // Cannot happen over BOLT8 (frames are at most 65,535 bytes), but never trust that.
            // Returning `None` for an odd type makes the PeerManager ignore the message.
            self.logger
                .log_line(Level::Warn, &format!("dropping inbound LSPS0 message of {len_bytes} bytes: too large"));
            return Ok(None);
        }
        let mut payload = Vec::with_capacity(len_bytes as usize);
        buffer.read_to_limit(&mut payload, len_bytes).map_err(|_| DecodeError::ShortRead)?;
        Ok(Some(RawLspsMessage { payload }))
    }
}

impl CustomMessageHandler for Lsps0Transport {
    fn handle_custom_message(&self, msg: RawLspsMessage, sender_node_id: PublicKey) -> Result<(), LightningError> {
        self.handler.handle(sender_node_id, msg.payload);
        Ok(())
    }

    fn get_and_clear_pending_msg(&self) -> Vec<(PublicKey, RawLspsMessage)> {
        let mut state = self.lock();
        let mut out = Vec::with_capacity(state.total_queued);
        for (peer, queue) in state.queues.iter_mut() {
            out.extend(queue.drain(..).map(|payload| (*peer, RawLspsMessage { payload })));
        }
        state.queues.clear();
        state.total_queued = 0;
        out
    }

    fn peer_disconnected(&self, their_node_id: PublicKey) {
        {
            let mut state = self.lock();
            state.connected.remove(&their_node_id);
            if let Some(queue) = state.queues.remove(&their_node_id) {
                state.total_queued = state.total_queued.saturating_sub(queue.len());
            }
        }
        self.handler.peer_disconnected(their_node_id);
    }

    fn peer_connected(&self, their_node_id: PublicKey, msg: &Init, _inbound: bool) -> Result<(), ()> {
        let advertises = advertises_lsps(msg.features.le_flags());
        self.lock().connected.insert(their_node_id, advertises);
        self.handler.peer_connected(their_node_id, advertises);
        Ok(())
    }

    fn provided_node_features(&self) -> NodeFeatures {
        let mut features = NodeFeatures::empty();
        if self.advertise_lsps {
            // 729 is odd, hence a valid optional custom bit; this cannot fail.
            let _ = features.set_optional_custom_bit(LSPS_FEATURE_BIT);
        }
        features
    }

    fn provided_init_features(&self, _their_node_id: PublicKey) -> InitFeatures {
        let mut features = InitFeatures::empty();
        if self.advertise_lsps {
            let _ = features.set_optional_custom_bit(LSPS_FEATURE_BIT);
        }
        features
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(advertise: bool) -> Lsps0Transport {
        Lsps0Transport::new(
            Arc::new(IgnoringLspsHandler),
            advertise,
            2,
            3,
            Arc::new(NodeLogger::new("test", Level::Error)),
        )
    }

    fn peer(byte: u8) -> PublicKey {
        let secp = bitcoin::secp256k1::Secp256k1::new();
        let secret = bitcoin::secp256k1::SecretKey::from_slice(&[byte; 32]).expect("valid key");
        PublicKey::from_secret_key(&secp, &secret)
    }

    fn connect(transport: &Lsps0Transport, peer: PublicKey) {
        let init = Init { features: InitFeatures::empty(), networks: None, remote_network_address: None };
        transport.peer_connected(peer, &init, true).expect("connect");
    }

    #[test]
    fn oversized_inbound_payload_is_dropped() {
        let transport = transport(false);
        let big = vec![b' '; MAX_LSPS_PAYLOAD_BYTES + 1];
        let mut reader = &big[..];
        assert_eq!(transport.read(LSPS_MESSAGE_TYPE, &mut reader), Ok(None));
        let ok = vec![b' '; MAX_LSPS_PAYLOAD_BYTES];
        let mut reader = &ok[..];
        let read = transport.read(LSPS_MESSAGE_TYPE, &mut reader).expect("read").expect("some");
        assert_eq!(read.payload.len(), MAX_LSPS_PAYLOAD_BYTES);
        let mut reader = &ok[..];
        assert_eq!(transport.read(37915, &mut reader), Ok(None));
    }

    #[test]
    fn queues_are_bounded_per_peer_and_in_total() {
        let transport = transport(false);
        let (alice, bob) = (peer(1), peer(2));
        assert_eq!(transport.send(alice, b"{}".to_vec()), Err(LspsSendError::PeerNotConnected));
        connect(&transport, alice);
        connect(&transport, bob);
        transport.send(alice, b"1".to_vec()).expect("1");
        transport.send(alice, b"2".to_vec()).expect("2");
        assert_eq!(transport.send(alice, b"3".to_vec()), Err(LspsSendError::PeerQueueFull { limit: 2 }));
        transport.send(bob, b"3".to_vec()).expect("3");
        assert_eq!(transport.send(bob, b"4".to_vec()), Err(LspsSendError::TotalQueueFull { limit: 3 }));
        assert_eq!(transport.get_and_clear_pending_msg().len(), 3);
        assert_eq!(transport.queued_messages(), 0);
        transport.send(bob, b"5".to_vec()).expect("5");
        CustomMessageHandler::peer_disconnected(&transport, bob);
        assert_eq!(transport.queued_messages(), 0);
        assert_eq!(
            transport.send(alice, vec![0; MAX_LSPS_PAYLOAD_BYTES + 1]),
            Err(LspsSendError::PayloadTooLarge { len_bytes: MAX_LSPS_PAYLOAD_BYTES + 1 })
        );
    }

    #[test]
    fn feature_bit_729_only_for_lsps() {
        let lsp = transport(true);
        let wallet = transport(false);
        assert!(advertises_lsps(lsp.provided_init_features(peer(1)).le_flags()));
        assert!(advertises_lsps(lsp.provided_node_features().le_flags()));
        assert!(!advertises_lsps(wallet.provided_init_features(peer(1)).le_flags()));
    }
}
