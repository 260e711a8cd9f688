//! The reference Agent's DHCPv4 client (`plugfest agent --dhcp IFACE`): at
//! every boot it asks for a lease on its interface, naming USP in option
//! 124 (R-DIS.1), and reads the Controller's URL, ProvisioningCode, notify
//! retry parameters and Endpoint ID from option 125 of the ACK. It does not
//! configure the interface: the address it is leased is reported, and the
//! interface keeps the one it was given (the tests give it one in the
//! server's subnet).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

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

/// `plugfest agent --dhcp IFACE`: where and how the Agent asks at boot.
#[derive(Debug, Clone)]
pub struct BootDhcp {
    pub interface: String,
    pub mac: [u8; 6],
    pub class: VendorClass,
    /// How long one attempt may take before it starts over.
    pub patience: Duration,
}

/// What a lease told the Agent.
#[derive(Debug, Clone)]
pub struct Lease {
    pub address: Ipv4Addr,
    pub server: Ipv4Addr,
    /// Option 125's USP sub-options; None without option 125.
    pub usp: Option<UspOptions>,
    /// Option 6, the DNS servers to resolve the Controller's name with.
    pub dns: Vec<Ipv4Addr>,
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
        let offer = exchange(&socket, &discover, server, xid, deadline, |p| {
            p.message_type() == Some(MessageType::Offer)
        })
        .await
        .map_err(|e| format!("DHCP on {interface}: no DHCPOFFER: {e}"))?;
        let Some(server_id) = offer.option_ipv4(code::SERVER_ID) else {
            continue;
        };
        let mut request = message(MessageType::Request, xid, mac, class);
        request.set_option(code::REQUESTED_IP, offer.yiaddr.octets().to_vec());
        request.set_option(code::SERVER_ID, server_id.octets().to_vec());
        let reply = exchange(&socket, &request, server, xid, deadline, |p| {
            matches!(p.message_type(), Some(MessageType::Ack | MessageType::Nak))
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
            .map(|a| Ipv4Addr::new(a[0], a[1], a[2], a[3]))
            .collect();
        return Ok(Lease {
            address: reply.yiaddr,
            server: server_id,
            usp,
            dns,
        });
    }
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

/// Sends `msg` and retransmits it (doubling waits) until a reply with our
/// xid that `wanted` accepts arrives, or `deadline`.
async fn exchange(
    socket: &tokio::net::UdpSocket,
    msg: &Packet,
    to: SocketAddrV4,
    xid: u32,
    deadline: Instant,
    wanted: impl Fn(&Packet) -> bool,
) -> Result<Packet, String> {
    let bytes = msg.encode();
    let mut wait = FIRST_RETRANSMIT;
    let mut buf = vec![0u8; 2048];
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err("nothing answered in time".into());
        }
        socket
            .send_to(&bytes, to)
            .await
            .map_err(|e| format!("cannot send: {e}"))?;
        let until = (now + wait).min(deadline);
        loop {
            match tokio::time::timeout_at(until.into(), socket.recv_from(&mut buf)).await {
                Err(_) => break,
                Ok(Err(e)) => return Err(format!("cannot receive: {e}")),
                Ok(Ok((n, _))) => {
                    // Anything else on port 68 (other clients' replies,
                    // garbage) is not ours.
                    if let Ok(p) = Packet::decode(&buf[..n]) {
                        if p.op == 2 && p.xid == xid && wanted(&p) {
                            return Ok(p);
                        }
                    }
                }
            }
        }
        wait = (wait * 2).min(MAX_RETRANSMIT);
    }
}

/// The IPv4 address of `name`, asked of `server` (an A query over UDP from
/// `interface`, three tries a second apart).
pub async fn resolve(interface: &str, server: Ipv4Addr, name: &str) -> Result<Ipv4Addr, String> {
    use super::dns;
    let socket = interface_socket(interface, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
        .map_err(|e| format!("DNS on {interface}: cannot bind a UDP port: {e}"))?;
    let id = random_xid() as u16;
    let query = dns::encode_query(id, name);
    let to = SocketAddrV4::new(server, dns::PORT);
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
            if from != std::net::SocketAddr::V4(to) {
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
