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
