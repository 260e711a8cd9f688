//! The shipped JSON Schema of test-case files: current with the Rust types,
//! accepting every shipped case file, rejecting what the loader rejects,
//! and referenced from each case file for yaml-language-server.

mod common;

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn shipped_schema() -> serde_json::Value {
    let text = std::fs::read_to_string(root().join("schemas/test-case.schema.json"))
        .expect("schemas/test-case.schema.json is shipped");
    serde_json::from_str(&text).expect("the shipped schema is JSON")
}

fn case_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("test-cases/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            case_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

fn shipped_case_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    case_files(&root().join("test-cases"), &mut files);
    files.sort();
    assert!(files.len() >= 10, "found only {files:?}");
    files
}

fn yaml_as_json(text: &str) -> serde_json::Value {
    serde_saphyr::from_str(text).expect("the file is YAML")
}

#[test]
fn shipped_schema_is_the_generated_one() {
    let (code, printed, stderr) = common::plugfest_plain(&["schema"]);
    assert_eq!(code, 0, "{stderr}");
    let shipped = std::fs::read_to_string(root().join("schemas/test-case.schema.json"))
        .expect("schemas/test-case.schema.json is shipped");
    assert_eq!(
        printed, shipped,
        "schemas/test-case.schema.json is stale: run `plugfest schema > schemas/test-case.schema.json`"
    );
}

#[test]
fn every_shipped_case_file_satisfies_the_schema() {
    let validator = jsonschema::validator_for(&shipped_schema()).expect("the schema compiles");
    for file in shipped_case_files() {
        let text = std::fs::read_to_string(&file).expect("readable");
        let doc = yaml_as_json(&text);
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
    }
}

/// A small file the loader accepts, and its twin with one bad step key.
const GOOD: &str = r#"suite: s
cases:
  - id: x-1
    title: one step
    steps:
      - get: { paths: [Device.DeviceInfo.] }
        expect:
          values:
            Device.DeviceInfo.SerialNumber: { exists: true }
"#;

#[test]
fn an_unknown_step_key_is_rejected_by_the_schema_and_the_loader() {
    let validator = jsonschema::validator_for(&shipped_schema()).expect("the schema compiles");
    assert!(validator.is_valid(&yaml_as_json(GOOD)));
    let bad = GOOD.replace("      - get:", "      - gte: { paths: [x] }\n        get:");
    let doc = yaml_as_json(&bad);
    assert!(
        !validator.is_valid(&doc),
        "schema accepted a `gte` step key"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let (good_file, bad_file) = (dir.path().join("good.yaml"), dir.path().join("bad.yaml"));
    std::fs::write(&good_file, GOOD).expect("write");
    std::fs::write(&bad_file, &bad).expect("write");
    let ok = common::plugfest_plain(&["validate", good_file.to_str().expect("utf-8")]);
    assert_eq!(ok.0, 0, "{ok:?}");
    let rejected = common::plugfest_plain(&["validate", bad_file.to_str().expect("utf-8")]);
    assert_ne!(rejected.0, 0, "the loader accepted a `gte` step key");
}

#[test]
fn a_wrongly_typed_matcher_is_rejected_by_the_schema() {
    let validator = jsonschema::validator_for(&shipped_schema()).expect("the schema compiles");
    let bad = GOOD.replace("{ exists: true }", "{ exists: true, typo: 1 }");
    assert!(!validator.is_valid(&yaml_as_json(&bad)));
    let bad_code = GOOD.replace(
        "          values:",
        "          err_code: [7004]\n          values:",
    );
    assert!(!validator.is_valid(&yaml_as_json(&bad_code)));
}

#[test]
fn every_shipped_case_file_names_the_schema_on_its_first_line() {
    for file in shipped_case_files() {
        let text = std::fs::read_to_string(&file).expect("readable");
        let first = text.lines().next().unwrap_or("");
        let reference = first
            .strip_prefix("# yaml-language-server: $schema=")
            .unwrap_or_else(|| panic!("{}: first line is {first:?}", file.display()));
        let target = file.parent().expect("in a directory").join(reference);
        assert!(
            target.canonicalize().ok()
                == root()
                    .join("schemas/test-case.schema.json")
                    .canonicalize()
                    .ok(),
            "{}: $schema={reference} does not lead to schemas/test-case.schema.json",
            file.display()
        );
    }
}
