//! Running the back-off steps (`expect_mqtt_retries`,
//! `expect_stomp_retries`, `expect_ws_retries`): after the harness refused
//! the Agent's connection attempts, each retry's wait is checked against
//! the window the Agent's own back-off parameters give (TP-469 11.16, 6.3,
//! 7.8). The pairing of
//! refusals and attempts is `mtp::retry_log`; the windows `mtp::backoff`.

use std::time::Duration;

use super::interposer_steps::{skip, NO_MQTT_INTERPOSER, NO_STOMP_INTERPOSER};
use super::ws_steps::NO_CONTROL;
use super::Runner;
use crate::interpose::mqtt_retries::RetrySpec;
use crate::interpose::stomp_retries::StompRetrySpec;
use crate::mtp::backoff::{Backoff, BackoffError};
use crate::mtp::retry_log::{self, Retry};
use crate::results::{CheckResult, StepResult};
use crate::session::{OriginEvent, OriginKind};
use crate::suite::e2e_origin_steps::E2eTlsRetrySpec;
use crate::suite::model::ScalarString;
use crate::suite::vars::Vars;
use crate::suite::ws_steps::WsRetrySpec;
use crate::trace::MsgText;
use crate::usp::e2e::tls::RULE_TLS;

/// What one binding's retry step watches, for its messages.
struct Watch {
    step: &'static str,
    binding: &'static str,
    /// What the Agent sends to try again (`CONNECT`, `STOMP frame`).
    attempt: &'static str,
    /// What refused it (`refusing CONNACK`).
    refusal: &'static str,
    retries: u32,
    tolerance_ms: u64,
    timeout_ms: Option<u64>,
}

/// A step value: a number or `${var}`, substituted.
fn value(vars: &Vars, v: &ScalarString) -> Result<String, String> {
    vars.substitute(&v.0).map_err(|e| e.to_string())
}

impl Runner<'_> {
    /// `expect_mqtt_retries`: the windows from ConnectRetryTime,
    /// ConnectRetryIntervalMultiplier and ConnectRetryMaxInterval.
    pub(super) async fn expect_mqtt_retries(
        &mut self,
        spec: &RetrySpec,
        vars: &Vars,
        result: &mut StepResult,
    ) {
        let Some(h) = self.context.mqtt_interposer.clone() else {
            skip(result, NO_MQTT_INTERPOSER);
            return;
        };
        let backoff = (|| {
            let max = spec
                .connect_retry_max_interval
                .as_ref()
                .map_or(Ok("30720".to_string()), |v| value(vars, v))?;
            Backoff::mqtt(
                &value(vars, &spec.connect_retry_time)?,
                &value(vars, &spec.connect_retry_interval_multiplier)?,
                &max,
            )
            .map_err(|e: BackoffError| e.to_string())
        })();
        let watch = Watch {
            step: "expect_mqtt_retries",
            binding: "MQTT",
            attempt: "CONNECT",
            refusal: "refusing CONNACK",
            retries: spec.retries,
            tolerance_ms: spec.tolerance_ms,
            timeout_ms: spec.timeout_ms,
        };
        let from = self.mqtt_log.from;
        let seen = move || retry_log::retries(&h.since(from));
        self.watch_retries(&watch, backoff, seen, result).await;
    }

    /// `expect_stomp_retries`: the windows from ServerRetryInitialInterval,
    /// ServerRetryIntervalMultiplier and ServerRetryMaxInterval.
    pub(super) async fn expect_stomp_retries(
        &mut self,
        spec: &StompRetrySpec,
        vars: &Vars,
        result: &mut StepResult,
    ) {
        let Some(h) = self.context.stomp_interposer.clone() else {
            skip(result, NO_STOMP_INTERPOSER);
            return;
        };
        let backoff = (|| {
            let max = spec
                .server_retry_max_interval
                .as_ref()
                .map_or(Ok("30720".to_string()), |v| value(vars, v))?;
            Backoff::stomp(
                &value(vars, &spec.server_retry_initial_interval)?,
                &value(vars, &spec.server_retry_interval_multiplier)?,
                &max,
            )
            .map_err(|e: BackoffError| e.to_string())
        })();
        let watch = Watch {
            step: "expect_stomp_retries",
            binding: "STOMP",
            attempt: "STOMP frame",
            refusal: "refusing ERROR frame",
            retries: spec.retries,
            tolerance_ms: spec.tolerance_ms,
            timeout_ms: spec.timeout_ms,
        };
        let from = self.stomp_log.from;
        let seen = move || retry_log::retries(&h.since(from));
        self.watch_retries(&watch, backoff, seen, result).await;
    }

    /// `expect_ws_retries`: the windows from SessionRetryMinimumWaitInterval
    /// and SessionRetryIntervalMultiplier (no cap; from the 10th retry on
    /// the window stays, R-WS.19-21), over the handshakes since the last
    /// `reject_handshakes`.
    pub(super) async fn expect_ws_retries(
        &mut self,
        spec: &WsRetrySpec,
        vars: &Vars,
        result: &mut StepResult,
    ) {
        let Some(control) = self.context.ws_control.clone() else {
            skip(result, NO_CONTROL);
            return;
        };
        let backoff = (|| {
            Backoff::websocket(
                &value(vars, &spec.session_retry_minimum_wait_interval)?,
                &value(vars, &spec.session_retry_interval_multiplier)?,
            )
            .map_err(|e: BackoffError| e.to_string())
        })();
        let watch = Watch {
            step: "expect_ws_retries",
            binding: "WebSocket",
            attempt: "handshake",
            refusal: "refused handshake",
            retries: spec.retries,
            tolerance_ms: spec.tolerance_ms,
            timeout_ms: spec.timeout_ms,
        };
        let from = self.ws_retry_from;
        let seen = move || retry_log::retries(&control.events_since(from));
        self.watch_retries(&watch, backoff, seen, result).await;
    }

    /// `expect_e2e_tls_retries`: the TLS12 contexts the Agent opens itself
    /// (armed by `e2e_tls_answer`), the windows from the E2ESession's
    /// SessionRetryMinimumWaitInterval and SessionRetryIntervalMultiplier;
    /// then the handshake after the refusals must complete (TP-469 3.5).
    pub(super) async fn expect_e2e_tls_retries(
        &mut self,
        spec: &E2eTlsRetrySpec,
        vars: &Vars,
        result: &mut StepResult,
    ) {
        let backoff = (|| {
            Backoff::e2e_session(
                &value(vars, &spec.session_retry_minimum_wait_interval)?,
                &value(vars, &spec.session_retry_interval_multiplier)?,
            )
            .map_err(|e: BackoffError| e.to_string())
        })();
        let watch = Watch {
            step: "expect_e2e_tls_retries",
            binding: "E2E TLS context",
            attempt: "new TLS12 context (ClientHello)",
            refusal: "TLS alert refusing the Agent's handshake",
            retries: spec.retries,
            tolerance_ms: spec.tolerance_ms,
            timeout_ms: spec.timeout_ms,
        };
        let Some((backoff, wait)) = announce(&watch, backoff, result) else {
            return;
        };
        let deadline = std::time::Instant::now() + wait;
        let log = match self
            .session
            .e2e_agent_tls_wait(watch.retries as usize, deadline)
            .await
        {
            Ok(log) => log,
            Err(e) => {
                result.error = Some(super::explain_session_error(&e));
                return;
            }
        };
        result.received = Some(MsgText::from(describe_origins(&log)));
        judge_retries(
            &watch,
            &backoff,
            &retry_log::retries(&log),
            wait,
            result,
            &self.case_rule,
        );
        result.checks.push(established_after_refusals(&log, wait));
    }

    /// Waits until `seen` holds `watch.retries` retries (or the time is up)
    /// and checks each against its window: one check per retry, each
    /// naming the refusal, the attempt, the wait and the window.
    async fn watch_retries(
        &mut self,
        watch: &Watch,
        backoff: Result<Backoff, String>,
        seen: impl Fn() -> Vec<Retry> + Send,
        result: &mut StepResult,
    ) {
        let Some((backoff, wait)) = announce(watch, backoff, result) else {
            return;
        };
        let deadline = tokio::time::Instant::now() + wait;
        let seen = loop {
            let seen = seen();
            if seen.len() >= watch.retries as usize || tokio::time::Instant::now() >= deadline {
                break seen;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        judge_retries(watch, &backoff, &seen, wait, result, &self.case_rule);
    }
}

/// The step's back-off and how long it waits, said in `result.sent`; None
/// (and the step's error) when the parameters are unusable.
fn announce(
    watch: &Watch,
    backoff: Result<Backoff, String>,
    result: &mut StepResult,
) -> Option<(Backoff, Duration)> {
    let backoff = match backoff {
        Ok(b) => b,
        Err(e) => {
            result.error = Some(format!("{}: {e}", watch.step));
            return None;
        }
    };
    let ends: Duration = (1..=watch.retries).map(|n| backoff.window(n).max).sum();
    let wait = watch
        .timeout_ms
        .map_or(ends + Duration::from_secs(5), Duration::from_millis);
    result.sent = Some(MsgText::from(format!(
            "watching {} retries; windows from the Agent's minimum wait {} s, multiplier {}, maximum interval {}: {}",
            watch.retries,
            backoff.min_wait.as_secs(),
            backoff.multiplier,
            backoff
                .max_interval
                .map_or("none".to_string(), |d| format!("{} s", d.as_secs())),
            (1..=watch.retries)
                .map(|n| format!("retry {n} {}", backoff.window(n)))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    Some((backoff, wait))
}

/// One check per retry: inside its window, naming the refusal, the
/// attempt, the wait and the window.
fn judge_retries(
    watch: &Watch,
    backoff: &Backoff,
    seen: &[Retry],
    wait: Duration,
    result: &mut StepResult,
    rule: &Option<String>,
) {
    let tolerance = Duration::from_millis(watch.tolerance_ms);
    for n in 1..=watch.retries {
        let window = backoff.window(n);
        let expected = format!(
            "retry {n} within {window} (± {} ms) after the {}",
            watch.tolerance_ms, watch.refusal
        );
        let (passed, actual) = match seen.get(n as usize - 1) {
            Some(r) => retry_log::judge(r, backoff, tolerance, watch.attempt, watch.refusal),
            None => (
                false,
                format!(
                    "retry {n}: no {} after refusal {n} within {} ms",
                    watch.attempt,
                    wait.as_millis()
                ),
            ),
        };
        result.checks.push(CheckResult {
            description: format!("{} retry {n} inside the back-off window", watch.binding),
            passed,
            expected,
            actual,
            rule: rule.clone(),
        });
    }
}

/// The Agent's openings, in order, for the step's report.
fn describe_origins(log: &[OriginEvent]) -> String {
    if log.is_empty() {
        return "the Agent opened no TLS12 context".into();
    }
    log.iter()
        .map(|e| {
            let what = match e.kind {
                OriginKind::Attempt => "the Agent opens context",
                OriginKind::Refused => "the harness refuses the handshake of",
                OriginKind::Established => "TLS handshake done in",
                OriginKind::Failed => "TLS handshake failed in",
            };
            format!("{} {what} {}", e.at, e.session_id)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// TP-469 3.5 step 7: once the harness stops refusing, the Agent's next
/// context is established.
fn established_after_refusals(log: &[OriginEvent], waited: Duration) -> CheckResult {
    let after = log
        .iter()
        .rposition(|e| e.kind == OriginKind::Refused)
        .map_or(log, |i| &log[i + 1..]);
    let end = after
        .iter()
        .find(|e| matches!(e.kind, OriginKind::Established | OriginKind::Failed));
    let (passed, actual) = match end {
        Some(e) if e.kind == OriginKind::Established => (
            true,
            format!(
                "the TLS handshake of context {} completed at {}",
                e.session_id, e.at
            ),
        ),
        Some(e) => (
            false,
            format!(
                "the TLS handshake of context {} failed at {}{}",
                e.session_id,
                e.at,
                e.why
                    .as_deref()
                    .map(|w| format!(": {w}"))
                    .unwrap_or_default()
            ),
        ),
        None => (
            false,
            format!(
                "no TLS12 context of the Agent's completed its handshake within {} ms",
                waited.as_millis()
            ),
        ),
    };
    CheckResult {
        description: "the Agent's TLS12 context after the refused ones is established".into(),
        passed,
        expected: "the Agent tries again and the handshake the harness no longer refuses completes (the Agent's certificate names its Endpoint ID, R-SEC.0a)".into(),
        actual,
        rule: Some(RULE_TLS.into()),
    }
}
