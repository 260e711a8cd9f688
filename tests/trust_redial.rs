//! A second Controller the Agent reaches only later in the run: the harness
//! answers its handshake whenever it comes (not only when a case first
//! needs that Controller), and takes the Controller back once the Agent
//! dials it, after a case had already found it unreachable.

mod common;

use common::plugfest;
use std::time::{Duration, Instant};

const SUITE: &str = r#"suite: late Controller
description: A Controller the Agent dials only after the run began.
cases:
  - id: late-first
    title: the read-only Controller before the Agent has dialed it
    as: readonly
    steps:
      - get: { paths: [Device.DeviceInfo.Manufacturer] }
  - id: late-pause
    title: the target's own Controller, while the Agent dials the other
    steps:
      - expect_no_notify: { type: value_change, timeout_ms: 4000 }
  - id: late-second
    title: the read-only Controller after the Agent has dialed it
    as: readonly
    steps:
      - get: { paths: [Device.DeviceInfo.Manufacturer] }
        expect:
          values:
            Device.DeviceInfo.Manufacturer: { exists: true }
"#;

fn agent(url: &str, controller_id: &str) -> common::KillOnDrop {
    common::agent(&["--connect", url, "--controller-id", controller_id])
}

#[test]
fn a_controller_the_agent_dials_late_is_taken_back() {
    let own = common::free_port();
    let readonly = common::free_port();
    let dir = tempfile::tempdir().expect("temp dir");
    let cases = dir.path().join("late.yaml");
    std::fs::write(&cases, SUITE).expect("cases written");
    let target = dir.path().join("target.yaml");
    std::fs::write(
        &target,
        format!(
            "name: late dialer\nmtp: websocket\nwebsocket: {{ role: server, listen: \"127.0.0.1:{own}\", path: /usp }}\ntimeouts: {{ connect_ms: 2000, request_ms: 2000 }}\ncontrollers:\n  - {{ name: readonly, endpoint_id: \"proto::plugfest-readonly\", listen: \"127.0.0.1:{readonly}\" }}\n"
        ),
    )
    .expect("target written");
    let out = dir.path().join("out");
    let _first = agent(
        &format!("ws://127.0.0.1:{own}/usp"),
        "proto::plugfest-controller",
    );
    // Once the first case has found the read-only Controller unreachable,
    // an Agent dials it (during the pause case).
    let journal = out.join("results.jsonl");
    let late = std::thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            let written = std::fs::read_to_string(&journal).unwrap_or_default();
            if written.contains("\"late-first\"") {
                return Some(agent(
                    &format!("ws://127.0.0.1:{readonly}/usp"),
                    "proto::plugfest-readonly",
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    });
    let run = plugfest(
        &[
            "run",
            "--target",
            target.to_str().unwrap_or_default(),
            "--cases",
            cases.to_str().unwrap_or_default(),
            "--quiet",
        ],
        &out,
    );
    let _second = late.join().expect("the watcher ends");
    let verdicts = run.verdicts();
    let verdict = |id: &str| {
        verdicts
            .iter()
            .find(|(c, _)| c == id)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(verdict("late-first"), "failed", "{}", run.explain());
    assert_eq!(verdict("late-pause"), "passed", "{}", run.explain());
    assert_eq!(
        verdict("late-second"),
        "passed",
        "{}\n{}",
        run.failure_messages(),
        run.explain()
    );
}
