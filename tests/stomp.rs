//! The STOMP binding against a real RabbitMQ on loopback: the shipped
//! suite over `--mtp stomp` (plain and over TLS), four Agent faults caught
//! over STOMP, the frames on the wire as a raw STOMP client (our codec, no
//! transport code) sees them, the standalone Agent over STOMP, and a broker
//! that refuses us, presents an untrusted certificate or dies mid-run. One
//! broker (plain and TLS listeners) serves most scenarios: it takes seconds
//! to start, so a single test starts it, runs the scenarios in parallel
//! threads and stops it when it goes out of scope, even after a failure.

mod common;

use common::KillOnDrop;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    assert_broker_loss_reported, assert_caught_on_core_suites, assert_suite_passed, cases_so_far,
    core_cases, finish_within, long_case_list, plugfest, spawn_plugfest,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use usp_plugfest::agent::runtime::AgentHost;
use usp_plugfest::agent::{faults::FaultSet, Agent, AgentConfig};
use usp_plugfest::broker::rabbitmq::{BrokerTls, RabbitMq};
use usp_plugfest::mtp::stomp::frame::{Decoder, Frame};
use usp_plugfest::mtp::stomp::{StompClient, StompConfig, CONTENT_TYPE};
use usp_plugfest::mtp::tls::pki::TestCa;
use usp_plugfest::mtp::tls::{ClientTls, ServerTrust};
use usp_plugfest::mtp::{Inbound, MtpConnection, MtpError};
use usp_plugfest::usp::proto::msg::{request::ReqType, response::RespType, Get};
use usp_plugfest::usp::proto::record::record::RecordType;
use usp_plugfest::usp::{msg, record};

const AGENT: &str = "proto::stomp-test-agent";
const CTRL: &str = "proto::stomp-test-controller";
const WAIT: Duration = Duration::from_secs(10);

/// A named check that panics on failure.
type Scenario<'a> = (&'static str, Box<dyn Fn() + Send + Sync + 'a>);

#[test]
fn stomp_binding_against_rabbitmq() {
    // Fails (never skips) when RabbitMQ is missing: the error says how to install it.
    let ca = TestCa::new("stomp test CA").unwrap();
    let broker_tls = BrokerTls::issued_by(&ca).unwrap();
    let broker = RabbitMq::start_with_tls(&broker_tls).unwrap_or_else(|e| panic!("{e}"));
    let address = broker.stomp_address();
    let a = address.as_str();
    let tls_address = broker.stomp_tls_address().expect("a TLS listener");
    let tls = (tls_address.as_str(), &ca);
    let scenarios: Vec<Scenario> = vec![
        (
            "shipped suite over --mtp stomp --tls (its own broker)",
            Box::new(suite_passes_over_tls),
        ),
        (
            "standalone Agent over STOMP, target file",
            Box::new(|| standalone_agent(a, None)),
        ),
        (
            "standalone Agent over STOMP+TLS, target file with tls:",
            Box::new(|| standalone_agent(tls.0, Some(tls.1))),
        ),
        (
            "untrusted broker certificate refused",
            Box::new(|| block_on(untrusted_broker(tls.0, tls.1))),
        ),
        (
            "bad passcode is a setup error",
            Box::new(|| bad_passcode(a)),
        ),
        (
            "broker lost mid-run (its own broker)",
            Box::new(broker_lost_mid_run),
        ),
        (
            "shipped suite over --mtp stomp",
            Box::new(|| suite_passes(a)),
        ),
        (
            "wrong-msg-id caught over STOMP",
            Box::new(|| fault_caught(a, "wrong-msg-id", "R-MSG.9")),
        ),
        (
            "malformed-protobuf caught over STOMP",
            Box::new(|| fault_caught(a, "malformed-protobuf", "not a protobuf USP Record")),
        ),
        (
            "wrong-content-type caught over STOMP",
            Box::new(|| fault_caught(a, "wrong-content-type", "\"text/plain\" (R-STOMP.20")),
        ),
        (
            "no-reply-to-dest caught over STOMP",
            Box::new(|| {
                fault_caught(
                    a,
                    "no-reply-to-dest",
                    "without a reply-to-dest header (R-STOMP.21",
                )
            }),
        ),
        (
            "drops-session-on-bad-record fails TP-469 3.1 and 6.9 only",
            Box::new(|| bad_record_session_dropped(a)),
        ),
        (
            "Agent frames on the wire",
            Box::new(|| block_on(agent_on_the_wire(a))),
        ),
        (
            "harness frames on the wire",
            Box::new(|| block_on(harness_on_the_wire(a))),
        ),
        ("broker refusals", Box::new(|| block_on(refusals(a)))),
        (
            "heart-beats with RabbitMQ",
            Box::new(|| block_on(heartbeats(a))),
        ),
        (
            "a target file with mtp: stomp",
            Box::new(|| block_on(target_file(a))),
        ),
    ];
    let failed: Vec<&str> = std::thread::scope(|s| {
        let handles: Vec<_> = scenarios
            .iter()
            .map(|(name, f)| (*name, s.spawn(f)))
            .collect();
        handles
            .into_iter()
            .filter_map(|(name, h)| h.join().is_err().then_some(name))
            .collect()
    });
    broker.stop();
    assert!(failed.is_empty(), "failed scenarios: {failed:?}");
}

fn block_on<F: std::future::Future<Output = ()>>(f: F) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(f)
}

fn run_stomp(broker: &str, extra: &[&str]) -> common::Run {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec!["run", "--mtp", "stomp", "--stomp-broker", broker, "--quiet"];
    args.extend_from_slice(extra);
    plugfest(&args, out.path())
}

fn suite_passes(broker: &str) {
    let run = run_stomp(broker, &[]);
    assert_suite_passed(&run, "STOMP", "STOMPConnectRecord");
}

fn fault_caught(broker: &str, fault: &str, needle: &str) {
    assert_caught_on_core_suites(fault, needle, |args| run_stomp(broker, args));
}

/// The core suites and mtp-stomp.yaml (its 6.9 case runs without the
/// interposer) with the Agent leaving the broker over a malformed Record.
fn bad_record_session_dropped(broker: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (cases, _) = core_cases(dir.path());
    std::fs::copy("test-cases/mtp-stomp.yaml", cases.join("mtp-stomp.yaml")).unwrap();
    let fault = "drops-session-on-bad-record";
    let run = run_stomp(
        broker,
        &[
            "--cases",
            cases.to_str().unwrap(),
            "--agent-fault",
            fault,
            "--timeout-ms",
            "400",
        ],
    );
    common::assert_fails_only(
        fault,
        &run,
        &["mtp-bad-record-outside-session", "stomp-unprocessed-record"],
        "the Agent ended its STOMP session and opened another",
    );
}

/// A STOMP client written with the codec alone, to see frames as they are.
struct RawClient {
    tcp: TcpStream,
    decoder: Decoder,
}

impl RawClient {
    async fn connect(broker: &str, subscriptions: &[&str]) -> RawClient {
        let mut c = RawClient {
            tcp: TcpStream::connect(broker).await.unwrap(),
            decoder: Decoder::default(),
        };
        c.send(
            Frame::new("CONNECT")
                .header("accept-version", "1.2")
                .header("host", "/")
                .header("login", "guest")
                .header("passcode", "guest"),
        )
        .await;
        assert_eq!(c.next().await.command, "CONNECTED");
        for (i, dest) in subscriptions.iter().enumerate() {
            c.send(
                Frame::new("SUBSCRIBE")
                    .header("id", &i.to_string())
                    .header("destination", dest)
                    .header("ack", "auto")
                    .header("receipt", "r"),
            )
            .await;
            assert_eq!(c.next().await.command, "RECEIPT");
        }
        c
    }

    async fn send(&mut self, frame: Frame) {
        self.tcp.write_all(&frame.encode()).await.unwrap();
    }

    async fn next(&mut self) -> Frame {
        tokio::time::timeout(WAIT, async {
            loop {
                if let Some(f) = self.decoder.next_frame().unwrap() {
                    return f;
                }
                let mut buf = [0u8; 4096];
                let n = self.tcp.read(&mut buf).await.unwrap();
                assert!(n > 0, "the broker closed the raw connection");
                self.decoder.push(&buf[..n]);
            }
        })
        .await
        .expect("a frame within the wait")
    }
}

/// The headers every USP SEND carries (R-STOMP.18..22), as delivered.
fn assert_usp_message(f: &Frame, destination: &str, reply_to: &str) {
    assert_eq!(f.command, "MESSAGE");
    assert_eq!(f.get("destination"), Some(destination), "{f:?}");
    assert_eq!(f.get("content-type"), Some(CONTENT_TYPE), "{f:?}");
    assert_eq!(f.get("reply-to-dest"), Some(reply_to), "{f:?}");
    assert_eq!(
        f.get("content-length"),
        Some(f.body.len().to_string().as_str()),
        "{f:?}"
    );
}

fn usp_send(to: &str, reply_to: &str, body: &[u8]) -> Frame {
    Frame::new("SEND")
        .header("destination", to)
        .header("content-type", CONTENT_TYPE)
        .header("reply-to-dest", reply_to)
        .body_with_length(body)
}

/// The reference Agent (no faults) on its own task, dialing the broker
/// with `cfg` and redialing 100 ms after a drop.
fn spawn_reference_agent(cfg: StompConfig) -> tokio::task::JoinHandle<()> {
    let host = AgentHost::new(
        Agent::new(AgentConfig {
            endpoint_id: AGENT.into(),
            faults: FaultSet::default(),
        }),
        FaultSet::default(),
    );
    tokio::spawn(host.run_dialer(
        StompClient::new(cfg),
        Some(CTRL.into()),
        Duration::from_millis(100),
    ))
}

/// The reference Agent over STOMP: its STOMPConnectRecord goes to the
/// configured Controller destination, its answers to the `reply-to-dest`
/// of the request (R-STOMP.23), which here is a different queue.
async fn agent_on_the_wire(broker: &str) {
    let agent_dest = "/queue/wire.agent";
    let configured = "/queue/wire.controller-configured";
    let reply_to = "/queue/wire.controller-reply";
    let mut raw = RawClient::connect(broker, &[configured, reply_to]).await;
    let mut cfg = StompConfig::new(broker, AGENT);
    cfg.own_destination = Some(agent_dest.into());
    cfg.peer_destination = Some(configured.into());
    let task = spawn_reference_agent(cfg);

    let hello = raw.next().await;
    assert_usp_message(&hello, configured, agent_dest);
    let rec = record::decode(&hello.body, Some(CTRL)).expect("a USP Record");
    assert_eq!(rec.from_id, AGENT);
    match rec.record_type {
        Some(RecordType::StompConnect(s)) => {
            assert_eq!(s.version, 0, "STOMPVersion V1_2");
            assert_eq!(s.subscribed_destination, agent_dest);
        }
        other => panic!("expected a STOMPConnectRecord, got {other:?}"),
    }

    let get = msg::request(
        "wire-1",
        ReqType::Get(Get {
            param_paths: vec!["Device.DeviceInfo.".into()],
            max_depth: 0,
        }),
    );
    let bytes = record::encode(&record::no_session(CTRL, AGENT, &get));
    raw.send(usp_send(agent_dest, reply_to, &bytes)).await;
    let answer = raw.next().await;
    assert_usp_message(&answer, reply_to, agent_dest);
    let rec = record::decode(&answer.body, Some(CTRL)).unwrap();
    let m = record::payload_msg(&rec).unwrap();
    assert_eq!(msg::msg_id(&m), "wire-1");
    assert!(
        matches!(msg::response_body(&m), Some(RespType::GetResp(_))),
        "{m:?}"
    );
    task.abort();
}

/// The harness's side: SEND headers, a binary body with NULs intact, the
/// peer's destination learnt from `reply-to-dest`, and a MESSAGE of
/// another content-type turned into `Inbound::Unusable`.
async fn harness_on_the_wire(broker: &str) {
    let own = "/queue/wire.harness";
    let sniff = "/queue/wire.sniff";
    let elsewhere = "/queue/wire.elsewhere";
    let mut raw = RawClient::connect(broker, &[sniff, elsewhere]).await;
    let mut cfg = StompConfig::new(broker, CTRL);
    cfg.own_destination = Some(own.into());
    cfg.peer_destination = Some(sniff.into());
    let mut conn = StompClient::new(cfg).connect().await.expect("connected");
    assert_eq!(conn.own_destination(), own);

    let binary = b"\x0a\x00\x00rec\x00ord\x00".to_vec();
    conn.send(&binary).await.unwrap();
    let seen = raw.next().await;
    assert_usp_message(&seen, sniff, own);
    assert_eq!(seen.body, binary);

    raw.send(
        Frame::new("SEND")
            .header("destination", own)
            .header("content-type", "text/plain")
            .body_with_length(b"hello"),
    )
    .await;
    match tokio::time::timeout(WAIT, conn.recv()).await.unwrap() {
        Ok(Inbound::Unusable(what)) => assert!(what.contains("text/plain"), "{what}"),
        other => panic!("a text/plain MESSAGE was not refused: {other:?}"),
    }

    raw.send(usp_send(own, elsewhere, b"\x00usp")).await;
    match tokio::time::timeout(WAIT, conn.recv()).await.unwrap() {
        Ok(Inbound::Record(b)) => assert_eq!(b, b"\x00usp"),
        other => panic!("a USP MESSAGE was not delivered: {other:?}"),
    }
    // R-STOMP.23: the next Record goes where the last one said to reply.
    assert_eq!(conn.peer_destination(), Some(elsewhere));
    conn.send(b"answer").await.unwrap();
    let seen = raw.next().await;
    assert_usp_message(&seen, elsewhere, own);
    conn.close(None, "").await;
}

/// A wrong password gets an ERROR frame, and no destination at all is
/// refused before subscribing (R-STOMP.16).
async fn refusals(broker: &str) {
    let mut cfg = StompConfig::new(broker, CTRL);
    cfg.own_destination = Some("/queue/wire.refused".into());
    cfg.password = Some("wrong".into());
    match StompClient::new(cfg).connect().await {
        Err(MtpError::Handshake { reason, .. }) => {
            assert!(reason.contains("STOMP ERROR from the broker"), "{reason}")
        }
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("a wrong password was accepted"),
    }
    let cfg = StompConfig::new(broker, CTRL);
    match StompClient::new(cfg).connect().await {
        Err(MtpError::Handshake { reason, .. }) => {
            assert!(reason.contains("R-STOMP.16"), "{reason}")
        }
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("connected without any destination"),
    }
}

/// With heart-beats negotiated both ways, a connection that carries no
/// Records for several intervals stays usable: we send EOLs, and the
/// broker's EOLs keep our silence check quiet (R-STOMP.11).
async fn heartbeats(broker: &str) {
    let own = "/queue/wire.heartbeat";
    let mut raw = RawClient::connect(broker, &[]).await;
    let mut cfg = StompConfig::new(broker, CTRL);
    cfg.own_destination = Some(own.into());
    cfg.heartbeat = Some((500, 500));
    let mut conn = StompClient::new(cfg).connect().await.expect("connected");
    // RabbitMQ rounds the intervals up to 1 s and drops a client that stays
    // silent for about 3 s; our own check would fire on a silent broker
    // after 2 s. Both get the chance to happen here.
    let quiet = tokio::time::timeout(Duration::from_millis(4_500), conn.recv()).await;
    assert!(quiet.is_err(), "something other than silence: {quiet:?}");
    raw.send(usp_send(own, "/queue/wire.nowhere", b"late"))
        .await;
    match tokio::time::timeout(WAIT, conn.recv()).await.unwrap() {
        Ok(Inbound::Record(b)) => assert_eq!(b, b"late"),
        other => panic!("the heart-beating connection broke: {other:?}"),
    }
}

/// `plugfest run --target` with `mtp: stomp`, against an in-process Agent
/// on the same broker; the Agent's destination is not configured, so the
/// harness learns it from the reply-to-dest of the STOMPConnectRecord.
async fn target_file(broker: &str) {
    let agent_dest = "/queue/target.agent";
    let ctrl_dest = "/queue/target.controller";
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("stomp-agent.yaml");
    std::fs::write(
        &target,
        format!(
            "name: STOMP target\ncontroller_endpoint_id: {CTRL}\nmtp: stomp\nstomp:\n  broker: {broker}\n  username: guest\n  password: guest\n  controller_destination: {ctrl_dest}\ntimeouts:\n  connect_ms: 5000\n"
        ),
    )
    .unwrap();
    // The harness subscribes first, as a Controller waiting for its Agents does.
    let harness = tokio::task::spawn_blocking({
        let target = target.clone();
        let out = dir.path().join("out");
        move || {
            plugfest(
                &[
                    "run",
                    "--target",
                    target.to_str().unwrap(),
                    "--profile",
                    "DRAFT-DeviceInfo:1",
                    "--quiet",
                ],
                &out,
            )
        }
    });
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let mut cfg = StompConfig::new(broker, AGENT);
    cfg.own_destination = Some(agent_dest.into());
    cfg.peer_destination = Some(ctrl_dest.into());
    let task = spawn_reference_agent(cfg);
    let run = harness.await.unwrap();
    task.abort();
    assert_eq!(run.code, 0, "{}\n{}", run.failure_messages(), run.explain());
    let results = run.results.as_ref().unwrap();
    assert_eq!(results["mtp"], "STOMP");
    assert_eq!(results["agent_endpoint_id"], AGENT);
    assert!(!run.cases().is_empty());
}

fn write_ca(dir: &Path, ca: &TestCa) -> String {
    let path = dir.join("ca.pem");
    std::fs::write(&path, ca.cert_pem()).unwrap();
    path.display().to_string()
}

/// `plugfest run --mtp stomp --tls`: a RabbitMQ of its own with a TLS
/// listener, harness and in-process Agent both verifying its certificate.
fn suite_passes_over_tls() {
    let out = tempfile::tempdir().unwrap();
    let run = plugfest(&["run", "--mtp", "stomp", "--tls", "--quiet"], out.path());
    assert_suite_passed(&run, "STOMP", "STOMPConnectRecord");
    let results = run.results.as_ref().unwrap();
    assert!(
        results["tls"]
            .as_str()
            .unwrap_or("")
            .contains("STOMP over TLS"),
        "{results}"
    );
    assert!(results["connection"]
        .as_str()
        .unwrap_or("")
        .contains("over TLS"));
}

/// `plugfest agent --stomp-broker` in another process and `plugfest run
/// --target` with `mtp: stomp` (and `tls:` when `ca` is given); the
/// Agent's destination is learnt from its STOMPConnectRecord's reply-to-dest.
fn standalone_agent(broker: &str, ca: Option<&TestCa>) {
    let dir = tempfile::tempdir().unwrap();
    let tag = if ca.is_some() { "tls" } else { "plain" };
    let ctrl_dest = format!("/queue/standalone.{tag}.controller");
    let agent_dest = format!("/queue/standalone.{tag}.agent");
    let ca_file = ca.map(|c| write_ca(dir.path(), c));
    let tls_section = ca_file
        .as_ref()
        .map(|f| format!("tls:\n  ca: {f}\n"))
        .unwrap_or_default();
    let target = dir.path().join("target.yaml");
    std::fs::write(
        &target,
        format!(
            "name: standalone STOMP Agent\nmtp: stomp\nstomp:\n  broker: {broker}\n  controller_destination: {ctrl_dest}\n{tls_section}timeouts:\n  request_ms: 3000\n  connect_ms: 10000\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let run = spawn_plugfest(
        &["run", "--target", target.to_str().unwrap(), "--quiet"],
        &out,
    );
    // The harness subscribes first, as a Controller waiting for its Agents does.
    std::thread::sleep(Duration::from_millis(1_000));
    let mut args = vec![
        "agent",
        "--stomp-broker",
        broker,
        "--agent-destination",
        &agent_dest,
        "--controller-destination",
        &ctrl_dest,
        "--stomp-login",
        "guest",
        "--stomp-passcode",
        "guest",
    ];
    if let Some(f) = &ca_file {
        args.extend_from_slice(&["--tls-ca", f]);
    }
    let _agent = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_plugfest"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let run = finish_within(run, &out, Duration::from_secs(120));
    assert_eq!(run.code, 0, "{}\n{}", run.failure_messages(), run.explain());
    let results = run.results.as_ref().unwrap();
    assert_eq!(
        results["agent_endpoint_id"],
        "proto::plugfest-reference-agent"
    );
    assert!(run.cases().len() >= 20);
    if ca.is_some() {
        assert!(results["tls"]
            .as_str()
            .unwrap_or("")
            .contains("STOMP over TLS"));
    }
}

/// A broker certificate from a CA the harness does not trust: a setup
/// error saying so, naming the broker; with the right CA the connection's
/// peer description notes the verified broker certificate.
async fn untrusted_broker(broker: &str, ca: &TestCa) {
    let dir = tempfile::tempdir().unwrap();
    let stranger = TestCa::new("some other CA").unwrap();
    let ca_file = write_ca(dir.path(), &stranger);
    let target = dir.path().join("target.yaml");
    std::fs::write(
        &target,
        format!(
            "name: untrusted broker\nmtp: stomp\nstomp:\n  broker: {broker}\n  controller_destination: /queue/untrusted\ntls:\n  ca: {ca_file}\n"
        ),
    )
    .unwrap();
    let started = Instant::now();
    let run = tokio::task::spawn_blocking({
        let out = dir.path().join("out");
        move || {
            plugfest(
                &["run", "--target", target.to_str().unwrap(), "--quiet"],
                &out,
            )
        }
    })
    .await
    .unwrap();
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(run.code, 2, "{}", run.explain());
    for needle in ["STOMP broker", broker, "not signed by a trusted CA"] {
        assert!(
            run.stderr.contains(needle),
            "no {needle:?}: {}",
            run.explain()
        );
    }

    let mut cfg = StompConfig::new(broker, CTRL);
    cfg.own_destination = Some("/queue/trusted".into());
    cfg.tls = Some(ClientTls::new(ServerTrust::Roots(vec![ca.cert()]), None).unwrap());
    let mut conn = StompClient::new(cfg)
        .connect()
        .await
        .expect("connected over TLS");
    let peer = conn.peer().address.clone();
    assert!(
        peer.contains("broker certificate verified") && peer.contains(broker),
        "{peer}"
    );
    assert_eq!(
        conn.peer().certificate_endpoint_id,
        None,
        "the broker is not the Agent"
    );
    conn.close(None, "").await;
}

/// RabbitMQ refuses a wrong passcode with an ERROR frame: a setup error
/// naming the broker and the refusal.
fn bad_passcode(broker: &str) {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.yaml");
    std::fs::write(
        &target,
        format!(
            "name: bad passcode\nmtp: stomp\nstomp:\n  broker: {broker}\n  username: guest\n  password: wrong\n  controller_destination: /queue/refused\n"
        ),
    )
    .unwrap();
    let started = Instant::now();
    let run = plugfest(
        &["run", "--target", target.to_str().unwrap(), "--quiet"],
        &dir.path().join("out"),
    );
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(run.code, 2, "{}", run.explain());
    for needle in ["STOMP broker", broker, "STOMP ERROR from the broker"] {
        assert!(
            run.stderr.contains(needle),
            "no {needle:?}: {}",
            run.explain()
        );
    }
}

/// A RabbitMQ of its own, killed after a few cases of a long list: the
/// case in flight fails with the lost connection, the runner gives up
/// after two unreachable cases, exit 1, complete reports, no hang.
fn broker_lost_mid_run() {
    let mut broker = RabbitMq::start().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let total = 300;
    let cases = long_case_list(dir.path(), total);
    let out = dir.path().join("out");
    let run = spawn_plugfest(
        &[
            "run",
            "--mtp",
            "stomp",
            "--stomp-broker",
            &broker.stomp_address(),
            "--cases",
            cases.to_str().unwrap(),
            "--timeout-ms",
            "500",
            "--quiet",
        ],
        &out,
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while cases_so_far(&out) < 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    broker.kill();
    let run = finish_within(run, &out, Duration::from_secs(90));
    broker.stop();
    assert_broker_loss_reported(&run, total, "lost the connection to the STOMP broker");
}
