//! Controller trust end to end: test-cases/trust.yaml against the built-in
//! Agent, acting as its read-only Controller over WebSocket (both roles,
//! and wss); each permission fault fails exactly its cases with a message
//! naming what came back and the TP-469 id; a Controller the run cannot act
//! as skips the case with the reason; target files list Controllers.

mod common;

use common::{plugfest, Run};
use std::path::Path;

const TRUST: &str = "test-cases/trust.yaml";
const CASES: usize = 12;

fn run_trust(extra: &[&str]) -> Run {
    let out = tempfile::tempdir().expect("temp dir");
    let mut args = vec!["run", "--cases", TRUST, "--quiet", "--timeout-ms", "1000"];
    args.extend_from_slice(extra);
    plugfest(&args, out.path())
}

fn failed(run: &Run) -> Vec<(String, String)> {
    run.cases()
        .into_iter()
        .filter(|c| c["verdict"] != "passed")
        .map(|c| {
            (
                c["id"].as_str().unwrap_or_default().to_string(),
                c["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn trust_suite_passes_as_both_controllers_in_every_websocket_setup() {
    for extra in [
        &[][..],
        &["--role", "client"][..],
        &["--tls"][..],
        &["--tls", "--role", "client"][..],
    ] {
        let run = run_trust(extra);
        assert_eq!(run.code, 0, "{extra:?}: {}\n{}", run.failure_messages(), run.explain());
        assert_eq!(run.cases().len(), CASES, "{extra:?}");
        // The read-only Controller's own Records are in the trace.
        let text = serde_json::to_string(&run.results).unwrap_or_default();
        assert!(text.contains("proto::plugfest-readonly"), "{extra:?}");
    }
}

#[test]
fn each_permission_fault_fails_its_cases_with_the_rule() {
    let expected: [(&str, &[&str], &str); 3] = [
        (
            "ignores-permissions",
            &[
                "trust-set-not-allowed",
                "trust-add-not-allowed",
                "trust-delete-not-allowed",
                "trust-operate-not-allowed",
                "trust-assigned-role-change",
            ],
            "(as readonly)",
        ),
        (
            "hidden-params-readable",
            &["trust-hidden-params-get", "trust-hidden-params-gsdm"],
            "(as readonly)",
        ),
        (
            "notify-without-permission",
            &["trust-notify-not-allowed"],
            "expected no ValueChange Notify",
        ),
    ];
    for (fault, cases, symptom) in expected {
        let run = run_trust(&["--agent-fault", fault]);
        assert_eq!(run.code, 1, "{fault}: {}", run.explain());
        let got = failed(&run);
        let ids: Vec<&str> = got.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, cases, "{fault}: {}", run.failure_messages());
        for (id, message) in &got {
            assert!(message.contains(symptom), "{fault} {id}: {message}");
            // Each names its rule: the TP-469 id or the requirement.
            assert!(message.contains("[TP-469 2.") || message.contains("[R-GSP.0]") || message.contains("AssignedRole"), "{fault} {id}: {message}");
        }
    }
    // What came back is named.
    let run = run_trust(&["--agent-fault", "ignores-permissions"]);
    assert!(run.failure_messages().contains("expected ERROR, got SET_RESP"));
    let run = run_trust(&["--agent-fault", "hidden-params-readable"]);
    assert!(run.failure_messages().contains("SerialNumber: present with value"));
}

#[test]
fn off_websocket_the_cases_skip_with_the_reason_and_the_faults_are_refused() {
    let run = run_trust(&["--mtp", "uds"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let skipped: Vec<_> = run
        .cases()
        .into_iter()
        .filter(|c| c["verdict"] == "skipped")
        .collect();
    // Every case acts as `readonly` in some step.
    assert_eq!(skipped.len(), CASES, "{}", run.failure_messages());
    let message = skipped[0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("acts as Controller `readonly`") && message.contains("WebSocket only"), "{message}");

    let run = run_trust(&["--mtp", "uds", "--agent-fault", "ignores-permissions"]);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(run.stderr.contains("can only be seen by a second Controller"), "{}", run.stderr);
}

#[test]
fn a_case_acting_as_an_unlisted_controller_is_skipped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("as.yaml");
    std::fs::write(
        &file,
        "suite: as\ncases:\n  - id: as-nobody\n    title: t\n    as: nobody\n    steps:\n      - get: { paths: [Device.DeviceInfo.Manufacturer] }\n  - id: as-default\n    title: t\n    steps:\n      - as: default\n        get: { paths: [Device.DeviceInfo.Manufacturer] }\n",
    )
    .expect("case file written");
    let out = dir.path().join("out");
    let run = plugfest(
        &["run", "--cases", file.to_str().unwrap_or_default(), "--quiet"],
        Path::new(&out),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    let cases = run.cases();
    assert_eq!(cases[0]["verdict"], "skipped");
    let message = cases[0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("`nobody`") && message.contains("does not list"), "{message}");
    assert_eq!(cases[1]["verdict"], "passed", "{}", run.failure_messages());
}

#[test]
fn a_target_file_lists_more_controllers() {
    let text = r#"
name: two controllers
mtp: websocket
websocket: { role: client, url: "ws://127.0.0.1:9/usp" }
controllers:
  - { name: readonly, endpoint_id: "proto::ro", role: Read Only }
  - { name: other, endpoint_id: "proto::other", listen: "127.0.0.1:0" }
"#;
    let t = usp_plugfest::target::Target::parse(text, "t.yaml").expect("parses");
    assert_eq!(t.controllers.len(), 2);
    assert_eq!(t.controllers[0].name, "readonly");
    assert_eq!(t.controllers[0].role.as_deref(), Some("Read Only"));
    assert_eq!(t.controllers[1].listen.as_deref(), Some("127.0.0.1:0"));
    let bad = text.replace("role: Read Only", "rank: 1");
    assert!(usp_plugfest::target::Target::parse(&bad, "t.yaml").is_err());
}
