//! The UNIX Domain Socket MTP end to end: the shipped suite in both roles,
//! faults caught over UDS, a target file reaching a standalone Agent, and
//! raw peers that break the Handshake and framing rules.

mod common;

use common::KillOnDrop;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use usp_plugfest::agent::runtime::AgentHost;
use usp_plugfest::agent::{faults::FaultSet, Agent, AgentConfig};
use usp_plugfest::mtp::uds::frame::{self, Decoder, Tlv};
use usp_plugfest::mtp::uds::{UdsDialer, UdsListener};
use usp_plugfest::mtp::{Inbound, MtpConnection, MtpError};
use usp_plugfest::usp::proto::msg::{request::ReqType, Get};
use usp_plugfest::usp::proto::record::record::RecordType;
use usp_plugfest::usp::{msg, record};

use common::{assert_caught_on_core_suites, assert_suite_passed, core_cases, plugfest, Run};

const CTRL: &str = "proto::test-controller";
const AGENT: &str = "proto::uds-agent";

// ---- whole runs through the binary ----

fn run_uds(role: &str, extra: &[&str]) -> Run {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec!["run", "--mtp", "uds", "--role", role, "--quiet"];
    args.extend_from_slice(extra);
    plugfest(&args, out.path())
}

fn assert_all_pass(role: &str) {
    let run = run_uds(role, &[]);
    assert_suite_passed(&run, "UDS", "UDSConnectRecord");
}

#[test]
fn shipped_cases_pass_with_the_harness_as_uds_server() {
    assert_all_pass("server");
}

#[test]
fn shipped_cases_pass_with_the_harness_as_uds_client() {
    assert_all_pass("client");
}

fn assert_caught(role: &str, fault: &str, needle: &str) {
    assert_caught_on_core_suites(fault, needle, |args| run_uds(role, args));
}

#[test]
fn malformed_protobuf_is_caught_over_uds() {
    assert_caught("server", "malformed-protobuf", "not a protobuf USP Record");
}

#[test]
fn disconnect_mid_exchange_is_caught_over_uds_in_both_roles() {
    assert_caught(
        "server",
        "disconnect-mid-exchange",
        "connection to the Agent ended",
    );
    assert_caught(
        "client",
        "disconnect-mid-exchange",
        "connection to the Agent ended",
    );
}

/// TP-469 3.1 over UDS: closing on a malformed Record without the Error
/// TLV the binding sends first fails mtp-bad-record-outside-session, and
/// nothing else, in both roles.
#[test]
fn dropping_the_session_on_a_bad_record_fails_only_the_bad_record_case() {
    for role in ["server", "client"] {
        let dir = tempfile::tempdir().unwrap();
        let (cases, _) = core_cases(dir.path());
        let fault = "drops-session-on-bad-record";
        let run = run_uds(
            role,
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
            &["mtp-bad-record-outside-session"],
            "got the connection ended: the peer closed the connection",
        );
    }
}

#[test]
fn wrong_to_id_is_caught_over_uds() {
    assert_caught("client", "wrong-to-id", "proto::somebody-else");
}

fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_target_file_reaches_a_standalone_agent_on_its_socket() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("broker_agent_path");
    let _agent = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_plugfest"))
            .args(["agent", "--uds-listen", sock.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(&sock);
    let target = dir.path().join("target.yaml");
    std::fs::write(
        &target,
        format!(
            "name: UDS reference Agent\nmtp: uds\nuds:\n  role: client\n  path: {}\ntimeouts:\n  request_ms: 3000\n  connect_ms: 5000\n",
            sock.display()
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    // The core suites: this is about reaching the Agent through a target
    // file; the use cases over UDS run in-process in both roles above.
    let (cases, _) = core_cases(dir.path());
    let run = plugfest(
        &[
            "run",
            "--target",
            target.to_str().unwrap(),
            "--cases",
            cases.to_str().unwrap(),
            "--quiet",
        ],
        &out,
    );
    assert_eq!(run.code, 0, "{}\n{}", run.failure_messages(), run.explain());
    let results = run.results.unwrap();
    // Learnt from the Agent's Handshake TLV: the target named no id.
    assert_eq!(
        results["agent_endpoint_id"],
        "proto::plugfest-reference-agent"
    );
    assert_eq!(results["mtp"], "UDS");
}

// ---- raw peers against the reference Agent and the dialer ----

/// A hand-driven UDS peer, so tests can break the rules on purpose.
struct RawPeer {
    stream: UnixStream,
    decoder: Decoder,
    pending: std::collections::VecDeque<Tlv>,
}

impl RawPeer {
    fn new(stream: UnixStream) -> Self {
        RawPeer {
            stream,
            decoder: Decoder::new(),
            pending: Default::default(),
        }
    }

    async fn send(&mut self, tlv: Tlv) {
        self.stream
            .write_all(&frame::encode_one(tlv))
            .await
            .unwrap();
    }

    /// The next TLV, `None` when the peer closed; panics after 5 s of silence.
    async fn next_tlv(&mut self) -> Option<Tlv> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(t) = self.pending.pop_front() {
                return Some(t);
            }
            if let Some(f) = self.decoder.next_frame().unwrap() {
                self.pending.extend(f.tlvs);
                continue;
            }
            let mut buf = [0u8; 4096];
            let n = tokio::time::timeout_at(deadline, self.stream.read(&mut buf))
                .await
                .expect("the peer stayed silent for 5 s")
                .unwrap_or(0);
            if n == 0 {
                return None;
            }
            self.decoder.push(&buf[..n]);
        }
    }
}

fn get_record(msg_id: &str) -> Vec<u8> {
    let get = msg::request(
        msg_id,
        ReqType::Get(Get {
            param_paths: vec!["Device.DeviceInfo.".into()],
            max_depth: 0,
        }),
    );
    record::encode(&record::no_session(CTRL, AGENT, &get))
}

/// The reference Agent as UDS server on a fresh path; returns the path.
fn reference_agent(dir: &tempfile::TempDir, handshake_timeout: Duration) -> std::path::PathBuf {
    let path = dir.path().join("agent.sock");
    let listener = UdsListener::bind(&path, AGENT)
        .unwrap()
        .with_handshake_timeout(handshake_timeout);
    let agent = Agent::new(AgentConfig {
        endpoint_id: AGENT.into(),
        faults: FaultSet::default(),
    });
    tokio::spawn(AgentHost::new(agent, FaultSet::default()).run_listener(listener));
    path
}

/// Connects and completes the Handshake; returns the peer after the
/// Agent's UDSConnectRecord.
async fn handshaken(path: &Path) -> RawPeer {
    let mut peer = RawPeer::new(UnixStream::connect(path).await.unwrap());
    peer.send(Tlv::Handshake(CTRL.into())).await;
    assert_eq!(peer.next_tlv().await, Some(Tlv::Handshake(AGENT.into())));
    let Some(Tlv::Record(hello)) = peer.next_tlv().await else {
        panic!("no Connect Record")
    };
    let hello = record::decode(&hello, Some(CTRL)).unwrap();
    assert!(matches!(hello.record_type, Some(RecordType::UdsConnect(_))));
    peer
}

#[tokio::test]
async fn records_before_the_handshake_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let path = reference_agent(&dir, Duration::from_secs(5));
    let mut peer = RawPeer::new(UnixStream::connect(&path).await.unwrap());
    peer.send(Tlv::Record(get_record("before-handshake"))).await;
    peer.send(Tlv::Handshake(CTRL.into())).await;
    // The server answers with its own Handshake, not with a GetResp.
    assert_eq!(peer.next_tlv().await, Some(Tlv::Handshake(AGENT.into())));
    peer.send(Tlv::Record(get_record("after-handshake"))).await;
    // The Agent answers in order: had it kept the early Get, that answer
    // would come first.
    let mut answered = Vec::new();
    while answered.is_empty() {
        let Some(Tlv::Record(bytes)) = peer.next_tlv().await else {
            panic!("connection ended before an answer")
        };
        let rec = record::decode(&bytes, Some(CTRL)).unwrap();
        if let Ok(m) = record::payload_msg(&rec) {
            answered.push(msg::msg_id(&m).to_string());
        }
    }
    assert_eq!(answered, vec!["after-handshake".to_string()]);
}

/// After `bytes`, the Agent sends an Error TLV and then closes.
async fn error_then_close(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = reference_agent(&dir, Duration::from_secs(5));
    let mut peer = handshaken(&path).await;
    peer.stream.write_all(bytes).await.unwrap();
    let text = loop {
        match peer.next_tlv().await {
            Some(Tlv::Error(text)) => break text,
            Some(_) => continue,
            None => panic!("closed without an Error TLV"),
        }
    };
    assert_eq!(
        peer.next_tlv().await,
        None,
        "still open after the Error TLV"
    );
    text
}

#[tokio::test]
async fn a_garbage_frame_gets_an_error_tlv_and_the_connection_closes() {
    let text = error_then_close(b"GARBAGE, not a UDS frame").await;
    assert!(text.contains("sync bytes"), "{text}");
}

#[tokio::test]
async fn an_undecodable_record_gets_an_error_tlv_and_the_connection_closes() {
    let text = error_then_close(&frame::encode_one(Tlv::Record(vec![0xff, 0xff]))).await;
    assert!(text.contains("undecodable USP Record"), "{text}");
}

#[tokio::test]
async fn a_client_that_never_handshakes_is_dropped_after_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let timeout = Duration::from_millis(300);
    let path = reference_agent(&dir, timeout);
    let started = Instant::now();
    let mut silent = RawPeer::new(UnixStream::connect(&path).await.unwrap());
    let mut saw = Vec::new();
    while let Some(tlv) = silent.next_tlv().await {
        saw.push(tlv);
    }
    let waited = started.elapsed();
    assert!(
        waited >= timeout,
        "dropped after {waited:?}, before the timeout"
    );
    assert!(
        waited < Duration::from_secs(3),
        "dropped only after {waited:?}"
    );
    assert!(
        matches!(saw.as_slice(), [Tlv::Error(t)] if t.contains("no Handshake")),
        "{saw:?}"
    );
    // The listener carries on: a well-behaved client still gets served.
    handshaken(&path).await;
}

#[tokio::test]
async fn the_dialer_ignores_records_before_the_server_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctrl.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut peer = RawPeer::new(stream);
        assert_eq!(peer.next_tlv().await, Some(Tlv::Handshake(CTRL.into())));
        peer.send(Tlv::Record(b"too early".to_vec())).await;
        peer.send(Tlv::Handshake(AGENT.into())).await;
        peer.send(Tlv::Record(b"in time".to_vec())).await;
        peer.send(Tlv::Error("done".into())).await;
        peer
    });
    let mut conn = UdsDialer::new(&path, CTRL).connect().await.unwrap();
    assert_eq!(conn.peer().endpoint_id.as_deref(), Some(AGENT));
    assert_eq!(conn.recv().await, Ok(Inbound::Record(b"in time".to_vec())));
    let end = conn.recv().await.unwrap_err();
    assert!(
        matches!(&end, MtpError::Closed { reason, .. } if reason.contains("done")),
        "{end:?}"
    );
    drop(server.await.unwrap());
}

#[tokio::test]
async fn a_silent_client_does_not_hold_up_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = reference_agent(&dir, Duration::from_secs(20));
    let _silent = UnixStream::connect(&path).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    handshaken(&path).await;
    assert!(started.elapsed() < Duration::from_secs(2));
}
