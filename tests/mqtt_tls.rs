//! MQTT over TLS (R-MQTT.48) through our own TLS relay, against a private
//! mosquitto with a TLS listener: the shipped suite over MQTT 5 and 3.1.1,
//! a target file against a standalone Agent, an untrusted broker
//! certificate and a missing client certificate refused with the reason,
//! the broker's certificate never taken for the Agent's (R-SEC.10a), and no
//! rustls-webpki 0.102 in the build.

mod common;

use common::KillOnDrop;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{assert_suite_passed, plugfest, Run};
use usp_plugfest::agent::runtime::AgentHost;
use usp_plugfest::agent::{faults::FaultSet, Agent, AgentConfig};
use usp_plugfest::broker::{Mosquitto, MosquittoTls};
use usp_plugfest::mtp::mqtt::{MqttConfig, MqttEndpoint, MqttTls, MqttVersion};
use usp_plugfest::mtp::tls::pki::TestCa;
use usp_plugfest::mtp::tls::{ClientTls, ServerTrust};
use usp_plugfest::mtp::{MtpConnector, MtpError};
use usp_plugfest::session::{Session, SessionConfig};
use usp_plugfest::usp::proto::msg::{request::ReqType, Get};

const AGENT: &str = "proto::plugfest-reference-agent";
const CONTROLLER: &str = "proto::plugfest-controller";
const BROKER_EID: &str = "proto::a-tls-broker";

/// A mosquitto whose TLS listener presents a certificate from `ca`.
fn tls_broker(ca: &TestCa, require_certificate: bool) -> Mosquitto {
    let cert = ca.issue(BROKER_EID).unwrap();
    Mosquitto::start_tls(&MosquittoTls {
        ca_pem: ca.cert_pem().to_string(),
        cert_pem: cert.cert_pem,
        key_pem: cert.key_pem,
        require_certificate,
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

fn client_tls(ca: &TestCa, eid: Option<&str>) -> MqttTls {
    let identity = eid.map(|e| ca.issue(e).unwrap().identity());
    MqttTls {
        client: ClientTls::new(ServerTrust::Roots(vec![ca.cert()]), identity).unwrap(),
    }
}

fn endpoint(broker: &str, eid: &str, own: &str, peer: &str, tls: MqttTls) -> MqttEndpoint {
    MqttEndpoint::new(
        MqttConfig::new(broker, MqttVersion::V5, eid, own)
            .with_peer_topic(Some(peer.to_string()))
            .with_tls(Some(tls)),
    )
}

fn run_builtin(version: &str, extra: &[&str]) -> Run {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec!["run", "--mtp", "mqtt", "--mqtt-version", version, "--tls"];
    args.extend_from_slice(extra);
    plugfest(&args, out.path())
}

fn assert_suite_passes_over_tls(version: &str, label: &str) {
    let run = run_builtin(version, &["--quiet"]);
    assert_suite_passed(&run, label, "MQTTConnectRecord");
    let results = run.results.unwrap();
    assert!(
        results["connection"].as_str().unwrap().contains("over TLS"),
        "{}",
        results["connection"]
    );
    assert!(results["tls"].as_str().unwrap().contains("verified"));
    // The broker's certificate names an Endpoint ID too; the Agent's id
    // still comes from its Records.
    assert_eq!(results["agent_endpoint_id"], AGENT);
}

#[test]
fn shipped_cases_pass_over_mqtt_5_with_tls() {
    assert_suite_passes_over_tls("5", "MQTT 5");
}

#[test]
fn shipped_cases_pass_over_mqtt_3_1_1_with_tls() {
    assert_suite_passes_over_tls("3.1.1", "MQTT 3.1.1");
}

#[test]
fn insecure_mode_works_over_mqtt_and_says_so() {
    let run = run_builtin("5", &["--insecure", "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(run.stderr.contains("verification is OFF"), "{}", run.stderr);
    let tls = run.results.unwrap()["tls"].as_str().unwrap().to_string();
    assert!(tls.starts_with("INSECURE"), "{tls}");
}

#[test]
fn the_cert_eid_mismatch_fault_is_refused_over_mqtt() {
    let run = run_builtin("5", &["--agent-fault", "cert-eid-mismatch"]);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(run.stderr.contains("broker"), "{}", run.stderr);
}

#[tokio::test]
async fn a_broker_that_requires_certificates_refuses_a_client_without_one() {
    let ca = TestCa::new("broker CA").unwrap();
    let broker = tls_broker(&ca, true);
    let address = broker.tls_address().unwrap();

    let mut anonymous = endpoint(
        &address,
        CONTROLLER,
        "usp/c",
        "usp/a",
        client_tls(&ca, None),
    );
    let err = anonymous
        .establish()
        .await
        .err()
        .expect("served without a client certificate");
    assert!(matches!(err, MtpError::Handshake { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&address), "{text}");
    assert!(text.contains("client certificate"), "{text}");

    let mut with_cert = endpoint(
        &address,
        CONTROLLER,
        "usp/c",
        "usp/a",
        client_tls(&ca, Some(CONTROLLER)),
    );
    let conn = with_cert.establish().await.unwrap();
    // The broker's identity is recorded, and marked as not the peer's.
    assert_eq!(
        conn.peer().certificate_endpoint_id.as_deref(),
        Some(BROKER_EID)
    );
    assert!(!conn.certificate_names_the_peer());
}

#[tokio::test]
async fn an_untrusted_broker_certificate_is_refused_with_the_reason() {
    let broker_ca = TestCa::new("broker CA").unwrap();
    let other_ca = TestCa::new("some other CA").unwrap();
    let broker = tls_broker(&broker_ca, false);
    let address = broker.tls_address().unwrap();
    let mut untrusting = endpoint(
        &address,
        CONTROLLER,
        "usp/c",
        "usp/a",
        client_tls(&other_ca, None),
    );
    let err = untrusting.establish().await.err().expect("accepted");
    let text = err.to_string();
    assert!(text.contains(&address), "{text}");
    assert!(text.contains("not signed by a trusted CA"), "{text}");
}

/// The broker's certificate carries an Endpoint ID that is not the
/// Agent's; the Agent's Records are processed all the same (R-SEC.10a is
/// about the USP peer's certificate, and over MQTT the TLS peer is the broker).
#[tokio::test]
async fn the_brokers_certificate_does_not_set_aside_the_agents_records() {
    let ca = TestCa::new("ca").unwrap();
    let broker = tls_broker(&ca, true);
    let address = broker.tls_address().unwrap();
    let (c_topic, a_topic) = ("usp/controllers/c", "usp/agents/a");
    let mut harness = endpoint(
        &address,
        CONTROLLER,
        c_topic,
        a_topic,
        client_tls(&ca, Some(CONTROLLER)),
    );
    harness.connect_early().await.unwrap();
    let agent_side = endpoint(
        &address,
        AGENT,
        a_topic,
        c_topic,
        client_tls(&ca, Some(AGENT)),
    );
    let agent = Agent::new(AgentConfig {
        endpoint_id: AGENT.into(),
        faults: FaultSet::default(),
    });
    let task = tokio::spawn(AgentHost::new(agent, FaultSet::default()).run_dialer(
        agent_side,
        Some(CONTROLLER.into()),
        Duration::from_millis(100),
    ));
    let mut session = Session::new(
        Box::new(harness),
        SessionConfig {
            controller_id: CONTROLLER.into(),
            agent_id: None,
            request_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(5),
            connect_record_timeout: Duration::from_secs(2),
        },
    );
    let result = session
        .request(ReqType::Get(Get {
            param_paths: vec!["Device.DeviceInfo.Manufacturer".into()],
            max_depth: 0,
        }))
        .await;
    task.abort();
    result.map_err(|(_, e)| e).unwrap();
    // Learnt from the Agent's Records, not from the broker's certificate.
    assert_eq!(session.agent_id(), Some(AGENT));
}

/// A child process killed when the test ends, pass or fail.
fn write_pems(dir: &Path, ca: &TestCa, eid: &str, stem: &str) {
    let cert = ca.issue(eid).unwrap();
    std::fs::write(dir.join(format!("{stem}.pem")), cert.cert_pem).unwrap();
    std::fs::write(dir.join(format!("{stem}.key")), cert.key_pem).unwrap();
}

fn run_target(target: &Path, tls: &str, broker: &str) -> Run {
    std::fs::write(
        target,
        format!(
            "name: reference Agent over MQTT with TLS\nagent_endpoint_id: {AGENT}\nmtp: mqtt\nmqtt:\n  broker: {broker}\n  version: 5\n  agent_topic: usp/agents/{AGENT}\n{tls}timeouts:\n  request_ms: 2000\n  connect_record_ms: 500\n"
        ),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    plugfest(
        &[
            "run",
            "--target",
            target.to_str().unwrap(),
            "--profile",
            "DRAFT-DeviceInfo:1",
            "--quiet",
        ],
        out.path(),
    )
}

/// A target file with a `tls:` section against `plugfest agent
/// --mqtt-broker` over TLS, both with PEM files, as a participant sets it up;
/// then the same file trusting another CA: bad input naming the CA problem.
#[test]
fn a_target_file_reaches_a_standalone_agent_through_a_tls_broker() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("plugfest ca").unwrap();
    let other = TestCa::new("other ca").unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca.cert_pem()).unwrap();
    std::fs::write(dir.path().join("other.pem"), other.cert_pem()).unwrap();
    write_pems(dir.path(), &ca, AGENT, "agent");
    write_pems(dir.path(), &ca, CONTROLLER, "ctrl");
    let broker = tls_broker(&ca, true);
    let address = broker.tls_address().unwrap();
    let path = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let _agent = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_plugfest"))
            .args(["agent", "--mqtt-broker", &address])
            .args(["--tls-ca", &path("ca.pem")])
            .args(["--tls-cert", &path("agent.pem")])
            .args(["--tls-key", &path("agent.key")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let target = dir.path().join("target.yaml");
    // Relative paths: resolved against the target file's directory.
    let run = run_target(
        &target,
        "tls:\n  ca: ca.pem\n  cert: ctrl.pem\n  key: ctrl.key\n",
        &address,
    );
    assert_eq!(run.code, 0, "{}\n{}", run.failure_messages(), run.explain());
    let results = run.results.unwrap();
    assert!(results["tls"].as_str().unwrap().contains("ca.pem"));

    let run = run_target(
        &target,
        "tls:\n  ca: other.pem\n  cert: ctrl.pem\n  key: ctrl.key\n",
        &address,
    );
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(
        run.stderr.contains("not signed by a trusted CA"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(&address), "{}", run.stderr);

    // Without a client certificate the broker refuses the harness.
    let run = run_target(&target, "tls:\n  ca: ca.pem\n", &address);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(run.stderr.contains("client certificate"), "{}", run.stderr);
}

/// rumqttc's TLS features pin rustls-webpki 0.102 (security advisories); we
/// terminate TLS ourselves so that only 0.103 or later is ever built.
#[test]
fn no_rustls_webpki_0_102_is_in_the_lock_file() {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap();
    let mut versions = Vec::new();
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"rustls-webpki\"" {
            if let Some(v) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = "))
            {
                versions.push(v.trim_matches('"').to_string());
            }
        }
    }
    assert!(!versions.is_empty(), "rustls-webpki is not in Cargo.lock");
    for v in &versions {
        assert!(
            !v.starts_with("0.102") && !v.starts_with("0.101"),
            "rustls-webpki {v} is locked"
        );
    }
}
