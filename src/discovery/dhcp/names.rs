//! The harness's DNS responder beside its DHCP server (TP-469 8.3): when a
//! case offers a Controller URL whose host is a name (`dhcp_offer: {
//! controller_host }`), the DHCP server names this responder in option 6
//! (DHCPv6: 23) and it answers that name's A query with the interface's
//! IPv4 address and its AAAA query with the IPv6 one DHCPv6 is served on; every
//! question it is asked is kept for `expect_dns`. It knows no other name
//! (NXDOMAIN) and recurses nowhere.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::dns::{self, rcode, Question};
use super::DhcpHandle;

/// The TTL of an answer: short, as the names last one case.
const TTL_SECONDS: u32 = 60;

/// One question the responder was asked, and its answer.
#[derive(Debug, Clone)]
pub struct Asked {
    pub at: Instant,
    pub from: SocketAddr,
    /// The first question, or why the datagram was not a query.
    pub question: Result<Question, String>,
    /// The addresses answered, or the RCODE's name.
    pub answer: Result<Vec<IpAddr>, &'static str>,
}

impl Asked {
    /// `+12 ms from 10.0.0.2:5353: A controller.test -> 10.0.0.1`.
    pub fn describe(&self, since: Instant) -> String {
        let at = format!(
            "+{} ms",
            self.at.saturating_duration_since(since).as_millis()
        );
        let q = match &self.question {
            Ok(q) => q.describe(),
            Err(e) => return format!("{at} from {}: {e}", self.from),
        };
        let a = match &self.answer {
            Ok(addrs) if addrs.is_empty() => "no address".to_string(),
            Ok(addrs) => addrs
                .iter()
                .map(IpAddr::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            Err(code) => (*code).to_string(),
        };
        format!("{at} from {}: {q} -> {a}", self.from)
    }
}

/// The answer to a question about a known name, `known` holding its IPv4
/// address and, where DHCPv6 is served, its IPv6 one: the address of the
/// question's type (A, AAAA), nothing for other types; NXDOMAIN for an
/// unknown name.
pub fn answer(
    q: &Question,
    known: Option<(Ipv4Addr, Option<Ipv6Addr>)>,
) -> (u8, Result<Vec<IpAddr>, &'static str>) {
    let Some((v4, v6)) = known else {
        return (rcode::NXDOMAIN, Err("NXDOMAIN"));
    };
    let addresses = match q.qtype {
        dns::qtype::A => vec![IpAddr::V4(v4)],
        dns::qtype::AAAA => v6.map(IpAddr::V6).into_iter().collect(),
        _ => Vec::new(),
    };
    (rcode::NOERROR, Ok(addresses))
}

/// Answers on `socket` (port 53 of the interface's address) until aborted.
pub(super) async fn serve(socket: tokio::net::UdpSocket, handle: DhcpHandle) {
    let mut buf = vec![0u8; 1500];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let raw = &buf[..n];
        let asked = match dns::decode_query(raw) {
            Ok(query) => {
                let q = query.questions[0].clone();
                let (code, answered) = answer(&q, handle.known_address(&q.name));
                let addrs = answered.clone().unwrap_or_default();
                let reply = dns::encode_response(&query, raw, code, &addrs, TTL_SECONDS);
                let _ = socket.send_to(&reply, from).await;
                Asked {
                    at: Instant::now(),
                    from,
                    question: Ok(q),
                    answer: answered,
                }
            }
            Err(e) => Asked {
                at: Instant::now(),
                from,
                question: Err(format!("not a DNS query: {e} ({n} bytes)")),
                answer: Err("no answer"),
            },
        };
        handle.note_asked(asked);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(name: &str, qtype: u16) -> Question {
        Question {
            name: name.into(),
            qtype,
            qclass: 1,
        }
    }

    #[test]
    fn a_known_name_resolves_to_the_server_and_nothing_else_does() {
        let a = Ipv4Addr::new(10, 0, 0, 1);
        let a6: Ipv6Addr = "fd00::1".parse().unwrap();
        assert_eq!(
            answer(&q("c.test", dns::qtype::A), Some((a, None))),
            (rcode::NOERROR, Ok(vec![IpAddr::V4(a)]))
        );
        assert_eq!(
            answer(&q("c.test", dns::qtype::AAAA), Some((a, None))),
            (rcode::NOERROR, Ok(vec![]))
        );
        assert_eq!(
            answer(&q("c.test", dns::qtype::AAAA), Some((a, Some(a6)))),
            (rcode::NOERROR, Ok(vec![IpAddr::V6(a6)]))
        );
        assert_eq!(
            answer(&q("c.test", dns::qtype::TXT), Some((a, Some(a6)))),
            (rcode::NOERROR, Ok(vec![]))
        );
        assert_eq!(
            answer(&q("other.test", dns::qtype::A), None),
            (rcode::NXDOMAIN, Err("NXDOMAIN"))
        );
    }
}
