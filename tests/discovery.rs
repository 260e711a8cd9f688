//! DNS-SD discovery end to end, on loopback only: inside a network namespace
//! this test creates (whose only interface is `lo`, with multicast turned on
//! there), the reference Agent advertises itself (`plugfest agent --listen
//! --advertise`), `plugfest discover --target-out` finds and validates it,
//! and the written target runs the DRAFT-DeviceInfo:1 suite green. Its
//! negative twin: an Agent whose TXT record lacks `name` is reported invalid
//! (R-DIS.10) and gets no target file. The discovery suite
//! (test-cases/discovery.yaml) runs green against the advertising Agent
//! (also the built-in one, `run --discovery --role client`) and fails,
//! naming the rule, against its advert faults; `discover
//! --controllers` validates the harness's own Controller advertisement.
//! Needs root (`ip netns add`); without it each test prints why it is
//! skipped and returns.

mod common;

use common::{ip, KillOnDrop};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_plugfest");
const AGENT_ID: &str = "proto::plugfest-reference-agent";

/// A network namespace with only loopback, multicast on; deleted on drop.
struct Netns(String);

impl Netns {
    fn create() -> Result<Netns, String> {
        common::root_or_why()?;
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "plugfest-disc-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        ip(&["netns", "add", &name])?;
        let ns = Netns(name);
        ip(&["-n", &ns.0, "link", "set", "lo", "up"])?;
        ip(&["-n", &ns.0, "link", "set", "lo", "multicast", "on"])?;
        // Multicast sent in the namespace leaves through lo, its only interface.
        ip(&["-n", &ns.0, "route", "add", "224.0.0.0/4", "dev", "lo"])?;
        Ok(ns)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0, BIN]).args(args);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.0]);
    }
}

fn namespace_or_skip(test: &str) -> Option<Netns> {
    match Netns::create() {
        Ok(ns) => Some(ns),
        Err(why) => {
            println!("SKIPPED {test}: {why}");
            None
        }
    }
}

fn advertising_agent(ns: &Netns, faults: &[&str]) -> KillOnDrop {
    advertising_agent_with(ns, faults, &[])
}

fn advertising_agent_with(ns: &Netns, faults: &[&str], extra: &[&str]) -> KillOnDrop {
    let mut args = vec!["agent", "--listen", "127.0.0.1:0", "--advertise"];
    args.extend(extra);
    for f in faults {
        args.extend(["--fault", f]);
    }
    let child = ns
        .command(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ip netns exec plugfest agent starts");
    // Give it time to bind and announce.
    std::thread::sleep(Duration::from_millis(500));
    KillOnDrop(child)
}

fn discover(ns: &Netns, target_out: &Path) -> Output {
    ns.command(&["discover", "--timeout", "3", "--target-out"])
        .arg(target_out)
        .output()
        .expect("plugfest discover runs")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `plugfest run --target TARGET` (with `extra`) inside `ns` runs the
/// DeviceInfo suite: exit 0 and every case passed.
fn assert_deviceinfo_green(ns: &Netns, target: &Path, out: &Path, extra: &[&str]) {
    let run = ns
        .command(&["run"])
        .args(extra)
        .arg("--target")
        .arg(target)
        .args(["--cases", "test-cases/deviceinfo.yaml", "--out"])
        .arg(out)
        .output()
        .expect("plugfest run starts");
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let cases = results["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    assert!(
        cases.iter().all(|c| c["verdict"] == "passed"),
        "{}",
        text(&run)
    );
}

/// Runs `discover` (writing `target`), checks its exit code and returns the
/// table row of the reference Agent.
fn discovered_row(ns: &Netns, target: &Path, code: i32) -> String {
    let found = discover(ns, target);
    let shown = text(&found);
    assert_eq!(found.status.code(), Some(code), "{shown}");
    String::from_utf8_lossy(&found.stdout)
        .lines()
        .find(|l| l.contains(AGENT_ID))
        .unwrap_or_else(|| panic!("{shown}"))
        .to_string()
}

#[test]
fn a_discovered_agent_is_valid_and_its_target_runs_deviceinfo_green() {
    let Some(ns) = namespace_or_skip("discovery end to end") else {
        return;
    };
    let _agent = advertising_agent(&ns, &[]);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("discovered.yaml");
    let row = discovered_row(&ns, &target, 0);
    assert!(
        row.starts_with("websocket") && row.ends_with("valid"),
        "{row}"
    );
    assert!(
        row.contains("Plugfest reference Agent") && row.contains("127.0.0.1:"),
        "{row}"
    );

    let yaml = std::fs::read_to_string(&target).expect("discover wrote the target file");
    assert!(
        yaml.contains(&format!("agent_endpoint_id: \"{AGENT_ID}\"")),
        "{yaml}"
    );

    assert_deviceinfo_green(&ns, &target, &dir.path().join("reports"), &[]);
}

#[test]
fn an_advertisement_without_name_is_reported_invalid() {
    let Some(ns) = namespace_or_skip("discovery negative twin") else {
        return;
    };
    let _agent = advertising_agent(&ns, &["advertisement-without-name"]);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("discovered.yaml");
    let row = discovered_row(&ns, &target, 1);
    assert!(
        row.contains("INVALID") && row.contains("no `name` key") && row.contains("R-DIS.10"),
        "{row}"
    );
    assert!(
        !target.exists(),
        "no target file for an invalid advertisement"
    );
}

#[test]
fn nothing_advertised_finds_nothing() {
    let Some(ns) = namespace_or_skip("discovery with no Agent") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let found = discover(&ns, &dir.path().join("t.yaml"));
    assert_eq!(found.status.code(), Some(1), "{}", text(&found));
    assert!(String::from_utf8_lossy(&found.stdout).contains("no USP Agent advertisement"));
}

#[test]
fn a_wss_agent_advertises_encrypt_and_its_port_speaks_tls() {
    let Some(ns) = namespace_or_skip("discovery over wss") else {
        return;
    };
    use usp_plugfest::mtp::tls::pki::TestCa;
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("discovery CA").unwrap();
    let leaf = ca.issue(AGENT_ID).unwrap();
    let (ca_pem, cert_pem, key_pem) = (
        dir.path().join("ca.pem"),
        dir.path().join("agent.pem"),
        dir.path().join("agent.key"),
    );
    std::fs::write(&ca_pem, ca.cert_pem()).unwrap();
    std::fs::write(&cert_pem, &leaf.cert_pem).unwrap();
    std::fs::write(&key_pem, &leaf.key_pem).unwrap();
    let _agent = advertising_agent_with(
        &ns,
        &[],
        &[
            "--tls-ca",
            ca_pem.to_str().unwrap(),
            "--tls-cert",
            cert_pem.to_str().unwrap(),
            "--tls-key",
            key_pem.to_str().unwrap(),
        ],
    );
    let target = dir.path().join("discovered.yaml");
    let found = discover(&ns, &target);
    let shown = text(&found);
    assert_eq!(found.status.code(), Some(0), "{shown}");
    let table = String::from_utf8_lossy(&found.stdout);
    let row = table
        .lines()
        .find(|l| l.contains(AGENT_ID))
        .unwrap_or_else(|| panic!("{shown}"));
    // encrypt advertised, and the TLS probe agrees: no R-DIS.11a problem.
    let yes = row.split_whitespace().filter(|w| *w == "yes").count();
    assert!(
        yes == 2 && row.ends_with("valid"),
        "encrypt and TLS both yes: {row}"
    );
    let yaml = std::fs::read_to_string(&target).unwrap();
    assert!(yaml.contains("url: wss://127.0.0.1:"), "{yaml}");
}

/// The harness as a Controller that Agents look up (R-DIS.7): `run
/// --advertise-controller` announces its WebSocket server as
/// `_usp-ctr-ws._tcp` (instance = its Endpoint ID, TXT `path`); the
/// reference Agent, told only the Controller's Endpoint ID, finds it, dials
/// the advertised URL, and the DeviceInfo suite runs green.
#[test]
fn an_agent_finds_the_advertised_controller_and_the_run_goes_green() {
    let Some(ns) = namespace_or_skip("controller advertisement") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("controller.yaml");
    std::fs::write(
        &target,
        format!("name: found by DNS-SD\nagent_endpoint_id: {AGENT_ID}\nmtp: websocket\nwebsocket:\n  role: server\n  listen: 127.0.0.1:18765\n  path: /usp-controller\ntimeouts:\n  connect_ms: 15000\n"),
    )
    .unwrap();
    let agent = ns
        .command(&["agent", "--find-controller", "--find-timeout", "15"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ip netns exec plugfest agent starts");
    let _agent = KillOnDrop(agent);
    let out = dir.path().join("reports");
    assert_deviceinfo_green(&ns, &target, &out, &["--advertise-controller"]);
}

/// Its negative twin: a Controller nobody advertises is not found; the
/// Agent says which service and name it looked for, and exits 2.
#[test]
fn an_unadvertised_controller_is_not_found() {
    let Some(ns) = namespace_or_skip("controller lookup, nothing advertised") else {
        return;
    };
    let found = ns
        .command(&[
            "agent",
            "--find-controller",
            "--controller-id",
            "proto::nobody-advertises-me",
            "--find-timeout",
            "1",
        ])
        .output()
        .expect("plugfest agent runs");
    let shown = text(&found);
    assert_eq!(found.status.code(), Some(2), "{shown}");
    assert!(
        shown
            .contains("no _usp-ctr-ws._tcp.local. advertisement named proto::nobody-advertises-me"),
        "{shown}"
    );
}

/// The Agent's port inside a namespace: each namespace has its own
/// loopback, so a fixed port cannot collide with anything outside it.
const NS_AGENT_PORT: u16 = 18080;

/// `plugfest agent --listen 127.0.0.1:NS_AGENT_PORT --advertise` in `ns`.
fn agent_on_fixed_port(ns: &Netns, faults: &[&str]) -> KillOnDrop {
    agent_on_fixed_port_with(ns, faults, &[])
}

fn agent_on_fixed_port_with(ns: &Netns, faults: &[&str], extra: &[&str]) -> KillOnDrop {
    let listen = format!("127.0.0.1:{NS_AGENT_PORT}");
    let mut args = vec!["agent", "--listen", &listen, "--advertise"];
    args.extend(extra);
    for f in faults {
        args.extend(["--fault", f]);
    }
    let child = ns
        .command(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ip netns exec plugfest agent starts");
    std::thread::sleep(Duration::from_millis(500));
    KillOnDrop(child)
}

/// `plugfest run --discovery` (unless `discovery` is false) of
/// test-cases/discovery.yaml against the Agent on NS_AGENT_PORT: the exit
/// code, case id -> (verdict, message), and the whole output.
fn discovery_suite(
    ns: &Netns,
    dir: &Path,
    discovery: bool,
) -> (i32, Vec<(String, String, String)>, String) {
    let target = dir.join("agent.yaml");
    std::fs::write(
        &target,
        format!("name: advertising Agent\nagent_endpoint_id: {AGENT_ID}\nmtp: websocket\nwebsocket:\n  role: client\n  url: ws://127.0.0.1:{NS_AGENT_PORT}/\n"),
    )
    .unwrap();
    let out = dir.join("reports");
    let mut run = ns.command(&["run"]);
    if discovery {
        run.arg("--discovery");
    }
    let run = run
        .arg("--target")
        .arg(&target)
        .args(["--cases", "test-cases/discovery.yaml", "--out"])
        .arg(&out)
        .output()
        .expect("plugfest run starts");
    let shown = text(&run);
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("results.json")).unwrap_or_else(|_| panic!("{shown}")),
    )
    .unwrap();
    let cases = results["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["verdict"].as_str().unwrap().to_string(),
                c["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    (run.status.code().unwrap_or(-1), cases, shown)
}

const DISCOVERY_CASES: [&str; 3] = [
    "mdns-advert-srv-txt",
    "mdns-txt-every-mtp",
    "mdns-answers-query",
];

#[test]
fn the_discovery_suite_runs_green_against_the_advertising_agent() {
    let Some(ns) = namespace_or_skip("discovery suite") else {
        return;
    };
    let _agent = agent_on_fixed_port(&ns, &[]);
    let dir = tempfile::tempdir().unwrap();
    let (code, cases, shown) = discovery_suite(&ns, dir.path(), true);
    assert_eq!(code, 0, "{shown}");
    let ids: Vec<&str> = cases.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(ids, DISCOVERY_CASES, "{shown}");
    assert!(cases.iter().all(|c| c.1 == "passed"), "{shown}");

    // Without --discovery the same run browses nothing: every case is
    // skipped, saying how to turn it on.
    let (code, cases, shown) = discovery_suite(&ns, dir.path(), false);
    assert_eq!(code, 0, "{shown}");
    assert!(
        cases
            .iter()
            .all(|c| c.1 == "skipped" && c.2.contains("--discovery")),
        "{shown}"
    );
}

/// advert-wrong-instance: the instance name is the friendly name, so no
/// advertisement is named by the Endpoint ID: every case fails on R-DIS.8
/// and says what it found instead.
#[test]
fn a_wrong_instance_name_fails_every_discovery_case_on_r_dis_8() {
    let Some(ns) = namespace_or_skip("discovery suite, advert-wrong-instance") else {
        return;
    };
    let _agent = agent_on_fixed_port(&ns, &["advert-wrong-instance"]);
    let dir = tempfile::tempdir().unwrap();
    let (code, cases, shown) = discovery_suite(&ns, dir.path(), true);
    assert_eq!(code, 1, "{shown}");
    assert_eq!(cases.len(), 3, "{shown}");
    for (id, verdict, message) in &cases {
        assert_eq!(verdict, "failed", "{id}: {shown}");
        assert!(
            message.contains("[R-DIS.8]")
                && message.contains("\"Plugfest reference Agent\"")
                && message.contains(&format!("named {AGENT_ID}")),
            "{id}: {message}"
        );
    }
}

/// advertisement-without-name: the TXT cases fail on R-DIS.10; the Agent
/// still answers the query, so mdns-answers-query passes.
#[test]
fn a_missing_txt_name_fails_the_txt_cases_on_r_dis_10() {
    let Some(ns) = namespace_or_skip("discovery suite, advertisement-without-name") else {
        return;
    };
    let _agent = agent_on_fixed_port(&ns, &["advertisement-without-name"]);
    let dir = tempfile::tempdir().unwrap();
    let (code, cases, shown) = discovery_suite(&ns, dir.path(), true);
    assert_eq!(code, 1, "{shown}");
    for (id, verdict, message) in &cases {
        if id == "mdns-answers-query" {
            assert_eq!(verdict, "passed", "{shown}");
        } else {
            assert_eq!(verdict, "failed", "{id}: {shown}");
            assert!(
                message.contains("no `name` key") && message.contains("[R-DIS.10]"),
                "{id}: {message}"
            );
        }
    }
}

/// A TXT `name` other than the Agent's DeviceInfo.FriendlyName fails the
/// TXT cases on R-DIS.10, naming both.
#[test]
fn a_txt_name_that_is_not_the_friendly_name_fails_on_r_dis_10() {
    let Some(ns) = namespace_or_skip("discovery suite, wrong TXT name") else {
        return;
    };
    let _agent = agent_on_fixed_port_with(&ns, &[], &["--advertise-name", "someone else"]);
    let dir = tempfile::tempdir().unwrap();
    let (code, cases, shown) = discovery_suite(&ns, dir.path(), true);
    assert_eq!(code, 1, "{shown}");
    for (id, verdict, message) in &cases {
        if id == "mdns-answers-query" {
            assert_eq!(verdict, "passed", "{shown}");
        } else {
            assert_eq!(verdict, "failed", "{id}: {shown}");
            assert!(
                message.contains("FriendlyName")
                    && message.contains("`name=someone else`")
                    && message.contains("[R-DIS.10]"),
                "{id}: {message}"
            );
        }
    }
}

/// A run advertising the harness as a Controller (`run
/// --advertise-controller`) in `ns`, waiting for an Agent that never comes
/// while `discover --controllers` browses.
fn advertised_controller(ns: &Netns, dir: &Path, controller_id: &str) -> KillOnDrop {
    let target = dir.join("controller.yaml");
    std::fs::write(
        &target,
        format!("name: advertised Controller\ncontroller_endpoint_id: {controller_id:?}\nagent_endpoint_id: {AGENT_ID}\nmtp: websocket\nwebsocket:\n  role: server\n  listen: 127.0.0.1:18765\n  path: /usp-controller\ntimeouts:\n  connect_ms: 15000\n"),
    )
    .unwrap();
    let child = ns
        .command(&["run", "--advertise-controller", "--target"])
        .arg(&target)
        .args(["--cases", "test-cases/deviceinfo.yaml", "--out"])
        .arg(dir.join("reports"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ip netns exec plugfest run starts");
    std::thread::sleep(Duration::from_millis(800));
    KillOnDrop(child)
}

fn discover_controllers(ns: &Netns) -> Output {
    ns.command(&["discover", "--controllers", "--timeout", "3"])
        .output()
        .expect("plugfest discover runs")
}

#[test]
fn discover_controllers_validates_the_advertised_harness() {
    let Some(ns) = namespace_or_skip("discover --controllers") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let _run = advertised_controller(&ns, dir.path(), "proto::plugfest-controller");
    let found = discover_controllers(&ns);
    let shown = text(&found);
    assert_eq!(found.status.code(), Some(0), "{shown}");
    let row = String::from_utf8_lossy(&found.stdout)
        .lines()
        .find(|l| l.contains("proto::plugfest-controller"))
        .unwrap_or_else(|| panic!("{shown}"))
        .to_string();
    assert!(
        row.starts_with("websocket")
            && row.contains("127.0.0.1:18765")
            && row.contains("/usp-controller")
            && row.ends_with("valid"),
        "{row}"
    );
}

/// Its negative twin: a Controller configured with a malformed Endpoint ID
/// advertises it as its instance name; `discover --controllers` reports
/// the advertisement invalid under R-DIS.8 and exits 1.
#[test]
fn discover_controllers_reports_a_malformed_instance_name() {
    let Some(ns) = namespace_or_skip("discover --controllers, malformed name") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let _run = advertised_controller(&ns, dir.path(), "plugfest controller");
    let found = discover_controllers(&ns);
    let shown = text(&found);
    assert_eq!(found.status.code(), Some(1), "{shown}");
    let row = String::from_utf8_lossy(&found.stdout)
        .lines()
        .find(|l| l.contains("plugfest controller"))
        .unwrap_or_else(|| panic!("{shown}"))
        .to_string();
    assert!(
        row.contains("INVALID")
            && row.contains("Controller's Endpoint ID")
            && row.contains("R-DIS.8"),
        "{row}"
    );
}

/// The built-in Agent of `run`, given `--discovery --role client`,
/// advertises the WebSocket server it listens on: the discovery suite runs
/// green against it, red on R-DIS.8 with `advert-wrong-instance`, and red
/// on TP-469 8.5 only with `no-announcement-after-reboot`.
#[test]
fn the_built_in_agent_advertises_with_discovery_role_client() {
    let Some(ns) = namespace_or_skip("run --discovery with the built-in Agent") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let suite = |fault: Option<&str>| {
        let out = dir.path().join(fault.unwrap_or("clean"));
        let mut cmd = ns.command(&["run", "--discovery", "--role", "client"]);
        if let Some(f) = fault {
            cmd.args(["--agent-fault", f]);
        }
        let run = cmd
            .args(["--cases", "test-cases/discovery.yaml", "--out"])
            .arg(&out)
            .output()
            .expect("plugfest run starts");
        let results: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out.join("results.json"))
                .unwrap_or_else(|_| panic!("{}", text(&run))),
        )
        .unwrap();
        (run, results["cases"].as_array().unwrap().clone())
    };
    let (run, cases) = suite(None);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert_eq!(cases.len(), 3, "{}", text(&run));
    assert!(
        cases.iter().all(|c| c["verdict"] == "passed"),
        "{}",
        text(&run)
    );
    let (run, cases) = suite(Some("advert-wrong-instance"));
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    assert!(
        cases.iter().all(|c| c["verdict"] == "failed"
            && c["message"]
                .as_str()
                .unwrap_or_default()
                .contains("[R-DIS.8]")),
        "{}",
        text(&run)
    );
    // TP-469 8.5: an Agent that does not announce itself again after the
    // reboot fails that case only (it still answers queries).
    let (run, cases) = suite(Some("no-announcement-after-reboot"));
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    for c in &cases {
        let message = c["message"].as_str().unwrap_or_default();
        if c["id"] == "mdns-advert-srv-txt" {
            assert_eq!(c["verdict"], "failed", "{c}");
            assert!(
                message.contains("announces _usp-agt-ws._tcp.local. unasked")
                    && message.contains("no mDNS response with SRV records")
                    && message.contains("TP-469 8.5"),
                "{message}"
            );
        } else {
            assert_eq!(c["verdict"], "passed", "{c}");
        }
    }
}

/// The built-in Agent advertises only as the WebSocket server: `--discovery`
/// with the harness as the server is refused up front (exit 2).
#[test]
fn discovery_with_the_built_in_agent_needs_role_client() {
    let dir = tempfile::tempdir().unwrap();
    let run = Command::new(BIN)
        .args([
            "run",
            "--discovery",
            "--cases",
            "test-cases/discovery.yaml",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .expect("plugfest run starts");
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("--mtp ws --role client"),
        "{}",
        text(&run)
    );
}

/// TP-469 8.4 (test-cases/discovery-controller.yaml): the reference Agent,
/// configured with ws://plugfest-controller.local:PORT/PATH, resolves the
/// harness's advertised host with mDNS at every boot; `expect_mdns_query`
/// hears its A/AAAA question after the reboot. `run --advertise-controller`
/// in `ns`, with the Agent on the fixed port's URL.
fn local_name_suite(ns: &Netns, dir: &Path, faults: &[&str]) -> common::Run {
    let port = NS_AGENT_PORT + 1;
    let target = dir.join("controller.yaml");
    std::fs::write(
        &target,
        format!("name: .local. Controller\nagent_endpoint_id: {AGENT_ID}\nmtp: websocket\nwebsocket:\n  role: server\n  listen: 127.0.0.1:{port}\n  path: /usp-controller\ntimeouts:\n  connect_ms: 15000\n"),
    )
    .unwrap();
    let url = format!("ws://plugfest-controller.local:{port}/usp-controller");
    let mut args = vec!["agent", "--connect", &url];
    for f in faults {
        args.extend(["--fault", f]);
    }
    let _agent = KillOnDrop(
        ns.command(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ip netns exec plugfest agent starts"),
    );
    let out = dir.join("reports");
    let run = ns
        .command(&["run", "--advertise-controller", "--target"])
        .arg(&target)
        .args(["--cases", "test-cases/discovery-controller.yaml", "--out"])
        .arg(&out)
        .output()
        .expect("plugfest run starts");
    common::read_run(run, &out)
}

#[test]
fn an_agent_resolves_its_local_controller_url_with_mdns() {
    let Some(ns) = namespace_or_skip("TP-469 8.4") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let run = local_name_suite(&ns, dir.path(), &[]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(
        run.verdict_of("mdns-resolves-local-controller-url").0,
        "passed",
        "{}",
        run.explain()
    );
}

/// Its negative twin: an Agent that takes the .local. host from elsewhere
/// (as a hosts-file entry would) asks no mDNS question, and the case fails
/// on TP-469 8.4, the harness's own name probes (ANY) not counting.
#[test]
fn an_agent_that_skips_mdns_for_its_local_controller_fails_8_4() {
    let Some(ns) = namespace_or_skip("TP-469 8.4, local-name-without-mdns") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let run = local_name_suite(&ns, dir.path(), &["local-name-without-mdns"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    let (verdict, message) = run.verdict_of("mdns-resolves-local-controller-url");
    assert_eq!(verdict, "failed", "{}", run.explain());
    assert!(message.contains("[TP-469 8.4]"), "{message}");
    assert!(
        message.contains("A or AAAA question for plugfest-controller.local."),
        "{message}"
    );
}
