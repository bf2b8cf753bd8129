//! Peers: `LSPS0.pubkey` and `LSPS0.connection_string`.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use bitcoin::secp256k1::PublicKey;

use super::{serde_via_str, SchemaError};

/// `LSPS0.pubkey`: a node id, the 33-byte compressed point in hex. Written lowercase (LSPS0
/// requires lowercase wherever the value is hashed or signed); either case is read, and the
/// point must lie on the curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub PublicKey);

impl NodeId {
    /// The 33 serialised bytes.
    pub fn serialize(&self) -> [u8; 33] {
        self.0.serialize()
    }
}

impl From<PublicKey> for NodeId {
    fn from(key: PublicKey) -> Self {
        NodeId(key)
    }
}

impl FromStr for NodeId {
    type Err = SchemaError;

    fn from_str(text: &str) -> Result<Self, SchemaError> {
        if text.len() != 66 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SchemaError::NodeId);
        }
        let mut bytes = [0u8; 33];
        for (index, byte) in bytes.iter_mut().enumerate() {
            let pair = &text[index * 2..index * 2 + 2];
            *byte = u8::from_str_radix(pair, 16).map_err(|_| SchemaError::NodeId)?;
        }
        PublicKey::from_slice(&bytes).map(NodeId).map_err(|_| SchemaError::NodeId)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

serde_via_str!(NodeId, "a 33-byte compressed public key in hex");

/// The host part of a connection string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address, written unbracketed in LSPS0.
    Ipv6(Ipv6Addr),
    /// A Tor v3 onion service (56 base32 characters + `.onion`).
    TorV3(String),
    /// A DNS host name.
    Dns(String),
}

impl FromStr for Host {
    type Err = SchemaError;

    fn from_str(text: &str) -> Result<Self, SchemaError> {
        if let Ok(ip) = text.parse::<Ipv4Addr>() {
            return Ok(Host::Ipv4(ip));
        }
        if let Ok(ip) = text.parse::<Ipv6Addr>() {
            return Ok(Host::Ipv6(ip));
        }
        let lower = text.to_ascii_lowercase();
        if let Some(service) = lower.strip_suffix(".onion") {
            let base32 = |b: u8| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b);
            if service.len() == 56 && service.bytes().all(base32) {
                return Ok(Host::TorV3(lower));
            }
            return Err(SchemaError::ConnectionString("only Tor v3 onion addresses are supported"));
        }
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if lower.len() <= 253 && lower.split('.').all(label_ok) {
            return Ok(Host::Dns(lower));
        }
        Err(SchemaError::ConnectionString("host is not an IP address, onion address or DNS name"))
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ipv4(ip) => write!(f, "{ip}"),
            Host::Ipv6(ip) => write!(f, "{ip}"),
            Host::TorV3(name) | Host::Dns(name) => f.write_str(name),
        }
    }
}

/// `LSPS0.connection_string`: `"<node id>@<host>:<port>"`. The host runs from the first `@`
/// to the last `:`, so IPv6 hosts appear unbracketed (`…@::1:9735`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConnectionString {
    /// The node to connect to.
    pub node_id: NodeId,
    /// Where it listens.
    pub host: Host,
    /// The TCP port.
    pub port: u16,
}

impl FromStr for ConnectionString {
    type Err = SchemaError;

    fn from_str(text: &str) -> Result<Self, SchemaError> {
        let (node_id, address) = text.split_once('@').ok_or(SchemaError::ConnectionString("missing @"))?;
        let (host, port) = address.rsplit_once(':').ok_or(SchemaError::ConnectionString("missing :port"))?;
        let node_id = node_id.parse().map_err(|_| SchemaError::ConnectionString("bad node id"))?;
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host).parse()?;
        if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SchemaError::ConnectionString("port is not a number"));
        }
        let port = port.parse::<u16>().map_err(|_| SchemaError::ConnectionString("port out of range"))?;
        if port == 0 {
            return Err(SchemaError::ConnectionString("port 0"));
        }
        Ok(ConnectionString { node_id, host, port })
    }
}

impl fmt::Display for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}:{}", self.node_id, self.host, self.port)
    }
}

serde_via_str!(ConnectionString, "a connection string <node id>@<host>:<port>");

#[cfg(test)]
mod tests {
    use super::*;

    const G: &str = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";

    #[test]
    fn node_ids() {
        let id: NodeId = G.parse().unwrap();
        assert_eq!(id.to_string(), G);
        assert_eq!(G.to_ascii_uppercase().parse::<NodeId>(), Ok(id));
        // 0x04 prefix, off-curve x, wrong length, non-hex.
        for bad in [&G.replacen("02", "04", 1), &format!("02{}", "ff".repeat(32)), &G[..64], &G.replace('b', "g")] {
            assert!(bad.parse::<NodeId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn connection_strings() {
        let lsp = "02e6411d8e0ae3b715dedde8e9dfc9d3759eeca9899d168984c34e6ff5aa213606";
        let parsed: ConnectionString = format!("{lsp}@::1:9735").parse().unwrap();
        assert_eq!(parsed.host, Host::Ipv6(Ipv6Addr::LOCALHOST));
        assert_eq!(parsed.port, 9735);
        assert_eq!(parsed.to_string(), format!("{lsp}@::1:9735"));
        let parsed: ConnectionString = format!("{lsp}@203.0.113.7:9735").parse().unwrap();
        assert_eq!(parsed.host, Host::Ipv4(Ipv4Addr::new(203, 0, 113, 7)));
        let onion = format!("{lsp}@{}.onion:9735", "a".repeat(56));
        assert!(matches!(onion.parse::<ConnectionString>().unwrap().host, Host::TorV3(_)));
        assert!(matches!(
            format!("{lsp}@lsp.example.com:9735").parse::<ConnectionString>().unwrap().host,
            Host::Dns(_)
        ));
        for bad in [
            format!("{lsp}@host"),
            format!("{lsp}@host:0"),
            format!("{lsp}@host:65536"),
            format!("{lsp}@-bad-.com:1"),
            format!("{lsp}@short.onion:1"),
            "nothex@host:1".to_string(),
            "no-at-sign:1".to_string(),
        ] {
            assert!(bad.parse::<ConnectionString>().is_err(), "{bad}");
        }
    }
}
