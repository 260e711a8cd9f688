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

use common::Run;
use std::time::Duration;
use usp_plugfest::broker::Mosquitto;

/// Runs the `selected` cases of `cases` against the target file `target`
/// (written to a temporary directory); a standalone Agent with
/// `agent_args` starts once the harness listens and has subscribed.
fn run_target_then_agent(target: &str, cases: &str, selected: &[&str], agent_args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("target.yaml");
    std::fs::write(&file, target).unwrap();
    let out = dir.path().join("out");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_plugfest"))
        .args([
            "run",
            "--target",
            file.to_str().unwrap(),
            "--cases",
            cases,
            "--quiet",
        ])
        .args(selected.iter().flat_map(|c| ["--case", c]))
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("plugfest run starts");
    // The journal opens once the harness is set up (interposer listening,
    // its own client subscribed): then the Agent starts.
    let journal = out.join("results.jsonl");
    let until = std::time::Instant::now() + Duration::from_secs(60);
    while !journal.exists() && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _agent = common::agent(agent_args);
    let output = child.wait_with_output().expect("plugfest run ends");
    common::read_run(output, &out)
}

/// The cases of `run` that did not pass, one line each.
fn not_passed(run: &Run) -> Vec<String> {
    run.cases()
        .iter()
        .filter(|c| c["verdict"] != "passed" && !common::skipped_for_want_of_tls(c))
        .map(|c| format!("{} {}: {}", c["id"], c["verdict"], c["message"]))
        .collect()
}

/// Runs the `selected` cases of mtp-mqtt.yaml (all when empty) against a
/// standalone Agent (with `faults`) over MQTT through mosquitto,
/// interposed when `interpose`.
fn run_mqtt_target(selected: &[&str], interpose: bool, faults: &[&str]) -> Run {
    let broker = Mosquitto::start().unwrap_or_else(|e| panic!("{e}"));
    let listen = format!("127.0.0.1:{}", common::free_port());
    let interpose_line = match interpose {
        true => format!("  interpose: {{ listen: \"{listen}\" }}\n"),
        false => String::new(),
    };
    let target = format!(
        "name: interposed\nmtp: mqtt\nmqtt:\n  broker: \"{}\"\n{interpose_line}timeouts: {{ connect_ms: 15000 }}\n",
        broker.address()
    );
    // The Agent is pointed at the interposer (or the broker).
    let at = if interpose { listen } else { broker.address() };
    let mut args = vec!["--mqtt-broker", at.as_str()];
    for f in faults {
        args.extend(["--fault", f]);
    }
    run_target_then_agent(&target, "test-cases/mtp-mqtt.yaml", selected, &args)
}

#[test]
fn a_target_broker_is_interposed_and_the_wire_cases_run() {
    let run = run_mqtt_target(&CASES, true, &[]);
    let cases = run.cases();
    assert_eq!(cases.len(), CASES.len(), "{}", run.explain());
    assert!(!cases.is_empty(), "{}", run.explain());
    let failures = not_passed(&run);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
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
    let target = format!(
        "name: interposed\nmtp: stomp\nstomp:\n  broker: \"{}\"\n  username: guest\n  password: guest\n  controller_destination: \"{}\"\n  interpose: {{ listen: \"{listen}\" }}\ntimeouts: {{ connect_ms: 15000 }}\n",
        broker.stomp_address(),
        usp_plugfest::target::controller_destination(usp_plugfest::target::DEFAULT_CONTROLLER_ID)
    );
    let agent = [
        "--stomp-broker",
        &listen,
        "--stomp-login",
        "guest",
        "--stomp-passcode",
        "guest",
    ];
    let run = run_target_then_agent(&target, "test-cases/mtp-stomp.yaml", &STOMP_CASES, &agent);
    assert_eq!(run.cases().len(), STOMP_CASES.len(), "{}", run.explain());
    let failures = not_passed(&run);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    broker.stop();
}
