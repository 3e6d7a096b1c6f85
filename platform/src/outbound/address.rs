//! Which addresses outbound calls may reach: public unicast addresses, and whatever the
//! operator names in `LMS_OUTBOUND_ALLOW` (hosts or CIDR networks).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anyhow::Context;
use ipnetwork::IpNetwork;

/// The internal targets an installation may reach (tests' loopback receivers, a private
/// deployment's own services). Empty by default: only public addresses, over https.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    hosts: HashSet<String>,
    networks: Vec<IpNetwork>,
}

impl AllowList {
    /// `host, host, 10.1.0.0/16, 127.0.0.1, ::1` (commas, spaces around them ignored). A bare
    /// IP address allows that address alone.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut allow = Self::default();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if let Ok(ip) = entry.parse::<IpAddr>() {
                allow.networks.push(IpNetwork::from(ip));
            } else if entry.contains('/') {
                let network: IpNetwork = entry
                    .parse()
                    .with_context(|| format!("LMS_OUTBOUND_ALLOW: {entry:?} is not a network"))?;
                allow.networks.push(network);
            } else {
                let host = entry.trim_end_matches('.').to_ascii_lowercase();
                anyhow::ensure!(
                    !host.is_empty()
                        && host
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'),
                    "LMS_OUTBOUND_ALLOW: {entry:?} is neither a host name nor a network"
                );
                allow.hosts.insert(host);
            }
        }
        Ok(allow)
    }

    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty() && self.networks.is_empty()
    }

    /// Whether the host name (as written in a URL) is named in the list.
    pub fn names_host(&self, host: &str) -> bool {
        self.hosts
            .contains(&host.trim_end_matches('.').to_ascii_lowercase())
    }

    /// Whether the address lies in a listed network.
    pub fn names_ip(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.networks.iter().any(|n| n.contains(ip))
    }
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether an address is a public unicast address, the only kind reachable without the allow
/// list: not loopback, private, shared (carrier NAT), link-local (cloud metadata services
/// live there), unspecified, multicast, broadcast, reserved or documentation space, nor an IPv6
/// form that can carry one of those (mapped, NAT64, 6to4, Teredo).
pub fn is_public(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                    // "this network"
        || a == 10                              // private
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || a == 127                             // loopback
        || (a == 169 && b == 254)               // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))  // private
        || (a == 192 && b == 0 && c == 0)       // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)       // documentation
        || (a == 192 && b == 88 && c == 99)     // 6to4 relay anycast
        || (a == 192 && b == 168)               // private
        || (a == 198 && (b == 18 || b == 19))   // benchmarking
        || (a == 198 && b == 51 && c == 100)    // documentation
        || (a == 203 && b == 0 && c == 113)     // documentation
        || a >= 224) // multicast, reserved, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0) // v4-compatible, mapped
        || (s[0] == 0x64 && s[1] == 0xff9b)     // NAT64
        || (s[0] == 0x100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // discard
        || (s[0] == 0x2001 && s[1] == 0)        // Teredo
        || (s[0] == 0x2001 && s[1] == 0xdb8)    // documentation
        || s[0] == 0x2002                       // 6to4
        || (s[0] & 0xfe00) == 0xfc00            // unique local
        || (s[0] & 0xffc0) == 0xfe80            // link-local
        || (s[0] & 0xffc0) == 0xfec0            // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00) // multicast
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn only_public_unicast_addresses_are_public() {
        for refused in [
            "0.0.0.0",
            "10.1.2.3",
            "100.64.0.1",
            "127.0.0.1",
            "127.255.0.9",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "100::1",
            "2001::1",
            "2001:db8::1",
            "2002:7f00:1::1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(!is_public(ip(refused)), "{refused} passed as public");
        }
        for allowed in [
            "1.1.1.1",
            "8.8.8.8",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip(allowed)), "{allowed} refused");
        }
    }

    #[test]
    fn the_allow_list_names_hosts_networks_and_addresses() {
        let allow =
            AllowList::parse(" hooks.internal , 10.8.0.0/16, 127.0.0.1,::1 ").expect("parses");
        assert!(allow.names_host("HOOKS.internal."));
        assert!(!allow.names_host("other.internal"));
        assert!(allow.names_ip(ip("10.8.3.4")));
        assert!(!allow.names_ip(ip("10.9.0.1")));
        assert!(allow.names_ip(ip("127.0.0.1")));
        assert!(allow.names_ip(ip("::ffff:127.0.0.1")));
        assert!(!allow.names_ip(ip("127.0.0.2")));
        assert!(allow.names_ip(ip("::1")));
        assert!(AllowList::parse("").expect("empty").is_empty());
        assert!(AllowList::parse("10.0.0.0/99").is_err());
        assert!(AllowList::parse("bad host!").is_err());
    }
}
