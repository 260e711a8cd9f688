//! The STOMP binding against a real RabbitMQ on loopback: the shipped
//! suite over `--mtp stomp`, four Agent faults caught over STOMP, and the
//! frames on the wire as a raw STOMP client (our codec, no transport code)
//! sees them. One broker serves every scenario: it takes seconds to start,
//! so a single test starts it, runs the scenarios in parallel threads and
//! stops it when it goes out of scope, even after a failure.

mod common;

use std::time::Duration;

use common::{assert_fault_caught, assert_suite_passed, plugfest, shipped_case_count};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use usp_plugfest::agent::runtime::AgentHost;
use usp_plugfest::agent::{faults::FaultSet, Agent, AgentConfig};
use usp_plugfest::broker::rabbitmq::RabbitMq;
use usp_plugfest::mtp::stomp::frame::{Decoder, Frame};
use usp_plugfest::mtp::stomp::{StompClient, StompConfig, CONTENT_TYPE};
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
    let broker = RabbitMq::start().unwrap_or_else(|e| panic!("{e}"));
    let address = broker.stomp_address();
    let a = address.as_str();
    let scenarios: Vec<Scenario> = vec![
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
    let run = run_stomp(broker, &["--agent-fault", fault, "--timeout-ms", "400"]);
    assert_fault_caught(fault, &run, needle, shipped_case_count());
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
    let host = AgentHost::new(
        Agent::new(AgentConfig {
            endpoint_id: AGENT.into(),
            faults: FaultSet::default(),
        }),
        FaultSet::default(),
    );
    let task = tokio::spawn(host.run_dialer(
        StompClient::new(cfg),
        Some(CTRL.into()),
        Duration::from_millis(100),
    ));

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
    let host = AgentHost::new(
        Agent::new(AgentConfig {
            endpoint_id: AGENT.into(),
            faults: FaultSet::default(),
        }),
        FaultSet::default(),
    );
    let task = tokio::spawn(host.run_dialer(
        StompClient::new(cfg),
        Some(CTRL.into()),
        Duration::from_millis(100),
    ));
    let run = harness.await.unwrap();
    task.abort();
    assert_eq!(run.code, 0, "{}\n{}", run.failure_messages(), run.explain());
    let results = run.results.as_ref().unwrap();
    assert_eq!(results["mtp"], "STOMP");
    assert_eq!(results["agent_endpoint_id"], AGENT);
    assert!(!run.cases().is_empty());
}
