//! junit.xml against the JUnit format Jenkins and GitLab read
//! (tests/data/junit.xsd, which says where each constraint comes from),
//! checked with libxml2's `xmllint --schema` (Debian libxml2-utils,
//! installed by scripts/test.sh).

mod common;

use std::path::Path;
use std::process::Command;

const XMLLINT: &str = "xmllint";

fn schema() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/junit.xsd")
}

/// xmllint's verdict on one file: Ok, or its complaint.
fn validate(file: &Path) -> Result<(), String> {
    let out = Command::new(XMLLINT)
        .arg("--noout")
        .arg("--schema")
        .arg(schema())
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("{XMLLINT} must be installed (Debian libxml2-utils; scripts/test.sh installs it): {e}"));
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A run whose junit.xml holds passes, failures (an Agent fault) and
/// errors (a test-case file that does not load).
fn junit_with_every_outcome(dir: &Path) -> String {
    let cases = dir.join("cases");
    std::fs::create_dir_all(&cases).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("test-cases/deviceinfo.yaml"),
        cases.join("deviceinfo.yaml"),
    )
    .unwrap();
    std::fs::write(cases.join("broken.yaml"), "suite: Broken\ncases: [\n").unwrap();
    let out = dir.join("reports");
    let run = common::plugfest(
        &[
            "run",
            "--quiet",
            "--cases",
            cases.to_str().unwrap(),
            "--agent-fault",
            "missing-parameter",
        ],
        &out,
    );
    let junit = run.junit.expect("junit.xml written");
    assert!(
        junit.contains("<failure"),
        "the fault makes failures:\n{junit}"
    );
    assert!(
        junit.contains("<error"),
        "the broken file is an error:\n{junit}"
    );
    assert!(junit.contains("<testcase"), "{junit}");
    junit
}

#[test]
fn junit_xml_with_failures_and_errors_matches_the_junit_schema() {
    let dir = tempfile::tempdir().unwrap();
    junit_with_every_outcome(dir.path());
    validate(&dir.path().join("reports/junit.xml")).expect("our junit.xml is valid JUnit");
}

#[test]
fn junit_files_breaking_the_format_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let good = junit_with_every_outcome(dir.path());
    let mut broken = Vec::new();
    // A time that is not seconds.
    broken.push((
        "time",
        regex::Regex::new(r#" time="[0-9.]+""#)
            .unwrap()
            .replace(&good, r#" time="soon""#)
            .into_owned(),
    ));
    // A test case without a name.
    broken.push((
        "name",
        good.replacen("<testcase name=", "<testcase label=", 1),
    ));
    // An element the format does not have.
    broken.push((
        "element",
        good.replacen("</testsuite>", "<verdict>pass</verdict></testsuite>", 1),
    ));
    for (what, text) in broken {
        assert_ne!(text, good, "the {what} mutation changed nothing");
        let path = dir.path().join(format!("broken-{what}.xml"));
        std::fs::write(&path, text).unwrap();
        let complaint = validate(&path).expect_err(&format!("broken {what} must be rejected"));
        assert!(complaint.contains("validity error"), "{what}: {complaint}");
    }
}
