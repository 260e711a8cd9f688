//! What the MQTT and STOMP interposers share: a listener on a free
//! 127.0.0.1 port in front of the real broker, one relay task per Agent
//! connection, and a handle the runner uses to steer the next connection,
//! read the time-stamped log and wait for an entry. Each interposer brings
//! its own wire codec, log entry (`Logged`), expectation (`Pattern`),
//! steering `S` and the message `K` a live connection can be kicked with.
//! With TLS (`--interpose --tls`) the listener completes the Agent's TLS
//! handshake itself and relays in the clear to the broker's plain listener;
//! it notes per connection whether the Agent spoke TLS, and serves (and
//! reports) a plaintext Agent rather than refuse it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

use crate::mtp::tls::channel::{opens_tls, peek_first_byte, ChannelSecurity, TlsSession};
use crate::mtp::tls::{describe_handshake_error, ServerTls};
pub use crate::trace::Way;
use crate::trace::{Direction, MtpPacket, TraceEntry};

/// The Agent's side of a relayed connection: TCP, or TLS over it.
pub trait AgentIo: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> AgentIo for T {}
pub type AgentStream = Box<dyn AgentIo>;

/// How long an accepted Agent may take to send its first byte and finish
/// a TLS handshake.
const HANDSHAKE_WITHIN: Duration = Duration::from_secs(10);

/// What the listener learnt of one Agent connection before relaying it.
#[derive(Debug, Clone)]
pub struct AgentChannel {
    /// 1 = the first accepted.
    pub connection: u32,
    /// The log's length when it was accepted: it belongs to a case whose
    /// mark is at or before this.
    pub log_at: usize,
    /// The Agent's address, `127.0.0.1:port`.
    pub peer: String,
    pub security: ChannelSecurity,
}

/// One entry of an interposer's log: a packet or a frame.
pub trait Logged: Clone + Send + 'static {
    /// Numbers the entry by its position in the log.
    fn set_seq(&mut self, seq: usize);
    fn one_line(&self) -> String;
    /// Which Agent connection it belongs to (1 = first accepted).
    fn connection(&self) -> u32;
    /// The entry in a case's trace.
    fn trace_entry(&self) -> TraceEntry;
}

/// The trace entry of a logged packet or frame: the harness "receives"
/// what the Agent sends and "sends" what the Agent receives.
pub fn trace_entry(
    packet: MtpPacket,
    way: Way,
    at: &str,
    bytes: usize,
    steered: Option<&String>,
) -> TraceEntry {
    let (direction, arrow) = match way {
        Way::FromAgent => (Direction::Received, "Agent -> broker"),
        Way::ToAgent => (Direction::Sent, "broker -> Agent"),
    };
    let label = format!(
        "{} {} ({arrow}, connection {})",
        packet.mtp, packet.packet, packet.connection
    );
    let mut e = TraceEntry::new(direction, label, bytes);
    e.at = at.to_string();
    e.mtp_packet = Some(packet);
    match steered {
        Some(note) => e.with_note(note.clone()),
        None => e,
    }
}

/// What `expect_mqtt` / `expect_stomp` look for in the log.
pub trait Pattern: Clone {
    type Entry: Logged;
    /// What is looked for, for verdicts: "MQTT CONNECT", "STOMP SEND frame".
    fn what(&self) -> String;
    fn way(&self) -> Way;
    /// Same packet type or command and the same way: a near miss when the
    /// rest does not match.
    fn same_kind(&self, e: &Self::Entry) -> bool;
    /// Why `e` does not match, or `None` when it does.
    fn mismatch(&self, e: &Self::Entry) -> Option<String>;
    fn describe(&self) -> String;
    fn timeout_ms(&self) -> Option<u64>;
    /// The wanted values, for `${var}` substitution.
    fn wanted_values(&mut self) -> impl Iterator<Item = &mut String>;
    /// Which matching entry is wanted: 1 = the first (e.g. 2 for "a second
    /// PINGREQ", a keep-alive period after the first).
    fn nth(&self) -> usize {
        1
    }
    /// Whether only entries after the one the case's previous expectation
    /// matched count (an order the plan asks for, e.g. TP-469 6.10).
    fn after_previous(&self) -> bool {
        false
    }
}

/// The `pattern.nth()` entry of `log` (from `from` on) matching `pattern`,
/// with its position in the log.
pub fn find<'a, P: Pattern>(
    log: &'a [P::Entry],
    from: usize,
    pattern: &P,
) -> Option<(usize, &'a P::Entry)> {
    log.iter()
        .enumerate()
        .skip(from)
        .filter(|(_, e)| pattern.mismatch(e).is_none())
        .nth(pattern.nth().max(1) - 1)
}

/// For a failed expectation: each entry of the wanted kind and way since
/// `from`, and why it did not match.
pub fn near_misses<P: Pattern>(log: &[P::Entry], from: usize, pattern: &P) -> Vec<String> {
    log.iter()
        .skip(from)
        .filter(|e| pattern.same_kind(e))
        .filter_map(|e| {
            pattern
                .mismatch(e)
                .map(|why| format!("{} ({why})", e.one_line()))
        })
        .collect()
}

struct State<E, S, K> {
    log: Vec<E>,
    /// Steering for the next accepted connection.
    pending: Option<S>,
    refuse_left: u32,
    connections: u32,
    /// Live connections, to kick them when a case steers.
    live: Vec<(u32, mpsc::UnboundedSender<K>)>,
    /// Every accepted connection's channel, in order.
    channels: Vec<AgentChannel>,
}

/// What becomes of a newly accepted connection.
pub enum Admission<S, K> {
    /// Refuse it; `left` more are to be refused after it. `steering` is
    /// the steering armed for the connection after the refusals.
    Refuse { left: u32, steering: Option<S> },
    /// Relay it with this steering; the connection is live from now on and
    /// steering kicks arrive on `kicks`.
    Relay {
        steering: S,
        kicks: mpsc::UnboundedReceiver<K>,
    },
}

/// A cheap handle for the runner and the relay tasks.
pub struct Relay<E, S, K> {
    shared: Arc<Mutex<State<E, S, K>>>,
    address: SocketAddr,
    broker: String,
    kind: &'static str,
    /// The listener's TLS, when the Agent is to reach it over TLS.
    tls: Option<ServerTls>,
}

impl<E, S, K> Clone for Relay<E, S, K> {
    fn clone(&self) -> Self {
        Relay {
            shared: self.shared.clone(),
            address: self.address,
            broker: self.broker.clone(),
            kind: self.kind,
            tls: self.tls.clone(),
        }
    }
}

impl<E, S, K> std::fmt::Debug for Relay<E, S, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} interposer {} -> {}",
            self.kind, self.address, self.broker
        )
    }
}

impl<E: Logged, S: Clone + Default, K> Relay<E, S, K> {
    fn lock(&self) -> MutexGuard<'_, State<E, S, K>> {
        // A panicked relay task cannot leave the log half-written in a way
        // that matters more than losing the run's trace.
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Whether the listener expects TLS from the Agent.
    pub fn listens_with_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The channels of the connections accepted since log position `from`.
    pub fn channels_since(&self, from: usize) -> Vec<AgentChannel> {
        let s = self.lock();
        s.channels
            .iter()
            .filter(|c| c.log_at >= from)
            .cloned()
            .collect()
    }

    /// The channels of the connections that are live now; between a drop
    /// and the next connection, the last one accepted.
    pub fn current_channels(&self) -> Vec<AgentChannel> {
        let s = self.lock();
        let live: Vec<AgentChannel> = s
            .channels
            .iter()
            .filter(|c| s.live.iter().any(|(n, _)| *n == c.connection))
            .cloned()
            .collect();
        match live.is_empty() {
            true => s.channels.last().cloned().into_iter().collect(),
            false => live,
        }
    }

    fn note_channel(&self, channel: AgentChannel) {
        self.lock().channels.push(channel);
    }

    /// The real broker, `host:port`.
    pub fn broker(&self) -> &str {
        &self.broker
    }

    /// Arms `steering` for the next connection, after refusing `refuse`
    /// connections, and sends `kick` to every live connection so that the
    /// next one comes at once. Returns the log position from which the
    /// Agent's reaction is to be looked for.
    pub fn arm(&self, steering: S, refuse: u32, kick: Option<K>) -> usize
    where
        K: Clone,
    {
        let mut s = self.lock();
        let mark = s.log.len();
        s.refuse_left = refuse;
        s.pending = Some(steering);
        if let Some(kick) = kick {
            for (_, tx) in s.live.drain(..) {
                let _ = tx.send(kick.clone());
            }
        }
        mark
    }

    /// Forgets steering not yet used (between cases).
    pub fn reset(&self) {
        let mut s = self.lock();
        s.pending = None;
        s.refuse_left = 0;
    }

    pub fn log_len(&self) -> usize {
        self.lock().log.len()
    }

    pub fn since(&self, from: usize) -> Vec<E> {
        self.lock().log.iter().skip(from).cloned().collect()
    }

    /// Waits up to `timeout` for an entry matching `pattern` logged at or
    /// after `from`; on timeout, the near misses.
    pub async fn wait_for<P: Pattern<Entry = E>>(
        &self,
        from: usize,
        pattern: &P,
        timeout: Duration,
    ) -> Result<(usize, E), Vec<String>> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let s = self.lock();
                if let Some((at, e)) = find(&s.log, from, pattern) {
                    return Ok((at, e.clone()));
                }
                if Instant::now() >= deadline {
                    return Err(near_misses(&s.log, from, pattern));
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Appends `entry` to the log, numbered.
    pub fn record(&self, mut entry: E) {
        let mut s = self.lock();
        entry.set_seq(s.log.len());
        s.log.push(entry);
    }

    /// Decides what becomes of a connection that just sent its first
    /// packet or frame, and logs `first` (what it sent so far) in the same
    /// step. A case that steers (`arm`) therefore either comes before: this
    /// connection takes the steering and its first entries lie after the
    /// case's mark; or after: this connection is already live and is kicked.
    /// Never in between, where the steering would be used up by a
    /// connection the case then waits in vain to see replaced.
    pub fn admit(&self, connection: u32, first: impl IntoIterator<Item = E>) -> Admission<S, K> {
        let mut s = self.lock();
        for mut entry in first {
            entry.set_seq(s.log.len());
            s.log.push(entry);
        }
        if s.refuse_left > 0 {
            s.refuse_left -= 1;
            Admission::Refuse {
                left: s.refuse_left,
                steering: s.pending.clone(),
            }
        } else {
            let (tx, kicks) = mpsc::unbounded_channel();
            s.live.push((connection, tx));
            Admission::Relay {
                steering: s.pending.take().unwrap_or_default(),
                kicks,
            }
        }
    }

    /// The connection is over.
    pub fn gone(&self, connection: u32) {
        self.lock().live.retain(|(c, _)| *c != connection);
    }

    fn next_connection(&self) -> u32 {
        let mut s = self.lock();
        s.connections += 1;
        s.connections
    }
}

/// A running interposer; stops (and drops every relayed connection) on drop.
pub struct Interposer<E, S, K> {
    handle: Relay<E, S, K>,
    accept: JoinHandle<()>,
}

impl<E, S, K> Drop for Interposer<E, S, K> {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl<E, S, K> Interposer<E, S, K>
where
    E: Logged,
    S: Clone + Default + Send + 'static,
    K: Send + 'static,
{
    /// Listens on `at` (`127.0.0.1:0`: a free loopback port) in front of
    /// the broker at `broker` (`host:port`, plain TCP) and runs `relay` for
    /// each Agent connection; with `tls`, the Agent is expected to connect
    /// over TLS.
    pub async fn listen<F, Fut>(
        kind: &'static str,
        at: &str,
        broker: &str,
        tls: Option<ServerTls>,
        relay: F,
    ) -> std::io::Result<Self>
    where
        F: Fn(AgentStream, Relay<E, S, K>, u32) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind(at).await?;
        let handle = Relay {
            shared: Arc::new(Mutex::new(State {
                log: Vec::new(),
                pending: None,
                refuse_left: 0,
                connections: 0,
                live: Vec::new(),
                channels: Vec::new(),
            })),
            address: listener.local_addr()?,
            broker: broker.to_string(),
            kind,
            tls,
        };
        let accept = tokio::spawn(accept_loop(listener, handle.clone(), relay));
        Ok(Interposer { handle, accept })
    }

    /// Where the Agent should connect, `127.0.0.1:port`.
    pub fn address(&self) -> String {
        self.handle.address.to_string()
    }

    pub fn handle(&self) -> Relay<E, S, K> {
        self.handle.clone()
    }
}

async fn accept_loop<E, S, K, F, Fut>(listener: TcpListener, handle: Relay<E, S, K>, relay: F)
where
    E: Logged,
    S: Clone + Default + Send + 'static,
    K: Send + 'static,
    F: Fn(AgentStream, Relay<E, S, K>, u32) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let relay = Arc::new(relay);
    // Dropped with this task, which aborts every relay.
    let mut relays = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((agent, peer)) = accepted else { continue };
                let _ = agent.set_nodelay(true);
                let connection = handle.next_connection();
                let log_at = handle.log_len();
                let (handle, relay) = (handle.clone(), relay.clone());
                relays.spawn(async move {
                    // A connection that sends nothing carries nothing to judge.
                    let Some((stream, security)) = secure(agent, handle.tls.as_ref()).await else {
                        return;
                    };
                    handle.note_channel(AgentChannel {
                        connection,
                        log_at,
                        peer: peer.to_string(),
                        security,
                    });
                    if let Some(stream) = stream {
                        relay(stream, handle, connection).await;
                    }
                });
            }
            Some(_) = relays.join_next(), if !relays.is_empty() => {}
        }
    }
}

/// The Agent's stream as the relay reads it (none when its TLS handshake
/// failed), and what its channel is; `None` when it sent nothing. With TLS
/// configured, a first byte that opens no TLS handshake is served in
/// plaintext (and noted so), so that the check reports it.
async fn secure(
    agent: TcpStream,
    tls: Option<&ServerTls>,
) -> Option<(Option<AgentStream>, ChannelSecurity)> {
    let Some(tls) = tls else {
        let plain = ChannelSecurity::Plaintext { first_byte: None };
        return Some((Some(Box::new(agent)), plain));
    };
    let first = tokio::time::timeout(HANDSHAKE_WITHIN, peek_first_byte(&agent))
        .await
        .ok()
        .flatten()?;
    if !opens_tls(first) {
        let plain = ChannelSecurity::Plaintext {
            first_byte: Some(first),
        };
        return Some((Some(Box::new(agent)), plain));
    }
    Some(
        match tokio::time::timeout(HANDSHAKE_WITHIN, tls.acceptor().accept(agent)).await {
            Ok(Ok(stream)) => {
                let session = TlsSession::of(stream.get_ref().1);
                (Some(Box::new(stream)), ChannelSecurity::Tls(session))
            }
            Ok(Err(e)) => (
                None,
                ChannelSecurity::TlsFailed(describe_handshake_error(&e)),
            ),
            Err(_) => (
                None,
                ChannelSecurity::TlsFailed("TLS handshake timed out".into()),
            ),
        },
    )
}
