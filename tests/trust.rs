//! Controller trust end to end: test-cases/trust.yaml against the built-in
//! Agent, acting as its read-only Controller over WebSocket (both roles,
//! and wss), MQTT (5, 3.1.1, TLS, interposed), STOMP and UDS (both roles);
//! each permission fault fails exactly its cases with a message naming
//! what came back and the TP-469 id, over WebSocket, MQTT and STOMP alike;
//! a Controller the run cannot act as (CoAP) skips the case with the
//! reason; target files list Controllers.

mod common;

use common::{plugfest, Run};
use std::path::Path;
use usp_plugfest::broker::rabbitmq::RabbitMq;

const TRUST: &str = "test-cases/trust.yaml";
const CASES: usize = 22;
/// Cases where only the target's own Controller acts (TP-469 2.23-2.26):
/// they run on every MTP.
const OWN_CONTROLLER_ONLY: usize = 4;

fn run_trust(extra: &[&str]) -> Run {
    let out = tempfile::tempdir().expect("temp dir");
    let mut args = vec!["run", "--cases", TRUST, "--quiet", "--timeout-ms", "1000"];
    args.extend_from_slice(extra);
    plugfest(&args, out.path())
}

fn failed(run: &Run) -> Vec<(String, String)> {
    run.cases()
        .into_iter()
        .filter(|c| c["verdict"] != "passed")
        .map(|c| {
            (
                c["id"].as_str().unwrap_or_default().to_string(),
                c["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Every case passed, and the read-only Controller's own Records, sent
/// from its Endpoint ID and answered to it, are in the case traces.
fn assert_all_passed_as_both(extra: &[&str]) {
    let run = run_trust(extra);
    assert_eq!(
        run.code,
        0,
        "{extra:?}: {}\n{}",
        run.failure_messages(),
        run.explain()
    );
    let cases = run.cases();
    assert_eq!(cases.len(), CASES, "{extra:?}");
    assert!(
        cases.iter().all(|c| c["verdict"] == "passed"),
        "{extra:?}: {}",
        run.failure_messages()
    );
    let records: Vec<(String, String)> = cases
        .iter()
        .flat_map(|c| c["trace"].as_array().cloned().unwrap_or_default())
        .map(|e| {
            let field = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (field("direction"), field("record"))
        })
        .collect();
    for (direction, arrow) in [
        ("sent", "proto::plugfest-readonly -> "),
        ("received", " -> proto::plugfest-readonly"),
    ] {
        assert!(
            records
                .iter()
                .any(|(d, r)| d == direction && r.contains(arrow)),
            "{extra:?}: no {direction} Record with {arrow:?}"
        );
    }
}

#[test]
fn trust_suite_passes_as_both_controllers_in_every_websocket_setup() {
    for extra in [
        &[][..],
        &["--role", "client"][..],
        &["--tls"][..],
        &["--tls", "--role", "client"][..],
    ] {
        assert_all_passed_as_both(extra);
    }
}

#[test]
fn trust_suite_passes_as_both_controllers_over_mqtt_and_uds() {
    for extra in [
        &["--mtp", "mqtt"][..],
        &["--mtp", "mqtt", "--mqtt-version", "3.1.1"][..],
        &["--mtp", "mqtt", "--tls"][..],
        // The read-only Controller's clients bypass the interposer.
        &["--mtp", "mqtt", "--interpose"][..],
        &["--mtp", "uds"][..],
        &["--mtp", "uds", "--role", "client"][..],
    ] {
        assert_all_passed_as_both(extra);
    }
}

/// One RabbitMQ for every STOMP run here (it takes seconds to start); each
/// run's queues carry its process id, so runs never read each other's.
#[test]
fn over_stomp_the_suite_passes_and_the_permission_faults_fail_their_cases() {
    let broker = RabbitMq::start().unwrap_or_else(|e| panic!("{e}"));
    let address = broker.stomp_address();
    let stomp = ["--mtp", "stomp", "--stomp-broker", address.as_str()];
    assert_all_passed_as_both(&stomp);
    permission_faults_fail_their_cases(&stomp);
}

#[test]
fn each_permission_fault_fails_its_cases_with_the_rule() {
    permission_faults_fail_their_cases(&[]);
}

#[test]
fn over_mqtt_each_permission_fault_fails_the_same_cases() {
    permission_faults_fail_their_cases(&["--mtp", "mqtt"]);
}

/// Each permission fault, over the MTP `mtp` picks, fails exactly its
/// cases (the same on every MTP), each message naming the symptom and rule.
fn permission_faults_fail_their_cases(mtp: &[&str]) {
    let expected: [(&str, &[&str], &[&str]); 10] = [
        (
            "ignores-permissions",
            &[
                "trust-set-not-allowed",
                "trust-add-not-allowed",
                "trust-delete-not-allowed",
                "trust-operate-not-allowed",
                "trust-assigned-role-change",
                "trust-add-search-partial-true",
                "trust-add-search-partial-false",
                "trust-add-unwritable-param-included",
                "trust-untrusted-role-enforced",
            ],
            &[
                "(as readonly)",
                "expected 7006 (Permission denied), got success",
                "expected ERROR, got ADD_RESP",
                "expected every object oper_failure",
            ],
        ),
        (
            "hidden-params-readable",
            &["trust-hidden-params-get", "trust-hidden-params-gsdm"],
            &["(as readonly)"],
        ),
        (
            "notify-without-permission",
            &["trust-notify-not-allowed"],
            &["expected no ValueChange Notify"],
        ),
        (
            "add-permission-all-or-nothing",
            &[
                "trust-add-search-partial-true",
                "trust-add-search-partial-false",
                "trust-add-unwritable-param-included",
            ],
            &[
                "expected ADD_RESP, got ERROR 7006",
                "got Device.LocalAgent.Controller.*.BootParameter. 7006",
            ],
        ),
        (
            "add-refuses-omitted-unwritable",
            &["trust-add-unwritable-param-omitted"],
            &["expected ADD_RESP, got ERROR 7006"],
        ),
        (
            "untrusted-gets-full-access",
            &["trust-untrusted-role", "trust-untrusted-role-enforced"],
            // The reference Agent's UntrustedRole is empty until
            // trust-untrusted-role-enforced sets it to the read-only Role.
            &[
                "AssignedRole: expected = \"\"",
                "AssignedRole: expected = \"Device.LocalAgent.ControllerTrust.Role.2\"",
            ],
        ),
        (
            "secured-roles-ignored",
            &["trust-secured-role"],
            &["Value: expected ≠ \"\""],
        ),
        (
            "secured-shown-to-anyone",
            &["trust-secured-role"],
            &["Value: expected = \"\""],
        ),
        (
            "added-role-ignored",
            &["trust-add-role"],
            &["expected SET_RESP, got ERROR 7006"],
        ),
        (
            "added-permission-ignored",
            &[
                "trust-set-allowed",
                "trust-operate-allowed",
                "trust-notify-not-allowed",
                "trust-add-search-partial-true",
                "trust-add-search-partial-false",
                "trust-add-unwritable-param-included",
                "trust-add-role",
                // 2.27's read Permission on the Challenge table, stored disabled.
                "trust-secured-role",
            ],
            &[
                "expected SET_RESP, got ERROR 7006",
                "expected success (err_code 0), got 7026",
                // 2.20's Permission without the notify right, stored disabled.
                "expected no ValueChange Notify",
                "RequestChallenge().ChallengeID: expected matches",
                "expected 7006 (Permission denied), got success",
                "expected ERROR, got ADD_RESP",
                "expected every object oper_failure",
            ],
        ),
    ];
    for (fault, cases, symptoms) in expected {
        let mut args = mtp.to_vec();
        args.extend(["--agent-fault", fault]);
        let run = run_trust(&args);
        assert_eq!(run.code, 1, "{mtp:?} {fault}: {}", run.explain());
        let got = failed(&run);
        let ids: Vec<&str> = got.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, cases, "{mtp:?} {fault}: {}", run.failure_messages());
        for (id, message) in &got {
            assert!(
                symptoms.iter().any(|s| message.contains(s)),
                "{mtp:?} {fault} {id}: {message}"
            );
            // Each names its rule: the TP-469 id or the requirement.
            assert!(
                message.contains("[TP-469 2.")
                    || message.contains("[R-GSP.0]")
                    || message.contains("AssignedRole")
                    || message.contains("[TR-181 LocalAgent.ControllerTrust.UntrustedRole"),
                "{mtp:?} {fault} {id}: {message}"
            );
        }
        // What came back is named.
        let named = match fault {
            "ignores-permissions" => Some("expected ERROR, got SET_RESP"),
            "hidden-params-readable" => Some("SerialNumber: present with value"),
            _ => None,
        };
        if let Some(named) = named {
            assert!(run.failure_messages().contains(named), "{mtp:?} {fault}");
        }
    }
}

#[test]
fn over_coap_the_cases_skip_with_the_reason_and_the_faults_are_refused() {
    let run = run_trust(&["--mtp", "coap"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let skipped: Vec<_> = run
        .cases()
        .into_iter()
        .filter(|c| c["verdict"] == "skipped")
        .collect();
    // Every case but 2.23-2.26 acts as `readonly` in some step.
    assert_eq!(
        skipped.len(),
        CASES - OWN_CONTROLLER_ONLY,
        "{}",
        run.failure_messages()
    );
    let message = skipped[0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("acts as Controller `readonly`") && message.contains("not over CoAP"),
        "{message}"
    );

    let run = run_trust(&["--mtp", "coap", "--agent-fault", "ignores-permissions"]);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(
        run.stderr
            .contains("can only be seen by a second Controller"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_case_acting_as_an_unlisted_controller_is_skipped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("as.yaml");
    std::fs::write(
        &file,
        "suite: as\ncases:\n  - id: as-nobody\n    title: t\n    as: nobody\n    steps:\n      - get: { paths: [Device.DeviceInfo.Manufacturer] }\n  - id: as-default\n    title: t\n    steps:\n      - as: default\n        get: { paths: [Device.DeviceInfo.Manufacturer] }\n",
    )
    .expect("case file written");
    let out = dir.path().join("out");
    let run = plugfest(
        &[
            "run",
            "--cases",
            file.to_str().unwrap_or_default(),
            "--quiet",
        ],
        Path::new(&out),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    let cases = run.cases();
    assert_eq!(cases[0]["verdict"], "skipped");
    let message = cases[0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("`nobody`") && message.contains("does not list"),
        "{message}"
    );
    assert_eq!(cases[1]["verdict"], "passed", "{}", run.failure_messages());
}

#[test]
fn a_target_file_lists_more_controllers() {
    let text = r#"
name: two controllers
mtp: websocket
websocket: { role: client, url: "ws://127.0.0.1:9/usp" }
controllers:
  - { name: readonly, endpoint_id: "proto::ro", role: Read Only }
  - { name: other, endpoint_id: "proto::other", listen: "127.0.0.1:0" }
"#;
    let t = usp_plugfest::target::Target::parse(text, "t.yaml").expect("parses");
    assert_eq!(t.controllers.len(), 2);
    assert_eq!(t.controllers[0].name, "readonly");
    assert_eq!(t.controllers[0].role.as_deref(), Some("Read Only"));
    assert_eq!(t.controllers[1].listen.as_deref(), Some("127.0.0.1:0"));
    let bad = text.replace("role: Read Only", "rank: 1");
    assert!(usp_plugfest::target::Target::parse(&bad, "t.yaml").is_err());
}

#[test]
fn a_broker_target_names_each_controllers_topic_or_destination() {
    let mqtt = "name: m\nmtp: mqtt\nmqtt: { broker: \"127.0.0.1:1883\" }\ncontrollers:\n  - { name: readonly, endpoint_id: \"proto::ro\", topic: usp/controllers/ro }\n";
    let t = usp_plugfest::target::Target::parse(mqtt, "t.yaml").expect("parses");
    assert_eq!(
        t.controllers[0].topic.as_deref(),
        Some("usp/controllers/ro")
    );
    let stomp = "name: s\nmtp: stomp\nstomp: { broker: \"127.0.0.1:61613\" }\ncontrollers:\n  - { name: readonly, endpoint_id: \"proto::ro\", destination: /queue/ro }\n";
    let t = usp_plugfest::target::Target::parse(stomp, "t.yaml").expect("parses");
    assert_eq!(t.controllers[0].destination.as_deref(), Some("/queue/ro"));
    // A key of another MTP would leave the harness listening where the
    // Agent never sends: refused, at its line and column.
    let wrong = stomp.replace("destination: /queue/ro", "topic: usp/controllers/ro");
    let err = usp_plugfest::target::Target::parse(&wrong, "t.yaml")
        .expect_err("topic on a STOMP target")
        .to_string();
    assert!(
        err.contains("t.yaml:5:") && err.contains("for mtp: mqtt only"),
        "{err}"
    );
}

/// `plugfest agent` listening on a free port, killed on drop.
fn standalone_agent(args: &[&str]) -> common::KillOnDrop {
    let agent = common::agent(args);
    std::thread::sleep(std::time::Duration::from_millis(300));
    agent
}

fn run_target(dir: &Path, target: &str) -> Run {
    let file = dir.join("target.yaml");
    std::fs::write(&file, target).expect("target written");
    plugfest(
        &[
            "run",
            "--target",
            file.to_str().unwrap_or_default(),
            "--cases",
            TRUST,
            "--quiet",
        ],
        &dir.join("out"),
    )
}

#[test]
fn a_target_file_with_a_readonly_controller_runs_the_trust_suite() {
    let port = common::free_port();
    let _agent = standalone_agent(&["--listen", &format!("127.0.0.1:{port}")]);
    let dir = tempfile::tempdir().expect("temp dir");
    let run = run_target(
        dir.path(),
        &format!(
            "name: standalone\nmtp: websocket\nwebsocket: {{ role: client, url: \"ws://127.0.0.1:{port}/\" }}\ncontrollers:\n  - {{ name: readonly, endpoint_id: \"proto::plugfest-readonly\", role: Read Only }}\n"
        ),
    );
    assert_eq!(run.code, 0, "{}\n{}", run.failure_messages(), run.explain());
    assert_eq!(run.cases().len(), CASES);
}

#[test]
fn a_uds_target_file_with_a_readonly_controller_runs_the_trust_suite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("agent.sock");
    let socket = socket.to_str().unwrap_or_default();
    let _agent = standalone_agent(&["--uds-listen", socket]);
    // The harness connects to the Agent's socket once per Controller.
    let run = run_target(
        dir.path(),
        &format!(
            "name: standalone\nmtp: uds\nuds: {{ role: client, path: \"{socket}\" }}\ncontrollers:\n  - {{ name: readonly, endpoint_id: \"proto::plugfest-readonly\" }}\n"
        ),
    );
    assert_eq!(run.code, 0, "{}\n{}", run.failure_messages(), run.explain());
    assert_eq!(run.cases().len(), CASES);
    assert!(run.cases().iter().all(|c| c["verdict"] == "passed"));
}

#[test]
fn a_second_controller_the_agent_never_reaches_skips_its_cases_not_the_run() {
    let port = common::free_port();
    let never = common::free_port();
    let dir = tempfile::tempdir().expect("temp dir");
    let target = format!(
        "name: dialing Agent\nmtp: websocket\nwebsocket: {{ role: server, listen: \"127.0.0.1:{port}\", path: /usp }}\ntimeouts: {{ connect_ms: 3000, request_ms: 2000 }}\ncontrollers:\n  - {{ name: readonly, endpoint_id: \"proto::plugfest-readonly\", listen: \"127.0.0.1:{never}\" }}\n"
    );
    let file = dir.path().join("target.yaml");
    std::fs::write(&file, target).expect("target written");
    // The Agent dials only the target's own Controller.
    let _agent = standalone_agent(&["--connect", &format!("ws://127.0.0.1:{port}/usp")]);
    let run = plugfest(
        &[
            "run",
            "--target",
            file.to_str().unwrap_or_default(),
            "--cases",
            TRUST,
            "--quiet",
        ],
        &dir.path().join("out"),
    );
    let verdicts = run.verdicts();
    assert_eq!(verdicts.len(), CASES, "{}", run.explain());
    // The first case that needs it fails (no connection), the rest are
    // skipped saying so; none is "not run" for an unreachable Agent.
    let messages = run.failure_messages();
    assert!(!messages.contains("not run"), "{messages}");
    assert!(
        messages.contains("failed earlier in this run"),
        "{messages}"
    );
    assert!(
        verdicts.iter().filter(|(_, v)| v == "skipped").count() >= CASES - OWN_CONTROLLER_ONLY - 2,
        "{messages}"
    );
}
