//! Runs the real `plugfest` binary and reads what it wrote.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub results: Option<serde_json::Value>,
    pub junit: Option<String>,
}

pub fn plugfest(args: &[&str], out: &Path) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_plugfest"))
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .expect("the plugfest binary starts");
    read_run(output, out)
}

pub fn plugfest_plain(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_plugfest"))
        .args(args)
        .output()
        .expect("the plugfest binary starts");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

pub fn read_run(output: std::process::Output, out: &Path) -> Run {
    let results = std::fs::read_to_string(out.join("results.json"))
        .ok()
        .map(|s| serde_json::from_str(&s).expect("results.json is JSON"));
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        results,
        junit: std::fs::read_to_string(out.join("junit.xml")).ok(),
    }
}

impl Run {
    pub fn cases(&self) -> Vec<serde_json::Value> {
        self.results
            .as_ref()
            .and_then(|r| r["cases"].as_array().cloned())
            .unwrap_or_default()
    }

    pub fn verdicts(&self) -> Vec<(String, String)> {
        self.cases()
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap_or_default().to_string(),
                    c["verdict"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// The verdict and message of case `id`; panics (with the run) when
    /// the run has no such case.
    pub fn verdict_of(&self, id: &str) -> (String, String) {
        let c = self
            .cases()
            .into_iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no case {id}: {}", self.explain()));
        (
            c["verdict"].as_str().unwrap_or_default().to_string(),
            c["message"].as_str().unwrap_or_default().to_string(),
        )
    }

    /// Every failure message, one per line, for assertions and for the
    /// panic text when an assertion fails.
    pub fn failure_messages(&self) -> String {
        self.cases()
            .iter()
            .filter(|c| c["verdict"] != "passed")
            .map(|c| {
                format!(
                    "{}: {}",
                    c["id"].as_str().unwrap_or(""),
                    c["message"].as_str().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn explain(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Under `fault` the run failed case `case` alone, every other case
/// passed (or, being a TLS case on a run without TLS, was skipped for
/// it), and the failure message holds each of `symptoms`.
pub fn assert_only_case_fails(run: &Run, fault: &str, case: &str, symptoms: &[&str]) {
    assert_eq!(run.code, 1, "{fault}: {}", run.explain());
    for c in run.cases() {
        let id = c["id"].as_str().unwrap_or_default();
        if id != case && skipped_for_want_of_tls(&c) {
            continue;
        }
        let want = if id == case { "failed" } else { "passed" };
        assert_eq!(c["verdict"], want, "{fault}: {id}: {}", c["message"]);
    }
    let (_, message) = run.verdict_of(case);
    for s in symptoms {
        assert!(message.contains(s), "{fault}: {s:?} not in {message}");
    }
}

/// The run passed every shipped case over `mtp`, wrote complete reports,
/// traced Records both ways in every case, and the Agent's `connect_record`
/// (e.g. `WebSocketConnectRecord`) reached the harness (R-MTP.6).
pub fn assert_suite_passed(run: &Run, mtp: &str, connect_record: &str) {
    assert_eq!(run.code, 0, "{}\n{}", run.failure_messages(), run.explain());
    let results = run.results.as_ref().expect("results.json written");
    assert_eq!(results["complete"], true);
    assert_eq!(results["mtp"], mtp);
    let cases = run.cases();
    assert!(cases.len() >= 20, "only {} cases ran", cases.len());
    for c in &cases {
        // Without --e2e the E2E session-context cases are skipped, saying so;
        // so are the interposer's cases on a run without one.
        let needs_e2e = c["verdict"] == "skipped"
            && c["message"]
                .as_str()
                .is_some_and(|m| m.contains("needs an E2E session context"));
        if needs_e2e
            || skipped_for_want_of_interposer(c)
            || skipped_for_want_of_tls(c)
            || skipped_for_want_of_second_controller(c)
            || skipped_for_want_of_discovery(c)
            || skipped_for_what_the_agent_is(c)
        {
            continue;
        }
        assert_eq!(c["verdict"], "passed", "{}", c["id"]);
        let trace = c["trace"].as_array().expect("a trace per case");
        assert!(
            trace.iter().any(|e| e["direction"] == "sent"),
            "{}",
            c["id"]
        );
        assert!(
            trace.iter().any(|e| e["direction"] == "received"),
            "{}",
            c["id"]
        );
    }
    let text = results.to_string();
    assert!(
        text.contains(connect_record),
        "no {connect_record} in any trace"
    );
    assert!(
        !text.contains("no Connect Record"),
        "a connection went without its Connect Record"
    );
    let junit = run.junit.as_ref().expect("junit.xml written");
    assert!(!junit.contains("<failure"), "{junit}");
}

/// A case of test-cases/mtp-mqtt.yaml (or mtp-stomp.yaml) on a run
/// without that interposer: skipped, saying it needs the MQTT (STOMP)
/// interposer (never passed). Likewise a case of
/// test-cases/mtp-websocket.yaml on a run where the harness is not the
/// WebSocket server with its test controls, and a case of
/// test-cases/mtp-coap.yaml on a run without the harness's CoAP endpoint.
pub fn skipped_for_want_of_interposer(case: &serde_json::Value) -> bool {
    case["verdict"] == "skipped"
        && case["message"].as_str().is_some_and(|m| {
            m.contains("needs the MQTT interposer")
                || m.contains("needs the STOMP interposer")
                || m.contains("needs the harness as the WebSocket server")
                || m.contains("needs the harness as the client of the Agent's WebSocket server")
                // ws-session-retry-after-refusal reads the Agent's WebSocket
                // retry parameters first: an Agent on another MTP has none.
                || m.contains("the Agent reaches the harness's Controller over WebSocket")
                // test-cases/mtp-coap.yaml (legacy) off CoAP.
                || m.contains("needs the harness's CoAP endpoint")
                // A bad_record step limited to one MTP (only_on), e.g. TP-469 6.9.
                || (m.contains("this step is about the") && m.contains("MTP and the run uses"))
        })
}

/// A TLS case (TP-469 4.1, 7.9, 11.3, 6.11) on a run that gives no TLS to
/// the Agent, over another MTP, or on a broker MTP without the interposer:
/// skipped, saying it needs TLS to the Agent (never passed).
pub fn skipped_for_want_of_tls(case: &serde_json::Value) -> bool {
    case["verdict"] == "skipped"
        && case["message"]
            .as_str()
            .is_some_and(|m| m.contains("this step needs TLS to the Agent"))
}

/// A case of test-cases/trust.yaml on an MTP where the harness cannot act
/// as a second Controller: skipped, saying so (never passed).
pub fn skipped_for_want_of_second_controller(case: &serde_json::Value) -> bool {
    case["verdict"] == "skipped"
        && case["message"]
            .as_str()
            .is_some_and(|m| m.contains("the case acts as Controller"))
}

/// A case of test-cases/discovery.yaml on a run without `--discovery`:
/// skipped, saying the run does not browse mDNS (or the built-in Agent
/// does not advertise on it); likewise a case of test-cases/dhcp.yaml on a
/// run without `--dhcp`, and of test-cases/discovery-controller.yaml on a
/// run without `--advertise-controller`.
pub fn skipped_for_want_of_discovery(case: &serde_json::Value) -> bool {
    case["verdict"] == "skipped"
        && case["message"].as_str().is_some_and(|m| {
            m.contains("does not browse mDNS")
                || m.contains("advertises over DNS-SD only")
                || m.contains("this run serves no DHCP")
                || m.contains("only as an advertised Controller")
                || m.contains("hears the Agent's mDNS announcements only")
        })
}

/// A case about an Agent of another kind than the one run: TP-469 2.6
/// (booted without absolute time) unless the run declares
/// `agent_without_absolute_time`, and 2.8 when it does.
pub fn skipped_for_what_the_agent_is(case: &serde_json::Value) -> bool {
    case["verdict"] == "skipped"
        && case["message"]
            .as_str()
            .is_some_and(|m| m.contains("agent_without_absolute_time"))
}

/// A run against an Agent with `fault` failed (exit 1) with some failure
/// that mentions `needle`, and still carried on through every case: as many
/// as `expected_cases`, complete, with the failure in junit.xml.
pub fn assert_fault_caught(fault: &str, run: &Run, needle: &str, expected_cases: usize) {
    assert_eq!(run.code, 1, "fault {fault}: {}", run.explain());
    let messages = run.failure_messages();
    assert!(
        messages.contains(needle),
        "fault {fault}: no failure mentions {needle:?}:\n{messages}"
    );
    assert_eq!(
        run.cases().len(),
        expected_cases,
        "fault {fault}: not every case ran"
    );
    assert_eq!(run.results.as_ref().unwrap()["complete"], true);
    assert!(
        run.junit.as_ref().is_some_and(|j| j.contains("<failure")),
        "fault {fault}: junit.xml has no failure"
    );
}

/// A fault's run in which exactly the `failing` cases fail, each naming
/// `needle`; every other case passes or is skipped as on a clean run.
pub fn assert_fails_only(fault: &str, run: &Run, failing: &[&str], needle: &str) {
    assert_eq!(run.code, 1, "fault {fault}: {}", run.explain());
    let cases = run.cases();
    for id in failing {
        assert!(
            cases.iter().any(|c| c["id"] == *id),
            "fault {fault}: no case {id} ran"
        );
    }
    for c in &cases {
        let id = c["id"].as_str().unwrap_or_default();
        let message = c["message"].as_str().unwrap_or_default();
        if failing.contains(&id) {
            assert_eq!(c["verdict"], "failed", "fault {fault}: {id}: {message}");
            assert!(
                message.contains(needle),
                "fault {fault}: {id}: no {needle:?} in {message}"
            );
        } else {
            assert_ne!(c["verdict"], "failed", "fault {fault}: {id}: {message}");
        }
    }
}

/// The shipped suites that exercise every Msg type (Get, Set, Add, Delete,
/// GetInstances, GetSupportedDM, Notify) and the Connect Record: enough to
/// catch a Msg- or Record-level fault without the use cases' waits.
pub const CORE_SUITES: [&str; 3] = ["deviceinfo.yaml", "messages.yaml", "mtp.yaml"];

/// A directory under `dir` holding copies of the `CORE_SUITES`, and how
/// many cases they have.
pub fn core_cases(dir: &Path) -> (std::path::PathBuf, usize) {
    let cases = dir.join("core-cases");
    std::fs::create_dir_all(&cases).expect("a case directory");
    let mut count = 0;
    for file in CORE_SUITES {
        let text =
            std::fs::read_to_string(Path::new("test-cases").join(file)).expect("a shipped suite");
        count += text
            .lines()
            .filter(|l| l.trim_start().starts_with("- id:"))
            .count();
        std::fs::write(cases.join(file), text).expect("a copy of the suite");
    }
    (cases, count)
}

/// Runs the core suites through `run` (given the extra arguments: the case
/// directory, the fault and a short request timeout) and checks that the
/// fault is caught with `needle` in a failure and every case still ran.
pub fn assert_caught_on_core_suites(fault: &str, needle: &str, run: impl FnOnce(&[&str]) -> Run) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (cases, count) = core_cases(dir.path());
    let args = [
        "--cases",
        cases.to_str().expect("a UTF-8 path"),
        "--agent-fault",
        fault,
        "--timeout-ms",
        "400",
    ];
    assert_fault_caught(fault, &run(&args), needle, count);
}

/// How many cases the shipped suite has (every `- id:` under test-cases/).
pub fn shipped_case_count() -> usize {
    case_count_under(Path::new("test-cases"))
}

fn case_count_under(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .expect("a readable test-case directory")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .map(|p| {
            if p.is_dir() {
                case_count_under(&p)
            } else if p.extension().is_some_and(|x| x == "yaml") {
                std::fs::read_to_string(&p)
                    .unwrap_or_default()
                    .lines()
                    .filter(|l| l.trim_start().starts_with("- id:"))
                    .count()
            } else {
                0
            }
        })
        .sum()
}

/// A directory with one suite of `n` Get cases (`long-000`, ...), each
/// quick to pass: a run long enough to lose its broker in the middle.
pub fn long_case_list(dir: &Path, n: usize) -> std::path::PathBuf {
    let cases = dir.join("long-cases");
    std::fs::create_dir_all(&cases).expect("a case directory");
    let mut yaml = String::from("suite: long\ncases:\n");
    for i in 0..n {
        yaml.push_str(&format!(
            "  - id: long-{i:03}\n    title: Get of Device.DeviceInfo. number {i}\n    steps:\n      - get: {{ paths: [Device.DeviceInfo.] }}\n"
        ));
    }
    std::fs::write(cases.join("long.yaml"), yaml).expect("the case file");
    cases
}

/// How many cases have finished so far: the whole case lines of the
/// journal (results.jsonl, appended as each case ends), or what
/// results.json holds (rewritten at most once a second), whichever is more
/// (0 while neither is written).
pub fn cases_so_far(out: &Path) -> usize {
    let journaled = std::fs::read_to_string(out.join("results.jsonl"))
        .map(|t| {
            t.split_inclusive('\n')
                .filter(|l| l.ends_with('\n') && l.starts_with("{\"case\""))
                .count()
        })
        .unwrap_or(0);
    let reported = std::fs::read_to_string(out.join("results.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|r| r["cases"].as_array().map(Vec::len))
        .unwrap_or(0);
    journaled.max(reported)
}

/// `plugfest` with `args` in the background, output captured.
pub fn spawn_plugfest(args: &[&str], out: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_plugfest"))
        .args(args)
        .arg("--out")
        .arg(out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the plugfest binary starts")
}

/// Waits for a spawned run, killing it when it outlives `limit` (a hang is
/// a failure, and must not leave a process behind).
pub fn finish_within(child: std::process::Child, out: &Path, limit: std::time::Duration) -> Run {
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => {
            let _ = waiter.join();
            read_run(output.expect("the run's output"), out)
        }
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &id.to_string()])
                .status();
            let _ = waiter.join();
            panic!("the run did not end within {limit:?}: a hang");
        }
    }
}

/// After a broker was lost mid-run: exit 1, complete reports holding every
/// case, some passed before the loss, and every later one failed or not
/// run with a message about the lost or unreachable broker.
pub fn assert_broker_loss_reported(run: &Run, total: usize, needle: &str) {
    assert_eq!(run.code, 1, "{}", run.explain());
    let results = run.results.as_ref().expect("results.json written");
    assert_eq!(results["complete"], true);
    let verdicts = run.verdicts();
    assert_eq!(verdicts.len(), total, "every case is in results.json");
    let first_bad = verdicts
        .iter()
        .position(|(_, v)| v != "passed")
        .expect("some case failed after the broker died");
    assert!(
        first_bad > 0,
        "no case passed before the broker died:\n{}",
        run.failure_messages()
    );
    assert!(
        verdicts[first_bad..].iter().all(|(_, v)| v != "passed"),
        "a case passed after the broker died:\n{}",
        run.failure_messages()
    );
    let messages = run.failure_messages();
    assert!(
        messages.contains(needle),
        "no message names {needle:?}:\n{messages}"
    );
    assert!(
        messages.contains("not run: the Agent could not be reached"),
        "the runner did not give up on the unreachable broker:\n{messages}"
    );
}

/// A child process (a standalone Agent, a broker) ended when the test ends,
/// pass or fail.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `plugfest agent` with `args` (a standalone reference Agent), its output
/// discarded, killed when dropped.
pub fn agent(args: &[&str]) -> KillOnDrop {
    KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_plugfest"))
            .arg("agent")
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("plugfest agent starts"),
    )
}

/// `plugfest agent --listen 127.0.0.1:port` (a WebSocket server), once it
/// accepts connections (at most 10 s).
pub fn listening_agent(port: u16) -> KillOnDrop {
    let agent = agent(&["--listen", &format!("127.0.0.1:{port}")]);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        && std::time::Instant::now() < until
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    agent
}

/// A 127.0.0.1 TCP port that was free a moment ago (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `ip ARGS` (iproute2); Err with what it printed when it fails.
pub fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Ok when the tests run as root, which `ip netns add` needs.
pub fn root_or_why() -> Result<(), String> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| format!("id -u: {e}"))?;
    if String::from_utf8_lossy(&uid.stdout).trim() == "0" {
        Ok(())
    } else {
        Err("not root: `ip netns add` needs it".into())
    }
}
