//! The `endpoint_ids` step against the reference Agent: a sound Agent's
//! Endpoint IDs pass; with the `malformed-endpoint-id` fault the case fails
//! naming R-ARC.6 and the id, and the Agent's other answers still pass.

mod common;

use common::plugfest;

const CASE: &str = "endpoint-id-well-formed";

#[test]
fn well_formed_ids_pass_over_websocket_and_uds() {
    for mtp in ["ws", "uds"] {
        let out = tempfile::tempdir().unwrap();
        let run = plugfest(&["run", "--mtp", mtp, "--case", CASE], out.path());
        assert_eq!(
            run.code,
            0,
            "{mtp}: {}\n{}",
            run.failure_messages(),
            run.explain()
        );
        assert_eq!(
            run.verdicts(),
            vec![(CASE.to_string(), "passed".to_string())]
        );
        // The step checked at least the handshake's and the Records' ids.
        let json = run.results.as_ref().unwrap().to_string();
        assert!(
            json.contains("Connect Record's from_id is well-formed"),
            "{json}"
        );
    }
}

#[test]
fn a_malformed_agent_endpoint_id_fails_naming_the_rule() {
    let out = tempfile::tempdir().unwrap();
    let run = plugfest(
        &[
            "run",
            "--case",
            CASE,
            "--case",
            "deviceinfo-get-full-parameter-path",
            "--agent-fault",
            "malformed-endpoint-id",
        ],
        out.path(),
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    let verdicts = run.verdicts();
    assert!(
        verdicts.contains(&(CASE.into(), "failed".into())),
        "{verdicts:?}"
    );
    // Only the identity check breaks: the Agent still answers.
    assert!(
        verdicts.contains(&("deviceinfo-get-full-parameter-path".into(), "passed".into())),
        "{verdicts:?}"
    );
    let msgs = run.failure_messages();
    assert!(msgs.contains("R-ARC.6"), "{msgs}");
    assert!(msgs.contains("more than 50"), "{msgs}");
    assert!(
        msgs.contains("proto::plugfest-reference-agent-xxx"),
        "{msgs}"
    );
}
