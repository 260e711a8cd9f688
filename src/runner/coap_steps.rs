//! Running `coap_control` and `expect_coap` (TP-469 section 5, legacy) on
//! the harness's CoAP endpoint. Without its controls (another MTP) both are
//! skipped with the reason, never passed. Also merges the CoAP messages into
//! a case's trace, and says what went wrong on the CoAP layer when a request
//! step's answer never came.

use std::time::Duration;

use super::Runner;
use crate::mtp::coap::control::{code_text, CoapEvent, Kind, RawRequest};
use crate::results::{CheckResult, StepResult, Verdict};
use crate::suite::coap_steps::{parse_code, CoapControlSpec, ExpectCoapSpec, RawPayload};
use crate::trace::{MsgText, TraceEntry, Way};
use crate::usp::proto::msg::{request::ReqType, Get};
use crate::usp::{msg, record};

const DEFAULT_WAIT_MS: u64 = 5_000;

/// Bytes that are not a protobuf USP Record: field 1 claims a 127-byte
/// string that never comes.
const NOT_A_RECORD: &[u8] = b"\x0a\x7fnot a USP record";

pub(super) const NO_CONTROL: &str = "not applicable: this step needs the harness's CoAP endpoint (--mtp coap, or a target with a coap section): CoAP is legacy, deprecated in USP 1.2 and obsoleted in 1.3";

impl Runner<'_> {
    /// Called when a case starts: forget a plan a previous case left
    /// unused, and remember where the case's CoAP messages begin.
    pub(super) fn coap_case_starts(&mut self) {
        if let Some(c) = &self.context.coap_control {
            c.reset();
            self.coap_case_start = c.log_len();
        }
    }

    /// The case's trace with its CoAP messages merged in time order.
    pub(super) fn with_coap_events(&self, trace: Vec<TraceEntry>) -> Vec<TraceEntry> {
        match &self.context.coap_control {
            Some(c) => {
                let events = c.events_since(self.coap_case_start);
                super::in_time_order(events.iter().map(CoapEvent::trace_entry).collect(), trace)
            }
            None => trace,
        }
    }

    fn coap_events(&self) -> Vec<CoapEvent> {
        self.context
            .coap_control
            .as_ref()
            .map(|c| c.events_since(self.coap_case_start))
            .unwrap_or_default()
    }

    /// Where the CoAP log stands now (0 without controls).
    pub(super) fn coap_mark(&self) -> usize {
        self.context
            .coap_control
            .as_ref()
            .map_or(0, |c| c.log_len())
    }

    /// When a request step got no answer: what the CoAP layer saw since
    /// `mark` that explains it (a request the harness withheld and the
    /// Agent never sent again; a request the harness had to refuse).
    pub(super) fn coap_lost_answer_note(&self, mark: usize) -> Option<String> {
        let events = self.context.coap_control.as_ref()?.events_since(mark);
        let from_agent = |e: &&CoapEvent| e.way == Way::FromAgent && e.kind == Kind::Request;
        let mut notes = Vec::new();
        for w in events.iter().filter(from_agent).filter(|e| e.withheld) {
            let again = events
                .iter()
                .filter(from_agent)
                .any(|e| e.repeated && e.message_id == w.message_id);
            if !again {
                notes.push(format!(
                    "the harness left the Agent's request (message id {}) unanswered on purpose and the Agent never sent it again (RFC 7252 §4.2: a Confirmable message is retransmitted until acknowledged; TP-469 5.4)",
                    w.message_id
                ));
            }
        }
        for a in events.iter().filter(|e| {
            e.way == Way::ToAgent && e.kind == Kind::Answer && e.code_number() >= "4.00"
        }) {
            let request = events
                .iter()
                .filter(from_agent)
                .rev()
                .find(|r| r.message_id == a.message_id)
                .map(CoapEvent::one_line)
                .unwrap_or_else(|| format!("message id {}", a.message_id));
            notes.push(format!(
                "the harness answered the Agent's {request} with {}{}",
                a.code,
                a.diagnostic
                    .as_ref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ));
        }
        (!notes.is_empty()).then(|| format!("on the CoAP layer: {}", notes.join("; ")))
    }

    pub(super) async fn coap_control(&mut self, spec: &CoapControlSpec, result: &mut StepResult) {
        let Some(control) = self.context.coap_control.clone() else {
            skip(result, NO_CONTROL);
            return;
        };
        let rule = spec.rule.clone().or_else(|| self.case_rule.clone());
        if let Some(n) = spec.withhold_answers {
            control.withhold_answers(n);
            result.checks.push(CheckResult {
                description: format!(
                    "the harness leaves the Agent's next {n} CoAP request(s) unanswered"
                ),
                passed: true,
                expected: "the next steps see the Agent send them again".into(),
                actual: "armed".into(),
                rule,
            });
            return;
        }
        let (Some(send), Some(want)) = (&spec.send, &spec.expect_code) else {
            // The loader refuses such a step.
            result.error = Some("coap_control: nothing to do".into());
            return;
        };
        let (Ok(method), Ok(want_byte)) = (parse_code(&send.method), parse_code(want)) else {
            result.error = Some("coap_control: bad code (the loader checks these)".into());
            return;
        };
        let (payload, what) = match send.payload {
            RawPayload::Record => match self.get_record() {
                Some((bytes, text)) => (bytes, text),
                None => {
                    result.error = Some(
                        "the Agent's Endpoint ID is not known yet: no Record to address".into(),
                    );
                    return;
                }
            },
            RawPayload::NotARecord => {
                (NOT_A_RECORD.to_vec(), "bytes that are no USP Record".into())
            }
        };
        let raw = RawRequest {
            method,
            content_format: send.content_format,
            payload,
        };
        let sent = format!(
            "CoAP {} (Content-Format {}) carrying {what}",
            code_text(method.into()),
            send.content_format
                .map_or("none".to_string(), |c| c.to_string())
        );
        result.sent = Some(MsgText::from(sent.clone()));
        let wait = Duration::from_millis(spec.timeout_ms.unwrap_or(DEFAULT_WAIT_MS));
        let actual = match tokio::time::timeout(wait, control.send_raw(&raw)).await {
            Err(_) => Err(format!("no answer within {} ms", wait.as_millis())),
            Ok(Err(e)) => Err(e),
            Ok(Ok(answer)) => Ok(answer),
        };
        let (passed, actual) = match actual {
            Ok(answer) => {
                let diag = String::from_utf8_lossy(&answer.payload).into_owned();
                let got = code_text(answer.header.code);
                (
                    u8::from(answer.header.code) == want_byte,
                    match diag.is_empty() {
                        true => got,
                        false => format!("{got} (diagnostic {diag:?})"),
                    },
                )
            }
            Err(e) => (false, e),
        };
        result.received = Some(MsgText::from(actual.clone()));
        result.checks.push(CheckResult {
            description: format!("the Agent answers {sent} with {want}"),
            passed,
            expected: code_text(want_byte.into()),
            actual,
            rule,
        });
    }

    /// A Get of the Agent's Endpoint ID in a Record from the harness: a
    /// request any Agent could carry out, so that its answer is about the
    /// CoAP message around it.
    fn get_record(&self) -> Option<(Vec<u8>, String)> {
        let agent = self.session.agent_id()?;
        let get = msg::request(
            "plugfest-coap-control",
            ReqType::Get(Get {
                param_paths: vec!["Device.LocalAgent.EndpointID".into()],
                max_depth: 0,
            }),
        );
        let rec = record::no_session(self.session.controller_id(), agent, &get);
        Some((
            record::encode(&rec),
            "a Record with a Get of Device.LocalAgent.EndpointID".into(),
        ))
    }

    pub(super) fn expect_coap(&mut self, spec: &ExpectCoapSpec, result: &mut StepResult) {
        if self.context.coap_control.is_none() {
            skip(result, NO_CONTROL);
            return;
        }
        let events = self.coap_events();
        let rule = spec.rule.clone().or_else(|| self.case_rule.clone());
        let agent_requests: Vec<&CoapEvent> = events
            .iter()
            .filter(|e| e.way == Way::FromAgent && e.kind == Kind::Request)
            .collect();
        let listed = |of: &[&CoapEvent]| match of.is_empty() {
            true => "none".to_string(),
            false => of
                .iter()
                .map(|e| e.one_line())
                .collect::<Vec<_>>()
                .join("; "),
        };
        let mut check = |description: String, passed: bool, expected: String, actual: String| {
            result.checks.push(CheckResult {
                description,
                passed,
                expected,
                actual,
                rule: rule.clone(),
            })
        };
        if let Some(cf) = spec.content_format {
            let wrong: Vec<&CoapEvent> = agent_requests
                .iter()
                .copied()
                .filter(|e| e.content_format != Some(cf))
                .collect();
            check(
                format!("every CoAP request from the Agent carries Content-Format {cf}"),
                !agent_requests.is_empty() && wrong.is_empty(),
                format!("Content-Format {cf} on each of the Agent's requests"),
                match (agent_requests.is_empty(), wrong.is_empty()) {
                    (true, _) => "the Agent sent no CoAP request in this case".into(),
                    (false, true) => format!("{} request(s), all with it", agent_requests.len()),
                    (false, false) => format!("without it: {}", listed(&wrong)),
                },
            );
        }
        if let Some(n) = spec.blocks_at_least {
            let blocks: Vec<&CoapEvent> = agent_requests
                .iter()
                .copied()
                .filter(|e| e.block1.is_some() && !e.repeated)
                .collect();
            let last_closes = blocks
                .last()
                .is_some_and(|e| e.block1.is_some_and(|b| !b.more));
            check(
                format!("the Agent sends its large Record block-wise, in at least {n} Block1 requests"),
                blocks.len() >= n as usize && last_closes,
                format!("at least {n} requests with a Block1 option, the last with M = 0 (RFC 7959 §2.3)"),
                match blocks.is_empty() {
                    true => format!("no request with a Block1 option; the Agent's requests: {}", listed(&agent_requests)),
                    false => format!("{} Block1 request(s): {}", blocks.len(), listed(&blocks)),
                },
            );
        }
        if spec.retransmitted == Some(true) {
            let withheld: Vec<&CoapEvent> = agent_requests
                .iter()
                .copied()
                .filter(|e| e.withheld)
                .collect();
            let again: Vec<&CoapEvent> = agent_requests
                .iter()
                .copied()
                .filter(|e| e.repeated)
                .collect();
            check(
                "the Agent sends an unanswered request again".into(),
                !withheld.is_empty()
                    && withheld
                        .iter()
                        .all(|w| again.iter().any(|a| a.message_id == w.message_id)),
                "each request the harness left unanswered sent again with the same message id (RFC 7252 §4.2)".into(),
                match withheld.is_empty() {
                    true => "the harness withheld no answer in this case (coap_control: withhold_answers comes first)".into(),
                    false => format!("withheld: {}; sent again: {}", listed(&withheld), listed(&again)),
                },
            );
        }
        if let Some(code) = &spec.answers {
            let answers: Vec<&CoapEvent> = events
                .iter()
                // An empty ACK only promises a separate response (RFC 7252 §5.2.2).
                .filter(|e| e.way == Way::FromAgent && e.kind == Kind::Answer)
                .filter(|e| e.code_number() != "0.00")
                .collect();
            let wrong: Vec<&CoapEvent> = answers
                .iter()
                .copied()
                .filter(|e| e.code_number() != code)
                .collect();
            check(
                format!("the Agent answers the harness's CoAP requests with {code}"),
                !answers.is_empty() && wrong.is_empty(),
                format!("{code} to each request"),
                match (answers.is_empty(), wrong.is_empty()) {
                    (true, _) => "the Agent answered no CoAP request in this case".into(),
                    (false, true) => format!("{} answer(s), all {code}", answers.len()),
                    (false, false) => format!("other answers: {}", listed(&wrong)),
                },
            );
        }
    }
}

fn skip(result: &mut StepResult, why: &str) {
    result.verdict = Verdict::Skipped;
    result.error = Some(why.into());
}
