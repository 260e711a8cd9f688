//! Test controls of the WebSocket binding (issue #9, TP-469 section 7): a
//! handle a test case scripts through, shared by the server role (which
//! refuses or answers handshakes as planned) and its connections (which
//! send Pings, Pongs, text frames, malformed or fragmented Records on
//! request), and the time-stamped log of what happened on the wire.
//! Connections without a handle never look at any of this: every hook sits
//! behind an `Option` that is `None` on the per-message path of a plain run.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use chrono::{SecondsFormat, Utc};

use crate::mtp::MtpError;
use crate::trace::{Direction, MtpPacket, TraceEntry};

/// Most events one run keeps.
const MAX_EVENTS: usize = 100_000;

/// How the next handshakes are answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandshakePlan {
    /// Handshakes still to refuse with `reject_status`.
    pub reject: u32,
    /// The HTTP status of a refusal (503 Service Unavailable by default).
    pub reject_status: u16,
    /// Answer the next accepted handshake without `Sec-WebSocket-Protocol`
    /// (the Agent must not complete that session, R-WS.12).
    pub omit_subprotocol: bool,
    /// Answer the next handshakes without the `bbf-usp-protocol` extension
    /// even when offered (its absence is no error, R-WS.11b/11c).
    pub omit_extension: bool,
}

pub use crate::trace::Way;

/// One thing seen or done on the WebSocket: a handshake, a control frame,
/// a data frame a test sent, a Close, a dropped TCP connection.
#[derive(Debug, Clone)]
pub struct WsEvent {
    /// RFC 3339 UTC with milliseconds (sorts with the Records' trace).
    pub at: String,
    pub instant: Instant,
    /// Which TCP connection (1 = the first the server accepted).
    pub connection: u32,
    pub way: Way,
    /// `HANDSHAKE`, `HANDSHAKE REFUSED`, `PING`, `PONG`, `CLOSE`, `TEXT`,
    /// `BINARY`, `FRAGMENTED`, `TCP DROPPED`, `SESSION NOT COMPLETED`, ...
    pub kind: &'static str,
    pub fields: Vec<(String, String)>,
}

impl WsEvent {
    /// The entry in a case's trace: the harness "receives" what the Agent
    /// sends and "sends" what reaches the Agent.
    pub fn trace_entry(&self) -> TraceEntry {
        let (direction, arrow) = match self.way {
            Way::FromAgent => (Direction::Received, "Agent -> harness"),
            Way::ToAgent => (Direction::Sent, "harness -> Agent"),
        };
        let mut e = TraceEntry::new(
            direction,
            format!(
                "WebSocket {} ({arrow}, connection {})",
                self.kind, self.connection
            ),
            0,
        );
        e.at = self.at.clone();
        e.mtp_packet = Some(MtpPacket {
            mtp: "WebSocket".into(),
            packet: self.kind.into(),
            flags: 0,
            connection: self.connection,
            fields: self.fields.clone(),
        });
        e
    }

    /// `KIND (field = value, ...)`, for step results.
    pub fn one_line(&self) -> String {
        let fields: Vec<String> = self
            .fields
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        if fields.is_empty() {
            format!("{} on connection {}", self.kind, self.connection)
        } else {
            format!(
                "{} on connection {} ({})",
                self.kind,
                self.connection,
                fields.join(", ")
            )
        }
    }
}

#[derive(Default)]
struct Inner {
    plan: Mutex<HandshakePlan>,
    events: Mutex<Vec<WsEvent>>,
    connections: AtomicU32,
}

/// The handle: cheap to clone, shared by the server, its connections and
/// the runner.
#[derive(Clone, Default)]
pub struct WsControl(Arc<Inner>);

impl std::fmt::Debug for WsControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WsControl({} events)", self.log_len())
    }
}

impl WsControl {
    pub fn new() -> Self {
        WsControl::default()
    }

    /// Replaces the plan for the next handshakes.
    pub fn plan(&self, plan: HandshakePlan) {
        *lock(&self.0.plan) = plan;
    }

    /// Forgets a plan a previous case left unused.
    pub fn reset(&self) {
        self.plan(HandshakePlan::default());
    }

    /// A number for the next accepted TCP connection.
    pub(super) fn next_connection(&self) -> u32 {
        self.0.connections.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// What the server does with the handshake it is answering now; a
    /// refusal and the one-shot subprotocol omission are used up.
    pub(super) fn take_handshake_decision(&self) -> HandshakeDecision {
        let mut plan = lock(&self.0.plan);
        if plan.reject > 0 {
            plan.reject -= 1;
            let status = if plan.reject_status == 0 {
                503
            } else {
                plan.reject_status
            };
            return HandshakeDecision::Refuse(status);
        }
        let omit_subprotocol = std::mem::take(&mut plan.omit_subprotocol);
        HandshakeDecision::Accept {
            omit_subprotocol,
            omit_extension: plan.omit_extension,
        }
    }

    pub fn record(
        &self,
        connection: u32,
        way: Way,
        kind: &'static str,
        fields: Vec<(String, String)>,
    ) {
        let mut events = lock(&self.0.events);
        // A peer flooding Pings must not grow the log without bound: past
        // the cap one last event says the rest was not kept.
        if events.len() > MAX_EVENTS {
            return;
        }
        let (kind, fields) = if events.len() == MAX_EVENTS {
            (
                "LOG FULL",
                vec![("kept".to_string(), format!("the first {MAX_EVENTS} events"))],
            )
        } else {
            (kind, fields)
        };
        events.push(WsEvent {
            at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            instant: Instant::now(),
            connection,
            way,
            kind,
            fields,
        });
    }

    pub fn log_len(&self) -> usize {
        lock(&self.0.events).len()
    }

    /// Every event from position `from` on.
    pub fn events_since(&self, from: usize) -> Vec<WsEvent> {
        lock(&self.0.events)
            .get(from..)
            .map(<[WsEvent]>::to_vec)
            .unwrap_or_default()
    }
}

/// A refusal is a handshake the server refused; an attempt is any
/// handshake the Agent made (`expect_ws_retries`).
impl crate::mtp::retry_log::AttemptLog for WsEvent {
    fn at(&self) -> &str {
        &self.at
    }

    fn is_refusal(&self) -> bool {
        self.kind == "HANDSHAKE REFUSED"
    }

    fn is_attempt(&self) -> bool {
        self.kind.starts_with("HANDSHAKE")
    }
}

/// The server's answer to one handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HandshakeDecision {
    Refuse(u16),
    Accept {
        omit_subprotocol: bool,
        omit_extension: bool,
    },
}

/// A poisoned lock only means another thread panicked while logging: the
/// data is still the best account there is.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a test case can do on a live WebSocket connection besides sending
/// Records (`MtpConnection::ws_frames`).
#[async_trait]
pub trait WsFrames: Send {
    /// Sends a Ping and waits up to `timeout` for the Pong with the same
    /// payload; Records arriving meanwhile are kept for `recv`. `Ok(None)`
    /// when no Pong came.
    async fn ping(
        &mut self,
        payload: &[u8],
        timeout: std::time::Duration,
    ) -> Result<Option<std::time::Duration>, MtpError>;
    /// Sends an unsolicited Pong (RFC 6455 5.5.3: a unidirectional heartbeat).
    async fn unsolicited_pong(&mut self, payload: &[u8]) -> Result<(), MtpError>;
    /// Sends a text frame (R-WS.14: a Record never travels in one).
    async fn send_text(&mut self, text: &str) -> Result<(), MtpError>;
    /// Sends one binary frame of arbitrary bytes (e.g. not a Record).
    async fn send_binary(&mut self, bytes: &[u8]) -> Result<(), MtpError>;
    /// Splits each of the next `records` Records sent over `frames`
    /// frames (a first frame and continuation frames, R-WS.14b).
    fn fragment_next(&mut self, records: u32, frames: u32);
    /// Ends the TCP connection without a WebSocket Close.
    async fn drop_tcp(&mut self);
    /// Starts the closing handshake with a Close of status `code` and reads
    /// until the peer's Close and the end of the connection, or `timeout`
    /// (RFC 6455 7.1.2; TP-469 7.4). Records arriving meanwhile are dropped.
    async fn close_handshake(
        &mut self,
        code: u16,
        timeout: std::time::Duration,
    ) -> Result<CloseExchange, MtpError>;
    /// The number the control log gives this connection.
    fn connection_number(&self) -> u32;
}

/// What came back after the harness sent a Close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseExchange {
    /// The peer's Close: its status code (`None` for a Close without one).
    pub answer: Option<Option<u16>>,
    /// The connection ended (after the exchange, or without it).
    pub ended: bool,
    /// From the harness's Close to the last thing seen.
    pub waited: std::time::Duration,
}

/// The harness as the client of the Agent's WebSocket server: what opens
/// a second session beside the run's own (R-WS.4, TP-469 7.2).
#[derive(Clone)]
pub struct SecondSession(pub super::WsDialer);

impl std::fmt::Debug for SecondSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecondSession({})", self.0.url_with_eid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_used_up_then_the_one_shot_omission() {
        let c = WsControl::new();
        c.plan(HandshakePlan {
            reject: 2,
            omit_subprotocol: true,
            ..Default::default()
        });
        assert_eq!(c.take_handshake_decision(), HandshakeDecision::Refuse(503));
        assert_eq!(c.take_handshake_decision(), HandshakeDecision::Refuse(503));
        let accept = |omit_subprotocol| HandshakeDecision::Accept {
            omit_subprotocol,
            omit_extension: false,
        };
        assert_eq!(c.take_handshake_decision(), accept(true));
        assert_eq!(c.take_handshake_decision(), accept(false));
        c.plan(HandshakePlan {
            reject: 1,
            reject_status: 400,
            ..Default::default()
        });
        c.reset();
        assert_eq!(c.take_handshake_decision(), accept(false));
    }

    #[test]
    fn events_are_numbered_logged_and_capped() {
        let c = WsControl::new();
        assert_eq!((c.next_connection(), c.next_connection()), (1, 2));
        c.record(
            1,
            Way::FromAgent,
            "PING",
            vec![("payload_bytes".into(), "0".into())],
        );
        let e = &c.events_since(0)[0];
        assert_eq!(e.one_line(), "PING on connection 1 (payload_bytes = 0)");
        let entry = e.trace_entry();
        assert_eq!(
            entry.mtp_packet.map(|p| p.mtp),
            Some("WebSocket".to_string())
        );
        assert!(c.events_since(5).is_empty());
        for _ in 0..MAX_EVENTS + 10 {
            c.record(1, Way::ToAgent, "PONG", Vec::new());
        }
        assert_eq!(c.log_len(), MAX_EVENTS + 1);
        assert_eq!(c.events_since(MAX_EVENTS)[0].kind, "LOG FULL");
    }
}
