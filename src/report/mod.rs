//! Report writers: each format in its own module, each reading a finished
//! or partial `RunResult`. Files are replaced atomically (write, then
//! rename), so an interrupted run leaves the last complete version behind.

pub mod json;
pub mod junit;

use std::io;
use std::path::{Path, PathBuf};

use crate::results::RunResult;

/// Writes every report format into `dir`.
pub fn write_all(dir: &Path, run: &RunResult) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let json_path = dir.join("results.json");
    write_atomically(&json_path, json::render(run)?.as_bytes())?;
    let junit_path = dir.join("junit.xml");
    write_atomically(&junit_path, junit::render(run)?.as_bytes())?;
    Ok(vec![junit_path, json_path])
}

pub fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path)
}
