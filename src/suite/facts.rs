//! Flattens a response (or Notify) into `path → value` facts in response
//! order, the common ground for `values:` expectations and captures.
//!
//! | Msg | key | value |
//! |---|---|---|
//! | GetResp | resolved_path + param | value |
//! | GetInstancesResp | instantiated_obj_path / + unique key | "" / key value |
//! | GetSupportedDMResp | supported_obj_path / + param / + command / + event | access / access / command type / "" |
//! | GetSupportedProtocolResp | `agent_supported_protocol_versions` | the list |
//! | AddResp | instantiated_path / + unique key | "" / key value |
//! | SetResp | affected_path + param | updated value |
//! | DeleteResp | each affected path | "" |
//! | OperateResp | executed_command / + "." + output arg | req_obj_path or "" / value |
//! | OperateResp (async) | `req_obj_path` | the Request row's path |
//! | OperateResp (cmd_failure) | executed_command + ".err_code" / ".err_msg" | code / message |
//! | Error | each ParamError param_path | its err_code |
//! | Notify | see `notify_facts` | |

use crate::usp::msg;
use crate::usp::proto::msg::{
    add_resp, delete_resp, get_supported_dm_resp as gsdm, notify, operate_resp, request::ReqType,
    response::RespType, set_resp, Msg,
};

pub type Facts = Vec<(String, String)>;

pub fn facts(m: &Msg) -> Facts {
    let mut f = Facts::new();
    if let Some(e) = msg::error_body(m) {
        for pe in &e.param_errs {
            f.push((pe.param_path.clone(), pe.err_code.to_string()));
        }
        return f;
    }
    if let Some(ReqType::Notify(n)) = msg::request_body(m) {
        return notify_facts(n);
    }
    let Some(resp) = msg::response_body(m) else {
        return f;
    };
    match resp {
        RespType::GetResp(r) => {
            for rp in &r.req_path_results {
                for res in &rp.resolved_path_results {
                    for (k, v) in &res.result_params {
                        f.push((format!("{}{k}", res.resolved_path), v.clone()));
                    }
                }
            }
        }
        RespType::GetInstancesResp(r) => {
            for rp in &r.req_path_results {
                for inst in &rp.curr_insts {
                    f.push((inst.instantiated_obj_path.clone(), String::new()));
                    for (k, v) in &inst.unique_keys {
                        f.push((format!("{}{k}", inst.instantiated_obj_path), v.clone()));
                    }
                }
            }
        }
        RespType::GetSupportedDmResp(r) => {
            for ro in &r.req_obj_results {
                for so in &ro.supported_objs {
                    let p = &so.supported_obj_path;
                    let access = gsdm::ObjAccessType::try_from(so.access)
                        .map(|a| a.as_str_name().to_string())
                        .unwrap_or_else(|_| so.access.to_string());
                    f.push((p.clone(), access));
                    for sp in &so.supported_params {
                        let a = gsdm::ParamAccessType::try_from(sp.access)
                            .map(|a| a.as_str_name().to_string())
                            .unwrap_or_else(|_| sp.access.to_string());
                        f.push((format!("{p}{}", sp.param_name), a));
                    }
                    for sc in &so.supported_commands {
                        let t = gsdm::CmdType::try_from(sc.command_type)
                            .map(|a| a.as_str_name().to_string())
                            .unwrap_or_else(|_| sc.command_type.to_string());
                        f.push((format!("{p}{}", sc.command_name), t));
                    }
                    for se in &so.supported_events {
                        f.push((format!("{p}{}", se.event_name), String::new()));
                    }
                }
            }
        }
        RespType::GetSupportedProtocolResp(r) => f.push((
            "agent_supported_protocol_versions".into(),
            r.agent_supported_protocol_versions.clone(),
        )),
        RespType::AddResp(r) => {
            for c in &r.created_obj_results {
                use add_resp::created_object_result::operation_status::OperStatus;
                if let Some(OperStatus::OperSuccess(s)) =
                    c.oper_status.as_ref().and_then(|o| o.oper_status.as_ref())
                {
                    f.push((s.instantiated_path.clone(), String::new()));
                    for (k, v) in &s.unique_keys {
                        f.push((format!("{}{k}", s.instantiated_path), v.clone()));
                    }
                }
            }
        }
        RespType::SetResp(r) => {
            for u in &r.updated_obj_results {
                use set_resp::updated_object_result::operation_status::OperStatus;
                if let Some(OperStatus::OperSuccess(s)) =
                    u.oper_status.as_ref().and_then(|o| o.oper_status.as_ref())
                {
                    for ir in &s.updated_inst_results {
                        for (k, v) in &ir.updated_params {
                            f.push((format!("{}{k}", ir.affected_path), v.clone()));
                        }
                    }
                }
            }
        }
        RespType::DeleteResp(r) => {
            for d in &r.deleted_obj_results {
                use delete_resp::deleted_object_result::operation_status::OperStatus;
                if let Some(OperStatus::OperSuccess(s)) =
                    d.oper_status.as_ref().and_then(|o| o.oper_status.as_ref())
                {
                    for p in &s.affected_paths {
                        f.push((p.clone(), String::new()));
                    }
                }
            }
        }
        RespType::OperateResp(r) => {
            for o in &r.operation_results {
                use operate_resp::operation_result::OperationResp;
                match &o.operation_resp {
                    Some(OperationResp::ReqObjPath(p)) => {
                        f.push((o.executed_command.clone(), p.clone()));
                        // R-OPR: the Request row an async command runs as.
                        f.push(("req_obj_path".into(), p.clone()));
                    }
                    Some(OperationResp::CmdFailure(c)) => {
                        f.push((
                            format!("{}.err_code", o.executed_command),
                            c.err_code.to_string(),
                        ));
                        f.push((format!("{}.err_msg", o.executed_command), c.err_msg.clone()));
                    }
                    Some(OperationResp::ReqOutputArgs(a)) => {
                        f.push((o.executed_command.clone(), String::new()));
                        for (k, v) in &a.output_args {
                            f.push((format!("{}.{k}", o.executed_command), v.clone()));
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    f
}

/// Notify: `subscription_id`; ValueChange param_path → value; ObjectCreation
/// obj_path → "" and + key; ObjectDeletion obj_path; Event obj_path+event_name
/// → "" and + "." + arg; OperationComplete obj_path+command_name → command_key
/// and + "." + output arg; OnBoardRequest `oui`, `product_class`, ....
pub fn notify_facts(n: &crate::usp::proto::msg::Notify) -> Facts {
    use notify::Notification as N;
    let mut f: Facts = vec![("subscription_id".into(), n.subscription_id.clone())];
    match &n.notification {
        Some(N::ValueChange(v)) => f.push((v.param_path.clone(), v.param_value.clone())),
        Some(N::ObjCreation(c)) => {
            f.push((c.obj_path.clone(), String::new()));
            for (k, v) in &c.unique_keys {
                f.push((format!("{}{k}", c.obj_path), v.clone()));
            }
        }
        Some(N::ObjDeletion(d)) => f.push((d.obj_path.clone(), String::new())),
        Some(N::Event(e)) => {
            let p = format!("{}{}", e.obj_path, e.event_name);
            f.push((p.clone(), String::new()));
            for (k, v) in &e.params {
                f.push((format!("{p}.{k}"), v.clone()));
            }
        }
        Some(N::OperComplete(o)) => {
            let p = format!("{}{}", o.obj_path, o.command_name);
            f.push((p.clone(), o.command_key.clone()));
            if let Some(notify::operation_complete::OperationResp::ReqOutputArgs(a)) =
                &o.operation_resp
            {
                for (k, v) in &a.output_args {
                    f.push((format!("{p}.{k}"), v.clone()));
                }
            }
        }
        Some(N::OnBoardReq(o)) => {
            f.push(("oui".into(), o.oui.clone()));
            f.push(("product_class".into(), o.product_class.clone()));
            f.push(("serial_number".into(), o.serial_number.clone()));
            f.push((
                "agent_supported_protocol_versions".into(),
                o.agent_supported_protocol_versions.clone(),
            ));
        }
        None => {}
    }
    f
}

/// Whether a key pattern matches a fact key: `*` (or `{i}`) in the pattern
/// stands for one instance segment, and also matches `{i}` in supported-DM
/// paths.
pub fn key_matches(pattern: &str, key: &str) -> bool {
    if !pattern.contains('*') && !pattern.contains("{i}") {
        return pattern == key;
    }
    let p = crate::datamodel::profile::split_path(pattern);
    let k = crate::datamodel::profile::split_path(key);
    p.len() == k.len()
        && p.iter()
            .zip(&k)
            .all(|(p, k)| p == k || ((*p == "*" || *p == "{i}") && !k.is_empty()))
}

/// All facts whose key matches `pattern`.
pub fn lookup<'a>(facts: &'a Facts, pattern: &str) -> Vec<&'a (String, String)> {
    facts
        .iter()
        .filter(|(k, _)| key_matches(pattern, k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_matches_one_segment() {
        assert!(key_matches(
            "Device.LocalAgent.MTP.*.Protocol",
            "Device.LocalAgent.MTP.12.Protocol"
        ));
        assert!(key_matches(
            "Device.LocalAgent.MTP.*.",
            "Device.LocalAgent.MTP.{i}."
        ));
        assert!(!key_matches(
            "Device.LocalAgent.MTP.*.Protocol",
            "Device.LocalAgent.MTP.1.WebSocket.Protocol"
        ));
        assert!(key_matches(
            "Device.DeviceInfo.Manufacturer",
            "Device.DeviceInfo.Manufacturer"
        ));
    }
}
