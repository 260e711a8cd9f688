//! `plugfest bench` (issue #7): a small N runs, every session passes, and
//! the table says so; a suite that cannot load is exit code 2.

use std::process::Command;

fn bench(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_plugfest"))
        .arg("bench")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("plugfest runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn two_concurrent_sessions_each_pass_the_deviceinfo_suite() {
    let (code, out) = bench(&["--sessions", "2", "--no-full"]);
    assert_eq!(code, 0, "{out}");
    let row = out
        .lines()
        .find(|l| l.starts_with("| 2 | ws |"))
        .unwrap_or_else(|| panic!("no row for 2 sessions: {out}"));
    assert!(row.contains("| 2/2 |"), "{row}");
    assert!(!out.contains("did not pass"), "{out}");
}

/// The full-suite run acts as the other Controllers the cases name, as
/// `plugfest run` does: the trust suite's `as: readonly` cases run instead
/// of being skipped.
#[test]
fn the_full_suite_run_acts_as_the_other_controllers() {
    let (code, out) = bench(&["--sessions", "1", "--full", "test-cases/trust.yaml"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("one session: ") && out.contains("22/22 passed, 0 skipped"),
        "{out}"
    );
}

#[test]
fn a_suite_that_cannot_load_is_bad_input() {
    let (code, out) = bench(&[
        "--sessions",
        "1",
        "--no-full",
        "--cases",
        "no/such/suite.yaml",
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("cannot load"), "{out}");
}

/// `--mtp mqtt`: both pairs share one private mosquitto (client IDs and
/// topics per slot), both pass, and the broker's own peak is printed.
#[test]
fn two_sessions_pass_through_one_shared_mosquitto() {
    let (code, out) = bench(&["--sessions", "2", "--no-full", "--mtp", "mqtt"]);
    assert_eq!(code, 0, "{out}");
    let row = out
        .lines()
        .find(|l| l.starts_with("| 2 | mqtt |"))
        .unwrap_or_else(|| panic!("no row for 2 sessions: {out}"));
    assert!(row.contains("| 2/2 |"), "{row}");
    assert!(out.contains("the shared mosquitto's peak RSS"), "{out}");
}
