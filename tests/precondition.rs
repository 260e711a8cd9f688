//! `precondition: true`: a case whose setup finds nothing to work on (an
//! empty table the profile allows) is skipped with its condition named,
//! never failed and never passed; without the flag the same case fails.
//! The loader refuses the flag on a step without a capture.

mod common;

use common::{plugfest, plugfest_plain};

/// One case: GetInstances of Subscriptions with an ID no one uses (an
/// empty answer), capturing the first instance.
fn case_file(dir: &std::path::Path, precondition: bool) -> std::path::PathBuf {
    let flag = if precondition {
        "\n        precondition: true"
    } else {
        ""
    };
    let text = format!(
        r#"suite: precondition
cases:
  - id: needs-a-row
    title: needs a Subscription row nobody made
    condition: the Agent has a Subscription with ID plugfest-nobody
    setup:
      - get_instances: {{ paths: ['Device.LocalAgent.Subscription.[ID=="plugfest-nobody"].'], first_level_only: true }}
        capture: {{ row: instantiated_path }}{flag}
    steps:
      - get: {{ paths: ["${{row}}Enable"] }}
"#
    );
    let path = dir.join("case.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn only_case(precondition: bool) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let cases = case_file(dir.path(), precondition);
    let run = plugfest(
        &["run", "--cases", cases.to_str().unwrap(), "--quiet"],
        &dir.path().join("out"),
    );
    run.verdict_of("needs-a-row")
}

#[test]
fn an_unmet_precondition_skips_the_case_and_names_the_condition() {
    let (verdict, message) = only_case(true);
    assert_eq!(verdict, "skipped", "{message}");
    assert!(message.contains("not applicable"), "{message}");
    assert!(
        message.contains(
            "the case needs \"the Agent has a Subscription with ID plugfest-nobody\", and this Agent does not meet that condition"
        ),
        "{message}"
    );
    assert!(
        message.contains("no created object or current instance"),
        "{message}"
    );
}

#[test]
fn without_the_flag_the_same_case_fails() {
    let (verdict, message) = only_case(false);
    assert_eq!(verdict, "failed", "{message}");
    assert!(message.contains("cannot capture"), "{message}");
}

#[test]
fn precondition_without_a_capture_is_refused_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "suite: bad\ncases:\n  - id: x\n    title: x\n    steps:\n      - get: { paths: [Device.DeviceInfo.] }\n        precondition: true\n",
    )
    .unwrap();
    let (code, stdout, stderr) = plugfest_plain(&["validate", path.to_str().unwrap()]);
    let text = format!("{stdout}{stderr}");
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("`precondition` needs a request step"),
        "{text}"
    );
    assert!(text.contains("bad.yaml:6:"), "{text}");
}
