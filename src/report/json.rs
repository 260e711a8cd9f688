//! results.json: every case, every step, verdicts, timings and the decoded
//! trace, for machines and for `plugfest matrix` later.

use std::io;

use crate::results::RunResult;

pub fn render(run: &RunResult) -> io::Result<String> {
    serde_json::to_string_pretty(run).map_err(io::Error::other)
}
