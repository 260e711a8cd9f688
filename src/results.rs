//! What a run produced, as plain data: the runner fills it in, the report
//! writers read it. Serialized as-is into results.json, and read back by
//! `plugfest report`, so it carries everything a report shows.

use serde::{Deserialize, Serialize};

use crate::trace::{MsgText, TraceEntry};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Passed,
    Failed,
    /// The case could not be carried out (bad input, no connection).
    Error,
    Skipped,
    /// The run was stopped (SIGINT) while this case was running.
    Interrupted,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Passed => "PASS",
            Verdict::Failed => "FAIL",
            Verdict::Error => "ERROR",
            Verdict::Skipped => "SKIP",
            Verdict::Interrupted => "INTERRUPTED",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    pub description: String,
    pub passed: bool,
    pub expected: String,
    pub actual: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Setup,
    Step,
    Teardown,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepResult {
    pub phase: Phase,
    pub name: String,
    /// `file:line:column` of the step in its YAML file.
    pub location: String,
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent: Option<MsgText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received: Option<MsgText>,
    pub elapsed_ms: u64,
    pub checks: Vec<CheckResult>,
    /// Why the step could not be carried out or judged (timeout, bad input).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseResult {
    pub id: String,
    pub title: String,
    pub suite: String,
    pub location: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tp469: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requirement: Option<String>,
    pub verdict: Verdict,
    pub started_at: String,
    pub duration_ms: u64,
    /// One paragraph saying why the case did not pass; empty when it did.
    pub message: String,
    pub steps: Vec<StepResult>,
    pub trace: Vec<TraceEntry>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub error: usize,
    pub skipped: usize,
    pub interrupted: usize,
}

impl Counts {
    pub fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Passed => self.passed += 1,
            Verdict::Failed => self.failed += 1,
            Verdict::Error => self.error += 1,
            Verdict::Skipped => self.skipped += 1,
            Verdict::Interrupted => self.interrupted += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.passed + self.failed + self.error + self.skipped + self.interrupted
    }

    pub fn all_passed(&self) -> bool {
        self.failed == 0 && self.error == 0 && self.interrupted == 0
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    pub tool: String,
    pub started_at: String,
    /// The Agent under test, as the target describes it.
    pub target: String,
    pub mtp: String,
    pub connection: String,
    pub controller_endpoint_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_endpoint_id: Option<String>,
    /// How the MTP is secured, when TLS is used; starts with `INSECURE`
    /// when server certificates are not verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<String>,
    /// `--plan-timings`: the timing cases waited as long as TP-469 says
    /// instead of setting the Agent's timers short.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub plan_timings: bool,
    /// Set once every selected case has run; false in a file left by an
    /// interrupted run.
    pub complete: bool,
    pub counts: Counts,
    pub cases: Vec<CaseResult>,
    /// How many of the first `cases` are held in full only by the run's
    /// journal: once a case is written there its steps and trace are let
    /// go here (memory per session at plugfest scale), and the final
    /// reports read them back (`report::background`).
    #[serde(skip)]
    pub journaled: usize,
    /// Test-case files that could not be loaded, so CI sees them too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input_problems: Vec<InputProblem>,
}

/// A problem in a test-case file: where, and what is wrong.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputProblem {
    /// `file:line:column`.
    pub location: String,
    pub message: String,
}

impl RunResult {
    pub fn push(&mut self, case: CaseResult) {
        self.counts.add(case.verdict);
        self.cases.push(case);
    }

    /// Lets go of the detail of the next case after the `journaled` ones
    /// (its steps and trace), now that the journal holds it.
    pub fn journaled_one_more(&mut self) {
        if let Some(case) = self.cases.get_mut(self.journaled) {
            case.steps = Vec::new();
            case.trace = Vec::new();
            self.journaled += 1;
        }
    }

    /// Every Msg text of the run: steps' sent and received, traced Msgs.
    fn msg_texts(&mut self) -> impl Iterator<Item = &mut MsgText> {
        self.cases.iter_mut().flat_map(|c| {
            let steps = c
                .steps
                .iter_mut()
                .flat_map(|s| s.sent.iter_mut().chain(s.received.iter_mut()));
            steps.chain(c.trace.iter_mut().filter_map(|t| t.msg.as_mut()))
        })
    }

    /// Renders every Msg's text once and keeps it, for writing several
    /// reports in a row; `forget_texts` lets them go again.
    pub fn keep_texts(&mut self) {
        self.msg_texts().for_each(|t| t.keep());
    }

    pub fn forget_texts(&mut self) {
        self.msg_texts().for_each(MsgText::forget);
    }
}
