//! Executes test cases: each step's request goes through the Controller
//! `Session`, each answer is judged by the suite's expectations, and every
//! finished case is handed to the reports at once, so an interrupted run
//! keeps what it had.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};

use crate::datamodel::Profiles;
use crate::report;
use crate::results::{CaseResult, CheckResult, Phase, RunResult, StepResult, Verdict};
use crate::session::{Session, SessionError};
use crate::suite::expect::{self, Check};
use crate::suite::model::{Action, Case, RequestSpec, Step, Suite, Timings};
use crate::suite::request::build_request;
use crate::suite::vars::Vars;
use crate::suite::{capture, evaluate_notify};
use crate::target::FileServerTarget;
use crate::trace::MsgText;

mod applicable;
mod bad_record_steps;
mod coap_steps;
mod controllers;
pub mod dhcp_steps;
pub mod discovery_steps;
mod e2e_steps;
mod e2e_tls_step;
mod identity;
mod interposer_steps;
mod mdns_announce_step;
mod more_steps;
mod retry_steps;
mod tls_steps;
mod ws_steps;

/// What the run brings to every case besides the session: variables from
/// the target file and `--var`, the silence window, the file server's place.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub vars: Vars,
    /// The window of an `expect_no_notify` step that gives none.
    pub silence: Duration,
    /// The least a `wait_notify` step, or an `expect_no_notify` window a
    /// case sets, lasts: how late this Agent's Notifys may come (a
    /// target's `timeouts.notify_ms`; zero for the built-in Agent, which
    /// notifies at once).
    pub notify_latency: Duration,
    pub file_server: FileServerTarget,
    /// The MQTT interposer in front of the Agent (`--interpose`), if any:
    /// `mqtt_steer` / `expect_mqtt` steps need it, and its packets join
    /// each case's trace.
    pub mqtt_interposer: Option<crate::interpose::InterposerHandle>,
    /// The STOMP interposer (`--mtp stomp --interpose`), if any: for
    /// `stomp_steer` / `expect_stomp`; its frames join each case's trace.
    pub stomp_interposer: Option<crate::interpose::StompInterposerHandle>,
    /// How long an `expect_mqtt` / `expect_stomp` step without its own
    /// `timeout_ms` waits: short for the built-in Agent, which dials again
    /// at once; a target's `interpose: { wait_ms }` (a real Agent waits its
    /// retry interval after each drop an interposer causes).
    pub interposer_wait: Duration,
    /// The WebSocket test controls of the server the Agent connects to,
    /// if this run has them: `ws_control` / `expect_close` steps need
    /// them, and their events join each case's trace.
    pub ws_control: Option<crate::mtp::websocket::WsControl>,
    /// As the client of the Agent's WebSocket server: a dialer for a
    /// second session (`ws_control: { second_session: true }`).
    pub ws_second_session: Option<crate::mtp::websocket::control::SecondSession>,
    /// The harness's CoAP endpoint's test controls (`--mtp coap`, or a CoAP
    /// target): `coap_control` / `expect_coap` steps need them, and its
    /// CoAP messages join each case's trace.
    pub coap_control: Option<crate::mtp::coap::CoapControl>,
    /// `--plan-timings`: TP-469's own waits instead of the Agent's timers
    /// set short (steps marked `timings:`).
    pub plan_timings: bool,
    /// Whether the run reaches the Agent over TLS (`--tls`, or a target's
    /// `tls:` section): `expect_mtp_tls` is skipped on a run without it.
    pub mtp_tls: bool,
    /// Whether `discover` steps may browse mDNS on loopback (`--discovery`),
    /// and what they know of the Agent's advertisement.
    pub discovery: discovery_steps::DiscoveryRun,
    /// The mDNS questions heard on loopback (`--advertise-controller`), for
    /// `expect_mdns_query`.
    pub mdns_questions: Option<crate::discovery::mdns_heard::QuestionLog>,
    /// `--discovery` (or `--advertise-controller`): every mDNS question and
    /// response on loopback, for `expect_mdns_announcement`.
    pub mdns_heard: Option<crate::discovery::mdns_heard::HeardLogs>,
    /// Whether DHCP steps can run (`--dhcp IFACE`), and the server's handle.
    pub dhcp: dhcp_steps::DhcpRun,
}

impl Default for RunContext {
    fn default() -> Self {
        RunContext {
            vars: Vars::default(),
            silence: Duration::from_millis(crate::target::default_silence_ms()),
            notify_latency: Duration::ZERO,
            file_server: FileServerTarget::default(),
            mqtt_interposer: None,
            stomp_interposer: None,
            interposer_wait: Duration::from_secs(5),
            ws_control: None,
            ws_second_session: None,
            coap_control: None,
            plan_timings: false,
            mtp_tls: false,
            discovery: Default::default(),
            mdns_questions: None,
            mdns_heard: None,
            dhcp: Default::default(),
        }
    }
}

/// Which cases to run.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub case_ids: Vec<String>,
    pub profiles: Vec<String>,
}

impl Selection {
    pub fn admits(&self, case: &Case) -> bool {
        let id_ok = self.case_ids.is_empty() || self.case_ids.iter().any(|id| id == &case.id);
        let profile_ok = self.profiles.is_empty()
            || case
                .profile
                .as_ref()
                .is_some_and(|p| self.profiles.iter().any(|want| want == p));
        id_ok && profile_ok
    }
}

pub use crate::terminal::Progress;

/// After this many cases in a row could not reach the Agent, the rest are
/// reported as not run instead of each waiting out the connect timeout.
const GIVE_UP_AFTER_UNREACHABLE_CASES: u32 = 2;

pub struct Runner<'a> {
    pub session: Session,
    profiles: &'a Profiles,
    out_dir: PathBuf,
    report_options: report::ReportOptions,
    /// The run's results.jsonl, opened by `run`; each finished case is
    /// appended at once.
    journal: Option<report::journal::Journal>,
    /// How many of the run's cases the journal holds.
    journaled: usize,
    progress: Progress,
    /// Why the Agent could not be reached during the current case, if so.
    unreachable: Option<String>,
    /// Cases in a row that could not reach the Agent, and the last reason.
    unreachable_cases: u32,
    last_unreachable: String,
    context: RunContext,
    /// Started by the first `serve_file` step; serves for the rest of the run.
    file_server: Option<crate::http_server::FileServer>,
    /// The rule the current case's checks cite when they have none.
    case_rule: Option<String>,
    /// The current case's `condition`, named when a `precondition` step
    /// finds it does not hold.
    case_condition: Option<String>,
    /// Set by a step after which the case has nothing left to judge
    /// (an allowed refusal, `operate.refusal_allowed`): the rest of its
    /// steps are not run, teardown is.
    case_done: bool,
    /// Trace entries of the current case already shown (`--verbose`).
    shown_records: usize,
    /// The case being run, so that a run stopped in the middle (SIGINT,
    /// which drops `run`) can still report it as interrupted.
    in_flight: Option<(CaseResult, Instant)>,
    /// Where the current case begins in each interposer's log, and where
    /// `expect_mqtt` / `expect_stomp` look from.
    mqtt_log: interposer_steps::LogCursor,
    stomp_log: interposer_steps::LogCursor,
    /// The sessions of the target's other Controllers (`controllers:`), by
    /// `as:` name; a step acting as one runs on its session.
    controllers: std::collections::BTreeMap<String, Session>,
    /// Listed Controllers the harness cannot act as on this run, and why.
    unavailable_controllers: std::collections::BTreeMap<String, String>,
    /// Sessions of other Controllers that lost the Agent, kept in case it
    /// dials them again (see `revive_controllers`).
    parked_controllers: std::collections::BTreeMap<String, Session>,
    /// Where the current case's WebSocket events begin in the control log.
    ws_case_start: usize,
    /// Where the WebSocket control log stood before the handshakes the last
    /// `reject_handshakes` refused (`expect_ws_retries` reads from there).
    ws_retry_from: usize,
    /// Where the current case's CoAP messages begin in the control log.
    coap_case_start: usize,
    /// How many mDNS questions were heard before the current case.
    mdns_case_start: usize,
    /// Where the mDNS logs (questions, responses) stood when the case
    /// began, or its last reboot step did.
    mdns_heard_case_start: (usize, usize),
}

impl<'a> Runner<'a> {
    /// The mDNS logs' positions now (questions, responses).
    fn mdns_heard_now(&self) -> (usize, usize) {
        self.context
            .mdns_heard
            .as_ref()
            .map_or((0, 0), |h| (h.questions.len(), h.responses.len()))
    }

    pub fn new(
        session: Session,
        profiles: &'a Profiles,
        out_dir: PathBuf,
        progress: Progress,
    ) -> Self {
        Runner {
            session,
            profiles,
            out_dir,
            report_options: report::ReportOptions::default(),
            journal: None,
            journaled: 0,
            progress,
            unreachable: None,
            unreachable_cases: 0,
            last_unreachable: String::new(),
            context: RunContext::default(),
            file_server: None,
            case_rule: None,
            case_condition: None,
            case_done: false,
            shown_records: 0,
            in_flight: None,
            mqtt_log: Default::default(),
            stomp_log: Default::default(),
            ws_case_start: 0,
            ws_retry_from: 0,
            coap_case_start: 0,
            mdns_case_start: 0,
            mdns_heard_case_start: (0, 0),
            controllers: Default::default(),
            unavailable_controllers: Default::default(),
            parked_controllers: Default::default(),
        }
    }

    pub fn with_context(mut self, context: RunContext) -> Self {
        self.context = context;
        self
    }

    /// How the reports written after each case are made (`--templates`).
    pub fn set_report_options(&mut self, options: report::ReportOptions) {
        self.report_options = options;
    }

    /// Runs every selected case of `suites` in order, appending to `run`
    /// and to the journal (results.jsonl) as each case finishes; the whole
    /// reports follow, throttled, from the report writer thread.
    pub async fn run(&mut self, suites: &[Suite], selection: &Selection, run: &mut RunResult) {
        self.open_journal(run);
        for suite in suites {
            for case in suite.cases.iter().filter(|c| selection.admits(c)) {
                self.revive_controllers();
                let result = if let Some(skip) = self.missing_sender(suite, case) {
                    skip
                } else if let Some(skip) = self.missing_vars(suite, case) {
                    skip
                } else if let Some(skip) = self.inapplicable(suite, case) {
                    skip
                } else if self.unreachable_cases >= GIVE_UP_AFTER_UNREACHABLE_CASES {
                    self.not_run(suite, case)
                } else {
                    let mut started = empty_result(suite, case);
                    started.started_at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
                    self.in_flight = Some((started, Instant::now()));
                    let result = self.run_case(suite, case).await;
                    self.in_flight = None;
                    result
                };
                self.progress.case_done(&result);
                run.agent_endpoint_id = self.session.agent_id().map(str::to_string);
                run.push(result);
                self.journal_new_cases(run);
                report::background::case_done(&self.out_dir, &self.report_options);
            }
        }
    }

    /// Starts the run's journal with its header, unless it is open (a
    /// second `run` with the same results goes on appending).
    fn open_journal(&mut self, run: &RunResult) {
        if self.journal.is_some() {
            return;
        }
        match report::journal::Journal::create(&self.out_dir, run) {
            Ok(j) => {
                self.journal = Some(j);
                self.journaled = run.cases.len();
            }
            Err(e) => eprintln!(
                "cannot write {} in {}: {e} (reports are written when the run ends)",
                report::journal::JOURNAL,
                self.out_dir.display()
            ),
        }
    }

    /// Appends to the journal the cases of `run` it does not hold yet: one
    /// `write` each, on this worker (a few KiB, no open, no rename), so a
    /// SIGKILL loses at most the case in flight. Each Msg is rendered as
    /// text this once; from then on the journal holds the case's steps and
    /// trace, and `run` lets them go (`RunResult::journaled_one_more`).
    fn journal_new_cases(&mut self, run: &mut RunResult) {
        let Some(journal) = self.journal.as_mut() else {
            return;
        };
        while self.journaled < run.cases.len() {
            let case = &run.cases[self.journaled];
            if let Err(e) = journal.append_case(case, run.agent_endpoint_id.as_deref()) {
                eprintln!("cannot append to {}: {e}", journal.path().display());
                self.journal = None;
                return;
            }
            if run.journaled == self.journaled {
                run.journaled_one_more();
            }
            self.journaled += 1;
        }
    }

    /// Ends the run's reports: journals what `run` holds beyond it (the
    /// interrupted case), marks the journal's end, then has the writer
    /// thread write results.json, junit.xml and report.html from `run`
    /// once more, off the workers. `run` goes there and back, not copied.
    pub async fn finish_reports(
        &mut self,
        mut run: RunResult,
    ) -> (RunResult, std::io::Result<Vec<PathBuf>>) {
        // A journal that failed part way already holds cases `run` no
        // longer has in full: starting it afresh would lose them.
        if self.journal.is_none() && run.journaled == 0 {
            self.open_journal(&run);
            self.journaled = 0;
        }
        self.journal_new_cases(&mut run);
        if let Some(journal) = self.journal.as_mut() {
            if let Err(e) = journal.end(run.complete) {
                eprintln!("cannot append to {}: {e}", journal.path().display());
            }
        }
        report::background::finish(&self.out_dir, run, &self.report_options).await
    }

    /// Clears the progress bar, if any, before the summary is printed.
    pub fn progress_finish(&self) {
        self.progress.finish();
    }

    /// Prints (with `--verbose`) the Records traced since the last call,
    /// step by step as the case runs.
    fn show_new_records(&mut self) {
        let trace = self.session.trace();
        for entry in trace.iter().skip(self.shown_records) {
            self.progress.record(entry);
        }
        self.shown_records = trace.len();
    }

    /// The case that was running when `run` was dropped (the run was
    /// stopped), with verdict `Interrupted` and the Records exchanged so far.
    pub fn interrupted_case(&mut self, why: &str) -> Option<CaseResult> {
        let (mut r, started) = self.in_flight.take()?;
        r.verdict = Verdict::Interrupted;
        r.duration_ms = started.elapsed().as_millis() as u64;
        r.message = format!("interrupted: {why} while this case was running; it has no verdict");
        r.trace = self.session.take_trace();
        Some(r)
    }

    /// A case skipped because the Agent has been unreachable: an error
    /// that says why, without waiting for another connect timeout.
    fn not_run(&self, suite: &Suite, case: &Case) -> CaseResult {
        let mut r = empty_result(suite, case);
        r.verdict = Verdict::Error;
        r.message = format!(
            "not run: the Agent could not be reached in {} cases in a row (last: {})",
            self.unreachable_cases, self.last_unreachable
        );
        r
    }

    /// A case whose `needs_vars` the run does not define is skipped, saying
    /// which and where to set them.
    fn missing_vars(&self, suite: &Suite, case: &Case) -> Option<CaseResult> {
        if let Some((name, value)) = case
            .unless_vars
            .iter()
            .find_map(|v| Some((v, self.context.vars.get(v)?)))
        {
            let mut r = empty_result(suite, case);
            r.verdict = Verdict::Skipped;
            r.message = format!(
                "skipped: the run defines {name} ({value:?}), which declares an Agent this case does not apply to (the case's `unless_vars`; its condition: {})",
                case.condition.as_deref().unwrap_or("none stated")
            );
            return Some(r);
        }
        let missing: Vec<&str> = case
            .needs_vars
            .iter()
            .filter(|v| self.context.vars.get(v).is_none())
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            // R-E2E.6a: an Agent that answered the context with a
            // DisconnectRecord 7106 allows none; its E2E cases do not apply.
            let why = self.session.e2e_refusal()?;
            if !case.needs_vars.iter().any(|v| v == E2E_VAR) {
                return None;
            }
            let mut r = empty_result(suite, case);
            r.verdict = Verdict::Skipped;
            r.message = format!("skipped: {why}");
            return Some(r);
        }
        let mut r = empty_result(suite, case);
        r.verdict = Verdict::Skipped;
        if missing.contains(&E2E_VAR) {
            r.message = format!("skipped: the case needs an E2E session context (run with --e2e, or `e2e:` in the target file; it defines `{E2E_VAR}`)");
            return Some(r);
        }
        // A Controller's Endpoint ID comes with its `controllers:` entry
        // (with its Role on the Agent), not from a variable set by hand.
        let controllers: Vec<&str> = missing
            .iter()
            .filter_map(|v| v.strip_prefix(CONTROLLER_ID_VAR))
            .collect();
        let advice = match controllers.is_empty() {
            true => "set `vars:` in the target file or pass --var NAME=VALUE".to_string(),
            false => format!(
                "a `controllers:` entry named {} in the target file defines it: name, endpoint_id, and the Role the Agent gives that Controller",
                controllers.join(", ")
            ),
        };
        r.message = format!(
            "skipped: the case needs variable(s) {} which this run does not define ({advice})",
            missing.join(", ")
        );
        Some(r)
    }

    async fn run_case(&mut self, suite: &Suite, case: &Case) -> CaseResult {
        let started_at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
        let started = Instant::now();
        self.unreachable = None;
        self.session.clear_notifications();
        self.session.take_trace();
        for other in self.controllers.values_mut() {
            other.clear_notifications();
            other.take_trace();
        }
        self.shown_records = 0;
        self.interposers_case_starts();
        self.ws_case_starts();
        self.coap_case_starts();
        self.mdns_case_start = self.context.mdns_questions.as_ref().map_or(0, |q| q.len());
        self.mdns_heard_case_start = self.mdns_heard_now();
        self.case_rule = case.rule();
        self.case_condition = case.condition.clone();
        self.case_done = false;
        let mut vars = self.context.vars.clone();
        vars.set("controller_id", self.session.controller_id());
        if let Some(agent) = self.session.agent_id() {
            vars.set("agent_id", agent);
        }

        let mut steps = Vec::new();
        let mut failed = false;
        let plan_timings = self.context.plan_timings;
        for (phase, list) in [(Phase::Setup, &case.setup), (Phase::Step, &case.steps)] {
            for step in list.iter().filter(|s| runs_with(s, plan_timings)) {
                let r = self
                    .run_step_as(phase, step, case.sender_of(step), &mut vars)
                    .await;
                self.show_new_records();
                failed = r.verdict != Verdict::Passed;
                steps.push(r);
                if failed || self.case_done {
                    break;
                }
            }
            if failed || self.case_done {
                break;
            }
        }
        // Teardown always runs, so one failed case does not leave the Agent
        // in a state that fails the next.
        for step in case.teardown.iter().filter(|s| runs_with(s, plan_timings)) {
            let r = self
                .run_step_as(Phase::Teardown, step, case.sender_of(step), &mut vars)
                .await;
            steps.push(r);
            self.show_new_records();
        }
        // A TLS payload context (`e2e_tls`) lasts for its case only.
        self.session.e2e_leave_tls();

        let first_bad = steps.iter().find(|s| s.verdict != Verdict::Passed);
        let verdict = match first_bad {
            None => Verdict::Passed,
            Some(s) if s.verdict == Verdict::Error => Verdict::Error,
            // A step that does not apply on this run skips the whole case.
            Some(s) if s.verdict == Verdict::Skipped => Verdict::Skipped,
            Some(_) => Verdict::Failed,
        };
        let message = first_bad.map(explain).unwrap_or_default();
        match self.unreachable.take() {
            Some(why) => {
                self.unreachable_cases += 1;
                self.last_unreachable = why;
            }
            None => self.unreachable_cases = 0,
        }
        CaseResult {
            verdict,
            started_at,
            duration_ms: started.elapsed().as_millis() as u64,
            message,
            steps,
            trace: {
                let trace = self.session.take_trace();
                let trace = self.with_interposed(trace);
                let trace = self.with_ws_events(trace);
                self.with_coap_events(trace)
            },
            ..empty_result(suite, case)
        }
    }

    async fn run_step(&mut self, phase: Phase, step: &Step, vars: &mut Vars) -> StepResult {
        let started = Instant::now();
        let mut result = StepResult {
            phase,
            name: step_name(step),
            location: step.location.to_string(),
            verdict: Verdict::Passed,
            sent: None,
            received: None,
            elapsed_ms: 0,
            checks: Vec::new(),
            error: None,
        };
        match &step.action {
            // R-OPR: send_resp false means no OperateResp; silence is the pass.
            Action::Request(RequestSpec::Operate(op)) if !op.send_resp => {
                self.operate_without_response(op, vars, &mut result).await
            }
            Action::Request(spec) => {
                let req = match build_request(spec, vars) {
                    Ok(r) => r,
                    Err(e) => {
                        result.verdict = Verdict::Error;
                        result.error = Some(format!("the step's request could not be built: {e}"));
                        return result;
                    }
                };
                let coap_mark = self.coap_mark();
                match self.session.request(req).await {
                    Ok(exchange) => {
                        result.sent = Some(MsgText::of(&exchange.sent));
                        result.received = Some(MsgText::of(&exchange.response));
                        let default_expect = Default::default();
                        let expectation = step.expect.as_ref().unwrap_or(&default_expect);
                        let checks =
                            expect::evaluate(expectation, &exchange.response, vars, self.profiles);
                        result.checks = checks.into_iter().map(to_result).collect();
                        if let RequestSpec::Operate(op) = spec {
                            if let Some(c) = more_steps::allowed_refusal(op, &exchange.response) {
                                // The spec lets the Agent decline: the case
                                // ends here, passed; the step's own
                                // expectations were for an accepting Agent.
                                result.checks = vec![c];
                                self.case_done = true;
                            }
                        }
                        if let Err(e) = capture(&step.capture, &exchange.response, vars) {
                            // Only a well-formed answer that lacks the
                            // thing skips: a wrong answer still fails.
                            if step.precondition && result.checks.iter().all(|c| c.passed) {
                                // The Agent lacks what the case needs (say, a
                                // Challenge row): not its fault, not a pass.
                                result.verdict = Verdict::Skipped;
                                result.error = Some(format!(
                                    "not applicable: the case needs {}, and this Agent does not meet that condition: {e}",
                                    self.case_condition.as_deref().map_or("what its setup looks for".to_string(), |c| format!("\"{c}\""))
                                ));
                            } else {
                                result.checks.push(CheckResult {
                                    description: "capture values for later steps".into(),
                                    passed: false,
                                    expected: format!("{:?}", step.capture),
                                    actual: e.to_string(),
                                    rule: None,
                                });
                            }
                        }
                    }
                    // R-E2E.6a: an Agent may refuse session contexts; a
                    // case that needs one does not apply to it.
                    Err((sent, SessionError::E2eNotAllowed(why))) => {
                        result.sent = Some(MsgText::of(&sent));
                        result.verdict = Verdict::Skipped;
                        result.error = Some(format!("not applicable: {why}"));
                    }
                    Err((sent, e)) => {
                        result.sent = Some(MsgText::of(&sent));
                        self.note_unreachable(&e);
                        let mut error = explain_session_error(&e);
                        if let Some(note) = self.coap_lost_answer_note(coap_mark) {
                            error.push_str("; ");
                            error.push_str(&note);
                        }
                        result.error = Some(error);
                    }
                }
                // --e2e: the Agent's Records of this exchange keep the
                // session context's rules (src/session/e2e.rs).
                if let Some(check) = self.session.e2e_check() {
                    // A broken context usually also loses the answer: say why
                    // next to the timeout.
                    // (`actual` names each broken rule.)
                    if let (Some(err), false) = (result.error.as_mut(), check.passed) {
                        err.push_str(&format!("; E2E session context broken: {}", check.actual));
                    }
                    result.checks.push(check);
                }
            }
            Action::WaitNotify(wait) => {
                let timeout =
                    Duration::from_millis(wait.timeout_ms).max(self.context.notify_latency);
                let wanted = |m: &_| evaluate_notify(wait, m, vars).iter().all(|c| c.passed);
                match self.session.wait_notify(timeout, wanted).await {
                    Ok(notify) => {
                        result.received = Some(MsgText::of(&notify));
                        result.checks = evaluate_notify(wait, &notify, vars)
                            .into_iter()
                            .map(to_result)
                            .collect();
                    }
                    Err(e) => {
                        self.note_unreachable(&e);
                        result.error = Some(format!(
                            "{} (awaited: {})",
                            explain_session_error(&e),
                            describe_wait(wait, vars)
                        ));
                        // A Notify that came but did not match is the likely
                        // culprit: show it and what it lacked.
                        if let Some((notify, failed)) = self.closest_notify(wait, vars) {
                            result.received = Some(MsgText::of(notify));
                            result.checks = failed;
                        }
                    }
                }
            }
            Action::ExpectNoNotify(spec) => self.expect_no_notify(spec, vars, &mut result).await,
            Action::ServeFile(spec) => self.serve_file(step, spec, vars, &mut result).await,
            Action::Reboot(spec) => {
                // What the Agent announces after the reboot is what counts.
                self.mdns_heard_case_start = self.mdns_heard_now();
                self.reboot(step, spec, vars, &mut result).await
            }
            Action::MqttSteer(steering) => self.mqtt_steer(steering, &mut result),
            Action::ExpectMqtt(pattern) => {
                self.expect_mqtt(pattern, &step.capture, vars, &mut result)
                    .await
            }
            Action::ExpectMqttRetries(spec) => {
                self.expect_mqtt_retries(spec, vars, &mut result).await
            }
            Action::StompSteer(steering) => self.stomp_steer(steering, vars, &mut result),
            Action::ExpectStomp(pattern) => self.expect_stomp(pattern, vars, &mut result).await,
            Action::ExpectStompRetries(spec) => {
                self.expect_stomp_retries(spec, vars, &mut result).await
            }
            Action::WsControl(spec) => self.ws_control(spec, vars, &mut result).await,
            Action::ExpectClose(spec) => self.expect_close(spec, &mut result).await,
            Action::CoapControl(spec) => self.coap_control(spec, &mut result).await,
            Action::ExpectCoap(spec) => self.expect_coap(spec, &mut result),
            Action::ExpectWsRetries(spec) => self.expect_ws_retries(spec, vars, &mut result).await,
            Action::ExpectMtpTls(spec) => self.expect_mtp_tls(spec, &mut result).await,
            Action::Discover(spec) => self.discover(spec, &mut result).await,
            Action::ExpectMdnsQuery(spec) => self.expect_mdns_query(spec, &mut result).await,
            Action::ExpectMdnsAnnouncement(spec) => {
                self.expect_mdns_announcement(spec, &mut result).await
            }
            Action::DhcpOffer(spec) => self.dhcp_offer(spec, &mut result),
            Action::ExpectDhcp(spec) => self.expect_dhcp(spec, &mut result).await,
            Action::ExpectDns(spec) => self.expect_dns(spec, &mut result).await,
            Action::E2eSend(spec) => self.e2e_send(step, spec, vars, &mut result).await,
            Action::E2eTls(spec) => self.e2e_tls(spec, &mut result).await,
            Action::E2eTlsRenegotiate(_) => self.e2e_tls_renegotiate(&mut result).await,
            Action::E2eTlsAnswer(spec) => self.e2e_tls_answer(spec, &mut result),
            Action::ExpectE2eTlsRetries(spec) => {
                self.expect_e2e_tls_retries(spec, vars, &mut result).await
            }
            Action::BadRecord(spec) => self.bad_record(spec, &mut result).await,
            Action::EndpointIds(_) => match self.session.ensure_connected().await {
                Ok(()) => result.checks.extend(identity::endpoint_id_checks(
                    self.session.seen_endpoint_ids(),
                )),
                Err(e) => {
                    self.note_unreachable(&e);
                    result.error = Some(explain_session_error(&e));
                }
            },
            Action::ConnectRecord(_) => match self.session.ensure_connected().await {
                Ok(()) if !self.session.mtp_defines_connect_record() => {
                    // Not a pass: the requirement cannot be checked here.
                    result.verdict = Verdict::Skipped;
                    result.error = Some(format!(
                        "not applicable: the USP Record schema defines no Connect Record for {} (only WebSocketConnect, MQTTConnect, STOMPConnect and UDSConnect), so R-MTP.6 cannot be checked on it",
                        self.session.mtp_name().unwrap_or("this MTP")
                    ));
                    result.elapsed_ms = started.elapsed().as_millis() as u64;
                    return result;
                }
                Ok(()) => result.checks.push(connect_record_check(
                    self.session.connect_record_seen(),
                    self.session.records_before_connect_record(),
                    &self.session.describe_connector(),
                )),
                Err(e) => {
                    self.note_unreachable(&e);
                    result.error = Some(explain_session_error(&e));
                }
            },
        }
        self.trace_file_requests();
        // A step that found itself not applicable (Skipped) keeps its verdict.
        let failed = result.error.is_some() || result.checks.iter().any(|c| !c.passed);
        if failed && result.verdict == Verdict::Passed {
            result.verdict = Verdict::Failed;
        }
        result.elapsed_ms = started.elapsed().as_millis() as u64;
        result
    }
}

/// The variable a run with `--e2e` defines (its segment size); cases that
/// need an E2E session context list it in `needs_vars`.
pub const E2E_VAR: &str = "e2e_segment_size";

/// The prefix of the variable each `controllers:` entry defines: its
/// Endpoint ID, `controller_id_<name>`.
pub const CONTROLLER_ID_VAR: &str = "controller_id_";

impl Runner<'_> {
    /// The queued Notify of the awaited type that fails fewest of `wait`'s
    /// checks, with the checks it fails (None when no such Notify came).
    fn closest_notify(
        &self,
        wait: &crate::suite::model::WaitSpec,
        vars: &Vars,
    ) -> Option<(&crate::usp::proto::msg::Msg, Vec<CheckResult>)> {
        self.session
            .queued_notifications()
            .map(|m| {
                let failed: Vec<CheckResult> = evaluate_notify(wait, m, vars)
                    .into_iter()
                    .filter(|c| !c.passed)
                    .map(to_result)
                    .collect();
                (m, failed)
            })
            // The first check is the notification type: another type is no
            // near miss.
            .filter(|(m, failed)| {
                !failed.is_empty()
                    && evaluate_notify(wait, m, vars)
                        .first()
                        .is_some_and(|c| c.passed)
            })
            .min_by_key(|(_, failed)| failed.len())
    }

    fn note_unreachable(&mut self, e: &SessionError) {
        if let SessionError::NotConnected { reason } = e {
            self.unreachable = Some(reason.clone());
        }
    }
}

/// A case's identity, with nothing run yet.
pub(super) fn empty_result(suite: &Suite, case: &Case) -> CaseResult {
    CaseResult {
        id: case.id.clone(),
        title: case.title.clone(),
        suite: suite.name.clone(),
        location: case.location.to_string(),
        profile: case.profile.clone(),
        tp469: case.tp469.clone(),
        requirement: case.requirement.clone(),
        verdict: Verdict::Skipped,
        started_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        duration_ms: 0,
        message: String::new(),
        steps: Vec::new(),
        trace: Vec::new(),
    }
}

fn step_name(step: &Step) -> String {
    step.name.clone().unwrap_or_else(|| match &step.action {
        Action::Request(spec) => format!("{spec:?}")
            .split([' ', '(', '{'])
            .next()
            .unwrap_or("request")
            .to_string(),
        Action::WaitNotify(_) => "wait_notify".to_string(),
        other => other.keyword().to_string(),
    })
}

/// R-MTP.6: an Agent that opens an MTP channel sends that MTP's Connect
/// Record before anything else (TP-469 6.12, 7.10, 11.17).
fn connect_record_check(seen: bool, records_before: u32, connection: &str) -> CheckResult {
    CheckResult {
        description: "the Agent sent its Connect Record when the connection opened".into(),
        passed: seen && records_before == 0,
        expected: "a Connect Record for this MTP, before any other Record".into(),
        actual: match (seen, records_before) {
            (true, 0) => "received first".into(),
            (true, n) => format!("received after {n} other Record(s)"),
            (false, _) => format!("none arrived on {connection}"),
        },
        rule: Some("R-MTP.6".into()),
    }
}

fn to_result(c: Check) -> CheckResult {
    CheckResult {
        description: c.description,
        passed: c.passed,
        expected: c.expected,
        actual: c.actual,
        rule: c.rule,
    }
}

/// The Notify a `wait_notify` step waits for, in words.
fn describe_wait(wait: &crate::suite::model::WaitSpec, vars: &Vars) -> String {
    let mut text = format!("Notify of type {:?}", wait.kind);
    for (what, matcher) in [
        ("name", &wait.name),
        ("path", &wait.path),
        ("command_key", &wait.command_key),
    ] {
        if let Some(m) = matcher {
            text.push_str(&format!(", {what} {}", m.describe(vars)));
        }
    }
    text
}

fn explain_session_error(e: &SessionError) -> String {
    match e {
        SessionError::Timeout { .. } => format!(
            "{e} (the Agent must answer every request, R-MSG.9; a response is matched by msg_id)"
        ),
        _ => e.to_string(),
    }
}

/// One paragraph on why a step did not pass: the problem or the first failed
/// check, with what was expected, what came back and the rule.
fn explain(step: &StepResult) -> String {
    let mut msg = format!(
        "{} '{}' at {}: ",
        phase_word(step.phase),
        step.name,
        step.location
    );
    let failed = step.checks.iter().find(|c| !c.passed).map(|c| {
        let mut text = format!(
            "{}: expected {}, got {}",
            c.description, c.expected, c.actual
        );
        if let Some(rule) = &c.rule {
            text.push_str(&format!(" [{rule}]"));
        }
        (c.actual.as_str(), text)
    });
    match (&step.error, failed) {
        // The error already says it (a broken E2E context beside a lost
        // answer).
        (Some(e), Some((actual, _))) if e.contains(actual) => msg.push_str(e),
        // A wait that timed out beside a Notify that nearly matched.
        (Some(e), Some((_, check))) => {
            msg.push_str(&format!("{e}; the nearest Notify failed {check}"))
        }
        (Some(e), None) => msg.push_str(e),
        (None, Some((_, check))) => msg.push_str(&check),
        (None, None) => {}
    }
    msg
}

fn phase_word(p: Phase) -> &'static str {
    match p {
        Phase::Setup => "setup step",
        Phase::Step => "step",
        Phase::Teardown => "teardown step",
    }
}

/// `first` and `then` (Records, and an MTP's packets, frames or events)
/// as one trace in time order. RFC 3339 UTC with a fixed millisecond width
/// sorts as text; the sort is stable, so within one millisecond `first`'s
/// entries come before `then`'s.
/// A `timings: short` step (timers set short, and set back) runs only on a
/// default run, a `timings: plan` step only with `--plan-timings`.
pub(super) fn runs_with(step: &Step, plan_timings: bool) -> bool {
    match step.timings {
        None => true,
        Some(Timings::Short) => !plan_timings,
        Some(Timings::Plan) => plan_timings,
    }
}

fn in_time_order(
    mut first: Vec<crate::trace::TraceEntry>,
    mut then: Vec<crate::trace::TraceEntry>,
) -> Vec<crate::trace::TraceEntry> {
    if then.is_empty() {
        return first;
    }
    first.append(&mut then);
    first.sort_by(|a, b| a.at.cmp(&b.at));
    first
}
