//! The README's first command, end to end: every shipped case against the
//! built-in reference Agent over a real loopback WebSocket, in both roles.

mod common;

use common::{assert_suite_passed, plugfest, shipped_case_count};

fn assert_all_pass(role: &str) {
    let out = tempfile::tempdir().unwrap();
    let run = plugfest(&["run", "--role", role], out.path());
    assert_suite_passed(&run, "WebSocket", "WebSocketConnectRecord");
    assert_eq!(run.cases().len(), shipped_case_count());
    let junit = run.junit.expect("junit.xml written");
    assert!(
        junit.contains("<testsuite name=\"DRAFT-DeviceInfo:1\""),
        "{junit}"
    );
    assert!(
        junit.contains("<testsuite name=\"DRAFT-LocalAgent:1\""),
        "{junit}"
    );
}

#[test]
fn shipped_cases_pass_with_the_harness_as_websocket_server() {
    assert_all_pass("server");
}

#[test]
fn shipped_cases_pass_with_the_harness_as_websocket_client() {
    assert_all_pass("client");
}

#[test]
fn selection_by_case_and_profile() {
    let out = tempfile::tempdir().unwrap();
    let run = plugfest(&["run", "--profile", "DRAFT-DeviceInfo:1"], out.path());
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(run
        .cases()
        .iter()
        .all(|c| c["profile"] == "DRAFT-DeviceInfo:1"));
    let first = run.verdicts()[0].0.clone();
    let out2 = tempfile::tempdir().unwrap();
    let one = plugfest(&["run", "--case", &first], out2.path());
    assert_eq!(one.verdicts(), vec![(first, "passed".to_string())]);
    let out3 = tempfile::tempdir().unwrap();
    let none = plugfest(&["run", "--case", "NO-SUCH-CASE"], out3.path());
    assert_eq!(none.code, 2, "{}", none.explain());
}
