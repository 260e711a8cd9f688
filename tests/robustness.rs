//! Bad input never crashes the harness: a broken YAML file is reported with
//! its position while the good files still run, and an interrupted run keeps
//! every case that finished.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{plugfest, plugfest_plain};

const GOOD_CASE: &str = r#"suite: tiny
cases:
  - id: TINY-1
    title: Get the Manufacturer
    profile: DRAFT-DeviceInfo:1
    steps:
      - get: { paths: [Device.DeviceInfo.Manufacturer] }
"#;

const BAD_CASE: &str = r#"suite: broken
cases:
  - id: BROKEN-1
    title: A step with a misspelt key
    steps:
      - get: { pathz: [Device.DeviceInfo.Manufacturer] }
"#;

#[test]
fn validate_points_at_the_bad_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.yaml"), BAD_CASE).unwrap();
    let (code, _out, err) = plugfest_plain(&["validate", dir.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("bad.yaml:6:"),
        "no file:line:column in:\n{err}"
    );
    assert!(
        err.contains("pathz"),
        "the offending key is not named:\n{err}"
    );
}

#[test]
fn validate_accepts_the_shipped_cases() {
    let (code, out, err) = plugfest_plain(&["validate", "test-cases"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("no problems"));
}

#[test]
fn run_reports_a_bad_file_and_still_runs_the_good_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a-bad.yaml"), BAD_CASE).unwrap();
    std::fs::write(dir.path().join("b-good.yaml"), GOOD_CASE).unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = plugfest(
        &["run", "--cases", dir.path().to_str().unwrap()],
        out.path(),
    );
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(run.stderr.contains("a-bad.yaml:6:"), "{}", run.stderr);
    assert_eq!(
        run.verdicts(),
        vec![("TINY-1".to_string(), "passed".to_string())]
    );
    let junit = run.junit.unwrap();
    assert!(
        junit.contains("a-bad.yaml"),
        "the bad file is not in junit.xml:\n{junit}"
    );
}

#[test]
fn an_interrupted_run_keeps_the_finished_cases() {
    let out = tempfile::tempdir().unwrap();
    // Every request times out after 700 ms, so the run is still going when
    // it is interrupted.
    let mut child = Command::new(env!("CARGO_BIN_EXE_plugfest"))
        .args([
            "run",
            "--agent-fault",
            "no-response",
            "--timeout-ms",
            "700",
            "--quiet",
            "--out",
        ])
        .arg(out.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(130), "128 + SIGINT");
    let text = std::fs::read_to_string(out.path().join("results.json")).unwrap();
    let results: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(results["complete"], false);
    let ran = results["cases"].as_array().unwrap().len();
    assert!(ran >= 1, "no finished case was kept");
    let junit = std::fs::read_to_string(out.path().join("junit.xml")).unwrap();
    assert!(junit.contains("<testcase"));
}

#[test]
fn an_unreachable_agent_fails_two_cases_then_the_rest_are_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Nothing listens on the port any more: every connect is refused.
    let target = dir.path().join("target.yaml");
    std::fs::write(
        &target,
        format!("name: gone\nmtp: websocket\nwebsocket:\n  role: client\n  url: ws://127.0.0.1:{port}/\n"),
    )
    .unwrap();
    let run = plugfest(
        &["run", "--target", target.to_str().unwrap(), "--quiet"],
        dir.path(),
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    let verdicts: Vec<String> = run.verdicts().into_iter().map(|(_, v)| v).collect();
    assert_eq!(&verdicts[..2], ["failed", "failed"]);
    // The rest are not run ("error"), but for a case the target cannot
    // serve anyway (a variable it does not define): that one says skipped.
    assert!(
        verdicts[2..].iter().all(|v| v == "error" || v == "skipped"),
        "{verdicts:?}"
    );
    let messages = run.failure_messages();
    assert!(
        messages.contains("no connection to the Agent"),
        "{messages}"
    );
    assert!(
        messages.contains("not run: the Agent could not be reached"),
        "{messages}"
    );
}

#[test]
fn a_closed_stdout_does_not_stop_the_run_or_its_reports() {
    let out = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_plugfest"))
        .args(["run", "--out"])
        .arg(out.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read nothing and hang up, as `plugfest run | head -0` would.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let text = std::fs::read_to_string(out.path().join("results.json")).unwrap();
    let results: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(results["complete"], true);
}
