//! Where a client's node can be reached, as the client said over a transport that is not its
//! Lightning connection (HTTP's `x-inbound-node-address`, an Inbound extension): a bounded map
//! from node id to the last `host:port` it gave, read by the services that must open a channel
//! to a client that is not connected ([`PeerAddressBook`]), and the address rules
//! ([`validate_node_address`]).
//!
//! The address is only a hint: BOLT8 authenticates the node id on connection, so a wrong or
//! hostile address cannot impersonate the client; it can only fail to connect. Private,
//! loopback and link-local IPs are refused at connection time unless configured
//! ([`is_public_ip`]).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;

use bitcoin::secp256k1::PublicKey;

/// The longest address accepted (`host:port`; a DNS name is at most 253 characters).
pub const MAX_NODE_ADDRESS_LEN: usize = 261;
/// How many clients' addresses are remembered; the oldest are forgotten first.
pub const MAX_REMEMBERED_ADDRESSES: usize = 4_096;

/// Checks `address` is `host:port` like an LSPS `ConnectionString`'s address part: an IPv4
/// address, a bracketed IPv6 address or a DNS name, then a non-zero port; at most
/// [`MAX_NODE_ADDRESS_LEN`] characters.
///
/// # Errors
/// A message saying what is wrong.
pub fn validate_node_address(address: &str) -> Result<(), String> {
    if address.is_empty() || address.len() > MAX_NODE_ADDRESS_LEN {
        return Err(format!("must be host:port of at most {MAX_NODE_ADDRESS_LEN} characters"));
    }
    let (host, port) = address.rsplit_once(':').ok_or("must be host:port")?;
    let port_ok = !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    if !port_ok || port.parse::<u16>().map_or(true, |port| port == 0) {
        return Err("the port must be 1 to 65535".into());
    }
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().map(|_| ()).map_err(|_| "[…] must hold an IPv6 address".into());
    }
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        return Ok(());
    }
    let labels_ok = host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if labels_ok {
        Ok(())
    } else {
        Err("the host must be an IPv4 address, a bracketed IPv6 address or a DNS name".into())
    }
}

/// Whether `ip` is publicly routable: not loopback, private, link-local, unspecified,
/// multicast, shared (100.64/10), documentation or unique-local.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_ip(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

#[derive(Default)]
struct Book {
    addresses: HashMap<PublicKey, String>,
    order: VecDeque<PublicKey>,
}

/// The last address each client gave, for at most [`MAX_REMEMBERED_ADDRESSES`] clients.
#[derive(Default)]
pub struct PeerAddressBook {
    book: Mutex<Book>,
}

impl PeerAddressBook {
    /// An empty book.
    pub fn new() -> PeerAddressBook {
        PeerAddressBook::default()
    }

    /// Remembers `address` (already [validated](validate_node_address)) for `peer`, replacing
    /// what it said before; forgets the oldest client when full.
    pub fn note(&self, peer: PublicKey, address: String) {
        let mut book = self.book.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if book.addresses.insert(peer, address).is_none() {
            book.order.push_back(peer);
            while book.order.len() > MAX_REMEMBERED_ADDRESSES {
                if let Some(oldest) = book.order.pop_front() {
                    book.addresses.remove(&oldest);
                }
            }
        }
    }

    /// The last address `peer` gave, if remembered.
    pub fn get(&self, peer: &PublicKey) -> Option<String> {
        self.book.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).addresses.get(peer).cloned()
    }

    /// How many clients are remembered.
    pub fn len(&self) -> usize {
        self.book.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).addresses.len()
    }

    /// Whether no client is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_host_and_port() {
        for good in ["127.0.0.1:9735", "[::1]:9735", "node.example.com:9735", "a:1", "lsp-1.example:65535"] {
            assert_eq!(validate_node_address(good), Ok(()), "{good}");
        }
        let long = format!("{}:9735", "a".repeat(300));
        for bad in ["", "127.0.0.1", "host:0", "host:65536", "host:x", ":9735", "[::1:9735", "::1:9735", "a..b:1"] {
            assert!(validate_node_address(bad).is_err(), "{bad}");
        }
        assert!(validate_node_address(&long).is_err());
        assert!(validate_node_address("-a.example:1").is_err());
        assert!(validate_node_address("a b:1").is_err());
    }

    #[test]
    fn private_addresses_are_not_public() {
        for private in
            ["127.0.0.1", "10.1.2.3", "192.168.1.1", "172.16.0.1", "169.254.1.1", "100.64.0.1", "::1", "fd00::1"]
        {
            assert!(!is_public_ip(private.parse().expect("ip")), "{private}");
        }
        for public in ["8.8.8.8", "2001:4860:4860::8888", "::ffff:8.8.8.8"] {
            assert!(is_public_ip(public.parse().expect("ip")), "{public}");
        }
        assert!(!is_public_ip("::ffff:127.0.0.1".parse().expect("ip")));
    }

    #[test]
    fn the_book_is_bounded_and_keeps_the_last_address() {
        let secp = bitcoin::secp256k1::Secp256k1::signing_only();
        let key = |i: u32| {
            let mut bytes = [0u8; 32];
            bytes[28..].copy_from_slice(&(i + 1).to_be_bytes());
            bitcoin::secp256k1::SecretKey::from_slice(&bytes).expect("key").public_key(&secp)
        };
        let book = PeerAddressBook::new();
        book.note(key(0), "a:1".into());
        book.note(key(0), "b:2".into());
        assert_eq!(book.get(&key(0)).as_deref(), Some("b:2"));
        for i in 1..=MAX_REMEMBERED_ADDRESSES as u32 {
            book.note(key(i), "c:3".into());
        }
        assert_eq!(book.len(), MAX_REMEMBERED_ADDRESSES);
        assert_eq!(book.get(&key(0)), None, "the oldest is forgotten");
    }
}
