//! Every mDNS question asked on the loopback interface, kept for
//! `expect_mdns_query` (TP-469 8.4: an Agent whose Controller URL names a
//! `.local.` host must resolve it with mDNS). The listener sits beside
//! mdns-sd's own socket on port 5353 (both set SO_REUSEPORT) but is bound
//! to the mDNS group address, so the kernel hands it multicast only and
//! never a unicast answer meant for mdns-sd. It only reads.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::dhcp::dns::{self, Question};

const MDNS_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);
const MDNS_PORT: u16 = 5353;
/// Questions kept: mDNS on a busy loopback must not grow the log forever.
const CAP: usize = 4096;

/// One question heard, with when and from where.
#[derive(Debug, Clone)]
pub struct Heard {
    pub at: Instant,
    pub from: SocketAddr,
    pub question: Question,
}

#[derive(Default)]
struct Log {
    heard: Mutex<Kept>,
    changed: tokio::sync::Notify,
}

/// The last `CAP` questions, and how many older ones were let go, so that
/// positions stay absolute.
#[derive(Default)]
struct Kept {
    dropped: usize,
    questions: std::collections::VecDeque<Heard>,
}

/// The questions heard so far, shared with the runner.
#[derive(Clone, Default)]
pub struct QuestionLog(Arc<Log>);

impl std::fmt::Debug for QuestionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "mDNS questions on loopback ({} heard)", self.len())
    }
}

impl QuestionLog {
    fn heard(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.0.heard.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many questions were heard so far (a position for `since`).
    pub fn len(&self) -> usize {
        let kept = self.heard();
        kept.dropped + kept.questions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The questions from the `from`-th on.
    pub fn since(&self, from: usize) -> Vec<Heard> {
        let kept = self.heard();
        let skip = from.saturating_sub(kept.dropped);
        kept.questions.iter().skip(skip).cloned().collect()
    }

    fn push(&self, h: Heard) {
        {
            let mut kept = self.heard();
            if kept.questions.len() >= CAP {
                kept.questions.pop_front();
                kept.dropped += 1;
            }
            kept.questions.push_back(h);
        }
        self.0.changed.notify_waiters();
    }

    /// Waits until `done` holds for the questions from the `from`-th on,
    /// or until `deadline`; returns them.
    pub async fn wait_since(
        &self,
        from: usize,
        deadline: Instant,
        done: impl Fn(&[Heard]) -> bool,
    ) -> Vec<Heard> {
        loop {
            let changed = self.0.changed.notified();
            let seen = self.since(from);
            if done(&seen) || Instant::now() >= deadline {
                return seen;
            }
            let _ = tokio::time::timeout_at(deadline.into(), changed).await;
        }
    }
}

/// The listener, listening until dropped.
pub struct Listener {
    log: QuestionLog,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener {
    /// Joins the mDNS group on loopback (127.0.0.1) only.
    pub fn start() -> std::io::Result<Listener> {
        use socket2::{Domain, Protocol, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket.bind(&SocketAddr::V4(SocketAddrV4::new(MDNS_GROUP, MDNS_PORT)).into())?;
        socket.join_multicast_v4(&MDNS_GROUP, &Ipv4Addr::LOCALHOST)?;
        socket.set_nonblocking(true)?;
        let socket = tokio::net::UdpSocket::from_std(socket.into())?;
        let log = QuestionLog::default();
        let task = tokio::spawn(listen(socket, log.clone()));
        Ok(Listener { log, task })
    }

    pub fn log(&self) -> QuestionLog {
        self.log.clone()
    }
}

async fn listen(socket: tokio::net::UdpSocket, log: QuestionLog) {
    let mut buf = vec![0u8; 9000];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        // Answers (QR set) and undecodable datagrams are not questions.
        if let Ok(query) = dns::decode_query(&buf[..n]) {
            let at = Instant::now();
            for question in query.questions {
                log.push(Heard { at, from, question });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heard(name: &str) -> Heard {
        Heard {
            at: Instant::now(),
            from: "127.0.0.1:5353".parse().unwrap(),
            question: Question {
                name: name.into(),
                qtype: dns::qtype::A,
                qclass: 1,
            },
        }
    }

    #[test]
    fn positions_stay_absolute_when_old_questions_are_let_go() {
        let log = QuestionLog::default();
        for i in 0..CAP + 10 {
            log.push(heard(&format!("q{i}.local")));
        }
        assert_eq!(log.len(), CAP + 10);
        let last = log.since(CAP + 8);
        assert_eq!(last.len(), 2);
        assert_eq!(last[0].question.name, format!("q{}.local", CAP + 8));
        // A position already let go gives what is still kept.
        assert_eq!(log.since(0).len(), CAP);
    }
}
