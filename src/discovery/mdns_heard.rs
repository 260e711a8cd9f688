//! Every mDNS question and response multicast on the loopback interface,
//! kept for `expect_mdns_query` (TP-469 8.4: an Agent whose Controller URL
//! names a `.local.` host must resolve it with mDNS) and
//! `expect_mdns_announcement` (TP-469 8.5: after a reboot the Agent
//! announces its services unasked). The listener sits beside
//! mdns-sd's own socket on port 5353 (both set SO_REUSEPORT) but is bound
//! to the mDNS group address, so the kernel hands it multicast only and
//! never a unicast answer meant for mdns-sd. It only reads.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::dhcp::dns::{self, Question, ResourceRecord};

const MDNS_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);
const MDNS_PORT: u16 = 5353;
/// Entries kept per log: mDNS on a busy loopback must not grow it forever.
const CAP: usize = 4096;

/// One question heard, with when and from where.
#[derive(Debug, Clone)]
pub struct Heard {
    pub at: Instant,
    pub from: SocketAddr,
    pub question: Question,
}

/// One multicast response heard (an answer or an unasked announcement):
/// its records, goodbyes (TTL 0) included.
#[derive(Debug, Clone)]
pub struct HeardResponse {
    pub at: Instant,
    pub from: SocketAddr,
    pub records: Vec<ResourceRecord>,
}

struct Log<T> {
    heard: Mutex<Kept<T>>,
    changed: tokio::sync::Notify,
}

impl<T> Default for Log<T> {
    fn default() -> Self {
        Log {
            heard: Mutex::new(Kept {
                dropped: 0,
                entries: Default::default(),
            }),
            changed: Default::default(),
        }
    }
}

/// The last `CAP` entries, and how many older ones were let go, so that
/// positions stay absolute.
struct Kept<T> {
    dropped: usize,
    entries: std::collections::VecDeque<T>,
}

/// What was heard so far, shared with the runner.
pub struct HeardLog<T>(Arc<Log<T>>);

/// The questions.
pub type QuestionLog = HeardLog<Heard>;
/// The responses.
pub type ResponseLog = HeardLog<HeardResponse>;

impl<T> Clone for HeardLog<T> {
    fn clone(&self) -> Self {
        HeardLog(self.0.clone())
    }
}

impl<T> Default for HeardLog<T> {
    fn default() -> Self {
        HeardLog(Arc::default())
    }
}

impl<T: Clone> std::fmt::Debug for HeardLog<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "mDNS on loopback ({} heard)", self.len())
    }
}

impl<T: Clone> HeardLog<T> {
    fn heard(&self) -> std::sync::MutexGuard<'_, Kept<T>> {
        self.0.heard.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many entries were heard so far (a position for `since`).
    pub fn len(&self) -> usize {
        let kept = self.heard();
        kept.dropped + kept.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries from the `from`-th on.
    pub fn since(&self, from: usize) -> Vec<T> {
        let kept = self.heard();
        let skip = from.saturating_sub(kept.dropped);
        kept.entries.iter().skip(skip).cloned().collect()
    }

    fn push(&self, h: T) {
        {
            let mut kept = self.heard();
            if kept.entries.len() >= CAP {
                kept.entries.pop_front();
                kept.dropped += 1;
            }
            kept.entries.push_back(h);
        }
        self.0.changed.notify_waiters();
    }

    /// Waits until `done` holds for the entries from the `from`-th on, or
    /// until `deadline`; returns them.
    pub async fn wait_since(
        &self,
        from: usize,
        deadline: Instant,
        done: impl Fn(&[T]) -> bool,
    ) -> Vec<T> {
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

/// Both logs, for the runner.
#[derive(Clone, Debug, Default)]
pub struct HeardLogs {
    pub questions: QuestionLog,
    pub responses: ResponseLog,
}

/// The listener, listening until dropped.
pub struct Listener {
    questions: QuestionLog,
    responses: ResponseLog,
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
        let questions = QuestionLog::default();
        let responses = ResponseLog::default();
        let task = tokio::spawn(listen(socket, questions.clone(), responses.clone()));
        Ok(Listener {
            questions,
            responses,
            task,
        })
    }

    pub fn questions(&self) -> QuestionLog {
        self.questions.clone()
    }

    pub fn logs(&self) -> HeardLogs {
        HeardLogs {
            questions: self.questions.clone(),
            responses: self.responses.clone(),
        }
    }
}

async fn listen(socket: tokio::net::UdpSocket, questions: QuestionLog, responses: ResponseLog) {
    let mut buf = vec![0u8; 9000];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        // Undecodable datagrams are neither.
        let at = Instant::now();
        if let Ok(query) = dns::decode_query(&buf[..n]) {
            for question in query.questions {
                questions.push(Heard { at, from, question });
            }
        } else if let Ok(records) = dns::decode_records(&buf[..n]) {
            responses.push(HeardResponse { at, from, records });
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
