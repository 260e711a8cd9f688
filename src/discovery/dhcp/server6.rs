//! The DHCPv6 side of the harness's DHCP server (RFC 8415, TP-469 8.1-8.2
//! "over DHCPv4 or DHCPv6"): the same offer as DHCPv4's option 125 goes in
//! option 17 to a client whose option 16 names USP. Pure: `answer` decides
//! what one client message gets; `server.rs` moves the datagrams.

use std::collections::HashMap;
use std::net::Ipv6Addr;

use super::server::Offer;
use super::v6::{code, duid_ll, status, IaNa, Kind, Message};

/// Lifetimes offered (seconds): long enough for any run.
const PREFERRED: u32 = 3600;
const VALID: u32 = 7200;
/// Clients (DUIDs) given an address: a /64 never runs out, so a client
/// flooding SOLICITs with new DUIDs is stopped here instead.
const MAX_LEASES: usize = 4096;

/// The addresses handed out: the server's /64 with interface ids from
/// 0x100 up, one per client DUID.
#[derive(Debug)]
pub struct Pool6 {
    /// The server's own address on the link (not link-local).
    pub server: Ipv6Addr,
    /// Its DUID (option 2), made from the interface's MAC.
    pub duid: Vec<u8>,
    leases: HashMap<Vec<u8>, Ipv6Addr>,
}

impl Pool6 {
    pub fn new(server: Ipv6Addr, mac: [u8; 6]) -> Pool6 {
        Pool6 {
            server,
            duid: duid_ll(mac),
            leases: HashMap::new(),
        }
    }

    fn address_for(&mut self, duid: &[u8]) -> Option<Ipv6Addr> {
        if let Some(a) = self.leases.get(duid) {
            return Some(*a);
        }
        if self.leases.len() >= MAX_LEASES {
            return None;
        }
        let prefix = u128::from(self.server) & !u128::from(u64::MAX);
        let taken = self.leases.len() as u128;
        let a = Ipv6Addr::from(prefix | (0x100 + taken));
        self.leases.insert(duid.to_vec(), a);
        Some(a)
    }
}

/// The server's answer to one client message: ADVERTISE to a SOLICIT,
/// REPLY to a REQUEST meant for this server and to an
/// INFORMATION-REQUEST (stateless: options only); nothing to the rest, Err
/// saying why.
pub fn answer(req: &Message, offer: &Offer, pool: &mut Pool6) -> Result<Message, String> {
    let kind = req.kind().ok_or_else(|| {
        format!(
            "{} is not a client message the server answers",
            req.kind_name()
        )
    })?;
    let client = req
        .option(code::CLIENT_ID)
        .ok_or("no Client Identifier (option 1)")?
        .to_vec();
    let reply_kind = match kind {
        Kind::Solicit => Kind::Advertise,
        Kind::Request | Kind::InformationRequest => Kind::Reply,
        other => return Err(format!("{} needs no answer", other.name())),
    };
    if let Some(id) = req.option(code::SERVER_ID) {
        if id != pool.duid.as_slice() {
            return Err("the client chose another server (option 2)".into());
        }
    } else if kind == Kind::Request {
        return Err("a REQUEST without a Server Identifier (option 2)".into());
    }
    let mut reply = Message::new(reply_kind, req.xid);
    reply.set_option(code::SERVER_ID, pool.duid.clone());
    reply.set_option(code::CLIENT_ID, client.clone());
    if kind != Kind::InformationRequest {
        let iaid = match req.ia_na() {
            Some(Ok(ia)) => ia.iaid,
            Some(Err(e)) => return Err(format!("its IA_NA is malformed: {e}")),
            None => return Err("no IA_NA (option 3): it asks for no address".into()),
        };
        let address = pool.address_for(&client).ok_or_else(|| {
            format!("no address left: {MAX_LEASES} clients (DUIDs) hold one already")
        })?;
        reply.set_option(
            code::IA_NA,
            IaNa {
                iaid,
                t1: PREFERRED / 2,
                t2: PREFERRED * 4 / 5,
                addresses: vec![(address, PREFERRED, VALID)],
                status: None,
            }
            .encode(),
        );
    }
    reply.set_option(code::DNS_SERVERS, pool.server.octets().to_vec());
    if req.names_usp() {
        let usp = offer.usp_v6.as_ref().unwrap_or(&offer.usp);
        reply.add_option(code::VENDOR_OPTS, usp.encode_v6(offer.nul_terminated));
    }
    Ok(reply)
}

/// Whether `reply` gives the client an address (a REPLY with an IA_NA
/// holding one) or, to an INFORMATION-REQUEST, its options: the lease is
/// done.
pub fn completes(reply: &Message) -> bool {
    reply.kind() == Some(Kind::Reply)
        && match reply.ia_na() {
            Some(Ok(ia)) => {
                !ia.addresses.is_empty()
                    && ia
                        .status
                        .as_ref()
                        .is_none_or(|(c, _)| *c != status::NO_ADDRS_AVAIL)
            }
            Some(Err(_)) => false,
            None => true,
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::dhcp::v6::VendorClass;
    use crate::discovery::dhcp::{UspOptions, BBF_ENTERPRISE};

    const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 9];

    fn pool() -> Pool6 {
        Pool6::new("fd00:213::1".parse().unwrap(), [2, 0, 0, 0, 0, 1])
    }

    fn offer() -> Offer {
        Offer {
            usp: UspOptions {
                controller_url: Some("ws://[fd00:213::1]:8080/usp".into()),
                provisioning_code: Some("code-6".into()),
                ..Default::default()
            },
            usp_v6: None,
            nul_terminated: false,
        }
    }

    fn request(kind: Kind, usp: bool) -> Message {
        let mut m = Message::new(kind, [9, 8, 7]);
        m.set_option(code::CLIENT_ID, duid_ll(CLIENT_MAC));
        m.set_option(
            code::IA_NA,
            IaNa {
                iaid: 5,
                ..Default::default()
            }
            .encode(),
        );
        if usp {
            m.add_option(
                code::VENDOR_CLASS,
                VendorClass::encode(BBF_ENTERPRISE, &[b"usp"]),
            );
        }
        m
    }

    #[test]
    fn a_usp_client_is_advertised_an_address_and_option_17_then_replied() {
        let mut pool = pool();
        let adv = answer(&request(Kind::Solicit, true), &offer(), &mut pool).unwrap();
        assert_eq!(adv.kind(), Some(Kind::Advertise));
        assert_eq!(adv.xid, [9, 8, 7]);
        let ia = adv.ia_na().unwrap().unwrap();
        assert_eq!(ia.iaid, 5);
        assert_eq!(
            ia.addresses[0].0,
            "fd00:213::100".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(adv.usp_options().unwrap().unwrap(), offer().usp);
        assert!(!completes(&adv));
        let mut req = request(Kind::Request, true);
        req.set_option(
            code::SERVER_ID,
            adv.option(code::SERVER_ID).unwrap().to_vec(),
        );
        let reply = answer(&req, &offer(), &mut pool).unwrap();
        assert_eq!(reply.kind(), Some(Kind::Reply));
        assert_eq!(reply.ia_na().unwrap().unwrap().addresses, ia.addresses);
        assert_eq!(reply.dns_servers(), vec![pool.server]);
        assert!(completes(&reply));
    }

    #[test]
    fn option_17_carries_the_ipv6_variant_of_the_offer_when_there_is_one() {
        let mut pool = pool();
        let mut o = offer();
        let v6 = UspOptions {
            controller_url: Some("ws://[fd00:213::1]:8080/usp".into()),
            ..o.usp.clone()
        };
        o.usp.controller_url = Some("ws://10.1.2.1:8080/usp".into());
        o.usp_v6 = Some(v6.clone());
        let adv = answer(&request(Kind::Solicit, true), &o, &mut pool).unwrap();
        assert_eq!(adv.usp_options().unwrap().unwrap(), v6);
    }

    #[test]
    fn without_a_usp_vendor_class_there_is_no_option_17() {
        let mut pool = pool();
        let adv = answer(&request(Kind::Solicit, false), &offer(), &mut pool).unwrap();
        assert!(adv.usp_options().is_none());
    }

    #[test]
    fn another_servers_request_and_other_messages_are_not_answered() {
        let mut pool = pool();
        let mut req = request(Kind::Request, true);
        let e = answer(&req, &offer(), &mut pool).unwrap_err();
        assert!(e.contains("without a Server Identifier"), "{e}");
        req.set_option(code::SERVER_ID, duid_ll([2, 9, 9, 9, 9, 9]));
        let e = answer(&req, &offer(), &mut pool).unwrap_err();
        assert!(e.contains("another server"), "{e}");
        let e = answer(&request(Kind::Release, true), &offer(), &mut pool).unwrap_err();
        assert!(e.contains("RELEASE needs no answer"), "{e}");
        let mut anonymous = request(Kind::Solicit, true);
        anonymous.options.retain(|(c, _)| *c != code::CLIENT_ID);
        assert!(answer(&anonymous, &offer(), &mut pool).is_err());
    }

    #[test]
    fn an_information_request_gets_option_17_without_an_address() {
        let mut pool = pool();
        let mut info = Message::new(Kind::InformationRequest, [1, 1, 1]);
        info.set_option(code::CLIENT_ID, duid_ll(CLIENT_MAC));
        info.add_option(
            code::VENDOR_CLASS,
            VendorClass::encode(BBF_ENTERPRISE, &[b"usp"]),
        );
        let reply = answer(&info, &offer(), &mut pool).unwrap();
        assert!(reply.ia_na().is_none());
        assert!(reply.usp_options().is_some());
        assert!(completes(&reply));
    }

    #[test]
    fn each_client_keeps_its_own_address_and_a_flood_of_new_ones_is_bounded() {
        let mut pool = pool();
        let a = pool.address_for(b"a");
        assert!(a.is_some());
        assert_eq!(pool.address_for(b"a"), a);
        assert_ne!(pool.address_for(b"b"), a);
        for n in 0..MAX_LEASES as u32 {
            pool.address_for(&n.to_be_bytes());
        }
        assert_eq!(pool.leases.len(), MAX_LEASES);
        assert_eq!(pool.address_for(b"one too many"), None);
        assert_eq!(
            pool.address_for(b"a"),
            a,
            "a known client keeps its address"
        );
        let mut late = request(Kind::Solicit, true);
        late.set_option(code::CLIENT_ID, duid_ll([2, 7, 7, 7, 7, 7]));
        let e = answer(&late, &offer(), &mut pool).unwrap_err();
        assert!(e.contains("no address left"), "{e}");
    }
}
