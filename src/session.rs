//! The Controller side of a USP conversation with one Agent: unique msg_ids,
//! request/response correlation by msg_id, per-request timeouts, a queue of
//! unsolicited Notify messages (answered with NotifyResp when asked), and a
//! trace of every Record. Transport-agnostic: it talks to an `MtpConnector`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use prost::Message;
use thiserror::Error;

use crate::mtp::{Inbound, MtpConnection, MtpConnector, MtpError};
use crate::trace::{hex_preview, Direction, MsgText, Trace, TraceEntry};
use crate::usp::msg;
use crate::usp::proto::msg::{
    header::MsgType, request::ReqType, response::RespType, Msg, NotifyResp,
};
use crate::usp::proto::record::record::RecordType;
use crate::usp::record::{self, RecordTypeRef};

mod bad_record;
mod e2e;
mod e2e_agent_tls;
pub use e2e_agent_tls::{OriginEvent, OriginKind};
mod e2e_tls;
pub use e2e_tls::{TlsCertificate, TlsOpen, TlsOpened};
mod lifecycle;
pub use e2e::{
    name_reason, security_name, Heard, Integrity, RawRecord, RawSent, RetransmitChoice,
    SequenceChoice, Until,
};
pub mod wait_stats;
pub use bad_record::AfterBadRecord;
pub use lifecycle::ConnectionEnd;

#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub controller_id: String,
    /// The Agent's Endpoint ID when known in advance; otherwise learnt from
    /// the MTP handshake or the Agent's Connect Record.
    pub agent_id: Option<String>,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// How long to wait for the Agent's Connect Record after connecting.
    pub connect_record_timeout: Duration,
}

/// A request and the response that answered it.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub sent: Msg,
    pub response: Msg,
    pub elapsed: Duration,
}

#[derive(Debug, Error, Clone)]
pub enum SessionError {
    #[error("no connection to the Agent: {reason}")]
    NotConnected { reason: String },
    #[error("no response within {waited_ms} ms{}", ignored_detail(.ignored))]
    Timeout {
        waited_ms: u64,
        ignored: Vec<String>,
    },
    #[error("no matching Notify arrived within {waited_ms} ms{}", ignored_detail(.ignored))]
    NotifyTimeout {
        waited_ms: u64,
        ignored: Vec<String>,
    },
    #[error("the connection to the Agent ended while waiting for the response: {detail}{}", ignored_detail(.ignored))]
    Closed {
        detail: String,
        ignored: Vec<String>,
    },
    #[error("no sign of the Agent going down within {waited_ms} ms: its connection did not drop and no new Connect Record arrived (through an MQTT or STOMP broker, the new Connect Record is the only sign the harness can see)")]
    StillConnected { waited_ms: u64 },
    #[error("could not send: {0}")]
    Send(String),
    #[error("the Agent's Endpoint ID is unknown: set agent_endpoint_id in the target file")]
    UnknownAgent,
    /// The Agent allows no E2E session context (DisconnectRecord 7106).
    #[error("{0}")]
    E2eNotAllowed(String),
    /// A record-level step (`e2e_send`) could not build its Record.
    #[error("{0}")]
    E2eStep(String),
}

fn ignored_detail(ignored: &[String]) -> String {
    if ignored.is_empty() {
        String::new()
    } else {
        format!("; meanwhile set aside: {}", ignored.join("; "))
    }
}

/// What one received Record turned out to be.
enum Received {
    Msg(Msg),
    ConnectRecord,
    Disconnect(String),
    /// Set aside, with the reason (already traced).
    Ignored(String),
    /// An E2E Record that completed no Msg (a segment, a retransmission).
    Segment,
}

pub struct Session {
    connector: Box<dyn MtpConnector>,
    conn: Option<Box<dyn MtpConnection>>,
    config: SessionConfig,
    agent_id: Option<String>,
    msg_prefix: String,
    next_msg: u64,
    notifications: VecDeque<Msg>,
    /// Notifys dropped from the full queue since the last case started.
    notifications_dropped: u64,
    /// Bounded: a flood keeps its first and last Records (trace::Trace).
    trace: Trace,
    connect_record_seen: bool,
    /// Records received on the current connection before its Connect Record.
    records_before_connect: u32,
    /// The Endpoint ID in the Agent's TLS certificate on the current
    /// connection; Records from any other from_id are set aside (R-SEC.10a).
    certificate_endpoint_id: Option<String>,
    /// The E2E session context (`--e2e`), if any.
    e2e: Option<e2e::HarnessE2e>,
    /// Every Endpoint ID the Agent presented, with where it was seen, for
    /// the `endpoint_ids` step (R-ARC.2a/5/6).
    seen_ids: Vec<SeenEndpointId>,
    /// Answers (responses, Errors) that arrived while no request was
    /// waiting, newest last, at most `SET_ASIDE_ANSWERS`: an Operate sent
    /// with send_resp false must find none to its msg_id.
    answers_set_aside: VecDeque<Msg>,
    /// Why the last connection ended, for a step that finds none: the
    /// cause is then named, not just "not connected".
    ended: Option<String>,
    /// Whether the run's silence windows may end at a barrier request's
    /// answer (`with_silence_barrier`).
    silence_barrier: bool,
    /// (reason_code, reason) of the latest DisconnectRecord not yet
    /// looked at by a record-level step.
    last_disconnect: Option<(u32, String)>,
    /// Connect Records received over the session's life: one arriving on a
    /// live connection means the Agent opened its MTP session again.
    connect_records: u64,
}

/// How many unawaited answers `Session` keeps.
const SET_ASIDE_ANSWERS: usize = 16;

/// How many unsolicited Notifys wait for a `wait_notify` at most.
pub const MAX_QUEUED_NOTIFICATIONS: usize = 10_000;

/// An Endpoint ID the Agent presented, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenEndpointId {
    pub source: &'static str,
    pub id: String,
}

impl Session {
    pub fn new(connector: Box<dyn MtpConnector>, config: SessionConfig) -> Self {
        // A per-run prefix keeps msg_ids unique across runs against the same
        // Agent, so a late answer from an old run can never match.
        let prefix = format!("plugfest-{}", chrono::Utc::now().timestamp_millis());
        Session {
            connector,
            conn: None,
            agent_id: config.agent_id.clone(),
            config,
            msg_prefix: prefix,
            next_msg: 1,
            notifications: VecDeque::new(),
            notifications_dropped: 0,
            trace: Trace::default(),
            connect_record_seen: false,
            records_before_connect: 0,
            certificate_endpoint_id: None,
            e2e: None,
            seen_ids: Vec::new(),
            answers_set_aside: VecDeque::new(),
            ended: None,
            silence_barrier: false,
            last_disconnect: None,
            connect_records: 0,
        }
    }

    /// Lets `expect_silence_default` end at the answer to a barrier request
    /// instead of waiting out the window. Only for the in-process reference
    /// Agent over an MTP that keeps order (WebSocket, UDS): it sends every
    /// Notify before answering the next request (agent::runtime). A real
    /// Agent promises no such thing, so its windows are waited in full.
    pub fn with_silence_barrier(mut self, on: bool) -> Self {
        self.silence_barrier = on;
        self
    }

    pub fn agent_id(&self) -> Option<&str> {
        self.agent_id.as_deref()
    }

    pub fn controller_id(&self) -> &str {
        &self.config.controller_id
    }

    /// Every distinct (where, Endpoint ID) the Agent presented so far.
    pub fn seen_endpoint_ids(&self) -> &[SeenEndpointId] {
        &self.seen_ids
    }

    fn saw_id(&mut self, source: &'static str, id: &str) {
        // Every Record passes here: compare before making a copy.
        if !self
            .seen_ids
            .iter()
            .any(|s| s.source == source && s.id == id)
        {
            self.seen_ids.push(SeenEndpointId {
                source,
                id: id.to_string(),
            });
        }
    }

    pub fn connect_record_seen(&self) -> bool {
        self.connect_record_seen
    }

    /// How many Records the Agent sent on this connection before its Connect
    /// Record (R-MTP.6 wants none).
    pub fn records_before_connect_record(&self) -> u32 {
        self.records_before_connect
    }

    /// Whether the current connection's MTP has a Connect Record at all
    /// (CoAP has none); true while not connected.
    pub fn mtp_defines_connect_record(&self) -> bool {
        self.conn
            .as_ref()
            .is_none_or(|c| c.defines_connect_record())
    }

    /// The current connection's MTP label, e.g. `CoAP`.
    pub fn mtp_name(&self) -> Option<&'static str> {
        self.conn.as_ref().map(|c| c.peer().mtp)
    }

    pub fn describe_connector(&self) -> String {
        self.connector.describe()
    }

    /// Adds something the harness saw outside USP (an HTTP request to its
    /// file server) to the trace.
    pub fn push_trace(&mut self, entry: TraceEntry) {
        self.trace.push(entry);
    }

    /// What is traced so far (since the last `take_trace`).
    pub fn trace(&self) -> &[TraceEntry] {
        &self.trace
    }

    /// Everything traced since the last call.
    pub fn take_trace(&mut self) -> Vec<TraceEntry> {
        self.trace.take()
    }

    /// The live connection, for binding-specific steps (`ws_control`,
    /// `expect_close`) that act on the wire below the Records.
    pub fn connection_mut(&mut self) -> Option<&mut Box<dyn MtpConnection>> {
        self.conn.as_mut()
    }

    /// No connection yet, and one from the Agent is waiting to be taken
    /// (a WebSocket server that accepts ahead).
    pub fn agent_is_waiting(&mut self) -> bool {
        self.conn.is_none() && self.connector.has_waiting_connection()
    }

    /// Forgets a connection a step dropped or saw closed; the next step
    /// that needs the Agent waits for it to connect again.
    pub fn forget_connection(&mut self) {
        self.conn = None;
    }

    /// Connects (or waits for the Agent to connect) unless already connected,
    /// then gives the Agent a moment to send its Connect Record (R-MTP.6).
    pub async fn ensure_connected(&mut self) -> Result<(), SessionError> {
        self.connect_within(self.config.connect_timeout).await
    }

    /// `ensure_connected` with the caller's time limit (a step that makes
    /// the Agent go through its retry back-off waits longer).
    pub async fn ensure_connected_within(&mut self, timeout: Duration) -> Result<(), SessionError> {
        self.connect_within(timeout).await
    }

    /// `ensure_connected` with its own time limit.
    async fn connect_within(&mut self, timeout: Duration) -> Result<(), SessionError> {
        if self.conn.is_some() {
            return Ok(());
        }
        let conn = match tokio::time::timeout(timeout, self.connector.establish()).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => {
                return Err(SessionError::NotConnected {
                    reason: e.to_string(),
                })
            }
            Err(_) => {
                let mut reason = format!(
                    "{} got no usable connection within {} ms",
                    self.connector.describe(),
                    timeout.as_millis()
                );
                if let Some(p) = self.connector.last_problem() {
                    reason.push_str(&format!("; last refused attempt: {p}"));
                }
                return Err(SessionError::NotConnected { reason });
            }
        };
        // Over a broker MTP (MQTT) the certificate is the broker's: it
        // neither names the Agent nor filters its Records (R-SEC.10a).
        self.certificate_endpoint_id = conn
            .certificate_names_the_peer()
            .then(|| conn.peer().certificate_endpoint_id.clone())
            .flatten();
        if let Some(eid) = conn.peer().endpoint_id.clone() {
            self.saw_id("the MTP handshake", &eid);
        }
        if let Some(eid) = self.certificate_endpoint_id.clone() {
            self.saw_id("the TLS certificate's subjectAltName", &eid);
        }
        if self.agent_id.is_none() {
            // A certificate's identity is authenticated (R-SEC.0a); the
            // handshake's eid is only claimed, so the certificate wins.
            self.agent_id = self
                .certificate_endpoint_id
                .clone()
                .or_else(|| conn.peer().endpoint_id.clone());
        }
        self.conn = Some(conn);
        self.ended = None;
        // R-E2E.6: a new connection gets a new context.
        if let Some(e2e) = self.e2e.as_mut() {
            e2e.restart();
        }
        self.connect_record_seen = false;
        self.records_before_connect = 0;
        self.await_connect_record().await;
        if self.agent_id.is_none() {
            return Err(SessionError::UnknownAgent);
        }
        Ok(())
    }

    async fn await_connect_record(&mut self) {
        if !self.mtp_defines_connect_record() {
            // Nothing to wait for: the MTP has no Connect Record (CoAP).
            return;
        }
        let deadline = Instant::now() + self.config.connect_record_timeout;
        while !self.connect_record_seen {
            match self.receive_until(deadline).await {
                Ok(Some(Received::Msg(m))) => self.on_unsolicited(m).await,
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        if !self.connect_record_seen {
            self.trace.push(
                TraceEntry::new(Direction::Received, "(nothing)".into(), 0).with_note(format!(
                    "no Connect Record within {} ms of connecting (R-MTP.6)",
                    self.config.connect_record_timeout.as_millis()
                )),
            );
        }
    }

    fn new_msg_id(&mut self) -> String {
        let id = format!("{}-{}", self.msg_prefix, self.next_msg);
        self.next_msg += 1;
        id
    }

    /// Sends a request and waits for the response or Error with the same
    /// msg_id (R-MSG.9); everything else that arrives meanwhile is queued
    /// (Notify) or set aside with the reason.
    pub async fn request(&mut self, req: ReqType) -> Result<Exchange, (Msg, SessionError)> {
        let msg_id = self.new_msg_id();
        let sent = msg::request(msg_id.clone(), req);
        if let Err(e) = self.ensure_connected().await {
            return Err((sent, e));
        }
        let started = Instant::now();
        if let Err(e) = self.send_msg(&sent).await {
            return Err((sent, e));
        }
        let deadline = started + self.config.request_timeout;
        let mut ignored = Vec::new();
        loop {
            match self.receive_until(deadline).await {
                Ok(Some(Received::Msg(m))) => {
                    let is_answer = matches!(
                        msg::body_type(&m),
                        Some(t) if t != MsgType::Notify && msg::request_body(&m).is_none()
                    );
                    if is_answer && msg::msg_id(&m) == msg_id {
                        return Ok(Exchange {
                            sent,
                            response: m,
                            elapsed: started.elapsed(),
                        });
                    }
                    if msg::body_type(&m) == Some(MsgType::Notify) {
                        self.on_unsolicited(m).await;
                    } else {
                        let why = format!(
                            "a {} with msg_id '{}' that answers no outstanding request (expected msg_id '{msg_id}', R-MSG.9)",
                            msg::body_type(&m).map(msg::type_name).unwrap_or("Msg"),
                            msg::msg_id(&m)
                        );
                        self.note_last(&why);
                        ignored.push(why);
                    }
                }
                Ok(Some(Received::Ignored(why))) => ignored.push(why),
                // R-E2E.6a: the Agent allows no session context; waiting
                // on would only time out.
                Ok(Some(Received::Disconnect(_))) if self.e2e_refusal().is_some() => {
                    let why = self.e2e_refusal().unwrap_or_default().to_string();
                    return Err((sent, SessionError::E2eNotAllowed(why)));
                }
                Ok(Some(Received::Disconnect(why))) => ignored.push(why),
                Ok(Some(Received::ConnectRecord)) | Ok(Some(Received::Segment)) => {}
                Ok(None) => {
                    wait_stats::add(wait_stats::WaitKind::RequestTimeout, started.elapsed());
                    return Err((
                        sent,
                        SessionError::Timeout {
                            waited_ms: self.config.request_timeout.as_millis() as u64,
                            ignored,
                        },
                    ));
                }
                Err(e) => {
                    return Err((
                        sent,
                        SessionError::Closed {
                            detail: e.to_string(),
                            ignored,
                        },
                    ))
                }
            }
        }
    }

    /// Returns the first queued or arriving Notify that `matches`, within `timeout`.
    pub async fn wait_notify(
        &mut self,
        timeout: Duration,
        matches: impl Fn(&Msg) -> bool,
    ) -> Result<Msg, SessionError> {
        let _waiting = wait_stats::timer(wait_stats::WaitKind::Notify);
        if let Some(pos) = self.notifications.iter().position(&matches) {
            return Ok(self
                .notifications
                .remove(pos)
                .expect("position is in range"));
        }
        self.ensure_connected().await?;
        let deadline = Instant::now() + timeout;
        let mut ignored = Vec::new();
        loop {
            match self.receive_until(deadline).await {
                Ok(Some(Received::Msg(m))) if msg::body_type(&m) == Some(MsgType::Notify) => {
                    self.acknowledge(&m).await;
                    if matches(&m) {
                        return Ok(m);
                    }
                    self.queue_notification(m);
                }
                Ok(Some(Received::Msg(m))) => ignored.push(format!(
                    "an unexpected {} with msg_id '{}'",
                    msg::body_type(&m).map(msg::type_name).unwrap_or("Msg"),
                    msg::msg_id(&m)
                )),
                Ok(Some(Received::Ignored(why))) | Ok(Some(Received::Disconnect(why))) => {
                    ignored.push(why)
                }
                Ok(Some(Received::ConnectRecord)) | Ok(Some(Received::Segment)) => {}
                Ok(None) => {
                    return Err(SessionError::NotifyTimeout {
                        waited_ms: timeout.as_millis() as u64,
                        ignored,
                    })
                }
                Err(e) => {
                    return Err(SessionError::Closed {
                        detail: e.to_string(),
                        ignored,
                    })
                }
            }
        }
    }

    /// Notifications that arrived and no step has taken yet, oldest first.
    pub fn queued_notifications(&self) -> impl Iterator<Item = &Msg> {
        self.notifications.iter()
    }

    /// Drops notifications queued so far (a new test case starts clean).
    pub fn clear_notifications(&mut self) {
        self.notifications.clear();
        self.notifications_dropped = 0;
    }

    /// Keeps an unsolicited Notify for a later `wait_notify`. The queue is
    /// bounded, so an Agent flooding Notifys cannot grow the harness's
    /// memory without limit: past `MAX_QUEUED_NOTIFICATIONS` the oldest go,
    /// and the trace says so once per case.
    pub(super) fn queue_notification(&mut self, m: Msg) {
        if self.notifications.len() >= MAX_QUEUED_NOTIFICATIONS {
            self.notifications.pop_front();
            self.notifications_dropped += 1;
            if self.notifications_dropped == 1 {
                self.trace.push(
                    TraceEntry::new(Direction::Received, "(Notify queue full)".into(), 0)
                        .with_note(format!(
                            "more than {MAX_QUEUED_NOTIFICATIONS} unsolicited Notifys are waiting: the oldest are dropped from now on"
                        )),
                );
            }
        }
        self.notifications.push_back(m);
    }

    pub async fn close(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            conn.close(Some(1000), "test run finished").await;
        }
    }

    async fn on_unsolicited(&mut self, m: Msg) {
        if msg::body_type(&m) == Some(MsgType::Notify) {
            self.acknowledge(&m).await;
            self.queue_notification(m);
        } else if msg::request_body(&m).is_none() {
            if self.answers_set_aside.len() == SET_ASIDE_ANSWERS {
                self.answers_set_aside.pop_front();
            }
            self.answers_set_aside.push_back(m);
        }
    }

    /// R-NOT.10: a Notify with send_resp gets a NotifyResp with the same
    /// msg_id and subscription_id.
    async fn acknowledge(&mut self, notify: &Msg) {
        let Some(ReqType::Notify(n)) = msg::request_body(notify) else {
            return;
        };
        if !n.send_resp {
            return;
        }
        let resp = msg::response(
            msg::msg_id(notify),
            RespType::NotifyResp(NotifyResp {
                subscription_id: n.subscription_id.clone(),
            }),
        );
        // A failed acknowledgement shows in the trace; the Agent will retry.
        let _ = self.send_msg(&resp).await;
    }

    async fn send_msg(&mut self, m: &Msg) -> Result<(), SessionError> {
        let agent = self.agent_id.clone().ok_or(SessionError::UnknownAgent)?;
        let all = match self.e2e_wrap(m, &agent) {
            Some(records) => records,
            None => {
                // The Msg is encoded once: for the Record and for the trace.
                let payload = m.encode_to_vec();
                let from = &self.config.controller_id;
                let bytes = record::encode_no_session(from, &agent, &payload);
                let mut entry = TraceEntry::new(
                    Direction::Sent,
                    record::describe_no_session(from, &agent),
                    bytes.len(),
                );
                entry.msg = Some(MsgText::from_encoding(payload));
                self.trace.push(entry);
                vec![bytes]
            }
        };
        self.send_bytes(all).await
    }

    async fn send_bytes(&mut self, all: Vec<Vec<u8>>) -> Result<(), SessionError> {
        let reason = self.not_connected();
        let conn = self
            .conn
            .as_mut()
            .ok_or(SessionError::NotConnected { reason })?;
        for bytes in all {
            if let Err(e) = conn.send(&bytes).await {
                self.conn = None;
                self.ended = Some(format!("sending failed: {e}"));
                return Err(SessionError::Send(e.to_string()));
            }
        }
        Ok(())
    }

    /// "not connected", with why the last connection ended when one did.
    fn not_connected(&self) -> String {
        match &self.ended {
            Some(why) => format!("not connected: the last connection ended ({why})"),
            None => "not connected".into(),
        }
    }

    fn note_last(&mut self, note: &str) {
        if let Some(last) = self.trace.last_mut() {
            last.note = Some(note.to_string());
        }
    }

    /// Receives and classifies one Record; `Ok(None)` when the deadline passes.
    async fn receive_until(&mut self, deadline: Instant) -> Result<Option<Received>, MtpError> {
        if let Some(ready) = self.e2e.as_mut().and_then(|e| e.ready.pop_front()) {
            return Ok(Some(ready));
        }
        let reason = self.not_connected();
        let Some(conn) = self.conn.as_mut() else {
            return Err(MtpError::Closed { code: None, reason });
        };
        let inbound = match tokio::time::timeout_at(deadline.into(), conn.recv()).await {
            Err(_) => return Ok(None),
            Ok(Err(e)) => {
                self.conn = None;
                self.ended = Some(e.to_string());
                self.trace.push(
                    TraceEntry::new(Direction::Received, "(connection closed)".into(), 0)
                        .with_note(e.to_string()),
                );
                return Err(e);
            }
            Ok(Ok(inbound)) => inbound,
        };
        let received = self.classify(inbound);
        let owed = self.e2e_outbox();
        if !owed.is_empty() {
            // A failed send shows as a closed connection on the next receive.
            let _ = self.send_bytes(owed).await;
        }
        Ok(Some(received))
    }

    fn classify(&mut self, inbound: Inbound) -> Received {
        let bytes = match inbound {
            Inbound::Record(b) => b,
            Inbound::Unusable(what) => {
                let why = format!("received {what}");
                self.trace.push(
                    TraceEntry::new(Direction::Received, "(unusable frame)".into(), 0)
                        .with_note(&why),
                );
                return Received::Ignored(why);
            }
        };
        // Read in place: the Record's strings and payload are not copied
        // (record::parse makes the same checks as record::decode).
        let rec = match record::parse(&bytes, Some(&self.config.controller_id)) {
            Ok(r) => r,
            Err(e) => {
                let why = e.to_string();
                self.trace.push(
                    TraceEntry::new(Direction::Received, hex_preview(&bytes), bytes.len())
                        .with_note(format!("set aside: {why}")),
                );
                return Received::Ignored(why);
            }
        };
        let mut entry = TraceEntry::new(Direction::Received, rec.describe(), bytes.len());
        if let Some(cert_eid) = &self.certificate_endpoint_id {
            if rec.from_id != cert_eid.as_str() {
                let why = format!(
                    "a Record from '{}' over a TLS connection whose certificate names '{cert_eid}' (R-SEC.10a: Records whose from_id does not match the certificate's Endpoint ID must not be processed)",
                    rec.from_id
                );
                self.trace.push(entry.with_note(&why));
                return Received::Ignored(why);
            }
        }
        if let Some(agent) = &self.agent_id {
            if rec.from_id != agent.as_str() {
                let why = format!(
                    "a Record from '{}', not from the Agent under test '{agent}'",
                    rec.from_id
                );
                self.trace.push(entry.with_note(&why));
                return Received::Ignored(why);
            }
        } else {
            self.agent_id = Some(rec.from_id.to_string());
        }
        let fields = crate::usp::record::integrity::NonPayload::from(&rec);
        if let Some(why) = self.integrity_problem(&fields, &rec.mac_signature, &entry.record) {
            self.trace.push(entry.with_note(&why));
            return Received::Ignored(why);
        }
        let is_connect = matches!(
            rec.other_type(),
            Some(RecordType::WebsocketConnect(_))
                | Some(RecordType::MqttConnect(_))
                | Some(RecordType::StompConnect(_))
                | Some(RecordType::UdsConnect(_))
        );
        let source = if is_connect {
            "a Connect Record's from_id"
        } else {
            "a Record's from_id"
        };
        self.saw_id(source, &rec.from_id);
        if !is_connect && !self.connect_record_seen {
            self.records_before_connect += 1;
        }
        let outcome = match rec.other_type() {
            Some(RecordType::WebsocketConnect(_))
            | Some(RecordType::MqttConnect(_))
            | Some(RecordType::StompConnect(_))
            | Some(RecordType::UdsConnect(_)) => {
                self.connect_record_seen = true;
                self.connect_records += 1;
                // A Connect Record starts a new MTP session on the Agent's
                // side (R-MTP.8); the E2E context starts over with it.
                if let Some(e2e) = self.e2e.as_mut() {
                    e2e.restart();
                }
                Received::ConnectRecord
            }
            Some(RecordType::Disconnect(d)) => {
                // The reason_code named; the E2E state purged (R-MTP.7/9).
                let why = self.e2e_disconnect(d.reason_code, &d.reason);
                self.last_disconnect = Some((d.reason_code, d.reason.clone()));
                entry = entry.with_note(&why);
                Received::Disconnect(why)
            }
            Some(RecordType::SessionContext(sc)) => {
                let (got, note) = self.e2e_receive(sc, rec.payload_security);
                if let Received::Msg(m) = &got {
                    entry = entry.with_msg(m);
                }
                entry = entry.with_note(note);
                got
            }
            _ => match rec.payload_msg() {
                Ok(m) => {
                    self.e2e_note_plain(&entry.record, &m);
                    // The trace keeps the payload as received: it is the
                    // Msg's encoding already, no need to encode it again.
                    if let RecordTypeRef::NoSessionContext { payload } = rec.record_type {
                        entry.msg = Some(MsgText::from_encoding(payload.into_owned()));
                    }
                    Received::Msg(m)
                }
                Err(e) => {
                    let why = format!("a Record whose Msg could not be used: {e}");
                    entry = entry.with_note(&why);
                    Received::Ignored(why)
                }
            },
        };
        self.trace.push(entry);
        outcome
    }
}
