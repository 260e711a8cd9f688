//! Every reference-Agent fault (`Fault::ALL`) against the shipped suites,
//! over WebSocket and over MQTT: the cases the fault must break fail with its
//! symptom in their message, every other case keeps the verdict of a clean
//! run on the same MTP, nothing panics, each run ends in bounded time; a
//! fault that cannot happen on an MTP is refused up front (exit 2). The
//! expectations live in one table, `EXPECTED`; the matrix is printed.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{finish_within, shipped_case_count, spawn_plugfest, Run};
use usp_plugfest::agent::Fault;

/// Loopback answers come in milliseconds; a silent Agent costs this much
/// per request.
const REQUEST_MS: &str = "400";
const RUN_LIMIT: Duration = Duration::from_secs(90);
/// Runs of one MTP at a time: they mostly wait out request timeouts.
const PARALLEL: usize = 8;

#[derive(Clone, Copy)]
enum Cases {
    /// A message-level fault: every case's exchange is broken.
    All,
    Only(&'static [&'static str]),
}

#[derive(Clone, Copy)]
enum Outcome {
    /// Exit 1; these cases fail, each message holding one of the symptoms.
    Fails(Cases, &'static [&'static str]),
    /// Exit 2 before any case: the fault cannot happen on this MTP.
    Refused(&'static str),
}

use Outcome::{Fails, Refused};

/// A Connect Record sent the faulty way is set aside too, so the
/// connect-record case fails with its own symptom.
const NO_CONNECT_RECORD: &str = "expected a Connect Record for this MTP";

/// fault -> (over WebSocket, over MQTT 5). `cert-eid-mismatch` runs with --tls.
const EXPECTED: &[(&str, Outcome, Outcome)] = &[
    (
        "wrong-msg-id",
        Fails(Cases::All, &["-x' that answers no outstanding request"]),
        Fails(Cases::All, &["-x' that answers no outstanding request"]),
    ),
    (
        "wrong-msg-type",
        Fails(Cases::All, &["response type: expected"]),
        Fails(Cases::All, &["response type: expected"]),
    ),
    (
        "missing-parameter",
        Fails(
            Cases::Only(MISSING_MANUFACTURER),
            &["Manufacturer", "number of parameters returned"],
        ),
        Fails(
            Cases::Only(MISSING_MANUFACTURER),
            &["Manufacturer", "number of parameters returned"],
        ),
    ),
    (
        "wrong-value-type",
        Fails(Cases::Only(WRONG_VALUE_TYPE), &["not-a-number", "\"yes\""]),
        Fails(Cases::Only(WRONG_VALUE_TYPE), &["not-a-number", "\"yes\""]),
    ),
    (
        "wrong-error-code",
        Fails(Cases::Only(ERROR_CODE_CASES), &["7003"]),
        Fails(Cases::Only(ERROR_CODE_CASES), &["7003"]),
    ),
    (
        "malformed-protobuf",
        Fails(Cases::All, &["not a protobuf USP Record"]),
        Fails(Cases::All, &["not a protobuf USP Record"]),
    ),
    (
        "wrong-to-id",
        Fails(Cases::All, &["'proto::somebody-else'"]),
        Fails(Cases::All, &["'proto::somebody-else'"]),
    ),
    (
        "no-response",
        Fails(
            Cases::All,
            &["no response within 400 ms (the Agent must answer"],
        ),
        Fails(
            Cases::All,
            &["no response within 400 ms (the Agent must answer"],
        ),
    ),
    (
        "disconnect-mid-exchange",
        Fails(Cases::All, &["connection to the Agent ended"]),
        // The Agent leaves the broker, not our connection: silence.
        Fails(Cases::All, &["no response within 400 ms"]),
    ),
    (
        "no-connect-record",
        Fails(Cases::Only(&["mtp-connect-record"]), &[NO_CONNECT_RECORD]),
        Fails(Cases::Only(&["mtp-connect-record"]), &[NO_CONNECT_RECORD]),
    ),
    (
        "cert-eid-mismatch",
        Fails(Cases::All, &["R-SEC.10a", NO_CONNECT_RECORD]),
        Refused("over MQTT the TLS peer is the broker"),
    ),
    (
        "text-frames",
        Fails(Cases::All, &["R-WS.14", NO_CONNECT_RECORD]),
        Refused("it applies with --mtp ws only"),
    ),
    (
        "no-response-topic",
        Refused("it applies with --mtp mqtt"),
        Fails(Cases::All, &["without a Response Topic", NO_CONNECT_RECORD]),
    ),
    (
        "wrong-content-type",
        Refused("it applies with --mtp stomp or --mtp mqtt"),
        Fails(Cases::All, &["'text/plain'", NO_CONNECT_RECORD]),
    ),
    (
        "no-reply-to-dest",
        Refused("it applies with --mtp stomp only"),
        Refused("it applies with --mtp stomp only"),
    ),
    // Seen only through the MQTT interposer: tests/mqtt_interpose.rs.
    (
        "ignores-subscribe-topic",
        Refused("--mtp mqtt --interpose"),
        Refused("--mtp mqtt --interpose"),
    ),
    (
        "no-request-response-information",
        Refused("--mtp mqtt --interpose"),
        Refused("--mtp mqtt --interpose"),
    ),
];

/// Cases that read Device.DeviceInfo.Manufacturer.
const MISSING_MANUFACTURER: &[&str] = &[
    "deviceinfo-get-full-parameter-path",
    "deviceinfo-get-multiple-parameters-same-object",
    "deviceinfo-get-object-path",
    "deviceinfo-get-invalid-and-valid-parameter",
    "deviceinfo-set-read-only-parameter",
    "deviceinfo-gsdm-all-options",
    "localagent-get-parameters-different-objects",
];

/// Cases that type-check or compare boolean / integer values.
const WRONG_VALUE_TYPE: &[&str] = &[
    "deviceinfo-get-object-path",
    "localagent-get-object-profile",
    "localagent-get-instance-path",
    "localagent-get-wildcard-object",
    "localagent-get-max-depth",
    "messages-add-subscription",
];

/// Cases that expect a specific non-zero error code.
const ERROR_CODE_CASES: &[&str] = &[
    "deviceinfo-get-invalid-parameter",
    "deviceinfo-get-invalid-and-valid-parameter",
    "deviceinfo-set-read-only-parameter",
    "deviceinfo-gsdm-unsupported-object",
    "messages-get-invalid-object",
    "messages-set-unknown-parameter",
];

fn run(mtp: &str, fault: Option<&str>) -> (Run, Duration) {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec!["run", "--mtp", mtp, "--timeout-ms", REQUEST_MS, "--quiet"];
    if let Some(f) = fault {
        args.extend(["--agent-fault", f]);
        if f == "cert-eid-mismatch" {
            args.push("--tls");
        }
    }
    let started = Instant::now();
    let run = finish_within(spawn_plugfest(&args, out.path()), out.path(), RUN_LIMIT);
    (run, started.elapsed())
}

/// What is wrong with one fault's run, compared with `clean` verdicts.
fn judge(outcome: Outcome, run: &Run, clean: &BTreeMap<String, String>) -> Vec<String> {
    let mut wrong = Vec::new();
    let all = run.stdout.clone() + &run.stderr;
    if all.contains("panicked") {
        wrong.push("panicked".to_string());
    }
    match outcome {
        Refused(needle) => {
            if run.code != 2 || !run.stderr.contains(needle) || !run.cases().is_empty() {
                wrong.push(format!("expected a refusal naming {needle:?}"));
            }
        }
        Fails(cases, symptoms) => {
            if run.code != 1 {
                wrong.push(format!("exit {}, not 1", run.code));
            }
            let verdicts: BTreeMap<String, String> = run.verdicts().into_iter().collect();
            if verdicts.len() != clean.len() {
                wrong.push(format!("{} cases ran, not {}", verdicts.len(), clean.len()));
            }
            for c in run.cases() {
                let id = c["id"].as_str().unwrap_or_default();
                let message = c["message"].as_str().unwrap_or_default();
                // A case the clean run skipped (no interposer) cannot be
                // broken by a fault: it never runs.
                let broken = match cases {
                    Cases::All => clean.get(id).map(String::as_str) != Some("skipped"),
                    Cases::Only(ids) => ids.contains(&id),
                };
                if broken {
                    if c["verdict"] != "failed" {
                        wrong.push(format!("{id}: {}, not failed", c["verdict"]));
                    } else if !symptoms.iter().any(|s| message.contains(s)) {
                        wrong.push(format!("{id}: no symptom {symptoms:?} in {message:?}"));
                    }
                } else if clean.get(id).map(String::as_str) != c["verdict"].as_str() {
                    wrong.push(format!(
                        "{id} disturbed: {} (clean run: {:?}) {message}",
                        c["verdict"],
                        clean.get(id)
                    ));
                }
            }
        }
    }
    wrong
}

fn matrix(mtp: &str, pick: fn(&(&str, Outcome, Outcome)) -> Outcome) {
    // The table covers every fault the Agent has, no more, no less.
    let names: Vec<&str> = EXPECTED.iter().map(|e| e.0).collect();
    let all: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
    assert_eq!(names, all, "EXPECTED must list Fault::ALL in order");

    let (clean_run, _) = run(mtp, None);
    assert_eq!(
        clean_run.code,
        0,
        "clean run over {mtp}: {}",
        clean_run.explain()
    );
    let clean: BTreeMap<String, String> = clean_run.verdicts().into_iter().collect();
    assert_eq!(clean.len(), shipped_case_count());

    let mut rows = Vec::new();
    for chunk in EXPECTED.chunks(PARALLEL) {
        let done: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|e| s.spawn(move || (e.0, pick(e), run(mtp, Some(e.0)))))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        rows.extend(done);
    }
    let mut problems = Vec::new();
    eprintln!("fault matrix over {mtp} ({} cases):", clean.len());
    for (fault, outcome, (run, took)) in &rows {
        let failed = run.verdicts().iter().filter(|(_, v)| v != "passed").count();
        let wrong = judge(*outcome, run, &clean);
        eprintln!(
            "  {fault:<24} exit {} {:>2} failed {:>5.1}s {}",
            run.code,
            failed,
            took.as_secs_f32(),
            if wrong.is_empty() { "ok" } else { "WRONG" }
        );
        if !wrong.is_empty() {
            problems.push(format!("{fault} over {mtp}:\n  {}", wrong.join("\n  ")));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_fault_over_websocket() {
    matrix("ws", |e| e.1);
}

#[test]
fn every_fault_over_mqtt() {
    matrix("mqtt", |e| e.2);
}
