//! The process's one report writer thread. Runs only say "a case of the run
//! in DIR finished" (its journal already has it); the thread rebuilds that
//! run's results.json, junit.xml and report.html from the journal, at most
//! once per `INTERVAL` per run. So no tokio worker ever renders or writes a
//! whole report (at 1,000 sessions that starved the exchanges), the cost is
//! linear in the cases instead of quadratic, and no copy of the run is kept
//! here: the journal is the copy.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::{journal, write_with, ReportOptions};

/// At most one rewrite of a run's reports per this long while it goes on.
pub const INTERVAL: Duration = Duration::from_secs(1);

enum Request {
    /// A case of the run writing to `dir` was appended to its journal.
    CaseDone { dir: PathBuf, options: ReportOptions },
    /// The run in `dir` is ending: drop it, then answer (so the final
    /// write cannot race a throttled one on the same files).
    Forget {
        dir: PathBuf,
        done: tokio::sync::oneshot::Sender<()>,
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

/// Waits until the writer thread has let go of `dir`: after this, no
/// throttled rewrite of its reports is under way or to come.
pub async fn settle(dir: &Path) {
    let Some(tx) = sender() else { return };
    let (done, wait) = tokio::sync::oneshot::channel();
    if tx
        .send(Request::Forget {
            dir: dir.to_path_buf(),
            done,
        })
        .is_ok()
    {
        let _ = wait.await;
    }
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
            match r {
                Request::CaseDone { dir, options } => {
                    let p = runs.entry(dir).or_insert(Pending {
                        options: options.clone(),
                        dirty: false,
                        last: None,
                    });
                    p.options = options;
                    p.dirty = true;
                }
                Request::Forget { dir, done } => {
                    runs.remove(&dir);
                    let _ = done.send(());
                }
            }
        }
        let now = Instant::now();
        for (dir, p) in runs.iter_mut() {
            if p.dirty && p.last.is_none_or(|l| now.duration_since(l) >= INTERVAL) {
                rewrite(dir, &p.options);
                p.dirty = false;
                p.last = Some(Instant::now());
            }
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
