//! WebSocket over TLS (wss) in both roles: the shipped suite passes over
//! it, certificates from an untrusted CA are refused (and accepted only in
//! insecure mode), the peer's Endpoint ID is read from its certificate, and
//! Records whose from_id differs from it are set aside (R-SEC.10a).

mod common;

use common::{free_port, KillOnDrop};

use std::process::{Command, Stdio};
use std::time::Duration;

use common::plugfest;
use usp_plugfest::agent::runtime::AgentHost;
use usp_plugfest::agent::{faults::FaultSet, Agent, AgentConfig};
use usp_plugfest::mtp::tls::pki::TestCa;
use usp_plugfest::mtp::tls::{ClientAuth, ClientTls, ServerTls, ServerTrust};
use usp_plugfest::mtp::websocket::{WsDialer, WsServer};
use usp_plugfest::mtp::{MtpConnector, MtpError};
use usp_plugfest::session::{Session, SessionConfig};
use usp_plugfest::usp::proto::msg::{request::ReqType, Get};

const CTRL: &str = "proto::tls-controller";
const AGENT: &str = "proto::tls-agent";

/// The reference Agent as a wss server presenting a certificate for
/// `cert_eid`, requiring client certificates from `ca` when `require`.
async fn agent_server(ca: &TestCa, cert_eid: &str, require: bool) -> String {
    let identity = ca.issue(cert_eid).unwrap().identity();
    let auth = if require {
        ClientAuth::Required(vec![ca.cert()])
    } else {
        ClientAuth::None
    };
    let server = WsServer::bind("127.0.0.1:0", None, AGENT)
        .await
        .unwrap()
        .with_tls(ServerTls::new(identity, auth).unwrap());
    let url = format!("wss://{}/", server.local_addr());
    let agent = Agent::new(AgentConfig {
        endpoint_id: AGENT.into(),
        faults: FaultSet::default(),
    });
    tokio::spawn(AgentHost::new(agent, FaultSet::default()).run_listener(server));
    url
}

fn session(connector: Box<dyn MtpConnector>, agent_id: Option<&str>) -> Session {
    Session::new(
        connector,
        SessionConfig {
            controller_id: CTRL.into(),
            agent_id: agent_id.map(str::to_string),
            request_timeout: Duration::from_millis(800),
            connect_timeout: Duration::from_secs(5),
            connect_record_timeout: Duration::from_millis(800),
        },
    )
}

fn get() -> ReqType {
    ReqType::Get(Get {
        param_paths: vec!["Device.DeviceInfo.Manufacturer".into()],
        max_depth: 0,
    })
}

#[tokio::test]
async fn a_server_certificate_from_an_untrusted_ca_is_refused_unless_insecure() {
    let agent_ca = TestCa::new("agent CA").unwrap();
    let other_ca = TestCa::new("some other CA").unwrap();
    let url = agent_server(&agent_ca, AGENT, false).await;

    let untrusting = ClientTls::new(ServerTrust::Roots(vec![other_ca.cert()]), None).unwrap();
    let err = WsDialer::new(&url, CTRL)
        .with_tls(untrusting)
        .connect()
        .await
        .err()
        .expect("an untrusted server certificate was accepted");
    assert!(matches!(err, MtpError::Handshake { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("not signed by a trusted CA"), "{text}");
    assert!(text.contains("insecure"), "{text}");

    let insecure = ClientTls::new(ServerTrust::Insecure, None).unwrap();
    assert!(insecure.is_insecure());
    let conn = WsDialer::new(&url, CTRL)
        .with_tls(insecure)
        .connect()
        .await
        .expect("insecure mode accepts any server certificate");
    assert_eq!(conn.peer().certificate_endpoint_id.as_deref(), Some(AGENT));
}

#[tokio::test]
async fn a_plain_ws_url_with_tls_settings_and_wss_without_are_refused() {
    let ca = TestCa::new("ca").unwrap();
    let tls = ClientTls::new(ServerTrust::Roots(vec![ca.cert()]), None).unwrap();
    let url = agent_server(&ca, AGENT, false).await;
    let err = WsDialer::new(&url, CTRL).connect().await.err().unwrap();
    assert!(err.to_string().contains("needs TLS settings"), "{err}");
    let plain = url.replacen("wss://", "ws://", 1);
    let err = WsDialer::new(&plain, CTRL)
        .with_tls(tls)
        .connect()
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("use wss://"), "{err}");
}

#[tokio::test]
async fn the_agent_as_server_requires_a_client_certificate() {
    // R-MTP.1: an Agent requires the Controller's certificate.
    let ca = TestCa::new("ca").unwrap();
    let url = agent_server(&ca, AGENT, true).await;
    let anonymous = ClientTls::new(ServerTrust::Roots(vec![ca.cert()]), None).unwrap();
    let mut s = session(
        Box::new(WsDialer::new(&url, CTRL).with_tls(anonymous)),
        Some(AGENT),
    );
    let (_, err) = s
        .request(get())
        .await
        .expect_err("served without a client certificate");
    assert!(!err.to_string().is_empty());

    let identity = ca.issue(CTRL).unwrap().identity();
    let with_cert = ClientTls::new(ServerTrust::Roots(vec![ca.cert()]), Some(identity)).unwrap();
    // No agent_id configured: learnt from the Agent's certificate.
    let mut s = session(
        Box::new(WsDialer::new(&url, CTRL).with_tls(with_cert)),
        None,
    );
    s.request(get()).await.map_err(|(_, e)| e).unwrap();
    assert_eq!(s.agent_id(), Some(AGENT));
}

#[tokio::test]
async fn records_whose_from_id_differs_from_the_certificate_are_set_aside() {
    let ca = TestCa::new("ca").unwrap();
    // The Agent's Records say AGENT; its certificate says someone else.
    let url = agent_server(&ca, "proto::not-the-agent", false).await;
    let tls = ClientTls::new(ServerTrust::Roots(vec![ca.cert()]), None).unwrap();
    let mut s = session(
        Box::new(WsDialer::new(&url, CTRL).with_tls(tls)),
        Some(AGENT),
    );
    let (_, err) = s
        .request(get())
        .await
        .expect_err("a mismatching Record was processed");
    let text = err.to_string();
    assert!(text.contains("R-SEC.10a"), "{text}");
    assert!(text.contains("proto::not-the-agent"), "{text}");
}

#[tokio::test]
async fn the_reference_agent_ignores_records_not_from_the_certificates_endpoint() {
    // R-SEC.10a on the Agent's side: the Controller's certificate names
    // another Endpoint ID than its Records' from_id.
    let ca = TestCa::new("ca").unwrap();
    let url = agent_server(&ca, AGENT, true).await;
    let tls = ClientTls::new(
        ServerTrust::Roots(vec![ca.cert()]),
        Some(ca.issue("proto::someone-else").unwrap().identity()),
    )
    .unwrap();
    let mut s = session(
        Box::new(WsDialer::new(&url, CTRL).with_tls(tls)),
        Some(AGENT),
    );
    let (_, err) = s
        .request(get())
        .await
        .expect_err("the Agent processed the Record");
    let text = err.to_string();
    // Silence, not an answer addressed elsewhere.
    assert!(text.contains("no response"), "{text}");
    assert!(!text.contains("set aside"), "{text}");
}

#[tokio::test]
async fn the_harness_as_server_reads_the_agents_certificate_identity() {
    let ca = TestCa::new("ca").unwrap();
    let harness = ServerTls::new(
        ca.issue(CTRL).unwrap().identity(),
        ClientAuth::Optional(vec![ca.cert()]),
    )
    .unwrap();
    let mut server = WsServer::bind("127.0.0.1:0", None, CTRL)
        .await
        .unwrap()
        .with_tls(harness);
    assert!(server.describe().contains("wss://"));
    let url = format!("wss://{}/", server.local_addr());
    let agent_tls = ClientTls::new(
        ServerTrust::Roots(vec![ca.cert()]),
        Some(ca.issue(AGENT).unwrap().identity()),
    )
    .unwrap();
    let dial = tokio::spawn(async move {
        WsDialer::new(&url, "proto::claimed-in-query")
            .with_tls(agent_tls)
            .connect()
            .await
            .map(|c| c.peer().clone())
    });
    let conn = server.establish().await.unwrap();
    assert_eq!(conn.peer().certificate_endpoint_id.as_deref(), Some(AGENT));
    assert_eq!(
        conn.peer().endpoint_id.as_deref(),
        Some("proto::claimed-in-query")
    );
    let client_side = dial.await.unwrap().unwrap();
    assert_eq!(client_side.certificate_endpoint_id.as_deref(), Some(CTRL));
}

fn run_builtin(extra: &[&str]) -> common::Run {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec!["run", "--tls", "--quiet"];
    args.extend_from_slice(extra);
    plugfest(&args, out.path())
}

#[test]
fn the_shipped_suite_passes_over_wss_with_the_harness_as_server() {
    let run = run_builtin(&["--role", "server"]);
    assert_eq!(run.code, 0, "{}\n{}", run.failure_messages(), run.explain());
    let results = run.results.unwrap();
    assert!(results["connection"].as_str().unwrap().contains("wss://"));
    assert!(results["tls"].as_str().unwrap().contains("verified"));
}

#[test]
fn the_shipped_suite_passes_over_wss_with_the_harness_as_client() {
    let run = run_builtin(&["--role", "client"]);
    assert_eq!(run.code, 0, "{}\n{}", run.failure_messages(), run.explain());
    assert!(run.cases().len() >= 20);
    assert!(run.results.unwrap()["connection"]
        .as_str()
        .unwrap()
        .contains("wss://"));
}

#[test]
fn insecure_mode_is_loud_and_recorded() {
    let run = run_builtin(&["--role", "client", "--insecure"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(run.stderr.contains("verification is OFF"), "{}", run.stderr);
    let tls = run.results.unwrap()["tls"].as_str().unwrap().to_string();
    assert!(tls.starts_with("INSECURE"), "{tls}");
    let out = tempfile::tempdir().unwrap();
    let run = plugfest(&["run", "--insecure"], out.path());
    assert_eq!(run.code, 2, "--insecure without TLS: {}", run.explain());
}

/// A target file with a `tls:` section against `plugfest agent` serving
/// wss with PEM files, the way a participant would set it up.
#[test]
fn a_target_file_reaches_a_standalone_wss_agent() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("plugfest ca").unwrap();
    let agent_cert = ca.issue("proto::plugfest-reference-agent").unwrap();
    let ctrl_cert = ca.issue("proto::plugfest-controller").unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("ca.pem", ca.cert_pem());
    write("agent.pem", &agent_cert.cert_pem);
    write("agent.key", &agent_cert.key_pem);
    write("ctrl.pem", &ctrl_cert.cert_pem);
    write("ctrl.key", &ctrl_cert.key_pem);
    let port = free_port();
    let path = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let _agent = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_plugfest"))
            .args(["agent", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--tls-ca", &path("ca.pem")])
            .args(["--tls-cert", &path("agent.pem")])
            .args(["--tls-key", &path("agent.key")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(300));
    // Relative paths: resolved against the target file's directory.
    let target = dir.path().join("target.yaml");
    let write_target = |tls: &str| {
        std::fs::write(
            &target,
            format!(
                "name: wss Agent\nmtp: websocket\nwebsocket:\n  role: client\n  url: wss://127.0.0.1:{port}/\n{tls}timeouts:\n  request_ms: 3000\n  connect_ms: 5000\n  connect_record_ms: 2000\n"
            ),
        )
        .unwrap()
    };
    write_target("tls:\n  ca: ca.pem\n  cert: ctrl.pem\n  key: ctrl.key\n");
    let out = tempfile::tempdir().unwrap();
    let run = plugfest(
        &["run", "--target", target.to_str().unwrap(), "--quiet"],
        out.path(),
    );
    assert_eq!(run.code, 0, "{}\n{}", run.failure_messages(), run.explain());
    let results = run.results.unwrap();
    assert_eq!(
        results["agent_endpoint_id"],
        "proto::plugfest-reference-agent"
    );

    // Without a client certificate the Agent refuses the harness (R-MTP.1).
    write_target("tls:\n  ca: ca.pem\n");
    let out = tempfile::tempdir().unwrap();
    let run = plugfest(
        &["run", "--target", target.to_str().unwrap(), "--quiet"],
        out.path(),
    );
    assert_eq!(run.code, 1, "{}", run.explain());
}
