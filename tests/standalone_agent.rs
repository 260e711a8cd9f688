//! The way a plugfest participant uses the tool: a target file pointing at
//! an Agent in another process. Here the Agent is `plugfest agent`, in both
//! WebSocket roles.

mod common;

use common::{free_port, KillOnDrop};

use std::process::{Command, Stdio};
use std::time::Duration;

use common::plugfest;

fn agent(args: &[&str]) -> KillOnDrop {
    KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_plugfest"))
            .arg("agent")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

#[test]
fn harness_dials_an_agent_that_listens() {
    let port = free_port();
    let _agent = agent(&["--listen", &format!("127.0.0.1:{port}")]);
    std::thread::sleep(Duration::from_millis(300));
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.yaml");
    std::fs::write(
        &target,
        format!(
            "name: standalone reference Agent\nmtp: websocket\nwebsocket:\n  role: client\n  url: ws://127.0.0.1:{port}/\ntimeouts:\n  request_ms: 3000\n  connect_ms: 5000\n  connect_record_ms: 2000\n"
        ),
    )
    .unwrap();
    let run = plugfest(
        &["run", "--target", target.to_str().unwrap(), "--quiet"],
        dir.path(),
    );
    assert_eq!(run.code, 0, "{}\n{}", run.failure_messages(), run.explain());
    let results = run.results.unwrap();
    // Learnt from the Agent's WebSocketConnectRecord: the target named no id.
    assert_eq!(
        results["agent_endpoint_id"],
        "proto::plugfest-reference-agent"
    );
    assert_eq!(results["target"], "standalone reference Agent");
}

#[test]
fn agent_dials_the_harness_that_listens() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.yaml");
    std::fs::write(
        &target,
        format!(
            "name: dialing reference Agent\nagent_endpoint_id: proto::plugfest-reference-agent\nmtp: websocket\nwebsocket:\n  role: server\n  listen: 127.0.0.1:{port}\n  path: /usp\ntimeouts:\n  request_ms: 3000\n  connect_ms: 10000\n"
        ),
    )
    .unwrap();
    let out = dir.path().to_path_buf();
    let harness = std::thread::spawn(move || {
        plugfest(
            &["run", "--target", target.to_str().unwrap(), "--quiet"],
            &out,
        )
    });
    std::thread::sleep(Duration::from_millis(500));
    let _agent = agent(&["--connect", &format!("ws://127.0.0.1:{port}/usp")]);
    let run = harness.join().unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.failure_messages(), run.explain());
    assert!(run.cases().len() >= 20);
}

#[test]
fn a_target_with_an_unknown_key_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.yaml");
    std::fs::write(&target, "name: x\nmtp: websocket\nwebsockets: {}\n").unwrap();
    let run = plugfest(&["run", "--target", target.to_str().unwrap()], dir.path());
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("websockets"), "{}", run.stderr);
}
