//! DHCPv4 Controller discovery (TR-369 discovery section, R-DIS.1; TP-469
//! 8.1-8.2): the Agent names USP in option 124 (V-I Vendor Class,
//! enterprise 3561, "usp") and the server answers in option 125 with the
//! Controller's URL, the ProvisioningCode, the notify retry parameters and
//! the Controller's Endpoint ID. `codec` is the wire format, free of I/O;
//! `server` is the harness's server on a test interface, `client` the
//! reference Agent's. Both speak real broadcast DHCP on one named
//! interface and nowhere else (the tests make that interface a veth pair
//! between two network namespaces).

pub mod client;
mod codec;
pub mod dns;
pub mod names;
pub mod server;
mod server6;
pub mod v6;

pub use codec::*;
pub use server::{DhcpHandle, DhcpServer};

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// A UDP socket on `at`, sending and receiving on the interface
/// `interface` only (SO_BINDTODEVICE), broadcasts allowed: what both ends
/// of DHCP need before either has an address to speak from (bound to every
/// address), and the DNS responder on the interface's own address.
pub fn interface_socket(
    interface: &str,
    at: SocketAddrV4,
) -> std::io::Result<tokio::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_broadcast(true)?;
    socket.bind_device(Some(interface.as_bytes()))?;
    socket.bind(&SocketAddr::V4(at).into())?;
    socket.set_nonblocking(true)?;
    tokio::net::UdpSocket::from_std(socket.into())
}

/// A UDP socket on `[::]:port` of the interface `interface` only, IPv6
/// only; with `all_servers` it also joins All_DHCP_Relay_Agents_and_Servers
/// there (the DHCPv6 server).
pub fn interface_socket6(
    interface: &str,
    port: u16,
    all_servers: bool,
) -> std::io::Result<tokio::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_only_v6(true)?;
    socket.bind_device(Some(interface.as_bytes()))?;
    socket.bind(&SocketAddr::new(std::net::Ipv6Addr::UNSPECIFIED.into(), port).into())?;
    if all_servers {
        socket.join_multicast_v6(&v6::ALL_SERVERS, interface_index(interface)?)?;
    }
    socket.set_nonblocking(true)?;
    tokio::net::UdpSocket::from_std(socket.into())
}

/// The interface's index (for IPv6 scopes and multicast membership).
pub fn interface_index(interface: &str) -> std::io::Result<u32> {
    let path = format!("/sys/class/net/{interface}/ifindex");
    std::fs::read_to_string(&path)?
        .trim()
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{path}: {e}")))
}

/// The interface's first IPv6 address that is not link-local (the DHCPv6
/// server hands out addresses of its /64), if it has one.
pub fn interface_ipv6(interface: &str) -> Option<std::net::Ipv6Addr> {
    if_addrs::get_if_addrs()
        .ok()?
        .into_iter()
        .filter(|i| i.name == interface)
        .find_map(|i| match i.addr {
            if_addrs::IfAddr::V6(v6) if (v6.ip.segments()[0] & 0xffc0) != 0xfe80 => Some(v6.ip),
            _ => None,
        })
}

/// The interface's first IPv4 address and its netmask.
pub fn interface_ipv4(interface: &str) -> Result<(Ipv4Addr, Ipv4Addr), String> {
    let all = if_addrs::get_if_addrs().map_err(|e| format!("cannot list interfaces: {e}"))?;
    all.iter()
        .filter(|i| i.name == interface)
        .find_map(|i| match &i.addr {
            if_addrs::IfAddr::V4(v4) => Some((v4.ip, v4.netmask)),
            _ => None,
        })
        .ok_or_else(|| {
            let names: std::collections::BTreeSet<&str> =
                all.iter().map(|i| i.name.as_str()).collect();
            format!(
                "interface {interface} has no IPv4 address (interfaces here: {})",
                names.into_iter().collect::<Vec<_>>().join(", ")
            )
        })
}

/// The interface's hardware (MAC) address, from sysfs.
pub fn interface_mac(interface: &str) -> Result<[u8; 6], String> {
    let path = format!("/sys/class/net/{interface}/address");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read the MAC address of {interface} ({path}): {e}"))?;
    parse_mac(text.trim()).ok_or_else(|| format!("{path}: {:?} is not a MAC address", text.trim()))
}

/// The host of a `scheme://host[:port]/path` URL (an IPv6 literal keeps
/// its brackets), and the URL with that host replaced by `host`.
pub fn url_host(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let host = match authority.find(']') {
        Some(end) => &authority[..=end],
        None => authority.split(':').next()?,
    };
    (!host.is_empty()).then_some(host)
}

/// `url` with its host replaced by `host`.
pub fn with_host(url: &str, host: &str) -> Option<String> {
    let old = url_host(url)?;
    let at = url.find("://")? + 3;
    let start = at + url[at..].find(old)?;
    Some(format!(
        "{}{host}{}",
        &url[..start],
        &url[start + old.len()..]
    ))
}

/// Whether a URL host is a name to resolve rather than an address.
pub fn is_name(host: &str) -> bool {
    host.trim_matches(['[', ']'])
        .parse::<std::net::IpAddr>()
        .is_err()
}

fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

#[cfg(test)]
mod tests {
    #[test]
    fn url_hosts_are_found_and_replaced() {
        use super::{is_name, url_host, with_host};
        let u = "ws://controller.plugfest.test:18765/usp-controller";
        assert_eq!(url_host(u), Some("controller.plugfest.test"));
        assert_eq!(
            with_host(u, "10.0.0.1").as_deref(),
            Some("ws://10.0.0.1:18765/usp-controller")
        );
        assert_eq!(url_host("wss://[::1]:9/x"), Some("[::1]"));
        assert_eq!(url_host("ws://h/"), Some("h"));
        assert_eq!(url_host("nonsense"), None);
        assert!(is_name("controller.plugfest.test"));
        assert!(!is_name("10.0.0.1"));
        assert!(!is_name("[::1]"));
    }

    #[test]
    fn mac_addresses_parse_strictly() {
        assert_eq!(
            super::parse_mac("02:00:5e:10:00:ff"),
            Some([2, 0, 0x5e, 0x10, 0, 0xff])
        );
        assert_eq!(super::parse_mac("02:00:5e:10:00"), None);
        assert_eq!(super::parse_mac("02:00:5e:10:00:ff:01"), None);
        assert_eq!(super::parse_mac("zz:00:5e:10:00:ff"), None);
    }
}
