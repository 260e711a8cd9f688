//! The TLS cases end to end (TP-469 4.1, 7.9, 11.3, 6.11): with `--tls`
//! the reference Agent passes test-cases/mtp.yaml and its MTP's suite over
//! WebSocket (the harness as the server it dials) and through the MQTT and
//! STOMP interposers listening with TLS (`--interpose --tls`); the
//! `mtp-tls-ignored` fault (the Agent dials in plaintext) fails exactly the
//! TLS cases of those suites, each naming the plaintext connection, and
//! every other case keeps its verdict. Without a listener that can see the
//! plaintext the fault is refused. Each run starts its own broker.

mod common;

use std::path::{Path, PathBuf};

use common::{plugfest, plugfest_plain, Run};

const FAULT: &str = "mtp-tls-ignored";

/// The suites of one MTP's run, copied into one directory (`--cases`
/// takes one path).
fn suites(dir: &Path, files: &[&str]) -> PathBuf {
    let cases = dir.join("cases");
    std::fs::create_dir_all(&cases).unwrap();
    for file in files {
        std::fs::copy(Path::new("test-cases").join(file), cases.join(file)).unwrap();
    }
    cases
}

fn run(files: &[&str], extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let cases = suites(dir.path(), files);
    let mut args = vec![
        "run",
        "--cases",
        cases.to_str().unwrap(),
        "--quiet",
        "--tls",
    ];
    args.extend_from_slice(extra);
    plugfest(&args, &dir.path().join("out"))
}

/// The clean run passes `tls_cases` (never skips them) and every other
/// case passes or is skipped as without TLS; the faulty run fails exactly
/// `tls_cases`, each message naming the plaintext connection and `symptom`,
/// and keeps every other case's verdict.
fn assert_tls_cases(files: &[&str], extra: &[&str], tls_cases: &[&str], symptom: &str) {
    let clean = run(files, extra);
    assert_eq!(
        clean.code,
        0,
        "{extra:?}: {}\n{}",
        clean.failure_messages(),
        clean.explain()
    );
    for id in tls_cases {
        let (verdict, message) = clean.verdict_of(id);
        assert_eq!(verdict, "passed", "{extra:?} {id}: {message}");
    }
    let mut with_fault = extra.to_vec();
    with_fault.extend(["--agent-fault", FAULT]);
    let faulty = run(files, &with_fault);
    assert_eq!(faulty.code, 1, "{with_fault:?}: {}", faulty.explain());
    let before: std::collections::BTreeMap<String, String> = clean.verdicts().into_iter().collect();
    for (id, verdict) in faulty.verdicts() {
        if tls_cases.contains(&id.as_str()) {
            assert_eq!(verdict, "failed", "{with_fault:?} {id}");
            let (_, message) = faulty.verdict_of(&id);
            for s in ["plaintext connection", symptom, "not a TLS ClientHello"] {
                assert!(
                    message.contains(s),
                    "{with_fault:?} {id}: {s:?} not in {message}"
                );
            }
        } else {
            assert_eq!(Some(&verdict), before.get(&id), "{with_fault:?} {id}");
        }
    }
}

#[test]
fn over_websocket_the_tls_cases_pass_and_a_plaintext_agent_fails_them() {
    assert_tls_cases(
        &["mtp.yaml", "mtp-websocket.yaml"],
        &[],
        &["mtp-tls-certificates", "ws-tls-after-reboot"],
        "an HTTP request",
    );
}

#[test]
fn through_the_mqtt_interposer_over_tls_the_tls_cases_pass_and_a_plaintext_agent_fails_them() {
    assert_tls_cases(
        &["mtp.yaml", "mtp-mqtt.yaml"],
        &["--mtp", "mqtt", "--interpose"],
        &["mtp-tls-certificates", "mqtt-tls-after-reconnect"],
        "an MQTT CONNECT",
    );
}

#[test]
fn through_the_stomp_interposer_over_tls_the_tls_cases_pass_and_a_plaintext_agent_fails_them() {
    assert_tls_cases(
        &["mtp.yaml", "mtp-stomp.yaml"],
        &["--mtp", "stomp", "--interpose"],
        &["mtp-tls-certificates", "stomp-tls-after-reconnect"],
        "a STOMP frame",
    );
}

#[test]
fn the_tls_case_records_what_was_negotiated() {
    let run = run(&["mtp.yaml"], &[]);
    let case = run
        .cases()
        .into_iter()
        .find(|c| c["id"] == "mtp-tls-certificates")
        .expect("the 4.1 case ran");
    let received = case.to_string();
    // The version, the cipher suite and the Agent's certificate (its
    // Endpoint ID in the SAN, R-SEC.0a).
    for s in [
        "TLSv1_",
        "TLS13_",
        "urn:bbf:usp:id:proto::plugfest-reference-agent",
    ] {
        assert!(received.contains(s), "{s:?} not in {received}");
    }
}

#[test]
fn without_a_listener_that_sees_the_plaintext_the_fault_is_refused() {
    for args in [
        &["run", "--agent-fault", FAULT][..],
        &["run", "--tls", "--role", "client", "--agent-fault", FAULT][..],
        &["run", "--mtp", "mqtt", "--tls", "--agent-fault", FAULT][..],
    ] {
        let (code, _, stderr) = plugfest_plain(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains("applies with --tls"), "{args:?}: {stderr}");
    }
}
