//! The reference Agent's DHCP client (`plugfest agent --dhcp IFACE`, over
//! DHCPv6 with `--dhcpv6`): at every boot it asks for a lease on its
//! interface, naming USP in option 124 (DHCPv6: 16) (R-DIS.1), and reads
//! the Controller's URL, ProvisioningCode, notify retry parameters and
//! Endpoint ID from option 125 of the ACK (DHCPv6: 17 of the REPLY). It does not
//! configure the interface: the address it is leased is reported, and the
//! interface keeps the one it was given (the tests give it one in the
//! server's subnet).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::time::{Duration, Instant};

use super::v6;

use super::{
    code, encode_vendor_class, interface_socket, MessageType, Packet, UspOptions, BBF_ENTERPRISE,
    CLIENT_PORT, SERVER_PORT, USP_VENDOR_CLASS,
};

/// First retransmission wait; doubled up to `MAX_RETRANSMIT` (RFC 2131
/// 4.1 starts at 4 s; a test link answers at once, so sooner is kinder).
const FIRST_RETRANSMIT: Duration = Duration::from_millis(500);
const MAX_RETRANSMIT: Duration = Duration::from_secs(4);

/// How the client names itself in option 124.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VendorClass {
    /// Enterprise 3561, one RFC 3925 item "usp" (R-DIS.1).
    Usp,
    /// No option 124 at all (the `dhcp-no-vendor-class` fault).
    Omitted,
}

/// Which DHCP the Agent asks over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DhcpVersion {
    V4,
    V6,
}

/// `plugfest agent --dhcp IFACE`: where and how the Agent asks at boot.
#[derive(Debug, Clone)]
pub struct BootDhcp {
    pub interface: String,
    pub mac: [u8; 6],
    pub class: VendorClass,
    pub version: DhcpVersion,
    /// How long one attempt may take before it starts over.
    pub patience: Duration,
}

/// What a lease told the Agent.
#[derive(Debug, Clone)]
pub struct Lease {
    pub address: IpAddr,
    pub server: IpAddr,
    /// Option 125's (DHCPv6: 17's) USP sub-options; None without it.
    pub usp: Option<UspOptions>,
    /// Option 6 (DHCPv6: 23), the DNS servers to resolve the Controller's
    /// name with.
    pub dns: Vec<IpAddr>,
}

impl BootDhcp {
    /// One lease, over the version asked for.
    pub async fn acquire(&self, class: VendorClass) -> Result<Lease, String> {
        match self.version {
            DhcpVersion::V4 => acquire(&self.interface, self.mac, class, self.patience).await,
            DhcpVersion::V6 => acquire6(&self.interface, self.mac, class, self.patience).await,
        }
    }
}

/// Asks for a lease on `interface` until one is acked or `patience` runs out.
pub async fn acquire(
    interface: &str,
    mac: [u8; 6],
    class: VendorClass,
    patience: Duration,
) -> Result<Lease, String> {
    let socket = interface_socket(
        interface,
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, CLIENT_PORT),
    )
    .map_err(|e| format!("DHCP on {interface}: cannot bind UDP port {CLIENT_PORT}: {e}"))?;
    let deadline = Instant::now() + patience;
    let xid = random_xid();
    let server = SocketAddrV4::new(Ipv4Addr::BROADCAST, SERVER_PORT);
    loop {
        let discover = message(MessageType::Discover, xid, mac, class);
        let (offer, _) = exchange(&socket, &discover.encode(), server.into(), deadline, |b| {
            reply_v4(b, xid).filter(|p| p.message_type() == Some(MessageType::Offer))
        })
        .await
        .map_err(|e| format!("DHCP on {interface}: no DHCPOFFER: {e}"))?;
        let Some(server_id) = offer.option_ipv4(code::SERVER_ID) else {
            continue;
        };
        let mut request = message(MessageType::Request, xid, mac, class);
        request.set_option(code::REQUESTED_IP, offer.yiaddr.octets().to_vec());
        request.set_option(code::SERVER_ID, server_id.octets().to_vec());
        let (reply, _) = exchange(&socket, &request.encode(), server.into(), deadline, |b| {
            reply_v4(b, xid)
                .filter(|p| matches!(p.message_type(), Some(MessageType::Ack | MessageType::Nak)))
        })
        .await
        .map_err(|e| format!("DHCP on {interface}: no DHCPACK: {e}"))?;
        if reply.message_type() == Some(MessageType::Nak) {
            // RFC 2131 3.1: start over.
            continue;
        }
        let usp = match reply.option(code::VENDOR_SPECIFIC) {
            Some(data) => Some(
                UspOptions::decode(&data)
                    .map_err(|e| format!("DHCP on {interface}: option 125 of the DHCPACK: {e}"))?,
            ),
            None => None,
        };
        let dns = reply
            .option(code::DNS)
            .unwrap_or_default()
            .chunks_exact(4)
            .map(|a| IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])))
            .collect();
        return Ok(Lease {
            address: reply.yiaddr.into(),
            server: server_id.into(),
            usp,
            dns,
        });
    }
}

/// A DHCPv4 reply to our `xid`, when `b` is one.
fn reply_v4(b: &[u8], xid: u32) -> Option<Packet> {
    Packet::decode(b).ok().filter(|p| p.op == 2 && p.xid == xid)
}

/// Asks for a lease over DHCPv6 (RFC 8415 18.2: SOLICIT, ADVERTISE,
/// REQUEST, REPLY) from the interface's link-local address to
/// All_DHCP_Relay_Agents_and_Servers, until one is replied or `patience`
/// runs out.
pub async fn acquire6(
    interface: &str,
    mac: [u8; 6],
    class: VendorClass,
    patience: Duration,
) -> Result<Lease, String> {
    use v6::{code, Kind};
    let socket = super::interface_socket6(interface, v6::CLIENT_PORT, false).map_err(|e| {
        format!(
            "DHCPv6 on {interface}: cannot bind UDP port {}: {e}",
            v6::CLIENT_PORT
        )
    })?;
    let scope = super::interface_index(interface)
        .map_err(|e| format!("DHCPv6 on {interface}: no interface index: {e}"))?;
    let servers = SocketAddr::V6(SocketAddrV6::new(
        v6::ALL_SERVERS,
        v6::SERVER_PORT,
        0,
        scope,
    ));
    let deadline = Instant::now() + patience;
    loop {
        let xid = random_xid6();
        let solicit = message6(Kind::Solicit, xid, mac, class);
        let (advertise, _) = exchange(&socket, &solicit.encode(), servers, deadline, |b| {
            reply_v6(b, xid, Kind::Advertise)
        })
        .await
        .map_err(|e| format!("DHCPv6 on {interface}: no ADVERTISE: {e}"))?;
        let Some(server_id) = advertise.option(code::SERVER_ID) else {
            continue;
        };
        let xid = random_xid6();
        let mut request = message6(Kind::Request, xid, mac, class);
        request.set_option(code::SERVER_ID, server_id.to_vec());
        let (reply, replied_from) = exchange(&socket, &request.encode(), servers, deadline, |b| {
            reply_v6(b, xid, Kind::Reply)
        })
        .await
        .map_err(|e| format!("DHCPv6 on {interface}: no REPLY: {e}"))?;
        let Some(Ok(ia)) = reply.ia_na() else {
            continue;
        };
        // RFC 8415 18.2.10.1: no address (NoAddrsAvail) means try again.
        let Some((address, _, _)) = ia.addresses.first() else {
            continue;
        };
        let usp = reply
            .usp_options()
            .transpose()
            .map_err(|e| format!("DHCPv6 on {interface}: option 17 of the REPLY: {e}"))?;
        return Ok(Lease {
            address: IpAddr::V6(*address),
            // The server that answered the REQUEST (its DUID names it too).
            server: replied_from.ip(),
            usp,
            dns: reply.dns_servers().into_iter().map(IpAddr::V6).collect(),
        });
    }
}

/// A DHCPv6 message of type `kind` answering our `xid`, when `b` is one.
fn reply_v6(b: &[u8], xid: [u8; 3], kind: v6::Kind) -> Option<v6::Message> {
    v6::Message::decode(b)
        .ok()
        .filter(|m| m.xid == xid && m.kind() == Some(kind))
}

/// A SOLICIT or REQUEST with the options every one carries: the DUID,
/// one IA_NA, the options asked for (17, 23), and option 16 naming USP.
fn message6(kind: v6::Kind, xid: [u8; 3], mac: [u8; 6], class: VendorClass) -> v6::Message {
    use v6::code;
    let mut m = v6::Message::new(kind, xid);
    m.set_option(code::CLIENT_ID, v6::duid_ll(mac));
    m.set_option(
        code::IA_NA,
        v6::IaNa {
            iaid: 1,
            ..Default::default()
        }
        .encode(),
    );
    let oro: Vec<u8> = [code::VENDOR_OPTS, code::DNS_SERVERS]
        .iter()
        .flat_map(|c| c.to_be_bytes())
        .collect();
    m.set_option(code::ORO, oro);
    m.set_option(code::ELAPSED_TIME, vec![0, 0]);
    if class == VendorClass::Usp {
        m.add_option(
            code::VENDOR_CLASS,
            v6::VendorClass::encode(BBF_ENTERPRISE, &[USP_VENDOR_CLASS.as_bytes()]),
        );
    }
    m
}

fn random_xid6() -> [u8; 3] {
    let [_, a, b, c] = random_xid().to_be_bytes();
    [a, b, c]
}

/// A DISCOVER or REQUEST with the options every one carries.
fn message(kind: MessageType, xid: u32, mac: [u8; 6], class: VendorClass) -> Packet {
    let mut p = Packet::request(kind, xid, mac);
    let mut client_id = vec![1u8];
    client_id.extend_from_slice(&mac);
    p.set_option(code::CLIENT_ID, client_id);
    p.set_option(
        code::PARAMETER_REQUEST_LIST,
        vec![
            code::SUBNET_MASK,
            code::ROUTER,
            code::DNS,
            code::LEASE_TIME,
            code::SERVER_ID,
            code::VENDOR_SPECIFIC,
        ],
    );
    if class == VendorClass::Usp {
        p.set_option(
            code::VENDOR_CLASS,
            encode_vendor_class(BBF_ENTERPRISE, &[USP_VENDOR_CLASS.as_bytes()]),
        );
    }
    p
}

/// Sends `bytes` and retransmits them (doubling waits) until a datagram
/// that `accept` takes arrives, or `deadline`: what `accept` made of it and
/// where it came from.
async fn exchange<M>(
    socket: &tokio::net::UdpSocket,
    bytes: &[u8],
    to: SocketAddr,
    deadline: Instant,
    accept: impl Fn(&[u8]) -> Option<M>,
) -> Result<(M, SocketAddr), String> {
    let mut wait = FIRST_RETRANSMIT;
    let mut buf = vec![0u8; 2048];
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err("nothing answered in time".into());
        }
        socket
            .send_to(bytes, to)
            .await
            .map_err(|e| format!("cannot send: {e}"))?;
        let until = (now + wait).min(deadline);
        loop {
            match tokio::time::timeout_at(until.into(), socket.recv_from(&mut buf)).await {
                Err(_) => break,
                Ok(Err(e)) => return Err(format!("cannot receive: {e}")),
                // Anything else on the port (other clients' replies,
                // garbage) is not ours.
                Ok(Ok((n, from))) => {
                    if let Some(m) = accept(&buf[..n]) {
                        return Ok((m, from));
                    }
                }
            }
        }
        wait = (wait * 2).min(MAX_RETRANSMIT);
    }
}

/// The IPv4 address of `name`, asked of `server` (an A query over UDP from
/// `interface`, three tries a second apart).
pub async fn resolve(interface: &str, server: IpAddr, name: &str) -> Result<Ipv4Addr, String> {
    use super::dns;
    let socket = match server {
        IpAddr::V4(_) => interface_socket(interface, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
        IpAddr::V6(_) => super::interface_socket6(interface, 0, false),
    }
    .map_err(|e| format!("DNS on {interface}: cannot bind a UDP port: {e}"))?;
    let id = random_xid() as u16;
    let query = dns::encode_query(id, name);
    let to = SocketAddr::new(server, dns::PORT);
    let mut buf = vec![0u8; 1500];
    for _ in 0..3 {
        socket
            .send_to(&query, to)
            .await
            .map_err(|e| format!("DNS query to {to}: {e}"))?;
        let until = Instant::now() + Duration::from_secs(1);
        while let Ok(got) = tokio::time::timeout_at(until.into(), socket.recv_from(&mut buf)).await
        {
            let (n, from) = got.map_err(|e| format!("DNS answer from {to}: {e}"))?;
            if from.ip() != to.ip() || from.port() != to.port() {
                continue;
            }
            return match dns::decode_a_response(&buf[..n], id, name) {
                Ok(addrs) => addrs
                    .first()
                    .copied()
                    .ok_or_else(|| format!("{to} knows no address of {name}")),
                Err(e) => Err(format!("{to} about {name}: {e}")),
            };
        }
    }
    Err(format!("{to} did not answer the A query for {name}"))
}

fn random_xid() -> u32 {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 4];
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    u32::from_be_bytes(b)
}
