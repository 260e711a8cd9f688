//! The MQTT MTP against a real mosquitto on loopback: the shipped suite
//! over MQTT 5 and 3.1.1, the binding details as a third client of the
//! broker sees them on the wire, the CONNECT packet as a fake broker reads
//! it, and reference-Agent faults caught over MQTT. Without mosquitto
//! these tests fail with the install hint; they never pass silently.

mod common;

use common::KillOnDrop;

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{assert_caught_on_core_suites, assert_suite_passed, plugfest, Run};
use rumqttc::v5::mqttbytes::v5::{Packet, Publish};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use tokio::io::AsyncReadExt;
use usp_plugfest::broker::Mosquitto;
use usp_plugfest::usp::proto::record::record::RecordType;
use usp_plugfest::usp::record;

const AGENT: &str = "proto::plugfest-reference-agent";
const CONTROLLER: &str = "proto::plugfest-controller";
const AGENT_TOPIC: &str = "usp/agents/proto::plugfest-reference-agent";
const CONTROLLER_TOPIC: &str = "usp/controllers/proto::plugfest-controller";

/// A broker of our own, or a failure that says how to install mosquitto.
fn broker() -> Mosquitto {
    Mosquitto::start().unwrap_or_else(|e| panic!("{e}"))
}

fn run_over_mqtt(version: &str, extra: &[&str]) -> Run {
    // Fails here with the install hint rather than deep inside a run.
    drop(broker());
    let out = tempfile::tempdir().unwrap();
    let mut args = vec!["run", "--mtp", "mqtt", "--mqtt-version", version];
    args.extend_from_slice(extra);
    plugfest(&args, out.path())
}

fn assert_suite_passes(version: &str, label: &str) {
    let run = run_over_mqtt(version, &[]);
    // The harness subscribed before the Agent started, so the Agent's
    // MQTTConnectRecord (R-MTP.6) reached it.
    assert_suite_passed(&run, label, "MQTTConnectRecord");
}

#[test]
fn shipped_cases_pass_over_mqtt_5() {
    assert_suite_passes("5", "MQTT 5");
}

#[test]
fn shipped_cases_pass_over_mqtt_3_1_1() {
    assert_suite_passes("3.1.1", "MQTT 3.1.1");
}

#[test]
fn missing_mosquitto_is_bad_input_with_the_install_hint() {
    let empty = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_plugfest"))
        .args(["run", "--mtp", "mqtt", "--out"])
        .arg(out.path())
        .env("PATH", empty.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("apt-get install mosquitto"), "{stderr}");
}

fn assert_caught_over_mqtt(fault: &str, needle: &str) {
    assert_caught_over(fault, "5", needle);
}

fn assert_caught_over(fault: &str, version: &str, needle: &str) {
    assert_caught_on_core_suites(fault, needle, |args| {
        run_over_mqtt(version, &[args, &["--quiet"]].concat())
    });
}

/// R-MQTT.23: a PUBLISH without Response Topic cannot be answered, so the
/// harness sets it aside instead of answering to the configured topic.
#[test]
fn no_response_topic_is_caught_over_mqtt_5() {
    assert_caught_over(
        "no-response-topic",
        "5",
        "without a Response Topic (R-MQTT.23",
    );
}

/// R-MQTT.24: on 3.1.1 the reply-to rides in the topic name.
#[test]
fn no_reply_to_in_the_topic_is_caught_over_mqtt_3_1_1() {
    assert_caught_over("no-response-topic", "3.1.1", "R-MQTT.24");
}

/// R-MQTT.27/27a: Content Type text/plain is not a USP Record.
#[test]
fn wrong_content_type_is_caught_over_mqtt_5() {
    assert_caught_over(
        "wrong-content-type",
        "5",
        "Content Type 'text/plain' (R-MQTT.27",
    );
}

#[test]
fn malformed_protobuf_is_caught_over_mqtt() {
    assert_caught_over_mqtt("malformed-protobuf", "not a protobuf USP Record");
}

#[test]
fn no_response_is_caught_over_mqtt() {
    assert_caught_over_mqtt("no-response", "no response within 400 ms");
}

/// A child process killed when the test ends, pass or fail.
fn start_agent(broker: &str, version: &str) -> KillOnDrop {
    KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_plugfest"))
            .args(["agent", "--mqtt-broker", broker, "--mqtt-version", version])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the plugfest binary starts"),
    )
}

/// A third client of the broker that records every PUBLISH under `usp/`.
async fn observe(broker: &Mosquitto) -> Arc<Mutex<Vec<Publish>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut opts = MqttOptions::new("wire-observer", "127.0.0.1", broker.port());
    opts.set_max_packet_size(Some(16 * 1024 * 1024));
    let (client, mut events) = AsyncClient::new(opts, 16);
    client.subscribe("usp/#", QoS::AtLeastOnce).await.unwrap();
    // Wait for the SUBACK so nothing published afterwards is missed.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        assert!(Instant::now() < deadline, "the observer got no SUBACK");
        if let Ok(Event::Incoming(Packet::SubAck(_))) = events.poll().await {
            break;
        }
    }
    let sink = seen.clone();
    tokio::spawn(async move {
        let _client = client;
        while let Ok(ev) = events.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = ev {
                sink.lock().unwrap().push(p);
            }
        }
    });
    seen
}

fn topic(p: &Publish) -> String {
    String::from_utf8_lossy(&p.topic).into_owned()
}

/// The observer's first PUBLISH that carries an MQTTConnectRecord.
async fn wait_for_connect_record(seen: &Arc<Mutex<Vec<Publish>>>) -> (Publish, i32, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        for p in seen.lock().unwrap().iter() {
            if let Ok(rec) = record::decode(&p.payload, None) {
                if let Some(RecordType::MqttConnect(c)) = rec.record_type {
                    assert_eq!(rec.from_id, AGENT);
                    assert_eq!(rec.to_id, CONTROLLER);
                    return (p.clone(), c.version, c.subscribed_topic);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no MQTTConnectRecord was published within 10 s");
}

fn run_target(broker: &str, version: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("agent.yaml");
    std::fs::write(
        &target,
        format!(
            "name: reference Agent over MQTT\nagent_endpoint_id: {AGENT}\nmtp: mqtt\nmqtt:\n  broker: {broker}\n  version: {version}\n  agent_topic: {AGENT_TOPIC}\n  qos: 1\ntimeouts:\n  request_ms: 2000\n  connect_record_ms: 200\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    plugfest(
        &[
            "run",
            "--target",
            target.to_str().unwrap(),
            "--profile",
            "DRAFT-DeviceInfo:1",
            "--quiet",
        ],
        &out,
    )
}

/// Runs a standalone Agent and the harness (through a target file)
/// against one broker while a third client watches; returns what it saw.
async fn wire_exchange(version: &str, label: &str) -> (Vec<Publish>, i32, String, Publish) {
    let broker = broker();
    let seen = observe(&broker).await;
    let _agent = start_agent(&broker.address(), version);
    let (connect_publish, record_version, subscribed) = wait_for_connect_record(&seen).await;
    let address = broker.address();
    let v = version.to_string();
    let run = tokio::task::spawn_blocking(move || run_target(&address, &v))
        .await
        .unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.failure_messages(), run.explain());
    assert_eq!(run.results.as_ref().unwrap()["mtp"], label);
    // Let the last answers reach the observer.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let all = seen.lock().unwrap().clone();
    (all, record_version, subscribed, connect_publish)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_5_binding_details_on_the_wire() {
    let (all, version, subscribed, connect) = wire_exchange("5", "MQTT 5").await;
    assert_eq!(version, 1, "MQTTConnectRecord.version must be V5 (1)");
    assert_eq!(subscribed, AGENT_TOPIC);
    assert_eq!(topic(&connect), CONTROLLER_TOPIC);
    let to_agent: Vec<&Publish> = all.iter().filter(|p| topic(p) == AGENT_TOPIC).collect();
    let to_controller: Vec<&Publish> = all
        .iter()
        .filter(|p| topic(p) == CONTROLLER_TOPIC)
        .collect();
    assert!(
        !to_agent.is_empty(),
        "the harness published nothing to {AGENT_TOPIC}"
    );
    assert!(to_controller.len() > 1, "the Agent answered nothing");
    assert_eq!(
        to_agent.len() + to_controller.len(),
        all.len(),
        "PUBLISHes on unexpected topics: {:?}",
        all.iter().map(topic).collect::<HashSet<_>>()
    );
    // R-MQTT.23 and R-MQTT.27, both directions.
    for (batch, reply_to) in [(&to_agent, CONTROLLER_TOPIC), (&to_controller, AGENT_TOPIC)] {
        for p in batch.iter() {
            let props = p.properties.clone().unwrap_or_default();
            assert_eq!(props.response_topic.as_deref(), Some(reply_to), "{p:?}");
            assert_eq!(props.content_type.as_deref(), Some("usp.msg"), "{p:?}");
            assert_eq!(p.qos, QoS::AtLeastOnce, "{p:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_3_1_1_reply_to_in_the_topic_on_the_wire() {
    let (all, version, subscribed, connect) = wire_exchange("3.1.1", "MQTT 3.1.1").await;
    assert_eq!(version, 0, "MQTTConnectRecord.version must be V3_1_1 (0)");
    // An exact topic, not the wildcard the Agent subscribes with.
    assert_eq!(subscribed, AGENT_TOPIC);
    // R-MQTT.24: topic + /reply-to= + reply topic with "/" as "%2F".
    let to_controller =
        format!("{CONTROLLER_TOPIC}/reply-to=usp%2Fagents%2Fproto::plugfest-reference-agent");
    let to_agent = format!("{AGENT_TOPIC}/reply-to=usp%2Fcontrollers%2Fproto::plugfest-controller");
    assert_eq!(topic(&connect), to_controller);
    let topics: HashSet<String> = all.iter().map(topic).collect();
    assert_eq!(topics, HashSet::from([to_agent, to_controller]));
    // 3.1.1 has no properties: nothing may depend on them.
    for p in &all {
        let props = p.properties.clone().unwrap_or_default();
        assert_eq!(props.response_topic, None, "{p:?}");
        assert_eq!(props.content_type, None, "{p:?}");
    }
}

/// The first bytes an MQTT client sends to a (fake) broker: its CONNECT.
async fn connect_packet(version: &str) -> Vec<u8> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let _agent = start_agent(&address, version);
    let (mut socket, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("the Agent dialed the broker")
        .unwrap();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 1024];
    // Fixed header (type 1), then the remaining length; read until whole.
    while !whole_packet(&bytes) {
        let n = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buf))
            .await
            .expect("CONNECT arrived")
            .unwrap();
        assert!(n > 0, "the Agent closed before a whole CONNECT");
        bytes.extend_from_slice(&buf[..n]);
    }
    assert_eq!(bytes[0], 0x10, "the first packet is CONNECT");
    bytes
}

fn whole_packet(b: &[u8]) -> bool {
    let mut len = 0usize;
    let mut shift = 0;
    for (i, byte) in b.iter().enumerate().skip(1).take(4) {
        len |= ((byte & 0x7f) as usize) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            return b.len() >= 1 + i + len;
        }
    }
    false
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn mqtt_5_connect_carries_the_endpoint_id_and_asks_for_response_information() {
    let p = connect_packet("5").await;
    assert!(contains(&p, b"\x00\x04MQTT\x05"), "protocol level 5: {p:?}");
    // R-MQTT.13: User Property (0x26) usp-endpoint-id = our Endpoint ID.
    let mut prop = vec![0x26, 0x00, 15];
    prop.extend_from_slice(b"usp-endpoint-id");
    prop.extend_from_slice(&[0x00, AGENT.len() as u8]);
    prop.extend_from_slice(AGENT.as_bytes());
    assert!(
        contains(&p, &prop),
        "no usp-endpoint-id User Property: {p:?}"
    );
    // R-MQTT.12: Request Response Information (0x19) = 1.
    assert!(
        contains(&p, b"\x19\x01"),
        "no Request Response Information: {p:?}"
    );
    // R-MQTT.9: ClientId defaults to the Endpoint ID.
    let mut id = vec![0x00, AGENT.len() as u8];
    id.extend_from_slice(AGENT.as_bytes());
    assert!(contains(&p, &id));
}

#[tokio::test]
async fn mqtt_3_1_1_connect_uses_the_endpoint_id_as_client_id() {
    let p = connect_packet("3.1.1").await;
    assert!(contains(&p, b"\x00\x04MQTT\x04"), "protocol level 4: {p:?}");
    // R-MQTT.11
    let mut id = vec![0x00, AGENT.len() as u8];
    id.extend_from_slice(AGENT.as_bytes());
    assert!(contains(&p, &id), "{p:?}");
    assert!(!contains(&p, b"usp-endpoint-id"), "3.1.1 has no properties");
}
