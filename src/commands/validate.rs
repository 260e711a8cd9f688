//! `plugfest validate`: load test-case files and report every problem with
//! its position, without running anything.

use std::path::Path;
use std::process::ExitCode;

use super::{exit, EXIT_BAD_INPUT, EXIT_PASSED};
use crate::suite::loader;

pub fn validate(path: &Path) -> ExitCode {
    match loader::load_path(path) {
        Ok(suites) => {
            let cases: usize = suites.iter().map(|s| s.cases.len()).sum();
            crate::say!(
                "{}: {} suites, {cases} cases, no problems",
                path.display(),
                suites.len()
            );
            exit(EXIT_PASSED)
        }
        Err(errors) => {
            print_load_errors(&errors);
            exit(EXIT_BAD_INPUT)
        }
    }
}

pub fn print_load_errors(errors: &[loader::LoadError]) {
    for e in errors {
        eprintln!("{:?}", miette::Report::new(e.clone()));
    }
    eprintln!("{} problem(s) in test-case files", errors.len());
}
