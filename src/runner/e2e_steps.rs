//! Running `e2e_send` (TP-469 section 3): one SessionContextRecord built
//! field by field goes out, then the harness listens for what the Agent
//! does with it (`outcome`) and checks it, plus the context's own rules
//! (`Session::e2e_check`). Without `--e2e` the step is skipped with the
//! reason; so is it when the Agent refused the context with a
//! DisconnectRecord 7106 (R-E2E.6a: allowed, so never a failure).

use std::time::Duration;

use super::{explain_session_error, to_result, Runner};
use crate::results::{CheckResult, StepResult, Verdict};
use crate::session::{name_reason, Heard, RawRecord, RetransmitChoice, SessionError, Until};
use crate::suite::e2e_steps::{E2eOutcome, E2eSendSpec, SessionChoice};
use crate::suite::model::Step;
use crate::suite::request::build_request;
use crate::suite::vars::Vars;
use crate::suite::{capture, expect};
use crate::trace::{describe_msg, MsgText};
use crate::usp::msg;
use crate::usp::proto::msg::header::MsgType;

pub(super) const NO_CONTEXT: &str = "not applicable: this step needs an E2E session context (run with --e2e, or `e2e:` in the target file)";

/// Sequencing rules of the spec's "E2E Session Context" section (they carry
/// no requirement number there).
const RULE_ORDER: &str = "E2E Session Context: a receiver buffers Records with sequence_id above expected_id and processes them in sequence_id order (TP-469 3.12)";
const RULE_ACK: &str =
    "E2E Session Context: expected_id is the next sequence_id the sender expects (TP-469 3.11)";

impl Runner<'_> {
    pub(super) async fn e2e_send(
        &mut self,
        step: &Step,
        spec: &E2eSendSpec,
        vars: &mut Vars,
        result: &mut StepResult,
    ) {
        if self.session.e2e_segment_size().is_none() {
            skip(result, NO_CONTEXT);
            return;
        }
        if let Some(why) = self.session.e2e_refusal() {
            skip(result, &format!("not applicable: {why}"));
            return;
        }
        // Checked at load time; a failure here is a harness bug, reported.
        let parsed = spec
            .sequence()
            .and_then(|s| Ok((s, spec.retransmit()?, spec.request()?, spec.resent()?)));
        let (sequence, retransmit, request, resent) = match parsed {
            Ok(p) => p,
            Err(e) => {
                result.error = Some(e);
                return;
            }
        };
        let payload = match request.as_ref().map(|r| build_request(r, vars)).transpose() {
            Ok(p) => p,
            Err(e) => {
                result.verdict = Verdict::Error;
                result.error = Some(format!("the step's request could not be built: {e}"));
                return;
            }
        };
        let raw = RawRecord {
            new_session: spec.session_id == SessionChoice::New,
            sequence,
            expected_id: spec.expected_id,
            retransmit,
            payload_security: spec.payload_security.wire(),
            payload,
            integrity: spec.mac_signature.wire(),
        };
        if let Some(ms) = spec.delay_ms {
            // Notifys arriving meanwhile are queued as usual by the next read.
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        let sent = match self.session.e2e_send(raw).await {
            Ok(s) => s,
            Err(SessionError::E2eNotAllowed(why)) => {
                skip(result, &format!("not applicable: {why}"));
                return;
            }
            Err(e) => {
                self.note_unreachable(&e);
                result.error = Some(explain_session_error(&e));
                return;
            }
        };
        result.sent = Some(MsgText::from(match &sent.msg {
            Some(m) => format!("{}\n{}", sent.description, describe_msg(m)),
            None => sent.description.clone(),
        }));
        let own_id = sent.msg.as_ref().map(|m| msg::msg_id(m).to_string());
        let wait = Duration::from_millis(
            spec.timeout_ms
                .unwrap_or(self.session.request_timeout().as_millis() as u64),
        );
        let quiet = spec
            .timeout_ms
            .map(Duration::from_millis)
            .unwrap_or(self.context.silence);
        let rule = self.case_rule.clone();
        let what = format!(
            "{} (session_id {}, sequence_id {})",
            record_word(spec),
            sent.session_id,
            sent.sequence_id
        );
        let listened = match &spec.outcome {
            E2eOutcome::Answered => {
                let pending = self.session.e2e_pending();
                let ids: Vec<String> = pending.iter().map(|(_, id)| id.clone()).collect();
                self.session
                    .e2e_listen(wait, Until::Answers(ids))
                    .await
                    .map(|h| (h, Some(pending)))
            }
            E2eOutcome::Held | E2eOutcome::Ignored | E2eOutcome::Rejected => self
                .session
                .e2e_listen(quiet, Until::Window)
                .await
                .map(|h| (h, None)),
            E2eOutcome::Retransmits(_) => {
                let seq = match resent {
                    Some(RetransmitChoice::Id(n)) => n,
                    _ => sent.retransmit_id,
                };
                self.session
                    .e2e_listen(wait, Until::Resent(seq))
                    .await
                    .map(|h| (h, None))
            }
            E2eOutcome::Disconnect(_) => self
                .session
                .e2e_listen(wait, Until::Disconnect)
                .await
                .map(|h| (h, None)),
        };
        let (heard, pending) = match listened {
            Ok(h) => h,
            Err(e) => {
                self.note_unreachable(&e);
                result.error = Some(explain_session_error(&e));
                self.session.e2e_restart();
                return;
            }
        };
        if matches!(spec.outcome, E2eOutcome::Ignored | E2eOutcome::Rejected) {
            if let Some(id) = &own_id {
                self.session.e2e_forget(id);
            }
        }
        if let Some(a) = heard.answers.first() {
            result.received = Some(MsgText::of(a));
        }
        // The context's own rules; when they are broken, that is usually
        // why an answer is missing: said next to it.
        let context = self.session.e2e_check();
        let broken = context.as_ref().filter(|c| !c.passed).map(|c| {
            // (`actual` names each broken rule.)
            format!("; E2E session context broken: {}", c.actual)
        });
        let mut checks = Vec::new();
        match &spec.outcome {
            E2eOutcome::Answered => {
                let pending = pending.unwrap_or_default();
                let mut answered = answered_checks(&pending, &heard, wait, rule.clone());
                if let (Some(first), Some(why)) = (answered.first_mut(), &broken) {
                    if !first.passed {
                        first.actual.push_str(why);
                    }
                }
                checks.extend(answered);
                if let Some((peer, next)) = self.session.e2e_acknowledgement() {
                    checks.push(CheckResult {
                        description:
                            "the Agent's last Record acknowledges every Record sent (expected_id)"
                                .into(),
                        passed: peer == Some(next),
                        expected: format!("expected_id {next}"),
                        actual: match peer {
                            Some(p) => format!("expected_id {p}"),
                            None => "no Record from the Agent in this context".into(),
                        },
                        rule: Some(RULE_ACK.into()),
                    });
                }
                let own = own_id
                    .as_deref()
                    .and_then(|id| heard.answers.iter().find(|m| msg::msg_id(m) == id));
                if let (Some(answer), Some(expectation)) = (own, step.expect.as_ref()) {
                    result.received = Some(MsgText::of(answer));
                    checks.extend(
                        expect::evaluate(expectation, answer, vars, self.profiles)
                            .into_iter()
                            .map(to_result),
                    );
                    if let Err(e) = capture(&step.capture, answer, vars) {
                        checks.push(CheckResult {
                            description: "capture values for later steps".into(),
                            passed: false,
                            expected: format!("{:?}", step.capture),
                            actual: e.to_string(),
                            rule: None,
                        });
                    }
                }
            }
            E2eOutcome::Held => checks.push(silence_check(
                &format!("the Agent holds {what} until the sequence_ids before it arrive"),
                &heard,
                quiet,
                Some(RULE_ORDER.into()),
            )),
            E2eOutcome::Ignored => checks.push(silence_check(
                &format!("the Agent ignores {what}"),
                &heard,
                quiet,
                rule.clone(),
            )),
            E2eOutcome::Rejected => {
                let carried_out: Vec<String> = heard
                    .answers
                    .iter()
                    .filter(|m| msg::body_type(m) != Some(MsgType::Error))
                    .map(|m| {
                        format!(
                            "a {} (msg_id '{}')",
                            msg::body_type(m).map(msg::type_name).unwrap_or("Msg"),
                            msg::msg_id(m)
                        )
                    })
                    .collect();
                checks.push(CheckResult {
                    description: format!("the Agent rejects {what}"),
                    passed: carried_out.is_empty(),
                    expected: format!(
                        "no response within {} ms (an Error, a DisconnectRecord or silence)",
                        quiet.as_millis()
                    ),
                    actual: if carried_out.is_empty() {
                        describe_heard(&heard)
                    } else {
                        format!("the request was carried out: {}", carried_out.join(", "))
                    },
                    rule: rule.clone(),
                });
            }
            E2eOutcome::Retransmits(_) => {
                let seq = match resent {
                    Some(RetransmitChoice::Id(n)) => n,
                    _ => sent.retransmit_id,
                };
                let (passed, actual) = match &heard.resent {
                    Some((original, again)) if original == again => (
                        true,
                        format!(
                            "Record {seq} resent unchanged: {}",
                            crate::usp::e2e::session::describe(again)
                        ),
                    ),
                    Some((original, again)) => (
                        false,
                        format!(
                            "Record {seq} resent changed: first {}, again {}",
                            crate::usp::e2e::session::describe(original),
                            crate::usp::e2e::session::describe(again)
                        ),
                    ),
                    None => (
                        false,
                        format!(
                            "Record {seq} was not resent within {} ms; meanwhile: {}",
                            wait.as_millis(),
                            describe_heard(&heard)
                        ),
                    ),
                };
                checks.push(CheckResult {
                    description: format!(
                        "the Agent resends its Record {seq} when {what} asks for it (retransmit_id {})",
                        sent.retransmit_id
                    ),
                    passed,
                    expected: format!("the Agent's Record with sequence_id {seq} again, unchanged"),
                    actual,
                    rule: Some(crate::usp::e2e::RULE_RETRANSMIT.into()),
                });
            }
            E2eOutcome::Disconnect(code) => checks.push(CheckResult {
                description: format!("the Agent answers {what} with a DisconnectRecord"),
                passed: heard.disconnects.iter().any(|(c, _)| c == code),
                expected: format!("a DisconnectRecord with reason_code {}", name_reason(*code)),
                actual: describe_heard(&heard),
                rule: rule.clone(),
            }),
        }
        result.checks.extend(checks);
        result.checks.extend(context);
        if result.checks.iter().any(|c| !c.passed) {
            // The next case must not inherit a context this one broke.
            self.session.e2e_restart();
        }
    }
}

/// The answers an `answered` outcome waited for: all there, in
/// sequence_id order.
fn answered_checks(
    pending: &[(u64, String)],
    heard: &Heard,
    wait: Duration,
    rule: Option<String>,
) -> Vec<CheckResult> {
    let got: Vec<&str> = heard.answers.iter().map(|m| msg::msg_id(m)).collect();
    let missing: Vec<String> = pending
        .iter()
        .filter(|(_, id)| !got.contains(&id.as_str()))
        .map(|(seq, id)| format!("'{id}' (sequence_id {seq})"))
        .collect();
    let mut out = vec![CheckResult {
        description: "the Agent answers every request it can process now".into(),
        passed: missing.is_empty(),
        expected: format!(
            "answers to {}",
            pending
                .iter()
                .map(|(seq, id)| format!("'{id}' (sequence_id {seq})"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        actual: if missing.is_empty() {
            format!("all {} answered", pending.len())
        } else {
            format!(
                "no answer within {} ms to {}; meanwhile: {}",
                wait.as_millis(),
                missing.join(", "),
                describe_heard(heard)
            )
        },
        rule,
    }];
    if pending.len() > 1 {
        let order: Vec<&str> = got
            .iter()
            .copied()
            .filter(|id| pending.iter().any(|(_, p)| p == id))
            .collect();
        let wanted: Vec<&str> = pending.iter().map(|(_, id)| id.as_str()).collect();
        out.push(CheckResult {
            description:
                "the Agent processes the Records in sequence_id order, not as they arrived".into(),
            passed: order == wanted,
            expected: format!("answers in the order {wanted:?}"),
            actual: format!("answers in the order {order:?}"),
            rule: Some(RULE_ORDER.into()),
        });
    }
    out
}

/// Passes when no answer came within the window.
fn silence_check(
    description: &str,
    heard: &Heard,
    window: Duration,
    rule: Option<String>,
) -> CheckResult {
    CheckResult {
        description: description.into(),
        passed: heard.answers.is_empty(),
        expected: format!("no answer within {} ms", window.as_millis()),
        actual: describe_heard(heard),
        rule,
    }
}

/// What arrived, in a few words.
fn describe_heard(heard: &Heard) -> String {
    let mut parts: Vec<String> = heard
        .answers
        .iter()
        .map(|m| {
            format!(
                "a {} (msg_id '{}')",
                msg::body_type(m).map(msg::type_name).unwrap_or("Msg"),
                msg::msg_id(m)
            )
        })
        .collect();
    parts.extend(heard.disconnects.iter().map(|(code, reason)| {
        format!(
            "a DisconnectRecord, reason_code {} ('{reason}')",
            name_reason(*code)
        )
    }));
    if let Some((_, again)) = &heard.resent {
        parts.push(format!(
            "a resent Record: {}",
            crate::usp::e2e::session::describe(again)
        ));
    }
    if parts.is_empty() {
        "nothing".into()
    } else {
        parts.join(", ")
    }
}

/// The Record a step sent, in words.
fn record_word(spec: &E2eSendSpec) -> &'static str {
    match (spec.payload.is_some(), spec.retransmit_id.is_some()) {
        _ if spec
            .sequence_id
            .as_ref()
            .is_some_and(|s| s.0.trim() == "repeat") =>
        {
            "the duplicate Record"
        }
        (true, _) => "the Record and its request",
        (false, true) => "the retransmit request",
        (false, false) => "the empty Record",
    }
}

fn skip(result: &mut StepResult, why: &str) {
    result.verdict = Verdict::Skipped;
    result.error = Some(why.into());
}
