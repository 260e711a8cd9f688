//! The shipped cases judged against what a conforming Agent answers, and
//! against the reference Agent's faults (each case must catch its twin).

use super::{failed, get_resp, DEVICE_INFO};
use crate::datamodel::Profiles;
use crate::suite::*;
use crate::usp::msg;
use crate::usp::proto::msg::{error::ParamError, Error, Msg};
use std::path::Path;

fn shipped_step(case_id: &str, index: usize) -> Expect {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-cases");
    let suites = load_path(&dir).unwrap_or_else(|e| panic!("{} load errors", e.len()));
    let case = suites
        .iter()
        .flat_map(|s| &s.cases)
        .find(|c| c.id == case_id)
        .unwrap_or_else(|| panic!("no case {case_id}"));
    case.steps[index]
        .expect
        .clone()
        .expect("request step has an expect")
}

fn judge(case_id: &str, index: usize, response: &Msg) -> Vec<Check> {
    let e = shipped_step(case_id, index);
    evaluate(&e, response, &Vars::default(), &Profiles::builtin())
}

#[test]
fn deviceinfo_object_catches_missing_and_mistyped_parameters() {
    let ok = get_resp(&[(
        "Device.DeviceInfo.",
        0,
        &[("Device.DeviceInfo.", DEVICE_INFO)],
    )]);
    let checks = judge("deviceinfo-get-object-path", 0, &ok);
    assert!(failed(&checks).is_empty(), "{checks:#?}");

    let missing: Vec<(&str, &str)> = DEVICE_INFO
        .iter()
        .copied()
        .filter(|(k, _)| *k != "Manufacturer")
        .collect();
    let m = get_resp(&[("Device.DeviceInfo.", 0, &[("Device.DeviceInfo.", &missing)])]);
    assert_eq!(failed(&judge("deviceinfo-get-object-path", 0, &m)).len(), 2);

    let mut mistyped = DEVICE_INFO.to_vec();
    mistyped.retain(|(k, _)| *k != "UpTime");
    mistyped.push(("UpTime", "not-a-number"));
    let m = get_resp(&[(
        "Device.DeviceInfo.",
        0,
        &[("Device.DeviceInfo.", &mistyped)],
    )]);
    let f = judge("deviceinfo-get-object-path", 0, &m);
    assert_eq!(failed(&f).len(), 1, "{f:#?}");
}

#[test]
fn invalid_parameter_catches_wrong_error_code_and_error_msg() {
    let path = "Device.DeviceInfo.NoSuchParameter";
    let ok = get_resp(&[(path, 7026, &[])]);
    assert!(failed(&judge("deviceinfo-get-invalid-parameter", 0, &ok)).is_empty());
    let wrong = get_resp(&[(path, 7003, &[])]);
    assert_eq!(
        failed(&judge("deviceinfo-get-invalid-parameter", 0, &wrong)).len(),
        1
    );
    let as_error = msg::error(
        "1",
        Error {
            err_code: 7026,
            err_msg: "invalid".into(),
            param_errs: vec![],
        },
    );
    let f = judge("deviceinfo-get-invalid-parameter", 0, &as_error);
    assert_eq!(f.len(), 1);
    assert!(!f[0].passed);
}

#[test]
fn read_only_set_accepts_any_outer_code_but_not_a_wrong_param_code() {
    let err = |outer, inner| {
        msg::error(
            "1",
            Error {
                err_code: outer,
                err_msg: String::new(),
                param_errs: vec![ParamError {
                    param_path: "Device.DeviceInfo.Manufacturer".into(),
                    err_code: inner,
                    err_msg: String::new(),
                }],
            },
        )
    };
    let id = "deviceinfo-set-read-only-parameter";
    assert!(failed(&judge(id, 0, &err(7004, 7013))).is_empty());
    assert!(failed(&judge(id, 0, &err(7013, 7013))).is_empty());
    assert_eq!(failed(&judge(id, 0, &err(7003, 7003))).len(), 1);
}

#[test]
fn localagent_object_catches_wrong_value_types() {
    let la: &[(&str, &str)] = &[
        ("EndpointID", "proto::plugfest-agent"),
        ("AdvertisedDeviceSubtypes", ""),
        ("SupportedProtocols", "WebSocket,MQTT"),
        ("MTPNumberOfEntries", "2"),
        ("ControllerNumberOfEntries", "1"),
        ("SubscriptionNumberOfEntries", "0"),
    ];
    let mtp1: &[(&str, &str)] = &[
        ("Alias", "cpe-1"),
        ("Enable", "true"),
        ("Protocol", "WebSocket"),
    ];
    let mtp2: &[(&str, &str)] = &[
        ("Alias", "cpe-2"),
        ("Enable", "false"),
        ("Protocol", "MQTT"),
    ];
    let ok = get_resp(&[(
        "Device.LocalAgent.",
        0,
        &[
            ("Device.LocalAgent.", la),
            ("Device.LocalAgent.MTP.1.", mtp1),
            ("Device.LocalAgent.MTP.2.", mtp2),
        ],
    )]);
    let checks = judge("localagent-get-object-profile", 0, &ok);
    assert!(failed(&checks).is_empty(), "{checks:#?}");

    // `wrong-value-type`: booleans "yes", unsignedInts "not-a-number".
    let la_bad: Vec<(&str, &str)> = la
        .iter()
        .map(|(k, v)| {
            (
                *k,
                if k.ends_with("NumberOfEntries") {
                    "not-a-number"
                } else {
                    v
                },
            )
        })
        .collect();
    let mtp_bad: &[(&str, &str)] = &[
        ("Alias", "cpe-1"),
        ("Enable", "yes"),
        ("Protocol", "WebSocket"),
    ];
    let bad = get_resp(&[(
        "Device.LocalAgent.",
        0,
        &[
            ("Device.LocalAgent.", &la_bad),
            ("Device.LocalAgent.MTP.1.", mtp_bad),
        ],
    )]);
    let f = judge("localagent-get-object-profile", 0, &bad);
    // 3 counts + Enable by type, and the explicit `type: unsignedInt` value check.
    assert_eq!(failed(&f).len(), 5, "{f:#?}");
}
