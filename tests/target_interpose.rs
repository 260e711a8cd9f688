//! The MQTT interposer in front of a target's broker (`interpose: { listen }`
//! in the target file's mqtt section): a standalone reference Agent
//! pointed at the interposer, with its default retry timers (a real Agent
//! waits 5-10 s before each reconnect the interposer causes), passes the
//! TP-469 section 11 cases of each kind of steering, an injected fault
//! still fails its case, and a target without `interpose:` skips them with
//! the way to get it. (The whole suite through the interposer runs against
//! the built-in Agent in tests/mqtt_interpose.rs; each case here costs a
//! real retry wait.)

/// One case per kind of steering: CONNECT fields, CONNACK user property,
/// SUBACK failure, two drops, refused connections and retries, PUBLISH.
const CASES: [&str; 6] = [
    "mqtt-connect-request-response-information",
    "mqtt-subscribe-topic-from-connack",
    "mqtt-failure-to-subscribe",
    "mqtt-client-id-persistence",
    "mqtt-connection-retry-after-refusal",
    "mqtt-publish-packet",
];

mod common;

use common::{KillOnDrop, Run};
use std::time::Duration;
use usp_plugfest::broker::Mosquitto;

fn agent(args: &[&str]) -> KillOnDrop {
    KillOnDrop(
        std::process::Command::new(env!("CARGO_BIN_EXE_plugfest"))
            .arg("agent")
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("plugfest agent starts"),
    )
}

/// Runs the `selected` cases of mtp-mqtt.yaml (all when empty) against a
/// standalone Agent (with `faults`) over MQTT through mosquitto,
/// interposed when `interpose`.
fn run_mqtt_target(selected: &[&str], interpose: bool, faults: &[&str]) -> Run {
    let broker = Mosquitto::start().unwrap_or_else(|e| panic!("{e}"));
    let listen = format!("127.0.0.1:{}", common::free_port());
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.yaml");
    let interpose_line = match interpose {
        true => format!("  interpose: {{ listen: \"{listen}\" }}\n"),
        false => String::new(),
    };
    std::fs::write(
        &target,
        format!(
            "name: interposed\nmtp: mqtt\nmqtt:\n  broker: \"{}\"\n{interpose_line}timeouts: {{ connect_ms: 15000 }}\n",
            broker.address()
        ),
    )
    .unwrap();
    let mut harness = std::process::Command::new(env!("CARGO_BIN_EXE_plugfest"));
    harness
        .args([
            "run",
            "--target",
            target.to_str().unwrap(),
            "--cases",
            "test-cases/mtp-mqtt.yaml",
            "--quiet",
        ])
        .args(selected.iter().flat_map(|c| ["--case", c]))
        .arg("--out")
        .arg(dir.path().join("out"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = harness.spawn().expect("plugfest run starts");
    // The Agent is pointed at the interposer (or the broker), once the
    // harness listens and has subscribed.
    std::thread::sleep(Duration::from_millis(1500));
    let at = if interpose { listen } else { broker.address() };
    let mut args = vec!["--mqtt-broker", at.as_str()];
    for f in faults {
        args.extend(["--fault", f]);
    }
    let _agent = agent(&args);
    let output = child.wait_with_output().expect("plugfest run ends");
    common::read_run(output, &dir.path().join("out"))
}

#[test]
fn a_target_broker_is_interposed_and_the_wire_cases_run() {
    let run = run_mqtt_target(&CASES, true, &[]);
    let cases = run.cases();
    assert_eq!(cases.len(), CASES.len(), "{}", run.explain());
    assert!(!cases.is_empty(), "{}", run.explain());
    let not_passed: Vec<String> = cases
        .iter()
        .filter(|c| c["verdict"] != "passed" && !common::skipped_for_want_of_tls(c))
        .map(|c| format!("{} {}: {}", c["id"], c["verdict"], c["message"]))
        .collect();
    assert!(not_passed.is_empty(), "{}", not_passed.join("\n"));
    let mut ran = 0;
    for c in &cases {
        if common::skipped_for_want_of_tls(c) {
            continue;
        }
        ran += 1;
        let trace = c["trace"].as_array().expect("a trace");
        assert!(
            trace.iter().any(|e| e["mtp_packet"]["packet"] == "CONNECT"
                || e["mtp_packet"]["packet"] == "PUBLISH"),
            "{}: no decoded MQTT packet in the trace",
            c["id"]
        );
    }
    assert_eq!(ran, CASES.len());
}

#[test]
fn through_a_target_interposer_a_fault_fails_its_case() {
    let run = run_mqtt_target(
        &["mqtt-keep-alive-from-data-model"],
        true,
        &["ignores-keep-alive-time"],
    );
    let (verdict, message) = run.verdict_of("mqtt-keep-alive-from-data-model");
    assert_eq!(verdict, "failed", "{message}\n{}", run.explain());
}

#[test]
fn without_interpose_the_target_skips_the_wire_cases_and_says_how() {
    let run = run_mqtt_target(&[], false, &[]);
    for c in run.cases() {
        if common::skipped_for_want_of_tls(&c) {
            continue;
        }
        assert!(common::skipped_for_want_of_interposer(&c), "{c}");
        let message = c["message"].as_str().unwrap_or_default();
        assert!(message.contains("interpose: { listen"), "{message}");
    }
}

/// The STOMP interposer in front of a target's broker (RabbitMQ), likewise:
/// the CONNECT/STOMP frame, a CONNECTED header steered, an ERROR injected.
#[test]
fn a_target_stomp_broker_is_interposed_and_the_wire_cases_run() {
    const STOMP_CASES: [&str; 3] = [
        "stomp-connect-frame-headers",
        "stomp-subscribe-dest-honoured",
        "stomp-reconnect-after-error",
    ];
    let broker =
        usp_plugfest::broker::rabbitmq::RabbitMq::start().unwrap_or_else(|e| panic!("{e}"));
    let listen = format!("127.0.0.1:{}", common::free_port());
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.yaml");
    std::fs::write(
        &target,
        format!(
            "name: interposed\nmtp: stomp\nstomp:\n  broker: \"{}\"\n  username: guest\n  password: guest\n  controller_destination: \"{}\"\n  interpose: {{ listen: \"{listen}\" }}\ntimeouts: {{ connect_ms: 15000 }}\n",
            broker.stomp_address(),
            usp_plugfest::target::controller_destination(usp_plugfest::target::DEFAULT_CONTROLLER_ID)
        ),
    )
    .unwrap();
    let mut harness = std::process::Command::new(env!("CARGO_BIN_EXE_plugfest"));
    harness
        .args([
            "run",
            "--target",
            target.to_str().unwrap(),
            "--cases",
            "test-cases/mtp-stomp.yaml",
            "--quiet",
        ])
        .args(STOMP_CASES.iter().flat_map(|c| ["--case", c]))
        .arg("--out")
        .arg(dir.path().join("out"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = harness.spawn().expect("plugfest run starts");
    std::thread::sleep(Duration::from_millis(1500));
    let _agent = agent(&[
        "--stomp-broker",
        &listen,
        "--stomp-login",
        "guest",
        "--stomp-passcode",
        "guest",
    ]);
    let output = child.wait_with_output().expect("plugfest run ends");
    let run = common::read_run(output, &dir.path().join("out"));
    let cases = run.cases();
    assert_eq!(cases.len(), STOMP_CASES.len(), "{}", run.explain());
    let not_passed: Vec<String> = cases
        .iter()
        .filter(|c| c["verdict"] != "passed")
        .map(|c| format!("{} {}: {}", c["id"], c["verdict"], c["message"]))
        .collect();
    assert!(not_passed.is_empty(), "{}", not_passed.join("\n"));
    broker.stop();
}
