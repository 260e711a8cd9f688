//! Report writers: each format in its own module, each reading a finished
//! or partial `RunResult`. Files are replaced atomically (write, then
//! rename), so an interrupted run leaves the last complete version behind.
//! While a run goes on, each case is appended to its journal
//! (results.jsonl) at once and the whole reports are rebuilt from it by one
//! writer thread, throttled (`background`).

pub mod background;
pub mod html;
pub mod journal;
pub mod json;
pub mod junit;
pub mod matrix;
pub mod templates;

#[cfg(test)]
mod fixtures;

use std::io;
use std::path::{Path, PathBuf};

use crate::results::RunResult;
pub use templates::{TemplateError, TemplateSet};

/// How reports are written beyond their directory.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// Directory whose report.html / report.css / report.js replace the
    /// built-in ones (`--templates`).
    pub templates: Option<PathBuf>,
}

/// Writes every report format into `dir` with the built-in templates.
pub fn write_all(dir: &Path, run: &RunResult) -> io::Result<Vec<PathBuf>> {
    write_with(dir, run, &ReportOptions::default())
}

/// Writes results.json, junit.xml and report.html into `dir`.
pub fn write_with(
    dir: &Path,
    run: &RunResult,
    options: &ReportOptions,
) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let json_path = dir.join("results.json");
    write_atomically(&json_path, json::render(run)?.as_bytes())?;
    let mut written = write_derived(dir, run, options)?;
    written.push(json_path);
    Ok(written)
}

/// Writes the reports made from a `RunResult` (junit.xml, report.html),
/// which `plugfest report` regenerates from a results.json.
pub fn write_derived(
    dir: &Path,
    run: &RunResult,
    options: &ReportOptions,
) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let junit_path = dir.join("junit.xml");
    write_atomically(&junit_path, junit::render(run)?.as_bytes())?;
    let templates = TemplateSet::load(options.templates.as_deref()).map_err(io::Error::other)?;
    let html_path = dir.join("report.html");
    let page = html::render(run, &templates).map_err(io::Error::other)?;
    write_atomically(&html_path, page.as_bytes())?;
    Ok(vec![junit_path, html_path])
}

pub fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path)
}
