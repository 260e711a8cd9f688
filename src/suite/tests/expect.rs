//! Expectations, profile checks, automatic type checks, captures, notify.

use super::{expect, failed, get_resp, DEVICE_INFO};
use crate::datamodel::Profiles;
use crate::suite::*;
use crate::usp::msg;
use crate::usp::proto::msg::{
    add_resp, error::ParamError, get_supported_dm_resp as gsdm, notify, response::RespType,
    set_resp, AddResp, Error, GetSupportedDmResp, Msg, Notify, SetResp,
};
use std::collections::BTreeMap;

#[test]
fn type_check_comes_first_and_stops_on_mismatch() {
    let p = Profiles::builtin();
    let e = expect("{ type: get_resp, values: { X: 1 } }");
    let err = msg::error(
        "1",
        Error {
            err_code: 7026,
            err_msg: "nope".into(),
            param_errs: vec![],
        },
    );
    let checks = evaluate(&e, &err, &Vars::default(), &p);
    assert_eq!(checks.len(), 1);
    assert!(!checks[0].passed);
    assert_eq!(checks[0].expected, "GET_RESP");
    assert!(
        checks[0].actual.contains("7026 (Invalid path)"),
        "{}",
        checks[0].actual
    );
}

#[test]
fn profile_on_get_resp_passes_and_fails() {
    let p = Profiles::builtin();
    let e = expect("{ type: get_resp, profile: DRAFT-DeviceInfo:1 }");
    let good = get_resp(&[(
        "Device.DeviceInfo.",
        0,
        &[("Device.DeviceInfo.", DEVICE_INFO)],
    )]);
    let checks = evaluate(&e, &good, &Vars::default(), &p);
    assert!(failed(&checks).is_empty(), "{checks:#?}");
    assert!(
        checks
            .iter()
            .any(|c| c.description == "8 values well-typed"),
        "{checks:#?}"
    );

    // The `missing-parameter` fault drops Manufacturer.
    let without: Vec<(&str, &str)> = DEVICE_INFO
        .iter()
        .copied()
        .filter(|(k, _)| *k != "Manufacturer")
        .collect();
    let bad = get_resp(&[("Device.DeviceInfo.", 0, &[("Device.DeviceInfo.", &without)])]);
    let checks = evaluate(&e, &bad, &Vars::default(), &p);
    let f = failed(&checks);
    assert_eq!(f.len(), 1, "{checks:#?}");
    assert!(f[0].description.contains("Device.DeviceInfo.Manufacturer"));
    assert_eq!(f[0].rule.as_deref(), Some("profile DRAFT-DeviceInfo:1"));
}

#[test]
fn profile_on_tables_checks_every_row() {
    let p = Profiles::builtin();
    let e = expect("{ profile: DRAFT-LocalAgent:1 }");
    let la: &[(&str, &str)] = &[
        ("EndpointID", "self::a"),
        ("AdvertisedDeviceSubtypes", ""),
        ("MTPNumberOfEntries", "2"),
    ];
    let good = get_resp(&[(
        "Device.LocalAgent.",
        0,
        &[
            ("Device.LocalAgent.", la),
            (
                "Device.LocalAgent.MTP.1.",
                &[("Alias", "cpe-1"), ("Protocol", "WebSocket")],
            ),
            (
                "Device.LocalAgent.MTP.2.",
                &[("Alias", "cpe-2"), ("Protocol", "MQTT")],
            ),
        ],
    )]);
    assert!(failed(&evaluate(&e, &good, &Vars::default(), &p)).is_empty());
    let bad = get_resp(&[(
        "Device.LocalAgent.",
        0,
        &[
            ("Device.LocalAgent.", la),
            ("Device.LocalAgent.MTP.2.", &[("Protocol", "MQTT")]),
        ],
    )]);
    let checks = evaluate(&e, &bad, &Vars::default(), &p);
    let f = failed(&checks);
    assert_eq!(f.len(), 1, "{checks:#?}");
    assert!(f[0].description.contains("Device.LocalAgent.MTP.2.Alias"));
}

#[test]
fn automatic_type_checks_catch_wrong_value_types() {
    let p = Profiles::builtin();
    let e = expect("{ type: get_resp }");
    // The `wrong-value-type` fault: booleans "yes", unsignedInts "not-a-number".
    let m = get_resp(&[(
        "Device.LocalAgent.",
        0,
        &[
            (
                "Device.LocalAgent.",
                &[
                    ("MTPNumberOfEntries", "not-a-number"),
                    ("EndpointID", "self::a"),
                ],
            ),
            (
                "Device.LocalAgent.MTP.1.",
                &[("Enable", "yes"), ("Protocol", "Carrier-Pigeon")],
            ),
            (
                "Device.DeviceInfo.",
                &[("ManufacturerOUI", "00256d"), ("UpTime", "-1")],
            ),
        ],
    )]);
    let checks = evaluate(&e, &m, &Vars::default(), &p);
    let f: Vec<&str> = failed(&checks)
        .iter()
        .map(|c| c.description.as_str())
        .collect();
    assert_eq!(
        f,
        vec![
            "type of Device.LocalAgent.MTPNumberOfEntries",
            "type of Device.LocalAgent.MTP.1.Enable",
            "type of Device.LocalAgent.MTP.1.Protocol",
            "type of Device.DeviceInfo.ManufacturerOUI",
            "type of Device.DeviceInfo.UpTime",
        ]
    );
    let c = failed(&checks)[0];
    assert_eq!(c.expected, "unsignedInt");
    assert!(c.actual.contains("\"not-a-number\""), "{}", c.actual);
    assert_eq!(c.rule.as_deref(), Some("R-ENC.6 (TR-106 lexical form)"));
    assert!(checks
        .iter()
        .any(|c| c.passed && c.description == "1 values well-typed"));
}

#[test]
fn path_results_counts_and_values() {
    let p = Profiles::builtin();
    let m = get_resp(&[
        ("Device.DeviceInfo.NoSuchParameter", 7026, &[]),
        (
            "Device.DeviceInfo.Manufacturer",
            0,
            &[("Device.DeviceInfo.", &[("Manufacturer", "Acme")])],
        ),
    ]);
    let e = expect(
        "{ path_results: [ { path: Device.DeviceInfo.NoSuchParameter, err_code: 7026 }, { path: Device.DeviceInfo.Manufacturer, resolved: 1 } ],
           count: { path_results: 2, resolved: 1, params: 1 },
           values: { Device.DeviceInfo.Manufacturer: Acme, Device.DeviceInfo.Bogus: { absent: true } } }",
    );
    let checks = evaluate(&e, &m, &Vars::default(), &p);
    assert!(failed(&checks).is_empty(), "{checks:#?}");
    assert_eq!(
        checks
            .iter()
            .find(|c| c
                .description
                .starts_with("result for Device.DeviceInfo.NoSuch"))
            .and_then(|c| c.rule.as_deref()),
        Some("R-GET.0")
    );

    // The `wrong-error-code` fault turns every code into 7003.
    let m = get_resp(&[("Device.DeviceInfo.NoSuchParameter", 7003, &[])]);
    let e = expect("{ path_results: [ { path: Device.DeviceInfo.NoSuchParameter, err_code: 7026 } ], values: { Device.DeviceInfo.Manufacturer: { exists: true } } }");
    let checks = evaluate(&e, &m, &Vars::default(), &p);
    let f = failed(&checks);
    assert_eq!(f.len(), 2, "{checks:#?}");
    assert_eq!(f[0].expected, "7026 (Invalid path)");
    assert!(
        f[0].actual.starts_with("7003 (Internal error)"),
        "{}",
        f[0].actual
    );
    assert_eq!(f[1].actual, "not in the response");

    let e = expect("{ path_results: [ { path: Device.Other. } ], count: { path_results: 2 } }");
    let f: Vec<String> = failed(&evaluate(&e, &m, &Vars::default(), &p))
        .iter()
        .map(|c| c.actual.clone())
        .collect();
    assert_eq!(f.len(), 2);
    assert!(
        f[0].contains("results for: Device.DeviceInfo.NoSuchParameter"),
        "{f:?}"
    );
}

#[test]
fn error_msg_codes_and_param_errs() {
    let p = Profiles::builtin();
    let err = |outer, inner| {
        msg::error(
            "1",
            Error {
                err_code: outer,
                err_msg: "Invalid arguments".into(),
                param_errs: vec![ParamError {
                    param_path: "Device.DeviceInfo.Manufacturer".into(),
                    err_code: inner,
                    err_msg: "read only".into(),
                }],
            },
        )
    };
    let e = expect("{ type: error, err_code: { one_of: [7004, 7013] }, err_msg: { regex: \"(?i)invalid\" }, param_errs: [ { path: Device.DeviceInfo.Manufacturer, err_code: 7013 } ] }");
    assert!(failed(&evaluate(&e, &err(7004, 7013), &Vars::default(), &p)).is_empty());
    let checks = evaluate(&e, &err(7003, 7003), &Vars::default(), &p);
    let f = failed(&checks);
    assert_eq!(f.len(), 2, "{checks:#?}");
    assert_eq!(f[0].actual, "7003 (Internal error)");
    assert!(f[1]
        .actual
        .contains("Device.DeviceInfo.Manufacturer 7003 (Internal error)"));
}

#[test]
fn oper_status_of_set_and_add() {
    use set_resp::updated_object_result::{operation_status::*, OperationStatus};
    let p = Profiles::builtin();
    let set = |status| {
        msg::response(
            "1",
            RespType::SetResp(SetResp {
                updated_obj_results: vec![set_resp::UpdatedObjectResult {
                    requested_path: "Device.DeviceInfo.".into(),
                    oper_status: Some(OperationStatus {
                        oper_status: Some(status),
                    }),
                }],
            }),
        )
    };
    let ok = set(OperStatus::OperSuccess(OperationSuccess {
        updated_inst_results: vec![set_resp::UpdatedInstanceResult {
            affected_path: "Device.DeviceInfo.".into(),
            param_errs: vec![],
            updated_params: BTreeMap::from([("FriendlyName".to_string(), "x".to_string())]),
        }],
    }));
    let bad = set(OperStatus::OperFailure(OperationFailure {
        err_code: 7020,
        err_msg: "no".into(),
        updated_inst_failures: vec![],
    }));
    let e =
        expect("{ type: set_resp, oper: success, values: { Device.DeviceInfo.FriendlyName: x } }");
    assert!(failed(&evaluate(&e, &ok, &Vars::default(), &p)).is_empty());
    let f = evaluate(&e, &bad, &Vars::default(), &p);
    assert_eq!(failed(&f).len(), 2, "{f:#?}");
    let e = expect("{ oper: failure, oper_err_code: 7020 }");
    assert!(failed(&evaluate(&e, &bad, &Vars::default(), &p)).is_empty());
    assert_eq!(failed(&evaluate(&e, &ok, &Vars::default(), &p)).len(), 2);
}

fn add_resp_msg() -> Msg {
    use add_resp::created_object_result::{operation_status::*, OperationStatus};
    msg::response(
        "1",
        RespType::AddResp(AddResp {
            created_obj_results: vec![add_resp::CreatedObjectResult {
                requested_path: "Device.LocalAgent.Subscription.".into(),
                oper_status: Some(OperationStatus {
                    oper_status: Some(OperStatus::OperSuccess(OperationSuccess {
                        instantiated_path: "Device.LocalAgent.Subscription.7.".into(),
                        param_errs: vec![],
                        unique_keys: BTreeMap::from([
                            ("Alias".to_string(), "cpe-7".to_string()),
                            ("ID".to_string(), "plugfest-1".to_string()),
                        ]),
                    })),
                }),
            }],
        }),
    )
}

#[test]
fn captures_and_their_use() {
    let mut vars = Vars::default();
    let caps = BTreeMap::from([
        ("sub".to_string(), "instantiated_path".to_string()),
        ("id".to_string(), "unique_keys.ID".to_string()),
        (
            "alias".to_string(),
            "Device.LocalAgent.Subscription.*.Alias".to_string(),
        ),
    ]);
    capture(&caps, &add_resp_msg(), &mut vars).expect("captures");
    assert_eq!(vars.get("sub"), Some("Device.LocalAgent.Subscription.7."));
    assert_eq!(vars.get("id"), Some("plugfest-1"));
    assert_eq!(vars.get("alias"), Some("cpe-7"));

    let m = get_resp(&[(
        "Device.DeviceInfo.FriendlyName",
        0,
        &[("Device.DeviceInfo.", &[("FriendlyName", "box")])],
    )]);
    capture(
        &BTreeMap::from([(
            "old".to_string(),
            "Device.DeviceInfo.FriendlyName".to_string(),
        )]),
        &m,
        &mut vars,
    )
    .expect("capture");
    assert_eq!(vars.get("old"), Some("box"));
    let e = expect("{ values: { Device.DeviceInfo.FriendlyName: \"${old}\", \"${sub}ID\": { absent: true } } }");
    assert!(failed(&evaluate(&e, &m, &vars, &Profiles::builtin())).is_empty());

    let missing = capture(
        &BTreeMap::from([("x".to_string(), "Device.DeviceInfo.Nope".to_string())]),
        &m,
        &mut vars,
    );
    assert!(
        matches!(missing, Err(StepError::Capture { .. })),
        "{missing:?}"
    );
    let not_add = capture(
        &BTreeMap::from([("x".to_string(), "instantiated_path".to_string())]),
        &m,
        &mut vars,
    );
    assert!(not_add.is_err());
}

#[test]
fn an_allowed_error_stands_for_the_response_and_its_code_is_checked() {
    let p = Profiles::builtin();
    let e = expect(
        "{ type: operate_resp, error_allowed: { err_code: { one_of: [7006, 7022] }, because: \"TP-469 2.18 NOTE\" } }",
    );
    let error = |code| {
        msg::error(
            "1",
            Error {
                err_code: code,
                err_msg: "no permission".into(),
                param_errs: Vec::new(),
            },
        )
    };
    let ok = evaluate(&e, &error(7022), &Vars::default(), &p);
    assert_eq!(ok.len(), 1);
    assert!(ok[0].passed, "{ok:?}");
    assert!(ok[0].expected.contains("TP-469 2.18 NOTE"), "{ok:?}");
    let wrong = evaluate(&e, &error(7003), &Vars::default(), &p);
    assert!(!wrong[0].passed, "{wrong:?}");
    assert!(wrong[0].actual.contains("7003"), "{wrong:?}");
    // Without the allowance the same Error fails the response type.
    let strict = expect("{ type: operate_resp }");
    let failed_type = evaluate(&strict, &error(7022), &Vars::default(), &p);
    assert!(!failed_type[0].passed, "{failed_type:?}");
}

#[test]
fn a_capture_the_agent_refused_says_what_it_answered() {
    let mut vars = Vars::default();
    let want = |what: &str| BTreeMap::from([("x".to_string(), what.to_string())]);
    let why = |m: &Msg, what: &str| match capture(&want(what), m, &mut Vars::default()) {
        Err(StepError::Capture { reason, .. }) => reason,
        other => panic!("{other:?}"),
    };
    // The Agent refused the requested path: its code and name, not "left out".
    let refused = get_resp(&[
        (
            "Device.DeviceInfo.Manufacturer",
            0,
            &[("Device.DeviceInfo.", &[("Manufacturer", "Acme")])],
        ),
        ("Device.DeviceInfo.FriendlyName", 7026, &[]),
    ]);
    let reason = why(&refused, "Device.DeviceInfo.FriendlyName");
    assert!(
        reason.contains("7026") && reason.contains("Invalid path"),
        "{reason}"
    );
    assert!(
        reason.contains("requested path Device.DeviceInfo.FriendlyName"),
        "{reason}"
    );
    // Through an object path too.
    let object = get_resp(&[("Device.DeviceInfo.", 7026, &[])]);
    assert!(why(&object, "Device.DeviceInfo.FriendlyName").contains("7026"));
    // An answer that succeeded and left the parameter out says just that.
    let left_out = get_resp(&[(
        "Device.DeviceInfo.",
        0,
        &[("Device.DeviceInfo.", &[("Manufacturer", "Acme")])],
    )]);
    assert_eq!(
        why(&left_out, "Device.DeviceInfo.FriendlyName"),
        "not in the response"
    );
    // An Error Msg names its code.
    let error = msg::error(
        "1",
        Error {
            err_code: 7004,
            err_msg: "no".into(),
            param_errs: Vec::new(),
        },
    );
    assert!(why(&error, "Device.DeviceInfo.FriendlyName").contains("Error 7004"));
    assert!(capture(&want("Device.DeviceInfo.Manufacturer"), &refused, &mut vars).is_ok());
}

fn gsdm_msg(access_friendly: gsdm::ParamAccessType, with_manufacturer: bool) -> Msg {
    let names = [
        "Manufacturer",
        "ManufacturerOUI",
        "ProductClass",
        "SerialNumber",
        "ModelName",
        "HardwareVersion",
        "FriendlyName",
    ];
    let supported_params = names
        .iter()
        .filter(|n| with_manufacturer || **n != "Manufacturer")
        .map(|n| gsdm::SupportedParamResult {
            param_name: n.to_string(),
            access: if *n == "FriendlyName" {
                access_friendly as i32
            } else {
                gsdm::ParamAccessType::ParamReadOnly as i32
            },
            value_type: gsdm::ParamValueType::ParamString as i32,
            value_change: 0,
        })
        .collect();
    msg::response(
        "1",
        RespType::GetSupportedDmResp(GetSupportedDmResp {
            req_obj_results: vec![gsdm::RequestedObjectResult {
                req_obj_path: "Device.DeviceInfo.".into(),
                err_code: 0,
                err_msg: String::new(),
                data_model_inst_uri: String::new(),
                supported_objs: vec![gsdm::SupportedObjectResult {
                    supported_obj_path: "Device.DeviceInfo.".into(),
                    access: gsdm::ObjAccessType::ObjReadOnly as i32,
                    is_multi_instance: false,
                    supported_params,
                    ..Default::default()
                }],
            }],
        }),
    )
}

#[test]
fn profile_on_get_supported_dm() {
    let p = Profiles::builtin();
    let e = expect("{ type: get_supported_dm_resp, profile: DRAFT-DeviceInfo:1, values: { Device.DeviceInfo.FriendlyName: PARAM_READ_WRITE, Device.DeviceInfo.: OBJ_READ_ONLY } }");
    let checks = evaluate(
        &e,
        &gsdm_msg(gsdm::ParamAccessType::ParamReadWrite, true),
        &Vars::default(),
        &p,
    );
    assert!(failed(&checks).is_empty(), "{checks:#?}");
    let checks = evaluate(
        &e,
        &gsdm_msg(gsdm::ParamAccessType::ParamReadOnly, false),
        &Vars::default(),
        &p,
    );
    let f: Vec<&str> = failed(&checks)
        .iter()
        .map(|c| c.description.as_str())
        .collect();
    assert_eq!(
        f,
        vec![
            "Device.DeviceInfo.FriendlyName",
            "DRAFT-DeviceInfo:1 requires Device.DeviceInfo.Manufacturer"
        ],
        "{checks:#?}"
    );

    // LocalAgent: the Periodic! event and the MTP table must be listed.
    let e = expect("{ profile: DRAFT-LocalAgent:1 }");
    let checks = evaluate(
        &e,
        &gsdm_msg(gsdm::ParamAccessType::ParamReadWrite, true),
        &Vars::default(),
        &p,
    );
    let f: Vec<&str> = failed(&checks)
        .iter()
        .map(|c| c.description.as_str())
        .collect();
    assert_eq!(
        f,
        vec![
            "DRAFT-LocalAgent:1 requires Device.LocalAgent.",
            "DRAFT-LocalAgent:1 requires Device.LocalAgent.MTP.{i}."
        ]
    );
}

fn value_change(path: &str, value: &str, sub: &str) -> Msg {
    msg::request(
        "n1",
        crate::usp::proto::msg::request::ReqType::Notify(Notify {
            subscription_id: sub.into(),
            send_resp: true,
            notification: Some(notify::Notification::ValueChange(notify::ValueChange {
                param_path: path.into(),
                param_value: value.into(),
            })),
        }),
    )
}

#[test]
fn notify_matching() {
    let w: WaitSpec = serde_saphyr::from_str("{ type: value_change, path: Device.DeviceInfo.FriendlyName, value: \"${new}\", subscription_id: s1 }").expect("wait");
    assert_eq!(w.timeout_ms, 10_000);
    let mut vars = Vars::default();
    vars.set("new", "x");
    let ok = evaluate_notify(
        &w,
        &value_change("Device.DeviceInfo.FriendlyName", "x", "s1"),
        &vars,
    );
    assert!(failed(&ok).is_empty(), "{ok:#?}");
    let bad = evaluate_notify(
        &w,
        &value_change("Device.DeviceInfo.FriendlyName", "y", "s2"),
        &vars,
    );
    assert_eq!(failed(&bad).len(), 2);
    let w: WaitSpec = serde_saphyr::from_str("{ type: event }").expect("wait");
    let wrong_kind = evaluate_notify(&w, &value_change("a", "b", "c"), &vars);
    assert_eq!(wrong_kind.len(), 1);
    assert!(!wrong_kind[0].passed);
    let mut caps = Vars::default();
    capture(
        &BTreeMap::from([("sid".to_string(), "subscription_id".to_string())]),
        &value_change("a", "b", "s9"),
        &mut caps,
    )
    .expect("capture");
    assert_eq!(caps.get("sid"), Some("s9"));
}

#[test]
fn unique_keys_of_add_resp_are_type_checked() {
    let p = Profiles::builtin();
    let e = expect("{ type: add_resp, oper: success }");
    let checks = evaluate(&e, &add_resp_msg(), &Vars::default(), &p);
    assert!(failed(&checks).is_empty(), "{checks:#?}");
    assert!(checks
        .iter()
        .any(|c| c.description == "2 values well-typed"));

    let mut bad = add_resp_msg();
    if let Some(RespType::AddResp(r)) = bad
        .body
        .as_mut()
        .and_then(|b| b.msg_body.as_mut())
        .and_then(|b| match b {
            crate::usp::proto::msg::body::MsgBody::Response(r) => r.resp_type.as_mut(),
            _ => None,
        })
    {
        use add_resp::created_object_result::operation_status::OperStatus;
        if let Some(OperStatus::OperSuccess(s)) = r.created_obj_results[0]
            .oper_status
            .as_mut()
            .and_then(|o| o.oper_status.as_mut())
        {
            s.unique_keys
                .insert("Alias".into(), "7-starts-with-a-digit".into());
        }
    }
    let checks = evaluate(&e, &bad, &Vars::default(), &p);
    let f = failed(&checks);
    assert_eq!(f.len(), 1, "{checks:#?}");
    assert_eq!(
        f[0].description,
        "type of Device.LocalAgent.Subscription.7.Alias"
    );
}

#[test]
fn path_results_of_an_add_through_a_search_path_match_any_of_its_results() {
    use add_resp::created_object_result::{operation_status::*, OperationStatus};
    let p = Profiles::builtin();
    let path = "Device.LocalAgent.Controller.*.BootParameter.";
    let result = |status: OperStatus| add_resp::CreatedObjectResult {
        requested_path: path.into(),
        oper_status: Some(OperationStatus {
            oper_status: Some(status),
        }),
    };
    let m = msg::response(
        "1",
        RespType::AddResp(AddResp {
            created_obj_results: vec![
                result(OperStatus::OperSuccess(OperationSuccess {
                    instantiated_path: "Device.LocalAgent.Controller.1.BootParameter.1.".into(),
                    param_errs: vec![],
                    unique_keys: BTreeMap::new(),
                })),
                result(OperStatus::OperFailure(OperationFailure {
                    err_code: 7006,
                    err_msg: "Permission denied".into(),
                })),
            ],
        }),
    );
    let e = expect(&format!(
        "{{ path_results: [ {{ path: '{path}', err_code: 7006 }}, {{ path: '{path}' }} ] }}"
    ));
    let checks = evaluate(&e, &m, &Vars::default(), &p);
    assert!(failed(&checks).is_empty(), "{checks:#?}");
    // No result with the code: the check fails, naming every result under the path.
    let e = expect(&format!(
        "{{ path_results: [ {{ path: '{path}', err_code: 7026 }} ] }}"
    ));
    let checks = evaluate(&e, &m, &Vars::default(), &p);
    let bad = failed(&checks);
    assert_eq!(bad.len(), 1, "{checks:#?}");
    assert!(
        bad[0].actual.contains("success") && bad[0].actual.contains("7006"),
        "{}",
        bad[0].actual
    );
}

#[test]
fn profile_waives_excuse_only_the_named_items() {
    let p = Profiles::builtin();
    // Manufacturer is missing from this GetSupportedDMResp.
    let msg = gsdm_msg(gsdm::ParamAccessType::ParamReadWrite, false);
    let failures = |yaml: &str| -> Vec<String> {
        failed(&evaluate(&expect(yaml), &msg, &Vars::default(), &p))
            .iter()
            .map(|c| c.description.clone())
            .collect()
    };
    let missing = vec!["DRAFT-DeviceInfo:1 requires Device.DeviceInfo.Manufacturer".to_string()];
    assert_eq!(failures("{ profile: DRAFT-DeviceInfo:1 }"), missing);
    assert_eq!(
        failures("{ profile: DRAFT-DeviceInfo:1, profile_waives: [Device.DeviceInfo.ModelName] }"),
        missing
    );
    assert!(failures(
        "{ profile: DRAFT-DeviceInfo:1, profile_waives: [Device.DeviceInfo.Manufacturer] }"
    )
    .is_empty());
}
