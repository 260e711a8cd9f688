//! Loader and judging of the use-case steps: expect_no_notify, serve_file,
//! reboot, needs_vars, and the OperationComplete outcome matchers.

use crate::datamodel::Profiles;
use crate::suite::*;
use crate::usp::msg;
use crate::usp::proto::msg::{notify, request::ReqType, Notify};
use std::path::Path;

fn load(yaml: &str) -> Result<Suite, Vec<LoadError>> {
    load_str(Path::new("uc.yaml"), yaml, &Profiles::builtin())
}

fn one_step(step: &str) -> Result<Suite, Vec<LoadError>> {
    load(&format!(
        "suite: s\ncases:\n  - id: a\n    title: t\n    steps:\n      - {step}\n"
    ))
}

fn err(step: &str) -> String {
    match one_step(step) {
        Ok(_) => panic!("{step}: expected a load error"),
        Err(e) => e.iter().map(|e| format!("{} {:?}", e, e.help)).collect(),
    }
}

#[test]
fn new_steps_load_with_their_defaults() {
    let s = load(
        r#"suite: s
cases:
  - id: a
    title: t
    needs_vars: [challenge_value]
    steps:
      - expect_no_notify: { type: value_change, path: Device.DeviceInfo.FriendlyName }
      - serve_file: { name: fw.bin, content: "version=2.0\n", size: 64, username: u, password: p }
        capture: { fw_url: url, fw_sha256: sha256, fw_size: size }
      - reboot: {}
        capture: { t: reconnect_ms }
      - wait_notify: { type: operation_complete, outcome: failure, err_code: 7022, err_msg: { regex: "." } }
"#,
    )
    .expect("loads");
    let c = &s.cases[0];
    assert_eq!(c.needs_vars, vec!["challenge_value".to_string()]);
    let Action::ExpectNoNotify(n) = &c.steps[0].action else {
        panic!("expect_no_notify")
    };
    assert_eq!(n.timeout_ms, None, "the run's silence window applies");
    let Action::ServeFile(f) = &c.steps[1].action else {
        panic!("serve_file")
    };
    assert_eq!((f.size, f.username.as_deref()), (Some(64), Some("u")));
    let Action::Reboot(r) = &c.steps[2].action else {
        panic!("reboot")
    };
    assert_eq!(r.command, "Device.Reboot()");
    assert!(r.operate);
    assert!(c.steps.iter().all(|s| s.expect.is_none()));
}

#[test]
fn new_steps_reject_unknown_keys_expect_and_bad_captures() {
    let e = err("expect_no_notify: { type: event, timout_ms: 5 }");
    assert!(e.contains("uc.yaml:6:") && e.contains("timout_ms"), "{e}");
    let e = err("reboot: { comand: x }");
    assert!(e.contains("comand"), "{e}");
    let e = err("serve_file: { name: a.bin, md5: x }");
    assert!(e.contains("md5"), "{e}");
    let e = err("reboot: {}\n        expect: { type: operate_resp }");
    assert!(e.contains("`expect` does not apply to reboot"), "{e}");
    let e = err("serve_file: { name: a.bin }\n        capture: { x: md5 }");
    assert!(
        e.contains("cannot capture `md5`") && e.contains("sha256"),
        "{e}"
    );
    let e = err("reboot: {}\n        capture: { x: url }");
    assert!(e.contains("reboot cannot capture `url`"), "{e}");
    let e = err("serve_file: { name: a.bin, username: u }");
    assert!(e.contains("go together"), "{e}");
    let e = err("serve_file: { name: dir/a.bin }");
    assert!(e.contains("one URL path segment"), "{e}");
    let e = err("expect_no_notify: { type: value_change }\n        capture: { x: url }");
    assert!(e.contains("captures nothing"), "{e}");
}

fn oper_complete(resp: notify::operation_complete::OperationResp) -> crate::usp::proto::msg::Msg {
    msg::request(
        "n1",
        ReqType::Notify(Notify {
            subscription_id: "s".into(),
            send_resp: true,
            notification: Some(notify::Notification::OperComplete(
                notify::OperationComplete {
                    obj_path: "Device.DeviceInfo.FirmwareImage.2.".into(),
                    command_name: "Download()".into(),
                    command_key: "k".into(),
                    operation_resp: Some(resp),
                },
            )),
        }),
    )
}

fn wait(yaml: &str) -> WaitSpec {
    serde_saphyr::from_str(yaml).expect("wait spec parses")
}

#[test]
fn operation_complete_outcome_and_err_code_are_judged() {
    use notify::operation_complete::{CommandFailure, OperationResp, OutputArgs};
    let failure = oper_complete(OperationResp::CmdFailure(CommandFailure {
        err_code: 7022,
        err_msg: "download refused".into(),
    }));
    let success = oper_complete(OperationResp::ReqOutputArgs(OutputArgs::default()));
    let vars = Vars::default();
    let want_failure = wait(
        "type: operation_complete\noutcome: failure\nerr_code: 7022\nerr_msg: { regex: refused }\n",
    );
    let all_pass = |w: &WaitSpec, m| evaluate_notify(w, m, &vars).iter().all(|c| c.passed);
    assert!(all_pass(&want_failure, &failure));
    assert!(
        !all_pass(&want_failure, &success),
        "success is not a failure"
    );
    let other_code = wait("type: operation_complete\nerr_code: 7004\n");
    assert!(!all_pass(&other_code, &failure), "7022 is not 7004");
    let want_success =
        wait("type: operation_complete\noutcome: success\nname: Download()\ncommand_key: k\n");
    assert!(all_pass(&want_success, &success));
    assert!(!all_pass(&want_success, &failure));
}

#[test]
fn no_notify_spec_judges_with_the_wait_matchers() {
    let spec: NoNotifySpec =
        serde_saphyr::from_str("type: operation_complete\ncommand_key: k\n").expect("parses");
    let w = spec.as_wait(500);
    let vars = Vars::default();
    let m = oper_complete(notify::operation_complete::OperationResp::ReqOutputArgs(
        Default::default(),
    ));
    assert!(evaluate_notify(&w, &m, &vars).iter().all(|c| c.passed));
    let other: NoNotifySpec =
        serde_saphyr::from_str("type: operation_complete\ncommand_key: other\n").expect("parses");
    assert!(!evaluate_notify(&other.as_wait(500), &m, &vars)
        .iter()
        .all(|c| c.passed));
}

#[test]
fn shipped_use_cases_load_with_the_other_suites() {
    let (suites, errors) =
        load_path_partial(Path::new("test-cases/usecases"), &Profiles::builtin());
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(suites.len(), 5);
    let (all, _) = load_path_partial(Path::new("test-cases"), &Profiles::builtin());
    assert_eq!(
        all.iter()
            .filter(|s| s.file.starts_with("test-cases/usecases"))
            .count(),
        5,
        "the embedded default run includes the use cases"
    );
}

#[test]
fn req_obj_path_is_a_fact_of_an_async_operate_resp() {
    use crate::usp::proto::msg::{operate_resp, response::RespType, OperateResp};
    let resp = msg::response(
        "1",
        RespType::OperateResp(OperateResp {
            operation_results: vec![operate_resp::OperationResult {
                executed_command: "Device.DeviceInfo.FirmwareImage.2.Download()".into(),
                operation_resp: Some(operate_resp::operation_result::OperationResp::ReqObjPath(
                    "Device.LocalAgent.Request.3".into(),
                )),
            }],
        }),
    );
    let mut vars = Vars::default();
    let captures = [("req".to_string(), "req_obj_path".to_string())].into();
    capture(&captures, &resp, &mut vars).expect("captured");
    assert_eq!(vars.get("req"), Some("Device.LocalAgent.Request.3"));
}
