//! WebSocket control end to end (TP-469 section 7): the reference Agent,
//! dialing the harness's WebSocket server (plain and wss), passes every case
//! of test-cases/mtp-websocket.yaml; each WebSocket fault fails its case and
//! no other, naming the close code or the retry gaps that came back; as
//! the client of the Agent's server the harness checks that a second
//! session leaves one open; the cases are skipped (never passed) where the
//! harness does not have the role they need;
//! the step language is validated; handshakes, control frames and Close
//! codes join the trace beside the Records, in time order.

mod common;

use common::{plugfest, plugfest_plain, Run};

const SUITE: &str = "test-cases/mtp-websocket.yaml";

fn run_suite(extra: &[&str]) -> Run {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec!["run", "--cases", SUITE, "--quiet"];
    args.extend_from_slice(extra);
    plugfest(&args, out.path())
}

/// The WebSocket events of a case's trace: (packet, fields as text).
fn ws_events(case: &serde_json::Value) -> Vec<(String, String)> {
    case["trace"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter(|e| e["mtp_packet"]["mtp"] == "WebSocket")
                .map(|e| {
                    (
                        e["mtp_packet"]["packet"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        e["mtp_packet"]["fields"].to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The case that needs the harness as the client of the Agent's server.
const CLIENT_CASE: &str = "ws-only-one-session";

/// TP-469 7.9, which needs TLS (`--tls`); tests/mtp_tls_cases.rs shows it
/// failing an Agent that ignores its TLS setting.
const TLS_CASE: &str = "ws-tls-after-reboot";

/// The shipped suite's cases.
const CASES: usize = 12;

fn assert_clean_run(run: &Run) {
    assert_eq!(run.code, 0, "{}\n{}", run.failure_messages(), run.explain());
    let cases = run.cases();
    assert_eq!(cases.len(), CASES);
    for c in &cases {
        if c["id"] == CLIENT_CASE {
            assert!(common::skipped_for_want_of_interposer(c), "{c}");
            continue;
        }
        if c["id"] == TLS_CASE && common::skipped_for_want_of_tls(c) {
            continue;
        }
        assert_eq!(c["verdict"], "passed", "{}: {}", c["id"], c["message"]);
        assert!(
            c["tp469"].as_str().is_some_and(|t| t.starts_with("7.")),
            "{c}"
        );
        let trace = c["trace"].as_array().expect("a trace");
        let times: Vec<&str> = trace.iter().filter_map(|e| e["at"].as_str()).collect();
        let mut sorted = times.clone();
        sorted.sort();
        assert_eq!(times, sorted, "{}: trace not in time order", c["id"]);
        assert!(!ws_events(c).is_empty(), "{}: no WebSocket events", c["id"]);
        assert!(
            trace.iter().any(|e| e["mtp_packet"].is_null()),
            "{}: no USP Record beside the WebSocket events",
            c["id"]
        );
    }
    let events = |id: &str| {
        ws_events(
            cases
                .iter()
                .find(|c| c["id"] == id)
                .unwrap_or_else(|| panic!("no case {id}")),
        )
    };
    // The Close status is recorded, and so are the control frames.
    assert!(events("ws-text-frame-closed-1003")
        .iter()
        .any(|(p, f)| p == "CLOSE" && f.contains("1003")));
    let ping = events("ws-ping-pong");
    for kind in ["PING", "PONG"] {
        assert!(ping.iter().any(|(p, _)| p == kind), "{kind}: {ping:?}");
    }
    let retry = events("ws-session-retry-after-refusal");
    assert_eq!(
        retry
            .iter()
            .filter(|(p, _)| p == "HANDSHAKE REFUSED")
            .count(),
        2,
        "{retry:?}"
    );
    assert!(retry
        .iter()
        .any(|(p, f)| p == "HANDSHAKE" && f.contains("v1.usp") && f.contains("eid")));
    // TP-469 7.4: the harness's Close, the Agent's answering Close, the end.
    let close = events("ws-close-answered");
    assert_eq!(
        close.iter().filter(|(p, _)| p == "CLOSE").count(),
        2,
        "{close:?}"
    );
    assert!(
        close
            .iter()
            .any(|(p, f)| p == "CONNECTION ENDED" && f.contains("closing handshake complete")),
        "{close:?}"
    );
    assert!(events("ws-no-subprotocol-in-answer")
        .iter()
        .any(|(p, _)| p == "SESSION NOT COMPLETED"));
    assert!(events("ws-fragmented-record")
        .iter()
        .any(|(p, f)| p == "FRAGMENTED" && f.contains("\"3\"")));
}

#[test]
fn clean_agent_passes_every_websocket_case_with_events_in_the_trace() {
    assert_clean_run(&run_suite(&[]));
}

#[test]
fn clean_agent_passes_every_websocket_case_over_wss() {
    assert_clean_run(&run_suite(&["--tls"]));
}

/// fault -> the cases it must fail, and what each message must name.
const FAULTS: &[(&str, &[&str], &[&str])] = &[
    (
        "wrong-close-code",
        &[
            "ws-text-frame-closed-1003",
            "ws-malformed-record-closed-1003",
        ],
        &["status code 1007", "status code 1003", "R-WS.16"],
    ),
    (
        "retries-too-early",
        &["ws-session-retry-after-refusal"],
        &[
            "outside the window 1000 to 1500 ms",
            "after the refused handshake",
            "R-WS.20",
        ],
    ),
    (
        "ws-close-unanswered",
        &["ws-close-answered"],
        &["got no Close frame", "RFC 6455 5.5.1 (TP-469 7.4)"],
    ),
];

#[test]
fn each_websocket_fault_fails_its_cases_and_no_other() {
    for (fault, failing, symptoms) in FAULTS {
        let run = run_suite(&["--agent-fault", fault]);
        assert_eq!(run.code, 1, "{fault}: {}", run.explain());
        for c in run.cases() {
            let id = c["id"].as_str().unwrap_or_default();
            let want = if failing.contains(&id) {
                "failed"
            } else if id == CLIENT_CASE || id == TLS_CASE {
                // These need --role client and --tls.
                "skipped"
            } else {
                "passed"
            };
            assert_eq!(c["verdict"], want, "{fault}: {id}: {}", c["message"]);
        }
        for id in *failing {
            let (_, message) = run.verdict_of(id);
            for s in *symptoms {
                assert!(message.contains(s), "{fault}: {id}: no {s:?} in {message}");
            }
        }
    }
}

#[test]
fn websocket_faults_are_refused_on_other_mtps() {
    for fault in [
        "wrong-close-code",
        "retries-too-early",
        "keeps-both-sessions",
        "ws-close-unanswered",
    ] {
        let run = run_suite(&["--mtp", "uds", "--agent-fault", fault]);
        assert_eq!(run.code, 2, "{fault}: {}", run.explain());
        assert!(run.stderr.contains("--mtp ws"), "{}", run.stderr);
    }
    // A second session can only be offered to an Agent that is the server.
    let run = run_suite(&["--agent-fault", "keeps-both-sessions"]);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(run.stderr.contains("--role client"), "{}", run.stderr);
    // Only the harness as the server the Agent dials can send it a Close.
    let run = run_suite(&["--role", "client", "--agent-fault", "ws-close-unanswered"]);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(run.stderr.contains("--role server"), "{}", run.stderr);
}

#[test]
fn as_the_client_only_the_second_session_case_runs_and_passes() {
    for extra in [
        &["--role", "client"][..],
        &["--role", "client", "--tls"][..],
    ] {
        let run = run_suite(extra);
        assert_eq!(run.code, 0, "{extra:?}: {}", run.explain());
        let cases = run.cases();
        assert_eq!(cases.len(), CASES);
        for c in &cases {
            if c["id"] == CLIENT_CASE {
                assert_eq!(c["verdict"], "passed", "{extra:?}: {c}");
            } else if c["id"] == TLS_CASE {
                // Any role will do: it asks for TLS only.
                match extra.contains(&"--tls") {
                    true => assert_eq!(c["verdict"], "passed", "{extra:?}: {c}"),
                    false => assert!(common::skipped_for_want_of_tls(c), "{c}"),
                }
            } else {
                assert_eq!(c["verdict"], "skipped", "{extra:?}: {c}");
                assert!(common::skipped_for_want_of_interposer(c), "{c}");
            }
        }
    }
    // keeps-both-sessions: the Agent leaves both sessions open.
    let run = run_suite(&["--role", "client", "--agent-fault", "keeps-both-sessions"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    let (verdict, message) = run.verdict_of(CLIENT_CASE);
    assert_eq!(verdict, "failed");
    for s in ["both sessions still open", "R-WS.4"] {
        assert!(message.contains(s), "no {s:?} in {message}");
    }
}

#[test]
fn on_another_mtp_every_case_is_skipped_with_the_reason() {
    let run = run_suite(&["--mtp", "uds"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let cases = run.cases();
    assert_eq!(cases.len(), CASES);
    for c in &cases {
        assert_eq!(c["verdict"], "skipped", "{c}");
        // The retry case reads the Agent's WebSocket retry parameters
        // first: an Agent on UDS has none, and its condition says so.
        let condition = c["id"] == "ws-session-retry-after-refusal"
            && c["message"]
                .as_str()
                .is_some_and(|m| m.contains("does not meet that condition"));
        assert!(
            common::skipped_for_want_of_interposer(c)
                || common::skipped_for_want_of_tls(c)
                || condition,
            "{c}"
        );
    }
}

#[test]
fn step_language_errors_carry_their_position() {
    let dir = tempfile::tempdir().unwrap();
    for (body, needle) in [
        (
            "      - ws_control: { ping: a, pong: b }\n",
            "exactly one action, found ping, pong",
        ),
        ("      - ws_control: {}\n", "found none"),
        (
            "      - ws_control: { ping: a, status: 503 }\n",
            "go with reject_handshakes",
        ),
        (
            "      - ws_control: { fragment_next: 1 }\n",
            "fragment_next must be",
        ),
        ("      - ws_control: { pingg: a }\n", "pingg"),
        (
            "      - ws_control: { answer_without: cookies }\n",
            "cookies",
        ),
        (
            "      - expect_close: { code: 1006 }\n",
            "not a status code",
        ),
        (
            "      - ws_control: { close: 1005 }\n",
            "close 1005 is not a status code",
        ),
        (
            "      - expect_ws_retries: { retries: 11, session_retry_minimum_wait_interval: 1, session_retry_interval_multiplier: 2000, tolerance_ms: 100 }\n",
            "retries must be 1 to 10",
        ),
        (
            "      - expect_ws_retries: { retries: 2, session_retry_minimum_wait_interval: 1, tolerance_ms: 100 }\n",
            "session_retry_interval_multiplier",
        ),
        (
            "      - expect_close: { code: 1003 }\n        expect: { type: get_resp }\n",
            "expect_close",
        ),
    ] {
        let file = dir.path().join("bad.yaml");
        std::fs::write(
            &file,
            format!("suite: s\ncases:\n  - id: c\n    title: t\n    steps:\n{body}"),
        )
        .unwrap();
        let (code, stdout, stderr) = plugfest_plain(&["validate", file.to_str().unwrap()]);
        // miette wraps long messages: compare word by word.
        let all: String = (stdout + &stderr)
            .split_whitespace()
            .filter(|w| *w != "│")
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(code, 2, "{body}: {all}");
        assert!(all.contains(needle), "{needle}: {all}");
        assert!(
            all.contains("bad.yaml:6:") || all.contains("bad.yaml:7:"),
            "no file:line:column in {all}"
        );
    }
}
