//! Files people write by hand, each with one defect (tests/bad_input/): the
//! harness answers with exit 2 and exactly one clear error that names the
//! file and, where the defect has one, its line:column; never a panic. Each
//! file's second line says what must be reported:
//! `# expect: <message fragment> @ <line:column | none>`.
//! Also: a password in a target file never reaches the output or reports.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{plugfest, KillOnDrop};
use usp_plugfest::broker::Mosquitto;

/// Passwords written in the corpus and in the runs below.
const SECRETS: [&str; 3] = [
    "Sup3rSecretMqttPw",
    "Sup3rSecretStompPw",
    "Sup3rSecretRunPw",
];

struct Expectation {
    fragment: String,
    /// `line:column`, or None when the defect has no position.
    at: Option<String>,
}

fn corpus(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/bad_input")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

/// Reads the `# expect:` line (bytes: some files are not UTF-8 after it).
fn expectation(file: &Path) -> Expectation {
    let bytes = std::fs::read(file).unwrap();
    let header = String::from_utf8_lossy(&bytes[..bytes.len().min(400)]).into_owned();
    let line = header
        .lines()
        .nth(1)
        .and_then(|l| l.strip_prefix("# expect: "))
        .unwrap_or_else(|| panic!("{}: no `# expect:` on line 2", file.display()));
    let (fragment, at) = line
        .rsplit_once(" @ ")
        .unwrap_or_else(|| panic!("{}: `# expect:` without ` @ `", file.display()));
    Expectation {
        fragment: fragment.to_string(),
        at: (at != "none").then(|| at.to_string()),
    }
}

fn run(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_plugfest"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap_or(-1), unwrap_lines(&text))
}

/// miette wraps a long message at 80 columns, continuing on lines that
/// start with `│`; join them so a fragment can be found whole.
fn unwrap_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        match line.trim_start().strip_prefix("│ ") {
            Some(rest) if !out.is_empty() => {
                out.pop();
                out.push(' ');
                out.push_str(rest);
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// The checks every answer to a bad file must pass; returns what failed.
fn judge(file: &Path, code: i32, output: &str, exp: &Expectation) -> Vec<String> {
    let name = file.display().to_string();
    let mut wrong = Vec::new();
    if code != 2 {
        wrong.push(format!("exit {code}, not 2"));
    }
    if output.contains("panicked") || output.contains("stack backtrace") {
        wrong.push("a panic".into());
    }
    if !output.contains(&exp.fragment) {
        wrong.push(format!("no {:?}", exp.fragment));
    }
    let place = match &exp.at {
        Some(at) => format!("{name}:{at}"),
        None => name.clone(),
    };
    if !output.contains(&place) {
        wrong.push(format!("does not name {place}"));
    }
    for secret in SECRETS {
        if output.contains(secret) {
            wrong.push(format!("echoes the password {secret}"));
        }
    }
    wrong
}

/// Answers every file of one corpus directory (`answer` gives the output
/// and what was wrong with it) and fails naming each file answered badly.
fn check_corpus(
    dir: &str,
    at_least: usize,
    answer: impl Fn(&Path, &Expectation) -> (String, Vec<String>),
) {
    let files = corpus(dir);
    assert!(files.len() >= at_least, "only {} {dir} files", files.len());
    let failures: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let (output, wrong) = answer(file, &expectation(file));
            (!wrong.is_empty())
                .then(|| format!("{}: {}\n{output}", file.display(), wrong.join("; ")))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} files answered badly:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

#[test]
fn validate_reports_each_bad_case_file_once_with_its_position() {
    check_corpus("cases", 40, |file, exp| {
        let (code, output) = run(&["validate", file.to_str().unwrap()]);
        let mut wrong = judge(file, code, &output, exp);
        if !output.contains("\n1 problem(s) in test-case files") {
            wrong.push("not exactly one problem".into());
        }
        (output, wrong)
    });
}

#[test]
fn run_reports_each_bad_case_file_and_runs_nothing() {
    let out = tempfile::tempdir().unwrap();
    check_corpus("cases", 40, |file, exp| {
        let (code, output) = run(&[
            "run",
            "--quiet",
            "--cases",
            file.to_str().unwrap(),
            "--out",
            out.path().to_str().unwrap(),
        ]);
        let mut wrong = judge(file, code, &output, exp);
        if output.contains("no test case matched") {
            wrong.push("blames the selection instead of the file".into());
        }
        (output, wrong)
    });
}

#[test]
fn run_refuses_each_bad_target_file_with_one_line() {
    let out = tempfile::tempdir().unwrap();
    check_corpus("targets", 21, |file, exp| {
        let (code, output) = run(&[
            "run",
            "--quiet",
            "--target",
            file.to_str().unwrap(),
            "--out",
            out.path().to_str().unwrap(),
        ]);
        let mut wrong = judge(file, code, &output, exp);
        let lines = output.lines().filter(|l| !l.trim().is_empty()).count();
        if lines != 1 {
            wrong.push(format!("{lines} lines, not one error"));
        }
        (output, wrong)
    });
}

/// The negative twin of the corpus: the same kinds of file, without the
/// defect, are accepted, so the checks above are not refusing everything.
#[test]
fn the_corrected_files_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("good.yaml");
    std::fs::write(
        &case,
        "suite: good\ncases:\n  - id: GOOD-1\n    title: t\n    steps:\n      - get: { paths: [Device.DeviceInfo.], max_depth: 2 }\n        capture: { maker: Device.DeviceInfo.Manufacturer }\n      - get: { paths: [\"Device.DeviceInfo.${maker}$${x}\", \"${controller_id}\"] }\n",
    )
    .unwrap();
    let (code, output) = run(&["validate", case.to_str().unwrap()]);
    assert_eq!(code, 0, "{output}");
    let target = dir.path().join("target.yaml");
    std::fs::write(
        &target,
        "name: good\nmtp: mqtt\nmqtt:\n  broker: 127.0.0.1:1883\n  qos: 1\n",
    )
    .unwrap();
    assert!(usp_plugfest::target::Target::load(&target).is_ok());
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} shows the password:\n{text}");
    }
}

/// A whole run with MQTT credentials: the password is sent to the broker
/// and written nowhere else: not in stdout/stderr, results.json, junit.xml.
#[test]
fn a_target_password_stays_out_of_output_and_reports() {
    let broker = Mosquitto::start().unwrap_or_else(|e| panic!("{e}"));
    let agent_id = "proto::plugfest-reference-agent";
    let _agent = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_plugfest"))
            .args(["agent", "--mqtt-broker", &broker.address()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(700));
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.yaml");
    std::fs::write(
        &target,
        format!(
            "name: with credentials\nagent_endpoint_id: {agent_id}\nmtp: mqtt\nmqtt:\n  broker: {}\n  username: admin\n  password: Sup3rSecretRunPw\n  agent_topic: usp/agents/{agent_id}\ntimeouts:\n  connect_ms: 5000\n",
            broker.address()
        ),
    )
    .unwrap();
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-cases/deviceinfo.yaml");
    let out = dir.path().join("out");
    let run = plugfest(
        &[
            "run",
            "--target",
            target.to_str().unwrap(),
            "--cases",
            cases.to_str().unwrap(),
        ],
        &out,
    );
    assert!(!run.cases().is_empty(), "{}", run.explain());
    assert_eq!(run.code, 0, "{}\n{}", run.failure_messages(), run.explain());
    assert_no_secret("stdout", &run.stdout);
    assert_no_secret("stderr", &run.stderr);
    assert_no_secret("results.json", &run.results.as_ref().unwrap().to_string());
    assert_no_secret("junit.xml", run.junit.as_ref().unwrap());
}

/// The broker refuses the credentials: the setup error names the broker
/// and the refusal, not the password.
#[test]
fn a_refused_password_is_not_echoed() {
    let broker = Mosquitto::start_refusing_everyone().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.yaml");
    std::fs::write(
        &target,
        format!(
            "name: refused\nmtp: mqtt\nmqtt:\n  broker: {}\n  username: admin\n  password: Sup3rSecretRunPw\n",
            broker.address()
        ),
    )
    .unwrap();
    let run = plugfest(
        &["run", "--target", target.to_str().unwrap(), "--quiet"],
        &dir.path().join("out"),
    );
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(run.stderr.contains("refused"), "{}", run.explain());
    assert_no_secret("stderr", &run.stderr);
    assert_no_secret("stdout", &run.stdout);
}
