//! The `profile:` expectation: a GetResp must carry every readable item of
//! the profile (for each instance of its tables), and a GetSupportedDMResp
//! must list every item with at least the access the profile requires, and
//! each command's input/output and each event's argument names.

use super::expect::Check;
use super::facts;
use crate::datamodel::{normalize_path, Access, ObjectReq, ObjectRequirement, Profile, Profiles};
use crate::usp::msg;
use crate::usp::proto::msg::{get_supported_dm_resp as gsdm, response::RespType, Msg};
use std::collections::{BTreeMap, BTreeSet};

pub fn check(name: &str, response: &Msg, profiles: &Profiles) -> Vec<Check> {
    let rule = format!("profile {name}");
    let Some(profile) = profiles.get(name) else {
        return vec![Check::new(
            format!("profile {name}"),
            false,
            "a known profile",
            format!("unknown; known: {}", profiles.names().join(", ")),
            Some(&rule),
        )];
    };
    match msg::response_body(response) {
        Some(RespType::GetResp(_)) => get_checks(profile, response, &rule),
        Some(RespType::GetSupportedDmResp(r)) => gsdm_checks(profile, r, &rule),
        _ => vec![Check::new(
            format!("profile {name}"),
            false,
            "a GET_RESP or GET_SUPPORTED_DM_RESP to judge",
            msg::body_type(response)
                .map(msg::type_name)
                .unwrap_or("no body"),
            Some(&rule),
        )],
    }
}

/// The objects a check applies to: obsolete ones and pure type records skipped.
fn required_objects(p: &Profile) -> impl Iterator<Item = &ObjectReq> {
    p.objects
        .iter()
        .filter(|o| o.obsolete.is_none() && o.requirement != ObjectRequirement::NotSpecified)
}

fn get_checks(p: &Profile, response: &Msg, rule: &str) -> Vec<Check> {
    let facts = facts::facts(response);
    let present: BTreeSet<&str> = facts.iter().map(|(k, _)| k.as_str()).collect();
    let mut missing = Vec::new();
    let mut found = 0usize;
    for obj in required_objects(p) {
        for inst in instances(&obj.path, &present) {
            for param in &obj.parameters {
                let path = format!("{inst}{}", param.name);
                if present.contains(path.as_str()) {
                    found += 1;
                } else {
                    missing.push(path);
                }
            }
        }
    }
    let mut out = Vec::new();
    for path in &missing {
        out.push(Check::new(
            format!("{} requires {path}", p.name),
            false,
            "present in the GetResp",
            "missing",
            Some(rule),
        ));
    }
    if missing.is_empty() {
        out.push(Check::new(
            format!("{}: required parameters present", p.name),
            true,
            "every readable parameter of the profile",
            format!("{found} parameters present"),
            Some(rule),
        ));
    }
    out
}

/// The instantiated paths of a supported-DM object path in the response:
/// itself for a single-instance object, one per row seen for a table
/// (a table with no rows asks nothing).
fn instances(obj_path: &str, present: &BTreeSet<&str>) -> Vec<String> {
    if !obj_path.contains("{i}") {
        return vec![obj_path.to_string()];
    }
    let depth = obj_path.trim_end_matches('.').split('.').count();
    let norm = normalize_path(obj_path.trim_end_matches('.'));
    let mut seen = BTreeSet::new();
    for key in present {
        let segs = crate::datamodel::profile::split_path(key);
        if segs.len() <= depth {
            continue;
        }
        let prefix = segs[..depth].join(".");
        if normalize_path(&prefix) == norm {
            seen.insert(format!("{prefix}."));
        }
    }
    seen.into_iter().collect()
}

fn gsdm_checks(
    p: &Profile,
    r: &crate::usp::proto::msg::GetSupportedDmResp,
    rule: &str,
) -> Vec<Check> {
    let objs: BTreeMap<String, &gsdm::SupportedObjectResult> = r
        .req_obj_results
        .iter()
        .flat_map(|ro| ro.supported_objs.iter())
        .map(|so| (normalize_path(&so.supported_obj_path), so))
        .collect();
    let mut out = Vec::new();
    let mut listed = 0usize;
    let mut fail = |item: String, expected: String, actual: String| {
        out.push(Check::new(
            format!("{} requires {item}", p.name),
            false,
            expected,
            actual,
            Some(rule),
        ));
    };
    for obj in required_objects(p) {
        let Some(so) = objs.get(&normalize_path(&obj.path)) else {
            fail(
                obj.path.clone(),
                "listed in the GetSupportedDMResp".into(),
                "not listed".into(),
            );
            continue;
        };
        listed += 1;
        if obj.requirement == ObjectRequirement::CreateDelete
            && so.access != gsdm::ObjAccessType::ObjAddDelete as i32
        {
            fail(
                obj.path.clone(),
                "OBJ_ADD_DELETE".into(),
                obj_access(so.access),
            );
        }
        for param in &obj.parameters {
            let item = format!("{}{}", obj.path, param.name);
            match so
                .supported_params
                .iter()
                .find(|sp| sp.param_name == param.name)
            {
                None => fail(item, "listed".into(), "not listed".into()),
                Some(sp) => {
                    listed += 1;
                    // writeOnceReadOnly is reported PARAM_READ_WRITE, so
                    // READ_WRITE is the only access that satisfies `write`.
                    let readable = sp.access != gsdm::ParamAccessType::ParamWriteOnly as i32;
                    let writable = sp.access != gsdm::ParamAccessType::ParamReadOnly as i32;
                    let ok = match param.access {
                        Access::Read => readable,
                        Access::Write => readable && writable,
                    };
                    if !ok {
                        let want = match param.access {
                            Access::Read => "PARAM_READ_ONLY or PARAM_READ_WRITE",
                            Access::Write => "PARAM_READ_WRITE",
                        };
                        fail(item, want.into(), param_access(sp.access));
                    }
                }
            }
        }
        for cmd in &obj.commands {
            let item = format!("{}{}", obj.path, cmd.name);
            match so
                .supported_commands
                .iter()
                .find(|c| c.command_name == cmd.name)
            {
                None => fail(item, "listed".into(), "not listed".into()),
                Some(c) => {
                    listed += 1;
                    for (which, want, got) in [
                        ("input", &cmd.input, &c.input_arg_names),
                        ("output", &cmd.output, &c.output_arg_names),
                    ] {
                        if let Some(actual) = arg_mismatch(want, &cmd.dropped_later, got) {
                            fail(
                                format!("{item} {which} arguments"),
                                expected_args(want),
                                actual,
                            );
                        }
                    }
                }
            }
        }
        for ev in &obj.events {
            let item = format!("{}{}", obj.path, ev.name);
            match so.supported_events.iter().find(|e| e.event_name == ev.name) {
                None => fail(item, "listed".into(), "not listed".into()),
                Some(e) => {
                    listed += 1;
                    if let Some(actual) = arg_mismatch(&ev.args, &ev.dropped_later, &e.arg_names) {
                        fail(format!("{item} arguments"), expected_args(&ev.args), actual);
                    }
                }
            }
        }
    }
    if out.is_empty() {
        out.push(Check::new(
            format!("{}: supported with required access", p.name),
            true,
            "every object, parameter, command (with its arguments) and event (with its arguments) of the profile",
            format!("{listed} items listed"),
            Some(rule),
        ));
    }
    out
}

/// TP-469 1.97 / 1.98: every argument the profile names must be listed.
/// Arguments the profile does not name fail only next to a missing one
/// (then they are most likely its misspelling): an Agent may implement a
/// later version of the model, which adds arguments (Download()'s
/// AutoActivate, Boot!'s FirmwareUpdated in the released TR-181 2.12), and
/// for the same reason may leave out the ones that release removed
/// (`dropped`: ChallengeResponse()'s Status, Download()'s TargetFileName).
/// None when nothing is missing; else what the Agent listed, with the
/// missing and the extra names.
fn arg_mismatch(want: &[String], dropped: &[String], got: &[String]) -> Option<String> {
    let missing: Vec<&str> = want
        .iter()
        .filter(|w| !got.contains(w) && !dropped.contains(w))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        return None;
    }
    let extra: Vec<&str> = got
        .iter()
        .filter(|g| !want.contains(g))
        .map(String::as_str)
        .collect();
    let mut out = format!(
        "listed [{}]; missing {}",
        got.join(", "),
        missing.join(", ")
    );
    if !extra.is_empty() {
        out.push_str(&format!("; extra {}", extra.join(", ")));
    }
    Some(out)
}

fn expected_args(want: &[String]) -> String {
    format!(
        "the argument names [{}] listed (TP-469 1.97/1.98)",
        want.join(", ")
    )
}

fn obj_access(a: i32) -> String {
    gsdm::ObjAccessType::try_from(a)
        .map(|x| x.as_str_name().to_string())
        .unwrap_or_else(|_| a.to_string())
}

fn param_access(a: i32) -> String {
    gsdm::ParamAccessType::try_from(a)
        .map(|x| x.as_str_name().to_string())
        .unwrap_or_else(|_| a.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usp::proto::msg::GetSupportedDmResp;

    /// A GetSupportedDMResp for DRAFT-Reboot:1 whose Boot! lists `boot_args`
    /// and whose Reboot() lists `reboot_in` as input arguments.
    fn reboot_dm(boot_args: &[&str], reboot_in: &[&str]) -> GetSupportedDmResp {
        let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        let param = |n: &str| gsdm::SupportedParamResult {
            param_name: n.into(),
            access: gsdm::ParamAccessType::ParamReadWrite as i32,
            ..Default::default()
        };
        GetSupportedDmResp {
            req_obj_results: vec![gsdm::RequestedObjectResult {
                req_obj_path: "Device.".into(),
                supported_objs: vec![
                    gsdm::SupportedObjectResult {
                        supported_obj_path: "Device.".into(),
                        supported_commands: vec![gsdm::SupportedCommandResult {
                            command_name: "Reboot()".into(),
                            input_arg_names: s(reboot_in),
                            ..Default::default()
                        }],
                        supported_events: vec![gsdm::SupportedEventResult {
                            event_name: "Boot!".into(),
                            arg_names: s(boot_args),
                        }],
                        ..Default::default()
                    },
                    gsdm::SupportedObjectResult {
                        supported_obj_path: "Device.LocalAgent.Controller.{i}.BootParameter.{i}."
                            .into(),
                        access: gsdm::ObjAccessType::ObjAddDelete as i32,
                        supported_params: vec![param("Enable"), param("ParameterName")],
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
        }
    }

    fn failures(r: &GetSupportedDmResp) -> Vec<Check> {
        let p = Profiles::builtin();
        let profile = p.get("DRAFT-Reboot:1").expect("builtin profile");
        gsdm_checks(profile, r, "profile DRAFT-Reboot:1")
            .into_iter()
            .filter(|c| !c.passed)
            .collect()
    }

    #[test]
    fn argument_names_of_the_profile_must_be_listed() {
        // The released 2.12 Boot! adds FirmwareUpdated: allowed.
        let good = reboot_dm(
            &["CommandKey", "Cause", "FirmwareUpdated", "ParameterMap"],
            &[],
        );
        assert!(failures(&good).is_empty(), "{:#?}", failures(&good));

        let bad = reboot_dm(&["CommandKey", "Reason", "ParameterMap"], &[]);
        let f = failures(&bad);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(
            f[0].description,
            "DRAFT-Reboot:1 requires Device.Boot! arguments"
        );
        assert!(f[0].expected.contains("[CommandKey, Cause, ParameterMap]"));
        assert!(
            f[0].actual.contains("missing Cause") && f[0].actual.contains("extra Reason"),
            "{}",
            f[0].actual
        );
    }

    #[test]
    fn extra_command_arguments_alone_pass() {
        // Reboot() takes no arguments in the profile; a later model may add some.
        let r = reboot_dm(&["CommandKey", "Cause", "ParameterMap"], &["Delay"]);
        assert!(failures(&r).is_empty());
    }

    #[test]
    fn missing_command_input_is_named() {
        let p = Profiles::builtin();
        let fw = p.get("DRAFT-Firmware:1").expect("builtin profile");
        let cmd = &fw.objects[1].commands[0];
        assert_eq!(cmd.name, "Download()");
        let got: Vec<String> = cmd
            .input
            .iter()
            .map(|a| if a == "URL" { "Url".into() } else { a.clone() })
            .collect();
        let actual = arg_mismatch(&cmd.input, &cmd.dropped_later, &got).expect("a mismatch");
        assert!(actual.contains("missing URL; extra Url"), "{actual}");
        assert_eq!(
            arg_mismatch(&cmd.input, &cmd.dropped_later, &cmd.input),
            None
        );
    }

    #[test]
    fn arguments_the_released_model_removed_may_be_left_out() {
        // Released TR-181 2.12: Download() has no TargetFileName (and gains
        // AutoActivate), ChallengeResponse() has no Status output.
        let p = Profiles::builtin();
        let fw = p.get("DRAFT-Firmware:1").expect("builtin profile");
        let download = &fw.objects[1].commands[0];
        let released: Vec<String> = download
            .input
            .iter()
            .filter(|a| *a != "TargetFileName")
            .cloned()
            .chain(["AutoActivate".to_string()])
            .collect();
        assert_eq!(
            arg_mismatch(&download.input, &download.dropped_later, &released),
            None
        );
        // Leaving out an argument the release kept still fails.
        let no_url: Vec<String> = released.iter().filter(|a| *a != "URL").cloned().collect();
        let actual =
            arg_mismatch(&download.input, &download.dropped_later, &no_url).expect("a mismatch");
        assert!(actual.contains("missing URL"), "{actual}");
        assert!(!actual.contains("TargetFileName"), "{actual}");

        let ch = p.get("DRAFT-Challenge:1").expect("builtin profile");
        let response = &ch.objects[0].commands[1];
        assert_eq!(response.name, "ChallengeResponse()");
        assert_eq!(
            arg_mismatch(&response.output, &response.dropped_later, &[]),
            None
        );
    }
}
