//! The interop matrix: several results.json (Agents × MTPs) merged into one
//! table, rows = Agents, columns = profile × MTP, cells = passed/total;
//! and a second view, case × Agent. Rendered as HTML, Markdown and CSV.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use super::templates::{render_error, TemplateError, TemplateSet};
use crate::results::{RunResult, Verdict};

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Column {
    pub profile: String,
    pub mtp: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseRef {
    pub id: String,
    pub title: String,
    pub verdict: Verdict,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Cell {
    pub passed: usize,
    pub total: usize,
    /// Anchor of the cell's case list in matrix.html.
    pub anchor: String,
    pub cases: Vec<CaseRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentRow {
    /// The target's name from the results.
    pub name: String,
    pub endpoint_id: String,
    /// One per column; None where this Agent has no result.
    pub cells: Vec<Option<Cell>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseRow {
    pub id: String,
    pub title: String,
    pub profile: String,
    /// Per Agent: `(MTP, verdict)` for each run of the case.
    pub verdicts: Vec<Vec<(String, Verdict)>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Matrix {
    pub columns: Vec<Column>,
    pub agents: Vec<AgentRow>,
    pub cases: Vec<CaseRow>,
    /// The files merged, in order.
    pub sources: Vec<String>,
}

/// Merges runs; each is `(file name, results)`.
pub fn build(runs: &[(String, RunResult)]) -> Matrix {
    let agent_key = |r: &RunResult| {
        (
            r.target.clone(),
            r.agent_endpoint_id.clone().unwrap_or_default(),
        )
    };
    let agents: BTreeSet<(String, String)> = runs.iter().map(|(_, r)| agent_key(r)).collect();
    let agents: Vec<(String, String)> = agents.into_iter().collect();
    let mut columns = BTreeSet::new();
    let mut case_titles: BTreeMap<(String, String), String> = BTreeMap::new();
    for (_, run) in runs {
        for case in &run.cases {
            let profile = case.profile.clone().unwrap_or_else(|| case.suite.clone());
            columns.insert(Column {
                profile: profile.clone(),
                mtp: run.mtp.clone(),
            });
            case_titles.insert((profile, case.id.clone()), case.title.clone());
        }
    }
    let columns: Vec<Column> = columns.into_iter().collect();

    let mut rows: Vec<AgentRow> = agents
        .iter()
        .map(|(name, eid)| AgentRow {
            name: name.clone(),
            endpoint_id: eid.clone(),
            cells: vec![None; columns.len()],
        })
        .collect();
    let mut case_rows: Vec<CaseRow> = case_titles
        .iter()
        .map(|((profile, id), title)| CaseRow {
            id: id.clone(),
            title: title.clone(),
            profile: profile.clone(),
            verdicts: vec![Vec::new(); agents.len()],
        })
        .collect();
    for (_, run) in runs {
        let a = agents
            .iter()
            .position(|k| *k == agent_key(run))
            .unwrap_or(0);
        for case in &run.cases {
            let profile = case.profile.clone().unwrap_or_else(|| case.suite.clone());
            let column = Column {
                profile: profile.clone(),
                mtp: run.mtp.clone(),
            };
            let c = columns.iter().position(|k| *k == column).unwrap_or(0);
            let cell = rows[a].cells[c].get_or_insert_with(|| Cell {
                anchor: format!("a{a}-c{c}"),
                ..Cell::default()
            });
            cell.total += 1;
            if case.verdict == Verdict::Passed {
                cell.passed += 1;
            }
            cell.cases.push(CaseRef {
                id: case.id.clone(),
                title: case.title.clone(),
                verdict: case.verdict,
                message: case.message.clone(),
            });
            if let Some(row) = case_rows
                .iter_mut()
                .find(|r| r.profile == profile && r.id == case.id)
            {
                row.verdicts[a].push((run.mtp.clone(), case.verdict));
            }
        }
    }
    Matrix {
        columns,
        agents: rows,
        cases: case_rows,
        sources: runs.iter().map(|(f, _)| f.clone()).collect(),
    }
}

fn cell_text(cell: &Option<Cell>) -> String {
    cell.as_ref()
        .map_or_else(|| "-".to_string(), |c| format!("{}/{}", c.passed, c.total))
}

fn column_title(c: &Column) -> String {
    format!("{} / {}", c.profile, c.mtp)
}

/// CSV (RFC 4180 quoting): a header row, then one row per Agent.
pub fn to_csv(m: &Matrix) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = String::new();
    let mut header = vec![quote("agent"), quote("endpoint_id")];
    header.extend(m.columns.iter().map(|c| quote(&column_title(c))));
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for a in &m.agents {
        let mut row = vec![quote(&a.name), quote(&a.endpoint_id)];
        row.extend(a.cells.iter().map(|c| quote(&cell_text(c))));
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

/// Markdown: the Agent × (profile, MTP) table, then case × Agent.
pub fn to_markdown(m: &Matrix) -> String {
    // `|` would end a cell; Agents choose their names.
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut out = String::from("# Interop matrix\n\n");
    let _ = write!(out, "| Agent |");
    for c in &m.columns {
        let _ = write!(out, " {} |", cell(&column_title(c)));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(m.columns.len()));
    out.push('\n');
    for a in &m.agents {
        let _ = write!(out, "| {} ({}) |", cell(&a.name), cell(&a.endpoint_id));
        for c in &a.cells {
            let _ = write!(out, " {} |", cell_text(c));
        }
        out.push('\n');
    }
    out.push_str("\n## Cases\n\n| Case |");
    for a in &m.agents {
        let _ = write!(out, " {} |", cell(&a.name));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(m.agents.len()));
    out.push('\n');
    for r in &m.cases {
        let _ = write!(out, "| {} {} |", cell(&r.id), cell(&r.title));
        for v in &r.verdicts {
            let shown: Vec<String> = v
                .iter()
                .map(|(mtp, verdict)| format!("{}: {}", cell(mtp), verdict.label()))
                .collect();
            let _ = write!(
                out,
                " {} |",
                if shown.is_empty() {
                    "-".into()
                } else {
                    shown.join(", ")
                }
            );
        }
        out.push('\n');
    }
    out
}

pub fn to_html(m: &Matrix, templates: &TemplateSet) -> Result<String, TemplateError> {
    let env = templates.environment()?;
    let template = env
        .get_template("matrix.html")
        .map_err(|e| render_error("matrix.html", &e))?;
    let headers: Vec<String> = m.columns.iter().map(column_title).collect();
    template
        .render(minijinja::context! { m => m, headers => headers })
        .map_err(|e| render_error("matrix.html", &e))
}
