//! The harness's E2E session context (`--e2e`): every request goes out in
//! SessionContextRecords (segmented at `--segment-size`), the Agent's
//! answers are reassembled in sequence_id order, and every rule the Agent's
//! Records break is kept as a violation for the step's checks.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;

use super::{Received, Session, SessionError};
use crate::results::CheckResult;
use crate::trace::{describe_record, Direction, Trace, TraceEntry};
use crate::usp::e2e::{self, session::describe, E2eEvent, E2eSession, Violation};
use crate::usp::msg;
use crate::usp::proto::msg::{header::MsgType, request::ReqType, Msg};
use crate::usp::proto::record::{
    record::{PayloadSecurity, RecordType},
    Record, SessionContextRecord,
};
use crate::usp::record::integrity::{self, NonPayload, Signer};

use super::e2e_agent_tls::AgentTls;
use super::e2e_tls::{HarnessTls, Seal};
use crate::usp::e2e::tls::{Role, TlsFailure};

/// R-MSG.0a: an answer uses the record_type of the request.
const RULE_SAME_RECORD_TYPE: &str = "R-MSG.0a (responses use the record_type of the request)";

pub(super) struct HarnessE2e {
    pub(super) session: E2eSession,
    segment_size: usize,
    /// The last session_id used; the next context gets one more.
    last_session_id: u64,
    pub(super) violations: Vec<Violation>,
    /// Records to send once back in async code (retransmissions, requests,
    /// TLS handshake flights), with how each is sealed.
    outbox: VecDeque<(SessionContextRecord, Seal)>,
    /// Reassembled Msgs beyond the first of one Record.
    pub(super) ready: VecDeque<Received>,
    /// Record-level steps (`e2e_send`): what they need to remember.
    raw: RawState,
    /// Why the Agent refused the session context (a DisconnectRecord 7106,
    /// R-E2E.6a); from then on requests go out of context.
    pub(super) refused: Option<String>,
    /// The harness's signing identity for `mac_signature` steps, made on
    /// first use.
    signer: Option<Arc<Signer>>,
    /// TLS payload security, while the context has it (`e2e_tls`).
    pub(super) tls: Option<HarnessTls>,
    /// Armed by `e2e_tls_answer`: the TLS contexts the Agent opens itself.
    pub(super) agent_tls: Option<AgentTls>,
}

/// The most Records of the Agent's kept for `retransmits` checks.
const PEER_RECORDS_KEPT: usize = 256;

/// State of the record-level steps within one context.
#[derive(Default)]
struct RawState {
    /// sequence_ids a `skip:N` left out; `next` fills them first.
    gaps: BTreeSet<u64>,
    /// The last Record a step sent, whole as it went out (for `repeat`).
    last: Option<Record>,
    /// (sequence_id, msg_id) of steps' requests not yet answered.
    pending: Vec<(u64, String)>,
    /// The Agent's Records in this context, by sequence_id, as first seen.
    peer: BTreeMap<u64, SessionContextRecord>,
    /// Agent Records whose sequence_id had been seen before (resent).
    repeats: Vec<SessionContextRecord>,
    /// expected_id of the Agent's latest Record.
    peer_expected: Option<u64>,
}

/// How a record-level step numbers its Record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequenceChoice {
    /// The context's next sequence_id (a gap a `Skip` left comes first).
    Next,
    /// The last Record a step sent, again, byte for byte (a duplicate).
    Repeat,
    /// Leaves this many sequence_ids out (sent later by `Next`).
    Skip(u64),
    Exactly(u64),
}

/// Which of the Agent's Records a step asks to have resent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetransmitChoice {
    /// The highest sequence_id the Agent has sent in this context.
    Last,
    Id(u64),
}

/// One SessionContextRecord a test step builds field by field.
#[derive(Debug, Clone)]
pub struct RawRecord {
    /// A new session_id: restarts the context (R-E2E.6).
    pub new_session: bool,
    pub sequence: SequenceChoice,
    /// None: the context's next expected id (or the retransmit_id, so the
    /// Record asked for is not acknowledged in the same breath).
    pub expected_id: Option<u64>,
    pub retransmit: Option<RetransmitChoice>,
    /// `Record.payload_security` (PLAINTEXT = 0, TLS12 = 1).
    pub payload_security: i32,
    /// The request carried, if any (an empty Record otherwise).
    pub payload: Option<ReqType>,
    pub integrity: Integrity,
}

/// What a record-level step puts in `mac_signature` and `sender_cert`
/// (non-payload field integrity, R-E2E.29/30).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Integrity {
    /// Neither field.
    #[default]
    Unsigned,
    /// Signed with the harness's key; its certificate names the
    /// Controller's Endpoint ID.
    Signed,
    /// Signed, then one byte of the signature changed: it no longer
    /// verifies.
    BadSignature,
    /// A valid signature by a certificate that names another Endpoint ID
    /// than from_id (R-SEC.0a).
    ForeignCertificate,
}

/// What a record-level step sent.
#[derive(Debug, Clone)]
pub struct RawSent {
    pub msg: Option<Msg>,
    pub sequence_id: u64,
    pub retransmit_id: u64,
    pub session_id: u64,
    pub description: String,
}

/// What the harness is listening for after a record-level step.
#[derive(Debug, Clone)]
pub enum Until {
    /// Answers to these msg_ids (all of them).
    Answers(Vec<String>),
    /// The Agent resending its Record with this sequence_id.
    Resent(u64),
    /// A DisconnectRecord.
    Disconnect,
    /// Nothing in particular: the whole window.
    Window,
}

/// What arrived while listening.
#[derive(Debug, Clone, Default)]
pub struct Heard {
    /// Answers (responses and Errors) in arrival order.
    pub answers: Vec<Msg>,
    /// DisconnectRecords: (reason_code, reason).
    pub disconnects: Vec<(u32, String)>,
    /// The Agent's Record resent, with the original: (original, again).
    pub resent: Option<(SessionContextRecord, SessionContextRecord)>,
}

/// `reason_code` with its name (R-MTP.5 codes 7100-7106).
pub fn name_reason(code: u32) -> String {
    format!("{code} ({})", crate::usp::errors::error_name(code))
}

impl HarnessE2e {
    pub(super) fn new(segment_size: usize) -> Self {
        // R-E2E.3: chosen by the originator, greater than 1; a per-run value
        // keeps a late Record of an earlier run out of this context.
        let first = (chrono::Utc::now().timestamp_millis() as u64).max(2);
        HarnessE2e {
            session: E2eSession::new(first, segment_size),
            segment_size,
            last_session_id: first,
            violations: Vec::new(),
            outbox: VecDeque::new(),
            ready: VecDeque::new(),
            raw: RawState::default(),
            refused: None,
            signer: None,
            tls: None,
            agent_tls: None,
        }
    }

    /// Follows a context the Agent opened (TLS12, `tls` the harness's
    /// server side of it): its session_id from now on, nothing of the old
    /// context kept.
    pub(super) fn adopt(&mut self, session_id: u64, tls: HarnessTls) {
        self.start_over(session_id, Some(tls));
    }

    /// Fills `mac_signature` and `sender_cert` as the step asks.
    fn seal(&mut self, rec: &mut Record, how: Integrity) -> Result<(), SessionError> {
        let fail = |e: String| SessionError::E2eStep(e);
        match how {
            Integrity::Unsigned => {}
            Integrity::Signed | Integrity::BadSignature => {
                let signer = match &self.signer {
                    Some(s) => s.clone(),
                    None => {
                        let s = Arc::new(Signer::new(&rec.from_id).map_err(fail)?);
                        self.signer = Some(s.clone());
                        s
                    }
                };
                signer.sign(rec);
                if how == Integrity::BadSignature {
                    // The last byte belongs to the DER integer s: the
                    // signature still parses but no longer verifies.
                    if let Some(b) = rec.mac_signature.last_mut() {
                        *b ^= 0x01;
                    }
                }
            }
            Integrity::ForeignCertificate => {
                let other = format!("{}-not-me", rec.from_id);
                Signer::new(&other).map_err(fail)?.sign(rec);
            }
        }
        Ok(())
    }

    /// A new context (new connection, or after a processing failure):
    /// R-E2E.6, a new session_id with sequences from 1.
    pub(super) fn restart(&mut self) {
        self.last_session_id += 1;
        self.start_over(self.last_session_id, None);
    }

    /// The context under `session_id`, nothing of the old one kept.
    fn start_over(&mut self, session_id: u64, tls: Option<HarnessTls>) {
        self.session.restart(session_id);
        self.ready.clear();
        self.outbox.clear();
        self.raw = RawState::default();
        self.tls = tls;
    }

    /// How a Record made now is sealed.
    pub(super) fn seal_now(&self) -> Seal {
        self.tls.as_ref().map_or(Seal::Plain, HarnessTls::seal_now)
    }

    /// A Record of the context, sealed (TLS12 and its mac_signature when
    /// the context has TLS).
    pub(super) fn record(
        &self,
        from: &str,
        to: &str,
        sc: SessionContextRecord,
        seal: Seal,
    ) -> Record {
        let mut rec = e2e::record(from, to, sc);
        if let Some(tls) = &self.tls {
            tls.seal(&mut rec, seal);
        }
        rec
    }

    pub(super) fn segment_size(&self) -> usize {
        self.segment_size
    }
}

/// Records the harness sends in the context, each encoded and put in the
/// trace with its note: the bytes to send.
pub(super) fn encode_traced(
    trace: &mut Trace,
    sent: impl IntoIterator<Item = (Record, String)>,
) -> Vec<Vec<u8>> {
    sent.into_iter()
        .map(|(rec, note)| {
            let bytes = crate::usp::record::encode(&rec);
            trace.push(
                TraceEntry::new(Direction::Sent, describe_record(&rec), bytes.len())
                    .with_note(note),
            );
            bytes
        })
        .collect()
}

impl Session {
    /// Wraps every request in an E2E session context, payloads cut into
    /// pieces of at most `segment_size` bytes (0 = never).
    pub fn with_e2e(mut self, segment_size: usize) -> Self {
        self.e2e = Some(HarnessE2e::new(segment_size));
        self
    }

    pub fn e2e_segment_size(&self) -> Option<usize> {
        self.e2e.as_ref().map(HarnessE2e::segment_size)
    }

    /// The encoded Records that carry `m` in the context, traced.
    pub(super) fn e2e_wrap(&mut self, m: &Msg, agent: &str) -> Option<Vec<Vec<u8>>> {
        let e2e = self.e2e.as_mut().filter(|e| e.refused.is_none())?;
        let plain = m.encode_to_vec();
        let payload = match e2e.tls.as_mut() {
            None => plain,
            Some(tls) => match tls.engine.seal(&plain) {
                Some(sealed) => sealed,
                None => {
                    // Nothing can be encrypted: the request is not sent.
                    self.trace.push(
                        TraceEntry::new(Direction::Sent, "(not sent)".into(), 0)
                            .with_msg(m)
                            .with_note("the TLS session in the payload is not established (or failed): nothing can be encrypted for the Agent"),
                    );
                    return Some(Vec::new());
                }
            },
        };
        let seal = e2e.seal_now();
        let records = e2e.session.wrap(&payload);
        let mut out = Vec::new();
        for sc in records {
            let mut note = describe(&sc);
            if seal == Seal::Hmac {
                note.push_str(&format!(", payload_security TLS12: the Msg encrypted ({} bytes of TLS records), HMAC mac_signature", payload.len()));
            }
            let rec = e2e.record(&self.config.controller_id, agent, sc, seal);
            let bytes = crate::usp::record::encode(&rec);
            self.trace.push(
                TraceEntry::new(Direction::Sent, describe_record(&rec), bytes.len())
                    .with_msg(m)
                    .with_note(note),
            );
            out.push(bytes);
        }
        Some(out)
    }

    /// Records the harness owes the Agent (answers to its retransmit
    /// requests, our own retransmit requests), encoded and traced.
    pub(super) fn e2e_outbox(&mut self) -> Vec<Vec<u8>> {
        let Some(agent) = self.agent_id.clone() else {
            return Vec::new();
        };
        let Some(e2e) = self.e2e.as_mut() else {
            return Vec::new();
        };
        let owed: Vec<_> = e2e.outbox.drain(..).collect();
        let sent = owed.into_iter().map(|(sc, seal)| {
            let mut note = describe(&sc);
            match seal {
                Seal::Plain => {}
                Seal::Signed => {
                    note.push_str(", payload_security TLS12: a TLS handshake flight, signed")
                }
                Seal::Hmac => note.push_str(", payload_security TLS12, HMAC mac_signature"),
            }
            (
                e2e.record(&self.config.controller_id, &agent, sc, seal),
                note,
            )
        });
        encode_traced(&mut self.trace, sent)
    }

    /// A Record that is not a SessionContextRecord but carries a Msg while
    /// the context is on: R-MSG.0a is broken (the Msg is still used).
    /// `record` is the Record's description (`RecordRef::describe`).
    pub(super) fn e2e_note_plain(&mut self, record: &str, m: &Msg) {
        // Only answers must follow the request's record_type; a Notify the
        // Agent sends before it has seen the context (a Boot! on connect)
        // has no context to go in.
        if crate::usp::msg::request_body(m).is_some() {
            return;
        }
        if let Some(e2e) = self.e2e.as_mut().filter(|e| e.session.sent_count() > 0) {
            e2e.violations.push(Violation {
                rule: RULE_SAME_RECORD_TYPE,
                record: record.to_string(),
                problem: "the Agent answered outside the E2E session context".into(),
            });
        }
    }

    /// Feeds one received SessionContextRecord to the context; returns what
    /// the classifier reports now (the rest waits in `ready`) and a note
    /// for the trace.
    pub(super) fn e2e_receive(
        &mut self,
        sc: &SessionContextRecord,
        payload_security: i32,
    ) -> (Received, String) {
        let mut note = describe(sc);
        if let Some(adopted) = self.e2e_adopt_agent_context(sc, payload_security) {
            note.push_str(&format!("; {adopted}"));
        }
        let Some(e2e) = self.e2e.as_mut() else {
            // Not asked for: without --e2e the harness opens no context.
            let why =
                format!("a SessionContextRecord although no session context was opened: {note}");
            return (Received::Ignored(why.clone()), why);
        };
        if sc.session_id == e2e.session.session_id() {
            e2e.raw.peer_expected = Some(sc.expected_id);
            if e2e.raw.peer.contains_key(&sc.sequence_id) {
                e2e.raw.repeats.push(sc.clone());
            } else {
                e2e.raw.peer.insert(sc.sequence_id, sc.clone());
                while e2e.raw.peer.len() > PEER_RECORDS_KEPT {
                    e2e.raw.peer.pop_first();
                }
            }
        }
        for ev in e2e.session.receive(sc) {
            match ev {
                E2eEvent::Payload(p) if e2e.tls.is_some() => {
                    let Some(tls) = e2e.tls.as_mut() else {
                        continue;
                    };
                    let before = tls.seal_now();
                    let session_id = e2e.session.session_id();
                    if let Some(alert) = e2e.agent_tls.as_mut().and_then(|a| a.refusal(session_id))
                    {
                        note.push_str("; its ClientHello answered with the TLS alert handshake_failure(40), as the step asked");
                        tls.failure = Some(TlsFailure::Refused(
                            "the harness refused the handshake on purpose".into(),
                        ));
                        for r in e2e.session.wrap(&alert) {
                            e2e.outbox.push_back((r, Seal::Signed));
                        }
                        continue;
                    }
                    let ex = tls.engine.receive(&p);
                    if tls.engine.role() == Role::Server {
                        if let Some(armed) = e2e.agent_tls.as_mut() {
                            if let Some(f) = &ex.failure {
                                armed.ended(session_id, Err(f.to_string()));
                            } else if before == Seal::Signed && !tls.engine.is_handshaking() {
                                armed.ended(session_id, Ok(()));
                            }
                        }
                    }
                    for control in &ex.control {
                        match super::e2e_tls::renegotiation_answer(control) {
                            Ok(fine) => note.push_str(&format!("; {fine}")),
                            Err(problem) => {
                                note.push_str(&format!("; VIOLATION: {problem}"));
                                e2e.violations.push(Violation {
                                    rule: super::e2e_tls::RULE_NO_RENEGOTIATION,
                                    record: describe(sc),
                                    problem,
                                });
                            }
                        }
                    }
                    if let Some(f) = &ex.failure {
                        note.push_str(&format!("; TLS session failed: {f}"));
                        tls.failure.get_or_insert(f.clone());
                    }
                    if !tls.engine.is_handshaking() && before == Seal::Signed {
                        let peer = tls.engine.peer();
                        note.push_str(&format!(
                            "; TLS handshake done ({}, {})",
                            peer.version.unwrap_or_default(),
                            peer.cipher_suite.unwrap_or_default()
                        ));
                    }
                    if !ex.outgoing.is_empty() {
                        for r in e2e.session.wrap(&ex.outgoing) {
                            e2e.outbox.push_back((r, before));
                        }
                    }
                    if ex.plaintext.is_empty() {
                        continue;
                    }
                    match e2e::payload_msg(&ex.plaintext) {
                        Ok(m) => e2e.ready.push_back(Received::Msg(m)),
                        Err(e) => e2e.violations.push(Violation {
                            rule: e2e::RULE_SAR,
                            record: describe(sc),
                            problem: format!(
                                "the decrypted payload ({} bytes) is not a usable Msg: {e}",
                                ex.plaintext.len()
                            ),
                        }),
                    }
                }
                E2eEvent::Payload(p) => match e2e::payload_msg(&p) {
                    Ok(m) => e2e.ready.push_back(Received::Msg(m)),
                    Err(e) => e2e.violations.push(Violation {
                        rule: e2e::RULE_SAR,
                        record: describe(sc),
                        problem: format!(
                            "the reassembled payload ({} bytes) is not a usable Msg: {e}",
                            p.len()
                        ),
                    }),
                },
                E2eEvent::Retransmit(r) => {
                    let seal = e2e.seal_now();
                    e2e.outbox.push_back((r, seal))
                }
                E2eEvent::Held {
                    sequence_id,
                    expected,
                } => {
                    note.push_str(&format!("; held: sequence_id {sequence_id} arrived while {expected} was expected, retransmit_id {expected} asked"));
                    let ask = e2e.session.retransmit_request(expected);
                    let seal = e2e.seal_now();
                    e2e.outbox.push_back((ask, seal));
                }
                E2eEvent::Ignored { why, .. } => note.push_str(&format!("; ignored: {why}")),
                E2eEvent::Restarted { old, new } => {
                    note.push_str(&format!("; context restarted {old} -> {new}"))
                }
                // A step left this sequence_id out on purpose: asking for
                // it is what the Agent should do.
                E2eEvent::Violation(v)
                    if v.rule == e2e::RULE_RETRANSMIT
                        && e2e.raw.gaps.contains(&sc.retransmit_id) =>
                {
                    note.push_str(&format!(
                        "; asks for Record {}, which a step left out on purpose",
                        sc.retransmit_id
                    ))
                }
                E2eEvent::Violation(v) => {
                    note.push_str(&format!("; VIOLATION: {v}"));
                    e2e.violations.push(v);
                }
            }
        }
        let now = e2e.ready.pop_front().unwrap_or(Received::Segment);
        (now, note)
    }

    /// The E2E check of a request step: every Record of the Agent's since
    /// the last check was in the context, in sequence, with valid SAR
    /// states, and nothing is left half-received. None without `--e2e`.
    /// After a violation the context is restarted (a processing failure
    /// starts a new context).
    pub fn e2e_check(&mut self) -> Option<CheckResult> {
        let e2e = self.e2e.as_mut()?;
        let mut found = std::mem::take(&mut e2e.violations);
        found.extend(e2e.session.unfinished());
        let passed = found.is_empty();
        let rule = if passed {
            format!(
                "{}; {}; {}",
                e2e::RULE_SEQUENCE,
                e2e::RULE_SAR,
                RULE_SAME_RECORD_TYPE
            )
        } else {
            let mut rules: Vec<&str> = found.iter().map(|v| v.rule).collect();
            rules.dedup();
            rules.join("; ")
        };
        let actual = if passed {
            format!(
                "in order, SAR states valid (session_id {}, next expected sequence_id {})",
                e2e.session.session_id(),
                e2e.session.expected_id()
            )
        } else {
            found
                .iter()
                .map(Violation::to_string)
                .collect::<Vec<_>>()
                .join(" | ")
        };
        if !passed {
            e2e.restart();
        }
        Some(CheckResult {
            description: "E2E session context: the Agent's Records are in the context, in sequence_id order, with valid SAR states".into(),
            passed,
            expected: format!(
                "SessionContextRecords with sequence_id incrementing by 1 and payload_sar_state NONE or BEGIN, INPROCESS..., COMPLETE (segments of at most {} bytes sent)",
                e2e.segment_size
            ),
            actual,
            rule: Some(rule),
        })
    }
}

impl Session {
    /// How long a request waits for its answer.
    pub fn request_timeout(&self) -> Duration {
        self.config.request_timeout
    }

    /// Why the Agent refused the E2E session context (DisconnectRecord
    /// 7106, R-E2E.6a), if it did.
    pub fn e2e_refusal(&self) -> Option<&str> {
        self.e2e.as_ref().and_then(|e| e.refused.as_deref())
    }

    /// Starts a new context (after a failed record-level step, so the
    /// next case does not inherit a broken one).
    pub fn e2e_restart(&mut self) {
        if let Some(e2e) = self.e2e.as_mut() {
            e2e.restart();
        }
    }

    /// A DisconnectRecord arrived: the E2E state is purged (R-MTP.7/9);
    /// reason_code 7106 means the Agent allows no session context
    /// (R-E2E.6a). Returns the note for the trace.
    pub(super) fn e2e_disconnect(&mut self, reason_code: u32, reason: &str) -> String {
        let mut note = format!(
            "a DisconnectRecord, reason_code {}: {reason}",
            name_reason(reason_code)
        );
        if let Some(e2e) = self.e2e.as_mut() {
            e2e.restart();
            note.push_str("; E2E session state purged");
            if reason_code == crate::usp::errors::SESSION_CONTEXT_NOT_ALLOWED {
                e2e.refused = Some(format!(
                    "the Agent answered the E2E session context with a DisconnectRecord, reason_code {} ('{reason}'): it allows no session context (R-E2E.6a)",
                    name_reason(reason_code)
                ));
            }
        }
        note
    }

    /// Sends one SessionContextRecord built field by field (the
    /// `e2e_send` step), traced.
    pub async fn e2e_send(&mut self, raw: RawRecord) -> Result<RawSent, SessionError> {
        self.ensure_connected().await?;
        let agent = self.agent_id.clone().ok_or(SessionError::UnknownAgent)?;
        if let Some(why) = self.e2e_refusal() {
            return Err(SessionError::E2eNotAllowed(why.to_string()));
        }
        let msg_id = raw.payload.as_ref().map(|_| self.new_msg_id());
        let Some(e2e) = self.e2e.as_mut() else {
            return Err(SessionError::E2eStep(
                "no E2E session context: run with --e2e".into(),
            ));
        };
        if raw.new_session {
            e2e.restart();
        }
        let (rec, msg) = if raw.sequence == SequenceChoice::Repeat {
            let Some(rec) = e2e.raw.last.clone() else {
                return Err(SessionError::E2eStep(
                    "sequence_id: repeat, but no earlier step sent a Record in this context".into(),
                ));
            };
            // The same Record again: a duplicate (same session_id and
            // sequence_id), whose request must not be answered again.
            (rec, None)
        } else {
            let next = e2e.session.next_sequence_id();
            let sequence_id = match raw.sequence {
                SequenceChoice::Next => e2e.raw.gaps.pop_first().unwrap_or(next),
                SequenceChoice::Skip(n) => {
                    e2e.raw.gaps.extend(next..next + n);
                    next + n
                }
                SequenceChoice::Exactly(n) => n,
                SequenceChoice::Repeat => unreachable!("handled above"),
            };
            let retransmit_id = match &raw.retransmit {
                None => 0,
                Some(RetransmitChoice::Id(n)) => *n,
                Some(RetransmitChoice::Last) => match e2e.raw.peer.last_key_value() {
                    Some((seq, _)) => *seq,
                    None => return Err(SessionError::E2eStep(
                        "retransmit_id: last, but the Agent has sent no Record in this context yet"
                            .into(),
                    )),
                },
            };
            let context_expected = e2e.session.expected_id();
            let expected_id = raw.expected_id.unwrap_or(if retransmit_id != 0 {
                retransmit_id.min(context_expected)
            } else {
                context_expected
            });
            let msg = raw
                .payload
                .clone()
                .zip(msg_id.clone())
                .map(|(req, id)| msg::request(id, req));
            let payload = msg.as_ref().map(Message::encode_to_vec).unwrap_or_default();
            let sc = SessionContextRecord {
                session_id: e2e.session.session_id(),
                sequence_id,
                expected_id,
                retransmit_id,
                payload_sar_state: 0,
                payloadrec_sar_state: 0,
                payload: if payload.is_empty() {
                    Vec::new()
                } else {
                    vec![payload]
                },
            };
            e2e.session.record_sent(&sc);
            if let Some(id) = &msg_id {
                e2e.raw.pending.push((sequence_id, id.clone()));
            }
            let mut rec = e2e::record(&self.config.controller_id, &agent, sc);
            rec.payload_security = raw.payload_security;
            e2e.seal(&mut rec, raw.integrity)?;
            e2e.raw.last = Some(rec.clone());
            (rec, msg)
        };
        let Some(RecordType::SessionContext(sc)) = &rec.record_type else {
            unreachable!("e2e_send builds SessionContextRecords only");
        };
        let sent = RawSent {
            msg: msg.clone(),
            sequence_id: sc.sequence_id,
            retransmit_id: sc.retransmit_id,
            session_id: sc.session_id,
            description: describe(sc),
        };
        let bytes = crate::usp::record::encode(&rec);
        let mut entry = TraceEntry::new(Direction::Sent, describe_record(&rec), bytes.len())
            .with_note(format!(
                "{}, payload_security {}{}",
                sent.description,
                security_name(rec.payload_security),
                signature_note(&rec, raw.integrity)
            ));
        if let Some(m) = &msg {
            entry = entry.with_msg(m);
        }
        self.trace.push(entry);
        self.send_bytes(vec![bytes]).await?;
        Ok(sent)
    }

    /// The msg_ids of steps' requests not yet answered, in sequence_id
    /// order, that the Agent can process now (none behind a gap).
    pub fn e2e_pending(&self) -> Vec<(u64, String)> {
        let Some(e2e) = self.e2e.as_ref() else {
            return Vec::new();
        };
        let first_gap = e2e.raw.gaps.first().copied().unwrap_or(u64::MAX);
        let mut p: Vec<(u64, String)> = e2e
            .raw
            .pending
            .iter()
            .filter(|(seq, _)| *seq < first_gap)
            .cloned()
            .collect();
        p.sort();
        p
    }

    /// Stops waiting for the answer to `msg_id` (its Record was meant to
    /// be ignored or rejected).
    pub fn e2e_forget(&mut self, msg_id: &str) {
        if let Some(e2e) = self.e2e.as_mut() {
            e2e.raw.pending.retain(|(_, m)| m != msg_id);
        }
    }

    /// The expected_id of the Agent's latest Record and the sequence_id
    /// the harness sends next (the first an up-to-date Agent expects).
    pub fn e2e_acknowledgement(&self) -> Option<(Option<u64>, u64)> {
        let e2e = self.e2e.as_ref()?;
        let next = e2e
            .raw
            .gaps
            .first()
            .copied()
            .unwrap_or(e2e.session.next_sequence_id());
        Some((e2e.raw.peer_expected, next))
    }

    /// Listens up to `window` after a record-level step, until `until` is
    /// met. Notifys are acknowledged and queued as usual.
    pub async fn e2e_listen(
        &mut self,
        window: Duration,
        until: Until,
    ) -> Result<Heard, SessionError> {
        let deadline = Instant::now() + window;
        let mut heard = Heard::default();
        let mut outstanding: Vec<String> = match &until {
            Until::Answers(ids) => ids.clone(),
            _ => Vec::new(),
        };
        if let Until::Answers(_) = until {
            if outstanding.is_empty() {
                return Ok(heard);
            }
        }
        loop {
            if let (Until::Resent(seq), Some(e2e)) = (&until, self.e2e.as_mut()) {
                if let Some(again) = e2e.raw.repeats.iter().find(|r| r.sequence_id == *seq) {
                    let original = e2e.raw.peer.get(seq).cloned().unwrap_or_default();
                    heard.resent = Some((original, again.clone()));
                    return Ok(heard);
                }
            }
            match self.receive_until(deadline).await {
                Ok(Some(Received::Msg(m))) => {
                    if msg::body_type(&m) == Some(MsgType::Notify) {
                        self.on_unsolicited(m).await;
                        continue;
                    }
                    if msg::request_body(&m).is_some() {
                        continue;
                    }
                    let id = msg::msg_id(&m).to_string();
                    if let Some(e2e) = self.e2e.as_mut() {
                        e2e.raw.pending.retain(|(_, p)| *p != id);
                    }
                    outstanding.retain(|o| *o != id);
                    heard.answers.push(m);
                    if matches!(until, Until::Answers(_)) && outstanding.is_empty() {
                        return Ok(heard);
                    }
                }
                Ok(Some(Received::Disconnect(why))) => {
                    let code = self.last_disconnect.take().unwrap_or((0, why));
                    heard.disconnects.push(code);
                    if matches!(until, Until::Disconnect) {
                        return Ok(heard);
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => return Ok(heard),
                Err(e) => {
                    return Err(SessionError::Closed {
                        detail: e.to_string(),
                        ignored: Vec::new(),
                    })
                }
            }
        }
    }
}

/// What the trace says of a step's mac_signature.
fn signature_note(rec: &Record, how: Integrity) -> String {
    match how {
        Integrity::Unsigned => String::new(),
        Integrity::Signed => format!(
            ", mac_signature ({} bytes) and sender_cert naming '{}'",
            rec.mac_signature.len(),
            rec.from_id
        ),
        Integrity::BadSignature => {
            ", a mac_signature that does not verify (one byte changed)".into()
        }
        Integrity::ForeignCertificate => format!(
            ", a valid mac_signature by a sender_cert naming '{}-not-me', not from_id",
            rec.from_id
        ),
    }
}

impl Session {
    /// A received Record's mac_signature, when it has one: None when it
    /// holds, else why the Record is dropped (kept as an E2E violation too).
    pub(super) fn integrity_problem(
        &mut self,
        fields: &NonPayload,
        mac: &[u8],
        record: &str,
    ) -> Option<String> {
        if let Some(hmac) = self.hmac_problem(fields, mac, record) {
            return hmac;
        }
        if mac.is_empty() {
            return None;
        }
        let e = integrity::verify(fields, mac).err()?;
        let why = format!(
            "a Record whose mac_signature does not hold: {e}; dropped, as a receiver must ({})",
            integrity::RULE
        );
        if let Some(e2e) = self.e2e.as_mut() {
            e2e.violations.push(Violation {
                rule: integrity::RULE,
                record: record.to_string(),
                problem: format!(
                    "the Agent's mac_signature does not hold: {e}; the Record was dropped"
                ),
            });
        }
        Some(why)
    }
}

/// `Record.payload_security` by name.
pub fn security_name(v: i32) -> &'static str {
    match PayloadSecurity::try_from(v) {
        Ok(PayloadSecurity::Plaintext) => "PLAINTEXT",
        Ok(PayloadSecurity::Tls12) => "TLS12",
        Err(_) => "unknown",
    }
}
