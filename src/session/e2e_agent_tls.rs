//! TLS contexts the Agent opens itself (TP-469 3.5): with
//! Controller.{i}.E2ESession.SessionMode Require and PayloadSecurity TLS
//! the Agent is the context originator and so the TLS client (R-E2E.41).
//! Once a step arms it (`e2e_tls_answer`), the harness adopts such a
//! context (a SessionContextRecord of a new session_id, sequence_id 1,
//! payload_security TLS12) and plays the TLS server: it refuses the first
//! attempts with a fatal alert, as asked, and completes the handshake of
//! the next. Every attempt and refusal is logged with its time, so that
//! `expect_e2e_tls_retries` can hold the waits between them against the
//! SessionRetry back-off.

use std::sync::Arc;
use std::time::Instant;

use chrono::SecondsFormat;

use super::e2e_tls::HarnessTls;
use super::{Received, Session, SessionError};
use crate::mtp::retry_log::AttemptLog;
use crate::usp::e2e::tls::{Identity, PayloadTls, ServerPolicy};
use crate::usp::proto::msg::header::MsgType;
use crate::usp::proto::record::{record::PayloadSecurity, SessionContextRecord};
use crate::usp::record::integrity::Signer;

/// handshake_failure(40), fatal, as a plaintext TLS record: what the
/// harness answers a ClientHello it refuses.
pub const REFUSAL_ALERT: [u8; 7] = [21, 3, 3, 0, 2, 2, 40];

/// The harness's side of the Agent's contexts, while armed.
pub(super) struct AgentTls {
    /// How many attempts are still to be refused.
    refuse_left: u32,
    identity: Identity,
    signer: Arc<Signer>,
    /// The context being refused (its ClientHello answered with the alert).
    refusing: Option<u64>,
    pub log: Vec<OriginEvent>,
}

/// One event of the Agent's TLS context openings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginEvent {
    /// RFC 3339, microseconds.
    pub at: String,
    pub session_id: u64,
    pub kind: OriginKind,
    /// Why a handshake failed.
    pub why: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginKind {
    /// The Agent opened a context (its first Record, sequence_id 1).
    Attempt,
    /// The harness answered its ClientHello with the alert.
    Refused,
    /// The handshake completed.
    Established,
    /// The handshake failed for another reason than the harness's refusal.
    Failed,
}

impl AttemptLog for OriginEvent {
    fn at(&self) -> &str {
        &self.at
    }
    fn is_refusal(&self) -> bool {
        self.kind == OriginKind::Refused
    }
    fn is_attempt(&self) -> bool {
        self.kind == OriginKind::Attempt
    }
}

impl AgentTls {
    fn note(&mut self, session_id: u64, kind: OriginKind) {
        self.log.push(OriginEvent {
            at: chrono::Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true),
            session_id,
            kind,
            why: None,
        });
    }

    /// The reassembled payload of a context the harness is refusing: the
    /// alert to send back instead of a handshake flight.
    pub(super) fn refusal(&mut self, session_id: u64) -> Option<Vec<u8>> {
        (self.refusing == Some(session_id)).then(|| {
            self.refusing = None;
            self.note(session_id, OriginKind::Refused);
            REFUSAL_ALERT.to_vec()
        })
    }

    /// The handshake of the Agent's context `session_id` ended: Ok, or
    /// why it failed.
    pub(super) fn ended(&mut self, session_id: u64, outcome: Result<(), String>) {
        let kind = match outcome {
            Ok(()) => OriginKind::Established,
            Err(_) => OriginKind::Failed,
        };
        self.note(session_id, kind);
        if let (Some(last), Err(why)) = (self.log.last_mut(), outcome) {
            last.why = Some(why);
        }
    }
}

impl Session {
    /// Arms the harness for the TLS contexts the Agent opens: the next
    /// `refuse` are refused with a TLS alert, the one after is completed.
    pub fn e2e_answer_agent_tls(&mut self, refuse: u32) -> Result<(), SessionError> {
        let me = self.config.controller_id.clone();
        let Some(e2e) = self.e2e.as_mut() else {
            return Err(SessionError::E2eStep(
                "no E2E session context: run with --e2e".into(),
            ));
        };
        let fail = SessionError::E2eStep;
        let identity = Identity::self_signed(&me).map_err(fail)?;
        let signer = Arc::new(Signer::from_identity(&identity).map_err(fail)?);
        e2e.agent_tls = Some(AgentTls {
            refuse_left: refuse,
            identity,
            signer,
            refusing: None,
            log: Vec::new(),
        });
        Ok(())
    }

    /// What the armed harness saw of the Agent's context openings.
    pub fn e2e_agent_tls_log(&self) -> Vec<OriginEvent> {
        self.e2e
            .as_ref()
            .and_then(|e| e.agent_tls.as_ref())
            .map(|a| a.log.clone())
            .unwrap_or_default()
    }

    /// A Record of the Agent's opening a TLS context of its own, while
    /// armed: the harness adopts its session_id and becomes the TLS server
    /// (or the refuser) of it. Returns the trace note, None when the
    /// Record is not such an opening.
    pub(super) fn e2e_adopt_agent_context(
        &mut self,
        sc: &SessionContextRecord,
        payload_security: i32,
    ) -> Option<String> {
        // Split borrows: the Agent's id is read while the context changes.
        let (Some(agent), Some(e2e)) = (self.agent_id.as_deref(), self.e2e.as_mut()) else {
            return None;
        };
        let armed = e2e.agent_tls.as_mut()?;
        if payload_security != PayloadSecurity::Tls12 as i32
            || sc.sequence_id != 1
            || sc.session_id == e2e.session.session_id()
        {
            return None;
        }
        armed.note(sc.session_id, OriginKind::Attempt);
        let engine = match PayloadTls::server(&armed.identity, agent, &ServerPolicy::default()) {
            Ok(e) => e,
            Err(e) => {
                armed.ended(sc.session_id, Err(e.clone()));
                return Some(format!(
                    "the Agent opens TLS context {} itself, but the harness cannot be its TLS server: {e}",
                    sc.session_id
                ));
            }
        };
        let refuse = armed.refuse_left > 0;
        if refuse {
            armed.refuse_left -= 1;
            armed.refusing = Some(sc.session_id);
        }
        let tls = HarnessTls::new(engine, armed.signer.clone());
        e2e.adopt(sc.session_id, tls);
        Some(if refuse {
            format!(
                "the Agent opens TLS context {} itself; the harness adopts it and refuses the handshake with the TLS alert handshake_failure(40)",
                sc.session_id
            )
        } else {
            format!(
                "the Agent opens TLS context {} itself; the harness adopts it as the TLS server",
                sc.session_id
            )
        })
    }

    /// Receives until the log holds `retries` refusal-attempt pairs and the
    /// handshake after them ended, or `deadline`. Notifys are acknowledged
    /// as usual; other Msgs are not expected here and are left.
    pub async fn e2e_agent_tls_wait(
        &mut self,
        retries: usize,
        deadline: Instant,
    ) -> Result<Vec<OriginEvent>, SessionError> {
        self.ensure_connected().await?;
        loop {
            let log = self.e2e_agent_tls_log();
            let refusals = log.iter().filter(|e| e.is_refusal()).count();
            let after_last = log
                .iter()
                .rposition(|e| e.is_refusal())
                .map_or(&log[..], |i| &log[i + 1..]);
            let settled = after_last
                .iter()
                .any(|e| matches!(e.kind, OriginKind::Established | OriginKind::Failed));
            if (refusals >= retries && settled) || Instant::now() >= deadline {
                return Ok(log);
            }
            match self.receive_until(deadline).await {
                Ok(Some(Received::Msg(m))) => {
                    if crate::usp::msg::body_type(&m) == Some(MsgType::Notify) {
                        self.on_unsolicited(m).await;
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => return Ok(self.e2e_agent_tls_log()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mtp::retry_log;

    fn event(at: &str, kind: OriginKind) -> OriginEvent {
        OriginEvent {
            at: at.into(),
            session_id: 7,
            kind,
            why: None,
        }
    }

    #[test]
    fn a_refusal_pairs_with_the_next_attempt() {
        let log = [
            event("2026-12-06T00:00:00.000000Z", OriginKind::Attempt),
            event("2026-12-06T00:00:00.010000Z", OriginKind::Refused),
            event("2026-12-06T00:00:01.260000Z", OriginKind::Attempt),
            event("2026-12-06T00:00:01.300000Z", OriginKind::Established),
        ];
        let retries = retry_log::retries(&log);
        assert_eq!(retries.len(), 1);
        assert_eq!(retries[0].wait.as_millis(), 1250);
    }

    #[test]
    fn the_refusal_alert_is_a_fatal_handshake_failure_record() {
        use crate::usp::e2e::tls12_records::{split, Control, Plain, ALERT};
        let records = split(&REFUSAL_ALERT).unwrap();
        assert_eq!(records.len(), 1);
        let plain = Plain {
            content_type: records[0].0,
            data: records[0].1.to_vec(),
        };
        assert_eq!(plain.content_type, ALERT);
        assert_eq!(
            Control::of(&plain),
            vec![Control::Alert {
                fatal: true,
                description: 40
            }]
        );
    }
}
