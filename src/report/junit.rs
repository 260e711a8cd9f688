//! junit.xml for CI: one testsuite per profile, one testcase per case; a
//! failure's message says in one line what went wrong, its body gives what
//! was sent, what came back (decoded), what was expected and the rule.

use std::collections::BTreeMap;
use std::io;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::results::{CaseResult, Phase, RunResult, Verdict};

pub fn render(run: &RunResult) -> io::Result<String> {
    let mut report = Report::new("usp-plugfest");
    let mut suites: BTreeMap<String, TestSuite> = BTreeMap::new();
    for case in &run.cases {
        let suite_name = case.profile.clone().unwrap_or_else(|| case.suite.clone());
        suites
            .entry(suite_name.clone())
            .or_insert_with(|| TestSuite::new(suite_name))
            .add_test_case(test_case(case, &run.mtp));
    }
    if !run.input_problems.is_empty() {
        let mut input = TestSuite::new("test-case files");
        for p in &run.input_problems {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_message(format!("{}: {}", p.location, p.message));
            let mut tc = TestCase::new(format!("load {}", p.location), status);
            tc.set_classname("input");
            input.add_test_case(tc);
        }
        suites.insert(String::new(), input);
    }
    for (_, suite) in suites {
        report.add_test_suite(suite);
    }
    report.to_string().map_err(io::Error::other)
}

fn test_case(case: &CaseResult, mtp: &str) -> TestCase {
    let status = match case.verdict {
        Verdict::Passed => TestCaseStatus::success(),
        Verdict::Skipped => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(case.message.clone());
            s
        }
        // An interrupted case proved nothing either way: a JUnit error.
        Verdict::Failed | Verdict::Error | Verdict::Interrupted => {
            let kind = if case.verdict == Verdict::Failed {
                NonSuccessKind::Failure
            } else {
                NonSuccessKind::Error
            };
            let mut s = TestCaseStatus::non_success(kind);
            s.set_message(first_line(&case.message));
            s.set_description(failure_body(case));
            s
        }
    };
    let mut tc = TestCase::new(format!("{} {}", case.id, case.title), status);
    tc.set_classname(format!("{mtp}.{}", case.suite));
    tc.set_time(Duration::from_millis(case.duration_ms));
    tc.set_assertions(case.steps.iter().map(|s| s.checks.len()).sum());
    tc
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

/// Everything a CI engineer needs without opening another file.
fn failure_body(case: &CaseResult) -> String {
    let mut out = String::new();
    out.push_str(&format!("{}\n", case.message));
    out.push_str(&format!("case defined at {}\n", case.location));
    if let Some(tp) = &case.tp469 {
        out.push_str(&format!("TP-469 test {tp}\n"));
    }
    for step in case.steps.iter().filter(|s| s.verdict != Verdict::Passed) {
        out.push_str(&format!(
            "\n--- {} '{}' at {}: {}\n",
            match step.phase {
                Phase::Setup => "setup step",
                Phase::Step => "step",
                Phase::Teardown => "teardown step",
            },
            step.name,
            step.location,
            step.verdict.label()
        ));
        if let Some(e) = &step.error {
            out.push_str(&format!("problem: {e}\n"));
        }
        for c in step.checks.iter().filter(|c| !c.passed) {
            out.push_str(&format!(
                "check failed: {}\n  expected: {}\n  actual:   {}\n",
                c.description, c.expected, c.actual
            ));
            if let Some(rule) = &c.rule {
                out.push_str(&format!("  rule:     {rule}\n"));
            }
        }
        if let Some(sent) = &step.sent {
            out.push_str(&format!("sent:\n{sent}\n"));
        }
        match &step.received {
            Some(r) => out.push_str(&format!("received:\n{r}\n")),
            None => out.push_str("received: nothing\n"),
        }
    }
    out
}
