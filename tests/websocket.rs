//! The WebSocket binding over real loopback sockets: the subprotocol rule
//! both ways, both ways of announcing the client's Endpoint ID, the 1003
//! close for unusable frames, and the Controller session's handling of
//! Notify and of answers that match no request.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, http::HeaderValue, Message};
use usp_plugfest::agent::runtime::AgentHost;
use usp_plugfest::agent::{faults::FaultSet, Agent, AgentConfig};
use usp_plugfest::mtp::websocket::{WsDialer, WsServer};
use usp_plugfest::mtp::{MtpConnector, MtpError};
use usp_plugfest::session::{Session, SessionConfig};
use usp_plugfest::usp::proto::msg::{request::ReqType, response::RespType, Get, GetResp, Notify};
use usp_plugfest::usp::{msg, record};

const CTRL: &str = "proto::test-controller";

async fn raw_client(
    url: &str,
    subprotocol: Option<&str>,
    extension: Option<&str>,
) -> Result<
    (
        tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
        tokio_tungstenite::tungstenite::handshake::client::Response,
    ),
    tokio_tungstenite::tungstenite::Error,
> {
    let mut req = url.into_client_request().unwrap();
    if let Some(p) = subprotocol {
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_str(p).unwrap());
    }
    if let Some(e) = extension {
        req.headers_mut().insert(
            "Sec-WebSocket-Extensions",
            HeaderValue::from_str(e).unwrap(),
        );
    }
    tokio_tungstenite::connect_async(req).await
}

#[tokio::test]
async fn server_refuses_a_client_without_the_usp_subprotocol() {
    let mut server = WsServer::bind("127.0.0.1:0", None, CTRL).await.unwrap();
    let url = format!("ws://{}/?eid=proto%3A%3Aa", server.local_addr());
    let accept = tokio::spawn(async move {
        let conn = server.establish().await;
        (conn.map(|c| c.peer().clone()), server.last_problem())
    });
    let refused = raw_client(&url, None, None).await;
    assert!(refused.is_err(), "a client without v1.usp was accepted");
    let (_ws, resp) = raw_client(&url, Some("v1.usp"), None).await.unwrap();
    assert_eq!(resp.headers()["Sec-WebSocket-Protocol"], "v1.usp");
    let (peer, problem) = accept.await.unwrap();
    assert_eq!(peer.unwrap().endpoint_id.as_deref(), Some("proto::a"));
    assert!(problem.unwrap().contains("R-WS.12a"));
}

#[tokio::test]
async fn server_accepts_the_legacy_extension_and_answers_with_its_own_eid() {
    let mut server = WsServer::bind("127.0.0.1:0", None, CTRL).await.unwrap();
    let url = format!("ws://{}/", server.local_addr());
    let accept = tokio::spawn(async move { server.establish().await.map(|c| c.peer().clone()) });
    let (_ws, resp) = raw_client(
        &url,
        Some("v1.usp"),
        Some("bbf-usp-protocol; eid=\"os::legacy-1\""),
    )
    .await
    .unwrap();
    assert_eq!(
        resp.headers()["Sec-WebSocket-Extensions"],
        format!("bbf-usp-protocol; eid=\"{CTRL}\"").as_str()
    );
    assert_eq!(
        accept.await.unwrap().unwrap().endpoint_id.as_deref(),
        Some("os::legacy-1")
    );
}

#[tokio::test]
async fn client_refuses_a_server_that_does_not_echo_the_subprotocol() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let _ = tokio_tungstenite::accept_async(tcp).await;
    });
    let err = WsDialer::new(&format!("ws://{addr}/"), CTRL)
        .connect()
        .await
        .err()
        .unwrap();
    assert!(matches!(err, MtpError::Handshake { .. }), "{err:?}");
    assert!(err.to_string().contains("R-WS.12"), "{err}");
}

/// A Controller session on `server` that learns the Agent's id from the handshake.
fn controller_session(server: WsServer, connect_record_timeout: Duration) -> Session {
    Session::new(
        Box::new(server),
        SessionConfig {
            controller_id: CTRL.into(),
            agent_id: None,
            request_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(3),
            connect_record_timeout,
        },
    )
}

async fn reference_agent_server() -> String {
    let eid = "proto::ref-agent";
    let server = WsServer::bind("127.0.0.1:0", None, eid).await.unwrap();
    let url = format!("ws://{}/", server.local_addr());
    let agent = Agent::new(AgentConfig {
        endpoint_id: eid.into(),
        faults: FaultSet::default(),
    });
    tokio::spawn(AgentHost::new(agent, FaultSet::default()).run_listener(server));
    url
}

async fn close_code_after(frame: Message) -> Option<u16> {
    let url = format!(
        "{}?eid=proto%3A%3Atest-controller",
        reference_agent_server().await
    );
    let (mut ws, _) = raw_client(&url, Some("v1.usp"), None).await.unwrap();
    ws.send(frame).await.unwrap();
    let deadline = tokio::time::sleep(Duration::from_secs(5));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => return None,
            item = ws.next() => match item {
                Some(Ok(Message::Close(Some(f)))) => return Some(u16::from(f.code)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    }
}

#[tokio::test]
async fn reference_agent_closes_with_1003_on_a_text_frame() {
    assert_eq!(close_code_after(Message::text("hello")).await, Some(1003));
}

#[tokio::test]
async fn reference_agent_closes_with_1003_on_an_undecodable_record() {
    assert_eq!(
        close_code_after(Message::binary(vec![0xff, 0xff, 0xff])).await,
        Some(1003)
    );
}

/// A scripted Agent on a raw socket, driven by the test, against a real Session.
#[tokio::test]
async fn session_queues_notify_answers_notify_resp_and_skips_stray_answers() {
    let server = WsServer::bind("127.0.0.1:0", None, CTRL).await.unwrap();
    let url = format!("ws://{}/?eid=proto%3A%3Ascripted", server.local_addr());
    let mut session = controller_session(server, Duration::from_millis(500));
    let agent = tokio::spawn(async move {
        let (mut ws, _) = raw_client(&url, Some("v1.usp"), None).await.unwrap();
        let send = |m: &usp_plugfest::usp::proto::msg::Msg| {
            Message::binary(record::encode(&record::no_session(
                "proto::scripted",
                CTRL,
                m,
            )))
        };
        ws.send(Message::binary(record::encode(&record::websocket_connect(
            "proto::scripted",
            CTRL,
        ))))
        .await
        .unwrap();
        let notify = msg::request(
            "n-1",
            ReqType::Notify(Notify {
                subscription_id: "sub-7".into(),
                send_resp: true,
                notification: None,
            }),
        );
        ws.send(send(&notify)).await.unwrap();
        // Answer the Get (a stray answer first, wrong msg_id, then the
        // real one) and collect the NotifyResp, in whatever order they come.
        let mut notify_resp = None;
        let mut answered = false;
        while notify_resp.is_none() || !answered {
            let Some(Ok(Message::Binary(b))) = ws.next().await else {
                panic!("socket ended")
            };
            let m =
                record::payload_msg(&record::decode(&b, Some("proto::scripted")).unwrap()).unwrap();
            if let Some(RespType::NotifyResp(r)) = msg::response_body(&m) {
                notify_resp = Some((msg::msg_id(&m).to_string(), r.subscription_id.clone()));
                continue;
            }
            let get_id = msg::msg_id(&m).to_string();
            ws.send(send(&msg::response(
                "not-yours",
                RespType::GetResp(GetResp::default()),
            )))
            .await
            .unwrap();
            ws.send(send(&msg::response(
                get_id,
                RespType::GetResp(GetResp::default()),
            )))
            .await
            .unwrap();
            answered = true;
        }
        notify_resp
    });
    let exchange = session
        .request(ReqType::Get(Get {
            param_paths: vec!["Device.".into()],
            max_depth: 1,
        }))
        .await
        .map_err(|(_, e)| e)
        .unwrap();
    assert!(session.connect_record_seen());
    assert_eq!(session.agent_id(), Some("proto::scripted"));
    assert_eq!(msg::msg_id(&exchange.response), msg::msg_id(&exchange.sent));
    let trace = session.take_trace();
    assert!(trace.iter().any(|e| e
        .note
        .as_deref()
        .is_some_and(|n| n.contains("not-yours") && n.contains("R-MSG.9"))));
    let queued = session
        .wait_notify(Duration::from_millis(10), |_| true)
        .await
        .unwrap();
    assert_eq!(msg::msg_id(&queued), "n-1");
    assert_eq!(
        agent.await.unwrap(),
        Some(("n-1".to_string(), "sub-7".to_string()))
    );
}

/// R-WS.17 / TP-469 7.7: the Controller answers a Ping with a Pong carrying
/// the same payload, and an unsolicited Pong does not end the session.
#[tokio::test]
async fn session_answers_pings_and_ignores_unsolicited_pongs() {
    let server = WsServer::bind("127.0.0.1:0", None, CTRL).await.unwrap();
    let url = format!("ws://{}/?eid=proto%3A%3Apinger", server.local_addr());
    let mut session = controller_session(server, Duration::from_millis(300));
    let agent = tokio::spawn(async move {
        let (mut ws, _) = raw_client(&url, Some("v1.usp"), None).await.unwrap();
        let Some(Ok(Message::Binary(b))) = ws.next().await else {
            panic!("no request")
        };
        let get = record::payload_msg(&record::decode(&b, Some("proto::pinger")).unwrap()).unwrap();
        ws.send(Message::Pong(b"unasked".to_vec().into()))
            .await
            .unwrap();
        ws.send(Message::Ping(b"are-you-there".to_vec().into()))
            .await
            .unwrap();
        let pong = loop {
            match ws.next().await {
                Some(Ok(Message::Pong(p))) => break p.to_vec(),
                Some(Ok(_)) => continue,
                other => panic!("no pong: {other:?}"),
            }
        };
        let answer = msg::response(msg::msg_id(&get), RespType::GetResp(GetResp::default()));
        ws.send(Message::binary(record::encode(&record::no_session(
            "proto::pinger",
            CTRL,
            &answer,
        ))))
        .await
        .unwrap();
        pong
    });
    let exchange = session
        .request(ReqType::Get(Get {
            param_paths: vec!["Device.".into()],
            max_depth: 0,
        }))
        .await
        .map_err(|(_, e)| e)
        .unwrap();
    assert_eq!(msg::msg_id(&exchange.response), msg::msg_id(&exchange.sent));
    assert_eq!(agent.await.unwrap(), b"are-you-there".to_vec());
}
