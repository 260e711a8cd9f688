//! The STOMP interposer: listens on a free 127.0.0.1 port where the Agent
//! under test connects, opens its own connection to the real broker per
//! Agent connection, and relays frames both ways through the sans-I/O
//! STOMP codec (`mtp::stomp::frame`). Every frame (and every run of
//! heart-beat EOLs) goes into a shared, time-stamped log; frames to the
//! Agent pass through the steering a test case set (see `stomp_steer`).
//! Frames are relayed re-encoded: the same command, headers (in order) and
//! body, with STOMP 1.2 escaping applied as the codec writes it (and a
//! `content-length` added to a body that came without one); heart-beat
//! EOLs are relayed as they came.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::relay::{Admission, AgentStream, Interposer, Relay, Way};
use super::stomp_log::LoggedFrame;
use super::stomp_steer::{self, Steering};
use crate::mtp::stomp::frame::{Decoder, Frame, HEARTBEAT};
use crate::mtp::tls::ServerTls;

/// How long an Agent may take to send its STOMP frame after its TCP connect.
const CONNECT_WITHIN: Duration = Duration::from_secs(10);

/// What the runner asks of a live connection.
#[derive(Debug, Clone)]
pub enum Kick {
    /// Close it (the Agent sees the broker go away and reconnects).
    Close,
    /// Send ERROR with this `message`, then close.
    Error(String),
}

/// The runner's handle on the STOMP interposer.
pub type StompInterposerHandle = Relay<LoggedFrame, Steering, Kick>;

/// The running STOMP interposer; stops on drop.
pub type StompInterposer = Interposer<LoggedFrame, Steering, Kick>;

/// Listens on `at` (`127.0.0.1:0` for a free loopback port) in front of
/// the broker at `broker` (`host:port`, plain TCP); with `tls` the Agent
/// connects over TLS.
pub async fn start(
    at: &str,
    broker: &str,
    tls: Option<ServerTls>,
) -> std::io::Result<StompInterposer> {
    Interposer::listen("STOMP", at, broker, tls, relay).await
}

impl StompInterposerHandle {
    /// Sets the steering for the next connection and kicks the live ones
    /// (closed, or sent the ERROR the steering names) so that the next
    /// connection comes at once. Returns the log position from which the
    /// Agent's reaction is to be looked for.
    pub fn steer(&self, steering: Steering) -> usize {
        let refuse = steering.refuse_connections;
        let kick = match &steering.error {
            Some(m) => Some(Kick::Error(m.clone())),
            None => steering.reconnect.then_some(Kick::Close),
        };
        self.arm(steering, refuse, kick)
    }

    fn record_frame(&self, way: Way, conn: u32, frame: &Frame, bytes: usize, note: Option<String>) {
        let mut e = LoggedFrame::of_frame(way, conn, frame, bytes);
        e.steered = note;
        self.record(e);
    }
}

/// What one read of a stream yielded.
enum Item {
    Frame(Frame),
    /// Bare EOLs between frames, forwarded as they are. They are logged
    /// as heart-beats only when they came alone: EOLs read together with
    /// a frame are most likely the optional EOLs after its NUL (RabbitMQ
    /// sends one after every frame), which the codec cannot tell apart.
    Eols {
        count: usize,
        heartbeat: bool,
    },
}

/// Reads once and decodes what arrived: whole frames and heart-beat EOLs.
/// `None` when the stream ended; `Some(Err)` when it is undecodable.
/// Cancel-safe: a cancelled read has consumed nothing.
async fn read_items(
    r: &mut (impl AsyncRead + Unpin),
    dec: &mut Decoder,
) -> Option<Result<Vec<Item>, String>> {
    let mut chunk = [0u8; 16 * 1024];
    let n = match r.read(&mut chunk).await {
        Ok(0) | Err(_) => return None,
        Ok(n) => n,
    };
    dec.push(&chunk[..n]);
    let mut items = Vec::new();
    loop {
        match dec.next_frame() {
            Ok(Some(f)) => items.push(Item::Frame(f)),
            Ok(None) => break,
            Err(e) => return Some(Err(e.to_string())),
        }
    }
    let count = dec.take_heartbeats();
    if count > 0 {
        let heartbeat = items.is_empty();
        items.push(Item::Eols { count, heartbeat });
    }
    Some(Ok(items))
}

/// Logs and forwards items one way; `false` when the connection is over.
async fn forward(
    handle: &StompInterposerHandle,
    way: Way,
    conn: u32,
    items: Vec<Item>,
    steering: Option<&Steering>,
    w: &mut (impl AsyncWrite + Unpin),
) -> bool {
    for item in items {
        let bytes = match item {
            Item::Eols { count, heartbeat } => {
                if heartbeat {
                    handle.record(LoggedFrame::heartbeats(way, conn, count));
                }
                HEARTBEAT.repeat(count)
            }
            Item::Frame(mut f) => {
                let note = steering.and_then(|s| s.to_agent(&mut f));
                let bytes = f.encode();
                handle.record_frame(way, conn, &f, bytes.len(), note);
                bytes
            }
        };
        if w.write_all(&bytes).await.is_err() {
            return false;
        }
    }
    true
}

async fn relay(agent: AgentStream, handle: StompInterposerHandle, conn: u32) {
    let (mut ar, mut aw) = tokio::io::split(agent);
    let mut adec = Decoder::default();
    // Everything up to and including the Agent's first frame (STOMP or
    // CONNECT), held until the broker connection is open.
    let mut first: Vec<Item> = Vec::new();
    let opened = tokio::time::timeout(CONNECT_WITHIN, async {
        loop {
            match read_items(&mut ar, &mut adec).await {
                None => return false,
                Some(Err(e)) => {
                    handle.record(LoggedFrame::undecodable(Way::FromAgent, conn, &e));
                    return false;
                }
                Some(Ok(items)) => {
                    let has_frame = items.iter().any(|i| matches!(i, Item::Frame(_)));
                    first.extend(items);
                    if has_frame {
                        return true;
                    }
                }
            }
        }
    })
    .await;
    if opened != Ok(true) {
        return;
    }

    let logged = first.iter().filter_map(|item| match item {
        Item::Frame(f) => Some(LoggedFrame::of_frame(
            Way::FromAgent,
            conn,
            f,
            f.encode().len(),
        )),
        Item::Eols {
            count,
            heartbeat: true,
        } => Some(LoggedFrame::heartbeats(Way::FromAgent, conn, *count)),
        Item::Eols { .. } => None,
    });
    let logged: Vec<_> = logged.collect();
    let (steering, mut kicks) = match handle.admit(conn, logged) {
        Admission::Relay { steering, kicks } => (steering, kicks),
        Admission::Refuse { left, .. } => {
            let error = stomp_steer::refusal(left);
            let bytes = error.encode();
            let note = format!("connection refused by the interposer ({left} more to refuse)");
            handle.record_frame(Way::ToAgent, conn, &error, bytes.len(), Some(note));
            let _ = aw.write_all(&bytes).await;
            let _ = aw.shutdown().await;
            return;
        }
    };

    let Ok(broker) = TcpStream::connect(handle.broker()).await else {
        let error = stomp_steer::error("the interposer cannot reach the broker");
        let note = format!("broker {} unreachable", handle.broker());
        handle.record_frame(Way::ToAgent, conn, &error, 0, Some(note));
        let _ = aw.write_all(&error.encode()).await;
        handle.gone(conn);
        return;
    };
    let _ = broker.set_nodelay(true);
    let (mut br, mut bw) = broker.into_split();
    // Already logged at admission.
    let first: Vec<u8> = first
        .into_iter()
        .flat_map(|item| match item {
            Item::Frame(f) => f.encode(),
            Item::Eols { count, .. } => HEARTBEAT.repeat(count),
        })
        .collect();
    if bw.write_all(&first).await.is_err() {
        handle.gone(conn);
        return;
    }

    let up = async {
        while let Some(read) = read_items(&mut ar, &mut adec).await {
            let Ok(items) = read.map_err(|e| {
                handle.record(LoggedFrame::undecodable(Way::FromAgent, conn, &e));
            }) else {
                break;
            };
            if !forward(&handle, Way::FromAgent, conn, items, None, &mut bw).await {
                break;
            }
        }
    };
    let down = async {
        let mut bdec = Decoder::default();
        loop {
            tokio::select! {
                read = read_items(&mut br, &mut bdec) => {
                    let Some(read) = read else { break };
                    let Ok(items) = read.map_err(|e| {
                        handle.record(LoggedFrame::undecodable(Way::ToAgent, conn, &e));
                    }) else {
                        break;
                    };
                    if !forward(&handle, Way::ToAgent, conn, items, Some(&steering), &mut aw).await {
                        break;
                    }
                }
                Some(kick) = kicks.recv() => {
                    if let Kick::Error(message) = kick {
                        let error = stomp_steer::error(&message);
                        let bytes = error.encode();
                        let note = "injected by the interposer (stomp_steer error)".to_string();
                        handle.record_frame(Way::ToAgent, conn, &error, bytes.len(), Some(note));
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
    handle.gone(conn);
}

#[cfg(test)]
#[path = "stomp_tests.rs"]
mod tests;
