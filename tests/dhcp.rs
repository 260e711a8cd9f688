//! DHCP Controller discovery end to end (TP-469 8.1-8.3), on a link this
//! test makes: two network namespaces joined by a veth pair, nothing else
//! on it. In one, the harness (`plugfest run --dhcp`) serves DHCP and is
//! the WebSocket server its option 125 names (and the DNS responder its
//! option 6 names); in the other, the reference
//! Agent (`plugfest agent --dhcp`) asks for its lease with real broadcast
//! DHCP at every boot and dials the Controller it was told of. The suite
//! (test-cases/dhcp.yaml) runs green, and fails, naming the rule, against
//! each DHCP fault. Needs root (`ip netns add`, ports 67/68); without it
//! each test prints why it is skipped and returns.

mod common;

use common::{ip, KillOnDrop};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

const BIN: &str = env!("CARGO_BIN_EXE_plugfest");
const HARNESS_IF: &str = "pfh0";
const AGENT_IF: &str = "pfa0";
const HARNESS_ADDR: &str = "10.213.0.1";
/// The URL option 125 carries (the harness listens on every address of
/// its namespace; the interface's is the one the Agent reaches).
const CONTROLLER_URL: &str = "ws://10.213.0.1:18765/usp-controller";
/// test-cases/dhcp.yaml, in order.
const CASES: [&str; 3] = [
    "dhcp-requests-usp-vendor-class",
    "dhcp-provisioning-code-applied",
    "dhcp-controller-fqdn-resolved",
];

/// Two namespaces and the veth pair between them; deleted on drop.
struct Link {
    harness: String,
    agent: String,
    /// Where the harness's WebSocket server listens: every IPv4 address,
    /// or on a link with IPv6 every address of both.
    listen: &'static str,
}

impl Link {
    /// With `ipv6`, both ends also get an address of fd00:213::/64 (the
    /// harness then serves DHCPv6 beside DHCPv4), without duplicate
    /// address detection, so the link is ready at once.
    fn create_with(ipv6: bool) -> Result<Link, String> {
        common::root_or_why()?;
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let name = |side: &str| format!("plugfest-dhcp-{side}-{}-{n}", std::process::id());
        let link = Link {
            harness: name("h"),
            agent: name("a"),
            listen: if ipv6 { "[::]:18765" } else { "0.0.0.0:18765" },
        };
        for ns in [&link.harness, &link.agent] {
            ip(&["netns", "add", ns])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            for conf in ["all", "default"] {
                ip(&[
                    "netns",
                    "exec",
                    ns,
                    "sysctl",
                    "-qw",
                    &format!("net.ipv6.conf.{conf}.accept_dad=0"),
                ])?;
            }
        }
        // Made inside the harness's namespace with its peer in the Agent's:
        // the names never meet the machine's own interfaces.
        ip(&[
            "-n",
            &link.harness,
            "link",
            "add",
            HARNESS_IF,
            "type",
            "veth",
            "peer",
            "name",
            AGENT_IF,
            "netns",
            &link.agent,
        ])?;
        // The Agent's interface has an address in the server's subnet
        // already: the reference Agent reports its lease but does not
        // configure the interface.
        for (ns, dev, addr) in [
            (&link.harness, HARNESS_IF, format!("{HARNESS_ADDR}/24")),
            (&link.agent, AGENT_IF, "10.213.0.2/24".to_string()),
        ] {
            ip(&["-n", ns, "addr", "add", &addr, "dev", dev])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
        }
        if ipv6 {
            for (ns, dev, addr) in [
                (&link.harness, HARNESS_IF, "fd00:213::1/64"),
                (&link.agent, AGENT_IF, "fd00:213::2/64"),
            ] {
                ip(&["-n", ns, "addr", "add", addr, "dev", dev, "nodad"])?;
            }
        }
        Ok(link)
    }

    fn command(ns: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, BIN]).args(args);
        c
    }

    /// `plugfest agent --dhcp` (with `extra`) in the Agent's namespace.
    fn agent(&self, extra: &[&str]) -> KillOnDrop {
        self.agent_logging(extra, Stdio::null())
    }

    /// `agent`, its log lines (stderr) going to `log`.
    fn agent_logging(&self, extra: &[&str], log: impl Into<Stdio>) -> KillOnDrop {
        let child = Self::command(&self.agent, &["agent", "--dhcp", AGENT_IF])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("ip netns exec plugfest agent starts");
        KillOnDrop(child)
    }

    /// `plugfest run --dhcp` of test-cases/dhcp.yaml in the harness's namespace.
    fn run(&self, dir: &Path) -> common::Run {
        let target = dir.join("target.yaml");
        std::fs::write(
            &target,
            format!("name: DHCP-discovered Agent\nagent_endpoint_id: proto::plugfest-reference-agent\nmtp: websocket\nwebsocket:\n  role: server\n  listen: '{}'\n  path: /usp-controller\ntimeouts:\n  connect_ms: 20000\n", self.listen),
        )
        .unwrap();
        let out = dir.join("reports");
        let output = Self::command(&self.harness, &["run", "--dhcp", HARNESS_IF, "--target"])
            .arg(&target)
            .args(["--cases", "test-cases/dhcp.yaml", "--out"])
            .arg(&out)
            .output()
            .expect("plugfest run starts");
        common::read_run(output, &out)
    }
}

impl Link {
    /// The suite against `plugfest agent --dhcp` with `agent_args`: every
    /// case passes; results.json's text, for what the report must show,
    /// and the Agent's log.
    fn green_run(&self, agent_args: &[&str]) -> (String, String) {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("agent.log");
        let agent = self.agent_logging(agent_args, std::fs::File::create(&log).unwrap());
        let run = self.run(dir.path());
        drop(agent);
        assert_eq!(run.code, 0, "{}", run.explain());
        assert_eq!(
            run.verdicts(),
            CASES.map(|c| (c.to_string(), "passed".to_string())),
            "{}",
            run.explain()
        );
        (
            std::fs::read_to_string(dir.path().join("reports/results.json")).unwrap(),
            std::fs::read_to_string(&log).unwrap(),
        )
    }

    /// The suite against an Agent (with `agent_args`) under the
    /// `dhcp-no-vendor-class` fault: 8.1 fails, its message naming each of
    /// `needles`. Without the vendor class the server sends no USP
    /// options: the Agent finds the Controller only because it was
    /// configured with it.
    fn vendor_class_missing(&self, agent_args: &[&str], needles: &[&str]) {
        let mut args = agent_args.to_vec();
        args.extend([
            "--connect",
            CONTROLLER_URL,
            "--fault",
            "dhcp-no-vendor-class",
        ]);
        let _agent = self.agent(&args);
        let dir = tempfile::tempdir().unwrap();
        let run = self.run(dir.path());
        assert_eq!(run.code, 1, "{}", run.explain());
        let (verdict, message) = run.verdict_of("dhcp-requests-usp-vendor-class");
        assert_eq!(verdict, "failed", "{}", run.explain());
        for needle in needles {
            assert!(message.contains(needle), "{needle} not in {message}");
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // The veth pair goes with the namespaces.
        let _ = ip(&["netns", "del", &self.harness]);
        let _ = ip(&["netns", "del", &self.agent]);
    }
}

fn link_or_skip(test: &str) -> Option<Link> {
    link_or_skip_with(test, false)
}

fn link_or_skip_with(test: &str, ipv6: bool) -> Option<Link> {
    match Link::create_with(ipv6) {
        Ok(l) => Some(l),
        Err(why) => {
            println!("SKIPPED {test}: {why}");
            None
        }
    }
}

#[test]
fn the_dhcp_suite_runs_green_against_an_agent_that_asks_for_its_controller() {
    let Some(link) = link_or_skip("DHCP suite") else {
        return;
    };
    // Only the lease tells this Agent where its Controller is.
    let (results, _) = link.green_run(&[]);
    // The exchange is in the report: the Agent's option 124 and the
    // server's option 125 with the NUL-terminated code.
    assert!(
        results.contains(r#"option 124: enterprise 3561, items [\"usp\"]"#),
        "{results}"
    );
    assert!(results.contains(r#"26=\"plugfest-8-2\""#), "{results}");
    // TP-469 8.3: the name in the URL, and the Agent's question about it.
    assert!(
        results.contains("25=ws://controller.plugfest.test:18765/usp-controller"),
        "{results}"
    );
    assert!(
        results.contains("A controller.plugfest.test -> 10.213.0.1"),
        "{results}"
    );
}

#[test]
fn an_agent_that_does_not_name_usp_fails_on_r_dis_1() {
    let Some(link) = link_or_skip("DHCP suite, dhcp-no-vendor-class") else {
        return;
    };
    link.vendor_class_missing(&[], &["[R-DIS.1]", "no option 124", "without option 125"]);
}

#[test]
fn an_agent_that_drops_the_provisioning_code_fails_8_2_only() {
    let Some(link) = link_or_skip("DHCP suite, dhcp-ignores-provisioning-code") else {
        return;
    };
    let _agent = link.agent(&["--fault", "dhcp-ignores-provisioning-code"]);
    let dir = tempfile::tempdir().unwrap();
    let run = link.run(dir.path());
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(run.verdict_of("dhcp-requests-usp-vendor-class").0, "passed");
    let (verdict, message) = run.verdict_of("dhcp-provisioning-code-applied");
    assert_eq!(verdict, "failed", "{}", run.explain());
    assert!(
        message.contains(r#""plugfest-8-2-before" is not "plugfest-8-2""#),
        "{message}"
    );
    assert_eq!(run.verdict_of("dhcp-controller-fqdn-resolved").0, "passed");
}

#[test]
fn an_agent_that_does_not_follow_the_controller_url_fails_8_3_only() {
    let Some(link) = link_or_skip("DHCP suite, dhcp-ignores-controller-url") else {
        return;
    };
    // It dials the configured Controller instead, without asking the DNS.
    let _agent = link.agent(&[
        "--connect",
        CONTROLLER_URL,
        "--fault",
        "dhcp-ignores-controller-url",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let run = link.run(dir.path());
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(run.verdict_of(CASES[0]).0, "passed", "{}", run.explain());
    assert_eq!(run.verdict_of(CASES[1]).0, "passed", "{}", run.explain());
    let (verdict, message) = run.verdict_of("dhcp-controller-fqdn-resolved");
    assert_eq!(verdict, "failed", "{}", run.explain());
    assert!(message.contains("[TP-469 8.3]"), "{message}");
    assert!(
        message.contains("no DNS question reached the harness's responder"),
        "{message}"
    );
}

/// TP-469 8.1: "this test can be run over DHCPv4 or DHCPv6". The link
/// has both; the Agent asks over DHCPv6 only, and the same suite runs green
/// on what the harness's DHCPv6 server heard and offered (option 16 in,
/// option 17 out; option 23 names the harness's DNS responder, which the
/// Agent asks over IPv6 for 8.3).
#[test]
fn the_dhcp_suite_runs_green_over_dhcpv6() {
    let Some(link) = link_or_skip_with("DHCPv6 suite", true) else {
        return;
    };
    let (results, agent_log) = link.green_run(&["--dhcpv6"]);
    for needle in [
        "DHCPv6 SOLICIT from fe80::",
        r#"option 16: enterprise 3561, items [\"usp\"]"#,
        // Option 17 names the harness at its IPv6 address, where it
        // listens too: an Agent without IPv4 could follow it.
        "REPLY fd00:213::100 with option 17 (25=ws://[fd00:213::1]:18765/usp-controller",
        r#"26=\"plugfest-8-2\""#,
        // 8.3's question came over IPv6, to option 23's address.
        "from [fd00:213::2]:",
    ] {
        assert!(results.contains(needle), "{needle} not in {results}");
    }
    // The Agent asked over DHCPv6 only.
    assert!(!results.contains("DHCPDISCOVER from"), "{results}");
    // The lease names the server that replied, from its link-local address.
    assert!(
        agent_log.contains("leased fd00:213::100 from fe80::"),
        "{agent_log}"
    );
}

#[test]
fn an_agent_that_does_not_name_usp_over_dhcpv6_fails_on_r_dis_1() {
    let Some(link) = link_or_skip_with("DHCPv6 suite, dhcp-no-vendor-class", true) else {
        return;
    };
    link.vendor_class_missing(
        &["--dhcpv6"],
        &[
            "[R-DIS.1]",
            "DHCPv6 SOLICIT",
            "no option 16",
            "without option 17",
        ],
    );
}

/// Without `--dhcp` the cases are skipped, saying how to run them; and
/// `--dhcp` needs the harness to be the WebSocket server option 125 names.
/// Neither needs root.
#[test]
fn without_dhcp_the_cases_are_skipped_and_a_client_target_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports");
    let run = common::plugfest(&["run", "--cases", "test-cases/dhcp.yaml"], &out);
    assert_eq!(run.code, 0, "{}", run.explain());
    let cases = run.cases();
    assert_eq!(cases.len(), CASES.len());
    assert!(
        cases
            .iter()
            .all(|c| common::skipped_for_want_of_discovery(c)
                && c["message"].as_str().unwrap().contains("--dhcp IFACE")),
        "{}",
        run.explain()
    );
    let target = dir.path().join("client.yaml");
    std::fs::write(
        &target,
        "name: x\nmtp: websocket\nwebsocket:\n  role: client\n  url: ws://127.0.0.1:9/\n",
    )
    .unwrap();
    let (code, _, err) = common::plugfest_plain(&[
        "run",
        "--dhcp",
        "lo",
        "--target",
        target.to_str().unwrap(),
        "--cases",
        "test-cases/dhcp.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--dhcp needs a target whose websocket role is server"),
        "{err}"
    );
}
