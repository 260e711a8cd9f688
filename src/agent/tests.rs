//! Msg-level tests of `Agent::handle`: dispatch, and each Msg-level fault changing the answer.

use super::*;
use crate::usp::proto::msg::{
    add::CreateObject, add::CreateParamSetting, header::MsgType, set::UpdateObject,
    set::UpdateParamSetting, Add, Get, GetSupportedDm, GetSupportedProtocol, NotifyResp, Operate,
    Register, Set,
};

const CTRL: &str = "proto::plugfest-controller";

fn agent(faults: &[Fault]) -> Agent {
    Agent::new(AgentConfig {
        endpoint_id: "proto::reference-agent".into(),
        faults: faults.iter().copied().collect(),
    })
}

fn get(paths: &[&str]) -> Msg {
    msg::request(
        "get-1",
        ReqType::Get(Get {
            param_paths: paths.iter().map(|p| p.to_string()).collect(),
            max_depth: 0,
        }),
    )
}

/// A Set the Agent refuses: Manufacturer is read-only.
fn bad_set() -> Msg {
    set_param("Device.DeviceInfo.", "Manufacturer", "x")
}

fn get_params(answer: &Msg, obj: &str) -> std::collections::BTreeMap<String, String> {
    match msg::response_body(answer) {
        Some(RespType::GetResp(g)) => g
            .req_path_results
            .iter()
            .flat_map(|r| r.resolved_path_results.iter())
            .filter(|r| r.resolved_path == obj)
            .flat_map(|r| r.result_params.clone())
            .collect(),
        other => panic!("expected GetResp, got {other:?}"),
    }
}

#[test]
fn answers_get_with_same_msg_id_and_type() {
    let mut a = agent(&[]);
    let answer = a.handle(CTRL, &get(&["Device.DeviceInfo."])).unwrap();
    assert_eq!(msg::msg_id(&answer), "get-1");
    assert_eq!(msg::header_type(&answer), Some(MsgType::GetResp));
    assert_eq!(
        get_params(&answer, "Device.DeviceInfo.")["ManufacturerOUI"],
        "00256D"
    );
    assert_eq!(a.endpoint_id(), "proto::reference-agent");
}

#[test]
fn set_failure_is_an_error_msg() {
    let answer = agent(&[]).handle(CTRL, &bad_set()).unwrap();
    let err = msg::error_body(&answer).expect("an Error Msg");
    assert_eq!(err.err_code, 7004);
    assert_eq!(err.param_errs[0].err_code, 7013);
}

#[test]
fn protocol_versions_operate_and_unsupported_messages() {
    let mut a = agent(&[]);
    let answer = a
        .handle(
            CTRL,
            &msg::request(
                "p",
                ReqType::GetSupportedProtocol(GetSupportedProtocol::default()),
            ),
        )
        .unwrap();
    assert!(matches!(msg::response_body(&answer),
        Some(RespType::GetSupportedProtocolResp(r)) if r.agent_supported_protocol_versions == "1.0,1.1,1.2,1.3,1.4"));
    let op = Operate {
        command: "Device.Reboot()".into(),
        send_resp: true,
        ..Default::default()
    };
    let answer = a
        .handle(CTRL, &msg::request("o", ReqType::Operate(op)))
        .unwrap();
    assert_eq!(msg::header_type(&answer), Some(MsgType::OperateResp));
    let answer = a
        .handle(
            CTRL,
            &msg::request("r", ReqType::Register(Register::default())),
        )
        .unwrap();
    assert_eq!(msg::error_body(&answer).map(|e| e.err_code), Some(7001));
    let notify_resp = msg::response("n", RespType::NotifyResp(NotifyResp::default()));
    assert!(a.handle(CTRL, &notify_resp).is_none());
}

#[test]
fn fault_wrong_msg_id() {
    let answer = agent(&[Fault::WrongMsgId])
        .handle(CTRL, &get(&["Device.DeviceInfo."]))
        .unwrap();
    assert_eq!(msg::msg_id(&answer), "get-1-x");
    let answer = agent(&[Fault::WrongMsgId])
        .handle(CTRL, &bad_set())
        .unwrap();
    assert_eq!(msg::msg_id(&answer), "set-1-x");
}

#[test]
fn fault_wrong_msg_type() {
    let mut a = agent(&[Fault::WrongMsgType]);
    let answer = a.handle(CTRL, &get(&["Device.DeviceInfo."])).unwrap();
    assert_eq!(msg::header_type(&answer), Some(MsgType::GetInstancesResp));
    assert_eq!(msg::body_type(&answer), Some(MsgType::GetInstancesResp));
    let gsdm = msg::request("g", ReqType::GetSupportedDm(GetSupportedDm::default()));
    assert_eq!(
        msg::body_type(&a.handle(CTRL, &gsdm).unwrap()),
        Some(MsgType::GetResp)
    );
}

#[test]
fn fault_missing_parameter() {
    let answer = agent(&[Fault::MissingParameter])
        .handle(CTRL, &get(&["Device.DeviceInfo."]))
        .unwrap();
    let params = get_params(&answer, "Device.DeviceInfo.");
    assert!(!params.contains_key("Manufacturer"));
    assert!(params.contains_key("ModelName"));
    let req = msg::request(
        "g",
        ReqType::GetSupportedDm(GetSupportedDm {
            obj_paths: vec!["Device.DeviceInfo.".into()],
            return_params: true,
            ..Default::default()
        }),
    );
    let answer = agent(&[Fault::MissingParameter])
        .handle(CTRL, &req)
        .unwrap();
    let Some(RespType::GetSupportedDmResp(r)) = msg::response_body(&answer) else {
        panic!("expected GetSupportedDMResp");
    };
    let names: Vec<_> = r.req_obj_results[0].supported_objs[0]
        .supported_params
        .iter()
        .map(|p| p.param_name.as_str())
        .collect();
    assert!(!names.contains(&"Manufacturer") && names.contains(&"ModelName"));
}

#[test]
fn fault_wrong_value_type() {
    let paths = ["Device.LocalAgent.MTP.1.", "Device.DeviceInfo.UpTime"];
    let answer = agent(&[Fault::WrongValueType])
        .handle(CTRL, &get(&paths))
        .unwrap();
    let mtp = get_params(&answer, "Device.LocalAgent.MTP.1.");
    assert_eq!(mtp["Enable"], "yes");
    assert_eq!(mtp["Alias"], "cpe-1");
    assert_eq!(
        get_params(&answer, "Device.DeviceInfo.")["UpTime"],
        "not-a-number"
    );
    let port = get_params(&answer, "Device.LocalAgent.MTP.1.CoAP.");
    assert_eq!(port["Port"], "not-a-number");
}

#[test]
fn fault_wrong_error_code() {
    let answer = agent(&[Fault::WrongErrorCode])
        .handle(CTRL, &bad_set())
        .unwrap();
    let err = msg::error_body(&answer).expect("an Error Msg");
    assert_eq!(err.err_code, 7003);
    assert_eq!(err.param_errs[0].err_code, 7003);
    let answer = agent(&[Fault::WrongErrorCode])
        .handle(CTRL, &get(&["Device.Nope.", "Device.DeviceInfo."]))
        .unwrap();
    let Some(RespType::GetResp(g)) = msg::response_body(&answer) else {
        panic!("expected GetResp");
    };
    assert_eq!(g.req_path_results[0].err_code, 7003);
    assert_eq!(g.req_path_results[1].err_code, 0);
}

#[test]
fn fault_no_response() {
    assert!(agent(&[Fault::NoResponse])
        .handle(CTRL, &get(&["Device."]))
        .is_none());
    // Transport-level faults leave handle's answer untouched.
    let answer = agent(&[
        Fault::WrongToId,
        Fault::MalformedProtobuf,
        Fault::DisconnectMidExchange,
    ])
    .handle(CTRL, &get(&["Device.DeviceInfo."]))
    .unwrap();
    assert_eq!(msg::msg_id(&answer), "get-1");
}

#[test]
fn event_notifications_go_only_to_subscribed_controllers() {
    let mut a = agent(&[]);
    let args = [("Cause".to_string(), "LocalReboot".to_string())].into();
    assert!(a.event_notifications("Device.Boot!", &args).is_empty());
    let setting = |p: &str, v: &str| CreateParamSetting {
        param: p.into(),
        value: v.into(),
        required: true,
    };
    let add = Add {
        allow_partial: false,
        create_objs: vec![CreateObject {
            obj_path: "Device.LocalAgent.Subscription.".into(),
            param_settings: vec![
                setting("Enable", "true"),
                setting("ID", "boot-sub"),
                setting("NotifType", "Event"),
                setting("ReferenceList", "Device.Boot!"),
            ],
        }],
    };
    let answer = a
        .handle(CTRL, &msg::request("a", ReqType::Add(add)))
        .unwrap();
    assert_eq!(msg::header_type(&answer), Some(MsgType::AddResp));
    assert!(a
        .event_notifications("Device.LocalAgent.Periodic!", &args)
        .is_empty());
    let sent = a.event_notifications("Device.Boot!", &args);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, CTRL);
    let Some(ReqType::Notify(n)) = msg::request_body(&sent[0].1) else {
        panic!("expected a Notify");
    };
    assert_eq!(n.subscription_id, "boot-sub");
    assert!(matches!(&n.notification,
        Some(crate::usp::proto::msg::notify::Notification::Event(e)) if e.obj_path == "Device." && e.event_name == "Boot!" && e.params["Cause"] == "LocalReboot"));
}

/// A Set of one required parameter, msg_id "set-1".
fn set_param(obj: &str, param: &str, value: &str) -> Msg {
    msg::request(
        "set-1",
        ReqType::Set(Set {
            allow_partial: false,
            update_objs: vec![UpdateObject {
                obj_path: obj.into(),
                param_settings: vec![UpdateParamSetting {
                    param: param.into(),
                    value: value.into(),
                    required: true,
                }],
            }],
        }),
    )
}

/// The Controller's rights are kept between requests (trust::RightsCache)
/// only because a Get writes nothing: were it to, they would be read again
/// for every request.
#[test]
fn a_get_leaves_the_stored_values_unwritten() {
    let mut a = agent(&[]);
    a.handle(CTRL, &get(&["Device.DeviceInfo."]))
        .expect("answered");
    let writes = a.model.writes();
    for _ in 0..3 {
        a.handle(CTRL, &get(&["Device.DeviceInfo.", "Device.LocalAgent."]))
            .expect("answered");
    }
    assert_eq!(a.model.writes(), writes);
}

/// A change of a Controller's Role through a Set counts from the next
/// request on, though its rights were kept from the requests before.
#[test]
fn a_role_set_by_a_request_governs_the_next_one() {
    let mut a = agent(&[]);
    let serial = |a: &mut Agent| {
        let answer = a
            .handle(CTRL, &get(&["Device.DeviceInfo."]))
            .expect("answered");
        get_params(&answer, "Device.DeviceInfo.").contains_key("SerialNumber")
    };
    assert!(serial(&mut a), "Full Access reads SerialNumber");
    assert!(serial(&mut a), "and still does: nothing changed");
    let own_row = format!(
        "{}.",
        a.model.controller_path(CTRL).expect("CTRL has a row")
    );
    let readonly_row = format!(
        "{}.",
        a.model
            .controller_path("proto::plugfest-readonly")
            .expect("the read-only Controller has a row")
    );
    let readonly_role = a.model.value(&readonly_row, "AssignedRole").unwrap();
    let answer = a
        .handle(CTRL, &set_param(&own_row, "AssignedRole", &readonly_role))
        .expect("answered");
    assert!(
        matches!(msg::response_body(&answer), Some(RespType::SetResp(_))),
        "the Set succeeds: {answer:?}"
    );
    assert!(!serial(&mut a), "the read-only Role hides SerialNumber");
}
