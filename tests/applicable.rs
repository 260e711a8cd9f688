//! A case that cannot apply in this run (its steps need an interposer, the
//! WebSocket test controls or an E2E context the run does not have) is
//! skipped before its setup: nothing reaches the Agent, so an Agent tested
//! over WebSocket neither gets its MQTT client reconfigured nor fails a
//! setup Get of an MQTT object it has no reason to have. A case that can
//! apply still runs its setup.

mod common;

use common::plugfest;

fn run(args: &[&str]) -> common::Run {
    let out = tempfile::tempdir().unwrap();
    plugfest(args, out.path())
}

#[test]
fn interposer_cases_are_skipped_before_their_setup_over_websocket() {
    let runs: Vec<common::Run> = ["test-cases/mtp-mqtt.yaml", "test-cases/mtp-stomp.yaml"]
        .iter()
        .map(|cases| run(&["run", "--cases", cases, "--quiet"]))
        .collect();
    let mut with_setup = 0;
    for c in runs.iter().flat_map(|r| {
        assert_eq!(r.code, 0, "{}", r.explain());
        r.cases()
    }) {
        let id = c["id"].as_str().unwrap();
        // 3.1/6.9-style cases without interposer steps run over any MTP.
        let message = c["message"].as_str().unwrap_or_default();
        if !message.contains("skipped before its setup") {
            continue;
        }
        assert_eq!(c["verdict"], "skipped", "{c}");
        assert!(
            message.contains("needs the MQTT interposer")
                || message.contains("needs the STOMP interposer"),
            "{id}: {message}"
        );
        assert!(
            message.contains(".yaml:"),
            "{id}: the step's place: {message}"
        );
        assert!(
            c["trace"].as_array().unwrap().is_empty(),
            "{id}: something was sent: {c}"
        );
        assert!(c["steps"].as_array().unwrap().is_empty(), "{id}: {c}");
        with_setup += 1;
    }
    // The cases that set the Agent's MQTT or STOMP parameters in their
    // setup (11.4, 11.6, 11.7, 11.16, 6.3, 6.8, 6.10) are among them.
    for id in [
        "mqtt-client-id-assigned-by-the-broker",
        "mqtt-keep-alive-from-data-model",
        "mqtt-connection-retry-after-refusal",
        "stomp-heart-beat-from-the-model",
        "stomp-retry-after-refusal",
    ] {
        let run = if id.starts_with("mqtt") {
            &runs[0]
        } else {
            &runs[1]
        };
        let (verdict, message) = run.verdict_of(id);
        assert_eq!(verdict, "skipped", "{id}: {message}");
        assert!(
            message.contains("skipped before its setup"),
            "{id}: {message}"
        );
    }
    assert!(
        with_setup >= 15,
        "only {with_setup} cases skipped before setup"
    );
}

#[test]
fn a_case_that_applies_still_runs_its_setup() {
    let run = run(&[
        "run",
        "--mtp",
        "mqtt",
        "--interpose",
        "--cases",
        "test-cases/mtp-mqtt.yaml",
        "--quiet",
    ]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let c = run
        .cases()
        .into_iter()
        .find(|c| c["id"] == "mqtt-keep-alive-from-data-model")
        .unwrap();
    assert_eq!(c["verdict"], "passed", "{c}");
    assert!(c["steps"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["phase"] == "setup"));
}

/// A case that needs another Controller's Endpoint ID, on a target that
/// lists no such Controller, says to add the `controllers:` entry (which
/// brings the Role too), not to set the variable by hand.
#[test]
fn a_missing_controller_variable_points_at_the_controllers_entry() {
    let port = common::free_port();
    let _agent = common::listening_agent(port);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.yaml");
    std::fs::write(
        &target,
        format!("name: one Controller\nmtp: websocket\nwebsocket: {{ role: client, url: \"ws://127.0.0.1:{port}/\" }}\n"),
    )
    .unwrap();
    let r = plugfest(
        &[
            "run",
            "--target",
            target.to_str().unwrap(),
            "--cases",
            "test-cases/trust.yaml",
            "--case",
            "trust-add-search-partial-true",
            "--quiet",
        ],
        &dir.path().join("out"),
    );
    let cases = r.cases();
    assert_eq!(cases.len(), 1, "{}", r.explain());
    let message = cases[0]["message"].as_str().unwrap_or_default();
    assert_eq!(cases[0]["verdict"], "skipped", "{message}");
    assert!(
        message.contains("controller_id_readonly")
            && message.contains("a `controllers:` entry named readonly"),
        "{message}"
    );
    assert!(!message.contains("--var"), "{message}");
}
