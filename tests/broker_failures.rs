//! A harness facing a broker that is down, refuses its credentials, or
//! dies in the middle of a run: a setup error (exit 2) naming the broker or
//! the refusal, or failed and not-run cases (exit 1) with complete reports;
//! never a hang. MQTT here; STOMP's refusal and loss are in tests/stomp.rs,
//! which owns the RabbitMQ.

mod common;

use common::KillOnDrop;

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    assert_broker_loss_reported, cases_so_far, finish_within, long_case_list, plugfest,
    spawn_plugfest,
};
use usp_plugfest::broker::Mosquitto;

/// A setup error must come quickly: no retry loop, no connect timeout.
const QUICKLY: Duration = Duration::from_secs(15);
const NO_HANG: Duration = Duration::from_secs(90);
const AGENT: &str = "proto::plugfest-reference-agent";

/// A 127.0.0.1 port nobody listens on (bound, then released).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn target(dir: &std::path::Path, body: &str) -> String {
    let path = dir.join("target.yaml");
    std::fs::write(&path, format!("name: broker trouble\n{body}")).unwrap();
    path.display().to_string()
}

/// `plugfest run --target` must end with exit 2 quickly, saying `needles`.
fn assert_setup_error(target: &str, needles: &[&str]) {
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let run = plugfest(&["run", "--target", target, "--quiet"], out.path());
    assert!(started.elapsed() < QUICKLY, "took {:?}", started.elapsed());
    assert_eq!(run.code, 2, "{}", run.explain());
    for needle in needles {
        assert!(
            run.stderr.contains(needle),
            "no {needle:?}: {}",
            run.explain()
        );
    }
}

#[test]
fn mqtt_broker_down_is_a_setup_error() {
    let dir = tempfile::tempdir().unwrap();
    let address = format!("127.0.0.1:{}", closed_port());
    let t = target(
        dir.path(),
        &format!("mtp: mqtt\nmqtt:\n  broker: {address}\n"),
    );
    assert_setup_error(&t, &["MQTT broker", &address]);
}

#[test]
fn stomp_broker_down_is_a_setup_error() {
    let dir = tempfile::tempdir().unwrap();
    let address = format!("127.0.0.1:{}", closed_port());
    let t = target(
        dir.path(),
        &format!("mtp: stomp\nstomp:\n  broker: {address}\n  controller_destination: /queue/c\n"),
    );
    assert_setup_error(&t, &["STOMP broker", &address, "could not connect"]);
}

#[test]
fn mqtt_credentials_refused_is_a_setup_error() {
    let broker = Mosquitto::start_refusing_everyone().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    for (version, credentials) in [
        ("5", "  username: nobody\n  password: wrong\n"),
        ("3.1.1", ""),
    ] {
        let t = target(
            dir.path(),
            &format!(
                "mtp: mqtt\nmqtt:\n  broker: {}\n  version: {version}\n{credentials}",
                broker.address()
            ),
        );
        assert_setup_error(&t, &["MQTT broker", &broker.address(), "refused"]);
    }
}

/// mosquitto killed after a few cases: the case in flight fails, the next
/// ones cannot reach the Agent, and the runner gives up on the rest.
#[test]
fn mqtt_broker_lost_mid_run_fails_the_remaining_cases() {
    let mut broker = Mosquitto::start().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let _agent = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_plugfest"))
            .args(["agent", "--mqtt-broker", &broker.address()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let total = 300;
    let cases = long_case_list(dir.path(), total);
    let t = target(
        dir.path(),
        &format!(
            "agent_endpoint_id: {AGENT}\nmtp: mqtt\nmqtt:\n  broker: {}\n  agent_topic: usp/agents/{AGENT}\ntimeouts:\n  connect_ms: 5000\n",
            broker.address()
        ),
    );
    // Subscribed before the first request is published to its topic.
    std::thread::sleep(Duration::from_millis(700));
    let out = dir.path().join("out");
    let run = spawn_plugfest(
        &[
            "run",
            "--target",
            &t,
            "--cases",
            cases.to_str().unwrap(),
            "--timeout-ms",
            "500",
            "--quiet",
        ],
        &out,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while cases_so_far(&out) < 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    broker.kill();
    let run = finish_within(run, &out, NO_HANG);
    assert_broker_loss_reported(&run, total, "MQTT connection to the broker ended");
}
