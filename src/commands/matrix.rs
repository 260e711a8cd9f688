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
    let m = matrix::build(&runs);
    let html = TemplateSet::load(templates).and_then(|t| matrix::to_html(&m, &t));
    let html = match html {
        Ok(h) => h,
        Err(e) => {
            eprintln!("{e}");
            return exit(EXIT_BAD_INPUT);
        }
    };
    let outputs = [
        ("matrix.html", html),
        ("matrix.md", matrix::to_markdown(&m)),
        ("matrix.csv", matrix::to_csv(&m)),
    ];
    if let Err(e) = std::fs::create_dir_all(out) {
        eprintln!("{}: {e}", out.display());
        return exit(EXIT_BAD_INPUT);
    }
    for (name, text) in outputs {
        let path = out.join(name);
        if let Err(e) = write_atomically(&path, text.as_bytes()) {
            eprintln!("cannot write {}: {e}", path.display());
            return exit(EXIT_BAD_INPUT);
        }
        crate::say!("wrote {}", path.display());
    }
    exit(EXIT_PASSED)
}
