//! Hostile Agents (issue #7 item 2, first slice): small peers on 127.0.0.1
//! that speak just enough WebSocket to be dialed as an Agent, then misbehave.
//! For each, `plugfest run --target` ends within a bound, does not panic,
//! and the verdict names what happened.

mod common;

use std::time::Duration;

use common::{finish_within, spawn_plugfest};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::Message;

const CASE: &str = r#"suite: hostile
cases:
  - id: HOSTILE-1
    title: Get the Manufacturer
    profile: DRAFT-DeviceInfo:1
    steps:
      - get: { paths: [Device.DeviceInfo.Manufacturer] }
"#;

#[derive(Clone, Copy)]
enum Behaviour {
    /// Answers every frame with bytes that are no protobuf Record.
    RandomBytes,
    /// Accepts the connection, reads everything, answers nothing, never closes.
    Silent,
    /// Answers each request correctly but from another Agent's Endpoint ID.
    OtherEndpointId,
    /// Answers the first request with a flood of unsolicited Notifys, then nothing.
    NotifyFlood,
    /// Answers with a well-formed GetResp Record of 20 MiB, over the
    /// harness's 16 MiB limit on one Record.
    HugeRecord,
    /// Completes the handshake, then shuts its sending side (TCP FIN, no
    /// WebSocket Close) while it goes on reading.
    HalfClose,
}

/// Starts the hostile peer on its own thread and runtime; returns its port.
fn hostile(behaviour: Behaviour) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    // Accept the USP subprotocol, as a real Agent would (R-WS.1).
                    let accept = |_: &Request, mut resp: Response| {
                        resp.headers_mut()
                            .insert("Sec-WebSocket-Protocol", "v1.usp".parse().unwrap());
                        Ok(resp)
                    };
                    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, accept).await else {
                        return;
                    };
                    if let Behaviour::HalfClose = behaviour {
                        use tokio::io::AsyncWriteExt;
                        let _ = ws.get_mut().shutdown().await;
                    }
                    // A fixed xorshift stream: "random", yet the same every run.
                    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
                    while let Some(Ok(m)) = ws.next().await {
                        if let (Behaviour::OtherEndpointId, Message::Binary(b)) = (behaviour, &m) {
                            let answer = answer_as(OTHER_AGENT, b);
                            if ws.send(Message::Binary(answer.into())).await.is_err() {
                                return;
                            }
                        }
                        if let (Behaviour::HugeRecord, Message::Binary(b)) = (behaviour, &m) {
                            let answer = huge_answer(b);
                            if ws.send(Message::Binary(answer.into())).await.is_err() {
                                return;
                            }
                        }
                        if let (Behaviour::NotifyFlood, Message::Binary(b)) = (behaviour, &m) {
                            for i in 0..FLOOD {
                                let n = notify_for(b, i);
                                if ws.send(Message::Binary(n.into())).await.is_err() {
                                    return;
                                }
                            }
                        }
                        if let (Behaviour::RandomBytes, true) = (behaviour, m.is_binary()) {
                            let junk: Vec<u8> = (0..64)
                                .map(|_| {
                                    x ^= x << 13;
                                    x ^= x >> 7;
                                    x ^= x << 17;
                                    x as u8
                                })
                                .collect();
                            if ws.send(Message::Binary(junk.into())).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
    });
    port
}

const OTHER_AGENT: &str = "proto::somebody-else";

/// A correct (empty) GetResp to the request in `bytes`, sent as `from_id`.
fn answer_as(from_id: &str, bytes: &[u8]) -> Vec<u8> {
    use usp_plugfest::usp::proto::msg::{response::RespType, GetResp};
    use usp_plugfest::usp::{msg, record};
    let request = record::decode(bytes, None).unwrap();
    let m = record::payload_msg(&request).unwrap();
    let resp = msg::response(msg::msg_id(&m), RespType::GetResp(GetResp::default()));
    record::encode(&record::no_session(from_id, &request.from_id, &resp))
}

/// A GetResp to the request in `bytes` whose one value is 20 MiB long.
fn huge_answer(bytes: &[u8]) -> Vec<u8> {
    use usp_plugfest::usp::proto::msg::get_resp::{RequestedPathResult, ResolvedPathResult};
    use usp_plugfest::usp::proto::msg::{response::RespType, GetResp};
    use usp_plugfest::usp::{msg, record};
    let request = record::decode(bytes, None).unwrap();
    let m = record::payload_msg(&request).unwrap();
    let value = "x".repeat(HUGE);
    let result = ResolvedPathResult {
        resolved_path: "Device.DeviceInfo.".into(),
        result_params: [("Manufacturer".to_string(), value)].into(),
    };
    let resp = msg::response(
        msg::msg_id(&m),
        RespType::GetResp(GetResp {
            req_path_results: vec![RequestedPathResult {
                requested_path: "Device.DeviceInfo.Manufacturer".into(),
                resolved_path_results: vec![result],
                ..Default::default()
            }],
        }),
    );
    record::encode(&record::no_session(
        "proto::hostile",
        &request.from_id,
        &resp,
    ))
}

const HUGE: usize = 20 * 1024 * 1024;

const FLOOD: u32 = 20_000;

/// An unsolicited Event Notify from the Agent to the sender of `bytes`.
fn notify_for(bytes: &[u8], i: u32) -> Vec<u8> {
    use usp_plugfest::usp::proto::msg::{notify, request::ReqType, Notify};
    use usp_plugfest::usp::{msg, record};
    let request = record::decode(bytes, None).unwrap();
    let n = msg::request(
        format!("flood-{i}"),
        ReqType::Notify(Notify {
            subscription_id: "flood".into(),
            send_resp: false,
            notification: Some(notify::Notification::Event(notify::Event {
                obj_path: "Device.".into(),
                event_name: "Boot!".into(),
                ..Default::default()
            })),
        }),
    );
    record::encode(&record::no_session("proto::hostile", &request.from_id, &n))
}

fn run_against(behaviour: Behaviour, limit: Duration) -> common::Run {
    let port = hostile(behaviour);
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("case.yaml");
    std::fs::write(&cases, CASE).unwrap();
    let target = dir.path().join("target.yaml");
    std::fs::write(
        &target,
        format!(
            "name: hostile\nmtp: websocket\nagent_endpoint_id: proto::hostile\nwebsocket:\n  role: client\n  url: ws://127.0.0.1:{port}/\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let child = spawn_plugfest(
        &[
            "run",
            "--quiet",
            "--target",
            target.to_str().unwrap(),
            "--cases",
            cases.to_str().unwrap(),
            "--timeout-ms",
            "1500",
        ],
        &out,
    );
    let run = finish_within(child, &out, limit);
    run
}

/// Runs against `behaviour`: the run ends within its bound with exit 1 and
/// no panic; returns the failure messages (printed, shortened, for the log).
fn failure_messages_against(behaviour: Behaviour) -> String {
    let run = run_against(behaviour, Duration::from_secs(30));
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(!run.explain().contains("panicked"), "{}", run.explain());
    let messages = run.failure_messages();
    println!("{}", &messages[..messages.len().min(600)]);
    messages
}

#[test]
fn random_bytes_fail_the_case_and_say_they_were_no_record() {
    let messages = failure_messages_against(Behaviour::RandomBytes);
    assert!(
        messages.contains("no response within 1500 ms"),
        "{messages}"
    );
    assert!(
        messages.contains("the bytes are not a protobuf USP Record"),
        "{messages}"
    );
}

#[test]
fn a_silent_agent_times_out_within_the_bound() {
    let messages = failure_messages_against(Behaviour::Silent);
    assert!(
        messages.contains("no response within 1500 ms"),
        "{messages}"
    );
    // Nothing arrived, so nothing was set aside: the verdict must not
    // invent a cause.
    assert!(!messages.contains("set aside"), "{messages}");
}

#[test]
fn an_answer_from_another_endpoint_id_is_set_aside_and_named() {
    let messages = failure_messages_against(Behaviour::OtherEndpointId);
    assert!(
        messages.contains("a Record from 'proto::somebody-else', not from the Agent under test"),
        "{messages}"
    );
}

#[test]
fn a_notify_flood_does_not_stop_the_run_from_ending() {
    let run = run_against(Behaviour::NotifyFlood, Duration::from_secs(30));
    assert_eq!(run.code, 1, "{}", run.explain());
    let messages = run.failure_messages();
    assert!(
        messages.contains("no response within 1500 ms"),
        "{messages}"
    );
    // 20,000 Notifys against a queue of 10,000: the harness kept its
    // bound and said so in the case's trace.
    let entries = run.cases()[0]["trace"].as_array().unwrap().clone();
    let trace = run.cases()[0]["trace"].to_string();
    assert!(
        trace.contains("(Notify queue full)") && trace.contains("the oldest are dropped"),
        "{}",
        &trace[..trace.len().min(2000)]
    );
    // The case's trace is bounded too (trace::Trace): the first 2,000 and
    // the last 200 to 400 entries, plus the harness's remarks, and one note
    // counting the Records between them.
    assert!(
        entries.len() <= 2_000 + 1 + 400 + 50,
        "{} trace entries kept",
        entries.len()
    );
    let notes: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["note"].as_str())
        .filter(|n| n.contains("Records not kept (trace limit 2200"))
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    let dropped: usize = notes[0]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        dropped + entries.len() > 10_000,
        "{dropped} not kept + {} kept: fewer than the 10,000 Notifys that filled the queue",
        entries.len()
    );
}

#[test]
fn a_record_over_the_size_limit_is_refused_and_named() {
    let messages = failure_messages_against(Behaviour::HugeRecord);
    assert!(
        messages.contains("larger than the 16777216-byte limit on one Record"),
        "{}",
        &messages[..messages.len().min(2000)]
    );
}

#[test]
fn a_half_closed_connection_ends_the_case_with_the_reason() {
    let messages = failure_messages_against(Behaviour::HalfClose);
    assert!(
        messages.contains("not connected: the last connection ended (")
            && messages.contains("without closing handshake"),
        "{messages}"
    );
}
