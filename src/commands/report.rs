//! `plugfest report RESULTS [--out DIR]`: regenerates the reports of a run,
//! e.g. to restyle with `--templates`, to rebuild them on another machine,
//! or after a kill -9: RESULTS is a results.json, a results.jsonl (the
//! run's journal) or the directory holding them. When the journal holds
//! more cases than results.json (or results.json is missing or broken),
//! every report, results.json included, is rebuilt from the journal.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{exit, EXIT_BAD_INPUT, EXIT_PASSED};
use crate::report::journal::{self, JOURNAL};
use crate::report::{write_derived, write_with, ReportOptions};
use crate::results::RunResult;

/// Reads a results.json written by `plugfest run`, saying where it is
/// broken when it cannot be read.
pub fn read_results(path: &Path) -> Result<RunResult, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}:{}:{}: not a plugfest results.json: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

/// Where a run's results.json and journal are, from what the user named.
fn locate(given: &Path) -> (PathBuf, PathBuf) {
    if given.is_dir() {
        return (given.join("results.json"), given.join(JOURNAL));
    }
    let dir = given.parent().unwrap_or(Path::new(".")).to_path_buf();
    if given.extension().is_some_and(|e| e == "jsonl") {
        (dir.join("results.json"), given.to_path_buf())
    } else {
        (given.to_path_buf(), dir.join(JOURNAL))
    }
}

/// Which of the two a report is made from.
enum Source {
    /// results.json as it is: only junit.xml and report.html are made.
    Results(RunResult),
    /// The journal: results.json is rewritten too.
    Journal(RunResult),
}

/// Picks results.json unless the journal holds more cases (the run was
/// killed between a case and the next throttled rewrite) or results.json
/// cannot be read; says why on stderr when the journal is used.
fn choose(json: &Path, journal_path: &Path) -> Result<Source, String> {
    let from_json = read_results(json);
    if !journal_path.exists() {
        return from_json.map(Source::Results);
    }
    let replayed = match journal::read(journal_path) {
        Ok(r) => r,
        Err(e) => {
            return match from_json {
                Ok(run) => {
                    eprintln!("note: {e}; using {}", json.display());
                    Ok(Source::Results(run))
                }
                Err(json_error) => Err(format!("{json_error}\n{e}")),
            };
        }
    };
    for note in &replayed.notes {
        eprintln!("note: {note}");
    }
    match from_json {
        Ok(run) if run.cases.len() >= replayed.run.cases.len() => Ok(Source::Results(run)),
        Ok(run) => {
            eprintln!(
                "note: {} holds {} cases, {} holds {}: rebuilding every report from {}",
                json.display(),
                run.cases.len(),
                journal_path.display(),
                replayed.run.cases.len(),
                journal_path.display()
            );
            Ok(Source::Journal(replayed.run))
        }
        Err(e) => {
            eprintln!(
                "note: {e}: rebuilding every report from {} ({} cases)",
                journal_path.display(),
                replayed.run.cases.len()
            );
            Ok(Source::Journal(replayed.run))
        }
    }
}

pub fn report(results: &Path, out: Option<&Path>, templates: Option<&Path>) -> ExitCode {
    let (json, journal_path) = locate(results);
    let source = match choose(&json, &journal_path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return exit(EXIT_BAD_INPUT);
        }
    };
    // Beside the results by default, as `plugfest run` writes them.
    let dir = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| json.parent().unwrap_or(Path::new(".")).to_path_buf());
    let options = ReportOptions {
        templates: templates.map(Path::to_path_buf),
    };
    let written = match &source {
        Source::Results(run) => write_derived(&dir, run, &options),
        Source::Journal(run) => write_with(&dir, run, &options),
    };
    match written {
        Ok(paths) => {
            for p in paths {
                crate::say!("wrote {}", p.display());
            }
            exit(EXIT_PASSED)
        }
        Err(e) => {
            eprintln!("cannot write reports to {}: {e}", dir.display());
            exit(EXIT_BAD_INPUT)
        }
    }
}
