//! One run per Msg- and Record-level fault of the reference Agent, on the
//! core suites (`common::CORE_SUITES`): the harness must fail at least one
//! case with a message that names the problem, and carry on through every
//! other case. tests/fault_matrix.rs runs every fault on every shipped suite;
//! the use-case faults are caught in tests/usecases.rs.

mod common;

use common::{assert_fault_caught, core_cases, plugfest, Run};

/// Runs the core suites against the Agent with `fault` and `extra` flags;
/// also returns how many cases the suites have.
fn run_core(fault: &str, extra: &[&str]) -> (Run, usize) {
    let out = tempfile::tempdir().unwrap();
    let (cases, count) = core_cases(out.path());
    let mut args = vec![
        "run",
        "--cases",
        cases.to_str().expect("a UTF-8 path"),
        "--agent-fault",
        fault,
        "--timeout-ms",
        "400",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    (plugfest(&args, &out.path().join("out")), count)
}

/// The fault fails some case whose message contains `needle`, and every
/// case still ran (the harness carried on).
fn assert_caught(fault: &str, needle: &str) {
    let (run, count) = run_core(fault, &[]);
    assert_fault_caught(fault, &run, needle, count);
}

#[test]
fn wrong_msg_id_is_caught() {
    assert_caught("wrong-msg-id", "R-MSG.9");
}

#[test]
fn wrong_msg_type_is_caught() {
    assert_caught("wrong-msg-type", "GET_INSTANCES_RESP");
}

#[test]
fn missing_parameter_is_caught() {
    assert_caught("missing-parameter", "Manufacturer");
}

#[test]
fn wrong_value_type_is_caught() {
    assert_caught("wrong-value-type", "not-a-number");
}

#[test]
fn wrong_error_code_is_caught() {
    assert_caught("wrong-error-code", "7003");
}

#[test]
fn malformed_protobuf_is_caught() {
    assert_caught("malformed-protobuf", "not a protobuf USP Record");
}

#[test]
fn wrong_to_id_is_caught() {
    assert_caught("wrong-to-id", "proto::somebody-else");
}

#[test]
fn no_response_is_caught() {
    assert_caught("no-response", "no response within 400 ms");
}

#[test]
fn disconnect_mid_exchange_is_caught() {
    assert_caught("disconnect-mid-exchange", "connection to the Agent ended");
}

#[test]
fn no_connect_record_is_caught() {
    assert_caught("no-connect-record", "R-MTP.6");
}

/// Only meaningful over TLS: the Agent's certificate names another
/// Endpoint ID than its Records, which must be set aside (R-SEC.10a).
#[test]
fn cert_eid_mismatch_is_caught_over_tls() {
    let (run, count) = run_core("cert-eid-mismatch", &["--tls"]);
    assert_fault_caught("cert-eid-mismatch", &run, "R-SEC.10a", count);
    assert!(run.failure_messages().contains("proto::plugfest-impostor"));
    // Without --tls the fault cannot apply, and saying so beats a silent pass.
    let out = tempfile::tempdir().unwrap();
    let run = plugfest(&["run", "--agent-fault", "cert-eid-mismatch"], out.path());
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(run.stderr.contains("--tls"), "{}", run.stderr);
}

/// R-WS.14: Records in text frames are set aside, whichever side dials.
#[test]
fn text_frames_are_caught_in_both_roles() {
    for role in ["server", "client"] {
        let (run, count) = run_core("text-frames", &["--role", role]);
        assert_fault_caught("text-frames", &run, "R-WS.14", count);
        assert!(
            run.failure_messages().contains("received a text frame"),
            "harness as {role}: {}",
            run.failure_messages()
        );
    }
}

/// A binding fault on an MTP without that rule would never happen, and the
/// run would pass: it is refused as bad input, naming where it applies.
/// (The MQTT 5 / STOMP runs of these faults are in tests/mqtt.rs and
/// tests/stomp.rs, next to their brokers.)
#[test]
fn a_binding_fault_on_another_mtp_is_bad_input() {
    let refused: [(&[&str], &str, &str); 6] = [
        (&[], "no-response-topic", "--mtp mqtt"),
        (&[], "wrong-content-type", "--mtp stomp"),
        (&[], "no-reply-to-dest", "--mtp stomp"),
        (&["--mtp", "uds"], "text-frames", "--mtp ws"),
        (&["--mtp", "stomp"], "no-response-topic", "--mtp mqtt"),
        (
            &["--mtp", "mqtt", "--mqtt-version", "3.1.1"],
            "wrong-content-type",
            "MQTT 3.1.1 has no Content Type",
        ),
    ];
    for (mtp, fault, hint) in refused {
        let out = tempfile::tempdir().unwrap();
        let mut args = vec!["run", "--agent-fault", fault];
        args.extend_from_slice(mtp);
        let run = plugfest(&args, out.path());
        assert_eq!(run.code, 2, "{fault} {mtp:?}: {}", run.explain());
        assert!(
            run.stderr.contains(fault) && run.stderr.contains(hint),
            "{fault} {mtp:?}: {}",
            run.stderr
        );
    }
}

#[test]
fn every_listed_fault_has_a_test_here() {
    let (code, stdout, _) = common::plugfest_plain(&["agent", "--list-faults"]);
    assert_eq!(code, 0);
    let listed: Vec<&str> = stdout.lines().collect();
    let tested = [
        "wrong-msg-id",
        "wrong-msg-type",
        "missing-parameter",
        "wrong-value-type",
        "wrong-error-code",
        "malformed-protobuf",
        "wrong-to-id",
        "no-response",
        "disconnect-mid-exchange",
        "no-connect-record",
        "cert-eid-mismatch",
        "text-frames",
        "no-response-topic",
        "wrong-content-type",
        "no-reply-to-dest",
        // The DRAFT use-case faults: tests/usecases.rs shows each one failing
        // its use case (and tests/agent_usecases.rs what a Controller sees).
        "boot-without-cause",
        "no-transfer-complete",
        "notify-when-disabled",
        "accepts-bad-checksum",
        "subscriptions-not-persistent",
        "challenge-accepts-anything",
        "no-periodic",
        "no-object-creation",
        // E2E session-context faults (need --e2e): tests/e2e.rs.
        "e2e-wrong-sequence",
        "e2e-bad-sar",
        // Seen only through the MQTT interposer: tests/mqtt_interpose.rs.
        "ignores-subscribe-topic",
        "no-request-response-information",
        // Caught in tests/endpoint_id.rs (the endpoint-id-well-formed case)
        // and tests/discovery.rs (`plugfest discover` reports R-DIS.10).
        "malformed-endpoint-id",
        "advertisement-without-name",
        // Seen by the read-only Controller (test-cases/trust.yaml): tests/trust.rs.
        "ignores-permissions",
        "hidden-params-readable",
        "notify-without-permission",
        // Fails the GetSupportedDM `profile:` cases (TP-469 1.97): the
        // fault matrix (tests/fault_matrix.rs) shows it.
        "wrong-command-args",
        // Fails the send_resp false cases of the use cases (TP-469 1.62,
        // 1.65): the fault matrix shows it.
        "answers-send-resp-false",
        // Fails fw-download-cancel (TP-469 9.8): the fault matrix shows it.
        "cancel-ignored",
        // Seen only through the STOMP interposer: tests/stomp_interpose.rs.
        "wrong-heart-beat-header",
        "ignores-subscribe-dest",
        // The WebSocket control faults: tests/ws_control.rs shows each one
        // failing its case of mtp-websocket.yaml.
        "wrong-close-code",
        "retries-too-early",
        "keeps-both-sessions",
        // Applied by `plugfest agent --advertise`: tests/discovery.rs shows
        // it failing the discovery suite's cases (R-DIS.8).
        "advert-wrong-instance",
        // The record-level E2E faults (need --e2e): tests/e2e.rs shows each
        // one failing its TP-469 section 3 case over WebSocket and MQTT, and
        // e2e-no-session-context getting the E2E cases skipped (7106).
        "e2e-processes-duplicates",
        "e2e-ignores-retransmit",
        "e2e-processes-out-of-order",
        "e2e-accepts-mixed-security",
        "e2e-ignores-new-session",
        "e2e-no-session-context",
        "e2e-never-expires",
        "e2e-integrity-unchecked",
        "e2e-bad-signature",
        "e2e-tls-bad-mac",
        "e2e-tls-no-mac",
        "e2e-tls-accepts-any-certificate",
        "e2e-tls-no-client-certificate",
        "e2e-tls-certificate-names-another",
        "e2e-tls-renegotiation-closes-session",
        "e2e-session-retry-immediately",
        // Applied with --discovery only: tests/discovery.rs shows it
        // failing TP-469 8.5 (mdns-advert-srv-txt).
        "no-announcement-after-reboot",
        // Fail TP-469 2.1 / 2.2 (test-cases/endpoint-id.yaml) in the fault
        // matrix, over WebSocket and MQTT.
        "answers-own-endpoint-id",
        "answers-any-to-id",
        "e2e-tls-accepts-expired-certificate",
        // Needs --agent-without-absolute-time too: tests/e2e.rs shows it
        // failing TP-469 2.6.
        "e2e-no-clock-checks-certificate-dates",
        // Applied by `plugfest agent --dhcp`: tests/dhcp.rs shows each
        // failing its case of test-cases/dhcp.yaml (TP-469 8.1-8.3).
        "dhcp-no-vendor-class",
        "dhcp-ignores-provisioning-code",
        "dhcp-ignores-controller-url",
        // Fail TP-469 2.27 (trust-secured-role): tests/trust.rs.
        "secured-roles-ignored",
        "secured-shown-to-anyone",
        // TP-469 8.4 with `plugfest agent --connect ws://NAME.local...`:
        // tests/discovery.rs.
        "local-name-without-mdns",
        // The per-object Add and UntrustedRole / added Role faults:
        // tests/trust.rs shows each failing its TP-469 2.x case.
        "add-permission-all-or-nothing",
        "add-refuses-omitted-unwritable",
        "untrusted-gets-full-access",
        "added-role-ignored",
        "added-permission-ignored",
        // Seen only through the MQTT interposer (TP-469 11.4, 11.5, 11.7,
        // 11.16): tests/mqtt_interpose.rs.
        "retries-outside-window",
        "new-client-id-on-reconnect",
        "ignores-assigned-client-identifier",
        "ignores-keep-alive-time",
        "ignores-server-keep-alive",
        // TP-469 11.6, 11.9, 11.10, 11.13 (interposer):
        // tests/mqtt_interpose.rs.
        "mqtt-fixed-retry-when-broker-down",
        "mqtt-stays-without-subscribe-topic",
        "mqtt-ignores-new-subscription",
        "mqtt-wrong-qos",
        // Fails mqtt-required-profiles (TP-469 11.1) over every MTP: the
        // fault matrix shows it.
        "mqtt-profile-incomplete",
        // Seen only through the STOMP interposer (TP-469 6.3):
        // tests/stomp_interpose.rs.
        "stomp-retries-too-early",
        // The WebSocket closing handshake (TP-469 7.4): tests/ws_control.rs.
        "ws-close-unanswered",
        // Seen only through the STOMP interposer (TP-469 6.6-6.8, 6.10):
        // tests/stomp_interpose.rs.
        "stomp-ignores-model-destination",
        "stomp-no-disconnect-without-destination",
        "stomp-no-unsubscribe-on-destination-change",
        "stomp-wrong-heart-beat",
        // CoAP only (TP-469 section 5, legacy): tests/coap.rs.
        "coap-wrong-content-format",
        "coap-no-block-wise",
        "coap-created-not-changed",
        "coap-no-retransmit",
        "coap-lenient-inbox",
        // Seen only through the STOMP interposer (TP-469 6.10):
        // tests/stomp_interpose.rs.
        "stomp-subscribes-before-unsubscribe",
        // Fails stomp-required-profiles (TP-469 6.1) over every MTP: the
        // fault matrix shows it.
        "stomp-profile-incomplete",
        // TP-469 3.1 and 6.9 over MQTT, STOMP and UDS: the fault matrix
        // (MQTT), tests/uds.rs and tests/stomp.rs.
        "drops-session-on-bad-record",
        // Seen by a listener that expects TLS (TP-469 4.1, 7.9, 11.3,
        // 6.11): tests/mtp_tls_cases.rs, over WebSocket and through both
        // interposers.
        "mtp-tls-ignored",
    ];
    assert_eq!(listed, tested);
}

#[test]
fn an_unknown_fault_is_bad_input() {
    let out = tempfile::tempdir().unwrap();
    let run = plugfest(&["run", "--agent-fault", "bogus"], out.path());
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("wrong-msg-id"), "{}", run.stderr);
}
