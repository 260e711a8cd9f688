//! Running `stomp_steer` and `expect_stomp` against the STOMP interposer
//! (`--mtp stomp --interpose`); without one both are skipped with the
//! reason, never passed. Also merges the interposer's frames into a case's
//! trace.

use std::time::Duration;

use super::Runner;
use crate::interpose::mqtt_log::Way;
use crate::interpose::stomp_log::FramePattern;
use crate::interpose::stomp_steer::Steering;
use crate::results::{CheckResult, StepResult, Verdict};
use crate::suite::vars::Vars;
use crate::trace::TraceEntry;

const DEFAULT_WAIT_MS: u64 = 5_000;

const NO_INTERPOSER: &str = "not applicable: this step needs the STOMP interposer between the Agent and its broker, which this run does not have (run the built-in Agent with --mtp stomp --interpose)";

impl Runner<'_> {
    /// Called when a case starts: forget steering a previous case left
    /// unused, and remember where the case's frames begin.
    pub(super) fn stomp_case_starts(&mut self) {
        if let Some(h) = &self.context.stomp_interposer {
            h.reset();
            self.stomp_case_start = h.log_len();
            self.stomp_from = self.stomp_case_start;
        }
    }

    /// The case's trace with the interposer's frames of the case merged in
    /// time order.
    pub(super) fn with_stomp_frames(&self, trace: Vec<TraceEntry>) -> Vec<TraceEntry> {
        match &self.context.stomp_interposer {
            Some(h) => {
                let frames = h.frames_since(self.stomp_case_start);
                super::in_time_order(trace, frames.iter().map(|f| f.trace_entry()).collect())
            }
            None => trace,
        }
    }

    pub(super) fn stomp_steer(&mut self, steering: &Steering, result: &mut StepResult) {
        let Some(h) = &self.context.stomp_interposer else {
            skip(result);
            return;
        };
        self.stomp_from = h.steer(steering.clone());
        result.sent = Some(format!("steering for the next connection: {steering:?}"));
    }

    pub(super) async fn expect_stomp(
        &mut self,
        pattern: &FramePattern,
        vars: &Vars,
        result: &mut StepResult,
    ) {
        let Some(h) = self.context.stomp_interposer.clone() else {
            skip(result);
            return;
        };
        let mut wanted = pattern.clone();
        for value in wanted.headers.values_mut() {
            match vars.substitute(value) {
                Ok(v) => *value = v,
                Err(e) => {
                    result.error = Some(format!("expect_stomp header: {e}"));
                    return;
                }
            }
        }
        let wait = Duration::from_millis(pattern.timeout_ms.unwrap_or(DEFAULT_WAIT_MS));
        let whence = match wanted.way() {
            Way::FromAgent => "from the Agent",
            Way::ToAgent => "to the Agent",
        };
        let description = format!("STOMP {} frame {whence}", wanted.command.to_uppercase());
        let check = match h.wait_for(self.stomp_from, &wanted, wait).await {
            Ok(f) => {
                result.received = Some(f.one_line());
                CheckResult {
                    description,
                    passed: true,
                    expected: wanted.describe(),
                    actual: format!("connection {}: {}", f.connection, f.one_line()),
                    rule: self.case_rule.clone(),
                }
            }
            Err(misses) => CheckResult {
                description,
                passed: false,
                expected: wanted.describe(),
                actual: if misses.is_empty() {
                    format!(
                        "no {} {whence} within {} ms",
                        wanted.command.to_uppercase(),
                        wait.as_millis()
                    )
                } else {
                    format!(
                        "none matched within {} ms: {}",
                        wait.as_millis(),
                        misses.join("; ")
                    )
                },
                rule: self.case_rule.clone(),
            },
        };
        result.checks.push(check);
    }
}

fn skip(result: &mut StepResult) {
    result.verdict = Verdict::Skipped;
    result.error = Some(NO_INTERPOSER.into());
}
