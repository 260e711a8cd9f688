//! The legacy CoAP MTP end to end: the shipped suite over `--mtp coap`
//! (the Connect Record case skipped with its reason), a block-wise exchange
//! both ways, the binding's 4.05/4.15/4.00 answers to a raw UDP peer,
//! faults caught over CoAP, and a target file reaching a standalone Agent.

mod common;

use common::KillOnDrop;

use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use coap_lite::{CoapOption, MessageClass, MessageType, Packet, RequestType, ResponseType};
use tokio::net::UdpSocket;
use usp_plugfest::agent::runtime::AgentHost;
use usp_plugfest::agent::{faults::FaultSet, Agent, AgentConfig};
use usp_plugfest::mtp::coap::{CoapConfig, CoapEndpoint};
use usp_plugfest::mtp::{Inbound, MtpConnection, MtpConnector};
use usp_plugfest::usp::proto::msg::{request::ReqType, Get, GetSupportedDm};
use usp_plugfest::usp::{msg, record};

use common::{plugfest, Run};

const CTRL: &str = "proto::test-controller";
const AGENT: &str = "proto::coap-agent";

// ---- whole runs through the binary ----

/// The shipped cases that reboot the Agent: CoAP has no connection whose drop
/// and return would show it, so they are skipped there, never passed.
const REBOOT_CASES: [&str; 7] = [
    "fw-activate-reboots-into-new-image",
    "fw-download-to-active-bank",
    "reboot-operate-send-resp-true",
    "reboot-operate-send-resp-false",
    "reboot-boot-event-and-parameters",
    "reboot-forgets-non-persistent-subscriptions",
    "subs-persistent-survives-reboot",
];

fn run_coap(extra: &[&str]) -> Run {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec!["run", "--mtp", "coap", "--quiet"];
    args.extend_from_slice(extra);
    plugfest(&args, out.path())
}

#[test]
fn shipped_cases_pass_over_coap_with_the_connect_record_case_skipped() {
    let run = run_coap(&[]);
    assert_eq!(run.code, 0, "{}\n{}", run.failure_messages(), run.explain());
    let results = run.results.as_ref().expect("results.json written");
    assert_eq!(results["mtp"], "CoAP");
    assert_eq!(results["complete"], true);
    let cases = run.cases();
    assert!(cases.len() >= 20, "only {} cases ran", cases.len());
    for c in &cases {
        if common::skipped_for_want_of_interposer(c)
            || common::skipped_for_want_of_tls(c)
            || common::skipped_for_want_of_second_controller(c)
            || common::skipped_for_want_of_discovery(c)
        {
            continue;
        } else if c["id"] == "mtp-connect-record" {
            // Skipped, not passed: R-MTP.6 cannot be checked on CoAP.
            assert_eq!(c["verdict"], "skipped", "{c}");
            let why = c["message"].as_str().unwrap_or_default();
            assert!(why.contains("no Connect Record for CoAP"), "{why}");
        } else if REBOOT_CASES.iter().any(|id| c["id"] == *id) {
            assert_eq!(c["verdict"], "skipped", "{c}");
            let why = c["message"].as_str().unwrap_or_default();
            assert!(why.contains("CoAP has no connection"), "{why}");
        } else if c["id"].as_str().is_some_and(|id| id.starts_with("e2e-")) {
            // The E2E session-context cases run only with --e2e.
            assert_eq!(c["verdict"], "skipped", "{c}");
        } else {
            assert_eq!(c["verdict"], "passed", "{}: {}", c["id"], c["message"]);
        }
    }
    assert_eq!(
        results["counts"]["skipped"].as_u64(),
        Some(
            1 + REBOOT_CASES.len() as u64
                + e2e_case_count()
                + interposer_skips(&run)
                + tls_skips(&run)
                + second_controller_skips(&run)
                + discovery_skips(&run)
        ),
        "{}",
        results["counts"]
    );
    let junit = run.junit.expect("junit.xml written");
    assert!(junit.contains("<skipped"), "{junit}");
    assert!(!junit.contains("<failure"));
}

fn assert_caught(fault: &str, needle: &str) {
    let run = run_coap(&["--agent-fault", fault, "--timeout-ms", "400"]);
    assert_eq!(run.code, 1, "fault {fault}: {}", run.explain());
    let messages = run.failure_messages();
    assert!(
        messages.contains(needle),
        "fault {fault}: no failure mentions {needle:?}:\n{messages}"
    );
    assert_eq!(run.results.as_ref().unwrap()["complete"], true);
    assert!(run.cases().len() >= 20, "fault {fault}: not every case ran");
}

#[test]
fn malformed_protobuf_is_caught_over_coap() {
    // The harness answers the Agent's POST 4.00 and reports what came.
    assert_caught("malformed-protobuf", "not a protobuf USP Record");
}

#[test]
fn no_response_is_caught_over_coap() {
    assert_caught("no-response", "no response within 400 ms");
}

// ---- TP-469 section 5 (legacy): test-cases/mtp-coap.yaml ----

const SECTION_5: &str = "test-cases/mtp-coap.yaml";

/// Each CoAP fault, the cases of the section 5 suite it must fail, and the
/// symptom its messages name.
const SECTION_5_FAULTS: [(&str, &[&str], &str); 5] = [
    (
        // Every answer is refused 4.15, so every case waiting for one fails.
        "coap-wrong-content-format",
        &[
            "coap-record-in-octet-stream",
            "coap-large-record-block-wise",
            "coap-post-answered-changed",
            "coap-retransmits-unanswered-post",
        ],
        "Content-Format 0; a USP Record is application/octet-stream (42)",
    ),
    (
        "coap-no-block-wise",
        &["coap-large-record-block-wise"],
        "no request with a Block1 option",
    ),
    (
        "coap-created-not-changed",
        &["coap-post-answered-changed"],
        "code = 2.01 Created",
    ),
    (
        "coap-no-retransmit",
        &["coap-retransmits-unanswered-post"],
        "the Agent never sent it again",
    ),
    (
        "coap-lenient-inbox",
        &[
            "coap-invalid-method-refused",
            "coap-invalid-content-format-refused",
            "coap-malformed-record-refused",
        ],
        "got 2.04 Changed",
    ),
];

#[test]
fn the_section_5_suite_passes_with_the_coap_messages_in_each_trace() {
    let run = run_coap(&["--cases", SECTION_5]);
    assert_eq!(run.code, 0, "{}\n{}", run.failure_messages(), run.explain());
    let cases = run.cases();
    assert_eq!(cases.len(), 7);
    for c in &cases {
        let packets: Vec<&serde_json::Value> = c["trace"]
            .as_array()
            .expect("a trace per case")
            .iter()
            .filter_map(|e| e.get("mtp_packet"))
            .filter(|p| p["mtp"] == "CoAP")
            .collect();
        assert!(!packets.is_empty(), "{}: no CoAP message traced", c["id"]);
    }
    let text = run.results.as_ref().unwrap().to_string();
    for seen in [
        "withheld",
        "retransmission",
        "0.06 PATCH",
        "4.15 UnsupportedContentFormat",
    ] {
        assert!(text.contains(seen), "{seen:?} in no trace");
    }
}

#[test]
fn each_coap_fault_fails_its_section_5_cases_and_no_other() {
    for (fault, failing, symptom) in SECTION_5_FAULTS {
        let run = run_coap(&[
            "--cases",
            SECTION_5,
            "--agent-fault",
            fault,
            "--timeout-ms",
            "1000",
        ]);
        assert_eq!(run.code, 1, "{fault}: {}", run.explain());
        for c in run.cases() {
            let id = c["id"].as_str().unwrap_or_default();
            let message = c["message"].as_str().unwrap_or_default();
            if failing.contains(&id) {
                assert_eq!(c["verdict"], "failed", "{fault}: {id}");
                assert!(message.contains(symptom), "{fault}: {id}: {message}");
            } else {
                assert_eq!(c["verdict"], "passed", "{fault}: {id}: {message}");
            }
        }
    }
}

#[test]
fn a_coap_fault_is_refused_on_another_mtp() {
    let out = tempfile::tempdir().unwrap();
    let run = plugfest(&["run", "--agent-fault", "coap-no-retransmit"], out.path());
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(
        run.stderr.contains("applies with --mtp coap"),
        "{}",
        run.stderr
    );
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_target_file_reaches_a_standalone_agent_on_its_coap_resource() {
    let dir = tempfile::tempdir().unwrap();
    let agent_port = free_udp_port();
    let _agent = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_plugfest"))
            .args(["agent", "--coap-listen", &format!("127.0.0.1:{agent_port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // UDP has nothing to wait for: the Agent's first answer is the proof.
    std::thread::sleep(Duration::from_millis(300));
    let target = dir.path().join("target.yaml");
    std::fs::write(
        &target,
        format!(
            "name: CoAP reference Agent\nmtp: coap\nagent_endpoint_id: proto::plugfest-reference-agent\ncoap:\n  listen: 127.0.0.1:{}\n  agent_uri: coap://127.0.0.1:{agent_port}/usp\n  ack_timeout_ms: 300\ntimeouts:\n  request_ms: 3000\n  connect_ms: 5000\n",
            free_udp_port()
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let run = plugfest(
        &["run", "--target", target.to_str().unwrap(), "--quiet"],
        &out,
    );
    assert_eq!(run.code, 0, "{}\n{}", run.failure_messages(), run.explain());
    let results = run.results.as_ref().unwrap();
    assert_eq!(results["mtp"], "CoAP");
    // The connect-record case, the reboot cases, the E2E cases (no --e2e),
    // the interposer's cases (none here) and the challenge case whose answer
    // the target file does not give (`challenge_value`).
    assert_eq!(
        results["counts"]["skipped"].as_u64(),
        Some(
            2 + REBOOT_CASES.len() as u64
                + e2e_case_count()
                + interposer_skips(&run)
                + tls_skips(&run)
                + second_controller_skips(&run)
                + discovery_skips(&run)
                // A target file without `controllers:` defines no
                // `controller_id_readonly`, which TP-469 2.23/2.24 name.
                + needs_var_skips(&run, "controller_id_readonly")
        ),
        "skipped: {:?}",
        run.cases()
            .iter()
            .filter(|c| c["verdict"] == "skipped")
            .map(|c| format!("{}: {}", c["id"], c["message"]))
            .collect::<Vec<_>>()
    );
    let cases = run.cases();
    let challenge = cases
        .iter()
        .find(|c| c["id"] == "challenge-right-answer")
        .expect("the challenge case ran");
    assert_eq!(challenge["verdict"], "skipped");
    assert!(challenge["message"]
        .as_str()
        .is_some_and(|m| m.contains("challenge_value")));
}

// ---- in-process: the reference Agent on a CoAP resource ----

fn config(peer: Option<String>) -> CoapConfig {
    CoapConfig::new("127.0.0.1:0", "/usp", peer).with_ack_timeout(Duration::from_millis(300))
}

/// The reference Agent on its own resource, learning the Controller from
/// reply-to; returns its URI and its wire counters.
async fn reference_agent() -> (String, std::sync::Arc<usp_plugfest::mtp::coap::CoapStats>) {
    let endpoint = CoapEndpoint::bind(config(None)).await.unwrap();
    let (uri, stats) = (endpoint.uri().to_string(), endpoint.stats());
    let agent = Agent::new(AgentConfig {
        endpoint_id: AGENT.into(),
        faults: FaultSet::default(),
    });
    let host = AgentHost::new(agent, FaultSet::default());
    tokio::spawn(host.run_dialer(endpoint, Some(CTRL.into()), Duration::from_millis(50)));
    (uri, stats)
}

fn request_record(msg_id: &str, req: ReqType) -> Vec<u8> {
    record::encode(&record::no_session(CTRL, AGENT, &msg::request(msg_id, req)))
}

async fn next_record(conn: &mut Box<dyn MtpConnection>) -> usp_plugfest::usp::proto::msg::Msg {
    let got = tokio::time::timeout(Duration::from_secs(5), conn.recv())
        .await
        .expect("an answer within 5 s")
        .unwrap();
    let Inbound::Record(bytes) = got else {
        panic!("not a Record: {got:?}")
    };
    record::payload_msg(&record::decode(&bytes, Some(CTRL)).unwrap()).unwrap()
}

#[tokio::test]
async fn large_records_go_block_wise_in_both_directions() {
    let (agent_uri, agent_stats) = reference_agent().await;
    let mut harness = CoapEndpoint::bind(config(Some(agent_uri))).await.unwrap();
    let ours = harness.stats();
    let mut conn = harness.establish().await.unwrap();
    // A GetSupportedDM of Device. answers with more than one CoAP message.
    let gsdm = ReqType::GetSupportedDm(GetSupportedDm {
        obj_paths: vec!["Device.".into()],
        first_level_only: false,
        return_commands: true,
        return_events: true,
        return_params: true,
        return_unique_key_sets: true,
    });
    conn.send(&request_record("gsdm-1", gsdm)).await.unwrap();
    let answer = next_record(&mut conn).await;
    assert_eq!(msg::msg_id(&answer), "gsdm-1");
    assert_eq!(
        msg::body_type(&answer).map(msg::type_name),
        Some("GET_SUPPORTED_DM_RESP")
    );
    let sent = agent_stats.blocks_sent.load(Ordering::Relaxed);
    let received = ours.blocks_received.load(Ordering::Relaxed);
    assert!(
        sent > 1,
        "the Agent sent its answer in {sent} Block1 blocks"
    );
    assert_eq!(received, sent, "blocks sent and received differ");
    // And the other way: a Get whose Record exceeds one block.
    let paths = (0..80)
        .map(|i| format!("Device.LocalAgent.Subscription.{i}.ID"))
        .collect();
    let get = ReqType::Get(Get {
        param_paths: paths,
        max_depth: 0,
    });
    let big = request_record("get-big", get);
    assert!(big.len() > 1024, "only {} bytes", big.len());
    conn.send(&big).await.unwrap();
    assert_eq!(msg::msg_id(&next_record(&mut conn).await), "get-big");
    let ours_sent = ours.blocks_sent.load(Ordering::Relaxed);
    assert_eq!(ours_sent as usize, big.len().div_ceil(1024));
    assert_eq!(
        agent_stats.blocks_received.load(Ordering::Relaxed),
        ours_sent
    );
}

// ---- a raw UDP peer breaking the binding's rules ----

struct RawPeer {
    socket: UdpSocket,
    agent: std::net::SocketAddr,
    next_mid: u16,
}

impl RawPeer {
    async fn new(agent_uri: &str) -> RawPeer {
        let authority = agent_uri
            .trim_start_matches("coap://")
            .split('/')
            .next()
            .unwrap();
        RawPeer {
            socket: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            agent: authority.parse().unwrap(),
            next_mid: 0x4000,
        }
    }

    fn reply_to(&self) -> String {
        format!("coap://{}/raw", self.socket.local_addr().unwrap())
    }

    /// A Confirmable request built by hand (not with the code under test).
    fn request(&mut self, method: RequestType, format: Option<u8>, payload: &[u8]) -> Packet {
        let mut p = Packet::new();
        p.header.set_type(MessageType::Confirmable);
        p.header.code = MessageClass::Request(method);
        p.header.message_id = self.next_mid;
        self.next_mid += 1;
        p.set_token(vec![0xab, self.next_mid as u8]);
        p.add_option(CoapOption::UriPath, b"usp".to_vec());
        if let Some(f) = format {
            p.add_option(CoapOption::ContentFormat, vec![f]);
        }
        p.add_option(
            CoapOption::UriQuery,
            format!("reply-to={}", self.reply_to()).into_bytes(),
        );
        p.payload = payload.to_vec();
        p
    }

    async fn send(&self, p: &Packet) {
        let bytes = p.to_bytes_unlimited().unwrap();
        self.socket.send_to(&bytes, self.agent).await.unwrap();
    }

    async fn next(&self) -> Packet {
        let mut buf = vec![0u8; 65_536];
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), self.socket.recv_from(&mut buf))
            .await
            .expect("the Agent stayed silent for 5 s")
            .unwrap();
        Packet::from_bytes(&buf[..n]).unwrap()
    }

    /// Receives one POSTed body, block-wise or not, acknowledging each
    /// message (2.31 Continue echoing Block1 while more follow, RFC 7959
    /// §2.3; 2.04 at the end) so the sender does not retransmit.
    async fn receive_body(&self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let post = self.next().await;
            assert_eq!(post.header.code, MessageClass::Request(RequestType::Post));
            let block1 = post.get_first_option(CoapOption::Block1).cloned();
            let more = block1
                .as_ref()
                .and_then(|v| v.last())
                .is_some_and(|low| low & 0x08 != 0);
            body.extend_from_slice(&post.payload);
            let mut ack = Packet::new();
            ack.header.set_type(MessageType::Acknowledgement);
            ack.header.code = MessageClass::Response(if more {
                ResponseType::Continue
            } else {
                ResponseType::Changed
            });
            ack.header.message_id = post.header.message_id;
            ack.set_token(post.get_token().to_vec());
            if let Some(b) = block1 {
                ack.add_option(CoapOption::Block1, b);
            }
            self.send(&ack).await;
            if !more {
                return body;
            }
        }
    }

    /// Sends `p` and returns the piggy-backed answer in its ACK.
    async fn answer_to(&self, p: &Packet) -> Packet {
        self.send(p).await;
        let ack = self.next().await;
        assert_eq!(ack.header.get_type(), MessageType::Acknowledgement);
        assert_eq!(ack.header.message_id, p.header.message_id);
        assert_eq!(ack.get_token(), p.get_token());
        ack
    }
}

const OCTET_STREAM: Option<u8> = Some(42);
const TEXT_PLAIN: Option<u8> = Some(0);

#[tokio::test]
async fn the_agent_answers_405_415_and_400_to_binding_violations() {
    let (agent_uri, _) = reference_agent().await;
    let mut raw = RawPeer::new(&agent_uri).await;
    let get = raw.request(RequestType::Get, None, b"");
    let ack = raw.answer_to(&get).await;
    assert_eq!(
        ack.header.code,
        MessageClass::Response(ResponseType::MethodNotAllowed)
    );
    let valid = request_record(
        "raw-1",
        ReqType::Get(Get {
            param_paths: vec!["Device.DeviceInfo.".into()],
            max_depth: 0,
        }),
    );
    let text = raw.request(RequestType::Post, TEXT_PLAIN, &valid);
    let ack = raw.answer_to(&text).await;
    assert_eq!(
        ack.header.code,
        MessageClass::Response(ResponseType::UnsupportedContentFormat)
    );
    let garbage = raw.request(RequestType::Post, OCTET_STREAM, b"\xff\xff garbage");
    let ack = raw.answer_to(&garbage).await;
    assert_eq!(
        ack.header.code,
        MessageClass::Response(ResponseType::BadRequest)
    );
    // The Agent still serves: a proper POST gets 2.04 at once, then the
    // GetResp comes as a new POST to our reply-to.
    let good = raw.request(RequestType::Post, OCTET_STREAM, &valid);
    let ack = raw.answer_to(&good).await;
    assert_eq!(
        ack.header.code,
        MessageClass::Response(ResponseType::Changed)
    );
    let post = raw.next().await;
    assert_eq!(post.header.get_type(), MessageType::Confirmable);
    assert_eq!(post.header.code, MessageClass::Request(RequestType::Post));
    let path: Vec<_> = post
        .get_option(CoapOption::UriPath)
        .unwrap()
        .iter()
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    assert_eq!(path, vec!["raw"]);
    assert_eq!(
        post.get_first_option(CoapOption::ContentFormat),
        Some(&vec![42u8])
    );
    let reply_to = post.get_first_option(CoapOption::UriQuery).unwrap();
    assert_eq!(
        String::from_utf8_lossy(reply_to),
        format!("reply-to={agent_uri}")
    );
    let answer = record::payload_msg(&record::decode(&post.payload, Some(CTRL)).unwrap()).unwrap();
    assert_eq!(msg::msg_id(&answer), "raw-1");
}

#[tokio::test]
async fn a_duplicate_post_is_acknowledged_again_but_answered_once() {
    let (agent_uri, _) = reference_agent().await;
    let mut raw = RawPeer::new(&agent_uri).await;
    let valid = request_record(
        "dup-1",
        ReqType::Get(Get {
            param_paths: vec!["Device.DeviceInfo.".into()],
            max_depth: 0,
        }),
    );
    let post = raw.request(RequestType::Post, OCTET_STREAM, &valid);
    // The same message twice, as a retransmission after a lost ACK would be.
    raw.send(&post).await;
    raw.send(&post).await;
    let mut acks = 0;
    let mut answers = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
    let mut buf = vec![0u8; 65_536];
    while let Ok(Ok((n, from))) =
        tokio::time::timeout_at(deadline, raw.socket.recv_from(&mut buf)).await
    {
        let p = Packet::from_bytes(&buf[..n]).unwrap();
        match p.header.get_type() {
            MessageType::Acknowledgement => acks += 1,
            MessageType::Confirmable => {
                answers += 1;
                // Acknowledge, so the Agent does not retransmit its answer.
                let mut ack = Packet::new();
                ack.header.set_type(MessageType::Acknowledgement);
                ack.header.code = MessageClass::Response(ResponseType::Changed);
                ack.header.message_id = p.header.message_id;
                ack.set_token(p.get_token().to_vec());
                raw.socket
                    .send_to(&ack.to_bytes_unlimited().unwrap(), from)
                    .await
                    .unwrap();
            }
            _ => {}
        }
    }
    assert_eq!(acks, 2, "each copy is acknowledged (RFC 7252 §4.5)");
    assert_eq!(answers, 1, "the Get is handled once");
}

// ---- interop with an independent CoAP implementation (libcoap) ----

/// libcoap's client (Debian libcoap3-bin; scripts/test.sh installs it)
/// POSTs a Record block-wise to the reference Agent, whose answer comes as
/// a new POST to the reply-to that the client's URI carried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libcoap_client_posts_a_record_block_wise_to_the_reference_agent() {
    const CLIENT: &str = "coap-client-notls";
    let found = Command::new(CLIENT).arg("-h").output();
    assert!(
        found.is_ok(),
        "{CLIENT} is missing: install the Debian package libcoap3-bin (scripts/test.sh does)"
    );
    let (agent_uri, agent_stats) = reference_agent().await;
    let raw = RawPeer::new(&agent_uri).await;
    let paths = (0..40)
        .map(|i| format!("Device.LocalAgent.Subscription.{i}.ID"))
        .collect();
    let record = request_record(
        "libcoap-1",
        ReqType::Get(Get {
            param_paths: paths,
            max_depth: 0,
        }),
    );
    assert!(record.len() > 1024, "only {} bytes", record.len());
    let dir = tempfile::tempdir().unwrap();
    let payload = dir.path().join("record.bin");
    std::fs::write(&payload, &record).unwrap();
    let uri = format!("{agent_uri}?reply-to={}", raw.reply_to());
    let client = tokio::task::spawn_blocking(move || {
        Command::new(CLIENT)
            .args(["-m", "post", "-b", "512", "-t", "42", "-B", "5", "-f"])
            .arg(&payload)
            .arg(&uri)
            .output()
            .unwrap()
    });
    // The answer Record, POSTed (block-wise: it is large too) to our reply-to.
    let body = raw.receive_body().await;
    let answer = record::payload_msg(&record::decode(&body, Some(CTRL)).unwrap()).unwrap();
    assert_eq!(msg::msg_id(&answer), "libcoap-1");
    let out = client.await.unwrap();
    assert!(
        out.status.success(),
        "{CLIENT} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let blocks = agent_stats.blocks_received.load(Ordering::Relaxed);
    assert_eq!(blocks as usize, record.len().div_ceil(512), "Block1 blocks");
}

/// The E2E session-context cases, skipped in a run without --e2e.
/// Cases skipped because the run has no MQTT interposer.
/// Cases skipped because the harness cannot act as a second Controller here.
fn second_controller_skips(run: &common::Run) -> u64 {
    run.cases()
        .iter()
        .filter(|c| common::skipped_for_want_of_second_controller(c))
        .count() as u64
}

fn interposer_skips(run: &Run) -> u64 {
    run.cases()
        .iter()
        .filter(|c| common::skipped_for_want_of_interposer(c))
        .count() as u64
}

fn tls_skips(run: &Run) -> u64 {
    run.cases()
        .iter()
        .filter(|c| common::skipped_for_want_of_tls(c))
        .count() as u64
}

fn needs_var_skips(run: &Run, var: &str) -> u64 {
    run.cases()
        .iter()
        .filter(|c| {
            c["verdict"] == "skipped"
                && c["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("needs variable(s)") && m.contains(var))
        })
        .count() as u64
}

fn discovery_skips(run: &Run) -> u64 {
    run.cases()
        .iter()
        .filter(|c| common::skipped_for_want_of_discovery(c))
        .count() as u64
}

/// The cases of test-cases/e2e*.yaml (e2e.yaml, e2e-no-absolute-time.yaml).
fn e2e_case_count() -> u64 {
    let mut n = 0;
    for entry in std::fs::read_dir("test-cases").unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("e2e") && name.ends_with(".yaml") {
            n += std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .filter(|l| l.trim_start().starts_with("- id: e2e-"))
                .count() as u64;
        }
    }
    n
}
