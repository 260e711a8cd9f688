//! The STOMP interposer end to end: the reference Agent over STOMP through
//! the interposer in front of a real RabbitMQ (`run --mtp stomp
//! --interpose`) passes every TP-469 section 6 case of
//! test-cases/mtp-stomp.yaml, each interposer-only fault fails its case
//! and no other, the binding faults fail the SEND cases seen on the wire,
//! the cases are skipped (never passed) without the interposer (but 6.9,
//! which needs STOMP only, runs and passes there), the step
//! language is validated, and the frames join the trace in time order.
//! One broker serves every run (it takes seconds to start); the runs go
//! one after another, as the steered `subscribe-dest` queue is shared.
//! Without RabbitMQ these tests fail with the install hint.

mod common;

use common::{plugfest, plugfest_plain, Run};
use usp_plugfest::broker::rabbitmq::RabbitMq;

const SUITE: &str = "test-cases/mtp-stomp.yaml";
/// TP-469 6.9: needs STOMP, not the interposer.
const UNPROCESSED_RECORD: &str = "stomp-unprocessed-record";

fn run(broker: &str, extra: &[&str]) -> Run {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec![
        "run",
        "--mtp",
        "stomp",
        "--stomp-broker",
        broker,
        "--cases",
        SUITE,
        "--quiet",
    ];
    args.extend_from_slice(extra);
    plugfest(&args, out.path())
}

/// fault -> the cases it must fail (every other passes), and words the
/// first failing case's message must hold.
const FAULTS: &[(&str, &[&str], &[&str])] = &[
    (
        "wrong-heart-beat-header",
        // The misspelt header offers nothing, the model's values included.
        &[
            "stomp-heart-beat-offered",
            "stomp-heart-beat-from-the-model",
        ],
        &["heart-beat absent", "heartbeat=", "R-STOMP."],
    ),
    (
        "ignores-subscribe-dest",
        // The destination cases move the Agent and bring it back with a
        // subscribe-dest naming its old destination, which this Agent
        // ignores: their teardowns (and what follows them, the file's last
        // cases) fail too.
        &[
            "stomp-subscribe-dest-honoured",
            "stomp-destination-from-the-model",
            "stomp-no-destination-disconnects",
            "stomp-destination-change-resubscribes",
        ],
        &[
            "destination = /queue/usp.agent.",
            "expected '/queue/usp-plugfest.steered-dest'",
            "R-STOMP.6",
        ],
    ),
    (
        "stomp-retries-too-early",
        &["stomp-retry-after-refusal"],
        &[
            "outside the window 1000 to 1500 ms",
            "after the refusing ERROR frame",
            "R-STOMP.25",
        ],
    ),
    (
        "stomp-wrong-heart-beat",
        &["stomp-heart-beat-from-the-model"],
        &[
            "heart-beat = 2000,10000, expected '~^15000, ?10000$'",
            "R-STOMP.9",
        ],
    ),
    (
        // An Agent deaf to its Destination fails every case that sets it.
        "stomp-ignores-model-destination",
        &[
            "stomp-destination-from-the-model",
            "stomp-no-destination-disconnects",
            "stomp-destination-change-resubscribes",
        ],
        &["frame from the Agent", "R-STOMP."],
    ),
    (
        "stomp-no-disconnect-without-destination",
        &["stomp-no-destination-disconnects"],
        &["no STOMP DISCONNECT frame from the Agent", "R-STOMP.16"],
    ),
    (
        "stomp-no-unsubscribe-on-destination-change",
        &["stomp-destination-change-resubscribes"],
        &["no STOMP UNSUBSCRIBE frame from the Agent", "R-STOMP.29"],
    ),
    (
        "stomp-subscribes-before-unsubscribe",
        &["stomp-destination-change-resubscribes"],
        &[
            "after the one the previous step matched",
            "it came before, not after: SUBSCRIBE",
            "R-STOMP.29",
        ],
    ),
];

#[test]
fn stomp_interposer_against_rabbitmq() {
    let broker = RabbitMq::start().unwrap_or_else(|e| panic!("{e}"));
    let address = broker.stomp_address();
    let b = address.as_str();

    clean_agent_passes_and_frames_are_traced_in_time_order(b);
    each_interposer_fault_fails_its_case_and_no_other(b);
    binding_faults_fail_the_send_cases_seen_on_the_wire(b);
    without_the_interposer_the_cases_are_skipped_with_the_reason(b);
    broker.stop();
}

fn clean_agent_passes_and_frames_are_traced_in_time_order(broker: &str) {
    let run = run(broker, &["--interpose"]);
    assert_eq!(run.code, 0, "{}\n{}", run.failure_messages(), run.explain());
    let cases = run.cases();
    assert_eq!(cases.len(), 14);
    for c in &cases {
        // TP-469 6.11 needs --tls too: tests/mtp_tls_cases.rs.
        if c["id"] == "stomp-tls-after-reconnect" {
            assert!(common::skipped_for_want_of_tls(c), "{c}");
            continue;
        }
        assert_eq!(c["verdict"], "passed", "{}: {}", c["id"], c["message"]);
        assert!(
            c["tp469"].as_str().is_some_and(|t| t.starts_with("6.")),
            "{c}"
        );
        let trace = c["trace"].as_array().expect("a trace");
        let times: Vec<&str> = trace.iter().filter_map(|e| e["at"].as_str()).collect();
        let mut sorted = times.clone();
        sorted.sort();
        assert_eq!(times, sorted, "{}: trace not in time order", c["id"]);
        // The 6.9 case does not steer: the Agent keeps its session, and
        // the malformed Record reaches it in a MESSAGE frame.
        let packet = if c["id"] == UNPROCESSED_RECORD {
            "MESSAGE"
        } else {
            "STOMP"
        };
        assert!(
            trace
                .iter()
                .any(|e| e["mtp_packet"]["mtp"] == "STOMP" && e["mtp_packet"]["packet"] == packet),
            "{}: no {packet} frame in the trace",
            c["id"]
        );
    }
    // Beside the USP Records: the retry case ends with a Get whose Records
    // sit among the frames that carried them.
    let retry = cases
        .iter()
        .find(|c| c["id"] == "stomp-retry-after-refusal")
        .unwrap();
    let trace = retry["trace"].as_array().unwrap();
    let first_record = trace.iter().position(|e| e["mtp_packet"].is_null());
    let last_frame = trace.iter().rposition(|e| !e["mtp_packet"].is_null());
    assert!(
        matches!((first_record, last_frame), (Some(r), Some(f)) if r < f),
        "Records and frames not interleaved: {trace:?}"
    );
    let text = run.results.as_ref().unwrap().to_string();
    assert!(text.contains("endpoint-id"), "headers not logged");
    assert!(!text.contains("passcode\",\"guest"), "the passcode leaked");
}

fn each_interposer_fault_fails_its_case_and_no_other(broker: &str) {
    for (fault, failing, symptoms) in FAULTS {
        let run = run(broker, &["--interpose", "--agent-fault", fault]);
        assert_eq!(run.code, 1, "{fault}: {}", run.explain());
        for c in run.cases() {
            let id = c["id"].as_str().unwrap_or_default();
            let want = if failing.contains(&id) {
                "failed"
            } else if id == "stomp-tls-after-reconnect" {
                // Needs --tls as well.
                "skipped"
            } else {
                "passed"
            };
            assert_eq!(c["verdict"], want, "{fault}: {id}: {}", c["message"]);
        }
        let (_, message) = run.verdict_of(failing[0]);
        for s in *symptoms {
            assert!(message.contains(s), "{fault}: {s:?} not in {message}");
        }
    }
}

fn binding_faults_fail_the_send_cases_seen_on_the_wire(broker: &str) {
    for (fault, case, symptom) in [
        (
            "wrong-content-type",
            "stomp-send-content-type",
            "content-type = text/plain",
        ),
        (
            "no-reply-to-dest",
            "stomp-send-reply-to-dest",
            "reply-to-dest absent",
        ),
    ] {
        let run = run(broker, &["--interpose", "--agent-fault", fault]);
        let (verdict, message) = run.verdict_of(case);
        assert_eq!(verdict, "failed", "{fault}: {message}");
        assert!(message.contains(symptom), "{fault}: {message}");
    }
}

fn without_the_interposer_the_cases_are_skipped_with_the_reason(broker: &str) {
    let run = run(broker, &[]);
    assert_eq!(run.code, 0, "{}", run.explain());
    for c in run.cases() {
        if c["id"] == UNPROCESSED_RECORD {
            assert_eq!(c["verdict"], "passed", "{c}");
            continue;
        }
        assert_eq!(c["verdict"], "skipped", "{c}");
        assert!(
            c["message"]
                .as_str()
                .is_some_and(|m| m.contains("needs the STOMP interposer"))
                || common::skipped_for_want_of_tls(&c),
            "{c}"
        );
    }
}

#[test]
fn interposer_faults_are_refused_without_the_stomp_interposer() {
    for (mtp, fault) in [
        ("stomp", "ignores-subscribe-dest"),
        ("stomp", "stomp-retries-too-early"),
        ("stomp", "stomp-wrong-heart-beat"),
        ("ws", "stomp-ignores-model-destination"),
        ("stomp", "stomp-no-disconnect-without-destination"),
        ("mqtt", "stomp-no-unsubscribe-on-destination-change"),
        ("ws", "stomp-subscribes-before-unsubscribe"),
        ("ws", "wrong-heart-beat-header"),
        ("mqtt", "ignores-subscribe-dest"),
    ] {
        let out = tempfile::tempdir().unwrap();
        let run = plugfest(
            &[
                "run",
                "--mtp",
                mtp,
                "--agent-fault",
                fault,
                "--cases",
                SUITE,
            ],
            out.path(),
        );
        assert_eq!(run.code, 2, "{mtp} {fault}: {}", run.explain());
        assert!(
            run.stderr.contains("--mtp stomp --interpose"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn step_language_errors_carry_their_position() {
    let dir = tempfile::tempdir().unwrap();
    for (body, needle) in [
        (
            "      - stomp_steer: { subscribe_dests: /queue/a }\n",
            "subscribe_dests",
        ),
        (
            "      - stomp_steer: { heart_beat: \"1000\" }\n",
            "heart_beat '1000'",
        ),
        (
            "      - expect_stomp: { command: CONNEKT }\n",
            "unknown command",
        ),
        (
            "      - expect_stomp_retries: { retries: 0, server_retry_initial_interval: 1, server_retry_interval_multiplier: 2000, tolerance_ms: 100 }\n",
            "retries must be 1",
        ),
        (
            "      - expect_stomp_retries: { retries: 2, server_retry_initial_interval: 1, tolerance_ms: 100 }\n",
            "server_retry_interval_multiplier",
        ),
        (
            "      - expect_stomp: { command: SEND, headers: { destination: \"~(\" } }\n",
            "bad regex",
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
