//! The `profile:` expectation: a GetResp must carry every readable item of
//! the profile (for each instance of its tables), and a GetSupportedDMResp
//! must list every item with at least the access the profile requires.

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
            if so
                .supported_commands
                .iter()
                .any(|c| c.command_name == cmd.name)
            {
                listed += 1;
            } else {
                fail(
                    format!("{}{}", obj.path, cmd.name),
                    "listed".into(),
                    "not listed".into(),
                );
            }
        }
        for ev in &obj.events {
            if so.supported_events.iter().any(|e| e.event_name == ev.name) {
                listed += 1;
            } else {
                fail(
                    format!("{}{}", obj.path, ev.name),
                    "listed".into(),
                    "not listed".into(),
                );
            }
        }
    }
    if out.is_empty() {
        out.push(Check::new(
            format!("{}: supported with required access", p.name),
            true,
            "every object, parameter, command and event of the profile",
            format!("{listed} items listed"),
            Some(rule),
        ));
    }
    out
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
