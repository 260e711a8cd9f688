//! Loader: good files, every kind of bad file, duplicates, shipped files.

use crate::datamodel::Profiles;
use crate::suite::*;
use std::path::Path;

fn load(yaml: &str) -> Result<Suite, Vec<LoadError>> {
    load_str(Path::new("cases.yaml"), yaml, &Profiles::builtin())
}

fn load_err(yaml: &str) -> LoadError {
    match load(yaml) {
        Ok(_) => panic!("expected a load error"),
        Err(mut e) => {
            assert_eq!(e.len(), 1, "{e:?}");
            e.remove(0)
        }
    }
}

const GOOD: &str = r#"suite: demo
cases:
  - id: a
    title: first
    profile: DRAFT-DeviceInfo:1
    tp469: 1.40
    tags: [get]
    setup:
      - get: { paths: [Device.DeviceInfo.FriendlyName] }
        capture: { old: Device.DeviceInfo.FriendlyName }
    steps:
      - name: read
        get: { paths: [Device.DeviceInfo.] }
        expect:
          profile: DRAFT-DeviceInfo:1
          values:
            Device.DeviceInfo.Manufacturer: { exists: true }
      - wait_notify: { type: value_change, path: Device.DeviceInfo.FriendlyName }
    teardown:
      - set: { objects: [ { path: Device.DeviceInfo., params: { FriendlyName: "${old}" } } ] }
"#;

#[test]
fn loads_a_good_file_with_locations_and_defaults() {
    let s = load(GOOD).expect("good file loads");
    assert_eq!(s.name, "demo");
    let c = &s.cases[0];
    assert_eq!(
        (c.id.as_str(), c.location.line, c.location.column),
        ("a", 3, 5)
    );
    // An unquoted 1.40 keeps its trailing zero.
    assert_eq!(c.tp469.as_deref(), Some("1.40"));
    assert_eq!(c.setup.len(), 1);
    assert_eq!(c.steps.len(), 2);
    assert_eq!(c.teardown.len(), 1);
    assert_eq!(c.steps[0].location.line, 12);
    assert_eq!(c.steps[0].location.to_string(), "cases.yaml:12:9");
    let e = c.steps[0].expect.as_ref().expect("expect");
    assert_eq!(e.msg_type, Some(ResponseType::GetResp));
    assert_eq!(e.rule.as_deref(), Some("TP-469 1.40"));
    // Steps without `expect` still check the response type.
    let t = c.teardown[0].expect.as_ref().expect("default expect");
    assert_eq!(t.msg_type, Some(ResponseType::SetResp));
    assert!(matches!(c.steps[1].action, Action::WaitNotify(_)));
    assert!(c.steps[1].expect.is_none());
}

#[test]
fn unknown_key_points_at_the_key() {
    let e = load_err("suite: s\ncases:\n  - id: a\n    title: t\n    steps:\n      - get: { paths: [Device.] }\n        expext: {}\n");
    assert_eq!((e.location.line, e.location.column), (7, 9));
    assert!(
        e.message.contains("unknown field `expext`"),
        "{}",
        e.message
    );
    assert!(e.to_string().starts_with("cases.yaml:7:9: "), "{e}");
}

#[test]
fn unknown_key_inside_a_matcher() {
    let e = load_err("suite: s\ncases:\n  - id: a\n    title: t\n    steps:\n      - get: { paths: [Device.] }\n        expect:\n          values:\n            X: { equal: 1 }\n");
    assert_eq!(e.location.line, 9);
    assert!(e.message.contains("unknown field `equal`"), "{}", e.message);
}

#[test]
fn wrong_type_points_at_the_value() {
    let e = load_err("suite: s\ncases:\n  - id: a\n    title: t\n    steps:\n      - get: { paths: [Device.], max_depth: deep }\n");
    assert_eq!((e.location.line, e.location.column), (6, 45));
}

#[test]
fn yaml_syntax_error_has_a_position() {
    let e = load_err(
        "suite: s\ncases:\n  - id: a\n    title: t\n    steps:\n      - get: { paths: [Device.]\n",
    );
    assert_eq!(e.location.line, 6);
    assert!(e.location.column > 1);
}

#[test]
fn step_needs_exactly_one_action() {
    let e =
        load_err("suite: s\ncases:\n  - id: a\n    title: t\n    steps:\n      - name: nothing\n");
    assert_eq!((e.location.line, e.location.column), (6, 9));
    assert_eq!(e.message, "step has no action");
    let e = load_err("suite: s\ncases:\n  - id: a\n    title: t\n    steps:\n      - get: { paths: [Device.] }\n        delete: { paths: [Device.X.1.] }\n");
    assert_eq!(e.location.line, 6);
    assert!(
        e.message.contains("2 actions (get, delete)"),
        "{}",
        e.message
    );
}

#[test]
fn unknown_profile_in_case_and_expect() {
    let e = load_err("suite: s\ncases:\n  - id: a\n    title: t\n    profile: DRAFT-Nope:1\n    steps:\n      - get: { paths: [Device.] }\n");
    assert_eq!((e.location.line, e.location.column), (5, 14));
    assert!(e
        .help
        .as_deref()
        .unwrap_or("")
        .contains("DRAFT-DeviceInfo:1"));
    let e = load_err("suite: s\ncases:\n  - id: a\n    title: t\n    steps:\n      - get: { paths: [Device.] }\n        expect: { profile: Nope }\n");
    assert_eq!(e.location.line, 7);
    assert!(e.message.contains("unknown profile `Nope`"));
}

#[test]
fn bad_regex_points_at_the_regex() {
    let e = load_err("suite: s\ncases:\n  - id: a\n    title: t\n    steps:\n      - get: { paths: [Device.] }\n        expect:\n          values:\n            X: { regex: \"[a-\" }\n");
    assert_eq!((e.location.line, e.location.column), (9, 25));
    assert!(e.message.contains("invalid regex"), "{}", e.message);
    assert!(!e.message.contains("\\n"), "{}", e.message);
}

#[test]
fn expect_on_wait_notify_is_refused() {
    let e = load_err("suite: s\ncases:\n  - id: a\n    title: t\n    steps:\n      - wait_notify: { type: event }\n        expect: { type: error }\n");
    assert_eq!(e.location.line, 7);
}

#[test]
fn connect_record_loads_and_refuses_expect_and_options() {
    let ok =
        load("suite: s\ncases:\n  - id: a\n    title: t\n    steps:\n      - connect_record: {}\n")
            .expect("loads");
    assert_eq!(ok.cases[0].steps[0].action.keyword(), "connect_record");
    let e = load_err("suite: s\ncases:\n  - id: a\n    title: t\n    steps:\n      - connect_record: {}\n        expect: { type: error }\n");
    assert_eq!(e.location.line, 7);
    assert!(e.message.contains("connect_record"), "{}", e.message);
    let e = load_err("suite: s\ncases:\n  - id: a\n    title: t\n    steps:\n      - connect_record: { within_ms: 5 }\n");
    assert!(
        e.to_string().contains("within_ms") || e.message.contains("within_ms"),
        "{e:?}"
    );
}

#[test]
fn duplicate_ids_in_one_file_and_across_files() {
    let e = load_err("suite: s\ncases:\n  - id: a\n    title: t\n    steps: []\n  - id: a\n    title: u\n    steps: []\n");
    assert_eq!((e.location.line, e.location.column), (6, 9));
    assert!(
        e.message.contains("first defined at cases.yaml:3:9"),
        "{}",
        e.message
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let one = "suite: one\ncases:\n  - id: same\n    title: t\n    steps: []\n";
    let two = "suite: two\ncases:\n  - id: other\n    title: t\n    steps: []\n  - id: same\n    title: t\n    steps: []\n";
    let bad = "suite: bad\ncases: [ { id: z, title: t, steps: [], bogus: 1 } ]\n";
    std::fs::write(dir.path().join("1.yaml"), one).expect("write");
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    std::fs::write(dir.path().join("sub/2.yml"), two).expect("write");
    std::fs::write(dir.path().join("3.yaml"), bad).expect("write");
    std::fs::write(dir.path().join("notes.txt"), "ignored").expect("write");
    let (suites, errors) = load_path_partial(dir.path(), &Profiles::builtin());
    assert_eq!(
        suites.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        vec!["one"]
    );
    assert_eq!(errors.len(), 2, "{errors:?}");
    let dup = errors
        .iter()
        .find(|e| e.message.contains("duplicate"))
        .expect("duplicate error");
    assert!(dup.location.file.ends_with("sub/2.yml"));
    assert_eq!(dup.location.line, 6);
    assert!(dup.message.contains("1.yaml:3:"), "{}", dup.message);
    assert!(load_path(dir.path()).is_err());
}

#[test]
fn shipped_test_cases_load_without_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-cases");
    let suites = match load_path(&dir) {
        Ok(s) => s,
        Err(errors) => {
            for e in &errors {
                eprintln!("{:?}", miette::Report::new(e.clone()));
            }
            panic!("{} load errors in test-cases/", errors.len());
        }
    };
    // One suite per YAML file in the folder and its sub-folders.
    fn yaml_files(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| {
                if p.is_dir() {
                    yaml_files(&p)
                } else {
                    usize::from(p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                }
            })
            .sum()
    }
    let files = yaml_files(&dir);
    assert_eq!(suites.len(), files);
    let cases: usize = suites.iter().map(|s| s.cases.len()).sum();
    assert!(cases >= 30, "only {cases} cases");
}

#[test]
fn load_error_renders_with_snippet_and_help() {
    let e = load_err("suite: s\ncases:\n  - id: a\n    title: t\n    steps:\n      - name: x\n");
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .render_report(&mut out, &e)
        .expect("render");
    assert!(out.contains("- name: x"), "{out}");
    assert!(out.contains("exactly one of"), "{out}");
}
