//! The MQTT interposer: listens on a free 127.0.0.1 port where the Agent
//! under test connects, opens its own connection to the real broker per
//! Agent connection, and relays packets both ways. Every packet is decoded
//! into a shared, time-stamped log; packets to the Agent pass through the
//! steering a test case set (see `mqtt_steer`). Bytes the steering leaves
//! alone are relayed exactly as received.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::mqtt_codec::{self, Version};
use super::mqtt_log::LoggedPacket;
use super::mqtt_steer::{self, Steering};
use super::relay::{Admission, AgentStream, Interposer, Relay, Way};
use crate::mtp::tls::ServerTls;

/// How long an Agent may take to send CONNECT after its TCP connect.
const CONNECT_WITHIN: Duration = Duration::from_secs(10);

/// The runner's handle on the MQTT interposer. A live connection is kicked
/// with `()`: the interposer sends it DISCONNECT.
pub type InterposerHandle = Relay<LoggedPacket, Steering, ()>;

/// The running MQTT interposer; stops on drop.
pub type MqttInterposer = Interposer<LoggedPacket, Steering, ()>;

/// Listens on `at` (`127.0.0.1:0` for a free loopback port) in front of
/// the broker at `broker` (`host:port`, plain TCP); with `tls` the Agent
/// connects over TLS.
pub async fn start(
    at: &str,
    broker: &str,
    tls: Option<ServerTls>,
) -> std::io::Result<MqttInterposer> {
    Interposer::listen("MQTT", at, broker, tls, relay).await
}

impl InterposerHandle {
    /// Sets the steering for the next connection and, with `reconnect`,
    /// sends DISCONNECT to the Agent's live connections so that the next
    /// one comes at once. Returns the log position from which the Agent's
    /// reaction is to be looked for.
    pub fn steer(&self, steering: Steering) -> usize {
        let refuse = steering.refuse_connections;
        let kick = steering.reconnect.then_some(());
        self.arm(steering, refuse, kick)
    }

    fn record_packet(
        &self,
        way: Way,
        connection: u32,
        version: Option<Version>,
        frame: &[u8],
        steered: Option<String>,
    ) {
        self.record(self.packet(way, connection, version, frame, steered));
    }

    /// The log entry of one packet, decoded when the version is known.
    fn packet(
        &self,
        way: Way,
        connection: u32,
        version: Option<Version>,
        frame: &[u8],
        steered: Option<String>,
    ) -> LoggedPacket {
        let summary = match version.map(|v| mqtt_codec::decode(v, frame)) {
            Some(Ok(p)) => mqtt_codec::summarize(frame, &p),
            Some(Err(e)) => mqtt_codec::summarize_raw(frame, &e),
            None => mqtt_codec::summarize_raw(
                frame,
                &mqtt_codec::CodecError::Decode("no protocol version known yet".into()),
            ),
        };
        let mut p = LoggedPacket::new(way, connection, summary, frame.len());
        p.steered = steered;
        p
    }
}

/// Reads the next whole frame into a Vec, keeping extra bytes in `buf`.
/// Cancel-safe: bytes read before a cancellation stay in `buf`.
async fn read_frame(r: &mut (impl AsyncRead + Unpin), buf: &mut Vec<u8>) -> Option<Vec<u8>> {
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

async fn relay(agent: AgentStream, handle: InterposerHandle, conn: u32) {
    let (mut ar, mut aw) = tokio::io::split(agent);
    let mut abuf = Vec::new();
    let Ok(Some(connect)) =
        tokio::time::timeout(CONNECT_WITHIN, read_frame(&mut ar, &mut abuf)).await
    else {
        return;
    };
    let version = match mqtt_codec::connect_version(&connect) {
        Ok(v) => v,
        Err(e) => {
            handle.record_packet(Way::FromAgent, conn, None, &connect, Some(e.to_string()));
            return;
        }
    };

    let logged = handle.packet(Way::FromAgent, conn, Some(version), &connect, None);
    let (steering, mut disconnect) = match handle.admit(conn, [logged]) {
        Admission::Relay { steering, kicks } => (steering, kicks),
        Admission::Refuse { left, steering } => {
            if steering.as_ref().is_some_and(Steering::refuses_by_closing) {
                // As a broker that is down: nothing answers the CONNECT.
                // The log gets a made-up entry, for the retry timing.
                let note = format!(
                    "{}: closed without CONNACK, as a broker that is down ({left} more to refuse)",
                    super::mqtt_retries::REFUSAL_NOTE
                );
                let mut closed = LoggedPacket::new(
                    Way::ToAgent,
                    conn,
                    super::mqtt_codec::PacketSummary {
                        packet: super::mqtt_retries::CLOSED_PACKET.into(),
                        flags: 0,
                        fields: Vec::new(),
                    },
                    0,
                );
                closed.steered = Some(note);
                handle.record(closed);
                let _ = aw.shutdown().await;
                return;
            }
            let reason = steering.and_then(|s| s.refuse_reason);
            let packet = mqtt_steer::refusal(version, reason.as_deref());
            if let Ok(bytes) = mqtt_codec::encode(&packet) {
                let note = format!(
                    "{} ({left} more to refuse)",
                    super::mqtt_retries::REFUSAL_NOTE
                );
                handle.record_packet(Way::ToAgent, conn, Some(version), &bytes, Some(note));
                let _ = aw.write_all(&bytes).await;
            }
            let _ = aw.shutdown().await;
            return;
        }
    };

    let broker = match TcpStream::connect(handle.broker()).await {
        Ok(broker) => broker,
        Err(_) => {
            handle.gone(conn);
            return;
        }
    };
    let _ = broker.set_nodelay(true);
    let (mut br, mut bw) = broker.into_split();
    if bw.write_all(&connect).await.is_err() {
        handle.gone(conn);
        return;
    }

    let up = async {
        while let Some(frame) = read_frame(&mut ar, &mut abuf).await {
            handle.record_packet(Way::FromAgent, conn, Some(version), &frame, None);
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
                    handle.record_packet(Way::ToAgent, conn, Some(version), &bytes, note);
                    if aw.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                Some(()) = disconnect.recv() => {
                    if let Some(bytes) = mqtt_steer::disconnect(version)
                        .and_then(|p| mqtt_codec::encode(&p).ok())
                    {
                        let note = "sent by the interposer (mqtt_steer)".to_string();
                        handle.record_packet(Way::ToAgent, conn, Some(version), &bytes, Some(note));
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
