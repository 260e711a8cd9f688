//! `plugfest report RESULTS.json [--out DIR]`: regenerates junit.xml and
//! report.html from a results.json, e.g. to restyle with `--templates` or
//! to rebuild the reports of a run on another machine.

use std::path::Path;
use std::process::ExitCode;

use super::{exit, EXIT_BAD_INPUT, EXIT_PASSED};
use crate::report::{write_derived, ReportOptions};
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

pub fn report(results: &Path, out: Option<&Path>, templates: Option<&Path>) -> ExitCode {
    let run = match read_results(results) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return exit(EXIT_BAD_INPUT);
        }
    };
    // Beside the results by default, as `plugfest run` writes them.
    let dir = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| results.parent().unwrap_or(Path::new(".")).to_path_buf());
    let options = ReportOptions {
        templates: templates.map(Path::to_path_buf),
    };
    match write_derived(&dir, &run, &options) {
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
