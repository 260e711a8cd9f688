//! The steps that are not one request and one answer: `expect_no_notify`
//! (silence is the pass), `serve_file` (the harness's HTTP server) and
//! `reboot` (an Operate followed through the Agent's drop and return).

use std::time::Duration;

use super::{explain_session_error, to_result, Runner};
use crate::http_server::FileServer;
use crate::results::{CheckResult, StepResult, Verdict};
use crate::session::{ConnectionEnd, SessionError};
use crate::suite::evaluate_notify;
use crate::suite::expect;
use crate::suite::model::{
    Expect, NoNotifySpec, OperateSpec, RebootSpec, RequestSpec, ResponseType, ServeFileSpec, Step,
};
use crate::suite::request::build_request;
use crate::suite::vars::Vars;
use crate::trace::{Direction, MsgText, TraceEntry};
use crate::usp::msg;
use crate::usp::proto::msg::{operate_resp::operation_result::OperationResp, response::RespType};

fn check(
    description: impl Into<String>,
    passed: bool,
    expected: impl Into<String>,
    actual: impl Into<String>,
    rule: Option<String>,
) -> CheckResult {
    CheckResult {
        description: description.into(),
        passed,
        expected: expected.into(),
        actual: actual.into(),
        rule,
    }
}

impl Runner<'_> {
    pub(super) async fn expect_no_notify(
        &mut self,
        spec: &NoNotifySpec,
        vars: &Vars,
        result: &mut StepResult,
    ) {
        // A window the case sets is time passing for the Agent to act on
        // (a TimeToLive): at least as long as its Notifys may be late.
        let window = spec
            .timeout_ms
            .map(|ms| Duration::from_millis(ms).max(self.context.notify_latency))
            .unwrap_or(self.context.silence);
        let wait = spec.as_wait(window.as_millis() as u64);
        let wanted = |m: &_| evaluate_notify(&wait, m, vars).iter().all(|c| c.passed);
        let expected = format!(
            "no {:?} Notify matching the step within {} ms",
            spec.kind,
            window.as_millis()
        );
        // A window the case chose is about time passing; only the run's
        // default window may end early at the silence barrier.
        let outcome = if spec.timeout_ms.is_some() {
            self.session.expect_silence(window, wanted).await
        } else {
            self.session.expect_silence_default(window, wanted).await
        };
        match outcome {
            Ok(None) => result.checks.push(check(
                "no matching notification",
                true,
                expected,
                "none arrived",
                self.case_rule.clone(),
            )),
            Ok(Some(m)) => {
                result.received = Some(MsgText::of(&m));
                result.checks.push(check(
                    "no matching notification",
                    false,
                    expected,
                    "a matching Notify arrived (see received)",
                    self.case_rule.clone(),
                ));
            }
            Err(e) => {
                self.note_unreachable(&e);
                result.error = Some(explain_session_error(&e));
            }
        }
    }

    /// An `operate` step with send_resp false (TP-469 1.62 / 1.65): the
    /// Operate is sent and the run's silence window must pass without an
    /// answer to it. The step's `expect` and `capture` have nothing to
    /// judge; a later step finds the effect (the Request row, a Notify).
    pub(super) async fn operate_without_response(
        &mut self,
        spec: &OperateSpec,
        vars: &Vars,
        result: &mut StepResult,
    ) {
        let req = match build_request(&RequestSpec::Operate(spec.clone()), vars) {
            Ok(r) => r,
            Err(e) => {
                result.error = Some(format!("the step's request could not be built: {e}"));
                return;
            }
        };
        let sent = match self.session.send_unawaited(req).await {
            Ok(sent) => sent,
            Err((sent, e)) => {
                result.sent = Some(MsgText::of(&sent));
                self.note_unreachable(&e);
                result.error = Some(explain_session_error(&e));
                return;
            }
        };
        result.sent = Some(MsgText::of(&sent));
        let window = self.context.silence;
        match self
            .session
            .await_no_answer(msg::msg_id(&sent), window, true)
            .await
        {
            Ok(answer) => {
                let c = no_answer_check(answer.as_ref(), window, self.case_rule.clone());
                if let Some(m) = &answer {
                    result.received = Some(MsgText::of(m));
                }
                result.checks.push(c);
            }
            Err(e) => {
                self.note_unreachable(&e);
                result.error = Some(explain_session_error(&e));
            }
        }
    }

    pub(super) async fn serve_file(
        &mut self,
        step: &Step,
        spec: &ServeFileSpec,
        vars: &mut Vars,
        result: &mut StepResult,
    ) {
        let content = match vars.substitute(&spec.content) {
            Ok(c) => c.into_bytes(),
            Err(e) => {
                result.error = Some(format!("serve_file content: {e}"));
                return;
            }
        };
        let mut content = content;
        if let Some(size) = spec.size {
            let size = size as usize;
            if size < content.len() {
                result.error = Some(format!(
                    "serve_file: size {size} is smaller than the content ({} bytes)",
                    content.len()
                ));
                return;
            }
            content.resize(size, 0);
        }
        if self.file_server.is_none() {
            let fs = &self.context.file_server;
            match FileServer::bind(&fs.bind, fs.advertise.as_deref()).await {
                Ok(server) => self.file_server = Some(server),
                Err(e) => {
                    result.error = Some(format!(
                        "cannot start the file server on {}: {e} (set file_server.bind in the target file)",
                        fs.bind
                    ));
                    return;
                }
            }
        }
        let Some(server) = &self.file_server else {
            return;
        };
        let auth = spec.username.as_deref().zip(spec.password.as_deref());
        let published = server.publish(&spec.name, content, auth);
        if let Some(ms) = spec.delay_ms {
            server.set_delay(&spec.name, Duration::from_millis(ms));
        }
        let mut sources: Vec<(&str, String)> = vec![
            ("url", published.url.clone()),
            ("name", published.name.clone()),
            ("size", published.size.to_string()),
            ("username", spec.username.clone().unwrap_or_default()),
            ("password", spec.password.clone().unwrap_or_default()),
        ];
        sources.extend(published.digests.iter().map(|(k, v)| (*k, v.clone())));
        let sha256 = sources
            .iter()
            .find(|(k, _)| *k == "sha256")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        result.sent = Some(MsgText::from(format!(
            "serving {} ({} bytes, sha256 {sha256}{}{})",
            published.url,
            published.size,
            if auth.is_some() { ", Basic auth" } else { "" },
            spec.delay_ms
                .map(|ms| format!(", answered after {ms} ms"))
                .unwrap_or_default()
        )));
        for (var, what) in &step.capture {
            // The loader admits only SERVE_FILE_CAPTURES.
            if let Some((_, v)) = sources.iter().find(|(k, _)| k == what) {
                vars.set(var.clone(), v.clone());
            }
        }
    }

    /// Logs what the file server served since the last step into the trace.
    pub(super) fn trace_file_requests(&mut self) {
        let Some(server) = &self.file_server else {
            return;
        };
        for r in server.take_log() {
            self.session.push_trace(
                TraceEntry::new(
                    Direction::Received,
                    format!("HTTP {} from {}", r.request, r.peer),
                    0,
                )
                .with_note(format!(
                    "file server answered {} ({} bytes)",
                    r.status, r.bytes
                )),
            );
        }
    }

    pub(super) async fn reboot(
        &mut self,
        step: &Step,
        spec: &RebootSpec,
        vars: &mut Vars,
        result: &mut StepResult,
    ) {
        let rule = self.case_rule.clone();
        // Only CoAP defines no Connect Record, and it is the one MTP without
        // a connection: there is no drop and return to watch, so a reboot
        // case cannot be judged on it.
        if self.session.ensure_connected().await.is_ok()
            && !self.session.mtp_defines_connect_record()
        {
            result.verdict = Verdict::Skipped;
            result.error = Some(format!(
                "not applicable: {} has no connection whose drop and return would show the reboot",
                self.session.mtp_name().unwrap_or("this MTP")
            ));
            return;
        }
        // The msg_id of an Operate sent with send_resp false.
        let mut unawaited = None;
        if spec.operate
            && !self
                .operate_reboot(spec, vars, result, &mut unawaited)
                .await
        {
            return;
        }
        let budget = Duration::from_millis(spec.timeout_ms);
        let started = std::time::Instant::now();
        let end = match self.session.await_drop(budget).await {
            Ok(end) => end,
            Err(e) => {
                result.checks.push(check(
                    "the Agent went down",
                    false,
                    "its MTP connection closes (or it reconnects through the broker)",
                    e.to_string(),
                    rule,
                ));
                return;
            }
        };
        let (dropped_after, back_after) = match end {
            ConnectionEnd::ReconnectedThroughBroker(d) => (d, Duration::ZERO),
            ConnectionEnd::Closed(d) => {
                let left = budget.saturating_sub(started.elapsed());
                match self.session.reconnect_within(left).await {
                    Ok(back) => (d, back),
                    Err(e) => {
                        self.note_unreachable(&e);
                        result.checks.push(check(
                            "the Agent came back",
                            false,
                            format!("a new connection within {} ms", budget.as_millis()),
                            e.to_string(),
                            rule,
                        ));
                        return;
                    }
                }
            }
        };
        if let Some(ms) = spec.disconnect_within_ms {
            result.checks.push(check(
                "the connection dropped in time",
                dropped_after.as_millis() as u64 <= ms,
                format!("within {ms} ms of the OperateResp"),
                format!("after {} ms", dropped_after.as_millis()),
                rule.clone(),
            ));
        }
        if let Some(ms) = spec.reconnect_within_ms {
            result.checks.push(check(
                "the Agent reconnected in time",
                back_after.as_millis() as u64 <= ms,
                format!("within {ms} ms of the drop"),
                format!("after {} ms", back_after.as_millis()),
                rule.clone(),
            ));
        }
        if self.session.mtp_defines_connect_record() {
            result.checks.push(super::connect_record_check(
                self.session.connect_record_seen(),
                self.session.records_before_connect_record(),
                &self.session.describe_connector(),
            ));
        }
        if let Some(msg_id) = unawaited {
            // Whatever came before the drop was set aside; after the return
            // a late answer gets the silence window.
            let answer = match self.session.take_answer_to(&msg_id) {
                Some(m) => Some(m),
                None => self
                    .session
                    .await_no_answer(&msg_id, self.context.silence, true)
                    .await
                    .ok()
                    .flatten(),
            };
            result.checks.push(no_answer_check(
                answer.as_ref(),
                self.context.silence,
                rule.clone(),
            ));
        }
        let facts = [
            ("disconnect_ms", dropped_after.as_millis().to_string()),
            ("reconnect_ms", back_after.as_millis().to_string()),
        ];
        result.received = Some(MsgText::from(format!(
            "connection dropped after {} ms; Agent back after {} ms",
            facts[0].1, facts[1].1
        )));
        for (var, what) in &step.capture {
            if let Some((_, v)) = facts.iter().find(|(k, _)| k == what) {
                vars.set(var.clone(), v.clone());
            }
        }
    }

    /// Sends the reboot Operate and checks its OperateResp; false when the
    /// step cannot go on (true also when the connection dropped before the
    /// answer: the failed check is recorded and the reboot still followed).
    async fn operate_reboot(
        &mut self,
        spec: &RebootSpec,
        vars: &Vars,
        result: &mut StepResult,
        unawaited: &mut Option<String>,
    ) -> bool {
        let op = RequestSpec::Operate(OperateSpec {
            command: spec.command.clone(),
            command_key: spec.command_key.clone(),
            send_resp: spec.send_resp,
            args: spec.args.clone(),
            refusal_allowed: None,
        });
        let req = match build_request(&op, vars) {
            Ok(r) => r,
            Err(e) => {
                result.error = Some(format!("the reboot Operate could not be built: {e}"));
                return false;
            }
        };
        if !spec.send_resp {
            // TP-469 1.62: nothing answers; the step's end checks that no
            // OperateResp came (`take_answer_to`).
            return match self.session.send_unawaited(req).await {
                Ok(sent) => {
                    result.sent = Some(MsgText::of(&sent));
                    *unawaited = Some(msg::msg_id(&sent).to_string());
                    true
                }
                Err((sent, e)) => {
                    result.sent = Some(MsgText::of(&sent));
                    self.note_unreachable(&e);
                    result.error = Some(explain_session_error(&e));
                    false
                }
            };
        }
        let exchange = match self.session.request(req).await {
            Ok(x) => x,
            Err((sent, SessionError::Closed { detail, .. })) => {
                // The Agent went down before answering: a failure (the
                // OperateResp must come first), but the reboot is still
                // followed so the case's later steps find it back.
                result.sent = Some(MsgText::of(&sent));
                result.checks.push(check(
                    "OperateResp before the connection dropped",
                    false,
                    "an OperateResp to the reboot Operate",
                    format!("the connection ended first: {detail}"),
                    self.case_rule.clone(),
                ));
                return true;
            }
            Err((sent, e)) => {
                result.sent = Some(MsgText::of(&sent));
                self.note_unreachable(&e);
                result.error = Some(explain_session_error(&e));
                return false;
            }
        };
        result.sent = Some(MsgText::of(&exchange.sent));
        let expectation = Expect {
            msg_type: Some(ResponseType::OperateResp),
            rule: self.case_rule.clone(),
            ..Expect::default()
        };
        let checks = expect::evaluate(&expectation, &exchange.response, vars, self.profiles);
        result.checks.extend(checks.into_iter().map(to_result));
        let failure =
            match msg::response_body(&exchange.response) {
                Some(RespType::OperateResp(r)) => r.operation_results.iter().find_map(|o| match &o
                    .operation_resp
                {
                    Some(OperationResp::CmdFailure(f)) => {
                        Some(format!("cmd_failure {} {:?}", f.err_code, f.err_msg))
                    }
                    _ => None,
                }),
                _ => None,
            };
        result.checks.push(check(
            "the reboot command was accepted",
            failure.is_none(),
            "OperateResp without cmd_failure",
            failure.clone().unwrap_or_else(|| "accepted".into()),
            self.case_rule.clone(),
        ));
        result.checks.iter().all(|c| c.passed)
    }
}

/// The check of an Operate sent with send_resp false: no answer to it.
/// R-OPR: the Agent SHOULD NOT send an OperateResp; TP-469 1.62 / 1.65 fail
/// on one. A cmd_failure answer is named as such (the spec lets an Agent
/// report an error that way), but still fails: the command should have run.
fn no_answer_check(
    answer: Option<&crate::usp::proto::msg::Msg>,
    window: Duration,
    rule: Option<String>,
) -> CheckResult {
    let expected = format!(
        "no OperateResp to an Operate with send_resp false (listened {} ms)",
        window.as_millis()
    );
    let actual = match answer {
        None => "none arrived".to_string(),
        Some(m) => {
            let failure = match msg::response_body(m) {
                Some(RespType::OperateResp(r)) => r.operation_results.iter().find_map(|o| match &o
                    .operation_resp
                {
                    Some(OperationResp::CmdFailure(f)) => {
                        Some(format!(" with cmd_failure {} {:?}", f.err_code, f.err_msg))
                    }
                    _ => None,
                }),
                _ => None,
            };
            format!(
                "{} with msg_id '{}'{}",
                msg::body_type(m).map(msg::type_name).unwrap_or("Msg"),
                msg::msg_id(m),
                failure.unwrap_or_default()
            )
        }
    };
    check(
        "no OperateResp (send_resp false)",
        answer.is_none(),
        expected,
        actual,
        rule,
    )
}

/// With `refusal_allowed`, an OperateResp whose every result is a
/// cmd_failure: the passing check that says so (None otherwise).
pub(super) fn allowed_refusal(
    spec: &OperateSpec,
    response: &crate::usp::proto::msg::Msg,
) -> Option<CheckResult> {
    let reason = spec.refusal_allowed.as_ref()?;
    let Some(RespType::OperateResp(r)) = msg::response_body(response) else {
        return None;
    };
    let failures: Vec<String> = r
        .operation_results
        .iter()
        .map(|o| match &o.operation_resp {
            Some(OperationResp::CmdFailure(f)) => Some(format!(
                "{}: cmd_failure {} {:?}",
                o.executed_command, f.err_code, f.err_msg
            )),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    if failures.is_empty() {
        return None;
    }
    Some(check(
        "the Agent refused the command, which it may",
        true,
        format!("acceptance, or a refusal: {reason}"),
        format!("{} (the case ends here)", failures.join("; ")),
        None,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usp::proto::msg::operate_resp::{operation_result, OperationResult};
    use crate::usp::proto::msg::OperateResp;

    fn answer(results: Vec<OperationResp>) -> crate::usp::proto::msg::Msg {
        msg::response(
            "1",
            RespType::OperateResp(OperateResp {
                operation_results: results
                    .into_iter()
                    .map(|r| OperationResult {
                        executed_command: "Device.DeviceInfo.FirmwareImage.1.Download()".into(),
                        operation_resp: Some(r),
                    })
                    .collect(),
            }),
        )
    }

    fn spec(reason: Option<&str>) -> OperateSpec {
        OperateSpec {
            command: "Device.DeviceInfo.FirmwareImage.1.Download()".into(),
            command_key: String::new(),
            send_resp: true,
            args: Default::default(),
            refusal_allowed: reason.map(str::to_string),
        }
    }

    #[test]
    fn only_an_allowed_refusal_ends_the_case() {
        let refused = answer(vec![OperationResp::CmdFailure(
            operation_result::CommandFailure {
                err_code: 7022,
                err_msg: "active bank".into(),
            },
        )]);
        let c = allowed_refusal(&spec(Some("9.7 metric 3")), &refused).expect("allowed");
        assert!(c.passed);
        assert!(c.actual.contains("cmd_failure 7022"), "{}", c.actual);
        assert!(c.expected.contains("9.7 metric 3"));
        assert!(allowed_refusal(&spec(None), &refused).is_none());
        let accepted = answer(vec![OperationResp::ReqObjPath(
            "Device.LocalAgent.Request.1".into(),
        )]);
        assert!(allowed_refusal(&spec(Some("x")), &accepted).is_none());
    }

    #[test]
    fn an_answer_to_send_resp_false_fails_and_names_a_cmd_failure() {
        let none = no_answer_check(None, Duration::from_millis(500), None);
        assert!(none.passed);
        let failed = answer(vec![OperationResp::CmdFailure(
            operation_result::CommandFailure {
                err_code: 7022,
                err_msg: "x".into(),
            },
        )]);
        let c = no_answer_check(Some(&failed), Duration::from_millis(500), None);
        assert!(!c.passed);
        assert!(
            c.actual.contains("OPERATE_RESP") && c.actual.contains("cmd_failure 7022"),
            "{}",
            c.actual
        );
    }
}
