//! `timings: short | plan` steps: a default run runs the `short` ones and
//! leaves the `plan` ones out; `--plan-timings` the other way round, and
//! says so in results.json. Shown with a case whose `plan` step would fail
//! and whose `short` step would fail the other way.

mod common;

use common::plugfest;

const CASES: &str = r#"suite: timings
cases:
  - id: timings-choose-steps
    title: Steps tied to the run's timings
    steps:
      - name: the default run's step
        timings: short
        get: { paths: [Device.DeviceInfo.Manufacturer] }
        expect: { values: { Device.DeviceInfo.Manufacturer: { exists: true } } }
      - name: only with --plan-timings
        timings: plan
        get: { paths: [Device.DeviceInfo.NoSuchParameter] }
        expect: { oper: success }
"#;

fn run(extra: &[&str]) -> common::Run {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("timings.yaml");
    std::fs::write(&file, CASES).unwrap();
    let mut args = vec!["run", "--cases", file.to_str().unwrap(), "--quiet"];
    args.extend_from_slice(extra);
    plugfest(&args, &dir.path().join("out"))
}

#[test]
fn a_default_run_leaves_the_plan_steps_out() {
    let run = run(&[]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let case = &run.cases()[0];
    let steps = case["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{case}");
    assert_eq!(steps[0]["name"], "the default run's step");
    assert!(run.results.as_ref().unwrap().get("plan_timings").is_none());
}

#[test]
fn plan_timings_run_the_plan_steps_instead_of_the_short_ones() {
    let run = run(&["--plan-timings"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    let case = &run.cases()[0];
    let steps = case["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{case}");
    assert_eq!(steps[0]["name"], "only with --plan-timings");
    assert_eq!(case["verdict"], "failed");
    assert_eq!(run.results.as_ref().unwrap()["plan_timings"], true);
}

#[test]
fn an_unknown_timing_is_bad_input_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, CASES.replace("timings: plan", "timings: later")).unwrap();
    let run = plugfest(
        &["run", "--cases", file.to_str().unwrap(), "--quiet"],
        &dir.path().join("out"),
    );
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(run.stderr.contains("bad.yaml:"), "{}", run.stderr);
    assert!(run.stderr.contains("later"), "{}", run.stderr);
}
