//! `plugfest run --targets FILE`: an interop run. The file lists several
//! targets (target files, or built-in reference Agents with faults); they
//! run concurrently, at most `--parallel` at once, each into `OUT/<name>/`
//! (results.json, junit.xml, report.html), then `OUT/matrix.{html,md,csv}`.
//!
//! ```yaml
//! targets:
//!   - name: vendor-a
//!     target: agents/vendor-a.yaml     # relative to this file
//!   - name: reference-faulty
//!     builtin: { mtp: ws, faults: [missing-parameter] }
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ValueEnum;
use futures_util::stream::{self, StreamExt};
use indicatif::MultiProgress;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::run::{execute, print_summary, Outcome};
use super::{exit, parse_faults, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_PASSED};
use crate::cli::{MtpArg, RunArgs};
use crate::terminal::Style;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetsFile {
    targets: Vec<Spanned<Entry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    /// Also the name of the entry's output directory.
    name: String,
    /// A target file (see targets/README), relative to the targets file.
    #[serde(default)]
    target: Option<PathBuf>,
    /// The built-in reference Agent, over loopback.
    #[serde(default)]
    builtin: Option<Builtin>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Builtin {
    /// ws, mqtt, stomp, uds or coap (as `--mtp`).
    #[serde(default = "websocket")]
    mtp: String,
    /// Fault names, as `--agent-fault`.
    #[serde(default)]
    faults: Vec<String>,
}

fn websocket() -> String {
    "ws".into()
}

/// One entry ready to run: its name and the arguments of its run.
struct Job {
    name: String,
    args: RunArgs,
}

/// Reads the file and turns each entry into the arguments of one run,
/// checking everything that can be checked before anything starts.
fn plan(file: &Path, base: &RunArgs) -> Result<Vec<Job>, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let parsed: TargetsFile =
        serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    if parsed.targets.is_empty() {
        return Err(format!("{}: `targets:` lists no target", file.display()));
    }
    let dir = file.parent().unwrap_or(Path::new("."));
    let mut names = BTreeSet::new();
    let mut jobs = Vec::new();
    for spanned in parsed.targets {
        let at = format!(
            "{}:{}:{}",
            file.display(),
            spanned.referenced.line(),
            spanned.referenced.column()
        );
        let entry = spanned.value;
        // The name becomes a directory under --out: one plain segment.
        let plain = !entry.name.is_empty()
            && entry.name != "."
            && entry.name != ".."
            && !entry.name.contains(['/', '\\']);
        if !plain {
            return Err(format!(
                "{at}: target name {:?} must be a plain directory name",
                entry.name
            ));
        }
        if !names.insert(entry.name.clone()) {
            return Err(format!("{at}: two targets are named {:?}", entry.name));
        }
        let mut args = base.clone();
        args.targets = None;
        args.target_label = Some(entry.name.clone());
        args.out = base.out.join(&entry.name);
        match (entry.target, entry.builtin) {
            (Some(path), None) => args.target = Some(dir.join(path)),
            (None, Some(b)) => {
                args.mtp = MtpArg::from_str(&b.mtp, true).map_err(|_| {
                    format!(
                        "{at}: {}: mtp {:?} is not one of ws, mqtt, stomp, uds, coap",
                        entry.name, b.mtp
                    )
                })?;
                parse_faults(&b.faults).map_err(|e| format!("{at}: {}: {e}", entry.name))?;
                args.agent_faults = b.faults;
            }
            _ => {
                return Err(format!(
                    "{at}: {}: give either `target: FILE` or `builtin: {{ mtp, faults }}`",
                    entry.name
                ))
            }
        }
        jobs.push(Job {
            name: entry.name,
            args,
        });
    }
    Ok(jobs)
}

pub async fn run_targets(file: &Path, base: &RunArgs) -> ExitCode {
    if base.target.is_some() || !base.agent_faults.is_empty() {
        eprintln!("with --targets, name each target and its faults in the targets file");
        return exit(EXIT_BAD_INPUT);
    }
    let jobs = match plan(file, base) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("{e}");
            return exit(EXIT_BAD_INPUT);
        }
    };
    let group = MultiProgress::new();
    // `buffered` keeps at most `parallel` runs going and hands the outcomes
    // back in the file's order, so the summaries read like the file.
    let outcomes: Vec<(Job, Outcome)> = stream::iter(jobs)
        .map(|job| {
            let group = &group;
            async move {
                let outcome = execute(&job.args, Some(group)).await;
                (job, outcome)
            }
        })
        .buffered(usize::from(base.parallel))
        .collect()
        .await;

    let style = Style::detect();
    let mut runs = Vec::new();
    let mut code = EXIT_PASSED;
    for (job, outcome) in &outcomes {
        crate::say!("== {} ==", job.name);
        match &outcome.result {
            Some(result) => {
                print_summary(result, outcome.interrupted, &job.args.out, style);
                runs.push((format!("{}/results.json", job.name), result.clone()));
            }
            None => crate::say!("not run: see the messages above"),
        }
        if let Some(why) = &outcome.why {
            eprintln!("{}: {why}", job.name);
        }
        code = worse(code, outcome.code);
    }
    if runs.is_empty() {
        return exit(EXIT_BAD_INPUT);
    }
    if let Err(e) = super::matrix::write_all(&runs, &base.out, base.templates.as_deref()) {
        eprintln!("{e}");
        return exit(EXIT_BAD_INPUT);
    }
    exit(code)
}

/// The exit code of the whole interop run: the most serious of its runs'.
fn worse(a: u8, b: u8) -> u8 {
    let rank = |c: u8| match c {
        EXIT_PASSED => 0,
        EXIT_FAILED => 1,
        EXIT_BAD_INPUT => 2,
        EXIT_INTERRUPTED => 3,
        _ => 2,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}
