//! The reference Agent's side of an E2E session context: a Controller that
//! sends a SessionContextRecord gets its answers (and Notifys) in that
//! context, segmented at the configured size; retransmit requests are
//! answered from the window. The `e2e-wrong-sequence` and `e2e-bad-sar`
//! faults are applied to the Records on their way out.

use crate::agent::faults::{Fault, FaultSet};
use crate::usp::e2e::{self, E2eEvent, E2eSession, SarState};
use crate::usp::proto::record::SessionContextRecord;
use crate::usp::record;

/// Payload bytes per Record unless configured (`--segment-size`).
pub const DEFAULT_SEGMENT_SIZE: usize = 1024;

/// One connection's context, if its Controller opened one.
pub(super) struct AgentE2e {
    pub session: Option<E2eSession>,
    pub segment_size: usize,
}

/// What receiving one SessionContextRecord asks the transport to do.
pub(super) struct Inbound {
    /// Whole payloads (serialized Msgs) in order.
    pub payloads: Vec<Vec<u8>>,
    /// Encoded Records to send now (retransmissions, retransmit requests).
    pub replies: Vec<Vec<u8>>,
    /// Problems with the Controller's Records, for the log.
    pub problems: Vec<String>,
}

impl AgentE2e {
    pub fn new(segment_size: usize) -> Self {
        AgentE2e {
            session: None,
            segment_size,
        }
    }

    pub fn active(&self) -> bool {
        self.session.is_some()
    }

    pub fn receive(
        &mut self,
        me: &str,
        ctrl: &str,
        sc: &SessionContextRecord,
        faults: &FaultSet,
    ) -> Inbound {
        // R-E2E.3/R-E2E.6: the Controller's session_id names the context;
        // the Agent follows it, restarting when it changes.
        let session = self.session.get_or_insert_with(|| {
            E2eSession::new(sc.session_id, self.segment_size).following_peer()
        });
        let mut out = Inbound {
            payloads: Vec::new(),
            replies: Vec::new(),
            problems: Vec::new(),
        };
        for ev in session.receive(sc) {
            match ev {
                E2eEvent::Payload(p) => out.payloads.push(p),
                // With e2e-wrong-sequence the skipped ids were never sent,
                // so there is nothing to resend for them.
                E2eEvent::Retransmit(_) if faults.contains(Fault::E2eWrongSequence) => {}
                E2eEvent::Retransmit(r) => {
                    out.replies.push(record::encode(&e2e::record(me, ctrl, r)))
                }
                E2eEvent::Violation(v) => out.problems.push(v.to_string()),
                E2eEvent::Held { .. } => {
                    // Ask for the gap at once (retransmit_id).
                    if let Some(missing) = session.missing() {
                        let ask = session.retransmit_request(missing);
                        out.replies
                            .push(record::encode(&e2e::record(me, ctrl, ask)));
                    }
                }
                E2eEvent::Restarted { .. } | E2eEvent::Ignored { .. } => {}
            }
        }
        out
    }

    /// The encoded Records that carry `payload` in the context, with the
    /// E2E faults applied.
    pub fn send(
        &mut self,
        me: &str,
        ctrl: &str,
        payload: &[u8],
        faults: &FaultSet,
    ) -> Vec<Vec<u8>> {
        let Some(session) = self.session.as_mut() else {
            return Vec::new();
        };
        let mut recs = session.wrap(payload);
        if faults.contains(Fault::E2eWrongSequence) {
            // 1, 3, 5, ...: every other sequence_id is skipped.
            for r in &mut recs {
                r.sequence_id = r.sequence_id * 2 - 1;
            }
        }
        if faults.contains(Fault::E2eBadSar) && recs.len() > 1 {
            // The last segment says INPROCESS: COMPLETE never comes.
            if let Some(last) = recs.last_mut() {
                last.payload_sar_state = SarState::InProcess.wire();
                last.payloadrec_sar_state = SarState::InProcess.wire();
            }
        }
        recs.into_iter()
            .map(|r| record::encode(&e2e::record(me, ctrl, r)))
            .collect()
    }
}
