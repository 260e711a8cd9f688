//! `plugfest matrix`: three runs of the reference Agent, two with a fault,
//! merged; each cell must agree with the counts in its own results.json.

mod common;

use std::path::{Path, PathBuf};

const PROFILE: &str = "DRAFT-DeviceInfo:1";

/// One run of the DeviceInfo profile; returns its results.json and the
/// (passed, total) it reports.
fn run(dir: &Path, name: &str, fault: Option<&str>) -> (PathBuf, String, usize, usize) {
    let out = dir.join(name);
    let mut args = vec!["run", "--quiet", "--profile", PROFILE];
    if let Some(f) = fault {
        args.extend(["--agent-fault", f]);
    }
    let r = common::plugfest(&args, &out);
    let results = r.results.as_ref().expect("results.json");
    let target = results["target"].as_str().unwrap().to_string();
    let verdicts = r.verdicts();
    let passed = verdicts.iter().filter(|(_, v)| v == "passed").count();
    assert!(!verdicts.is_empty(), "{}", r.stderr);
    (out.join("results.json"), target, passed, verdicts.len())
}

/// CSV fields of one line (our writer quotes every field).
fn fields(line: &str) -> Vec<String> {
    line.trim_end()
        .trim_matches('"')
        .split("\",\"")
        .map(|f| f.replace("\"\"", "\""))
        .collect()
}

#[test]
fn matrix_cells_match_each_runs_counts() {
    let dir = tempfile::tempdir().unwrap();
    let runs = [
        run(dir.path(), "sound", None),
        run(dir.path(), "missing", Some("missing-parameter")),
        run(dir.path(), "wrongtype", Some("wrong-value-type")),
    ];
    // The faults must show, or the test proves nothing about cells differing.
    assert_eq!(runs[0].2, runs[0].3, "the sound Agent passes everything");
    assert!(runs[1].2 < runs[1].3 && runs[2].2 < runs[2].3);

    let out = dir.path().join("matrix");
    let mut args = vec!["matrix".to_string()];
    args.extend(runs.iter().map(|r| r.0.display().to_string()));
    args.extend(["--out".to_string(), out.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = common::plugfest_plain(&args);
    assert_eq!(code, 0, "{stdout}{stderr}");

    let csv = std::fs::read_to_string(out.join("matrix.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    let header = fields(lines[0]);
    let column = header
        .iter()
        .position(|h| h == &format!("{PROFILE} / WebSocket"))
        .unwrap_or_else(|| panic!("column for {PROFILE} over WebSocket in {header:?}"));
    assert_eq!(lines.len(), 4, "one row per Agent:\n{csv}");
    for (_, target, passed, total) in &runs {
        let row = lines
            .iter()
            .map(|l| fields(l))
            .find(|f| &f[0] == target)
            .unwrap_or_else(|| panic!("row for {target}:\n{csv}"));
        assert_eq!(row[column], format!("{passed}/{total}"), "{target}");
    }

    let md = std::fs::read_to_string(out.join("matrix.md")).unwrap();
    for (_, target, passed, total) in &runs {
        let line = md
            .lines()
            .find(|l| l.starts_with(&format!("| {target} (")))
            .unwrap_or_else(|| panic!("{target} in\n{md}"));
        assert!(line.contains(&format!("| {passed}/{total} |")), "{line}");
    }

    // Each HTML cell links to its case list, which names the failed cases.
    let html = std::fs::read_to_string(out.join("matrix.html")).unwrap();
    let missing: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&runs[1].0).unwrap()).unwrap();
    let failed_ids: Vec<&str> = missing["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["verdict"] == "failed")
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(!failed_ids.is_empty());
    let cell = format!(">{}/{}</a>", runs[1].2, runs[1].3);
    let at = html
        .find(&cell)
        .unwrap_or_else(|| panic!("{cell} in matrix.html"));
    let anchor = html[..at].rsplit("href=\"#").next().unwrap();
    let anchor = &anchor[..anchor.find('"').unwrap()];
    let section_start = html
        .find(&format!("<section id=\"{anchor}\""))
        .expect("the cell's case list");
    let section =
        &html[section_start..section_start + html[section_start..].find("</section>").unwrap()];
    for id in &failed_ids {
        assert!(section.contains(id), "{id} listed under {anchor}");
    }
    assert_eq!(
        section.matches("class=\"v-failed\"").count(),
        failed_ids.len()
    );
}

#[test]
fn matrix_refuses_a_file_that_is_not_results() {
    let dir = tempfile::tempdir().unwrap();
    let (good, ..) = run(dir.path(), "sound", None);
    let bad = dir.path().join("notes.json");
    std::fs::write(&bad, "[1, 2, 3]\n").unwrap();
    let out = dir.path().join("matrix");
    let (code, _, stderr) = common::plugfest_plain(&[
        "matrix",
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("notes.json:1:"), "{stderr}");
    assert!(
        !out.join("matrix.csv").exists(),
        "no matrix with a row missing"
    );
}
