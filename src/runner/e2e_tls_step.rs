//! Running `e2e_tls` (TP-469 3.4, 3.7): the harness opens a new context
//! with payload_security TLS12 and runs the TLS handshake in its payloads
//! (`Session::e2e_tls_open`), then checks what the handshake showed. With
//! `established` the rest of the case runs in that TLS context (every
//! request encrypted, every Record of the Agent's HMAC-checked by the
//! request steps' E2E check); the runner ends it with the case.

use std::time::Duration;

use super::e2e_steps::NO_CONTEXT;
use super::{explain_session_error, Runner};
use crate::results::{CheckResult, StepResult, Verdict};
use crate::session::{SessionError, TlsCertificate, TlsOpen, TlsOpened};
use crate::suite::e2e_origin_steps::E2eTlsAnswerSpec;
use crate::suite::e2e_steps::{E2eTlsSpec, TlsCertificateChoice, TlsOutcome};
use crate::trace::MsgText;
use crate::usp::e2e::tls::{RULE_CERT_ID, RULE_TLS};
use crate::usp::msg;
use crate::usp::proto::msg::header::MsgType;
use crate::usp::proto::msg::{request::ReqType, Get};

/// What the Agent is asked for when it should have refused the handshake.
const PROBE: &str = "Device.DeviceInfo.";
/// TP-469 2.6's Get, through a session the Agent should have taken.
const PROBE_2_6: &str = "Device.LocalAgent.";

impl Runner<'_> {
    pub(super) async fn e2e_tls(&mut self, spec: &E2eTlsSpec, result: &mut StepResult) {
        if self.session.e2e_segment_size().is_none() {
            return skip(result, NO_CONTEXT);
        }
        if let Some(why) = self.session.e2e_refusal() {
            return skip(result, &format!("not applicable: {why}"));
        }
        let window = Duration::from_millis(
            spec.timeout_ms
                .unwrap_or(self.session.request_timeout().as_millis() as u64),
        );
        let open = TlsOpen {
            certificate: match spec.certificate {
                TlsCertificateChoice::Own => TlsCertificate::Own,
                TlsCertificateChoice::NamesAnother => TlsCertificate::NamesAnother,
                TlsCertificateChoice::Expired => TlsCertificate::Expired,
            },
            versions: spec.versions(),
            window,
        };
        let opened = match self.session.e2e_tls_open(&open).await {
            Ok(o) => o,
            Err(SessionError::E2eNotAllowed(why)) => {
                return skip(result, &format!("not applicable: {why}"))
            }
            Err(e) => {
                self.note_unreachable(&e);
                result.error = Some(explain_session_error(&e));
                return;
            }
        };
        result.sent = Some(MsgText::from(format!(
            "a new session context {} with payload_security TLS12: a TLS ClientHello ({:?}), the harness's certificate naming '{}'",
            opened.session_id, spec.tls_version, opened.shown_id
        )));
        result.received = Some(MsgText::from(describe(&opened)));
        let agent = self.session.agent_id().unwrap_or_default().to_string();
        match spec.outcome {
            // TP-469 2.6: an Agent without absolute time takes the expired
            // certificate; what it answers through the session shows it.
            TlsOutcome::Established if spec.certificate == TlsCertificateChoice::Expired => {
                let check = self.accepted_without_clock(&opened).await;
                result.checks.push(check);
                result.checks.extend(self.session.e2e_check());
            }
            TlsOutcome::Established => {
                established(&opened, &agent, window, result);
                // The handshake's Records follow the context's rules too.
                result.checks.extend(self.session.e2e_check());
            }
            TlsOutcome::Refused => {
                let check = self.refused(&opened, spec.certificate).await;
                result.checks.push(check);
                self.session.e2e_forget_violations();
            }
        }
        if result.checks.iter().any(|c| !c.passed) {
            self.session.e2e_restart();
        }
    }

    /// TP-469 3.6 step 2: the renegotiation request; the next request
    /// step's E2E check judges the answer.
    pub(super) async fn e2e_tls_renegotiate(&mut self, result: &mut StepResult) {
        match self.session.e2e_tls_renegotiate().await {
            Ok(sent) => result.sent = Some(MsgText::from(sent)),
            Err(SessionError::E2eNotAllowed(why)) => {
                skip(result, &format!("not applicable: {why}"))
            }
            Err(e) => {
                self.note_unreachable(&e);
                result.error = Some(explain_session_error(&e));
            }
        }
    }

    /// TP-469 3.5: arms the harness for the TLS12 contexts the Agent opens
    /// itself.
    pub(super) fn e2e_tls_answer(&mut self, spec: &E2eTlsAnswerSpec, result: &mut StepResult) {
        match self.session.e2e_answer_agent_tls(spec.refuse_handshakes) {
            Ok(()) => {
                result.sent = Some(MsgText::from(format!(
                    "from now on until the case ends, a TLS12 context the Agent opens itself is adopted with the harness as its TLS server: the next {} handshake(s) refused with the TLS alert handshake_failure(40), the one after completed",
                    spec.refuse_handshakes
                )))
            }
            Err(e) => result.error = Some(explain_session_error(&e)),
        }
    }

    /// TP-469 3.7 metric 3: the handshake fails, or nothing sent through
    /// it is answered.
    async fn refused(&mut self, opened: &TlsOpened, shown: TlsCertificateChoice) -> CheckResult {
        let (description, metric, rule) = match shown {
            TlsCertificateChoice::Expired => (
                format!(
                    "the Agent refuses a Controller certificate naming '{}' whose validity period ended on 2020-01-02",
                    opened.shown_id
                ),
                "TP-469 2.8 metric 1",
                format!("R-MTP.2/3 (an Agent with absolute time checks validity); {RULE_TLS}"),
            ),
            _ => (
                format!(
                    "the Agent refuses a Controller certificate naming '{}' for Records from another Endpoint ID",
                    opened.shown_id
                ),
                "TP-469 3.7 metric 3",
                format!("{RULE_CERT_ID}; {RULE_TLS}"),
            ),
        };
        let expected = format!(
            "a TLS alert, a DisconnectRecord or silence; a Get sent through the session not answered ({metric})"
        );
        let rule = Some(rule);
        if !opened.handshake_done || opened.failure.is_some() || !opened.disconnects.is_empty() {
            return CheckResult {
                description,
                passed: true,
                expected,
                actual: describe(opened),
                rule,
            };
        }
        // In TLS 1.3 the client is done before the server has judged its
        // certificate: whether the Agent took it shows in what it answers.
        let (passed, actual) = match self.probe(PROBE).await {
            Ok(answer) => (
                false,
                format!(
                    "{}; then the Get of {PROBE} sent through the session was answered: {answer} (the certificate was accepted){}",
                    describe(opened),
                    if opened.peer.asked_for_certificate {
                        ""
                    } else {
                        "; the Agent never asked for the Controller's certificate, so it could not judge it (TP-469 3.7 metric 2)"
                    }
                ),
            ),
            Err(e) => (
                true,
                format!(
                    "{}; the Get of {PROBE} sent through the session was not answered ({e})",
                    describe(opened),
                ),
            ),
        };
        CheckResult {
            description,
            passed,
            expected,
            actual,
            rule,
        }
    }

    /// TP-469 2.6 metric 1: the handshake completes and a Get sent through
    /// the session is answered with a GetResponse.
    async fn accepted_without_clock(&mut self, opened: &TlsOpened) -> CheckResult {
        let done =
            opened.handshake_done && opened.failure.is_none() && opened.disconnects.is_empty();
        let (passed, actual) = if done {
            match self.probe(PROBE_2_6).await {
                Ok(answer) => (
                    answer == msg::type_name(MsgType::GetResp),
                    format!(
                        "{}; the Get of {PROBE_2_6} sent through the session was answered: {answer}",
                        describe(opened)
                    ),
                ),
                Err(e) => (
                    false,
                    format!(
                        "{}; the Get of {PROBE_2_6} sent through the session was not answered ({e})",
                        describe(opened)
                    ),
                ),
            }
        } else {
            (false, describe(opened))
        };
        CheckResult {
            description: format!(
                "the Agent, without absolute time, takes a Controller certificate naming '{}' whose validity period ended on 2020-01-02",
                opened.shown_id
            ),
            passed,
            expected: format!(
                "the handshake done, no alert, no DisconnectRecord; a Get of {PROBE_2_6} sent through the session answered with a GET_RESP (TP-469 2.6 metric 1)"
            ),
            actual,
            rule: Some(format!(
                "R-MTP.2/3 (an Agent without absolute time ignores validity dates); {RULE_TLS}"
            )),
        }
    }

    /// A Get of `path` through the session: the answer's type, or why
    /// none came.
    async fn probe(&mut self, path: &str) -> Result<&'static str, String> {
        let answer = self
            .session
            .request(ReqType::Get(Get {
                param_paths: vec![path.into()],
                max_depth: 0,
            }))
            .await;
        match answer {
            Ok(x) => Ok(msg::body_type(&x.response)
                .map(msg::type_name)
                .unwrap_or("no body")),
            Err((_, e)) => Err(explain_session_error(&e)),
        }
    }
}

/// TP-469 3.7 metrics 1 and 2, and the handshake itself.
fn established(opened: &TlsOpened, agent: &str, window: Duration, result: &mut StepResult) {
    let done = opened.handshake_done && opened.failure.is_none() && opened.disconnects.is_empty();
    result.checks.push(CheckResult {
        description: "the TLS handshake in the session context's payloads completes".into(),
        passed: done,
        expected: format!(
            "the handshake done within {} ms, no alert, no DisconnectRecord",
            window.as_millis()
        ),
        actual: describe(opened),
        rule: Some(RULE_TLS.into()),
    });
    if !done {
        return;
    }
    result.checks.push(CheckResult {
        description: "the Agent's TLS certificate names its Endpoint ID (TP-469 3.7 metric 1)"
            .into(),
        passed: opened.peer.certificate_id.as_deref() == Some(agent),
        expected: format!("a subjectAltName urn:bbf:usp:id:{agent}"),
        actual: match &opened.peer.certificate_id {
            Some(id) => format!("the certificate names '{id}'"),
            None => "the certificate names no USP Endpoint ID".into(),
        },
        rule: Some(RULE_CERT_ID.into()),
    });
    result.checks.push(CheckResult {
        description: "the Agent asks for the Controller's certificate (TP-469 3.7 metric 2)".into(),
        passed: opened.peer.asked_for_certificate,
        expected: "a CertificateRequest in the handshake (mutual X.509 authentication)".into(),
        actual: if opened.peer.asked_for_certificate {
            "the Agent asked for the harness's certificate".into()
        } else {
            "the handshake finished without the Agent asking for a certificate".into()
        },
        rule: Some(RULE_TLS.into()),
    });
}

fn describe(o: &TlsOpened) -> String {
    let mut parts = vec![if o.handshake_done {
        format!(
            "TLS handshake done in {} ms ({}, {})",
            o.took.as_millis(),
            o.peer.version.as_deref().unwrap_or("?"),
            o.peer.cipher_suite.as_deref().unwrap_or("?")
        )
    } else {
        format!("TLS handshake not done after {} ms", o.took.as_millis())
    }];
    if let Some(f) = &o.failure {
        parts.push(format!("TLS failure: {f}"));
    }
    for (code, reason) in &o.disconnects {
        parts.push(format!(
            "DisconnectRecord {}: {reason}",
            crate::session::name_reason(*code)
        ));
    }
    parts.join("; ")
}

fn skip(result: &mut StepResult, why: &str) {
    result.verdict = Verdict::Skipped;
    result.error = Some(why.into());
}
