//! The client IP behind trusted reverse proxies: [`IpNet`] and [`client_ip`].
//!
//! `X-Forwarded-For` is a list each proxy appends its peer to, so only its right end is written
//! by proxies we trust; anything to the left may be forged by the client. [`client_ip`] walks it
//! from the right, skipping trusted proxies, and stops at the first address that is not one.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// The most `X-Forwarded-For` entries looked at; a longer chain is cut at this many from the
/// right (bounding the work a client can cause).
pub const MAX_FORWARDED_HOPS: usize = 32;

/// An IP network: an address and a prefix length (`10.0.0.0/8`, `2001:db8::/32`), or one
/// address (`192.0.2.1`, meaning `/32` or `/128`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    address: IpAddr,
    prefix: u8,
}

/// A string that is not an [`IpNet`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or CIDR network (e.g. 10.0.0.1, 10.0.0.0/8, 2001:db8::/32)")]
pub struct IpNetError(pub String);

impl IpNet {
    /// Whether `ip` is in this network. IPv4-mapped IPv6 addresses count as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for IpNet {
    type Err = IpNetError;

    fn from_str(text: &str) -> Result<IpNet, IpNetError> {
        let error = || IpNetError(text.to_owned());
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => {
                let digits = !prefix.is_empty() && prefix.len() <= 3 && prefix.bytes().all(|b| b.is_ascii_digit());
                (address, Some(prefix).filter(|_| digits).ok_or_else(error)?.parse::<u8>().map_err(|_| error())?)
            }
            None => (text, u8::MAX),
        };
        let address = canonical(address.parse::<IpAddr>().map_err(|_| error())?);
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = if prefix == u8::MAX { max } else { prefix };
        if prefix > max {
            return Err(error());
        }
        Ok(IpNet { address, prefix })
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.address, self.prefix)
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The address a request is attributed to (for the per-IP rate limit).
///
/// `peer` is the TCP peer. If it is not in `trusted`, it is the answer and `forwarded_for` is
/// ignored. Otherwise the `X-Forwarded-For` values (`forwarded_for`, in header order, each a
/// comma-separated list) are read from the right: the first address not in `trusted` is the
/// client. If every address is trusted, the left-most one is. An entry that is not an IP
/// address (ports and brackets are accepted: `192.0.2.1:443`, `[2001:db8::1]:443`) stops the
/// walk, and the last trusted hop is the answer, since what lies beyond it is unreliable.
pub fn client_ip<'a>(peer: IpAddr, forwarded_for: impl IntoIterator<Item = &'a str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let entries: Vec<&str> = forwarded_for.into_iter().flat_map(|value| value.split(',')).collect();
    let mut current = peer;
    for entry in entries.iter().rev().take(MAX_FORWARDED_HOPS) {
        let Some(ip) = parse_entry(entry) else { return current };
        current = ip;
        if !is_trusted(ip) {
            return ip;
        }
    }
    current
}

fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = entry.strip_prefix('[') {
        let (address, _) = rest.split_once(']')?;
        return address.parse::<IpAddr>().ok().map(canonical);
    }
    let (address, port) = entry.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    address.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|net| net.parse().expect("net")).collect()
    }

    #[test]
    fn networks_parse_and_match() {
        let net: IpNet = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains(ip("10.1.200.3")) && !net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.9")), "IPv4-mapped counts as IPv4");
        let one: IpNet = "192.0.2.7".parse().unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        assert_eq!(one.to_string(), "192.0.2.7/32");
        let v6: IpNet = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        assert!("0.0.0.0/0".parse::<IpNet>().unwrap().contains(ip("8.8.8.8")));
        assert!("::/0".parse::<IpNet>().unwrap().contains(ip("2001:db8::1")));
        for bad in
            ["", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "::/129", "example.com", "10.0.0.0/8/8", "10.0.0.0/+8"]
        {
            assert!(bad.parse::<IpNet>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted = nets(&["10.0.0.1"]);
        assert_eq!(client_ip(ip("203.0.113.9"), ["198.51.100.1"], &trusted), ip("203.0.113.9"));
        assert_eq!(client_ip(ip("203.0.113.9"), ["198.51.100.1"], &[]), ip("203.0.113.9"));
    }

    #[test]
    fn the_right_most_untrusted_address_is_the_client() {
        let trusted = nets(&["10.0.0.0/8", "2001:db8:ffff::/48"]);
        // The client forged the left entry; the proxy appended the real one.
        assert_eq!(client_ip(ip("10.0.0.1"), ["1.1.1.1, 198.51.100.7"], &trusted), ip("198.51.100.7"));
        // Two proxies, the second one's peer is the first proxy.
        assert_eq!(client_ip(ip("10.0.0.1"), ["1.1.1.1, 198.51.100.7, 10.9.9.9"], &trusted), ip("198.51.100.7"));
        // Several headers are one list, in order.
        assert_eq!(client_ip(ip("10.0.0.1"), ["1.1.1.1", "198.51.100.7 , 10.2.2.2"], &trusted), ip("198.51.100.7"));
        // IPv6 client, ports and brackets.
        assert_eq!(client_ip(ip("2001:db8:ffff::2"), ["[2001:db8:1::5]:443"], &trusted), ip("2001:db8:1::5"));
        assert_eq!(client_ip(ip("10.0.0.1"), ["198.51.100.7:5000"], &trusted), ip("198.51.100.7"));
    }

    #[test]
    fn all_trusted_missing_or_garbage_entries() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(client_ip(ip("10.0.0.1"), ["10.0.0.2, 10.0.0.3"], &trusted), ip("10.0.0.2"));
        assert_eq!(client_ip(ip("10.0.0.1"), [], &trusted), ip("10.0.0.1"));
        assert_eq!(client_ip(ip("10.0.0.1"), ["198.51.100.7, garbage"], &trusted), ip("10.0.0.1"));
        assert_eq!(client_ip(ip("10.0.0.1"), ["198.51.100.7, garbage, 10.0.0.5"], &trusted), ip("10.0.0.5"));
        assert_eq!(client_ip(ip("10.0.0.1"), [""], &trusted), ip("10.0.0.1"));
    }

    #[test]
    fn long_chains_are_cut() {
        let trusted = nets(&["10.0.0.0/8"]);
        let chain = vec!["10.0.0.9"; 100].join(",");
        let forged = format!("198.51.100.1,{chain}");
        assert_eq!(client_ip(ip("10.0.0.1"), [forged.as_str()], &trusted), ip("10.0.0.9"));
    }
}
