//! Running the interposer steps: `mqtt_steer` / `expect_mqtt` against the
//! MQTT interposer (`--mtp mqtt --interpose`), `stomp_steer` /
//! `expect_stomp` against the STOMP one (`--mtp stomp --interpose`).
//! Without the interposer a step is skipped with the reason, never passed.
//! Each interposer's log of the case joins the case's trace.

use std::collections::BTreeMap;
use std::time::Duration;

use super::Runner;
use crate::interpose::mqtt_log::PacketPattern;
use crate::interpose::relay::{find, Logged, Pattern, Relay};
use crate::interpose::stomp_log::FramePattern;
use crate::interpose::{mqtt_steer, stomp_steer};
use crate::results::{CheckResult, StepResult, Verdict};
use crate::suite::vars::Vars;
use crate::trace::{MsgText, TraceEntry};

pub(super) const NO_MQTT_INTERPOSER: &str = "not applicable: this step needs the MQTT interposer between the Agent and its broker, which this run does not have (the built-in Agent: --mtp mqtt --interpose; a target: `interpose: { listen: HOST:PORT }` in its mqtt section, with the Agent's MQTT client pointed there)";

pub(super) const NO_STOMP_INTERPOSER: &str = "not applicable: this step needs the STOMP interposer between the Agent and its broker, which this run does not have (the built-in Agent: --mtp stomp --interpose; a target: `interpose: { listen: HOST:PORT }` in its stomp section, with the Agent's STOMP connection pointed there)";

/// Where the current case's entries begin in one interposer's log, and
/// where the next expectation looks from (moved on by each steer step).
#[derive(Debug, Default)]
pub(super) struct LogCursor {
    case_start: usize,
    pub(super) from: usize,
    /// Where the entry the case's last expectation matched lies.
    last_match: Option<usize>,
}

impl LogCursor {
    /// A case starts: steering a previous case left unused is forgotten.
    fn case_starts<E: Logged, S: Clone + Default, K>(&mut self, relay: Option<&Relay<E, S, K>>) {
        if let Some(r) = relay {
            r.reset();
            self.case_start = r.log_len();
            self.from = self.case_start;
            self.last_match = None;
        }
    }

    /// Where the case's entries begin: the mark of `expect_mtp_tls`.
    pub(super) fn case_start(&self) -> usize {
        self.case_start
    }

    /// `trace` with the interposer's entries of the case merged in time order.
    fn merged<E: Logged, S: Clone + Default, K>(
        &self,
        relay: Option<&Relay<E, S, K>>,
        trace: Vec<TraceEntry>,
    ) -> Vec<TraceEntry> {
        match relay {
            Some(r) => {
                let entries = r.since(self.case_start);
                super::in_time_order(trace, entries.iter().map(Logged::trace_entry).collect())
            }
            None => trace,
        }
    }
}

impl Runner<'_> {
    pub(super) fn interposers_case_starts(&mut self) {
        self.mqtt_log
            .case_starts(self.context.mqtt_interposer.as_ref());
        self.stomp_log
            .case_starts(self.context.stomp_interposer.as_ref());
    }

    /// The case's trace with both interposers' entries of the case in it.
    pub(super) fn with_interposed(&self, trace: Vec<TraceEntry>) -> Vec<TraceEntry> {
        let trace = self
            .mqtt_log
            .merged(self.context.mqtt_interposer.as_ref(), trace);
        self.stomp_log
            .merged(self.context.stomp_interposer.as_ref(), trace)
    }

    pub(super) fn mqtt_steer(&mut self, steering: &mqtt_steer::Steering, result: &mut StepResult) {
        match &self.context.mqtt_interposer {
            Some(h) => {
                self.mqtt_log.from = h.steer(steering.clone());
                result.sent = Some(MsgText::from(format!(
                    "steering for the next connection: {steering:?}"
                )));
            }
            None => skip(result, NO_MQTT_INTERPOSER),
        }
    }

    pub(super) fn stomp_steer(
        &mut self,
        steering: &stomp_steer::Steering,
        vars: &Vars,
        result: &mut StepResult,
    ) {
        match &self.context.stomp_interposer {
            Some(h) => {
                // `subscribe_dest` may name a destination captured earlier
                // (the Agent's own, to bring it back in a teardown).
                let mut steering = steering.clone();
                if let Some(d) = &mut steering.subscribe_dest {
                    match vars.substitute(d) {
                        Ok(v) => *d = v,
                        Err(e) => {
                            result.error = Some(format!("stomp_steer: {e}"));
                            return;
                        }
                    }
                }
                self.stomp_log.from = h.steer(steering.clone());
                result.sent = Some(MsgText::from(format!(
                    "steering for the next connection: {steering:?}"
                )));
            }
            None => skip(result, NO_STOMP_INTERPOSER),
        }
    }

    /// `${agent_id}` before a packet expectation that may name it: a
    /// target file need not give the Agent's Endpoint ID, and these steps
    /// send nothing that would connect (and so learn it) first.
    async fn learn_agent_id(&mut self, vars: &mut Vars) {
        if vars.get("agent_id").is_some() {
            return;
        }
        if self.session.agent_id().is_none() {
            // A failure shows in the step that needs the Agent.
            let _ = self.session.ensure_connected().await;
        }
        if let Some(agent) = self.session.agent_id() {
            vars.set("agent_id", agent);
        }
    }

    pub(super) async fn expect_mqtt(
        &mut self,
        pattern: &PacketPattern,
        captures: &BTreeMap<String, String>,
        vars: &mut Vars,
        result: &mut StepResult,
    ) {
        let Some(h) = self.context.mqtt_interposer.clone() else {
            skip(result, NO_MQTT_INTERPOSER);
            return;
        };
        self.learn_agent_id(vars).await;
        let rule = self.case_rule.clone();
        let wait = self.context.interposer_wait;
        let found = expect_logged(&h, &mut self.mqtt_log, pattern, vars, rule, wait, result).await;
        // `capture: { var: field }`: a field of the packet that matched
        // (e.g. the ClientId of this CONNECT, for a later CONNECT to repeat).
        let Some(packet) = found else { return };
        for (var, field) in captures {
            match packet.summary.values(field).next() {
                Some(v) => vars.set(var.clone(), v.to_string()),
                None => result.checks.push(CheckResult {
                    description: "capture values for later steps".into(),
                    passed: false,
                    expected: format!("{field} in {}", packet.summary.packet),
                    actual: format!("{field} absent: {}", packet.summary.one_line()),
                    rule: None,
                }),
            }
        }
    }

    pub(super) async fn expect_stomp(
        &mut self,
        pattern: &FramePattern,
        vars: &mut Vars,
        result: &mut StepResult,
    ) {
        match self.context.stomp_interposer.clone() {
            Some(h) => {
                self.learn_agent_id(vars).await;
                let rule = self.case_rule.clone();
                let wait = self.context.interposer_wait;
                expect_logged(&h, &mut self.stomp_log, pattern, vars, rule, wait, result).await;
            }
            None => skip(result, NO_STOMP_INTERPOSER),
        }
    }
}

/// Waits for an entry matching `pattern` (its values with `${vars}`
/// substituted) logged from the cursor on (or, with `after_previous`, after
/// the entry the case's last expectation matched); the check names the near
/// misses. Returns the entry that matched.
async fn expect_logged<P: Pattern, S: Clone + Default, K>(
    relay: &Relay<P::Entry, S, K>,
    cursor: &mut LogCursor,
    pattern: &P,
    vars: &Vars,
    rule: Option<String>,
    default_wait: Duration,
    result: &mut StepResult,
) -> Option<P::Entry> {
    let mut wanted = pattern.clone();
    let what = wanted.what();
    for value in wanted.wanted_values() {
        match vars.substitute(value) {
            Ok(v) => *value = v,
            Err(e) => {
                result.error = Some(format!("{what}: {e}"));
                return None;
            }
        }
    }
    let wait = wanted
        .timeout_ms()
        .map_or(default_wait, Duration::from_millis);
    let whence = wanted.way().whence();
    let mut description = format!("{} {whence}", wanted.what());
    let previous = cursor.last_match.filter(|_| wanted.after_previous());
    let from = previous.map_or(cursor.from, |at| at + 1);
    if previous.is_some() {
        description.push_str(", after the one the previous step matched");
    }
    let mut matched = None;
    let outcome = relay.wait_for(from, &wanted, wait).await;
    let out_of_order = match (&outcome, previous) {
        (Err(_), Some(at)) => came_before(relay, cursor.from, at, &wanted),
        _ => None,
    };
    let (passed, actual) = match outcome {
        Ok((at, e)) => {
            result.received = Some(MsgText::from(e.one_line()));
            let line = format!("connection {}: {}", e.connection(), e.one_line());
            cursor.last_match = Some(at);
            matched = Some(e);
            (true, line)
        }
        // The order is wrong: it came, but before the previous step's.
        Err(_) if out_of_order.is_some() => (false, out_of_order.unwrap_or_default()),
        Err(misses) if misses.is_empty() => {
            // With `nth`, some may have matched, just not enough of them.
            let matching = relay
                .since(from)
                .iter()
                .filter(|e| wanted.mismatch(e).is_none())
                .count();
            let actual = if matching > 0 {
                format!(
                    "only {matching} matching {} {whence} within {} ms, expected match number {}",
                    wanted.what(),
                    wait.as_millis(),
                    wanted.nth()
                )
            } else {
                format!(
                    "no {} {whence} within {} ms",
                    wanted.what(),
                    wait.as_millis()
                )
            };
            (false, actual)
        }
        Err(misses) => (
            false,
            format!(
                "none matched within {} ms: {}",
                wait.as_millis(),
                misses.join("; ")
            ),
        ),
    };
    result.checks.push(CheckResult {
        description,
        passed,
        expected: wanted.describe(),
        actual,
        rule,
    });
    matched
}

/// With `after_previous`: a matching entry between `from` and the
/// previous step's match at `at`, told as "came before".
fn came_before<P: Pattern, S: Clone + Default, K>(
    relay: &Relay<P::Entry, S, K>,
    from: usize,
    at: usize,
    wanted: &P,
) -> Option<String> {
    let log = relay.since(0);
    let (_, early) = find(log.get(..=at)?, from, wanted)?;
    Some(format!(
        "it came before, not after: {}; then {}",
        early.one_line(),
        log[at].one_line()
    ))
}

pub(super) fn skip(result: &mut StepResult, why: &str) {
    result.verdict = Verdict::Skipped;
    result.error = Some(why.into());
}
