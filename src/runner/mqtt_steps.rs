//! Running `mqtt_steer` and `expect_mqtt` against the MQTT interposer
//! (`--interpose`); without one both are skipped with the reason, never
//! passed. Also merges the interposer's packets into a case's trace.

use std::time::Duration;

use super::Runner;
use crate::interpose::mqtt_log::{PacketPattern, Way};
use crate::interpose::mqtt_steer::Steering;
use crate::results::{CheckResult, StepResult, Verdict};
use crate::suite::vars::Vars;
use crate::trace::TraceEntry;

const DEFAULT_WAIT_MS: u64 = 5_000;

const NO_INTERPOSER: &str = "not applicable: this step needs the MQTT interposer between the Agent and its broker, which this run does not have (run the built-in Agent with --mtp mqtt --interpose)";

impl Runner<'_> {
    /// Called when a case starts: forget steering a previous case left
    /// unused, and remember where the case's packets begin.
    pub(super) fn mqtt_case_starts(&mut self) {
        if let Some(h) = &self.context.mqtt_interposer {
            h.reset();
            self.mqtt_case_start = h.log_len();
            self.mqtt_from = self.mqtt_case_start;
        }
    }

    /// The case's trace with the interposer's packets of the case merged in
    /// time order.
    pub(super) fn with_mqtt_packets(&self, trace: Vec<TraceEntry>) -> Vec<TraceEntry> {
        match &self.context.mqtt_interposer {
            Some(h) => {
                let packets = h.packets_since(self.mqtt_case_start);
                super::in_time_order(trace, packets.iter().map(|p| p.trace_entry()).collect())
            }
            None => trace,
        }
    }

    pub(super) fn mqtt_steer(&mut self, steering: &Steering, result: &mut StepResult) {
        let Some(h) = &self.context.mqtt_interposer else {
            skip(result);
            return;
        };
        self.mqtt_from = h.steer(steering.clone());
        result.sent = Some(format!("steering for the next connection: {steering:?}"));
    }

    pub(super) async fn expect_mqtt(
        &mut self,
        pattern: &PacketPattern,
        vars: &Vars,
        result: &mut StepResult,
    ) {
        let Some(h) = self.context.mqtt_interposer.clone() else {
            skip(result);
            return;
        };
        let mut wanted = pattern.clone();
        for value in wanted.fields.values_mut() {
            match vars.substitute(value) {
                Ok(v) => *value = v,
                Err(e) => {
                    result.error = Some(format!("expect_mqtt field: {e}"));
                    return;
                }
            }
        }
        let wait = Duration::from_millis(pattern.timeout_ms.unwrap_or(DEFAULT_WAIT_MS));
        let whence = match wanted.way() {
            Way::FromAgent => "from the Agent",
            Way::ToAgent => "to the Agent",
        };
        let check = match h.wait_for(self.mqtt_from, &wanted, wait).await {
            Ok(p) => {
                result.received = Some(p.summary.one_line());
                CheckResult {
                    description: format!("MQTT {} {whence}", wanted.packet.to_uppercase()),
                    passed: true,
                    expected: wanted.describe(),
                    actual: format!("connection {}: {}", p.connection, p.summary.one_line()),
                    rule: self.case_rule.clone(),
                }
            }
            Err(misses) => CheckResult {
                description: format!("MQTT {} {whence}", wanted.packet.to_uppercase()),
                passed: false,
                expected: wanted.describe(),
                actual: if misses.is_empty() {
                    format!(
                        "no {} {whence} within {} ms",
                        wanted.packet.to_uppercase(),
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
