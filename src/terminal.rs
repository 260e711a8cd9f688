//! What `plugfest run` shows while it runs: a line per case (or a progress
//! bar per target on a terminal), every Record with `--verbose`, the final
//! summary table; colours only on a terminal and never with NO_COLOR.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::results::{CaseResult, Counts, RunResult, Verdict};
use crate::trace::{Direction, TraceEntry};

/// Whether to colour: stdout is a terminal (or `CLICOLOR_FORCE` is set),
/// and `NO_COLOR` (https://no-color.org) is not, which wins over both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub colour: bool,
}

fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0")
}

impl Style {
    pub fn detect() -> Style {
        let wanted = std::io::stdout().is_terminal() || env_set("CLICOLOR_FORCE");
        Style {
            colour: wanted && !env_set("NO_COLOR"),
        }
    }

    /// The verdict word, coloured when colour is on.
    pub fn verdict(&self, v: Verdict) -> String {
        self.paint(v.label(), verdict_colour(v))
    }

    fn paint(&self, text: &str, sgr: &str) -> String {
        if self.colour {
            format!("\x1b[{sgr}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

fn verdict_colour(v: Verdict) -> &'static str {
    match v {
        Verdict::Passed => "32",
        Verdict::Failed => "31;1",
        Verdict::Error => "35;1",
        Verdict::Skipped => "33",
        Verdict::Interrupted => "33;1",
    }
}

/// How much is printed while cases run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Nothing until the summary (`--quiet`).
    Quiet,
    /// A line per case (or a bar on a terminal).
    Cases,
    /// A line per case and every Record sent or received (`--verbose`).
    Records,
}

/// The progress display of one target's run.
pub struct Progress {
    detail: Detail,
    style: Style,
    /// The target's name before each line when several run at once.
    prefix: Option<String>,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Plain lines (never a bar): for CI logs and piped output.
    pub fn lines(detail: Detail, style: Style) -> Progress {
        Progress {
            detail,
            style,
            prefix: None,
            bar: None,
        }
    }

    /// A bar of `total` cases when stdout is a terminal and the run is not
    /// quiet, else plain lines. With `group`, the bar joins the others.
    pub fn for_target(
        detail: Detail,
        style: Style,
        name: Option<&str>,
        total: usize,
        group: Option<&MultiProgress>,
    ) -> Progress {
        let mut p = Progress::lines(detail, style);
        p.prefix = name.map(str::to_string);
        if detail != Detail::Quiet && std::io::stdout().is_terminal() {
            let bar = ProgressBar::new(total as u64);
            let bar = match group {
                Some(g) => g.add(bar),
                None => bar,
            };
            if let Ok(s) =
                ProgressStyle::with_template("{prefix:>20} [{bar:30}] {pos}/{len} {wide_msg}")
            {
                bar.set_style(s.progress_chars("=> "));
            }
            bar.set_prefix(name.unwrap_or("").to_string());
            p.bar = Some(bar);
        }
        p
    }

    fn line(&self, text: &str) {
        let text = match &self.prefix {
            Some(p) => format!("[{p}] {text}"),
            None => text.to_string(),
        };
        match &self.bar {
            Some(bar) => bar.println(text),
            None => crate::say!("{text}"),
        }
    }

    /// A line about the run (its header), unless quiet.
    pub fn note(&self, text: &str) {
        if self.detail != Detail::Quiet {
            self.line(text);
        }
    }

    /// A case ended: its verdict line (with a bar, only the cases that did
    /// not pass are printed above it).
    pub fn case_done(&self, r: &CaseResult) {
        if self.detail == Detail::Quiet {
            return;
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(format!("{} {}", r.id, r.verdict.label()));
            if r.verdict == Verdict::Passed && self.detail == Detail::Cases {
                return;
            }
        }
        self.line(&format!(
            "{} {:<14} {} ({} ms)",
            pad(&self.style.verdict(r.verdict), r.verdict.label(), 5),
            r.id,
            r.title,
            r.duration_ms
        ));
        if r.verdict != Verdict::Passed && !r.message.is_empty() {
            self.line(&format!("      {}", r.message));
        }
    }

    /// A Record went out or came in (printed with `--verbose` only).
    pub fn record(&self, e: &TraceEntry) {
        if self.detail != Detail::Records {
            return;
        }
        let arrow = match e.direction {
            Direction::Sent => "-->",
            Direction::Received => "<--",
        };
        self.line(&format!("  {arrow} {} ({} bytes)", e.record, e.bytes));
        if let Some(msg) = &e.msg {
            for l in msg.text().lines() {
                self.line(&format!("        {l}"));
            }
        }
        if let Some(note) = &e.note {
            self.line(&format!("        note: {note}"));
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Pads a possibly coloured word to `width` visible characters.
fn pad(painted: &str, plain: &str, width: usize) -> String {
    let fill = width.saturating_sub(plain.chars().count());
    format!("{painted}{}", " ".repeat(fill))
}

/// The final table: a row per profile (cases without one under their
/// suite's name, as in report.html and junit.xml), then the total.
pub fn summary_table(result: &RunResult, style: Style) -> String {
    let mut per_profile: BTreeMap<String, Counts> = BTreeMap::new();
    for c in &result.cases {
        let key = c.profile.clone().unwrap_or_else(|| c.suite.clone());
        per_profile.entry(key).or_default().add(c.verdict);
    }
    let width = per_profile
        .keys()
        .map(|k| k.chars().count())
        .chain([7])
        .max()
        .unwrap_or(7);
    let header = |word: Verdict, text: &str| {
        let painted = style.paint(text, verdict_colour(word));
        pad(&painted, text, 8)
    };
    let mut out = format!(
        "{:<width$}  {}{}{}{}\n",
        "profile",
        header(Verdict::Passed, "passed"),
        header(Verdict::Failed, "failed"),
        header(Verdict::Skipped, "skipped"),
        header(Verdict::Error, "errors"),
    );
    let row = |name: &str, c: &Counts| {
        format!(
            "{:<width$}  {:<8}{:<8}{:<8}{:<8}\n",
            name,
            c.passed,
            c.failed,
            c.skipped,
            c.error + c.interrupted
        )
    };
    for (name, c) in &per_profile {
        out.push_str(&row(name, c));
    }
    out.push_str(&row("total", &result.counts));
    // Padding after the last column is noise in logs.
    out.lines().map(|l| format!("{}\n", l.trim_end())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_off_means_no_escape_codes() {
        let off = Style { colour: false };
        assert_eq!(off.verdict(Verdict::Failed), "FAIL");
        let on = Style { colour: true };
        assert!(on.verdict(Verdict::Failed).contains("\x1b[31"));
    }

    #[test]
    fn padding_counts_visible_characters_only() {
        let on = Style { colour: true };
        let s = pad(&on.verdict(Verdict::Passed), "PASS", 5);
        assert!(s.ends_with("\x1b[0m "), "{s:?}");
    }
}
