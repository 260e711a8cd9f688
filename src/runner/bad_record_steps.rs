//! Running `bad_record` (TP-469 3.1, 6.9): a malformed Record goes out on
//! the current MTP; within the window the Agent ignores it or answers with a
//! USP Record Error (R-MTP.5), keeps its MTP session, and answers a Get
//! afterwards on the same connection. Where the binding itself answers
//! such a Record (WebSocket Close 1003, R-WS.16; UDS an Error TLV and a
//! close; CoAP 4.00 to the POST), that is accepted as the MTP's bad-request
//! behaviour and the Agent must then be reachable and answer.

use std::time::Duration;

use super::{explain_session_error, Runner};
use crate::results::{CheckResult, StepResult, Verdict};
use crate::session::AfterBadRecord;
use crate::suite::bad_record_steps::{BadRecordKind, BadRecordSpec};
use crate::trace::{describe_msg, MsgText};
use crate::usp::proto::msg::{header::MsgType, request::ReqType, Get, Msg};
use crate::usp::{errors, msg, record};

/// Bytes that are not a protobuf Record: field 1 claims a 127-byte string
/// that never comes.
pub(super) const NOT_A_RECORD: &[u8] = b"\x0a\x7fnot a USP record";
/// A payload that is not a protobuf Msg, the same way.
const NOT_A_MSG: &[u8] = b"\x0a\x7fnot a USP Msg";
/// The Record error codes (R-MTP.5).
const RECORD_ERRORS: std::ops::RangeInclusive<u32> = 7100..=7106;
/// What the Agent still has to answer: a Get that changes nothing.
const PROBE: &str = "Device.LocalAgent.EndpointID";

impl Runner<'_> {
    pub(super) async fn bad_record(&mut self, spec: &BadRecordSpec, result: &mut StepResult) {
        if let Err(e) = self.session.ensure_connected().await {
            self.note_unreachable(&e);
            result.error = Some(explain_session_error(&e));
            return;
        }
        let mtp = self.session.mtp_name().unwrap_or("this MTP");
        if let Some(only) = spec.only_on.filter(|o| o.label() != mtp) {
            result.verdict = Verdict::Skipped;
            result.error = Some(format!(
                "not applicable: this step is about the {} MTP and the run uses {mtp}",
                only.label()
            ));
            return;
        }
        let (bytes, description) = match spec.kind {
            BadRecordKind::NotARecord => (
                NOT_A_RECORD.to_vec(),
                format!(
                    "{} bytes over {mtp} that are not a USP Record (a protobuf field claims 127 bytes that never come)",
                    NOT_A_RECORD.len()
                ),
            ),
            kind => {
                let Some(agent) = self.session.agent_id().map(str::to_string) else {
                    result.error = Some("the Agent's Endpoint ID is unknown: set agent_endpoint_id in the target file".into());
                    return;
                };
                let me = self.session.controller_id().to_string();
                let get = || {
                    use prost::Message;
                    msg::request(
                        "plugfest-misaddressed",
                        ReqType::Get(Get {
                            param_paths: vec![PROBE.into()],
                            max_depth: 0,
                        }),
                    )
                    .encode_to_vec()
                };
                let (from, to, payload, what) = match kind {
                    BadRecordKind::FromOwnId => (agent.clone(), agent, get(), "a Get"),
                    BadRecordKind::ToAnotherId => {
                        (me, format!("{agent}-not-me"), get(), "a Get")
                    }
                    _ => (me, agent, NOT_A_MSG.to_vec(), "a payload that is not a USP Msg"),
                };
                (
                    record::encode_no_session(&from, &to, &payload),
                    format!("a NoSessionContextRecord over {mtp} from '{from}' to '{to}' carrying {what}"),
                )
            }
        };
        let window = spec
            .timeout_ms
            .map(Duration::from_millis)
            .unwrap_or(self.context.silence);
        result.sent = Some(MsgText::from(description.clone()));
        let after = match self
            .session
            .send_bad_record(bytes, &description, window)
            .await
        {
            Ok(a) => a,
            Err(e) => {
                self.note_unreachable(&e);
                result.error = Some(explain_session_error(&e));
                return;
            }
        };
        result.received = Some(MsgText::from(describe_after(&after, window)));
        let rule = self.case_rule.clone();
        result.checks.push(if spec.kind.must_go_unanswered() {
            unanswered_check(&after, window, rule.clone())
        } else {
            record_error_check(&after, window, rule.clone())
        });
        let session_check = session_kept_check(&after, mtp, window, rule.clone());
        let kept = session_check.passed;
        result.checks.push(session_check);
        if !kept {
            // The verdict is given; the next step reconnects if it must.
            return;
        }
        // After the binding's close (or CoAP's refused POST) the session
        // has forgotten the connection: the Get goes out on a new one.
        let reconnected = after.ended.is_some() || after.refused.is_some();
        let before = self.session.connect_records_received();
        let answer = self
            .session
            .request(ReqType::Get(Get {
                param_paths: vec![PROBE.into()],
                max_depth: 0,
            }))
            .await;
        let new_session = self.session.connect_records_received() > before;
        if let Ok(x) = &answer {
            if msg::body_type(&x.response) != Some(MsgType::GetResp) {
                // Worded like a request step's first check.
                result.checks.push(CheckResult {
                    description: "response type".into(),
                    passed: false,
                    expected: format!(
                        "{} to the Get of {PROBE} after the malformed Record",
                        msg::type_name(MsgType::GetResp)
                    ),
                    actual: describe_answer(&x.response),
                    rule: Some("R-MSG.9".into()),
                });
                return;
            }
        }
        let (passed, actual) = match &answer {
            // Over a broker the harness's connection stays up: a Connect
            // Record before the answer shows the Agent's session was new.
            Ok(_) if new_session && !reconnected => (
                false,
                "answered only after a new Connect Record: the Agent had ended its MTP session and opened another".into(),
            ),
            Ok(x) => (
                true,
                format!("a GetResp after {} ms", x.elapsed.as_millis()),
            ),
            Err((_, e)) => {
                self.note_unreachable(e);
                (false, explain_session_error(e))
            }
        };
        result.checks.push(CheckResult {
            description: "the Agent still answers requests after the malformed Record".into(),
            passed,
            expected: if reconnected {
                format!(
                    "after the binding's answer, the Agent reachable again and a GetResp to a Get of {PROBE}"
                )
            } else {
                format!("a GetResp to a Get of {PROBE} over the same MTP session")
            },
            actual,
            rule,
        });
    }
}

/// A Record from the Agent's own Endpoint ID, or to another one, is not
/// answered at all: no Error, no response (TP-469 2.1, 2.2).
fn unanswered_check(after: &AfterBadRecord, window: Duration, rule: Option<String>) -> CheckResult {
    let mut heard: Vec<String> = after.errors.iter().map(describe_answer).collect();
    heard.extend(after.others.iter().cloned());
    CheckResult {
        description: "the Agent does not answer the Record".into(),
        passed: heard.is_empty(),
        expected: format!(
            "nothing within {} ms: neither a response nor an Error",
            window.as_millis()
        ),
        actual: if heard.is_empty() {
            "nothing".into()
        } else {
            heard.join("; ")
        },
        rule,
    }
}

/// An Error that came is a USP Record Error: codes 7100-7106 (R-MTP.5).
fn record_error_check(
    after: &AfterBadRecord,
    window: Duration,
    rule: Option<String>,
) -> CheckResult {
    let wrong: Vec<String> = after
        .errors
        .iter()
        .filter_map(msg::error_body)
        .filter(|e| !RECORD_ERRORS.contains(&e.err_code))
        .map(|e| {
            format!(
                "an Error with code {} ({}, '{}'), not a Record error code (7100-7106, R-MTP.5)",
                e.err_code,
                errors::error_name(e.err_code),
                e.err_msg
            )
        })
        .collect();
    CheckResult {
        description: "the Agent ignores the malformed Record or answers with a USP Record Error"
            .into(),
        passed: wrong.is_empty(),
        expected: format!(
            "within {} ms nothing, or an Error with a code 7100-7106",
            window.as_millis()
        ),
        actual: if wrong.is_empty() {
            describe_errors(&after.errors)
        } else {
            wrong.join("; ")
        },
        rule,
    }
}

/// The Agent keeps its MTP session: no DisconnectRecord, no new Connect
/// Record, the connection still up — or closed the binding's own way.
fn session_kept_check(
    after: &AfterBadRecord,
    mtp: &str,
    window: Duration,
    rule: Option<String>,
) -> CheckResult {
    let allowed = after.binding_answer;
    let mut expected = format!(
        "within {} ms no DisconnectRecord, no new Connect Record and the {mtp} connection still up",
        window.as_millis()
    );
    if let Some(b) = allowed {
        expected.push_str(&format!(
            ", or {} (the {mtp} binding's bad-request behaviour, {})",
            b.describe(),
            b.rule()
        ));
    }
    let mut problems: Vec<String> = after
        .disconnects
        .iter()
        .map(|d| format!("a DisconnectRecord: {d}"))
        .collect();
    if after.connect_records > 0 {
        problems.push(format!(
            "{} new Connect Record(s): the Agent ended its {mtp} session and opened another",
            after.connect_records
        ));
    }
    let mut accepted = None;
    if let Some(end) = &after.ended {
        match allowed.filter(|b| b.seen_in(end)) {
            Some(b) => accepted = Some((b, format!("the connection ended: {end}"))),
            None => problems.push(format!("the connection ended: {end}")),
        }
    }
    if let Some(refused) = &after.refused {
        match allowed.filter(|b| b.seen_in(refused)) {
            Some(b) => accepted = Some((b, format!("the Record was refused: {refused}"))),
            None => problems.push(format!("the Record could not be delivered: {refused}")),
        }
    }
    CheckResult {
        description: "the Agent keeps its MTP session after the malformed Record".into(),
        passed: problems.is_empty(),
        expected,
        actual: if !problems.is_empty() {
            problems.join("; ")
        } else if let Some((b, what)) = accepted {
            format!(
                "{what} ({}): accepted as the MTP's bad-request behaviour",
                b.describe()
            )
        } else {
            "the session is still up".into()
        },
        rule,
    }
}

/// A Msg's type, or an Error's code and message.
fn describe_answer(m: &Msg) -> String {
    match msg::error_body(m) {
        Some(e) => format!("ERROR {}: {:?}", errors::describe(e.err_code), e.err_msg),
        None => msg::body_type(m)
            .map(msg::type_name)
            .unwrap_or("no body")
            .to_string(),
    }
}

fn describe_errors(found: &[Msg]) -> String {
    if found.is_empty() {
        return "nothing".into();
    }
    found
        .iter()
        .filter_map(msg::error_body)
        .map(|e| {
            format!(
                "a Record Error {} ('{}')",
                errors::describe(e.err_code),
                e.err_msg
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Everything seen in the window, in one line.
fn describe_after(after: &AfterBadRecord, window: Duration) -> String {
    let mut parts: Vec<String> = after.errors.iter().map(describe_msg).collect();
    parts.extend(
        after
            .disconnects
            .iter()
            .map(|d| format!("a DisconnectRecord: {d}")),
    );
    if after.connect_records > 0 {
        parts.push(format!("{} Connect Record(s)", after.connect_records));
    }
    parts.extend(after.others.iter().cloned());
    if let Some(e) = &after.ended {
        parts.push(format!("the connection ended: {e}"));
    }
    if let Some(e) = &after.refused {
        parts.push(format!("the Record was refused: {e}"));
    }
    if parts.is_empty() {
        format!("nothing within {} ms", window.as_millis())
    } else {
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mtp::{BadRecordAnswer, MtpError};
    use crate::usp::proto::msg::Error;

    fn error(code: u32) -> Msg {
        msg::error(
            "x",
            Error {
                err_code: code,
                err_msg: "bad".into(),
                ..Default::default()
            },
        )
    }

    const W: Duration = Duration::from_millis(500);

    #[test]
    fn silence_and_record_errors_pass_other_codes_fail() {
        let quiet = AfterBadRecord::default();
        assert!(record_error_check(&quiet, W, None).passed);
        let ok = AfterBadRecord {
            errors: vec![error(7100)],
            ..Default::default()
        };
        assert!(record_error_check(&ok, W, None).passed);
        let wrong = AfterBadRecord {
            errors: vec![error(7003)],
            ..Default::default()
        };
        let c = record_error_check(&wrong, W, None);
        assert!(!c.passed);
        assert!(c.actual.contains("code 7003"), "{}", c.actual);
    }

    #[test]
    fn a_dropped_session_fails_unless_the_binding_answers_its_way() {
        let kept = AfterBadRecord::default();
        assert!(session_kept_check(&kept, "MQTT", W, None).passed);
        let reconnected = AfterBadRecord {
            connect_records: 1,
            ..Default::default()
        };
        let c = session_kept_check(&reconnected, "MQTT", W, None);
        assert!(
            !c.passed && c.actual.contains("new Connect Record"),
            "{}",
            c.actual
        );
        let bye = AfterBadRecord {
            disconnects: vec!["reason_code 7100".into()],
            ..Default::default()
        };
        assert!(!session_kept_check(&bye, "STOMP", W, None).passed);
        let closed = |code| AfterBadRecord {
            ended: Some(MtpError::Closed {
                code,
                reason: String::new(),
            }),
            binding_answer: Some(BadRecordAnswer::WebSocket1003),
            ..Default::default()
        };
        assert!(session_kept_check(&closed(Some(1003)), "WebSocket", W, None).passed);
        let c = session_kept_check(&closed(Some(1007)), "WebSocket", W, None);
        assert!(!c.passed && c.actual.contains("1007"), "{}", c.actual);
        assert!(!session_kept_check(&closed(None), "WebSocket", W, None).passed);
        let uds = |reason: &str| AfterBadRecord {
            ended: Some(MtpError::Closed {
                code: None,
                reason: reason.into(),
            }),
            binding_answer: Some(BadRecordAnswer::UdsErrorTlv),
            ..Default::default()
        };
        let tlv = format!("{}: undecodable USP Record", crate::mtp::uds::PEER_ERROR);
        assert!(session_kept_check(&uds(&tlv), "UDS", W, None).passed);
        assert!(!session_kept_check(&uds("end of stream"), "UDS", W, None).passed);
        let refused = |answer, why: &str| AfterBadRecord {
            refused: Some(MtpError::Io(why.into())),
            binding_answer: Some(answer),
            ..Default::default()
        };
        let coap = "coap://127.0.0.1:1/usp answered 4.00 to the POST: not a Record";
        assert!(
            session_kept_check(&refused(BadRecordAnswer::Coap400, coap), "CoAP", W, None).passed
        );
        let c = session_kept_check(
            &refused(BadRecordAnswer::Coap400, "timed out"),
            "CoAP",
            W,
            None,
        );
        assert!(
            !c.passed && c.actual.contains("could not be delivered"),
            "{}",
            c.actual
        );
    }
}
