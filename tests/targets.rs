//! `plugfest run --targets FILE`: several reference Agents (one sound, two
//! with different faults) run concurrently into their own directories, and
//! the matrix written beside them agrees with each run's own results.

mod common;

use std::path::Path;
use std::process::Command;

const PROFILE: &str = "DRAFT-DeviceInfo:1";

const THREE: &str = "targets:
  - name: sound
    builtin: { mtp: ws }
  - name: missing
    builtin: { mtp: ws, faults: [missing-parameter] }
  - name: wrongtype
    builtin: { mtp: ws, faults: [wrong-value-type] }
";

fn run_targets(dir: &Path, targets: &str, extra: &[&str]) -> (i32, String, String) {
    let file = dir.join("targets.yaml");
    std::fs::write(&file, targets).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_plugfest"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--quiet", "--profile", PROFILE, "--targets"])
        .arg(&file)
        .arg("--out")
        .arg(dir.join("out"))
        .args(extra)
        .output()
        .expect("the plugfest binary starts");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn results(dir: &Path, name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("out").join(name).join("results.json"))
        .unwrap_or_else(|e| panic!("{name}/results.json: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// CSV fields of one line (the writer quotes every field).
fn fields(line: &str) -> Vec<String> {
    line.trim_end()
        .trim_matches('"')
        .split("\",\"")
        .map(|f| f.replace("\"\"", "\""))
        .collect()
}

#[test]
fn three_builtin_targets_make_a_matrix_of_their_own_counts() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run_targets(dir.path(), THREE, &["--parallel", "2"]);
    // Two faulty Agents: the interop run as a whole failed.
    assert_eq!(code, 1, "{stdout}{stderr}");
    for name in ["sound", "missing", "wrongtype"] {
        for file in ["results.json", "junit.xml", "report.html"] {
            assert!(
                dir.path().join("out").join(name).join(file).is_file(),
                "{name}/{file}"
            );
        }
        assert!(stdout.contains(&format!("== {name} ==")), "{stdout}");
    }
    let csv = std::fs::read_to_string(dir.path().join("out/matrix.csv")).unwrap();
    assert!(dir.path().join("out/matrix.html").is_file());
    assert!(dir.path().join("out/matrix.md").is_file());
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "a header and one row per target:\n{csv}");
    let header = fields(lines[0]);
    let column = header
        .iter()
        .position(|h| h == &format!("{PROFILE} / WebSocket"))
        .unwrap_or_else(|| panic!("column for {PROFILE} over WebSocket in {header:?}"));

    let mut cells = Vec::new();
    for name in ["sound", "missing", "wrongtype"] {
        let r = results(dir.path(), name);
        let cases = r["cases"].as_array().unwrap();
        let passed = cases.iter().filter(|c| c["verdict"] == "passed").count();
        let target = r["target"].as_str().unwrap();
        // The entry's name leads the target, and the faults stay visible.
        assert!(target.starts_with(&format!("{name} (")), "{target}");
        let row = lines
            .iter()
            .map(|l| fields(l))
            .find(|f| f[0] == target)
            .unwrap_or_else(|| panic!("row for {target}:\n{csv}"));
        assert_eq!(row[column], format!("{passed}/{}", cases.len()), "{name}");
        cells.push((passed, cases.len()));
    }
    assert_eq!(cells[0].0, cells[0].1, "the sound Agent passes everything");
    assert!(cells[1].0 < cells[1].1, "missing-parameter fails some case");
    assert!(cells[2].0 < cells[2].1, "wrong-value-type fails some case");
    // Different faults, different failures.
    let failed = |name: &str| -> Vec<String> {
        results(dir.path(), name)["cases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["verdict"] == "failed")
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_ne!(failed("missing"), failed("wrongtype"));
}

#[test]
fn parallel_one_runs_the_targets_one_after_another() {
    let dir = tempfile::tempdir().unwrap();
    let two = "targets:
  - name: a
    builtin: { mtp: ws }
  - name: b
    builtin: { mtp: ws }
";
    let (code, stdout, stderr) = run_targets(dir.path(), two, &["--parallel", "1"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let a = results(dir.path(), "a");
    let b = results(dir.path(), "b");
    // With one at a time, b starts only after a's last case ended.
    let last = a["cases"].as_array().unwrap().last().unwrap().clone();
    let end_of_a = chrono_ms(last["started_at"].as_str().unwrap())
        + last["duration_ms"].as_u64().unwrap() as i64;
    assert!(chrono_ms(b["started_at"].as_str().unwrap()) >= end_of_a);
}

/// Milliseconds since the epoch of an RFC 3339 UTC time with milliseconds
/// (`2026-11-25T19:59:26.123Z`), parsed by hand to keep tests dependency-free.
fn chrono_ms(t: &str) -> i64 {
    let (date, time) = t.trim_end_matches('Z').split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let (hms, ms) = time.split_once('.').unwrap();
    let h: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    // Days from civil (Howard Hinnant's algorithm).
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 24 + h[0]) * 60 + h[1]) * 60_000 + h[2] * 1000 + ms.parse::<i64>().unwrap()
}

#[test]
fn a_bad_targets_file_is_refused_before_anything_runs() {
    let bad = [
        (
            "targets:\n  - name: x\n    builtin: { mtp: ws, faults: [no-such-fault] }\n",
            "no-such-fault",
        ),
        ("targets:\n  - name: x\n    builtin: { mtp: pigeon }\n", "pigeon"),
        (
            "targets:\n  - name: x\n    builtin: { mtp: ws }\n  - name: x\n    builtin: { mtp: ws }\n",
            "two targets are named",
        ),
        ("targets:\n  - name: ../up\n    builtin: { mtp: ws }\n", "plain directory name"),
        ("targets:\n  - name: x\n    builtn: { mtp: ws }\n", "builtn"),
        ("targets:\n  - name: x\n", "either `target: FILE`"),
        (
            "targets:\n  - name: x\n    target: nowhere.yaml\n",
            "nowhere.yaml",
        ),
    ];
    for (text, says) in bad {
        let dir = tempfile::tempdir().unwrap();
        let (code, stdout, stderr) = run_targets(dir.path(), text, &[]);
        assert_eq!(code, 2, "{text}\n{stdout}{stderr}");
        assert!(stderr.contains(says), "{text}: {stderr}");
        assert!(!dir.path().join("out/matrix.csv").exists(), "{text}");
    }
}
