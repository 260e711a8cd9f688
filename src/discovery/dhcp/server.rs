//! The harness's DHCPv4 server on one test interface (`plugfest run --dhcp
//! IFACE`): it offers addresses of the interface's subnet and, to a client
//! whose option 124 names USP, option 125 with what the running case asked
//! for (`dhcp_offer`): the Controller's URL, a ProvisioningCode, the
//! Controller's Endpoint ID. It keeps every client message it heard, and
//! its answer, for `expect_dhcp` to judge. `answer` decides; the task only
//! moves datagrams.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::names::Asked;
use super::server6::{self, Pool6};
use super::{
    code, decode_vendor_class, dns, interface_ipv4, interface_ipv6, interface_socket,
    interface_socket6, v6, MessageType, Packet, UspOptions, CLIENT_PORT, SERVER_PORT,
};

/// The lease time offered, in seconds: long enough for any run.
const LEASE_SECONDS: u32 = 3600;
/// Client messages kept per case: a flooding client cannot grow the log.
const HEARD_CAP: usize = 256;

/// What the server puts in option 125 (enterprise 3561).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Offer {
    pub usp: UspOptions,
    /// What DHCPv6's option 17 carries instead, when it differs: the
    /// default Controller URL at the interface's IPv6 address, for an
    /// Agent that may have no IPv4 (None: `usp` for both).
    pub usp_v6: Option<UspOptions>,
    /// Each value ends in a NUL (TP-469 8.2 asks for a NUL-terminated
    /// ProvisioningCode; a receiver ignores it).
    pub nul_terminated: bool,
}

/// A DHCP message of either version.
#[derive(Debug, Clone)]
pub enum Dhcp {
    V4(Packet),
    V6(v6::Message),
}

/// One datagram a client sent, and what the server did with it.
#[derive(Debug, Clone)]
pub struct Heard {
    pub at: Instant,
    pub from: SocketAddr,
    /// The decoded message, or why it could not be decoded.
    pub packet: Result<Dhcp, String>,
    pub answer: Option<Dhcp>,
    /// Why nothing was answered, when nothing was.
    pub unanswered: Option<String>,
}

impl Heard {
    /// A message asking for a lease: DHCPDISCOVER or DHCPREQUEST, or
    /// DHCPv6 SOLICIT, REQUEST or INFORMATION-REQUEST (R-DIS.1 wants USP
    /// named in each).
    pub fn asks_for_lease(&self) -> bool {
        match &self.packet {
            Ok(Dhcp::V4(p)) => matches!(
                p.message_type(),
                Some(MessageType::Discover | MessageType::Request)
            ),
            Ok(Dhcp::V6(m)) => matches!(
                m.kind(),
                Some(v6::Kind::Solicit | v6::Kind::Request | v6::Kind::InformationRequest)
            ),
            Err(_) => false,
        }
    }

    /// Whether the client named USP: option 124 (DHCPv4) or 16 (DHCPv6)
    /// with enterprise 3561 and "usp".
    pub fn names_usp(&self) -> bool {
        match &self.packet {
            Ok(Dhcp::V4(p)) => asks_for_usp(p),
            Ok(Dhcp::V6(m)) => m.names_usp(),
            Err(_) => false,
        }
    }

    /// Whether the server's answer completed the client's lease: a DHCPACK,
    /// or a DHCPv6 REPLY with an address (or the options asked for).
    pub fn completes(&self) -> bool {
        match &self.answer {
            Some(Dhcp::V4(a)) => a.message_type() == Some(MessageType::Ack),
            Some(Dhcp::V6(m)) => server6::completes(m),
            None => false,
        }
    }
}

/// The addresses handed out: the interface's subnet less the network,
/// broadcast and the server's own address; one per client hardware address.
#[derive(Debug)]
struct Pool {
    server: Ipv4Addr,
    netmask: Ipv4Addr,
    leases: HashMap<Vec<u8>, Ipv4Addr>,
}

impl Pool {
    fn address_for(&mut self, client: &[u8]) -> Option<Ipv4Addr> {
        if let Some(a) = self.leases.get(client) {
            return Some(*a);
        }
        let mask = u32::from(self.netmask);
        let server = u32::from(self.server);
        let network = server & mask;
        let broadcast = network | !mask;
        // Hosts are network+1 ..= broadcast-1; start after the server's.
        let hosts = broadcast.checked_sub(network)?.checked_sub(1)?;
        let first = server.wrapping_sub(network);
        let taken: Vec<Ipv4Addr> = self.leases.values().copied().collect();
        let free = (0..hosts)
            .map(|i| Ipv4Addr::from(network + 1 + (first + i) % hosts))
            .find(|a| *a != self.server && !taken.contains(a))?;
        self.leases.insert(client.to_vec(), free);
        Some(free)
    }
}

/// The client hardware address as the pool keys it.
fn client_key(p: &Packet) -> Vec<u8> {
    p.chaddr[..usize::from(p.hlen.min(16))].to_vec()
}

/// Whether the client's option 124 names USP (either form): the server
/// then includes option 125, as a DHCP server classifying on the vendor
/// class would.
pub fn asks_for_usp(p: &Packet) -> bool {
    p.option(code::VENDOR_CLASS)
        .and_then(|v| decode_vendor_class(&v).ok())
        .is_some_and(|classes| classes.iter().any(|c| c.is_usp()))
}

/// The server's answer to one client message (RFC 2131 4.3): OFFER to a
/// DISCOVER, ACK to a REQUEST for the address offered (NAK for another),
/// nothing to the rest; Err says why nothing.
fn answer(req: &Packet, offer: &Offer, pool: &mut Pool) -> Result<Packet, String> {
    if req.op != 1 {
        return Err("not a BOOTREQUEST".into());
    }
    let kind = req
        .message_type()
        .ok_or("no DHCP message type (option 53): a BOOTP client")?;
    let client = client_key(req);
    let reply = |kind: MessageType, yiaddr: Ipv4Addr, pool: &Pool| -> Result<Packet, String> {
        let mut p = Packet::reply_to(req, kind, yiaddr);
        p.set_option(code::SERVER_ID, pool.server.octets().to_vec());
        if kind == MessageType::Nak {
            return Ok(p);
        }
        p.set_option(code::LEASE_TIME, LEASE_SECONDS.to_be_bytes().to_vec());
        p.set_option(code::SUBNET_MASK, pool.netmask.octets().to_vec());
        // The harness's own DNS responder (it answers the offered name).
        p.set_option(code::DNS, pool.server.octets().to_vec());
        if asks_for_usp(req) {
            p.set_option(
                code::VENDOR_SPECIFIC,
                offer.usp.encode(offer.nul_terminated)?,
            );
        }
        Ok(p)
    };
    match kind {
        MessageType::Discover => {
            let a = pool
                .address_for(&client)
                .ok_or("the subnet has no free address")?;
            reply(MessageType::Offer, a, pool)
        }
        MessageType::Request => {
            if let Some(id) = req.option_ipv4(code::SERVER_ID) {
                if id != pool.server {
                    return Err(format!("the client chose another server ({id})"));
                }
            }
            let wanted = req
                .option_ipv4(code::REQUESTED_IP)
                .or((!req.ciaddr.is_unspecified()).then_some(req.ciaddr));
            let ours = pool.address_for(&client);
            match (wanted, ours) {
                (Some(w), Some(o)) if w == o => reply(MessageType::Ack, o, pool),
                _ => reply(MessageType::Nak, Ipv4Addr::UNSPECIFIED, pool),
            }
        }
        other => Err(format!("{} needs no answer", other.name())),
    }
}

struct State {
    offer: Offer,
    pool: Pool,
    /// DHCPv6, served when the interface has an IPv6 address beside its
    /// link-local one.
    pool6: Option<Pool6>,
    heard: Vec<Heard>,
    /// The name of the offered Controller URL's host, when it is one: the
    /// DNS responder answers it with the server's address (TP-469 8.3).
    name: Option<String>,
    asked: Vec<Asked>,
}

struct Inner {
    interface: String,
    address: Ipv4Addr,
    address6: Option<std::net::Ipv6Addr>,
    state: Mutex<State>,
    changed: tokio::sync::Notify,
}

/// The running server's controls, shared with the runner.
#[derive(Clone)]
pub struct DhcpHandle(Arc<Inner>);

impl std::fmt::Debug for DhcpHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DHCP server on {} ({})",
            self.0.interface, self.0.address
        )
    }
}

impl DhcpHandle {
    pub fn interface(&self) -> &str {
        &self.0.interface
    }

    /// The server's address on its interface (its server identifier).
    pub fn address(&self) -> Ipv4Addr {
        self.0.address
    }

    /// Its IPv6 address there, when it serves DHCPv6 too.
    pub fn address6(&self) -> Option<std::net::Ipv6Addr> {
        self.0.address6
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// From now on offer `offer`, and forget what was heard and asked
    /// before: the start of a DHCP case.
    pub fn begin(&self, offer: Offer) {
        let mut s = self.state();
        s.name = offered_name(&offer);
        s.offer = offer;
        s.heard.clear();
        s.asked.clear();
    }

    /// The name the DNS responder answers, if the offer has one.
    pub fn offered_name(&self) -> Option<String> {
        self.state().name.clone()
    }

    /// Every DNS question since `begin`.
    pub fn asked(&self) -> Vec<Asked> {
        self.state().asked.clone()
    }

    /// The address of `name` if it is the offered one.
    pub(super) fn known_address(
        &self,
        name: &str,
    ) -> Option<(Ipv4Addr, Option<std::net::Ipv6Addr>)> {
        let s = self.state();
        s.name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
            .then_some((self.0.address, self.0.address6))
    }

    pub(super) fn note_asked(&self, asked: Asked) {
        {
            let mut s = self.state();
            if s.asked.len() < HEARD_CAP {
                s.asked.push(asked);
            }
        }
        self.0.changed.notify_waiters();
    }

    fn note_heard(&self, heard: Heard) {
        {
            let mut s = self.state();
            if s.heard.len() < HEARD_CAP {
                s.heard.push(heard);
            }
        }
        self.0.changed.notify_waiters();
    }

    /// Every client message since `begin`.
    pub fn heard(&self) -> Vec<Heard> {
        self.state().heard.clone()
    }

    /// Waits until `done` holds for what was heard since `begin`, or until
    /// `deadline`; returns what was heard.
    pub async fn wait_until(
        &self,
        deadline: Instant,
        done: impl Fn(&[Heard]) -> bool,
    ) -> Vec<Heard> {
        self.wait(deadline, |h| h.heard(), done).await
    }

    /// Likewise for the DNS questions asked since `begin`.
    pub async fn wait_asked(
        &self,
        deadline: Instant,
        done: impl Fn(&[Asked]) -> bool,
    ) -> Vec<Asked> {
        self.wait(deadline, |h| h.asked(), done).await
    }

    async fn wait<T>(
        &self,
        deadline: Instant,
        read: impl Fn(&Self) -> Vec<T>,
        done: impl Fn(&[T]) -> bool,
    ) -> Vec<T> {
        loop {
            let changed = self.0.changed.notified();
            let seen = read(self);
            if done(&seen) || Instant::now() >= deadline {
                return seen;
            }
            let _ = tokio::time::timeout_at(deadline.into(), changed).await;
        }
    }
}

/// The host of the offered Controller URL, when it is a name to resolve.
fn offered_name(offer: &Offer) -> Option<String> {
    let host = super::url_host(offer.usp.controller_url.as_deref()?)?;
    super::is_name(host).then(|| host.to_ascii_lowercase())
}

/// What the DHCPv6 server would answer `m` with a default offer, for the
/// fuzz target (`fuzz_entry::dhcpv6_message`): the answer logic on input
/// from the link.
pub fn answer_v6_for_fuzzing(m: &v6::Message) -> Result<v6::Message, String> {
    let mut pool = Pool6::new(std::net::Ipv6Addr::LOCALHOST, [2, 0, 0, 0, 0, 1]);
    server6::answer(m, &Offer::default(), &mut pool)
}

/// The server, serving until dropped.
pub struct DhcpServer {
    handle: DhcpHandle,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for DhcpServer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl DhcpServer {
    /// Serves on `interface` (which must have an IPv4 address: it becomes
    /// the server identifier and fixes the subnet), offering `offer` until
    /// a case says otherwise, and DNS on that address (named in option 6).
    /// Needs the right to bind ports 67 and 53.
    pub async fn start(interface: &str, offer: Offer) -> Result<DhcpServer, String> {
        let (address, netmask) = interface_ipv4(interface)?;
        let socket = interface_socket(
            interface,
            SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, SERVER_PORT),
        )
        .map_err(|e| {
            format!("DHCP server on {interface}: cannot bind UDP port {SERVER_PORT}: {e}")
        })?;
        let dns_socket = interface_socket(interface, SocketAddrV4::new(address, dns::PORT))
            .map_err(|e| {
                format!(
                    "DNS responder on {interface} ({address}): cannot bind UDP port {}: {e}",
                    dns::PORT
                )
            })?;
        // DHCPv6 beside DHCPv4 where the link has IPv6 (TP-469 8.1: "over
        // DHCPv4 or DHCPv6, depending on the deployment model").
        let v6 = match interface_ipv6(interface) {
            Some(address6) => {
                let socket = interface_socket6(interface, v6::SERVER_PORT, true).map_err(|e| {
                    format!(
                        "DHCPv6 server on {interface}: cannot bind UDP port {} or join {}: {e}",
                        v6::SERVER_PORT,
                        v6::ALL_SERVERS
                    )
                })?;
                let mac = super::interface_mac(interface)?;
                // Option 23 names this address: the responder answers there too.
                let dns6 = interface_socket6(interface, dns::PORT, false).map_err(|e| {
                    format!(
                        "DNS responder on {interface} ({address6}): cannot bind UDP port {}: {e}",
                        dns::PORT
                    )
                })?;
                Some((address6, (socket, dns6), Pool6::new(address6, mac)))
            }
            None => None,
        };
        let (address6, socket6, pool6) = match v6 {
            Some((a, s, p)) => (Some(a), Some(s), Some(p)),
            None => (None, None, None),
        };
        let inner = Arc::new(Inner {
            interface: interface.to_string(),
            address,
            address6,
            state: Mutex::new(State {
                name: offered_name(&offer),
                offer,
                pool6,
                pool: Pool {
                    server: address,
                    netmask,
                    leases: HashMap::new(),
                },
                heard: Vec::new(),
                asked: Vec::new(),
            }),
            changed: tokio::sync::Notify::new(),
        });
        let handle = DhcpHandle(inner);
        let mut tasks = vec![
            tokio::spawn(serve(socket, handle.clone())),
            tokio::spawn(super::names::serve(dns_socket, handle.clone())),
        ];
        if let Some((socket6, dns6)) = socket6 {
            tasks.push(tokio::spawn(serve6(socket6, handle.clone())));
            tasks.push(tokio::spawn(super::names::serve(dns6, handle.clone())));
        }
        Ok(DhcpServer { handle, tasks })
    }

    pub fn handle(&self) -> DhcpHandle {
        self.handle.clone()
    }
}

async fn serve(socket: tokio::net::UdpSocket, handle: DhcpHandle) {
    let mut buf = vec![0u8; 2048];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let packet = Packet::decode(&buf[..n]).map_err(|e| format!("{e} ({n} bytes)"));
        let (reply, unanswered): (Option<Packet>, _) = match &packet {
            Ok(p) => {
                let mut s = handle.state();
                let State { offer, pool, .. } = &mut *s;
                match answer(p, offer, pool) {
                    Ok(r) => (Some(r), None),
                    Err(why) => (None, Some(why)),
                }
            }
            Err(e) => (None, Some(format!("undecodable: {e}"))),
        };
        // A client without an address hears only broadcasts (RFC 2131 4.1).
        let mut unanswered = unanswered;
        if let (Some(r), Ok(p)) = (&reply, &packet) {
            let to = if p.ciaddr.is_unspecified() || r.message_type() == Some(MessageType::Nak) {
                Ipv4Addr::BROADCAST
            } else {
                p.ciaddr
            };
            if let Err(e) = socket
                .send_to(&r.encode(), SocketAddrV4::new(to, CLIENT_PORT))
                .await
            {
                unanswered = Some(format!("the answer could not be sent: {e}"));
            }
        }
        handle.note_heard(Heard {
            at: Instant::now(),
            from,
            packet: packet.map(Dhcp::V4),
            answer: reply.map(Dhcp::V4),
            unanswered,
        });
    }
}

/// The DHCPv6 side: answers go back to where the client sent from (its
/// link-local address, port 546).
async fn serve6(socket: tokio::net::UdpSocket, handle: DhcpHandle) {
    let mut buf = vec![0u8; 2048];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let packet = v6::Message::decode(&buf[..n]).map_err(|e| format!("{e} ({n} bytes)"));
        let (reply, mut unanswered) = match &packet {
            Ok(m) => {
                let mut s = handle.state();
                let State { offer, pool6, .. } = &mut *s;
                match pool6.as_mut().map(|p| server6::answer(m, offer, p)) {
                    Some(Ok(r)) => (Some(r), None),
                    Some(Err(why)) => (None, Some(why)),
                    None => (None, Some("DHCPv6 is not served".into())),
                }
            }
            Err(e) => (None, Some(format!("undecodable: {e}"))),
        };
        if let Some(r) = &reply {
            if let Err(e) = socket.send_to(&r.encode(), from).await {
                unanswered = Some(format!("the answer could not be sent: {e}"));
            }
        }
        handle.note_heard(Heard {
            at: Instant::now(),
            from,
            packet: packet.map(Dhcp::V6),
            answer: reply.map(Dhcp::V6),
            unanswered,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::dhcp::{encode_vendor_class, BBF_ENTERPRISE};

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 7];

    fn pool() -> Pool {
        Pool {
            server: Ipv4Addr::new(10, 1, 2, 1),
            netmask: Ipv4Addr::new(255, 255, 255, 0),
            leases: HashMap::new(),
        }
    }

    fn offer() -> Offer {
        Offer {
            usp: UspOptions {
                controller_url: Some("ws://10.1.2.1:8080/usp".into()),
                provisioning_code: Some("code-1".into()),
                ..Default::default()
            },
            usp_v6: None,
            nul_terminated: true,
        }
    }

    fn usp_request(kind: MessageType) -> Packet {
        let mut p = Packet::request(kind, 7, MAC);
        p.set_option(
            code::VENDOR_CLASS,
            encode_vendor_class(BBF_ENTERPRISE, &[b"usp"]),
        );
        p
    }

    #[test]
    fn a_usp_client_is_offered_an_address_and_option_125_then_acked() {
        let mut pool = pool();
        let o = answer(&usp_request(MessageType::Discover), &offer(), &mut pool).unwrap();
        assert_eq!(o.message_type(), Some(MessageType::Offer));
        assert_eq!(o.yiaddr, Ipv4Addr::new(10, 1, 2, 2));
        assert_eq!(o.option_ipv4(code::SERVER_ID), Some(pool.server));
        let usp = UspOptions::decode(&o.option(code::VENDOR_SPECIFIC).unwrap()).unwrap();
        assert_eq!(usp.provisioning_code.as_deref(), Some("code-1"));
        let mut req = usp_request(MessageType::Request);
        req.set_option(code::REQUESTED_IP, o.yiaddr.octets().to_vec());
        req.set_option(code::SERVER_ID, pool.server.octets().to_vec());
        let a = answer(&req, &offer(), &mut pool).unwrap();
        assert_eq!(a.message_type(), Some(MessageType::Ack));
        assert_eq!(a.yiaddr, o.yiaddr);
    }

    #[test]
    fn without_a_usp_vendor_class_there_is_no_option_125() {
        let mut pool = pool();
        let d = Packet::request(MessageType::Discover, 1, MAC);
        let o = answer(&d, &offer(), &mut pool).unwrap();
        assert_eq!(o.option(code::VENDOR_SPECIFIC), None);
        assert!(!asks_for_usp(&d));
    }

    #[test]
    fn another_address_is_refused_and_another_servers_request_ignored() {
        let mut pool = pool();
        let mut req = usp_request(MessageType::Request);
        req.set_option(code::REQUESTED_IP, vec![10, 1, 2, 200]);
        let n = answer(&req, &offer(), &mut pool).unwrap();
        assert_eq!(n.message_type(), Some(MessageType::Nak));
        req.set_option(code::SERVER_ID, vec![10, 9, 9, 9]);
        let e = answer(&req, &offer(), &mut pool).unwrap_err();
        assert!(e.contains("another server"), "{e}");
        let release = Packet::request(MessageType::Release, 1, MAC);
        assert!(answer(&release, &offer(), &mut pool).is_err());
    }

    #[test]
    fn the_pool_skips_the_server_and_gives_each_client_its_own_address() {
        let mut pool = Pool {
            server: Ipv4Addr::new(10, 1, 2, 2),
            netmask: Ipv4Addr::new(255, 255, 255, 252),
            leases: HashMap::new(),
        };
        assert_eq!(pool.address_for(b"a"), Some(Ipv4Addr::new(10, 1, 2, 1)));
        assert_eq!(pool.address_for(b"a"), Some(Ipv4Addr::new(10, 1, 2, 1)));
        // A /30 has two hosts: the server and one client.
        assert_eq!(pool.address_for(b"b"), None);
    }
}
