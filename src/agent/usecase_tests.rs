//! The core's DRAFT use cases without I/O: Msgs in, time passed in, Notifys and
//! Effects out, each with the fault that changes it.

use super::*;
use crate::usp::proto::msg::{
    add::{CreateObject, CreateParamSetting},
    notify::Notification,
    operate_resp::operation_result::OperationResp,
    set::{UpdateObject, UpdateParamSetting},
    Add, Operate, Set,
};
use std::time::Duration;

const CTRL: &str = "proto::plugfest-controller";

fn agent(faults: &[Fault]) -> Agent {
    Agent::new(AgentConfig {
        endpoint_id: "proto::plugfest-reference-agent".into(),
        faults: faults.iter().copied().collect(),
    })
}

fn add_sub(a: &mut Agent, from: &str, pairs: &[(&str, &str)]) -> String {
    let req = msg::request(
        "add",
        ReqType::Add(Add {
            allow_partial: false,
            create_objs: vec![CreateObject {
                obj_path: "Device.LocalAgent.Subscription.".into(),
                param_settings: pairs
                    .iter()
                    .map(|(p, v)| CreateParamSetting {
                        param: p.to_string(),
                        value: v.to_string(),
                        required: true,
                    })
                    .collect(),
            }],
        }),
    );
    let answer = a.handle(from, &req).unwrap();
    assert!(
        matches!(msg::response_body(&answer), Some(RespType::AddResp(_))),
        "{answer:?}"
    );
    a.model
        .instances("Device.LocalAgent.Subscription.")
        .pop()
        .unwrap()
}

fn operate(a: &mut Agent, command: &str, args: &[(&str, &str)]) -> OperationResp {
    let req = msg::request(
        "op",
        ReqType::Operate(Operate {
            command: command.into(),
            command_key: "ck".into(),
            send_resp: true,
            input_args: args
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }),
    );
    let answer = a.handle(CTRL, &req).unwrap();
    let Some(RespType::OperateResp(o)) = msg::response_body(&answer) else {
        panic!("{answer:?}")
    };
    o.operation_results[0].operation_resp.clone().unwrap()
}

fn notifications(notes: &[(String, Msg)]) -> Vec<&Notification> {
    notes
        .iter()
        .filter_map(|(_, m)| match msg::request_body(m) {
            Some(ReqType::Notify(n)) => n.notification.as_ref(),
            _ => None,
        })
        .collect()
}

fn events<'a>(
    notes: &'a [(String, Msg)],
    name: &str,
) -> Vec<&'a crate::usp::proto::msg::notify::Event> {
    notifications(notes)
        .into_iter()
        .filter_map(|n| match n {
            Notification::Event(e) if e.event_name == name => Some(e),
            _ => None,
        })
        .collect()
}

#[test]
fn reboot_is_an_effect_then_boot_is_owed_to_each_controller_once() {
    for (faults, cause) in [
        (vec![], Some("RemoteReboot")),
        (vec![Fault::BootWithoutCause], None),
    ] {
        let mut a = agent(&faults);
        add_sub(
            &mut a,
            CTRL,
            &[
                ("Enable", "true"),
                ("NotifType", "Event"),
                ("ReferenceList", "Device.Boot!"),
                ("Persistent", "true"),
            ],
        );
        add_sub(
            &mut a,
            CTRL,
            &[
                ("Enable", "true"),
                ("NotifType", "Event"),
                ("ReferenceList", "Device.Boot!"),
            ],
        );
        assert!(matches!(
            operate(&mut a, "Device.Reboot()", &[]),
            OperationResp::ReqOutputArgs(_)
        ));
        assert_eq!(
            a.take_effects(),
            vec![Effect::Reboot {
                cause: "RemoteReboot".into(),
                command_key: "ck".into()
            }]
        );
        a.reboot("RemoteReboot", "ck", Clock::now());
        assert_eq!(
            a.model.instances("Device.LocalAgent.Subscription.").len(),
            1,
            "only the Persistent one"
        );
        let notes = a.connected(CTRL, Clock::now());
        let boot = events(&notes, "Boot!");
        assert_eq!(boot.len(), 1);
        assert_eq!(boot[0].params.get("Cause").map(String::as_str), cause);
        assert_eq!(boot[0].params["ParameterMap"], "{}");
        assert!(
            a.connected(CTRL, Clock::now()).is_empty(),
            "once per reboot"
        );
    }
}

#[test]
fn download_effect_then_operation_complete_and_transfer_complete() {
    for faults in [vec![], vec![Fault::NoTransferComplete]] {
        let mut a = agent(&faults);
        add_sub(
            &mut a,
            CTRL,
            &[
                ("Enable", "true"),
                ("NotifType", "OperationComplete"),
                ("ReferenceList", "Device.DeviceInfo.FirmwareImage."),
            ],
        );
        add_sub(
            &mut a,
            CTRL,
            &[
                ("Enable", "true"),
                ("NotifType", "Event"),
                ("ReferenceList", "Device.LocalAgent.TransferComplete!"),
            ],
        );
        let r = operate(
            &mut a,
            "Device.DeviceInfo.FirmwareImage.2.Download()",
            &[("URL", "http://127.0.0.1:9/fw.bin")],
        );
        assert_eq!(
            r,
            OperationResp::ReqObjPath("Device.LocalAgent.Request.1".into())
        );
        let [Effect::Download(job)] = &a.take_effects()[..] else {
            panic!("one Download effect")
        };
        assert_eq!(job.url, "http://127.0.0.1:9/fw.bin");
        let notes = a.download_finished(job.id, Ok(b"version=3.1\n".to_vec()), Clock::now());
        let n = notifications(&notes);
        assert!(
            matches!(n[0], Notification::OperComplete(o) if o.command_key == "ck" && o.obj_path == "Device.DeviceInfo.FirmwareImage.2.")
        );
        let tc = events(&notes, "TransferComplete!");
        assert_eq!(tc.len(), usize::from(faults.is_empty()), "{faults:?}");
        assert!(a.model.instances("Device.LocalAgent.Request.").is_empty());
        assert_eq!(
            a.model
                .value("Device.DeviceInfo.FirmwareImage.2.", "Version")
                .as_deref(),
            Some("3.1")
        );
    }
}

#[test]
fn download_without_url_fails_at_once_and_activate_needs_an_available_image() {
    let mut a = agent(&[]);
    let r = operate(&mut a, "Device.DeviceInfo.FirmwareImage.2.Download()", &[]);
    assert!(
        matches!(r, OperationResp::CmdFailure(ref f) if f.err_code == 7027),
        "{r:?}"
    );
    let r = operate(&mut a, "Device.DeviceInfo.FirmwareImage.2.Activate()", &[]);
    assert!(matches!(r, OperationResp::CmdFailure(_)), "{r:?}");
    assert!(a.take_effects().is_empty());
    let r = operate(&mut a, "Device.DeviceInfo.FirmwareImage.1.Activate()", &[]);
    assert!(matches!(r, OperationResp::ReqObjPath(_)), "{r:?}");
    assert!(
        matches!(&a.take_effects()[..], [Effect::Reboot { cause, .. }] if cause == "FirmwareActivation")
    );
}

#[test]
fn time_to_live_expiry_fires_object_deletion() {
    let mut a = agent(&[]);
    let t0 = Clock::now();
    a.tick(t0);
    add_sub(
        &mut a,
        CTRL,
        &[
            ("Enable", "true"),
            ("NotifType", "ObjectDeletion"),
            ("ReferenceList", "Device.LocalAgent.Subscription."),
        ],
    );
    let short = add_sub(&mut a, CTRL, &[("NotifType", "Event"), ("TimeToLive", "2")]);
    assert!(a.tick(t0.later(Duration::from_millis(1900))).is_empty());
    let notes = a.tick(t0.later(Duration::from_secs(2)));
    assert!(
        matches!(notifications(&notes)[..], [Notification::ObjDeletion(d)] if d.obj_path == short)
    );
}

#[test]
fn periodic_follows_the_interval_and_only_its_controller() {
    for (faults, expect) in [(vec![], 1), (vec![Fault::NoPeriodic], 0)] {
        let mut a = agent(&faults);
        let t0 = Clock::now();
        subscribe_periodic(&mut a, CTRL);
        // A second Controller (row added on first contact) subscribes too.
        subscribe_periodic(&mut a, "proto::other");
        set_periodic_interval(&mut a, "1");
        a.tick(t0);
        let notes = a.tick(t0.later(Duration::from_secs(1)));
        assert_eq!(events(&notes, "Periodic!").len(), expect, "{faults:?}");
        assert!(notes.iter().all(|(c, _)| c == CTRL));
        assert_eq!(
            a.model
                .value("Device.LocalAgent.Controller.3.", "EndpointID")
                .as_deref(),
            Some("proto::other")
        );
    }
}

#[test]
fn only_the_recipient_and_only_while_enabled() {
    for (faults, expect) in [(vec![], 1), (vec![Fault::NotifyWhenDisabled], 2)] {
        let mut a = agent(&faults);
        add_sub(
            &mut a,
            CTRL,
            &[
                ("Enable", "true"),
                ("NotifType", "ValueChange"),
                ("ReferenceList", "Device.DeviceInfo."),
            ],
        );
        add_sub(
            &mut a,
            CTRL,
            &[
                ("Enable", "false"),
                ("NotifType", "ValueChange"),
                ("ReferenceList", "Device.DeviceInfo."),
            ],
        );
        add_sub(
            &mut a,
            "proto::other",
            &[
                ("Enable", "true"),
                ("NotifType", "ValueChange"),
                ("ReferenceList", "Device.DeviceInfo."),
            ],
        );
        a.take_notifications();
        let set = msg::request(
            "set",
            ReqType::Set(Set {
                allow_partial: false,
                update_objs: vec![UpdateObject {
                    obj_path: "Device.DeviceInfo.".into(),
                    param_settings: vec![UpdateParamSetting {
                        param: "FriendlyName".into(),
                        value: "x".into(),
                        required: true,
                    }],
                }],
            }),
        );
        a.handle(CTRL, &set).unwrap();
        let notes = a.take_notifications();
        assert_eq!(
            notes.iter().filter(|(c, _)| c == CTRL).count(),
            expect,
            "{faults:?}"
        );
        assert_eq!(notes.iter().filter(|(c, _)| c == "proto::other").count(), 1);
    }
}

#[test]
fn before_a_request_periodic_is_read_at_most_every_step_yet_never_held_back() {
    let mut a = agent(&[]);
    let t0 = Clock::now();
    subscribe_periodic(&mut a, CTRL);
    set_periodic_interval(&mut a, "1");
    // The first request starts the timers; requests every 10 ms and no
    // tick at all (a flood): Periodic! still comes once the second is up,
    // once.
    a.before_request(t0);
    let mut periodic = 0;
    for i in 1..=150 {
        let notes = a.before_request(t0.later(Duration::from_millis(10 * i)));
        periodic += events(&notes, "Periodic!").len();
    }
    assert_eq!(periodic, 1);
    // Requests within the step of the last reading do not read the timers
    // again: a due Periodic! waits for the step (or the tick).
    a.tick(t0.later(Duration::from_millis(1950)));
    let early = a.before_request(t0.later(Duration::from_millis(2010)));
    assert!(events(&early, "Periodic!").is_empty());
    let due = a.before_request(t0.later(Duration::from_millis(2050)));
    assert_eq!(events(&due, "Periodic!").len(), 1);
}

/// The harness's Controller row's PeriodicNotifInterval, by a Set.
fn set_periodic_interval(a: &mut Agent, seconds: &str) {
    let set = msg::request(
        "set",
        ReqType::Set(Set {
            allow_partial: false,
            update_objs: vec![UpdateObject {
                obj_path: "Device.LocalAgent.Controller.1.".into(),
                param_settings: vec![UpdateParamSetting {
                    param: "PeriodicNotifInterval".into(),
                    value: seconds.into(),
                    required: true,
                }],
            }],
        }),
    );
    a.handle(CTRL, &set).unwrap();
}

/// An enabled Subscription of `controller`'s to Periodic!.
fn subscribe_periodic(a: &mut Agent, controller: &str) {
    add_sub(
        a,
        controller,
        &[
            ("Enable", "true"),
            ("NotifType", "Event"),
            ("ReferenceList", "Device.LocalAgent.Periodic!"),
        ],
    );
}
