//! Acting as the target's other Controllers (`controllers:` in the target
//! file, `as:` on cases and steps): each has its own Session, swapped in for
//! the steps that act as it; a case needing one the run cannot be is skipped.

use std::collections::BTreeMap;

use super::{empty_result, step_name, Runner};
use crate::results::{CaseResult, Phase, StepResult, Verdict};
use crate::session::Session;
use crate::suite::model::{Case, Step, Suite};
use crate::suite::vars::Vars;

impl Runner<'_> {
    /// The other Controllers the run can act as (`as: NAME`), and those the
    /// target lists but this run cannot reach as (name → why).
    pub fn with_controllers(
        mut self,
        sessions: BTreeMap<String, Session>,
        unavailable: BTreeMap<String, String>,
    ) -> Self {
        self.controllers = sessions;
        self.unavailable_controllers = unavailable;
        self
    }

    /// Closes the other Controllers' sessions at the end of the run.
    pub async fn close_controllers(&mut self) {
        for s in self.controllers.values_mut() {
            s.close().await;
        }
        for s in self.parked_controllers.values_mut() {
            s.close().await;
        }
    }

    /// Takes back a Controller the run had given up on once the Agent has
    /// dialed it again (an Agent retries its Controllers, R-WS.19-21), so
    /// one lost connection does not skip that Controller's remaining cases.
    pub(super) fn revive_controllers(&mut self) {
        let back: Vec<String> = self
            .parked_controllers
            .iter_mut()
            .filter_map(|(name, s)| s.agent_is_waiting().then(|| name.clone()))
            .collect();
        for name in back {
            if let Some(session) = self.parked_controllers.remove(&name) {
                self.unavailable_controllers.remove(&name);
                self.controllers.insert(name, session);
            }
        }
    }

    /// A case acting as a Controller (`as:`) the run cannot act as is
    /// skipped, saying which and why: not listed, or not reachable here.
    pub(super) fn missing_sender(&self, suite: &Suite, case: &Case) -> Option<CaseResult> {
        let name = case
            .senders()
            .into_iter()
            .find(|n| !self.controllers.contains_key(*n))?;
        let mut r = empty_result(suite, case);
        r.verdict = Verdict::Skipped;
        r.message = match self.unavailable_controllers.get(name) {
            Some(why) => format!("skipped: the case acts as Controller `{name}`, which this run cannot: {why}"),
            None => format!("skipped: the case acts as Controller `{name}`, which the target does not list (add it under `controllers:` in the target file: name, endpoint_id, and the Role the Agent gives it)"),
        };
        Some(r)
    }

    /// Runs a step as the Controller it names (its session swapped in for
    /// the step), or as the target's own Controller.
    pub(super) async fn run_step_as(
        &mut self,
        phase: Phase,
        step: &Step,
        sender: Option<&str>,
        vars: &mut Vars,
    ) -> StepResult {
        let Some(name) = sender else {
            return self.run_step(phase, step, vars).await;
        };
        let Some(mut other) = self.controllers.remove(name) else {
            // Lost earlier in this case (missing_sender skips the others).
            let why = self
                .unavailable_controllers
                .get(name)
                .cloned()
                .unwrap_or_else(|| "not listed".into());
            return StepResult {
                phase,
                name: format!("{} (as {name})", step_name(step)),
                location: step.location.to_string(),
                verdict: Verdict::Error,
                sent: None,
                received: None,
                elapsed_ms: 0,
                checks: Vec::new(),
                error: Some(format!("cannot act as Controller `{name}`: {why}")),
            };
        };
        let mine = self.unreachable.take();
        std::mem::swap(&mut self.session, &mut other);
        let mut r = self.run_step(phase, step, vars).await;
        std::mem::swap(&mut self.session, &mut other);
        // Its Records join the case's trace.
        for entry in other.take_trace() {
            self.session.push_trace(entry);
        }
        match self.unreachable.take() {
            // The other Controller cannot reach the Agent: the cases that
            // need it are skipped from now on, and the target's own
            // Controller's cases go on (it is not the Agent that is gone).
            // Kept, not closed: where the Agent dials (the harness
            // listens), it may come back, and `revive_controllers` then
            // takes the session back.
            Some(why) => {
                other.forget_connection();
                self.parked_controllers.insert(name.to_string(), other);
                self.unavailable_controllers.insert(
                    name.to_string(),
                    format!("its connection to the Agent failed earlier in this run ({why}), and the Agent has not connected to it again since"),
                );
            }
            None => {
                self.controllers.insert(name.to_string(), other);
            }
        }
        self.unreachable = mine;
        r.name = format!("{} (as {name})", r.name);
        r
    }
}
