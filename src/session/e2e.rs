//! The harness's E2E session context (`--e2e`): every request goes out in
//! SessionContextRecords (segmented at `--segment-size`), the Agent's
//! answers are reassembled in sequence_id order, and every rule the Agent's
//! Records break is kept as a violation for the step's checks.

use std::collections::VecDeque;

use prost::Message;

use super::{Received, Session};
use crate::results::CheckResult;
use crate::trace::{describe_record, Direction, TraceEntry};
use crate::usp::e2e::{self, session::describe, E2eEvent, E2eSession, Violation};
use crate::usp::proto::msg::Msg;
use crate::usp::proto::record::SessionContextRecord;

/// R-MSG.0a: an answer uses the record_type of the request.
const RULE_SAME_RECORD_TYPE: &str = "R-MSG.0a (responses use the record_type of the request)";

pub(super) struct HarnessE2e {
    session: E2eSession,
    segment_size: usize,
    /// The last session_id used; the next context gets one more.
    last_session_id: u64,
    violations: Vec<Violation>,
    /// Records to send once back in async code (retransmissions, requests).
    outbox: VecDeque<SessionContextRecord>,
    /// Reassembled Msgs beyond the first of one Record.
    pub(super) ready: VecDeque<Received>,
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
        }
    }

    /// A new context (new connection, or after a processing failure):
    /// R-E2E.6, a new session_id with sequences from 1.
    pub(super) fn restart(&mut self) {
        self.last_session_id += 1;
        self.session.restart(self.last_session_id);
        self.ready.clear();
        self.outbox.clear();
    }

    pub(super) fn segment_size(&self) -> usize {
        self.segment_size
    }
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
        let e2e = self.e2e.as_mut()?;
        let records = e2e.session.wrap(&m.encode_to_vec());
        let mut out = Vec::new();
        for sc in records {
            let note = describe(&sc);
            let rec = e2e::record(&self.config.controller_id, agent, sc);
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
        let mut out = Vec::new();
        while let Some(sc) = e2e.outbox.pop_front() {
            let note = describe(&sc);
            let rec = e2e::record(&self.config.controller_id, &agent, sc);
            let bytes = crate::usp::record::encode(&rec);
            self.trace.push(
                TraceEntry::new(Direction::Sent, describe_record(&rec), bytes.len())
                    .with_note(note),
            );
            out.push(bytes);
        }
        out
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
    pub(super) fn e2e_receive(&mut self, sc: &SessionContextRecord) -> (Received, String) {
        let mut note = describe(sc);
        let Some(e2e) = self.e2e.as_mut() else {
            // Not asked for: without --e2e the harness opens no context.
            let why =
                format!("a SessionContextRecord although no session context was opened: {note}");
            return (Received::Ignored(why.clone()), why);
        };
        for ev in e2e.session.receive(sc) {
            match ev {
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
                E2eEvent::Retransmit(r) => e2e.outbox.push_back(r),
                E2eEvent::Held {
                    sequence_id,
                    expected,
                } => {
                    note.push_str(&format!("; held: sequence_id {sequence_id} arrived while {expected} was expected, retransmit_id {expected} asked"));
                    let ask = e2e.session.retransmit_request(expected);
                    e2e.outbox.push_back(ask);
                }
                E2eEvent::Ignored { why, .. } => note.push_str(&format!("; ignored: {why}")),
                E2eEvent::Restarted { old, new } => {
                    note.push_str(&format!("; context restarted {old} -> {new}"))
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
