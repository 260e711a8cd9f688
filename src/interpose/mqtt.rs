//! The MQTT interposer: listens on a free 127.0.0.1 port where the Agent
//! under test connects, opens its own connection to the real broker per
//! Agent connection, and relays packets both ways. Every packet is decoded
//! into a shared, time-stamped log; packets to the Agent pass through the
//! steering a test case set (see `mqtt_steer`). Bytes the steering leaves
//! alone are relayed exactly as received.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

use super::mqtt_codec::{self, Version};
use super::mqtt_log::{self, LoggedPacket, PacketPattern, Way};
use super::mqtt_steer::{self, Steering};

/// How long an Agent may take to send CONNECT after its TCP connect.
const CONNECT_WITHIN: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Shared {
    log: Vec<LoggedPacket>,
    /// Steering for the next accepted connection.
    pending: Option<Steering>,
    refuse_left: u32,
    refuse_reason: Option<String>,
    connections: u32,
    /// Live connections, to send them a DISCONNECT.
    live: Vec<(u32, mpsc::UnboundedSender<()>)>,
}

/// A cheap handle for the runner: steer, read the log, wait for a packet.
#[derive(Clone)]
pub struct InterposerHandle {
    shared: Arc<Mutex<Shared>>,
    address: SocketAddr,
    broker: String,
}

impl std::fmt::Debug for InterposerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MQTT interposer {} -> {}", self.address, self.broker)
    }
}

/// The running interposer; stops (and drops every relayed connection) on drop.
pub struct MqttInterposer {
    handle: InterposerHandle,
    accept: JoinHandle<()>,
}

impl Drop for MqttInterposer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl MqttInterposer {
    /// Listens on a free loopback port in front of the broker at `broker`
    /// (`host:port`).
    pub async fn start(broker: &str) -> std::io::Result<MqttInterposer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let handle = InterposerHandle {
            shared: Arc::default(),
            address: listener.local_addr()?,
            broker: broker.to_string(),
        };
        let accept = tokio::spawn(accept_loop(listener, handle.clone()));
        Ok(MqttInterposer { handle, accept })
    }

    /// Where the Agent should connect, `127.0.0.1:port`.
    pub fn address(&self) -> String {
        self.handle.address.to_string()
    }

    pub fn handle(&self) -> InterposerHandle {
        self.handle.clone()
    }
}

impl InterposerHandle {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panicked relay task cannot leave the log half-written in a way
        // that matters more than losing the run's trace.
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Sets the steering for the next connection and, with `reconnect`,
    /// sends DISCONNECT to the Agent's live connections so that the next
    /// one comes at once. Returns the log position from which the Agent's
    /// reaction is to be looked for.
    pub fn steer(&self, steering: Steering) -> usize {
        let mut s = self.lock();
        let mark = s.log.len();
        s.refuse_left = steering.refuse_connections;
        s.refuse_reason = steering.refuse_reason.clone();
        let reconnect = steering.reconnect;
        s.pending = Some(steering);
        if reconnect {
            for (_, tx) in s.live.drain(..) {
                let _ = tx.send(());
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

    pub fn packets_since(&self, from: usize) -> Vec<LoggedPacket> {
        self.lock().log.iter().skip(from).cloned().collect()
    }

    /// Waits up to `timeout` for a packet matching `pattern` logged at or
    /// after `from`; on timeout, the near misses.
    pub async fn wait_for(
        &self,
        from: usize,
        pattern: &PacketPattern,
        timeout: Duration,
    ) -> Result<LoggedPacket, Vec<String>> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let s = self.lock();
                if let Some(p) = mqtt_log::find(&s.log, from, pattern) {
                    return Ok(p.clone());
                }
                if Instant::now() >= deadline {
                    return Err(mqtt_log::near_misses(&s.log, from, pattern));
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn record(
        &self,
        way: Way,
        connection: u32,
        version: Option<Version>,
        frame: &[u8],
        steered: Option<String>,
    ) {
        let summary = match version.map(|v| mqtt_codec::decode(v, frame)) {
            Some(Ok(p)) => mqtt_codec::summarize(frame, &p),
            Some(Err(e)) => mqtt_codec::summarize_raw(frame, &e),
            None => mqtt_codec::summarize_raw(
                frame,
                &mqtt_codec::CodecError::Decode("no protocol version known yet".into()),
            ),
        };
        let mut s = self.lock();
        let seq = s.log.len();
        let mut p = LoggedPacket::new(seq, way, connection, summary, frame.len());
        p.steered = steered;
        s.log.push(p);
    }
}

async fn accept_loop(listener: TcpListener, handle: InterposerHandle) {
    // Dropped with this task, which aborts every relay.
    let mut relays = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((agent, _)) = accepted else { continue };
                let connection = {
                    let mut s = handle.lock();
                    s.connections += 1;
                    s.connections
                };
                relays.spawn(relay(agent, handle.clone(), connection));
            }
            Some(_) = relays.join_next(), if !relays.is_empty() => {}
        }
    }
}

/// Reads the next whole frame into a Vec, keeping extra bytes in `buf`.
/// Cancel-safe: bytes read before a cancellation stay in `buf`.
async fn read_frame(r: &mut OwnedReadHalf, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    loop {
        match mqtt_codec::frame_len(buf) {
            Ok(Some(n)) => return Some(buf.drain(..n).collect()),
            Ok(None) => {}
            Err(_) => return None,
        }
        match r.read_buf(buf).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

async fn relay(agent: TcpStream, handle: InterposerHandle, conn: u32) {
    let _ = agent.set_nodelay(true);
    let (mut ar, mut aw) = agent.into_split();
    let mut abuf = Vec::new();
    let Ok(Some(connect)) =
        tokio::time::timeout(CONNECT_WITHIN, read_frame(&mut ar, &mut abuf)).await
    else {
        return;
    };
    let version = match mqtt_codec::connect_version(&connect) {
        Ok(v) => v,
        Err(e) => {
            handle.record(Way::FromAgent, conn, None, &connect, Some(e.to_string()));
            return;
        }
    };
    handle.record(Way::FromAgent, conn, Some(version), &connect, None);

    let (refusal, steering) = {
        let mut s = handle.lock();
        if s.refuse_left > 0 {
            s.refuse_left -= 1;
            (Some((s.refuse_reason.clone(), s.refuse_left)), None)
        } else {
            (None, s.pending.take())
        }
    };
    if let Some((reason, left)) = refusal {
        let packet = mqtt_steer::refusal(version, reason.as_deref());
        if let Ok(bytes) = mqtt_codec::encode(&packet) {
            let note = format!("connection refused by the interposer ({left} more to refuse)");
            handle.record(Way::ToAgent, conn, Some(version), &bytes, Some(note));
            let _ = aw.write_all(&bytes).await;
        }
        let _ = aw.shutdown().await;
        return;
    }
    let steering = steering.unwrap_or_default();

    let Ok(broker) = TcpStream::connect(&handle.broker).await else {
        return;
    };
    let _ = broker.set_nodelay(true);
    let (mut br, mut bw) = broker.into_split();
    if bw.write_all(&connect).await.is_err() {
        return;
    }
    let (tx, mut disconnect) = mpsc::unbounded_channel();
    handle.lock().live.push((conn, tx));

    let up = async {
        while let Some(frame) = read_frame(&mut ar, &mut abuf).await {
            handle.record(Way::FromAgent, conn, Some(version), &frame, None);
            if bw.write_all(&frame).await.is_err() {
                break;
            }
        }
    };
    let down = async {
        let mut bbuf = Vec::new();
        loop {
            tokio::select! {
                frame = read_frame(&mut br, &mut bbuf) => {
                    let Some(frame) = frame else { break };
                    let (bytes, note) = steer(&steering, version, frame);
                    handle.record(Way::ToAgent, conn, Some(version), &bytes, note);
                    if aw.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                Some(()) = disconnect.recv() => {
                    if let Some(bytes) = mqtt_steer::disconnect(version)
                        .and_then(|p| mqtt_codec::encode(&p).ok())
                    {
                        let note = "sent by the interposer (mqtt_steer)".to_string();
                        handle.record(Way::ToAgent, conn, Some(version), &bytes, Some(note));
                        let _ = aw.write_all(&bytes).await;
                    }
                    let _ = aw.shutdown().await;
                    break;
                }
            }
        }
    };
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
    handle.lock().live.retain(|(c, _)| *c != conn);
}

/// Applies the steering to one frame going to the Agent: the bytes to send
/// and what changed. Undecodable or untouched frames go out unchanged.
fn steer(steering: &Steering, version: Version, frame: Vec<u8>) -> (Vec<u8>, Option<String>) {
    let Ok(mut packet) = mqtt_codec::decode(version, &frame) else {
        return (frame, None);
    };
    match steering.to_agent(&mut packet) {
        Some(note) => match mqtt_codec::encode(&packet) {
            Ok(bytes) => (bytes, Some(note)),
            Err(e) => (frame, Some(format!("steering not applied: {e}"))),
        },
        None => (frame, None),
    }
}
