//! `plugfest profiles import FILE.xml [--out DIR]`: BBF data-model XML →
//! one profile YAML per `<profile>` (see `datamodel::import`).

use std::path::Path;
use std::process::ExitCode;

use super::{exit, EXIT_BAD_INPUT, EXIT_PASSED};
use crate::cli::ProfilesCommand;
use crate::datamodel::import;

pub fn profiles(command: ProfilesCommand) -> ExitCode {
    match command {
        ProfilesCommand::Import {
            file,
            out,
            only,
            force,
        } => match import_file(&file, &out, &only, force) {
            Ok(n) => {
                crate::say!(
                    "{}: wrote {n} profile(s) to {}",
                    file.display(),
                    out.display()
                );
                exit(EXIT_PASSED)
            }
            Err(e) => {
                eprintln!("{e}");
                exit(EXIT_BAD_INPUT)
            }
        },
    }
}

/// Writes the files and returns how many; the error is the message to show
/// (`FILE:line:col: ...` for problems in the XML).
fn import_file(file: &Path, out: &Path, only: &[String], force: bool) -> Result<usize, String> {
    let xml = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let profiles = import::import_str(&xml).map_err(|e| format!("{}:{e}", file.display()))?;
    let chosen: Vec<_> = profiles
        .iter()
        .filter(|p| only.is_empty() || only.iter().any(|o| p.name.starts_with(o.as_str())))
        .collect();
    if chosen.is_empty() {
        return Err(format!(
            "{}: no profile to write (found {}; --only {})",
            file.display(),
            profiles.len(),
            only.join(", ")
        ));
    }
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let source = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Check every target first so a refusal leaves nothing half-written.
    let targets: Vec<_> = chosen
        .iter()
        .map(|p| (out.join(import::file_name(&p.name)), p))
        .collect();
    if !force {
        if let Some((path, _)) = targets.iter().find(|(path, _)| path.exists()) {
            return Err(format!(
                "{} exists; pass --force to overwrite or choose another --out",
                path.display()
            ));
        }
    }
    for (path, p) in &targets {
        std::fs::write(path, import::to_yaml(p, &source))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(targets.len())
}
