//! The MQTT interposer end to end: the reference Agent over MQTT 5 through
//! the interposer in front of a real mosquitto (`run --mtp mqtt
//! --interpose`) passes every TP-469 section 11 case of
//! test-cases/mtp-mqtt.yaml, each interposer-only fault fails its case and
//! no other, the cases are skipped (never passed) without the interposer,
//! the step language is validated, and the packets join the trace in time
//! order. Without mosquitto these tests fail with the install hint.

mod common;

use common::{plugfest, plugfest_plain, Run};
use usp_plugfest::broker::Mosquitto;

const SUITE: &str = "test-cases/mtp-mqtt.yaml";

fn run_interposed(extra: &[&str]) -> Run {
    drop(Mosquitto::start().unwrap_or_else(|e| panic!("{e}")));
    let out = tempfile::tempdir().unwrap();
    let mut args = vec![
        "run",
        "--mtp",
        "mqtt",
        "--interpose",
        "--cases",
        SUITE,
        "--quiet",
    ];
    args.extend_from_slice(extra);
    plugfest(&args, out.path())
}

#[test]
fn clean_agent_passes_every_interposer_case_and_packets_are_traced_in_time_order() {
    let run = run_interposed(&[]);
    assert_eq!(run.code, 0, "{}\n{}", run.failure_messages(), run.explain());
    let cases = run.cases();
    assert_eq!(cases.len(), 16);
    for c in &cases {
        // TP-469 11.3 needs --tls too: tests/mtp_tls_cases.rs.
        if c["id"] == "mqtt-tls-after-reconnect" {
            assert!(common::skipped_for_want_of_tls(c), "{c}");
            continue;
        }
        assert_eq!(c["verdict"], "passed", "{}: {}", c["id"], c["message"]);
        assert!(
            c["tp469"].as_str().is_some_and(|t| t.starts_with("11.")),
            "{c}"
        );
        let trace = c["trace"].as_array().expect("a trace");
        let times: Vec<&str> = trace.iter().filter_map(|e| e["at"].as_str()).collect();
        let mut sorted = times.clone();
        sorted.sort();
        assert_eq!(times, sorted, "{}: trace not in time order", c["id"]);
        assert!(
            trace.iter().any(|e| e["mtp_packet"]["packet"] == "CONNECT"),
            "{}: no decoded CONNECT in the trace",
            c["id"]
        );
    }
    // Beside the USP Records: the retry case ends with a Get whose Records
    // sit among the packets that carried them.
    let retry = cases
        .iter()
        .find(|c| c["id"] == "mqtt-connection-retry-after-refusal")
        .unwrap();
    let trace = retry["trace"].as_array().unwrap();
    let first_record = trace.iter().position(|e| e["mtp_packet"].is_null());
    let last_packet = trace.iter().rposition(|e| !e["mtp_packet"].is_null());
    assert!(
        matches!((first_record, last_packet), (Some(r), Some(p)) if r < p),
        "Records and packets not interleaved: {trace:?}"
    );
    let text = run.results.as_ref().unwrap().to_string();
    assert!(
        text.contains("usp-endpoint-id"),
        "user properties not decoded"
    );
}

/// fault -> the case it must fail, and a word its message must hold.
const FAULTS: &[(&str, &str, &str)] = &[
    (
        "ignores-subscribe-topic",
        "mqtt-subscribe-topic-from-connack",
        "topic_filter",
    ),
    (
        "no-request-response-information",
        "mqtt-connect-request-response-information",
        "request_response_information absent",
    ),
    (
        "retries-outside-window",
        "mqtt-connection-retry-after-refusal",
        "outside the window 1000 to 1500 ms",
    ),
    (
        "new-client-id-on-reconnect",
        "mqtt-client-id-persistence",
        "-r",
    ),
    (
        "ignores-assigned-client-identifier",
        "mqtt-client-id-assigned-by-the-broker",
        "expected 'plugfest-assigned-client-id'",
    ),
    (
        "ignores-keep-alive-time",
        "mqtt-keep-alive-from-data-model",
        "keep_alive = 60, expected '5'",
    ),
    (
        "ignores-server-keep-alive",
        "mqtt-server-keep-alive-honoured",
        "expected match number 2",
    ),
    (
        "mqtt-fixed-retry-when-broker-down",
        "mqtt-retry-while-broker-down",
        "outside the window 1000 to 1500 ms",
    ),
    (
        "mqtt-stays-without-subscribe-topic",
        "mqtt-no-subscribe-topic-and-no-subscription",
        "got no MQTT DISCONNECT from the Agent",
    ),
    (
        "mqtt-ignores-new-subscription",
        "mqtt-new-subscription",
        "expected 'newTopic-11-9'",
    ),
    (
        "mqtt-wrong-qos",
        "mqtt-qos-0-and-1",
        "expected SUBSCRIBE FromAgent qos=1 topic_filter=newTopic-11-13-QoS1",
    ),
];

#[test]
fn each_interposer_fault_fails_its_case_and_no_other() {
    for (fault, case, symptom) in FAULTS {
        let run = run_interposed(&["--agent-fault", fault]);
        common::assert_only_case_fails(&run, fault, case, &[symptom]);
    }
}

#[test]
fn existing_binding_faults_fail_the_publish_cases_seen_on_the_wire() {
    for (fault, case, symptom) in [
        (
            "no-response-topic",
            "mqtt-publish-response-topic",
            "response_topic absent",
        ),
        (
            "no-response-topic",
            "mqtt-publish-packet",
            "response_topic absent",
        ),
        (
            "wrong-content-type",
            "mqtt-publish-content-type",
            "content_type = text/plain",
        ),
    ] {
        let run = run_interposed(&["--agent-fault", fault]);
        let (verdict, message) = run.verdict_of(case);
        assert_eq!(verdict, "failed", "{fault}: {message}");
        assert!(message.contains(symptom), "{fault}: {message}");
    }
}

#[test]
fn without_the_interposer_the_cases_are_skipped_with_the_reason() {
    drop(Mosquitto::start().unwrap_or_else(|e| panic!("{e}")));
    let out = tempfile::tempdir().unwrap();
    let run = plugfest(
        &["run", "--mtp", "mqtt", "--cases", SUITE, "--quiet"],
        out.path(),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    for c in run.cases() {
        assert_eq!(c["verdict"], "skipped", "{c}");
        assert!(
            common::skipped_for_want_of_interposer(&c) || common::skipped_for_want_of_tls(&c),
            "{c}"
        );
    }
}

#[test]
fn interposer_faults_are_refused_without_the_interposer() {
    let out = tempfile::tempdir().unwrap();
    let run = plugfest(
        &[
            "run",
            "--mtp",
            "mqtt",
            "--agent-fault",
            "ignores-subscribe-topic",
            "--cases",
            SUITE,
        ],
        out.path(),
    );
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(
        run.stderr.contains("--mtp mqtt --interpose"),
        "{}",
        run.stderr
    );
}

#[test]
fn step_language_errors_carry_their_position() {
    let dir = tempfile::tempdir().unwrap();
    for (body, needle) in [
        (
            "      - mqtt_steer: { add_subscribe_topics: [a] }\n",
            "add_subscribe_topics",
        ),
        (
            "      - mqtt_steer: { fail_suback: Nope }\n",
            "unknown SUBACK reason",
        ),
        (
            "      - expect_mqtt: { packet: CONNEKT }\n",
            "unknown packet type",
        ),
        (
            "      - expect_mqtt: { packet: CONNECT, fields: { clientid: x } }\n",
            "unknown field 'clientid'",
        ),
        (
            "      - expect_mqtt: { packet: CONNECT }\n        capture: { id: clientid }\n",
            "expect_mqtt cannot capture `clientid`",
        ),
        (
            "      - expect_mqtt_retries: { retries: 0, connect_retry_time: 1, connect_retry_interval_multiplier: 2000, tolerance_ms: 100 }\n",
            "retries must be 1 to 10",
        ),
        (
            "      - expect_mqtt_retries: { retries: 2, connect_retry_time: 1, tolerance_ms: 100 }\n",
            "connect_retry_interval_multiplier",
        ),
    ] {
        let file = dir.path().join("bad.yaml");
        std::fs::write(
            &file,
            format!("suite: s\ncases:\n  - id: c\n    title: t\n    steps:\n{body}"),
        )
        .unwrap();
        let (code, stdout, stderr) = plugfest_plain(&["validate", file.to_str().unwrap()]);
        let all = stdout + &stderr;
        assert_eq!(code, 2, "{all}");
        assert!(all.contains(needle), "{needle}: {all}");
        assert!(all.contains("bad.yaml:6:"), "no file:line:column in {all}");
    }
}
