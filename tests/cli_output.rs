//! What `plugfest run` prints: colours only when wanted (never with
//! NO_COLOR, never into a pipe), `--quiet` only the summary, `--verbose`
//! every Record, and the per-profile summary table.

use std::path::Path;
use std::process::Command;

const CASE: &str = "deviceinfo-get-invalid-parameter";
const CASES: &str = "test-cases/deviceinfo.yaml";

/// Runs `plugfest run` with stdout piped and these extra environment
/// variables; returns (exit code, stdout).
fn run(extra: &[&str], env: &[(&str, &str)], out: &Path) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_plugfest"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--cases", CASES, "--out"])
        .arg(out)
        .args(extra)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().expect("the plugfest binary starts");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

const ESC: char = '\u{1b}';

#[test]
fn piped_output_has_no_escape_codes() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout) = run(&["--case", CASE], &[], dir.path());
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("PASS"), "{stdout}");
    assert!(!stdout.contains(ESC), "{stdout:?}");
}

#[test]
fn forced_colour_paints_verdicts_but_no_color_wins() {
    let dir = tempfile::tempdir().unwrap();
    // The twin: with colour forced on, the verdict word is coloured...
    let (_, forced) = run(&["--case", CASE], &[("CLICOLOR_FORCE", "1")], dir.path());
    assert!(forced.contains("\u{1b}[32mPASS\u{1b}[0m"), "{forced:?}");
    // ...and NO_COLOR takes it away again.
    let (_, plain) = run(
        &["--case", CASE],
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")],
        dir.path(),
    );
    assert!(plain.contains("PASS"), "{plain}");
    assert!(!plain.contains(ESC), "{plain:?}");
}

#[test]
fn quiet_prints_only_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (_, normal) = run(&[], &[], dir.path());
    assert!(normal.contains(&format!("PASS  {CASE}")), "{normal}");
    let (code, quiet) = run(&["--quiet"], &[], dir.path());
    assert_eq!(code, 0, "{quiet}");
    let lines: Vec<&str> = quiet.lines().collect();
    // The table (header, one profile, total) and the closing line.
    assert_eq!(lines.len(), 4, "{quiet}");
    assert!(lines[0].starts_with("profile "), "{quiet}");
    assert!(lines[1].starts_with("DRAFT-DeviceInfo:1 "), "{quiet}");
    assert!(lines[2].starts_with("total "), "{quiet}");
    assert!(lines[3].contains("passed,"), "{quiet}");
    assert!(!quiet.contains(CASE) && !quiet.contains("usp-plugfest:"));
}

#[test]
fn verbose_prints_every_record_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let (_, normal) = run(&["--case", CASE], &[], dir.path());
    assert!(!normal.contains("--> "), "{normal}");
    let (code, verbose) = run(&["--case", CASE, "--verbose"], &[], dir.path());
    assert_eq!(code, 0, "{verbose}");
    let sent = verbose
        .lines()
        .filter(|l| l.trim_start().starts_with("--> "))
        .count();
    let received = verbose
        .lines()
        .filter(|l| l.trim_start().starts_with("<-- "))
        .count();
    // The Agent's WebSocketConnectRecord, then the Get and its GetResp.
    assert!(sent >= 1 && received >= 2, "{verbose}");
    assert!(verbose.contains("WebSocketConnectRecord"), "{verbose}");
    assert!(
        verbose.contains("Device.DeviceInfo.NoSuchParameter"),
        "{verbose}"
    );
    assert!(verbose.contains("GetResp"), "{verbose}");
    // Records come before the verdict line of their case.
    let record = verbose.find("--> ").unwrap();
    let verdict = verbose.find(&format!("PASS  {CASE}")).unwrap();
    assert!(record < verdict, "{verbose}");
}

#[test]
fn summary_table_counts_per_profile() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = run(
        &["--quiet", "--agent-fault", "missing-parameter"],
        &[],
        dir.path(),
    );
    assert_eq!(code, 1, "{out}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("results.json")).unwrap())
            .unwrap();
    let cases = results["cases"].as_array().unwrap();
    let count = |v: &str| cases.iter().filter(|c| c["verdict"] == v).count();
    let row: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("DRAFT-DeviceInfo:1 "))
        .expect("a row for the profile")
        .split_whitespace()
        .collect();
    assert_eq!(
        row[1..],
        [
            count("passed").to_string(),
            count("failed").to_string(),
            count("skipped").to_string(),
            count("error").to_string()
        ]
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()[..],
        "{out}"
    );
    assert!(
        count("failed") > 0,
        "the fault must make some case fail: {out}"
    );
}

/// Cases without a profile are counted under their suite's name (as in
/// report.html and junit.xml), not under an anonymous `-`.
#[test]
fn cases_without_a_profile_are_counted_under_their_suite() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_plugfest"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            "--cases",
            "test-cases/endpoint-id.yaml",
            "--quiet",
            "--out",
        ])
        .arg(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("the plugfest binary starts");
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        out.lines().any(|l| l.starts_with("Endpoint identity  3 ")),
        "{out}"
    );
    assert!(!out.lines().any(|l| l.starts_with("- ")), "{out}");
}
