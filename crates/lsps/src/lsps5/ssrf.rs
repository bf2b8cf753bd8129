//! The SSRF guard for webhook delivery (digest §7, "[ours] SSRF on the LSP").
//!
//! Webhook URLs come from clients, so an LSP that POSTs to them blindly can be made to
//! reach its own loopback, LAN or cloud metadata service. The LSP must therefore resolve the
//! host itself, call [`is_forbidden_ip`] on **every** resolved address, connect only to an
//! address that passed (not re-resolve, which would reopen a DNS-rebinding race), and never
//! follow redirects. This module is pure: it never resolves anything.
//!
//! Forbidden:
//!
//! * IPv4: `0.0.0.0/8` (this network, unspecified), `10/8`, `100.64/10` (CGNAT), `127/8`,
//!   `169.254/16` (link-local, cloud metadata), `172.16/12`, `192.0.0/24` (IETF),
//!   `192.0.2/24`, `198.51.100/24`, `203.0.113/24` (documentation), `192.88.99/24` (6to4
//!   relay), `192.168/16`, `198.18/15` (benchmarking), `224/4` (multicast), `240/4`
//!   (reserved, broadcast).
//! * IPv6: everything outside global unicast `2000::/3` (so `::`, `::1`, `fc00::/7`,
//!   `fe80::/10`, `fec0::/10`, `ff00::/8`, `100::/64`, `64:ff9b:1::/48`, …), and inside it
//!   `2001::/23` (IETF: Teredo, benchmarking, ORCHID), `2001:db8::/32` and `3fff::/20`
//!   (documentation).
//! * Addresses that embed an IPv4 address are judged by it: IPv4-mapped `::ffff:0:0/96`,
//!   NAT64 `64:ff9b::/96` and 6to4 `2002::/16`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Forbidden IPv4 networks, as (network, prefix length).
const FORBIDDEN_V4: [(Ipv4Addr, u32); 15] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8),
    (Ipv4Addr::new(10, 0, 0, 0), 8),
    (Ipv4Addr::new(100, 64, 0, 0), 10),
    (Ipv4Addr::new(127, 0, 0, 0), 8),
    (Ipv4Addr::new(169, 254, 0, 0), 16),
    (Ipv4Addr::new(172, 16, 0, 0), 12),
    (Ipv4Addr::new(192, 0, 0, 0), 24),
    (Ipv4Addr::new(192, 0, 2, 0), 24),
    (Ipv4Addr::new(192, 88, 99, 0), 24),
    (Ipv4Addr::new(192, 168, 0, 0), 16),
    (Ipv4Addr::new(198, 18, 0, 0), 15),
    (Ipv4Addr::new(198, 51, 100, 0), 24),
    (Ipv4Addr::new(203, 0, 113, 0), 24),
    (Ipv4Addr::new(224, 0, 0, 0), 4),
    (Ipv4Addr::new(240, 0, 0, 0), 4),
];

/// Forbidden networks inside IPv6 global unicast (`2000::/3`).
const FORBIDDEN_V6_GLOBAL: [(Ipv6Addr, u32); 3] = [
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23),
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32),
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20),
];

/// Whether the LSP must refuse to send a webhook to `ip`: loopback, private, link-local,
/// CGNAT, unique-local, multicast, unspecified, documentation and other non-public ranges,
/// including IPv4 addresses wrapped in IPv6. See the module docs for the full list.
pub fn is_forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_forbidden_v4(ip),
        IpAddr::V6(ip) => is_forbidden_v6(ip),
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let ip = u32::from(ip);
    FORBIDDEN_V4.iter().any(|&(network, len)| {
        let mask = u32::MAX << (32 - len);
        ip & mask == u32::from(network)
    })
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    if let Some(embedded) = embedded_v4(ip) {
        return is_forbidden_v4(embedded);
    }
    let bits = u128::from(ip);
    let in_network = |network: Ipv6Addr, len: u32| bits & (u128::MAX << (128 - len)) == u128::from(network);
    if !in_network(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3) {
        return true;
    }
    FORBIDDEN_V6_GLOBAL.iter().any(|&(network, len)| in_network(network, len))
}

/// The IPv4 address inside an IPv4-mapped, NAT64 (well-known prefix) or 6to4 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let octets = ip.octets();
    let low = Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]);
    match ip.segments() {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x2002, _, _, _, _, _, _, _] => Some(Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forbidden(text: &str) -> bool {
        is_forbidden_ip(text.parse().unwrap_or_else(|_| panic!("{text} is an IP")))
    }

    #[test]
    fn private_and_special_ipv4_is_forbidden() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.7",
            "224.0.0.1",
            "239.255.255.255",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(forbidden(ip), "{ip} should be forbidden");
        }
    }

    #[test]
    fn public_ipv4_is_allowed() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.255",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "203.0.114.0",
            "223.255.255.255",
        ] {
            assert!(!forbidden(ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn special_ipv6_is_forbidden() {
        for ip in [
            "::",
            "::1",
            "::127.0.0.1",
            "::8.8.8.8",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            "100::1",
            "64:ff9b:1::1",
            "2001::1",
            "2001:0:4136:e378::1",
            "2001:2::1",
            "2001:1ff:ffff::1",
            "2001:db8::1",
            "2001:db8:ffff::1",
            "3fff::1",
            "3fff:fff::1",
            "4000::1",
            "5f00::1",
        ] {
            assert!(forbidden(ip), "{ip} should be forbidden");
        }
    }

    #[test]
    fn public_ipv6_is_allowed() {
        for ip in [
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "2001:200::1",
            "2001:db9::1",
            "3ffe::1",
            "3fff:1000::1",
            "2000::1",
        ] {
            assert!(!forbidden(ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn embedded_ipv4_is_judged_by_its_ipv4() {
        for ip in [
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "64:ff9b::10.0.0.1",
            "64:ff9b::7f00:1",
            "2002:c0a8:0101::1",
            "2002:7f00:1::",
        ] {
            assert!(forbidden(ip), "{ip} should be forbidden");
        }
        for ip in ["::ffff:8.8.8.8", "64:ff9b::1.1.1.1", "2002:0808:0808::1"] {
            assert!(!forbidden(ip), "{ip} should be allowed");
        }
    }
}
