//! Load-time check of `${name}` uses: each must name a variable an earlier
//! step of the same case captures, and each `${` must be closed. Without it a
//! misspelt variable only shows up as an errored step in the middle of a run.
//! Works on the text, so a problem is reported at its exact line:column.

use super::model::{Case, Step};

/// Variables the runner sets before a case's first step.
const PREDEFINED: [&str; 2] = ["controller_id", "agent_id"];

/// A `${...}` use in the file: where, and the name (None: no closing `}`).
#[derive(Debug, PartialEq, Eq)]
pub struct VarUse {
    pub line: usize,
    pub column: usize,
    pub name: Option<String>,
}

/// What is wrong with one use.
#[derive(Debug, PartialEq, Eq)]
pub struct VarProblem {
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub help: String,
}

/// Every `${` in the text outside full-line comments; `$$` is a literal `$`
/// (the same syntax `Vars::substitute` reads).
pub fn uses(text: &str) -> Vec<VarUse> {
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find('$') {
            let after = &rest[at + 1..];
            let start = line.len() - rest.len() + at;
            if let Some(tail) = after.strip_prefix('$') {
                rest = tail;
            } else if let Some(tail) = after.strip_prefix('{') {
                let column = line[..start].chars().count() + 1;
                // A name ends at `}`; a quote or space first means the
                // string ended without one.
                let end = tail.find(|c: char| !(c.is_alphanumeric() || "_-.".contains(c)));
                let name = end
                    .filter(|&e| tail[e..].starts_with('}'))
                    .map(|e| tail[..e].to_string());
                let skip = name.as_ref().map_or(tail.len(), |n| n.len() + 1);
                found.push(VarUse {
                    line: i + 1,
                    column,
                    name,
                });
                rest = &tail[skip..];
            } else {
                rest = after;
            }
        }
    }
    found
}

/// Variables the runner defines for every case (see `Runner::run_case`).
pub const BUILTIN: [&str; 2] = ["controller_id", "agent_id"];

/// Problems of the uses inside `cases` (in file order). A use belongs to the
/// last step starting at or before its line; it may name a built-in variable,
/// one the case declares in `needs_vars` (given by the target file or
/// `--var`), or what any step run before that one captures (setup, then
/// steps, then teardown).
pub fn check(cases: &[Case], uses: &[VarUse]) -> Vec<VarProblem> {
    let mut problems = Vec::new();
    for u in uses {
        let Some(name) = &u.name else {
            problems.push(VarProblem {
                line: u.line,
                column: u.column,
                message: "unterminated `${`: no closing `}` on this line".into(),
                help: "write `${name}`, or `$$` for a literal `$`".into(),
            });
            continue;
        };
        let Some(case) = cases.iter().rev().find(|c| c.location.line <= u.line) else {
            continue;
        };
        if BUILTIN.contains(&name.as_str()) || case.needs_vars.contains(name) {
            continue;
        }
        let order: Vec<&Step> = case
            .setup
            .iter()
            .chain(&case.steps)
            .chain(&case.teardown)
            .collect();
        let Some(here) = order
            .iter()
            .enumerate()
            .filter(|(_, s)| s.location.line <= u.line)
            .max_by_key(|(_, s)| s.location.line)
            .map(|(i, _)| i)
        else {
            continue; // in the case's title or purpose: not substituted
        };
        let predefined = PREDEFINED.contains(&name.as_str());
        if !predefined && !order[..here].iter().any(|s| s.capture.contains_key(name)) {
            let known: Vec<&str> = order[..here]
                .iter()
                .flat_map(|s| s.capture.keys().map(String::as_str))
                .collect();
            problems.push(VarProblem {
                line: u.line,
                column: u.column,
                message: format!(
                    "variable `${{{name}}}` is not captured by an earlier step of case `{}`",
                    case.id
                ),
                help: if known.is_empty() {
                    "capture it first (`capture: { name: source }` on an earlier step), or declare it in the case's `needs_vars` when the target file or `--var` gives it".into()
                } else {
                    format!("captured before this step: {}", known.join(", "))
                },
            });
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_uses_and_skips_escapes_and_comments() {
        let text = "# ${in_comment}\na: \"${x}.$${y}\"\nb: ${open\nc: \"${open\" }\n";
        assert_eq!(
            uses(text),
            vec![
                VarUse {
                    line: 2,
                    column: 5,
                    name: Some("x".into())
                },
                VarUse {
                    line: 3,
                    column: 4,
                    name: None
                },
                VarUse {
                    line: 4,
                    column: 5,
                    name: None
                },
            ]
        );
    }
}
