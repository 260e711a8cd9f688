//! The reference Agent's DRAFT use cases end to end over a loopback WebSocket, driven
//! by the harness's own Controller `Session`: reboot (drop, reconnect, Connect Record,
//! Boot!, Persistent subscriptions), firmware Download() from a real HTTP server on
//! 127.0.0.1, Periodic!, and the new faults changing what is observed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use usp_plugfest::agent::runtime::AgentHost;
use usp_plugfest::agent::{Agent, AgentConfig, Fault, FaultSet};
use usp_plugfest::mtp::websocket::{WsDialer, WsServer};
use usp_plugfest::session::{Session, SessionConfig};
use usp_plugfest::usp::msg;
use usp_plugfest::usp::proto::msg::{
    add::{CreateObject, CreateParamSetting},
    notify::{self, Notification},
    operate_resp::operation_result::OperationResp,
    request::ReqType,
    response::RespType,
    set::{UpdateObject, UpdateParamSetting},
    Add, Get, Msg, Operate, Set,
};

const CTRL: &str = "proto::plugfest-controller";
const AGENT: &str = "proto::plugfest-reference-agent";

struct Rig {
    session: Session,
    agent: JoinHandle<()>,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.agent.abort();
    }
}

/// The harness listens; the Agent dials it and dials again after a drop or reboot.
async fn rig(faults: &[Fault]) -> Rig {
    let faults: FaultSet = faults.iter().copied().collect();
    let server = WsServer::bind("127.0.0.1:0", Some("/usp".into()), CTRL)
        .await
        .unwrap();
    let dialer = WsDialer::new(&format!("ws://{}/usp", server.local_addr()), AGENT);
    let agent = Agent::new(AgentConfig {
        endpoint_id: AGENT.into(),
        faults: faults.clone(),
    });
    let host = AgentHost::new(agent, faults).with_restart_delay(Duration::from_millis(300));
    let agent = tokio::spawn(host.run_dialer(dialer, Some(CTRL.into()), Duration::from_millis(50)));
    let session = Session::new(
        Box::new(server),
        SessionConfig {
            controller_id: CTRL.into(),
            agent_id: None,
            request_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(3),
            connect_record_timeout: Duration::from_secs(2),
        },
    );
    Rig { session, agent }
}

/// The Agent listens; the harness dials it (and dials again after a reboot).
async fn listening_rig(faults: &[Fault]) -> Rig {
    let faults: FaultSet = faults.iter().copied().collect();
    let server = WsServer::bind("127.0.0.1:0", None, AGENT).await.unwrap();
    let harness = WsDialer::new(&format!("ws://{}/", server.local_addr()), CTRL);
    let agent = Agent::new(AgentConfig {
        endpoint_id: AGENT.into(),
        faults: faults.clone(),
    });
    let host = AgentHost::new(agent, faults);
    let agent = tokio::spawn(host.run_listener(server));
    let session = Session::new(
        Box::new(harness),
        SessionConfig {
            controller_id: CTRL.into(),
            agent_id: None,
            request_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(3),
            connect_record_timeout: Duration::from_secs(2),
        },
    );
    Rig { session, agent }
}

async fn request(s: &mut Session, req: ReqType) -> Msg {
    s.request(req).await.map_err(|(_, e)| e).unwrap().response
}

async fn subscribe(
    s: &mut Session,
    notif_type: &str,
    refs: &str,
    persistent: bool,
    enable: bool,
) -> String {
    let set = |p: &str, v: &str| CreateParamSetting {
        param: p.into(),
        value: v.into(),
        required: true,
    };
    let resp = request(
        s,
        ReqType::Add(Add {
            allow_partial: false,
            create_objs: vec![CreateObject {
                obj_path: "Device.LocalAgent.Subscription.".into(),
                param_settings: vec![
                    set("Enable", &enable.to_string()),
                    set("NotifType", notif_type),
                    set("ReferenceList", refs),
                    set("Persistent", &persistent.to_string()),
                ],
            }],
        }),
    )
    .await;
    let Some(RespType::AddResp(a)) = msg::response_body(&resp) else {
        panic!("expected AddResp, got {resp:?}");
    };
    use usp_plugfest::usp::proto::msg::add_resp::created_object_result::operation_status::OperStatus;
    match a.created_obj_results[0]
        .oper_status
        .as_ref()
        .and_then(|s| s.oper_status.as_ref())
    {
        Some(OperStatus::OperSuccess(ok)) => ok.instantiated_path.clone(),
        other => panic!("Add failed: {other:?}"),
    }
}

async fn operate(s: &mut Session, command: &str, args: &[(&str, &str)]) -> OperationResp {
    let resp = request(
        s,
        ReqType::Operate(Operate {
            command: command.into(),
            command_key: "key-1".into(),
            send_resp: true,
            input_args: args
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }),
    )
    .await;
    let Some(RespType::OperateResp(o)) = msg::response_body(&resp) else {
        panic!("expected OperateResp, got {resp:?}");
    };
    o.operation_results[0].operation_resp.clone().unwrap()
}

async fn get(s: &mut Session, path: &str) -> BTreeMap<String, String> {
    let resp = request(
        s,
        ReqType::Get(Get {
            param_paths: vec![path.into()],
            max_depth: 0,
        }),
    )
    .await;
    let Some(RespType::GetResp(g)) = msg::response_body(&resp) else {
        panic!("expected GetResp, got {resp:?}");
    };
    g.req_path_results
        .iter()
        .flat_map(|r| r.resolved_path_results.iter())
        .flat_map(|r| {
            r.result_params
                .iter()
                .map(move |(k, v)| (format!("{}{k}", r.resolved_path), v.clone()))
        })
        .collect()
}

fn notification(m: &Msg) -> Option<&Notification> {
    match msg::request_body(m) {
        Some(ReqType::Notify(n)) => n.notification.as_ref(),
        _ => None,
    }
}

fn event<'a>(m: &'a Msg, name: &str) -> Option<&'a notify::Event> {
    match notification(m) {
        Some(Notification::Event(e)) if e.event_name == name => Some(e),
        _ => None,
    }
}

/// Waits for a Notify, reconnecting through the Session if the Agent went away.
async fn wait_for(s: &mut Session, within: Duration, pred: impl Fn(&Msg) -> bool) -> Option<Msg> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        match s.wait_notify(deadline - Instant::now(), &pred).await {
            Ok(m) => return Some(m),
            // The Agent rebooted: the Session reconnects on the next call.
            Err(usp_plugfest::session::SessionError::Closed { .. }) => continue,
            Err(_) => return None,
        }
    }
    None
}

/// Reboots the Agent and returns the Boot! Notify that follows its reconnect.
async fn reboot_and_boot(s: &mut Session) -> (Option<Msg>, bool) {
    let r = operate(s, "Device.Reboot()", &[]).await;
    assert!(
        matches!(r, OperationResp::ReqOutputArgs(ref o) if o.output_args.is_empty()),
        "{r:?}"
    );
    let boot = wait_for(s, Duration::from_secs(5), |m| event(m, "Boot!").is_some()).await;
    (boot, s.connect_record_seen())
}

#[tokio::test]
async fn reboot_reconnects_connect_record_then_boot_and_keeps_only_persistent_subscriptions() {
    let mut rig = rig(&[]).await;
    let s = &mut rig.session;
    subscribe(s, "Event", "Device.Boot!", true, true).await;
    let transient = subscribe(
        s,
        "ValueChange",
        "Device.DeviceInfo.FriendlyName",
        false,
        true,
    )
    .await;
    let bp = request(
        s,
        ReqType::Add(Add {
            allow_partial: false,
            create_objs: vec![CreateObject {
                obj_path: "Device.LocalAgent.Controller.1.BootParameter.".into(),
                param_settings: vec![
                    CreateParamSetting {
                        param: "Enable".into(),
                        value: "true".into(),
                        required: true,
                    },
                    CreateParamSetting {
                        param: "ParameterName".into(),
                        value: "Device.DeviceInfo.SoftwareVersion".into(),
                        required: true,
                    },
                ],
            }],
        }),
    )
    .await;
    assert!(matches!(
        msg::response_body(&bp),
        Some(RespType::AddResp(_))
    ));
    let (boot, connect_record_seen) = reboot_and_boot(s).await;
    let boot = boot.expect("a Boot! after the reboot");
    assert!(
        connect_record_seen,
        "the Connect Record came first on the new connection"
    );
    assert_eq!(s.records_before_connect_record(), 0);
    let e = event(&boot, "Boot!").unwrap();
    assert_eq!(e.params["Cause"], "RemoteReboot");
    assert_eq!(e.params["CommandKey"], "key-1");
    let map: serde_json::Value = serde_json::from_str(&e.params["ParameterMap"]).unwrap();
    assert_eq!(
        map,
        serde_json::json!({"Device.DeviceInfo.SoftwareVersion": "1.0"})
    );
    let subs = get(s, "Device.LocalAgent.Subscription.").await;
    assert!(subs.values().any(|v| v == "Device.Boot!"), "{subs:?}");
    assert!(!subs.keys().any(|k| k.starts_with(&transient)), "{subs:?}");
}

#[tokio::test]
async fn reboot_as_a_listener_accepts_again_and_sends_boot() {
    let mut rig = listening_rig(&[]).await;
    let s = &mut rig.session;
    subscribe(s, "Event", "Device.Boot!", true, true).await;
    let (boot, connect_record_seen) = reboot_and_boot(s).await;
    let boot = boot.expect("a Boot! on the new connection");
    assert!(connect_record_seen);
    assert_eq!(
        event(&boot, "Boot!").unwrap().params["Cause"],
        "RemoteReboot"
    );
}

#[tokio::test]
async fn fault_subscriptions_not_persistent_loses_the_boot_subscription() {
    let mut rig = rig(&[Fault::SubscriptionsNotPersistent]).await;
    let s = &mut rig.session;
    subscribe(s, "Event", "Device.Boot!", true, true).await;
    let (boot, _) = reboot_and_boot(s).await;
    assert!(boot.is_none(), "no Boot! without a surviving subscription");
    assert!(get(s, "Device.LocalAgent.Subscription.").await.is_empty());
}

#[tokio::test]
async fn fault_boot_without_cause() {
    let mut rig = rig(&[Fault::BootWithoutCause]).await;
    let s = &mut rig.session;
    subscribe(s, "Event", "Device.Boot!", true, true).await;
    let boot = reboot_and_boot(s).await.0.expect("Boot!");
    let e = event(&boot, "Boot!").unwrap();
    assert!(!e.params.contains_key("Cause"), "{e:?}");
    assert_eq!(e.params["CommandKey"], "key-1");
}

/// Serves `body` to every GET on 127.0.0.1; returns the base URL.
async fn http_server(body: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = vec![0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(body).await;
        }
    });
    url
}

const IMAGE: &[u8] = b"version=2.0\nplugfest firmware bits\n";

fn sha256(b: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, b)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Download() into FirmwareImage.2; returns (OperationComplete, TransferComplete!).
async fn download(s: &mut Session, url: &str, checksum: &str) -> (Option<Msg>, Option<Msg>) {
    subscribe(
        s,
        "OperationComplete",
        "Device.DeviceInfo.FirmwareImage.*.Download()",
        false,
        true,
    )
    .await;
    subscribe(
        s,
        "Event",
        "Device.LocalAgent.TransferComplete!",
        false,
        true,
    )
    .await;
    let r = operate(
        s,
        "Device.DeviceInfo.FirmwareImage.2.Download()",
        &[
            ("URL", url),
            ("CheckSumAlgorithm", "SHA-256"),
            ("CheckSum", checksum),
        ],
    )
    .await;
    assert!(
        matches!(&r, OperationResp::ReqObjPath(p) if p.starts_with("Device.LocalAgent.Request.")),
        "{r:?}"
    );
    let within = Duration::from_secs(5);
    let done = wait_for(s, within, |m| {
        matches!(notification(m), Some(Notification::OperComplete(_)))
    })
    .await;
    let tc = wait_for(s, Duration::from_secs(1), |m| {
        event(m, "TransferComplete!").is_some()
    })
    .await;
    (done, tc)
}

fn oper_complete(m: &Msg) -> &notify::OperationComplete {
    match notification(m) {
        Some(Notification::OperComplete(o)) => o,
        other => panic!("not an OperationComplete: {other:?}"),
    }
}

#[tokio::test]
async fn download_succeeds_then_activate_reboots_into_the_image() {
    let mut rig = rig(&[]).await;
    let s = &mut rig.session;
    let url = format!("{}/images/new.bin", http_server(IMAGE).await);
    let (done, tc) = download(s, &url, &sha256(IMAGE).to_uppercase()).await;
    let done = done.expect("OperationComplete");
    let o = oper_complete(&done);
    assert_eq!(
        (o.obj_path.as_str(), o.command_name.as_str()),
        ("Device.DeviceInfo.FirmwareImage.2.", "Download()")
    );
    assert!(
        matches!(
            o.operation_resp,
            Some(notify::operation_complete::OperationResp::ReqOutputArgs(_))
        ),
        "{o:?}"
    );
    let tc = tc.expect("TransferComplete!");
    let args = &event(&tc, "TransferComplete!").unwrap().params;
    assert_eq!(args["FaultCode"], "0");
    assert_eq!(args["TransferURL"], url);
    assert_eq!(
        args["Command"],
        "Device.DeviceInfo.FirmwareImage.2.Download()"
    );
    assert!(args["CompleteTime"].ends_with('Z'));
    let img = get(s, "Device.DeviceInfo.FirmwareImage.2.").await;
    assert_eq!(img["Device.DeviceInfo.FirmwareImage.2.Status"], "Available");
    assert_eq!(img["Device.DeviceInfo.FirmwareImage.2.Version"], "2.0");
    assert_eq!(img["Device.DeviceInfo.FirmwareImage.2.Name"], "new.bin");
    assert!(
        get(s, "Device.LocalAgent.Request.").await.is_empty(),
        "the Request row is gone"
    );
    subscribe(s, "Event", "Device.Boot!", true, true).await;
    let r = operate(s, "Device.DeviceInfo.FirmwareImage.2.Activate()", &[]).await;
    assert!(matches!(r, OperationResp::ReqObjPath(_)), "{r:?}");
    let boot = wait_for(s, Duration::from_secs(5), |m| event(m, "Boot!").is_some())
        .await
        .expect("Boot!");
    assert_eq!(
        event(&boot, "Boot!").unwrap().params["Cause"],
        "FirmwareActivation"
    );
    let info = get(s, "Device.DeviceInfo.").await;
    assert_eq!(
        info["Device.DeviceInfo.ActiveFirmwareImage"],
        "Device.DeviceInfo.FirmwareImage.2"
    );
    assert_eq!(info["Device.DeviceInfo.SoftwareVersion"], "2.0");
}

#[tokio::test]
async fn download_with_a_wrong_checksum_fails_unless_the_fault_accepts_it() {
    let wrong = "00".repeat(32);
    for (faults, expect_ok) in [(vec![], false), (vec![Fault::AcceptsBadChecksum], true)] {
        let mut rig = rig(&faults).await;
        let s = &mut rig.session;
        let url = format!("{}/x.bin", http_server(IMAGE).await);
        let (done, tc) = download(s, &url, &wrong).await;
        let done = done.expect("OperationComplete");
        let failed = matches!(
            oper_complete(&done).operation_resp,
            Some(notify::operation_complete::OperationResp::CmdFailure(_))
        );
        assert_eq!(failed, !expect_ok, "{faults:?}");
        let status = &get(s, "Device.DeviceInfo.FirmwareImage.2.Status").await
            ["Device.DeviceInfo.FirmwareImage.2.Status"];
        assert_eq!(
            status,
            if expect_ok {
                "Available"
            } else {
                "ValidationFailed"
            }
        );
        let tc = tc.expect("TransferComplete! on failure too");
        assert_eq!(
            event(&tc, "TransferComplete!").unwrap().params["FaultCode"] == "0",
            expect_ok
        );
    }
}

#[tokio::test]
async fn download_from_a_refused_url_fails_and_no_transfer_complete_fault_silences_the_event() {
    // A port nobody listens on: bind, note, close.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/x.bin");
    for (faults, expect_tc) in [(vec![], true), (vec![Fault::NoTransferComplete], false)] {
        let mut rig = rig(&faults).await;
        let s = &mut rig.session;
        let (done, tc) = download(s, &url, &sha256(IMAGE)).await;
        let done = done.expect("OperationComplete");
        assert!(
            matches!(oper_complete(&done).operation_resp, Some(notify::operation_complete::OperationResp::CmdFailure(ref f)) if f.err_code == 7022)
        );
        let status = &get(s, "Device.DeviceInfo.FirmwareImage.2.Status").await
            ["Device.DeviceInfo.FirmwareImage.2.Status"];
        assert_eq!(status, "DownloadFailed");
        assert_eq!(tc.is_some(), expect_tc, "{faults:?}");
    }
}

async fn set_param(s: &mut Session, obj: &str, name: &str, value: &str) {
    let resp = request(
        s,
        ReqType::Set(Set {
            allow_partial: false,
            update_objs: vec![UpdateObject {
                obj_path: obj.into(),
                param_settings: vec![UpdateParamSetting {
                    param: name.into(),
                    value: value.into(),
                    required: true,
                }],
            }],
        }),
    )
    .await;
    assert!(
        matches!(msg::response_body(&resp), Some(RespType::SetResp(_))),
        "{resp:?}"
    );
}

#[tokio::test]
async fn periodic_arrives_every_second_unless_the_fault_is_on() {
    for (faults, expect) in [(vec![], true), (vec![Fault::NoPeriodic], false)] {
        let mut rig = rig(&faults).await;
        let s = &mut rig.session;
        subscribe(s, "Event", "Device.LocalAgent.Periodic!", false, true).await;
        set_param(
            s,
            "Device.LocalAgent.Controller.1.",
            "PeriodicNotifInterval",
            "1",
        )
        .await;
        let first = wait_for(s, Duration::from_millis(1600), |m| {
            event(m, "Periodic!").is_some()
        })
        .await;
        assert_eq!(first.is_some(), expect, "{faults:?}");
        if expect {
            let t = Instant::now();
            wait_for(s, Duration::from_millis(1600), |m| {
                event(m, "Periodic!").is_some()
            })
            .await
            .expect("a second Periodic!");
            let gap = t.elapsed();
            assert!(
                gap > Duration::from_millis(700) && gap < Duration::from_millis(1400),
                "{gap:?}"
            );
        }
    }
}

#[tokio::test]
async fn disabled_subscriptions_are_silent_unless_notify_when_disabled() {
    for (faults, expect) in [(vec![], false), (vec![Fault::NotifyWhenDisabled], true)] {
        let mut rig = rig(&faults).await;
        let s = &mut rig.session;
        subscribe(
            s,
            "ValueChange",
            "Device.DeviceInfo.FriendlyName",
            false,
            false,
        )
        .await;
        set_param(s, "Device.DeviceInfo.", "FriendlyName", "renamed").await;
        let n = wait_for(s, Duration::from_millis(500), |m| {
            matches!(notification(m), Some(Notification::ValueChange(_)))
        })
        .await;
        assert_eq!(n.is_some(), expect, "{faults:?}");
    }
}

#[tokio::test]
async fn object_creation_is_notified_unless_no_object_creation() {
    for (faults, expect) in [(vec![], true), (vec![Fault::NoObjectCreation], false)] {
        let mut rig = rig(&faults).await;
        let s = &mut rig.session;
        subscribe(
            s,
            "ObjectCreation",
            "Device.LocalAgent.Controller.1.BootParameter.",
            false,
            true,
        )
        .await;
        let _ = request(
            s,
            ReqType::Add(Add {
                allow_partial: false,
                create_objs: vec![CreateObject {
                    obj_path: "Device.LocalAgent.Controller.1.BootParameter.".into(),
                    param_settings: vec![],
                }],
            }),
        )
        .await;
        let n = wait_for(s, Duration::from_millis(500), |m| {
            matches!(notification(m), Some(Notification::ObjCreation(o)) if o.obj_path == "Device.LocalAgent.Controller.1.BootParameter.1.")
        })
        .await;
        assert_eq!(n.is_some(), expect, "{faults:?}");
    }
}

#[tokio::test]
async fn challenge_response_checks_the_value_unless_challenge_accepts_anything() {
    for (faults, expect) in [
        (vec![], "InvalidValue"),
        (vec![Fault::ChallengeAcceptsAnything], "Success"),
    ] {
        let mut rig = rig(&faults).await;
        let s = &mut rig.session;
        let r = operate(
            s,
            "Device.LocalAgent.ControllerTrust.RequestChallenge()",
            &[(
                "ChallengeRef",
                "Device.LocalAgent.ControllerTrust.Challenge.1",
            )],
        )
        .await;
        let OperationResp::ReqOutputArgs(out) = r else {
            panic!("{r:?}")
        };
        let id = out.output_args["ChallengeID"].clone();
        let r = operate(
            s,
            "Device.LocalAgent.ControllerTrust.ChallengeResponse()",
            &[("ChallengeID", &id), ("Value", "d3Jvbmc=")],
        )
        .await;
        let OperationResp::ReqOutputArgs(out) = r else {
            panic!("{r:?}")
        };
        assert_eq!(out.output_args["Status"], expect, "{faults:?}");
    }
}
