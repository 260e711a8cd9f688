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
use crate::suite::model::ScalarString;
use crate::suite::vars::Vars;
use crate::suite::ws_steps::WsRetrySpec;
use crate::trace::MsgText;

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
        let backoff = match backoff {
            Ok(b) => b,
            Err(e) => {
                result.error = Some(format!("{}: {e}", watch.step));
                return;
            }
        };
        let tolerance = Duration::from_millis(watch.tolerance_ms);
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
        let deadline = tokio::time::Instant::now() + wait;
        let seen = loop {
            let seen = seen();
            if seen.len() >= watch.retries as usize || tokio::time::Instant::now() >= deadline {
                break seen;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        for n in 1..=watch.retries {
            let window = backoff.window(n);
            let expected = format!(
                "retry {n} within {window} (± {} ms) after the {}",
                watch.tolerance_ms, watch.refusal
            );
            let (passed, actual) = match seen.get(n as usize - 1) {
                Some(r) => retry_log::judge(r, &backoff, tolerance, watch.attempt, watch.refusal),
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
                rule: self.case_rule.clone(),
            });
        }
    }
}
