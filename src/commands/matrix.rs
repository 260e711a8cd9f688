//! `plugfest matrix results/*.json --out DIR`: merges results files (one per
//! Agent and MTP run) into matrix.html, matrix.md and matrix.csv.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::report::read_results;
use super::{exit, EXIT_BAD_INPUT, EXIT_PASSED};
use crate::report::{matrix, write_atomically, TemplateSet};

pub fn matrix(files: &[PathBuf], out: &Path, templates: Option<&Path>) -> ExitCode {
    let mut runs = Vec::with_capacity(files.len());
    let mut bad = false;
    for f in files {
        match read_results(f) {
            Ok(r) => runs.push((f.display().to_string(), r)),
            Err(e) => {
                eprintln!("{e}");
                bad = true;
            }
        }
    }
    // One unreadable file would make a matrix with a silently missing row.
    if bad || runs.is_empty() {
        if runs.is_empty() && !bad {
            eprintln!("no results files given");
        }
        return exit(EXIT_BAD_INPUT);
    }
    match write_all(&runs, out, templates) {
        Ok(()) => exit(EXIT_PASSED),
        Err(e) => {
            eprintln!("{e}");
            exit(EXIT_BAD_INPUT)
        }
    }
}

/// Builds the matrix of `runs` (`(source, results)`) and writes
/// matrix.html, matrix.md and matrix.csv into `out`, saying each file's
/// name; `plugfest run --targets` uses it too.
pub(crate) fn write_all(
    runs: &[(String, crate::results::RunResult)],
    out: &Path,
    templates: Option<&Path>,
) -> Result<(), String> {
    let m = matrix::build(runs);
    let html = TemplateSet::load(templates)
        .and_then(|t| matrix::to_html(&m, &t))
        .map_err(|e| e.to_string())?;
    let outputs = [
        ("matrix.html", html),
        ("matrix.md", matrix::to_markdown(&m)),
        ("matrix.csv", matrix::to_csv(&m)),
    ];
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    for (name, text) in outputs {
        let path = out.join(name);
        write_atomically(&path, text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        crate::say!("wrote {}", path.display());
    }
    Ok(())
}
