//! The process's one report writer thread. Runs only say "a case of the run
//! in DIR finished" (its journal already has it); the thread rebuilds that
//! run's results.json, junit.xml and report.html from the journal, at most
//! once per `INTERVAL` per run. So no tokio worker ever renders or writes a
//! whole report (at 1,000 sessions that starved the exchanges), the cost is
//! linear in the cases instead of quadratic, and no copy of the run is kept
//! here: the journal is the copy. The last write of a run (`finish`) goes
//! through the same thread, ahead of the throttled ones: one thread, not one
//! from the blocking pool per run ending (1,000 at plugfest scale).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::{journal, write_with, ReportOptions};
use crate::results::RunResult;

/// What `finish` hands back: the run, and the files written or why not.
pub type Finished = (RunResult, std::io::Result<Vec<PathBuf>>);

/// At most one rewrite of a run's reports per this long while it goes on.
pub const INTERVAL: Duration = Duration::from_secs(1);

enum Request {
    /// A case of the run writing to `dir` was appended to its journal.
    CaseDone {
        dir: PathBuf,
        options: ReportOptions,
    },
    /// The run in `dir` ended: drop it from the throttled ones and write
    /// its reports from `run` and, for the cases it holds only in brief,
    /// from the journal (so the last write cannot race a throttled one on
    /// the same files), then hand `run` back.
    Finish {
        dir: PathBuf,
        run: Box<RunResult>,
        options: ReportOptions,
        done: tokio::sync::oneshot::Sender<Finished>,
    },
}

struct Pending {
    options: ReportOptions,
    dirty: bool,
    last: Option<Instant>,
}

fn sender() -> Option<Sender<Request>> {
    static SENDER: OnceLock<Option<Mutex<Sender<Request>>>> = OnceLock::new();
    let slot = SENDER.get_or_init(|| {
        let (tx, rx) = mpsc::channel();
        match std::thread::Builder::new()
            .name("plugfest-reports".into())
            .spawn(move || serve(rx))
        {
            Ok(_) => Some(Mutex::new(tx)),
            Err(e) => {
                eprintln!("cannot start the report writer thread ({e}): reports are written when the run ends");
                None
            }
        }
    });
    let guard = slot.as_ref()?.lock().ok()?;
    Some(guard.clone())
}

/// Says a case of the run in `dir` is in its journal; its reports follow
/// within `INTERVAL` (at once for the first case).
pub fn case_done(dir: &Path, options: &ReportOptions) {
    if let Some(tx) = sender() {
        let _ = tx.send(Request::CaseDone {
            dir: dir.to_path_buf(),
            options: options.clone(),
        });
    }
}

/// Writes the reports of the run in `dir` from `run`, once no throttled
/// rewrite of them is under way, and stops rewriting them; `run` comes
/// back, not copied. Written here (blocking) if the thread is gone.
pub async fn finish(dir: &Path, mut run: RunResult, options: &ReportOptions) -> Finished {
    let Some(tx) = sender() else {
        let written = write_final(dir, &mut run, options);
        return (run, written);
    };
    // What is left if the thread dies with the run: all but its cases.
    let cases = std::mem::take(&mut run.cases);
    let header = run.clone();
    run.cases = cases;
    let (done, wait) = tokio::sync::oneshot::channel();
    let request = Request::Finish {
        dir: dir.to_path_buf(),
        run: Box::new(run),
        options: options.clone(),
        done,
    };
    if let Err(mpsc::SendError(Request::Finish { mut run, .. })) = tx.send(request) {
        let written = write_final(dir, &mut run, options);
        return (*run, written);
    }
    match wait.await {
        Ok(finished) => finished,
        // The thread died with the run: a panic, said on stderr already.
        Err(_) => (
            header,
            Err(std::io::Error::other("the report writer thread stopped")),
        ),
    }
}

/// The run's last reports: the cases the journal holds in full
/// (`RunResult::journaled`) are read back from it, with their texts as
/// the journal has them, so no Msg is rendered twice; the rest (a run
/// without a journal) are rendered from `run`. `run` is left as it came.
fn write_final(
    dir: &Path,
    run: &mut RunResult,
    options: &ReportOptions,
) -> std::io::Result<Vec<PathBuf>> {
    let Some(in_full) = journaled_cases(dir, run) else {
        return write_rendered(dir, run, options);
    };
    let n = in_full.len();
    let light: Vec<_> = run.cases.splice(..n, in_full).collect();
    let written = write_rendered(dir, run, options);
    run.cases.splice(..n, light);
    written
}

/// The first `run.journaled` cases as the journal holds them. None, said
/// on stderr, when it cannot give them back (the reports then show those
/// cases without their steps and traces, which stay in the journal).
fn journaled_cases(dir: &Path, run: &RunResult) -> Option<Vec<crate::results::CaseResult>> {
    if run.journaled == 0 {
        return None;
    }
    let path = dir.join(journal::JOURNAL);
    let mut cases = match journal::read(&path) {
        Ok(replayed) => replayed.run.cases,
        Err(e) => {
            eprintln!("cannot read the cases back for the reports: {e}");
            return None;
        }
    };
    cases.truncate(run.journaled);
    let same =
        cases.len() == run.journaled && cases.iter().zip(&run.cases).all(|(a, b)| a.id == b.id);
    if !same {
        eprintln!(
            "{} does not hold the run's first {} cases: the reports show them without steps and traces",
            path.display(),
            run.journaled
        );
        return None;
    }
    Some(cases)
}

/// The three reports from `run`, each Msg rendered once for all three
/// (a traced Msg is kept as its encoding only: memory per session at
/// plugfest scale) and let go afterwards.
fn write_rendered(
    dir: &Path,
    run: &mut RunResult,
    options: &ReportOptions,
) -> std::io::Result<Vec<PathBuf>> {
    run.keep_texts();
    let written = write_with(dir, run, options);
    run.forget_texts();
    written
}

fn serve(rx: Receiver<Request>) {
    let mut runs: HashMap<PathBuf, Pending> = HashMap::new();
    loop {
        // Sleep until the next run is due, or a request comes.
        let now = Instant::now();
        let next_due = runs
            .values()
            .filter(|p| p.dirty)
            .map(|p| p.last.map_or(now, |l| l + INTERVAL))
            .min();
        let request = match next_due {
            Some(due) => match rx.recv_timeout(due.saturating_duration_since(now)) {
                Ok(r) => Some(r),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            },
            None => match rx.recv() {
                Ok(r) => Some(r),
                Err(_) => return,
            },
        };
        for r in request.into_iter().chain(rx.try_iter()) {
            handle(&mut runs, r);
        }
        let now = Instant::now();
        let due: Vec<PathBuf> = runs
            .iter()
            .filter(|(_, p)| p.dirty && p.last.is_none_or(|l| now.duration_since(l) >= INTERVAL))
            .map(|(dir, _)| dir.clone())
            .collect();
        for dir in due {
            // A run that ended meanwhile is written first (and dropped).
            for r in rx.try_iter() {
                handle(&mut runs, r);
            }
            let Some(p) = runs.get_mut(&dir) else {
                continue;
            };
            rewrite(&dir, &p.options);
            p.dirty = false;
            p.last = Some(Instant::now());
        }
    }
}

fn handle(runs: &mut HashMap<PathBuf, Pending>, request: Request) {
    match request {
        Request::CaseDone { dir, options } => {
            let p = runs.entry(dir).or_insert(Pending {
                options: options.clone(),
                dirty: false,
                last: None,
            });
            p.options = options;
            p.dirty = true;
        }
        Request::Finish {
            dir,
            mut run,
            options,
            done,
        } => {
            runs.remove(&dir);
            let written = write_final(&dir, &mut run, &options);
            let _ = done.send((*run, written));
        }
    }
}

/// Rebuilds the reports of the run in `dir` from its journal.
fn rewrite(dir: &Path, options: &ReportOptions) {
    let replayed = match journal::read(&dir.join(journal::JOURNAL)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot rebuild the reports in {}: {e}", dir.display());
            return;
        }
    };
    if let Err(e) = write_with(dir, &replayed.run, options) {
        eprintln!("cannot write reports to {}: {e}", dir.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{case, run};
    use crate::results::Verdict;
    use crate::trace::{Direction, TraceEntry};
    use crate::usp::msg;
    use crate::usp::proto::msg::{request::ReqType, Get};

    /// A run of two cases, both in its journal, each with one traced Get.
    fn journaled_run(dir: &Path) -> RunResult {
        let mut r = run();
        let mut j = journal::Journal::create(dir, &r).unwrap();
        for id in ["a", "b"] {
            let mut c = case(id, Verdict::Passed);
            let get = msg::request(
                format!("get-{id}"),
                ReqType::Get(Get {
                    param_paths: vec![format!("Device.{id}.")],
                    max_depth: 0,
                }),
            );
            c.trace
                .push(TraceEntry::new(Direction::Sent, "Record".into(), 1).with_msg(&get));
            j.append_case(&c, None).unwrap();
            r.push(c);
            r.journaled_one_more();
        }
        r
    }

    fn traced_texts(dir: &Path) -> Vec<String> {
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("results.json")).unwrap()).unwrap();
        json["cases"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["trace"].as_array().unwrap().clone())
            .map(|t| t["msg"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Cases the run holds only in brief come back in full from the
    /// journal for the last reports, and the run stays brief.
    #[test]
    fn the_last_reports_read_journaled_cases_back_in_full() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = journaled_run(dir.path());
        assert!(r.cases.iter().all(|c| c.trace.is_empty()));
        write_final(dir.path(), &mut r, &ReportOptions::default()).unwrap();
        let texts = traced_texts(dir.path());
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert!(texts[0].contains("get-a") && texts[0].contains("Device.a."));
        assert!(texts[1].contains("get-b") && texts[1].contains("Device.b."));
        assert!(r.cases.iter().all(|c| c.trace.is_empty()));
        assert_eq!(r.journaled, 2);
    }

    /// The negative twin: a journal that no longer holds those cases (here
    /// another run's) is not spliced in; the reports show the cases in
    /// brief, and still get written.
    #[test]
    fn a_journal_holding_other_cases_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = journaled_run(dir.path());
        r.cases[1].id = "c".into();
        write_final(dir.path(), &mut r, &ReportOptions::default()).unwrap();
        assert!(traced_texts(dir.path()).is_empty());
        let json = std::fs::read_to_string(dir.path().join("results.json")).unwrap();
        assert!(json.contains("\"id\": \"c\"") || json.contains("\"id\":\"c\""));
    }
}
