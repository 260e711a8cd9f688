//! `timeouts.notify_ms` in a target file: an Agent may look for changes on
//! a timer, so a Notify can come later than a case's own wait. Against a
//! target the wait lasts at least notify_ms (30 s unless the file says);
//! a Periodic! Notify every 2 s then satisfies a wait the case set to
//! 300 ms, and with notify_ms 0 the same wait fails, naming what it awaited.

mod common;

use common::{plugfest, Run};

const CASES: &str = r#"suite: notify latency
description: A Notify later than the case's own wait.
cases:
  - id: late-periodic
    title: Periodic! comes after the case's 300 ms
    setup:
      - get: { paths: ['Device.LocalAgent.Controller.[EndpointID=="${controller_id}"].PeriodicNotifInterval'] }
        capture: { old_interval: Device.LocalAgent.Controller.*.PeriodicNotifInterval }
      - add:
          objects:
            - path: Device.LocalAgent.Subscription.
              params: { Enable: "true", ID: plugfest-late, NotifType: Event, ReferenceList: "Device.LocalAgent.Periodic!" }
        capture: { sub: instantiated_path }
    steps:
      - set:
          objects:
            - path: 'Device.LocalAgent.Controller.[EndpointID=="${controller_id}"].'
              params: { PeriodicNotifInterval: 2 }
      - wait_notify:
          type: event
          path: Device.LocalAgent.
          name: Periodic!
          subscription_id: plugfest-late
          timeout_ms: 300
    teardown:
      - delete: { paths: ["${sub}"] }
      - set:
          objects:
            - path: 'Device.LocalAgent.Controller.[EndpointID=="${controller_id}"].'
              params: { PeriodicNotifInterval: "${old_interval}" }
"#;

fn run_with(timeouts: &str) -> Run {
    let port = common::free_port();
    let _agent = common::listening_agent(port);
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("late.yaml");
    std::fs::write(&cases, CASES).unwrap();
    let target = dir.path().join("target.yaml");
    std::fs::write(
        &target,
        format!("name: late\nmtp: websocket\nwebsocket: {{ role: client, url: \"ws://127.0.0.1:{port}/\" }}\n{timeouts}"),
    )
    .unwrap();
    plugfest(
        &[
            "run",
            "--target",
            target.to_str().unwrap(),
            "--cases",
            cases.to_str().unwrap(),
            "--quiet",
        ],
        &dir.path().join("out"),
    )
}

#[test]
fn a_target_waits_for_a_late_notify_unless_told_not_to() {
    let patient = run_with("");
    let (verdict, message) = patient.verdict_of("late-periodic");
    assert_eq!(verdict, "passed", "{message}\n{}", patient.explain());

    let strict = run_with("timeouts: { notify_ms: 0 }\n");
    let (verdict, message) = strict.verdict_of("late-periodic");
    assert_eq!(verdict, "failed", "{message}");
    assert!(message.contains("Periodic!"), "{message}");
}
