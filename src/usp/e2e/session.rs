//! One E2E session context, sans-I/O: numbering and segmenting what is sent,
//! keeping a window of sent Records for retransmit requests, and delivering
//! received payloads in sequence_id order. Rules (spec "E2E Session Context"):
//! - R-E2E.3: the originator picks session_id and starts at sequence_id 1.
//! - R-E2E.6: one context per pair; a Record with another session_id
//!   restarts the context, sequences reset to 1.
//! - sequencing (`RULE_SEQUENCE`): sequence_id increments by 1 per Record;
//!   expected_id is the next sequence the sender expects (acknowledging all
//!   below); the receiver processes seq == expected (then any buffered
//!   successors), buffers seq > expected and ignores seq < expected
//!   (duplicates included).
//! - retransmission (`RULE_RETRANSMIT`): a non-zero retransmit_id asks the
//!   peer to resend that Record from its buffer of unacknowledged ones.
//! - SAR (`RULE_SAR`): see `super::sar`.

use std::collections::BTreeMap;

use super::sar::{segment, Reassembler, SarState};
use super::{RULE_RETRANSMIT, RULE_SAR, RULE_SEQUENCE, RULE_SESSION};
use crate::usp::proto::record::SessionContextRecord;

/// How many sent Records are kept for retransmission when the peer does not
/// acknowledge them (the spec leaves the size to the implementation).
pub const DEFAULT_WINDOW: usize = 256;

/// A peer's Record that breaks an E2E rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub rule: &'static str,
    /// The offending Record (session, sequence, SAR states, payload size).
    pub record: String,
    pub problem: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} in {} ({})", self.problem, self.record, self.rule)
    }
}

/// What receiving one Record led to, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum E2eEvent {
    /// A whole payload (a serialized Msg), delivered in order.
    Payload(Vec<u8>),
    /// The peer asked for this Record again: send it as is.
    Retransmit(SessionContextRecord),
    /// The peer started a new context (R-E2E.6).
    Restarted {
        old: u64,
        new: u64,
    },
    /// Out of order: held until `expected` arrives.
    Held {
        sequence_id: u64,
        expected: u64,
    },
    /// Already seen or older than expected: ignored.
    Ignored {
        sequence_id: u64,
        why: String,
    },
    Violation(Violation),
}

/// A short description of a SessionContextRecord for verdicts and traces.
pub fn describe(r: &SessionContextRecord) -> String {
    let sar = |v: i32| SarState::from_wire(v).map(SarState::name).unwrap_or("?");
    format!(
        "SessionContextRecord{{session_id {}, sequence_id {}, expected_id {}, retransmit_id {}, payload_sar_state {} ({}), payloadrec_sar_state {} ({}), payload {} bytes in {} element(s)}}",
        r.session_id,
        r.sequence_id,
        r.expected_id,
        r.retransmit_id,
        r.payload_sar_state,
        sar(r.payload_sar_state),
        r.payloadrec_sar_state,
        sar(r.payloadrec_sar_state),
        r.payload.iter().map(Vec::len).sum::<usize>(),
        r.payload.len()
    )
}

#[derive(Debug, Clone)]
pub struct E2eSession {
    session_id: u64,
    next_seq: u64,
    expected: u64,
    max_segment: usize,
    /// Whether a peer Record with another session_id restarts the context
    /// (an Agent follows its Controller) or is a violation (the harness
    /// never asked for a restart).
    follow_restart: bool,
    sent: BTreeMap<u64, SessionContextRecord>,
    held: BTreeMap<u64, SessionContextRecord>,
    reassembler: Reassembler,
    window: usize,
}

impl E2eSession {
    /// A context with `session_id` (R-E2E.3: chosen by the originator,
    /// greater than 1); payloads are cut into pieces of at most
    /// `max_segment` bytes (0 = never segment).
    pub fn new(session_id: u64, max_segment: usize) -> Self {
        E2eSession {
            session_id,
            next_seq: 1,
            expected: 1,
            max_segment,
            follow_restart: false,
            sent: BTreeMap::new(),
            held: BTreeMap::new(),
            reassembler: Reassembler::new(),
            window: DEFAULT_WINDOW,
        }
    }

    /// The Agent's side: adopt the Controller's session_id, and restart when
    /// it changes (R-E2E.6).
    pub fn following_peer(mut self) -> Self {
        self.follow_restart = true;
        self
    }

    pub fn session_id(&self) -> u64 {
        self.session_id
    }

    /// The next sequence_id expected from the peer.
    pub fn expected_id(&self) -> u64 {
        self.expected
    }

    /// How many Records were sent in this context.
    pub fn sent_count(&self) -> u64 {
        self.next_seq - 1
    }

    /// Sequence ids sent and not yet acknowledged (kept for retransmission).
    pub fn unacknowledged(&self) -> Vec<u64> {
        self.sent.keys().copied().collect()
    }

    /// Starts over with a new session_id (R-E2E.6): sequences reset to 1,
    /// buffers dropped.
    pub fn restart(&mut self, session_id: u64) {
        self.session_id = session_id;
        self.next_seq = 1;
        self.expected = 1;
        self.sent.clear();
        self.held.clear();
        self.reassembler.reset();
    }

    /// The Records that carry `payload`, numbered and segmented; each is kept
    /// for retransmission until acknowledged.
    pub fn wrap(&mut self, payload: &[u8]) -> Vec<SessionContextRecord> {
        segment(payload, self.max_segment)
            .into_iter()
            .map(|(state, piece)| self.next_record(state, piece, 0))
            .collect()
    }

    /// A Record asking the peer to resend `sequence_id` (RULE_RETRANSMIT).
    pub fn retransmit_request(&mut self, sequence_id: u64) -> SessionContextRecord {
        self.next_record(SarState::None, Vec::new(), sequence_id)
    }

    fn next_record(
        &mut self,
        state: SarState,
        piece: Vec<u8>,
        retransmit_id: u64,
    ) -> SessionContextRecord {
        let rec = SessionContextRecord {
            session_id: self.session_id,
            sequence_id: self.next_seq,
            expected_id: self.expected,
            retransmit_id,
            payload_sar_state: state.wire(),
            payloadrec_sar_state: state.wire(),
            payload: if piece.is_empty() {
                Vec::new()
            } else {
                vec![piece]
            },
        };
        // RULE_SEQUENCE: one more per Record.
        self.next_seq += 1;
        self.sent.insert(rec.sequence_id, rec.clone());
        while self.sent.len() > self.window {
            self.sent.pop_first();
        }
        rec
    }

    /// The sequence_id the next `wrap` would use.
    pub fn next_sequence_id(&self) -> u64 {
        self.next_seq
    }

    /// A Record its sender built field by field (a test step's odd
    /// Record): kept for retransmission like any other, and numbering goes
    /// on after the highest sequence_id sent.
    pub fn record_sent(&mut self, rec: &SessionContextRecord) {
        self.sent.insert(rec.sequence_id, rec.clone());
        while self.sent.len() > self.window {
            self.sent.pop_first();
        }
        self.next_seq = self.next_seq.max(rec.sequence_id.saturating_add(1));
    }

    /// Takes one Record from the peer.
    pub fn receive(&mut self, rec: &SessionContextRecord) -> Vec<E2eEvent> {
        let mut events = Vec::new();
        if rec.session_id != self.session_id {
            if !self.follow_restart {
                events.push(E2eEvent::Violation(Violation {
                    rule: RULE_SESSION,
                    record: describe(rec),
                    problem: format!(
                        "session_id {} is not the context's session_id {} (no restart was asked for)",
                        rec.session_id, self.session_id
                    ),
                }));
                return events;
            }
            // R-E2E.6: another session_id restarts the context.
            let old = self.session_id;
            self.restart(rec.session_id);
            events.push(E2eEvent::Restarted {
                old,
                new: rec.session_id,
            });
        }
        if rec.sequence_id == 0 {
            events.push(E2eEvent::Violation(Violation {
                rule: RULE_SEQUENCE,
                record: describe(rec),
                problem: "sequence_id 0 (sequences start at 1)".into(),
            }));
            return events;
        }
        // RULE_SEQUENCE: expected_id acknowledges every Record below it.
        self.sent.retain(|seq, _| *seq >= rec.expected_id);
        if rec.sequence_id < self.expected || self.held.contains_key(&rec.sequence_id) {
            events.push(E2eEvent::Ignored {
                sequence_id: rec.sequence_id,
                why: format!(
                    "duplicate or old: sequence_id {} was already received (expecting {})",
                    rec.sequence_id, self.expected
                ),
            });
            return events;
        }
        if rec.sequence_id > self.expected {
            self.held.insert(rec.sequence_id, rec.clone());
            events.push(E2eEvent::Held {
                sequence_id: rec.sequence_id,
                expected: self.expected,
            });
            return events;
        }
        self.process(rec, &mut events);
        while let Some(next) = self.held.remove(&self.expected) {
            self.process(&next, &mut events);
        }
        events
    }

    fn process(&mut self, rec: &SessionContextRecord, events: &mut Vec<E2eEvent>) {
        self.expected = rec.sequence_id + 1;
        if rec.retransmit_id != 0 {
            match self.sent.get(&rec.retransmit_id) {
                Some(old) => events.push(E2eEvent::Retransmit(old.clone())),
                None => events.push(E2eEvent::Violation(Violation {
                    rule: RULE_RETRANSMIT,
                    record: describe(rec),
                    problem: format!(
                        "retransmit_id {} names no Record still held (sent and unacknowledged: {:?})",
                        rec.retransmit_id,
                        self.unacknowledged()
                    ),
                })),
            }
            // A pure retransmit request carries no payload.
            if rec.payload.is_empty() && rec.payload_sar_state == 0 {
                return;
            }
        }
        match self.reassembler.push(
            rec.payload_sar_state,
            rec.payloadrec_sar_state,
            &rec.payload,
        ) {
            Ok(Some(whole)) => events.push(E2eEvent::Payload(whole)),
            Ok(None) => {}
            Err(e) => events.push(E2eEvent::Violation(Violation {
                rule: RULE_SAR,
                record: describe(rec),
                problem: e.to_string(),
            })),
        }
    }

    /// The first sequence_id missing before held Records, if any.
    pub fn missing(&self) -> Option<u64> {
        (!self.held.is_empty()).then_some(self.expected)
    }

    /// What is left unfinished once the peer has gone quiet: Records held
    /// behind a gap, or a segmented payload without its COMPLETE.
    pub fn unfinished(&self) -> Vec<Violation> {
        let mut out = Vec::new();
        if let Some((_, first)) = self.held.first_key_value() {
            out.push(Violation {
                rule: RULE_SEQUENCE,
                record: describe(first),
                problem: format!(
                    "sequence_id {} never arrived; Records {:?} wait behind the gap",
                    self.expected,
                    self.held.keys().collect::<Vec<_>>()
                ),
            });
        }
        if self.reassembler.in_progress() {
            out.push(Violation {
                rule: RULE_SAR,
                record: format!(
                    "the {} segment(s) received since BEGIN",
                    self.reassembler.segments()
                ),
                problem: "a segmented payload never reached COMPLETE".into(),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn payloads(events: &[E2eEvent]) -> Vec<Vec<u8>> {
        events
            .iter()
            .filter_map(|e| match e {
                E2eEvent::Payload(p) => Some(p.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn sequences_start_at_one_and_expected_acknowledges() {
        let mut a = E2eSession::new(42, 4);
        let mut b = E2eSession::new(42, 4);
        let recs = a.wrap(b"0123456789");
        assert_eq!(
            recs.iter().map(|r| r.sequence_id).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(a.unacknowledged(), [1, 2, 3]);
        let mut got = Vec::new();
        for r in &recs {
            got.extend(b.receive(r));
        }
        assert_eq!(payloads(&got), [b"0123456789".to_vec()]);
        assert_eq!(b.expected_id(), 4);
        let answer = b.wrap(b"ok");
        assert_eq!(answer[0].expected_id, 4);
        a.receive(&answer[0]);
        assert!(
            a.unacknowledged().is_empty(),
            "expected_id 4 acknowledges 1..3"
        );
    }

    #[test]
    fn out_of_order_records_are_held_then_delivered() {
        let mut a = E2eSession::new(7, 3);
        let mut b = E2eSession::new(7, 3);
        let recs = a.wrap(b"abcdefgh");
        let ev = b.receive(&recs[2]);
        assert_eq!(
            ev,
            [E2eEvent::Held {
                sequence_id: 3,
                expected: 1
            }]
        );
        assert_eq!(b.missing(), Some(1));
        assert_eq!(b.unfinished().len(), 1);
        assert!(payloads(&b.receive(&recs[1])).is_empty());
        let ev = b.receive(&recs[0]);
        assert_eq!(payloads(&ev), [b"abcdefgh".to_vec()]);
        assert!(b.unfinished().is_empty());
        // A duplicate is ignored.
        assert!(matches!(
            b.receive(&recs[0])[0],
            E2eEvent::Ignored { sequence_id: 1, .. }
        ));
    }

    #[test]
    fn retransmit_request_is_answered_from_the_window() {
        let mut a = E2eSession::new(9, 0);
        let mut b = E2eSession::new(9, 0);
        let first = a.wrap(b"one");
        let second = a.wrap(b"two");
        // b lost the first Record: holds the second and asks for 1.
        assert!(matches!(b.receive(&second[0])[0], E2eEvent::Held { .. }));
        let ask = b.retransmit_request(b.missing().unwrap());
        assert_eq!(ask.retransmit_id, 1);
        let ev = a.receive(&ask);
        assert_eq!(ev, [E2eEvent::Retransmit(first[0].clone())]);
        let ev = b.receive(&first[0]);
        assert_eq!(payloads(&ev), [b"one".to_vec(), b"two".to_vec()]);
        // Asking for a Record never sent is a violation.
        let mut bogus = b.retransmit_request(99);
        bogus.sequence_id = a.expected_id();
        assert!(
            matches!(a.receive(&bogus)[0], E2eEvent::Violation(ref v) if v.rule == RULE_RETRANSMIT)
        );
    }

    #[test]
    fn restart_follows_or_is_a_violation() {
        let mut agent = E2eSession::new(0, 0).following_peer();
        let mut ctrl = E2eSession::new(5, 0);
        agent.receive(&ctrl.wrap(b"x")[0]);
        assert_eq!(agent.session_id(), 5);
        ctrl.restart(6);
        let ev = agent.receive(&ctrl.wrap(b"y")[0]);
        assert_eq!(ev[0], E2eEvent::Restarted { old: 5, new: 6 });
        assert_eq!(payloads(&ev), [b"y".to_vec()]);
        let answer = agent.wrap(b"z");
        assert_eq!((answer[0].session_id, answer[0].sequence_id), (6, 1));
        // The harness never follows an unasked restart.
        let mut other = E2eSession::new(77, 0);
        let ev = ctrl.receive(&other.wrap(b"q")[0]);
        assert!(matches!(ev[0], E2eEvent::Violation(ref v) if v.rule == RULE_SESSION));
    }

    #[test]
    fn skipped_sequence_and_missing_complete_are_reported() {
        let mut a = E2eSession::new(3, 2);
        let mut b = E2eSession::new(3, 2);
        let mut recs = a.wrap(b"abcdef");
        recs[1].sequence_id = 5; // skips
        for r in &recs {
            b.receive(r);
        }
        let v = b.unfinished();
        assert!(
            v.iter()
                .any(|v| v.rule == RULE_SEQUENCE
                    && v.problem.contains("sequence_id 2 never arrived")),
            "{v:?}"
        );
        let mut c = E2eSession::new(3, 2);
        let mut recs = E2eSession::new(3, 2).wrap(b"abcdef");
        recs[2].payload_sar_state = 2;
        recs[2].payloadrec_sar_state = 2;
        for r in &recs {
            c.receive(r);
        }
        assert!(c.unfinished().iter().any(|v| v.rule == RULE_SAR));
    }

    #[test]
    fn hand_built_records_are_kept_and_numbering_goes_on() {
        let mut a = E2eSession::new(4, 0);
        assert_eq!(a.next_sequence_id(), 1);
        let mut odd = a.wrap(b"x")[0].clone();
        odd.sequence_id = 5;
        a.record_sent(&odd);
        assert_eq!(a.next_sequence_id(), 6);
        assert_eq!(a.unacknowledged(), [1, 5]);
    }

    proptest! {
        #[test]
        fn any_payload_any_size_any_order_arrives_whole(
            payload in proptest::collection::vec(any::<u8>(), 0..1500),
            max in 1usize..200,
            seed in any::<u64>(),
        ) {
            let mut a = E2eSession::new(11, max);
            let mut b = E2eSession::new(11, max);
            let mut recs = a.wrap(&payload);
            // A deterministic shuffle from the seed.
            let mut s = seed | 1;
            for i in (1..recs.len()).rev() {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17;
                recs.swap(i, (s % (i as u64 + 1)) as usize);
            }
            let mut got = Vec::new();
            for r in &recs {
                got.extend(b.receive(r));
            }
            prop_assert_eq!(payloads(&got), vec![payload]);
            prop_assert!(b.unfinished().is_empty());
        }
    }
}
