//! Running `ws_control` and `expect_close` (TP-469 section 7) on the
//! WebSocket between the harness, as the server, and the Agent. Without the
//! controls (another MTP, the harness as the client) both are skipped with
//! the reason, never passed. Also merges the WebSocket events (handshakes,
//! control frames, closes) into a case's trace.

use std::time::{Duration, Instant};

use super::bad_record_steps::NOT_A_RECORD;
use super::Runner;
use crate::mtp::websocket::control::{CloseExchange, HandshakePlan, Way, WsEvent};
use crate::mtp::{Inbound, MtpError};
use crate::results::{CheckResult, StepResult, Verdict};
use crate::suite::vars::Vars;
use crate::suite::ws_steps::{ExpectCloseSpec, HandshakeItem, WsControlSpec};
use crate::trace::{Direction, MsgText, TraceEntry};

const DEFAULT_WAIT_MS: u64 = 5_000;
/// How long a handshake step waits for the Agent's usable session: a real
/// Agent backs off 5-10 s, then 10-20 s, 20-40 s (R-WS.20 defaults).
const DEFAULT_HANDSHAKE_WAIT_MS: u64 = 60_000;

pub(super) const NO_CONTROL: &str = "not applicable: this step needs the harness as the WebSocket server the Agent connects to, with its test controls (the built-in Agent with --mtp ws --role server, or a target whose websocket section has `listen:`)";

pub(super) const NO_CLIENT: &str = "not applicable: this step needs the harness as the client of the Agent's WebSocket server (the built-in Agent with --mtp ws --role client, or a target whose websocket section has `url:`)";

impl Runner<'_> {
    /// Called when a case starts: forget a handshake plan a previous case
    /// left unused, and remember where the case's events begin.
    pub(super) fn ws_case_starts(&mut self) {
        if let Some(c) = &self.context.ws_control {
            c.reset();
            self.ws_case_start = c.log_len();
            self.ws_retry_from = self.ws_case_start;
        }
    }

    /// The case's trace with its WebSocket events merged in time order.
    pub(super) fn with_ws_events(&self, trace: Vec<TraceEntry>) -> Vec<TraceEntry> {
        match &self.context.ws_control {
            Some(c) => {
                let events = c.events_since(self.ws_case_start);
                // Events first: within one millisecond a handshake precedes
                // the Records of its session.
                super::in_time_order(events.iter().map(WsEvent::trace_entry).collect(), trace)
            }
            None => trace,
        }
    }

    pub(super) async fn ws_control(
        &mut self,
        spec: &WsControlSpec,
        vars: &Vars,
        result: &mut StepResult,
    ) {
        if spec.second_session == Some(true) {
            self.second_session(spec, result).await;
            return;
        }
        let Some(control) = self.context.ws_control.clone() else {
            skip(result, NO_CONTROL);
            return;
        };
        let wait = Duration::from_millis(spec.timeout_ms.unwrap_or(DEFAULT_WAIT_MS));
        let handshake_wait =
            Duration::from_millis(spec.timeout_ms.unwrap_or(DEFAULT_HANDSHAKE_WAIT_MS));
        if let Some(n) = spec.reject_handshakes {
            // A number of ms, or the name of the run's variable holding
            // the Agent's minimum wait (its SessionRetryMinimumWaitInterval
            // is a fact of its configuration the run must give).
            let min = match spec.min_retry_interval_ms.as_ref().map(|v| v.0.trim()) {
                None => None,
                Some(v) => match v.parse::<u64>() {
                    Ok(ms) => Some(Duration::from_millis(ms)),
                    Err(_) => match vars.get(v).map(|t| t.trim().parse::<u64>()) {
                        Some(Ok(ms)) => Some(Duration::from_millis(ms)),
                        None => {
                            skip(
                                result,
                                &format!("not applicable: min_retry_interval_ms names variable {v}, the Agent's minimum retry wait in ms, which this run does not define (set `vars:` in the target file or pass --var {v}=MS)"),
                            );
                            return;
                        }
                        Some(Err(_)) => {
                            result.error = Some(format!(
                                "ws_control: variable {v} ({:?}) is not a number of ms",
                                vars.get(v).unwrap_or_default()
                            ));
                            return;
                        }
                    },
                },
            };
            let plan = HandshakePlan {
                reject: n,
                reject_status: spec.status.unwrap_or(503),
                ..Default::default()
            };
            result.sent = Some(MsgText::from(format!(
                "dropped the connection; the next {n} handshake(s) refused with HTTP {}",
                plan.reject_status
            )));
            let from = self
                .replan_and_reconnect(&control, plan, handshake_wait, result)
                .await;
            let Some(from) = from else { return };
            self.ws_retry_from = from;
            let events = control.events_since(from);
            result
                .checks
                .extend(retry_checks(&events, n, min, &self.case_rule));
            return;
        }
        if let Some(item) = spec.answer_without {
            let plan = match item {
                HandshakeItem::Subprotocol => HandshakePlan {
                    omit_subprotocol: true,
                    ..Default::default()
                },
                HandshakeItem::Extension => HandshakePlan {
                    omit_extension: true,
                    ..Default::default()
                },
            };
            result.sent = Some(MsgText::from(format!(
                "dropped the connection; the next handshake answered without {}",
                match item {
                    HandshakeItem::Subprotocol => "Sec-WebSocket-Protocol: v1.usp",
                    HandshakeItem::Extension => "the bbf-usp-protocol extension",
                }
            )));
            let Some(from) = self
                .replan_and_reconnect(&control, plan, handshake_wait, result)
                .await
            else {
                return;
            };
            let events = control.events_since(from);
            result.checks.push(match item {
                HandshakeItem::Subprotocol => unconfirmed_session_check(&events),
                HandshakeItem::Extension => CheckResult {
                    description: "a session answered without the bbf-usp-protocol extension is used".into(),
                    passed: self.session.connect_record_seen(),
                    // Worded like the connect_record step's expectation.
                    expected: "a Connect Record for this MTP on that session (R-WS.11b/11c: the extension's absence is no error)".into(),
                    actual: if self.session.connect_record_seen() {
                        "the Agent sent its Connect Record on that session".into()
                    } else {
                        "no Connect Record on that session".into()
                    },
                    rule: Some("R-WS.11c".into()),
                },
            });
            return;
        }
        // The rest acts on the live connection.
        if let Err(e) = self.session.ensure_connected().await {
            self.note_unreachable(&e);
            result.error = Some(e.to_string());
            return;
        }
        let Some(frames) = self.session.connection_mut().and_then(|c| c.ws_frames()) else {
            skip(result, NO_CONTROL);
            return;
        };
        let number = frames.connection_number();
        let outcome: Result<(), MtpError> = if let Some(payload) = &spec.ping {
            result.sent = Some(MsgText::from(format!(
                "Ping ({} bytes) on connection {number}",
                payload.len()
            )));
            match frames.ping(payload.as_bytes(), wait).await {
                Ok(rtt) => {
                    result.checks.push(CheckResult {
                        description: "the Agent answers a Ping with a Pong".into(),
                        passed: rtt.is_some(),
                        expected: format!(
                            "a Pong echoing the Ping's payload {payload:?} within {} ms",
                            wait.as_millis()
                        ),
                        actual: match rtt {
                            Some(t) => format!("a Pong after {} ms", t.as_millis()),
                            None => format!("no matching Pong within {} ms", wait.as_millis()),
                        },
                        rule: Some("R-WS.17 (TP-469 7.7)".into()),
                    });
                    Ok(())
                }
                Err(e) => Err(e),
            }
        } else if let Some(payload) = &spec.pong {
            result.sent = Some(MsgText::from(format!(
                "an unsolicited Pong ({} bytes) on connection {number}",
                payload.len()
            )));
            frames.unsolicited_pong(payload.as_bytes()).await
        } else if let Some(text) = &spec.send_text {
            result.sent = Some(MsgText::from(format!(
                "a text frame of {} bytes on connection {number}",
                text.len()
            )));
            frames.send_text(text).await
        } else if spec.send_malformed == Some(true) {
            result.sent = Some(MsgText::from(format!(
                "a binary frame of {} bytes that is not a USP Record on connection {number}",
                NOT_A_RECORD.len()
            )));
            frames.send_binary(NOT_A_RECORD).await
        } else if let Some(n) = spec.fragment_next {
            frames.fragment_next(1, n);
            result.sent = Some(MsgText::from(format!(
                "the next Record on connection {number} goes out over {n} frames"
            )));
            Ok(())
        } else if let Some(code) = spec.close {
            result.sent = Some(MsgText::from(format!(
                "a Close frame with status code {code} on connection {number}"
            )));
            match frames.close_handshake(code, wait).await {
                Ok(exchange) => {
                    self.session.forget_connection();
                    result.received = Some(MsgText::from(describe_close_exchange(&exchange)));
                    result.checks.extend(close_checks(code, &exchange, wait));
                    Ok(())
                }
                Err(e) => Err(e),
            }
        } else if spec.drop_connection == Some(true) {
            frames.drop_tcp().await;
            self.session.forget_connection();
            result.sent = Some(MsgText::from(format!(
                "connection {number} ended without a Close frame"
            )));
            let started = Instant::now();
            let back = match spec.timeout_ms {
                Some(ms) => {
                    self.session
                        .ensure_connected_within(Duration::from_millis(ms))
                        .await
                }
                None => self.session.ensure_connected().await,
            };
            match back {
                Ok(()) => {
                    result.checks.push(CheckResult {
                        description: "the Agent opens a new session after the connection dropped"
                            .into(),
                        passed: true,
                        expected: "a new WebSocket session (R-WS.19)".into(),
                        actual: format!("a new session after {} ms", started.elapsed().as_millis()),
                        rule: Some("R-WS.19".into()),
                    });
                }
                Err(e) => {
                    self.note_unreachable(&e);
                    result.error = Some(format!(
                        "after the connection was dropped without a Close: {e}"
                    ));
                }
            }
            Ok(())
        } else {
            Ok(())
        };
        if let Err(e) = outcome {
            self.session.forget_connection();
            result.error = Some(format!("the WebSocket step could not be done: {e}"));
        }
    }

    /// Drops the current connection (if any), sets `plan` and waits for
    /// the Agent's next session; the control log's position before the
    /// first new handshake, or `None` (with the error set) when the Agent
    /// did not come back.
    async fn replan_and_reconnect(
        &mut self,
        control: &crate::mtp::websocket::WsControl,
        plan: HandshakePlan,
        wait: Duration,
        result: &mut StepResult,
    ) -> Option<usize> {
        if let Err(e) = self.session.ensure_connected().await {
            self.note_unreachable(&e);
            result.error = Some(e.to_string());
            return None;
        }
        control.plan(plan);
        let from = control.log_len();
        match self.session.connection_mut().and_then(|c| c.ws_frames()) {
            Some(frames) => frames.drop_tcp().await,
            None => {
                skip(result, NO_CONTROL);
                return None;
            }
        }
        self.session.forget_connection();
        if let Err(e) = self.session.ensure_connected_within(wait).await {
            self.note_unreachable(&e);
            let seen: Vec<String> = control
                .events_since(from)
                .iter()
                .filter(|e| e.kind.starts_with("HANDSHAKE") || e.kind.starts_with("SESSION"))
                .map(WsEvent::one_line)
                .collect();
            result.error = Some(format!(
                "the Agent did not open a usable session: {e} (seen: {})",
                if seen.is_empty() {
                    "nothing".to_string()
                } else {
                    seen.join("; ")
                }
            ));
            return None;
        }
        Some(from)
    }

    /// R-WS.4: at most one session between two endpoints. Opens a second
    /// session with the harness's Endpoint ID beside the run's own and
    /// waits until the Agent ends one of them (either is allowed, TP-469
    /// 7.2); the second is closed by the harness afterwards.
    async fn second_session(&mut self, spec: &WsControlSpec, result: &mut StepResult) {
        let Some(dialer) = self.context.ws_second_session.clone() else {
            skip(result, NO_CLIENT);
            return;
        };
        if let Err(e) = self.session.ensure_connected().await {
            self.note_unreachable(&e);
            result.error = Some(e.to_string());
            return;
        }
        let wait = Duration::from_millis(spec.timeout_ms.unwrap_or(DEFAULT_WAIT_MS));
        result.sent = Some(MsgText::from(format!(
            "a second WebSocket session to {} with the same Endpoint ID",
            dialer.0.url_with_eid()
        )));
        let deadline = tokio::time::Instant::now() + wait;
        let (second_alive, first_alive, what) = match dialer.0.connect().await {
            Err(e) => (false, true, format!("the second session was refused: {e}")),
            Ok(mut second) => {
                let Some(first) = self.session.connection_mut() else {
                    second.close(Some(1000), "second-session check over").await;
                    result.error = Some("the run's own session ended before the check".into());
                    return;
                };
                let mut lost = 0;
                let fate = loop {
                    tokio::select! {
                        r = second.recv() => match r {
                            // Its Connect Record, or anything else: still open.
                            Ok(_) => continue,
                            Err(e) => break (false, true, format!("the Agent ended the second session: {e}")),
                        },
                        r = first.recv() => match r {
                            // A Record on the first session meanwhile is not processed.
                            Ok(_) => { lost += 1; continue }
                            Err(e) => break (true, false, format!("the Agent ended the first session: {e}")),
                        },
                        _ = tokio::time::sleep_until(deadline) => {
                            break (true, true, format!("both sessions still open after {} ms", wait.as_millis()));
                        }
                    }
                };
                if lost > 0 {
                    self.session.push_trace(
                        TraceEntry::new(
                            Direction::Received,
                            "(records during the second-session check)".into(),
                            0,
                        )
                        .with_note(format!(
                            "{lost} Record(s) on the first session were not processed"
                        )),
                    );
                }
                if fate.0 {
                    second.close(Some(1000), "second-session check over").await;
                }
                fate
            }
        };
        if !first_alive {
            self.session.forget_connection();
        }
        result.received = Some(MsgText::from(what.clone()));
        result.checks.push(CheckResult {
            description: "only one WebSocket session between the harness and the Agent survives"
                .into(),
            passed: first_alive != second_alive,
            expected: format!(
                "the Agent refuses or ends the second session, or ends the first, within {} ms",
                wait.as_millis()
            ),
            actual: what,
            rule: Some("R-WS.4 (TP-469 7.2)".into()),
        });
    }

    pub(super) async fn expect_close(&mut self, spec: &ExpectCloseSpec, result: &mut StepResult) {
        let Some(control) = self.context.ws_control.clone() else {
            skip(result, NO_CONTROL);
            return;
        };
        // What the Agent is answering: the last frame a step sent it.
        let provoked = control
            .events_since(self.ws_case_start)
            .iter()
            .rev()
            .find(|e| e.way == Way::ToAgent)
            .map(WsEvent::one_line)
            .unwrap_or_else(|| "nothing the harness sent".into());
        let Some(conn) = self.session.connection_mut() else {
            result.error = Some(format!(
                "no WebSocket connection to watch for a Close (after {provoked})"
            ));
            return;
        };
        let wait = Duration::from_millis(spec.timeout_ms.unwrap_or(DEFAULT_WAIT_MS));
        let deadline = tokio::time::Instant::now() + wait;
        let mut records = 0;
        let outcome = loop {
            match tokio::time::timeout_at(deadline, conn.recv()).await {
                Err(_) => break None,
                // The Agent may still send Records (a Notify) before it closes.
                Ok(Ok(Inbound::Record(_))) | Ok(Ok(Inbound::Unusable(_))) => records += 1,
                Ok(Err(e)) => break Some(e),
            }
        };
        if records > 0 {
            self.session.push_trace(
                TraceEntry::new(Direction::Received, "(records before the Close)".into(), 0)
                    .with_note(format!(
                        "{records} Record(s) arrived while waiting for the Close; not processed"
                    )),
            );
        }
        let want = spec.code;
        let (passed, actual) = match &outcome {
            None => (
                false,
                format!("no Close frame within {} ms", wait.as_millis()),
            ),
            Some(MtpError::Closed {
                code: Some(c),
                reason,
            }) => (
                *c == want,
                if reason.is_empty() {
                    format!("a Close frame with status code {c}")
                } else {
                    format!("a Close frame with status code {c} (reason {reason:?})")
                },
            ),
            Some(MtpError::Closed { code: None, reason }) if reason.is_empty() => {
                (false, "a Close frame without a status code".into())
            }
            Some(MtpError::Closed { code: None, reason }) => (false, reason.clone()),
            Some(other) => (false, format!("the connection failed: {other}")),
        };
        if outcome.is_some() {
            self.session.forget_connection();
        }
        result.received = Some(MsgText::from(actual.clone()));
        result.checks.push(CheckResult {
            description: format!("the Agent closes the WebSocket with status {want}"),
            passed,
            expected: format!("after {provoked}: a Close frame with status code {want}"),
            actual,
            rule: spec.rule.clone().or_else(|| self.case_rule.clone()),
        });
    }
}

pub(super) fn skip(result: &mut StepResult, why: &str) {
    result.verdict = Verdict::Skipped;
    result.error = Some(why.into());
}

/// After `n` refusals the Agent kept trying and its next handshake opened a
/// session; with `min`, no retry came sooner than that after the last.
fn retry_checks(
    events: &[WsEvent],
    n: u32,
    min: Option<Duration>,
    case_rule: &Option<String>,
) -> Vec<CheckResult> {
    let attempts: Vec<&WsEvent> = events
        .iter()
        .filter(|e| e.kind.starts_with("HANDSHAKE"))
        .collect();
    let refused = attempts
        .iter()
        .take_while(|e| e.kind == "HANDSHAKE REFUSED")
        .count();
    let mut checks = vec![CheckResult {
        description: "the Agent retries refused handshakes until one is accepted".into(),
        passed: refused == n as usize && attempts.len() > refused,
        expected: format!("{n} refused handshake(s), then an accepted one"),
        actual: format!(
            "{refused} refused, then {}",
            if attempts.len() > refused {
                "accepted"
            } else {
                "no further attempt"
            }
        ),
        rule: case_rule.clone(),
    }];
    if let Some(min) = min {
        let gaps: Vec<u128> = attempts
            .windows(2)
            .map(|w| w[1].instant.duration_since(w[0].instant).as_millis())
            .collect();
        let shortest = gaps.iter().copied().min();
        checks.push(CheckResult {
            description: "the Agent waits between connection attempts".into(),
            passed: shortest.is_none_or(|s| s >= min.as_millis()),
            expected: format!(
                "each retry at least {} ms after the refused attempt (the minimum wait interval, R-WS.19-21)",
                min.as_millis()
            ),
            actual: format!("retries after {gaps:?} ms"),
            rule: Some("R-WS.20 (TP-469 7.8)".into()),
        });
    }
    checks
}

/// What came back after the harness's Close, in one line.
fn describe_close_exchange(x: &CloseExchange) -> String {
    let answer = match x.answer {
        Some(Some(c)) => format!("a Close frame with status code {c}"),
        Some(None) => "a Close frame without a status code".to_string(),
        None => "no Close frame".to_string(),
    };
    let end = if x.ended {
        "the connection ended"
    } else {
        "the connection still open"
    };
    format!(
        "{answer}; {end} ({} ms after the harness's Close)",
        x.waited.as_millis()
    )
}

/// TP-469 7.4: the Agent answers the harness's Close with a Close (RFC 6455
/// 5.5.1), and the TCP connection ends (7.1.1).
fn close_checks(code: u16, x: &CloseExchange, wait: Duration) -> Vec<CheckResult> {
    let rule = Some("RFC 6455 5.5.1 (TP-469 7.4)".to_string());
    vec![
        CheckResult {
            description: "the Agent answers a Close frame with a Close frame".into(),
            passed: x.answer.is_some(),
            expected: format!(
                "after the harness's Close (status {code}): a Close frame from the Agent within {} ms",
                wait.as_millis()
            ),
            actual: describe_close_exchange(x),
            rule: rule.clone(),
        },
        CheckResult {
            description: "the connection ends after the closing handshake".into(),
            passed: x.ended,
            expected: format!(
                "the TCP connection closed within {} ms of the harness's Close",
                wait.as_millis()
            ),
            actual: describe_close_exchange(x),
            rule,
        },
    ]
}

/// R-WS.12: the session answered without v1.usp was not completed.
fn unconfirmed_session_check(events: &[WsEvent]) -> CheckResult {
    let outcome = events.iter().find(|e| e.kind.starts_with("SESSION"));
    CheckResult {
        description: "the Agent does not complete a session answered without v1.usp".into(),
        passed: outcome.is_some_and(|e| e.kind == "SESSION NOT COMPLETED"),
        expected: "the Agent ends that session without sending anything on it".into(),
        actual: outcome
            .map(WsEvent::one_line)
            .unwrap_or_else(|| "no session was answered without the subprotocol".into()),
        rule: Some("R-WS.12".into()),
    }
}
