//! results.jsonl: the run's append-only journal. One JSON object per line:
//! first the run's header (`{"run": …}`, a RunResult without cases), then
//! one `{"case": …}` per case as soon as it finishes, and `{"end": …}` when
//! the run stops. Each line goes out in one write, so a SIGKILL loses at
//! most the case in flight (and may cut the last line short: `read` sets
//! such a line aside with a note). The whole reports (results.json,
//! junit.xml, report.html) are rebuilt from it: throttled while the run
//! goes on (`report::background`) and by `plugfest report` after a kill.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::results::{CaseResult, RunResult};

/// The journal's file name in a run's output directory.
pub const JOURNAL: &str = "results.jsonl";

/// One line of the journal.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Line {
    /// The run as it started (no cases yet).
    Run(Box<RunResult>),
    /// A finished case, and the Agent's Endpoint ID as known by then.
    Case {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent_endpoint_id: Option<String>,
        case: Box<CaseResult>,
    },
    /// The run stopped: every selected case ran (`complete`), or not.
    End { complete: bool },
}

/// The open journal of one run.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
}

impl Journal {
    /// Starts `dir`/results.jsonl afresh with `run`'s header (its cases
    /// are left out: they follow one per line).
    pub fn create(dir: &Path, run: &RunResult) -> io::Result<Journal> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(JOURNAL);
        let file = File::create(&path)?;
        let header = RunResult {
            cases: Vec::new(),
            counts: Default::default(),
            ..run.clone()
        };
        let mut journal = Journal { file, path };
        journal.append(&Line::Run(Box::new(header)))?;
        Ok(journal)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one finished case.
    pub fn append_case(
        &mut self,
        case: &CaseResult,
        agent_endpoint_id: Option<&str>,
    ) -> io::Result<()> {
        // Serialized by reference: no copy of the case (its trace can be long).
        #[derive(Serialize)]
        struct CaseLine<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            agent_endpoint_id: Option<&'a str>,
            case: &'a CaseResult,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "lowercase")]
        enum Ref<'a> {
            Case(CaseLine<'a>),
        }
        self.write_line(&Ref::Case(CaseLine {
            agent_endpoint_id,
            case,
        }))
    }

    /// Says the run stopped, and whether every selected case ran.
    pub fn end(&mut self, complete: bool) -> io::Result<()> {
        self.append(&Line::End { complete })
    }

    fn append(&mut self, line: &Line) -> io::Result<()> {
        self.write_line(line)
    }

    /// One `write` per line (the newline included) straight to the file:
    /// nothing waits in a user-space buffer for a SIGKILL to lose.
    fn write_line<T: Serialize>(&mut self, line: &T) -> io::Result<()> {
        let mut bytes = serde_json::to_vec(line).map_err(io::Error::other)?;
        bytes.push(b'\n');
        self.file.write_all(&bytes)
    }
}

/// A run read back from its journal.
#[derive(Debug)]
pub struct Replayed {
    pub run: RunResult,
    /// Whether the journal has its `end` line (the run was not killed).
    pub ended: bool,
    /// Lines set aside (a last line cut short by a kill), for people.
    pub notes: Vec<String>,
}

/// Why a journal cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("{path}: empty: the run was stopped before it wrote its header line")]
    Empty { path: String },
    #[error("{path}:{line}:{column}: not a plugfest results.jsonl line: {message}")]
    BadLine {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}:1: the first line is not the run's header (`{{\"run\": …}}`)")]
    NoHeader { path: String },
}

/// Reads `path` back into a RunResult. A last line that does not parse
/// (no newline after it, or JSON cut short: the process was killed while
/// writing it) is set aside with a note; a bad line anywhere else is an
/// error naming it.
pub fn read(path: &Path) -> Result<Replayed, JournalError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| JournalError::Io {
        path: shown.clone(),
        source,
    })?;
    replay(&shown, &text)
}

/// `read` on text already in memory; `shown` names it in messages.
pub fn replay(shown: &str, text: &str) -> Result<Replayed, JournalError> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut run: Option<RunResult> = None;
    let mut ended = false;
    let mut notes = Vec::new();
    for (i, raw) in lines.iter().enumerate() {
        let number = i + 1;
        let is_last = number == lines.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Result<Line, _> = serde_json::from_str(line);
        let parsed = match parsed {
            Ok(l) if raw.ends_with('\n') || !is_last => l,
            // Whole JSON but no newline: the write was cut just before it.
            Ok(l) => {
                notes.push(format!(
                    "{shown}:{number}: the last line has no newline (the run was killed while writing it); kept, as it is whole JSON"
                ));
                l
            }
            Err(e) if is_last => {
                notes.push(format!(
                    "{shown}:{number}: the last line is cut short ({} bytes; {e}): the run was killed while writing it, so that case is not in the reports",
                    line.len()
                ));
                break;
            }
            Err(e) => {
                return Err(JournalError::BadLine {
                    path: shown.to_string(),
                    line: number,
                    column: e.column(),
                    message: e.to_string(),
                })
            }
        };
        match (parsed, run.as_mut()) {
            (Line::Run(header), None) => run = Some(*header),
            (_, None) => {
                return Err(JournalError::NoHeader {
                    path: shown.to_string(),
                })
            }
            (Line::Run(_), Some(_)) => {
                notes.push(format!("{shown}:{number}: a second run header, ignored"))
            }
            (
                Line::Case {
                    agent_endpoint_id,
                    case,
                },
                Some(r),
            ) => {
                if agent_endpoint_id.is_some() {
                    r.agent_endpoint_id = agent_endpoint_id;
                }
                r.push(*case);
            }
            (Line::End { complete }, Some(r)) => {
                r.complete = complete;
                ended = true;
            }
        }
    }
    let Some(run) = run else {
        return Err(JournalError::Empty {
            path: shown.to_string(),
        });
    };
    Ok(Replayed { run, ended, notes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{case, run};
    use crate::results::Verdict;

    fn journal_with(cases: &[CaseResult], end: Option<bool>) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::create(dir.path(), &run()).unwrap();
        for c in cases {
            j.append_case(c, Some("proto::agent")).unwrap();
        }
        if let Some(complete) = end {
            j.end(complete).unwrap();
        }
        let path = j.path().to_path_buf();
        (dir, path)
    }

    #[test]
    fn a_journal_reads_back_into_the_run() {
        let (_d, path) = journal_with(
            &[case("a", Verdict::Passed), case("b", Verdict::Failed)],
            Some(true),
        );
        let r = read(&path).unwrap();
        assert!(r.ended && r.notes.is_empty(), "{:?}", r.notes);
        assert!(r.run.complete);
        assert_eq!(r.run.cases.len(), 2);
        assert_eq!(r.run.counts.passed, 1);
        assert_eq!(r.run.counts.failed, 1);
        assert_eq!(r.run.agent_endpoint_id.as_deref(), Some("proto::agent"));
    }

    /// A kill in mid-write leaves half a line: it is set aside with a note
    /// that says so, and every whole case before it is kept.
    #[test]
    fn a_truncated_last_line_is_ignored_with_a_note() {
        let (_d, path) = journal_with(
            &[case("a", Verdict::Passed), case("b", Verdict::Passed)],
            None,
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let cut = &text[..text.len() - 40];
        std::fs::write(&path, cut).unwrap();
        let r = read(&path).unwrap();
        assert_eq!(r.run.cases.len(), 1);
        assert!(!r.ended && !r.run.complete);
        assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
        assert!(
            r.notes[0].contains(":3: the last line is cut short"),
            "{}",
            r.notes[0]
        );
    }

    /// The negative twin: the same damage on a line that is not the last
    /// is corruption, not a kill, and is reported with its place.
    #[test]
    fn a_bad_line_in_the_middle_is_an_error_with_its_place() {
        let (_d, path) = journal_with(
            &[case("a", Verdict::Passed), case("b", Verdict::Passed)],
            None,
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines[1] = "{\"case\": {\"id\": ";
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("results.jsonl:2:"), "{e}");
    }

    #[test]
    fn an_empty_journal_says_so() {
        let e = replay("x/results.jsonl", "").unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
        let e = replay("x/results.jsonl", "{\"end\":{\"complete\":true}}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("header"), "{e}");
    }
}
