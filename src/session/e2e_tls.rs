//! TLS payload security in the harness's E2E context (the `e2e_tls` step,
//! TP-469 3.4 and 3.7): the harness, as the context originator, is the TLS
//! client; its ClientHello opens a new context with payload_security TLS12
//! and the handshake runs inside SessionContextRecord payloads. From then
//! on, until the context restarts, every request is encrypted, every Record
//! HMAC'd, and every Record of the Agent's checked the same way.
//!
//! Which Records carry which mac_signature (R-E2E.29/30): a Record whose
//! payload was produced while its sender was still handshaking is signed
//! (ECDSA, the certificate in sender_cert, the same one the TLS handshake
//! shows); a Record produced after the sender's handshake finished carries
//! the HMAC under the sender's exported key. A receiver checks a Record
//! with the HMAC once its own handshake has finished, with the signature
//! before. Both ends agree because the last handshake flight always
//! travels signed, before either side uses the keys.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::e2e::encode_traced;
use super::{Received, Session, SessionError};
use crate::usp::e2e::session::describe;
use crate::usp::e2e::tls::{Identity, PayloadTls, PeerView, TlsFailure, Versions};
use crate::usp::e2e::tls12_records::Control;
use crate::usp::e2e::{self, Violation};
use crate::usp::proto::record::{record::PayloadSecurity, Record};
use crate::usp::record::integrity::{self, NonPayload, Signer};

/// What goes in a Record's mac_signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Seal {
    /// A PLAINTEXT context: whatever the context does (nothing here).
    Plain,
    /// TLS12, the payload made while handshaking: ECDSA with sender_cert.
    Signed,
    /// TLS12, after the handshake: HMAC-SHA256 under the client's key.
    Hmac,
}

/// TP-469 3.6: between the renegotiation request and the next answer the
/// Agent sends nothing, or no_renegotiation(100).
pub const RULE_NO_RENEGOTIATION: &str = "R-E2E.41 (no TLS renegotiation in a TLS12 context); TP-469 3.6 metric 1 (no records, or a TLS alert no_renegotiation(100), between the request and the GetResponse)";

/// How the Agent's TLS alerts and handshake messages after a renegotiation
/// request are judged: Ok(note) for the trace, or the violation's problem.
pub(super) fn renegotiation_answer(control: &Control) -> Result<String, String> {
    if control.refuses_renegotiation() {
        Ok(format!("{control}: renegotiation refused"))
    } else if matches!(control, Control::Handshake { .. }) {
        Err(format!(
            "after the harness asked to renegotiate, the Agent sent the {control}: it took up the renegotiation instead of refusing it"
        ))
    } else {
        Err(format!(
            "after the harness asked to renegotiate, the Agent sent the {control}; allowed are silence or no_renegotiation(100)"
        ))
    }
}

/// The harness's TLS session inside the context.
pub(super) struct HarnessTls {
    pub engine: PayloadTls,
    signer: Arc<Signer>,
    /// Why the TLS session failed, if it did.
    pub failure: Option<TlsFailure>,
}

impl HarnessTls {
    pub fn new(engine: PayloadTls, signer: Arc<Signer>) -> Self {
        HarnessTls {
            engine,
            signer,
            failure: None,
        }
    }

    /// How a Record made now is sealed.
    pub fn seal_now(&self) -> Seal {
        if self.engine.mac_keys().is_some() {
            Seal::Hmac
        } else {
            Seal::Signed
        }
    }

    /// Labels the Record TLS12 and fills mac_signature as `seal` says.
    pub fn seal(&self, rec: &mut Record, seal: Seal) {
        rec.payload_security = PayloadSecurity::Tls12 as i32;
        match seal {
            Seal::Plain => {}
            Seal::Signed => self.signer.sign(rec),
            Seal::Hmac => {
                if let Some((own, _)) = self.engine.own_and_peer_keys() {
                    rec.sender_cert.clear();
                    rec.mac_signature = integrity::hmac(&NonPayload::from(&*rec), &own);
                }
            }
        }
    }
}

/// Which certificate the harness shows in the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsCertificate {
    /// Names the Controller's Endpoint ID.
    Own,
    /// Names another Endpoint ID than the Records' from_id (TP-469 3.7).
    NamesAnother,
    /// Names the Controller, valid only on 2020-01-01 (TP-469 2.8).
    Expired,
}

/// What an `e2e_tls` step asks for.
#[derive(Debug, Clone)]
pub struct TlsOpen {
    pub certificate: TlsCertificate,
    pub versions: Versions,
    pub window: Duration,
}

/// How the handshake went.
#[derive(Debug, Clone)]
pub struct TlsOpened {
    /// The harness's side finished its handshake.
    pub handshake_done: bool,
    pub failure: Option<TlsFailure>,
    pub peer: PeerView,
    /// DisconnectRecords that ended the context: (reason_code, reason).
    pub disconnects: Vec<(u32, String)>,
    /// The Endpoint ID the harness's certificate named.
    pub shown_id: String,
    pub session_id: u64,
    pub took: Duration,
}

impl Session {
    /// Opens a new context with payload_security TLS12 and runs the
    /// handshake in it, up to `open.window`.
    pub async fn e2e_tls_open(&mut self, open: &TlsOpen) -> Result<TlsOpened, SessionError> {
        self.ensure_connected().await?;
        let agent = self.agent_id.clone().ok_or(SessionError::UnknownAgent)?;
        if let Some(why) = self.e2e_refusal() {
            return Err(SessionError::E2eNotAllowed(why.to_string()));
        }
        let me = self.config.controller_id.clone();
        let shown_id = match open.certificate {
            TlsCertificate::Own | TlsCertificate::Expired => me.clone(),
            TlsCertificate::NamesAnother => format!("{me}-not-me"),
        };
        let fail = SessionError::E2eStep;
        // The handshake Records are always signed by a certificate naming
        // the Controller, so that an Agent checking signatures first still
        // reaches the TLS certificate a `names_another` step is about.
        let own = Identity::self_signed(&me).map_err(fail)?;
        let signer = Arc::new(Signer::from_identity(&own).map_err(fail)?);
        let shown = match open.certificate {
            TlsCertificate::Own => own,
            TlsCertificate::NamesAnother => Identity::self_signed(&shown_id).map_err(fail)?,
            TlsCertificate::Expired => Identity::expired(&me).map_err(fail)?,
        };
        let mut engine = PayloadTls::client(&shown, open.versions).map_err(fail)?;
        let hello = engine.outgoing();
        let Some(e2e) = self.e2e.as_mut() else {
            return Err(SessionError::E2eStep(
                "no E2E session context: run with --e2e".into(),
            ));
        };
        e2e.restart();
        let tls = HarnessTls {
            engine,
            signer,
            failure: None,
        };
        let sent = e2e.session.wrap(&hello).into_iter().map(|sc| {
            let note = format!(
                "{}, payload_security TLS12: the TLS ClientHello ({} bytes), the TLS certificate names '{shown_id}', mac_signature by one naming '{me}'",
                describe(&sc),
                hello.len()
            );
            let mut rec = e2e::record(&me, &agent, sc);
            tls.seal(&mut rec, Seal::Signed);
            (rec, note)
        });
        let out = encode_traced(&mut self.trace, sent);
        let session_id = e2e.session.session_id();
        e2e.tls = Some(tls);
        let started = Instant::now();
        self.send_bytes(out).await?;
        let deadline = started + open.window;
        let mut disconnects = Vec::new();
        let mut last_peer = PeerView::default();
        // Until the context ends (a DisconnectRecord, a Connect Record),
        // the handshake finishes or fails, or the window passes.
        while let Some(tls) = self.e2e.as_ref().and_then(|e| e.tls.as_ref()) {
            last_peer = tls.engine.peer();
            if !tls.engine.is_handshaking() || tls.failure.is_some() {
                break;
            }
            match self.receive_until(deadline).await {
                Ok(Some(Received::Msg(m))) => {
                    if crate::usp::msg::body_type(&m)
                        == Some(crate::usp::proto::msg::header::MsgType::Notify)
                    {
                        self.on_unsolicited(m).await;
                    }
                }
                Ok(Some(Received::Disconnect(why))) => {
                    disconnects.push(self.last_disconnect.take().unwrap_or((0, why)));
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    return Err(SessionError::Closed {
                        detail: e.to_string(),
                        ignored: Vec::new(),
                    })
                }
            }
        }
        let tls = self.e2e.as_ref().and_then(|e| e.tls.as_ref());
        Ok(TlsOpened {
            handshake_done: tls.is_some_and(|t| !t.engine.is_handshaking()),
            failure: tls.and_then(|t| t.failure.clone()),
            peer: tls.map(|t| t.engine.peer()).unwrap_or(last_peer),
            disconnects,
            shown_id,
            session_id,
            took: started.elapsed(),
        })
    }

    /// Asks the Agent to renegotiate the context's TLS 1.2 session (TP-469
    /// 3.6): a ClientHello encrypted in the session, sent in place of a
    /// Msg. What the Agent answers is judged as it arrives
    /// (`renegotiation_answer`), by the next request step's E2E check.
    /// Returns what was sent, for the step's report.
    pub async fn e2e_tls_renegotiate(&mut self) -> Result<String, SessionError> {
        self.ensure_connected().await?;
        let agent = self.agent_id.clone().ok_or(SessionError::UnknownAgent)?;
        let me = self.config.controller_id.clone();
        let Some(e2e) = self.e2e.as_mut() else {
            return Err(SessionError::E2eStep(
                "no E2E session context: run with --e2e".into(),
            ));
        };
        let Some(tls) = e2e.tls.as_mut() else {
            return Err(SessionError::E2eStep(
                "the context has no TLS session: an e2e_tls step with outcome established must come first".into(),
            ));
        };
        let records = tls.engine.renegotiate().map_err(SessionError::E2eStep)?;
        let seal = e2e.seal_now();
        let what = format!(
            "a TLS ClientHello asking to renegotiate ({} bytes, encrypted in the established TLS 1.2 session, renegotiation_info carrying the harness's Finished), in place of a Msg",
            records.len()
        );
        let sent = e2e.session.wrap(&records).into_iter().map(|sc| {
            let note = format!(
                "{}, payload_security TLS12: {what}, HMAC mac_signature",
                describe(&sc)
            );
            (e2e.record(&me, &agent, sc, seal), note)
        });
        let out = encode_traced(&mut self.trace, sent);
        self.send_bytes(out).await?;
        Ok(what)
    }

    /// Ends a TLS context (at the end of the case that opened it): the next
    /// request opens a PLAINTEXT one.
    pub fn e2e_leave_tls(&mut self) {
        if let Some(e2e) = self
            .e2e
            .as_mut()
            .filter(|e| e.tls.is_some() || e.agent_tls.is_some())
        {
            e2e.restart();
            e2e.violations.clear();
            e2e.agent_tls = None;
        }
    }

    /// Forgets what the Agent's Records broke since the last check (a
    /// refused handshake: whatever the Agent sends while refusing is not
    /// judged by the context's rules, and must not fail the next step).
    pub fn e2e_forget_violations(&mut self) {
        if let Some(e2e) = self.e2e.as_mut() {
            e2e.violations.clear();
        }
    }

    /// A TLS12 Record of the Agent's once the harness's handshake is done:
    /// its mac_signature must be the HMAC under the Agent's key. None when
    /// the Record is not one (the signature check applies), else whether
    /// it is dropped, and why.
    pub(super) fn hmac_problem(
        &mut self,
        fields: &NonPayload,
        mac: &[u8],
        record: &str,
    ) -> Option<Option<String>> {
        // A Record with sender_cert is signed (its sender was still
        // handshaking, e.g. an alert refusing our certificate): the
        // signature check applies. An HMAC comes without one.
        if fields.payload_security != PayloadSecurity::Tls12 as i32
            || !fields.sender_cert.is_empty()
        {
            return None;
        }
        let e2e = self.e2e.as_mut()?;
        let (_, peer_key) = e2e.tls.as_ref()?.engine.own_and_peer_keys()?;
        if mac.is_empty() {
            // R-E2E.28: an encrypted MTP whose certificate names the Agent
            // makes the MAC optional; TP-469 3.4 runs without one.
            if self.certificate_endpoint_id.is_none() {
                e2e.violations.push(Violation {
                    rule: integrity::RULE_HMAC,
                    record: record.to_string(),
                    problem: "the Agent's Record after the TLS handshake carries no mac_signature, over an MTP that does not protect it (TP-469 3.4 metric 1)".into(),
                });
            }
            return Some(None);
        }
        match integrity::verify_hmac(fields, mac, &peer_key) {
            Ok(()) => Some(None),
            Err(e) => {
                e2e.violations.push(Violation {
                    rule: integrity::RULE_HMAC,
                    record: record.to_string(),
                    problem: format!("{e}; the Record was dropped (TP-469 3.4 metric 2)"),
                });
                Some(Some(format!(
                    "a Record whose mac_signature does not hold: {e}; dropped, as a receiver must ({})",
                    integrity::RULE_HMAC
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_silence_or_no_renegotiation_answers_a_renegotiation_request() {
        let refusal = Control::Alert {
            fatal: false,
            description: 100,
        };
        assert!(renegotiation_answer(&refusal).unwrap().contains("refused"));
        let hello = Control::Handshake { message_type: 2 };
        let taken = renegotiation_answer(&hello).unwrap_err();
        assert!(
            taken.contains("server_hello(2)") && taken.contains("took up"),
            "{taken}"
        );
        for other in [
            Control::Alert {
                fatal: true,
                description: 40,
            },
            Control::Alert {
                fatal: false,
                description: 0,
            },
            Control::ChangeCipherSpec,
        ] {
            assert!(renegotiation_answer(&other).is_err(), "{other}");
        }
    }
}
