//! Peer sockets for LDK's `PeerManager`: the tokio connection driver.
//!
//! This does the job of lightning-net-tokio 0.2 (read bytes into `read_event`, write what
//! `send_data` is given, pause and resume reads as LDK asks, report closed sockets) with two
//! socket settings that crate leaves alone, because the Lightning protocol is request/response
//! made of small messages and LDK writes each message with its own `send`:
//!
//! * **`TCP_NODELAY`**: without it (Nagle's algorithm) the second of two small writes
//!   (`update_add_htlc` then `commitment_signed`, `revoke_and_ack` then `commitment_signed`)
//!   waits until the first is acknowledged, and the peer delays that ACK (40 ms on Linux)
//!   because it has nothing to answer yet.
//! * **`TCP_QUICKACK` after every read** (Linux): acknowledges at once what we read, so a peer
//!   that still runs Nagle's algorithm (lightning-net-tokio and so ldk-node and most LDK
//!   wallets) sends its held `commitment_signed` without waiting for our delayed ACK. The flag is
//!   not permanent in Linux, hence once per read.
//!
//! Each took about 40 ms off a commitment exchange through the LSP: a first JIT payment (payer
//! send → wallet `PaymentClaimable`, `jit_bench --wallet inbound`, see the README) went from
//! p50 169 ms to 80 ms with NODELAY and to 36 ms with QUICKACK as well.
//!
//! One task per connection reads, waits for write space when a write was short, and calls
//! `process_events` after each read so answers go out at once.

use std::hash::{Hash, Hasher};
use std::io::ErrorKind;
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bitcoin::secp256k1::PublicKey;
use lightning::ln::msgs::SocketAddress;
use lightning::ln::peer_handler;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::error::{NodeError, NodeResult};
use crate::types::PeerManager;

/// Bytes read from a socket per `read_event` call (as lightning-net-tokio: big enough for most
/// messages, small enough that one busy peer does not starve the others).
const READ_BUFFER_BYTES: usize = 4096;
/// How long [`connect_outbound`] waits for the TCP connection.
pub(crate) const TCP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the first handshake bytes of an outbound connection may take to leave.
const FIRST_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(0);

/// One peer socket as LDK's `PeerManager` sees it (the `SocketDescriptor` type parameter).
/// Clones refer to the same connection; equality and hashing are by connection.
#[derive(Clone)]
pub struct PeerSocket {
    id: u64,
    shared: Arc<Shared>,
}

struct Shared {
    stream: TcpStream,
    state: Mutex<State>,
    /// Wakes the connection task after `state` changed.
    wake: Notify,
}

#[derive(Default)]
struct State {
    /// LDK asked us to stop reading (its outbound buffer for this peer is full).
    read_paused: bool,
    /// A write came up short; call `write_buffer_space_avail` when the socket is writable.
    want_write: bool,
    /// LDK asked to disconnect, or the task ended: write nothing more.
    closing: bool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl PeerSocket {
    /// Wraps a connected stream, with Nagle's algorithm off.
    fn new(stream: TcpStream) -> PeerSocket {
        let _ = stream.set_nodelay(true);
        let shared = Arc::new(Shared { stream, state: Mutex::new(State::default()), wake: Notify::new() });
        PeerSocket { id: NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed), shared }
    }

    fn remote_address(&self) -> Option<SocketAddress> {
        match self.shared.stream.peer_addr().ok()? {
            SocketAddr::V4(address) => {
                Some(SocketAddress::TcpIpV4 { addr: address.ip().octets(), port: address.port() })
            }
            SocketAddr::V6(address) => {
                Some(SocketAddress::TcpIpV6 { addr: address.ip().octets(), port: address.port() })
            }
        }
    }
}

impl peer_handler::SocketDescriptor for PeerSocket {
    fn send_data(&mut self, data: &[u8], continue_read: bool) -> usize {
        let mut state = self.shared.state();
        if state.closing {
            return 0;
        }
        let mut wake = continue_read && state.read_paused;
        state.read_paused = !continue_read;
        let mut written = 0;
        while written < data.len() {
            match self.shared.stream.try_write(&data[written..]) {
                Ok(0) => break,
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    state.want_write = true;
                    wake = true;
                    break;
                }
                // The read side sees the broken socket and reports it.
                Err(_) => break,
            }
        }
        drop(state);
        if wake {
            self.shared.wake.notify_one();
        }
        written
    }

    fn disconnect_socket(&mut self) {
        self.shared.state().closing = true;
        self.shared.wake.notify_one();
    }
}

impl PartialEq for PeerSocket {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for PeerSocket {}

impl Hash for PeerSocket {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl std::fmt::Debug for PeerSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PeerSocket({})", self.id)
    }
}

/// Hands an accepted connection to the peer manager and drives it until it closes.
pub(crate) fn setup_inbound(peer_manager: Arc<PeerManager>, stream: TcpStream) {
    let socket = PeerSocket::new(stream);
    let remote = socket.remote_address();
    // Refused (e.g. too many connections): LDK wants no `socket_disconnected` then.
    if peer_manager.new_inbound_connection(socket.clone(), remote).is_ok() {
        tokio::spawn(drive(peer_manager, socket));
    }
}

/// Connects to `peer` at `address` (within [`TCP_CONNECT_TIMEOUT`]), starts the handshake and
/// drives the connection; the handle finishes when the connection closes.
pub(crate) async fn connect_outbound(
    peer_manager: Arc<PeerManager>,
    peer: PublicKey,
    address: SocketAddr,
) -> NodeResult<JoinHandle<()>> {
    let stream = match tokio::time::timeout(TCP_CONNECT_TIMEOUT, TcpStream::connect(address)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(NodeError::Connection(format!("TCP connect to {address} failed: {e}"))),
        Err(_) => return Err(NodeError::Connection(format!("TCP connect to {address} timed out"))),
    };
    let socket = PeerSocket::new(stream);
    let remote = socket.remote_address();
    let first = peer_manager
        .new_outbound_connection(peer, socket.clone(), remote)
        .map_err(|_| NodeError::Connection(format!("{peer} at {address}: handshake refused")))?;
    Ok(tokio::spawn(async move {
        match tokio::time::timeout(FIRST_WRITE_TIMEOUT, write_all(&socket.shared.stream, &first)).await {
            Ok(Ok(())) => drive(peer_manager, socket).await,
            _ => {
                shut(&socket);
                peer_manager.socket_disconnected(&socket);
            }
        }
    }))
}

async fn write_all(stream: &TcpStream, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        stream.writable().await?;
        match stream.try_write(data) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Why a connection's task ended.
enum Ended {
    /// LDK disconnected it (`disconnect_socket` or an `Err` from the peer manager): LDK already
    /// forgot the peer and must not hear of it again.
    ByLdk,
    /// The socket closed or failed: LDK must be told.
    ByPeer,
}

async fn drive(peer_manager: Arc<PeerManager>, mut socket: PeerSocket) {
    let shared = Arc::clone(&socket.shared);
    let mut buffer = vec![0u8; READ_BUFFER_BYTES];
    let ended = loop {
        let (read_paused, want_write) = {
            let state = shared.state();
            if state.closing {
                break Ended::ByLdk;
            }
            (state.read_paused, state.want_write)
        };
        tokio::select! {
            _ = shared.wake.notified() => continue,
            ready = shared.stream.writable(), if want_write => {
                shared.state().want_write = false;
                if ready.is_err() {
                    break Ended::ByPeer;
                }
                if peer_manager.write_buffer_space_avail(&mut socket).is_err() {
                    break Ended::ByLdk;
                }
            }
            ready = shared.stream.readable(), if !read_paused => {
                if ready.is_err() {
                    break Ended::ByPeer;
                }
                match shared.stream.try_read(&mut buffer) {
                    Ok(0) => break Ended::ByPeer,
                    Ok(n) => {
                        quick_ack(&shared.stream);
                        if peer_manager.read_event(&mut socket, &buffer[..n]).is_err() {
                            break Ended::ByLdk;
                        }
                    }
                    // `readable` may wake spuriously.
                    Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                    Err(_) => break Ended::ByPeer,
                }
            }
        }
        peer_manager.process_events();
        // Let other connections run between two reads of a busy peer.
        tokio::task::yield_now().await;
    };
    shut(&socket);
    if let Ended::ByPeer = ended {
        peer_manager.socket_disconnected(&socket);
        peer_manager.process_events();
    }
}

/// Stops all writes and closes both directions of the socket (the peer sees the close even while
/// LDK still holds a clone of the descriptor).
fn shut(socket: &PeerSocket) {
    socket.shared.state().closing = true;
    let _ = socket2::SockRef::from(&socket.shared.stream).shutdown(Shutdown::Both);
}

/// Acknowledges what was just read without the kernel's delayed-ACK wait (see the module docs).
fn quick_ack(stream: &TcpStream) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let _ = socket2::SockRef::from(stream).set_tcp_quickack(true);
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = stream;
}

#[cfg(test)]
mod tests {
    use lightning::ln::peer_handler::SocketDescriptor;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    use super::*;

    async fn pair() -> (PeerSocket, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (ours, theirs) = tokio::join!(TcpStream::connect(address), listener.accept());
        (PeerSocket::new(ours.expect("connect")), theirs.expect("accept").0)
    }

    /// Nagle is off on every peer socket, and the remote address is what LDK is told.
    #[tokio::test]
    async fn sockets_have_nagle_off_and_report_the_remote_address() {
        let (socket, theirs) = pair().await;
        assert!(socket.shared.stream.nodelay().expect("nodelay"));
        let port = theirs.local_addr().expect("address").port();
        assert_eq!(socket.remote_address(), Some(SocketAddress::TcpIpV4 { addr: [127, 0, 0, 1], port }));
        assert_ne!(socket, PeerSocket::new(theirs), "descriptors compare by connection");
    }

    /// After a read the driver switches the socket to quick ACKs (the kernel may leave the mode
    /// again later, which is why it is set after every read).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[tokio::test]
    async fn quick_ack_switches_the_socket_to_immediate_acks() {
        let (socket, _theirs) = pair().await;
        let stream = &socket.shared.stream;
        socket2::SockRef::from(stream).set_tcp_quickack(false).expect("clear");
        assert!(!socket2::SockRef::from(stream).tcp_quickack().expect("read"));
        quick_ack(stream);
        assert!(socket2::SockRef::from(stream).tcp_quickack().expect("read"));
    }

    /// A write larger than the kernel buffers comes back short and asks for write space; what was
    /// accepted arrives intact; after `disconnect_socket` nothing more is written.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn short_writes_ask_for_space_and_a_disconnect_stops_writes() {
        let (mut socket, mut theirs) = pair().await;
        socket.shared.stream.writable().await.expect("writable");
        let data: Vec<u8> = (0..64 * 1024 * 1024).map(|i: u32| (i % 251) as u8).collect();
        let written = socket.send_data(&data, true);
        assert!(written > 0 && written < data.len(), "short write: {written}");
        assert!(socket.shared.state().want_write, "the task is asked to wait for space");
        assert!(!socket.shared.state().read_paused);

        let mut received = vec![0u8; written];
        theirs.read_exact(&mut received).await.expect("read what was written");
        assert!(received == data[..written], "bytes arrive in order and intact");

        assert_eq!(socket.send_data(&[], false), 0);
        assert!(socket.shared.state().read_paused, "continue_read = false pauses reads");
        assert_eq!(socket.send_data(&[], true), 0);
        assert!(!socket.shared.state().read_paused);

        socket.disconnect_socket();
        assert_eq!(socket.send_data(b"late", true), 0, "nothing is written after a disconnect");
    }
}
