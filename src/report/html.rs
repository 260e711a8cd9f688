//! report.html: one self-contained page (inline CSS and JS, no network) with
//! a summary per profile and per MTP, then every case with its steps, checks
//! and decoded message trace, and small filters.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Serialize;

use super::templates::{render_error, TemplateError, TemplateSet};
use crate::results::{Counts, RunResult};

/// One row of a summary table.
#[derive(Debug, Serialize)]
struct SummaryRow {
    name: String,
    passed: usize,
    failed: usize,
    error: usize,
    skipped: usize,
    total: usize,
}

fn rows(groups: BTreeMap<String, Counts>) -> Vec<SummaryRow> {
    groups
        .into_iter()
        .map(|(name, c)| SummaryRow {
            name,
            passed: c.passed,
            failed: c.failed,
            error: c.error,
            skipped: c.skipped,
            total: c.total(),
        })
        .collect()
}

pub fn render(run: &RunResult, templates: &TemplateSet) -> Result<String, TemplateError> {
    let mut by_profile: BTreeMap<String, Counts> = BTreeMap::new();
    let mut by_mtp: BTreeMap<String, Counts> = BTreeMap::new();
    for case in &run.cases {
        let profile = case.profile.clone().unwrap_or_else(|| case.suite.clone());
        by_profile.entry(profile).or_default().add(case.verdict);
        by_mtp.entry(run.mtp.clone()).or_default().add(case.verdict);
    }
    // The script goes in verbatim and its CSP hash is of exactly that
    // text (CSP level 2 hash source), so the browser runs it and nothing else.
    let script = templates.source("report.js");
    let digest = ring::digest::digest(&ring::digest::SHA256, script.as_bytes());
    let script_hash = format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    );
    let env = templates.environment()?;
    let template = env
        .get_template("report.html")
        .map_err(|e| render_error("report.html", &e))?;
    template
        .render(minijinja::context! {
            run => run,
            by_profile => rows(by_profile),
            by_mtp => rows(by_mtp),
            script => script,
            script_hash => script_hash,
        })
        .map_err(|e| render_error("report.html", &e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{CaseResult, CheckResult, Phase, StepResult, Verdict};
    use crate::trace::{Direction, TraceEntry};

    const EVIL: &str = "<b onmouseover=\"x()\">'&</b>";

    fn run_with(evil: &str) -> RunResult {
        let mut trace = TraceEntry::new(Direction::Received, evil.into(), 3);
        trace.msg = Some(evil.into());
        trace.note = Some(evil.into());
        let mut run = RunResult {
            plan_timings: false,
            tool: "usp-plugfest".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            target: evil.into(),
            mtp: evil.into(),
            connection: evil.into(),
            controller_endpoint_id: "proto::c".into(),
            agent_endpoint_id: Some(evil.into()),
            tls: None,
            complete: true,
            counts: Counts::default(),
            cases: Vec::new(),
            journaled: 0,
            input_problems: Vec::new(),
        };
        run.push(CaseResult {
            id: "c-1".into(),
            title: evil.into(),
            suite: evil.into(),
            location: evil.into(),
            profile: Some(evil.into()),
            tp469: Some(evil.into()),
            requirement: Some(evil.into()),
            verdict: Verdict::Failed,
            started_at: "2026-01-01T00:00:00Z".into(),
            duration_ms: 1,
            message: evil.into(),
            steps: vec![StepResult {
                phase: Phase::Step,
                name: evil.into(),
                location: evil.into(),
                verdict: Verdict::Failed,
                sent: Some(evil.into()),
                received: Some(evil.into()),
                elapsed_ms: 1,
                checks: vec![CheckResult {
                    description: evil.into(),
                    passed: false,
                    expected: evil.into(),
                    actual: evil.into(),
                    rule: Some(evil.into()),
                }],
                error: Some(evil.into()),
            }],
            trace: vec![trace],
        });
        run
    }

    #[test]
    fn every_field_is_escaped() {
        let templates = TemplateSet::load(None).unwrap();
        let page = render(&run_with(EVIL), &templates).unwrap();
        assert!(!page.contains("<b "), "raw markup in the page");
        let escaped = page
            .matches("&lt;b onmouseover=&quot;x()&quot;&gt;")
            .count();
        // Every field of the run above, counted in the template: header
        // (target, agent id, connection, mtp), summary rows and filter
        // options, and the case's own fields.
        assert!(escaped >= 20, "only {escaped} escaped copies");
    }

    #[test]
    fn a_template_marking_values_safe_lets_markup_through() {
        // Negative twin: the same check on a page whose template opts out
        // of escaping finds the raw markup.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("report.html"),
            "{% for c in run.cases %}<h1>{{ c.title|safe }}</h1>{% endfor %}",
        )
        .unwrap();
        let templates = TemplateSet::load(Some(dir.path())).unwrap();
        let page = render(&run_with(EVIL), &templates).unwrap();
        assert!(page.contains("<b "), "{page}");
    }
}
