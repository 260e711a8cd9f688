//! Every reference-Agent fault (`Fault::ALL`) against the shipped suites,
//! over WebSocket and over MQTT: the cases the fault must break fail with its
//! symptom in their message, every other case keeps the verdict of a clean
//! run on the same MTP, nothing panics, each run ends in bounded time; a
//! fault that cannot happen on an MTP is refused up front (exit 2). The
//! expectations live in one table, `EXPECTED`; the matrix is printed.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{finish_within, spawn_plugfest, Run};
use usp_plugfest::agent::Fault;

/// Loopback answers come in milliseconds; a silent Agent costs this much
/// per request.
const REQUEST_MS: &str = "300";
const RUN_LIMIT: Duration = Duration::from_secs(240);
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
        Fails(
            Cases::All,
            &[
                "-x' that answers no outstanding request",
                REBOOT_ANSWER_LOST,
            ],
        ),
        Fails(
            Cases::All,
            &["-x' that answers no outstanding request", MQTT_SILENCE],
        ),
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
        Fails(
            Cases::All,
            &["not a protobuf USP Record", REBOOT_ANSWER_LOST],
        ),
        Fails(Cases::All, &["not a protobuf USP Record", MQTT_SILENCE]),
    ),
    (
        "wrong-to-id",
        Fails(Cases::All, &["'proto::somebody-else'", REBOOT_ANSWER_LOST]),
        Fails(Cases::All, &["'proto::somebody-else'", MQTT_SILENCE]),
    ),
    (
        "no-response",
        Fails(
            Cases::All,
            &["no response within 300 ms (the Agent must answer"],
        ),
        Fails(
            Cases::All,
            &["no response within 300 ms (the Agent must answer"],
        ),
    ),
    (
        "disconnect-mid-exchange",
        Fails(
            Cases::All,
            &["connection to the Agent ended", REBOOT_ANSWER_LOST],
        ),
        // The Agent leaves the broker, not our connection: silence.
        Fails(Cases::All, &["no response within 300 ms"]),
    ),
    (
        "no-connect-record",
        Fails(Cases::Only(WS_CONNECT_RECORD_CASES), &[NO_CONNECT_RECORD]),
        // Over a broker the harness's own connection stays up: the new
        // Connect Record is the only sign of a reboot, and it never comes.
        Fails(
            Cases::Only(CONNECT_RECORD_CASES),
            &[NO_CONNECT_RECORD, "no new Connect Record arrived"],
        ),
    ),
    (
        "cert-eid-mismatch",
        Fails(
            Cases::All,
            &["R-SEC.10a", NO_CONNECT_RECORD, REBOOT_ANSWER_LOST],
        ),
        Refused("over MQTT the TLS peer is the broker"),
    ),
    (
        "text-frames",
        Fails(
            Cases::All,
            &["R-WS.14", NO_CONNECT_RECORD, REBOOT_ANSWER_LOST],
        ),
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
    (
        "boot-without-cause",
        Fails(Cases::Only(BOOT_EVENT_CASES), &["argument Cause"]),
        Fails(Cases::Only(BOOT_EVENT_CASES), &["argument Cause"]),
    ),
    (
        "no-transfer-complete",
        Fails(
            Cases::Only(&[
                "fw-download-bad-url",
                "fw-download-success",
                "fw-download-to-active-bank",
            ]),
            &["TransferComplete!"],
        ),
        Fails(
            Cases::Only(&[
                "fw-download-bad-url",
                "fw-download-success",
                "fw-download-to-active-bank",
            ]),
            &["TransferComplete!"],
        ),
    ),
    (
        "notify-when-disabled",
        Fails(
            Cases::Only(&["subs-value-change-stops-when-disabled"]),
            &["expected no ValueChange Notify"],
        ),
        Fails(
            Cases::Only(&["subs-value-change-stops-when-disabled"]),
            &["expected no ValueChange Notify"],
        ),
    ),
    (
        "accepts-bad-checksum",
        Fails(
            Cases::Only(&["fw-download-wrong-checksum"]),
            &["expected cmd_failure, got req_output_args"],
        ),
        Fails(
            Cases::Only(&["fw-download-wrong-checksum"]),
            &["expected cmd_failure, got req_output_args"],
        ),
    ),
    (
        "subscriptions-not-persistent",
        Fails(Cases::Only(PERSISTENT_CASES), &["name = \"Boot!\""]),
        Fails(Cases::Only(PERSISTENT_CASES), &["name = \"Boot!\""]),
    ),
    (
        "challenge-accepts-anything",
        Fails(
            Cases::Only(&[
                "challenge-request-then-wrong-answer",
                "challenge-wrong-answer",
            ]),
            &["ChallengeResponse().Status"],
        ),
        Fails(
            Cases::Only(&[
                "challenge-request-then-wrong-answer",
                "challenge-wrong-answer",
            ]),
            &["ChallengeResponse().Status"],
        ),
    ),
    (
        "no-periodic",
        Fails(Cases::Only(&["localagent-periodic-event"]), &["Periodic!"]),
        Fails(Cases::Only(&["localagent-periodic-event"]), &["Periodic!"]),
    ),
    (
        "no-object-creation",
        Fails(
            Cases::Only(&["subs-object-creation"]),
            &["type ObjectCreation"],
        ),
        Fails(
            Cases::Only(&["subs-object-creation"]),
            &["type ObjectCreation"],
        ),
    ),
    (
        "e2e-wrong-sequence",
        Refused("need --e2e"),
        Refused("need --e2e"),
    ),
    ("e2e-bad-sar", Refused("need --e2e"), Refused("need --e2e")),
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
    (
        "malformed-endpoint-id",
        Fails(Cases::Only(&["endpoint-id-well-formed"]), &["R-ARC.6"]),
        Fails(Cases::Only(&["endpoint-id-well-formed"]), &["R-ARC.6"]),
    ),
    (
        "advertisement-without-name",
        Refused("does not advertise"),
        Refused("does not advertise"),
    ),
    (
        "ignores-permissions",
        Fails(
            Cases::Only(PERMISSION_DENIED_CASES),
            &[
                "expected ERROR, got",
                "err_code: expected",
                "expected 7006 (Permission denied), got success",
                "expected every object oper_failure",
            ],
        ),
        Fails(
            Cases::Only(PERMISSION_DENIED_CASES),
            &[
                "expected ERROR, got",
                "err_code: expected",
                "expected 7006 (Permission denied), got success",
                "expected every object oper_failure",
            ],
        ),
    ),
    (
        "hidden-params-readable",
        Fails(
            Cases::Only(&["trust-hidden-params-get", "trust-hidden-params-gsdm"]),
            &["SerialNumber", "PARAM_READ_WRITE"],
        ),
        Fails(
            Cases::Only(&["trust-hidden-params-get", "trust-hidden-params-gsdm"]),
            &["SerialNumber", "PARAM_READ_WRITE"],
        ),
    ),
    (
        "notify-without-permission",
        Fails(
            Cases::Only(&["trust-notify-not-allowed"]),
            &["expected no ValueChange Notify"],
        ),
        Fails(
            Cases::Only(&["trust-notify-not-allowed"]),
            &["expected no ValueChange Notify"],
        ),
    ),
    (
        "wrong-command-args",
        Fails(Cases::Only(WRONG_COMMAND_ARGS), WRONG_ARGS_SYMPTOMS),
        Fails(Cases::Only(WRONG_COMMAND_ARGS), WRONG_ARGS_SYMPTOMS),
    ),
    (
        "answers-send-resp-false",
        Fails(Cases::Only(SEND_RESP_FALSE_CASES), &["send_resp false"]),
        Fails(Cases::Only(SEND_RESP_FALSE_CASES), &["send_resp false"]),
    ),
    (
        "cancel-ignored",
        Fails(
            Cases::Only(&["fw-download-cancel"]),
            &["expected cmd_failure"],
        ),
        Fails(
            Cases::Only(&["fw-download-cancel"]),
            &["expected cmd_failure"],
        ),
    ),
    // Seen only through the STOMP interposer: tests/stomp_interpose.rs.
    (
        "wrong-heart-beat-header",
        Refused("--mtp stomp --interpose"),
        Refused("--mtp stomp --interpose"),
    ),
    (
        "ignores-subscribe-dest",
        Refused("--mtp stomp --interpose"),
        Refused("--mtp stomp --interpose"),
    ),
    // The WebSocket control cases (mtp-websocket.yaml; tests/ws_control.rs).
    (
        "wrong-close-code",
        Fails(
            Cases::Only(&[
                "ws-text-frame-closed-1003",
                "ws-malformed-record-closed-1003",
                // TP-469 3.1 accepts only the binding's Close 1003.
                "mtp-bad-record-outside-session",
            ]),
            &["status code 1007", "close code 1007"],
        ),
        Refused("it applies with --mtp ws only"),
    ),
    (
        "retries-too-early",
        Fails(
            Cases::Only(&["ws-session-retry-after-refusal"]),
            &["R-WS.20"],
        ),
        Refused("it applies with --mtp ws only"),
    ),
    // The Agent must be the WebSocket server (--role client): tests/ws_control.rs.
    (
        "keeps-both-sessions",
        Refused("--mtp ws --role client"),
        Refused("--mtp ws --role client"),
    ),
    // Applied by `plugfest agent --advertise` and `run --discovery --role
    // client` only (the matrix runs neither): tests/discovery.rs runs
    // test-cases/discovery.yaml against both in a network namespace.
    (
        "advert-wrong-instance",
        Refused("does not advertise"),
        Refused("does not advertise"),
    ),
    // E2E cases run only with --e2e: tests/e2e.rs.
    (
        "e2e-processes-duplicates",
        Refused("need --e2e"),
        Refused("need --e2e"),
    ),
    (
        "e2e-ignores-retransmit",
        Refused("need --e2e"),
        Refused("need --e2e"),
    ),
    (
        "e2e-processes-out-of-order",
        Refused("need --e2e"),
        Refused("need --e2e"),
    ),
    (
        "e2e-accepts-mixed-security",
        Refused("need --e2e"),
        Refused("need --e2e"),
    ),
    (
        "e2e-ignores-new-session",
        Refused("need --e2e"),
        Refused("need --e2e"),
    ),
    (
        "e2e-no-session-context",
        Refused("need --e2e"),
        Refused("need --e2e"),
    ),
    (
        "e2e-never-expires",
        Refused("need --e2e"),
        Refused("need --e2e"),
    ),
    (
        "e2e-integrity-unchecked",
        Refused("need --e2e"),
        Refused("need --e2e"),
    ),
    (
        "e2e-bad-signature",
        Refused("need --e2e"),
        Refused("need --e2e"),
    ),
    (
        "e2e-tls-bad-mac",
        Refused("need --e2e"),
        Refused("need --e2e"),
    ),
    (
        "e2e-tls-no-mac",
        Refused("need --e2e"),
        Refused("need --e2e"),
    ),
    (
        "e2e-tls-accepts-any-certificate",
        Refused("need --e2e"),
        Refused("need --e2e"),
    ),
    (
        "e2e-tls-no-client-certificate",
        Refused("need --e2e"),
        Refused("need --e2e"),
    ),
    (
        "e2e-tls-certificate-names-another",
        Refused("need --e2e"),
        Refused("need --e2e"),
    ),
    (
        "e2e-tls-renegotiation-closes-session",
        Refused("need --e2e"),
        Refused("need --e2e"),
    ),
    (
        "e2e-session-retry-immediately",
        Refused("need --e2e"),
        Refused("need --e2e"),
    ),
    // With --discovery only (the matrix runs without): tests/discovery.rs.
    (
        "no-announcement-after-reboot",
        Refused("does not advertise"),
        Refused("does not advertise"),
    ),
    (
        "answers-own-endpoint-id",
        Fails(
            Cases::Only(&["own-endpoint-id-not-answered"]),
            &["does not answer the Record", "GET_RESP", "R-ARC.2"],
        ),
        Fails(
            Cases::Only(&["own-endpoint-id-not-answered"]),
            &["does not answer the Record", "GET_RESP", "R-ARC.2"],
        ),
    ),
    (
        "answers-any-to-id",
        Fails(
            Cases::Only(&["foreign-to-id-not-answered"]),
            &["does not answer the Record", "GET_RESP", "R-E2E.1"],
        ),
        Fails(
            Cases::Only(&["foreign-to-id-not-answered"]),
            &["does not answer the Record", "GET_RESP", "R-E2E.1"],
        ),
    ),
    (
        "e2e-tls-accepts-expired-certificate",
        Refused("need --e2e"),
        Refused("need --e2e"),
    ),
    (
        "e2e-no-clock-checks-certificate-dates",
        Refused("need --e2e"),
        Refused("need --e2e"),
    ),
    // Applied by `plugfest agent --dhcp` only (the built-in Agent of
    // `run` asks for no lease): tests/dhcp.rs runs test-cases/dhcp.yaml
    // against it in two network namespaces.
    (
        "dhcp-no-vendor-class",
        Refused("asks for no DHCP lease"),
        Refused("asks for no DHCP lease"),
    ),
    (
        "dhcp-ignores-provisioning-code",
        Refused("asks for no DHCP lease"),
        Refused("asks for no DHCP lease"),
    ),
    (
        "dhcp-ignores-controller-url",
        Refused("asks for no DHCP lease"),
        Refused("asks for no DHCP lease"),
    ),
    (
        "secured-roles-ignored",
        Fails(Cases::Only(&["trust-secured-role"]), SECURED_SYMPTOMS),
        Fails(Cases::Only(&["trust-secured-role"]), SECURED_SYMPTOMS),
    ),
    (
        "secured-shown-to-anyone",
        Fails(Cases::Only(SECURED_SHOWN_CASES), SECURED_SYMPTOMS),
        Fails(Cases::Only(SECURED_SHOWN_CASES), SECURED_SYMPTOMS),
    ),
    (
        "local-name-without-mdns",
        Refused("resolves no .local. name"),
        Refused("resolves no .local. name"),
    ),
    (
        "add-permission-all-or-nothing",
        Fails(Cases::Only(ADD_PER_OBJECT_CASES), ADD_PER_OBJECT_SYMPTOMS),
        Fails(Cases::Only(ADD_PER_OBJECT_CASES), ADD_PER_OBJECT_SYMPTOMS),
    ),
    (
        "add-refuses-omitted-unwritable",
        Fails(
            Cases::Only(&["trust-add-unwritable-param-omitted"]),
            &["expected ADD_RESP, got ERROR 7006"],
        ),
        Fails(
            Cases::Only(&["trust-add-unwritable-param-omitted"]),
            &["expected ADD_RESP, got ERROR 7006"],
        ),
    ),
    (
        "untrusted-gets-full-access",
        Fails(
            Cases::Only(&["trust-untrusted-role", "trust-untrusted-role-enforced"]),
            &["AssignedRole: expected"],
        ),
        Fails(
            Cases::Only(&["trust-untrusted-role", "trust-untrusted-role-enforced"]),
            &["AssignedRole: expected"],
        ),
    ),
    (
        "added-role-ignored",
        Fails(
            Cases::Only(&["trust-add-role"]),
            &["expected SET_RESP, got ERROR 7006"],
        ),
        Fails(
            Cases::Only(&["trust-add-role"]),
            &["expected SET_RESP, got ERROR 7006"],
        ),
    ),
    (
        "added-permission-ignored",
        Fails(
            Cases::Only(ADDED_PERMISSION_CASES),
            ADDED_PERMISSION_SYMPTOMS,
        ),
        Fails(
            Cases::Only(ADDED_PERMISSION_CASES),
            ADDED_PERMISSION_SYMPTOMS,
        ),
    ),
    (
        "retries-outside-window",
        Refused("--mtp mqtt --interpose"),
        Refused("--mtp mqtt --interpose"),
    ),
    (
        "new-client-id-on-reconnect",
        Refused("--mtp mqtt --interpose"),
        Refused("--mtp mqtt --interpose"),
    ),
    (
        "ignores-assigned-client-identifier",
        Refused("--mtp mqtt --interpose"),
        Refused("--mtp mqtt --interpose"),
    ),
    (
        "ignores-keep-alive-time",
        Refused("--mtp mqtt --interpose"),
        Refused("--mtp mqtt --interpose"),
    ),
    (
        "ignores-server-keep-alive",
        Refused("--mtp mqtt --interpose"),
        Refused("--mtp mqtt --interpose"),
    ),
    (
        "mqtt-fixed-retry-when-broker-down",
        Refused("--mtp mqtt --interpose"),
        Refused("--mtp mqtt --interpose"),
    ),
    (
        "mqtt-stays-without-subscribe-topic",
        Refused("--mtp mqtt --interpose"),
        Refused("--mtp mqtt --interpose"),
    ),
    (
        "mqtt-ignores-new-subscription",
        Refused("--mtp mqtt --interpose"),
        Refused("--mtp mqtt --interpose"),
    ),
    (
        "mqtt-wrong-qos",
        Refused("--mtp mqtt --interpose"),
        Refused("--mtp mqtt --interpose"),
    ),
    (
        "mqtt-profile-incomplete",
        Fails(Cases::Only(MQTT_PROFILES), &[MQTT_PROFILES_SYMPTOM]),
        Fails(Cases::Only(MQTT_PROFILES), &[MQTT_PROFILES_SYMPTOM]),
    ),
    // Seen only through the STOMP interposer: tests/stomp_interpose.rs.
    (
        "stomp-retries-too-early",
        Refused("--mtp stomp --interpose"),
        Refused("--mtp stomp --interpose"),
    ),
    // The WebSocket closing handshake (TP-469 7.4): tests/ws_control.rs.
    (
        "ws-close-unanswered",
        Fails(Cases::Only(&["ws-close-answered"]), &["got no Close frame"]),
        Refused("applies with --mtp ws --role server only"),
    ),
    // Seen only through the STOMP interposer: tests/stomp_interpose.rs.
    (
        "stomp-ignores-model-destination",
        Refused("--mtp stomp --interpose"),
        Refused("--mtp stomp --interpose"),
    ),
    (
        "stomp-no-disconnect-without-destination",
        Refused("--mtp stomp --interpose"),
        Refused("--mtp stomp --interpose"),
    ),
    (
        "stomp-no-unsubscribe-on-destination-change",
        Refused("--mtp stomp --interpose"),
        Refused("--mtp stomp --interpose"),
    ),
    (
        "stomp-wrong-heart-beat",
        Refused("--mtp stomp --interpose"),
        Refused("--mtp stomp --interpose"),
    ),
    // CoAP only (TP-469 section 5, legacy): tests/coap.rs.
    (
        "coap-wrong-content-format",
        Refused("applies with --mtp coap"),
        Refused("applies with --mtp coap"),
    ),
    (
        "coap-no-block-wise",
        Refused("applies with --mtp coap"),
        Refused("applies with --mtp coap"),
    ),
    (
        "coap-created-not-changed",
        Refused("applies with --mtp coap"),
        Refused("applies with --mtp coap"),
    ),
    (
        "coap-no-retransmit",
        Refused("applies with --mtp coap"),
        Refused("applies with --mtp coap"),
    ),
    (
        "coap-lenient-inbox",
        Refused("applies with --mtp coap"),
        Refused("applies with --mtp coap"),
    ),
    // Seen only through the STOMP interposer: tests/stomp_interpose.rs.
    (
        "stomp-subscribes-before-unsubscribe",
        Refused("--mtp stomp --interpose"),
        Refused("--mtp stomp --interpose"),
    ),
    (
        "stomp-profile-incomplete",
        Fails(Cases::Only(STOMP_PROFILES), &[STOMP_PROFILES_SYMPTOM]),
        Fails(Cases::Only(STOMP_PROFILES), &[STOMP_PROFILES_SYMPTOM]),
    ),
    // TP-469 3.1 (mtp.yaml) on every MTP but WebSocket, whose binding
    // closes with 1003 (wrong-close-code breaks that); 6.9 is in
    // mtp-stomp.yaml: tests/stomp.rs, and UDS in tests/uds.rs.
    (
        "drops-session-on-bad-record",
        Refused("--mtp mqtt, --mtp stomp or --mtp uds"),
        Fails(
            Cases::Only(&["mtp-bad-record-outside-session"]),
            &["the Agent ended its MQTT session and opened another"],
        ),
    ),
    // Needs --tls and a listener that sees the plaintext (the matrix runs
    // without TLS): tests/mtp_tls_cases.rs.
    (
        "mtp-tls-ignored",
        Refused("the mtp-tls-ignored fault applies with --tls"),
        Refused("the mtp-tls-ignored fault applies with --tls"),
    ),
];

/// trust.yaml cases whose refusal or grant is added at run time: a
/// Permission stored disabled changes their outcome (added-permission-ignored).
/// A secured value shown to a Controller whose Role is not in
/// SecuredRoles: the Challenge use case's read and TP-469 2.27 metric 1.
const SECURED_SHOWN_CASES: &[&str] = &["challenge-value-is-hidden", "trust-secured-role"];
const SECURED_SYMPTOMS: &[&str] = &["Value: expected ≠ \"\"", "Value: expected = \"\""];
const ADDED_PERMISSION_CASES: &[&str] = &[
    "trust-set-allowed",
    "trust-operate-allowed",
    // TP-469 2.20 adds the Permission without the notify right.
    "trust-notify-not-allowed",
    "trust-add-search-partial-true",
    "trust-add-search-partial-false",
    "trust-add-unwritable-param-included",
    "trust-add-role",
    // 2.27's read Permission on the Challenge table, stored disabled.
    "trust-secured-role",
];
const ADDED_PERMISSION_SYMPTOMS: &[&str] = &[
    "expected success (err_code 0), got 7026",
    "expected SET_RESP, got ERROR 7006",
    "RequestChallenge().ChallengeID: expected matches",
    "expected 7006 (Permission denied), got success",
    "expected ERROR, got ADD_RESP",
    "expected every object oper_failure",
    "expected no ValueChange Notify",
];

/// stomp-profiles.yaml's case (TP-469 6.1), which runs over any MTP.
const STOMP_PROFILES: &[&str] = &["stomp-required-profiles"];
const STOMP_PROFILES_SYMPTOM: &str =
    "STOMPController:1 requires Device.LocalAgent.Controller.{i}.MTP.{i}.STOMP.";

/// mqtt-profiles.yaml's case (TP-469 11.1), which runs over any MTP.
const MQTT_PROFILES: &[&str] = &["mqtt-required-profiles"];
const MQTT_PROFILES_SYMPTOM: &str =
    "MQTTClientSubscribe:1 requires Device.MQTT.Client.{i}.Subscription.{i}.";

/// trust.yaml's per-object Add refusals (TP-469 2.23, 2.24, 2.26).
const ADD_PER_OBJECT_CASES: &[&str] = &[
    "trust-add-search-partial-true",
    "trust-add-search-partial-false",
    "trust-add-unwritable-param-included",
];
const ADD_PER_OBJECT_SYMPTOMS: &[&str] = &[
    "expected ADD_RESP, got ERROR 7006",
    "got Device.LocalAgent.Controller.*.BootParameter. 7006",
];

/// trust.yaml cases where the read-only Controller must get 7006.
const PERMISSION_DENIED_CASES: &[&str] = &[
    "trust-set-not-allowed",
    "trust-add-not-allowed",
    "trust-delete-not-allowed",
    "trust-operate-not-allowed",
    "trust-assigned-role-change",
    "trust-add-search-partial-true",
    "trust-add-search-partial-false",
    "trust-add-unwritable-param-included",
    "trust-untrusted-role-enforced",
];

const SEND_RESP_FALSE_CASES: &[&str] = &[
    "reboot-operate-send-resp-false",
    "fw-download-send-resp-false",
];

/// GetSupportedDM cases whose `profile:` covers Download()'s arguments
/// (firmware-gsdm-profile, reboot-gsdm-root and reboot-gsdm-root-event-args
/// fail too, with "missing Cause; extra Reason", outside the matrix's suites).
const WRONG_COMMAND_ARGS: &[&str] = &[
    "uspagent-gsdm-root-union",
    "uspagent-gsdm-root-command-args",
];
const WRONG_ARGS_SYMPTOMS: &[&str] = &["missing URL; extra Url", "missing Cause; extra Reason"];

/// A reboot case whose OperateResp was set aside (the fault's symptom is
/// then in the trace): the Agent rebooted before an answer the harness
/// could use arrived.
const REBOOT_ANSWER_LOST: &str = "OperateResp before the connection dropped";

/// Over MQTT an answer the harness sets aside leaves it waiting.
const MQTT_SILENCE: &str = "no response within 300 ms";

/// Cases that check the Connect Record: on connecting, and after a reboot.
const CONNECT_RECORD_CASES: &[&str] = &[
    "mtp-connect-record",
    "fw-activate-reboots-into-new-image",
    "reboot-operate-send-resp-true",
    "reboot-operate-send-resp-false",
    "fw-download-to-active-bank",
    "reboot-boot-event-and-parameters",
    "reboot-forgets-non-persistent-subscriptions",
    "subs-persistent-survives-reboot",
];

/// Over WebSocket, also the WebSocket control cases that see a new
/// session open (mtp-websocket.yaml; skipped over MQTT).
const WS_CONNECT_RECORD_CASES: &[&str] = &[
    "mtp-connect-record",
    "fw-activate-reboots-into-new-image",
    "reboot-operate-send-resp-true",
    "reboot-operate-send-resp-false",
    "fw-download-to-active-bank",
    "reboot-boot-event-and-parameters",
    "reboot-forgets-non-persistent-subscriptions",
    "subs-persistent-survives-reboot",
    "ws-session-establishment",
    "ws-session-retry-after-refusal",
    "ws-connect-record-after-reconnect",
    "ws-answer-without-extension",
];

/// Cases that wait for Boot! with its Cause.
const BOOT_EVENT_CASES: &[&str] = &[
    "fw-activate-reboots-into-new-image",
    "reboot-operate-send-resp-false",
    "reboot-boot-event-and-parameters",
];

/// Cases whose Boot! subscription must survive the reboot.
const PERSISTENT_CASES: &[&str] = &[
    "fw-activate-reboots-into-new-image",
    "fw-download-to-active-bank",
    "reboot-operate-send-resp-false",
    "reboot-boot-event-and-parameters",
    "subs-persistent-survives-reboot",
];

/// Cases that read Device.DeviceInfo.Manufacturer.
const MISSING_MANUFACTURER: &[&str] = &[
    "uspagent-gsdm-root-union",
    "uspagent-gsdm-root-command-args",
    "deviceinfo-get-full-parameter-path",
    "deviceinfo-get-multiple-parameters-same-object",
    "deviceinfo-get-object-path",
    "deviceinfo-get-invalid-and-valid-parameter",
    "deviceinfo-set-read-only-parameter",
    "deviceinfo-gsdm-all-options",
    // TP-469 1.107 on Manufacturer.
    "deviceinfo-gsdm-parameter",
    "localagent-get-parameters-different-objects",
    "trust-readonly-can-get",
    "trust-hidden-params-get",
    "trust-hidden-params-gsdm",
];

/// Cases that type-check or compare boolean / integer values.
const WRONG_VALUE_TYPE: &[&str] = &[
    "controllers-table-names-the-harness",
    "localagent-mtp-table",
    "localagent-periodic-event",
    "fw-download-wrong-checksum",
    "fw-download-success",
    "fw-activate-reboots-into-new-image",
    "deviceinfo-get-object-path",
    "localagent-get-object-profile",
    "localagent-get-instance-path",
    "localagent-get-wildcard-object",
    "localagent-get-max-depth",
    "messages-add-subscription",
    "trust-hidden-params-get",
    // They read Controller.{i}.PeriodicNotifInterval (unsignedInt).
    "trust-set-not-allowed",
    "trust-set-allowed",
    "trust-notify-allowed",
    "trust-notify-not-allowed",
    "trust-assigned-role-change",
    "trust-add-unwritable-param-omitted",
    "trust-add-role",
    // Reads the WebSocket retry parameters into its back-off windows.
    "ws-session-retry-after-refusal",
];

/// Cases that expect a specific non-zero error code.
const ERROR_CODE_CASES: &[&str] = &[
    "deviceinfo-get-invalid-parameter",
    "deviceinfo-get-invalid-and-valid-parameter",
    "deviceinfo-set-read-only-parameter",
    "deviceinfo-gsdm-unsupported-object",
    "messages-get-invalid-object",
    "messages-set-unknown-parameter",
    "trust-set-not-allowed",
    "trust-add-not-allowed",
    "trust-delete-not-allowed",
    "trust-operate-not-allowed",
    "trust-hidden-params-get",
    "trust-assigned-role-change",
    "trust-add-search-partial-true",
    "trust-add-search-partial-false",
    "trust-add-unwritable-param-included",
    "trust-untrusted-role-enforced",
];

/// The suites the matrix runs: those that exercise every Msg type and the
/// Connect Record, and the use cases (their faults, and reboots that must
/// bring the Connect Record back). The per-profile suites add more cases of
/// the same Msg types, not more kinds of failure, and would make each of
/// the 46 runs wait out hundreds more request timeouts.
const MATRIX_SUITES: [&str; 10] = [
    "deviceinfo.yaml",
    "endpoint-id.yaml",
    "localagent.yaml",
    "messages.yaml",
    "mtp.yaml",
    "usecases",
    // Over MQTT every case here is skipped (no WebSocket controls).
    "mtp-websocket.yaml",
    // One GetSupportedDM case each (TP-469 11.1, 6.1), over any MTP.
    "mqtt-profiles.yaml",
    "stomp-profiles.yaml",
    // Last: the permission faults are seen only here (a second Controller).
    "trust.yaml",
];

/// Copies of `MATRIX_SUITES` under `dir`.
fn matrix_cases(dir: &std::path::Path) -> std::path::PathBuf {
    let cases = dir.join("matrix-cases");
    for name in MATRIX_SUITES {
        let from = std::path::Path::new("test-cases").join(name);
        let to = cases.join(name);
        if from.is_dir() {
            std::fs::create_dir_all(&to).unwrap();
            for entry in std::fs::read_dir(&from).unwrap() {
                let entry = entry.unwrap();
                std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
            }
        } else {
            std::fs::create_dir_all(&cases).unwrap();
            std::fs::copy(&from, &to).unwrap();
        }
    }
    cases
}

fn run(mtp: &str, fault: Option<&str>) -> (Run, Duration) {
    let out = tempfile::tempdir().unwrap();
    let cases = matrix_cases(out.path());
    let mut args = vec![
        "run",
        "--mtp",
        mtp,
        "--cases",
        cases.to_str().unwrap(),
        "--timeout-ms",
        REQUEST_MS,
        "--quiet",
    ];
    if let Some(f) = fault {
        args.extend(["--agent-fault", f]);
        if f == "cert-eid-mismatch" {
            args.push("--tls");
        }
    }
    let started = Instant::now();
    let results = out.path().join("out");
    let run = finish_within(spawn_plugfest(&args, &results), &results, RUN_LIMIT);
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
                // broken by a fault: it never runs. One that runs only on
                // the fault's own run (the TLS cases, with the --tls of
                // cert-eid-mismatch) can.
                let ran = clean.get(id).map(String::as_str) != Some("skipped")
                    || c["verdict"] != "skipped";
                let broken = ran
                    && match cases {
                        Cases::All => true,
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
    assert!(clean.len() >= 50, "only {} cases ran", clean.len());

    // PARALLEL workers each take the next fault as soon as their run ends,
    // so one slow run does not hold up a whole batch.
    let next = AtomicUsize::new(0);
    let mut rows: Vec<_> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..PARALLEL)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(e) = EXPECTED.get(i) else {
                            break mine;
                        };
                        mine.push((i, e.0, pick(e), run(mtp, Some(e.0))));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    rows.sort_by_key(|row| row.0);
    let mut problems = Vec::new();
    eprintln!("fault matrix over {mtp} ({} cases):", clean.len());
    for (_, fault, outcome, (run, took)) in &rows {
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
