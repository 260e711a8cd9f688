//! Where Controller trust meets the messages: Set, Delete and Operate requests
//! a Controller's Role does not permit are refused with 7006 (Permission
//! denied) before they touch the model (Add is checked per object in
//! `add_delete.rs`), and what it may not read is left out of responses as if
//! absent (R-GET.1/R-GSP.0/R-GIN.0). Rights come from `trust.rs`.

use super::model::supported_path;
use super::model::Model;
use super::path::Leaf;
use super::resolve::resolve;
use super::trust::{rights, ControllerRights, Kind};
use crate::usp::errors;
use crate::usp::proto::msg::error::ParamError;
use crate::usp::proto::msg::get_supported_dm_resp::{ObjAccessType, ParamAccessType};
use crate::usp::proto::msg::operate_resp::operation_result::{CommandFailure, OperationResp};
use crate::usp::proto::msg::operate_resp::OperationResult;
use crate::usp::proto::msg::request::ReqType;
use crate::usp::proto::msg::{Error, GetInstancesResp, GetResp, GetSupportedDmResp, OperateResp};

/// What a refused request gets instead of being carried out.
pub enum Refusal {
    /// Set/Delete: an Error Msg 7006 naming each forbidden path.
    Error(Error),
    /// Operate: command failures go in `cmd_failure`, never in an Error (R-OPR.1).
    Operate(OperateResp),
}

/// Checks the write (Set/Delete) and execute (Operate) rights a request
/// needs; None when it may go ahead. Paths that do not resolve are left to
/// the handler, which reports them as usual (7008/7026).
pub fn refuse(model: &Model, who: &ControllerRights, req: &ReqType) -> Option<Refusal> {
    // Reads need no write or execute right: nothing to look up for them.
    if !matches!(
        req,
        ReqType::Set(_) | ReqType::Add(_) | ReqType::Delete(_) | ReqType::Operate(_)
    ) {
        return None;
    }
    let mut denied: Vec<(String, String)> = Vec::new();
    match req {
        ReqType::Set(s) => {
            for upd in &s.update_objs {
                let Ok(r) = resolve(model, &upd.obj_path) else {
                    continue;
                };
                for obj in &r.objects {
                    for p in &upd.param_settings {
                        let path = format!("{obj}{}", p.param);
                        if !who.rights(Kind::Param, &path).write {
                            denied.push((
                                path,
                                "no write permission (Param w) on the parameter".into(),
                            ));
                        }
                    }
                }
            }
        }
        // Add is checked per object by add_delete.rs: a refused table fails
        // on its own when allow_partial is true (TP-469 2.23).
        ReqType::Delete(d) => {
            for obj_path in &d.obj_paths {
                let Ok(r) = resolve(model, obj_path) else {
                    continue;
                };
                for inst in &r.objects {
                    if !who.rights(Kind::InstantiatedObj, inst).write {
                        denied.push((
                            inst.clone(),
                            "no permission to delete the instance (InstantiatedObj w)".into(),
                        ));
                    }
                }
            }
        }
        ReqType::Operate(o) => {
            let commands: Vec<String> = match resolve(model, &o.command) {
                Ok(r) => match &r.leaf {
                    Leaf::Command(name) => {
                        r.objects.iter().map(|obj| format!("{obj}{name}")).collect()
                    }
                    _ => return None,
                },
                Err(_) => return None,
            };
            let forbidden = commands
                .iter()
                .find(|c| !who.rights(Kind::CommandEvent, c).execute)?;
            return Some(Refusal::Operate(OperateResp {
                operation_results: vec![OperationResult {
                    executed_command: o.command.clone(),
                    operation_resp: Some(OperationResp::CmdFailure(CommandFailure {
                        err_code: errors::PERMISSION_DENIED,
                        err_msg: format!(
                            "Permission denied: this Controller's Role has no execute permission (CommandEvent x) on {forbidden}"
                        ),
                    })),
                }],
            }));
        }
        _ => return None,
    }
    if denied.is_empty() {
        return None;
    }
    Some(Refusal::Error(Error {
        err_code: errors::PERMISSION_DENIED,
        err_msg: format!(
            "Permission denied: this Controller's Role does not allow {}",
            denied
                .iter()
                .map(|(p, _)| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        param_errs: denied
            .into_iter()
            .map(|(param_path, why)| ParamError {
                param_path,
                err_code: errors::PERMISSION_DENIED,
                err_msg: format!("Permission denied: {why}"),
            })
            .collect(),
    }))
}

/// Whether the last segment of an object path is an instance number.
fn is_instance(obj: &str) -> bool {
    obj.trim_end_matches('.')
        .rsplit('.')
        .next()
        .is_some_and(|s| s.parse::<u32>().is_ok())
}

/// Puts the stored value of each secured parameter (read as "") into a
/// GetResp, for a Controller holding a secured Role
/// (`ControllerRights::holds_secured_role`; TR-181 2.16 SecuredRoles, TP-469 2.27).
/// Whether it may read the parameter at all is `filter_get`'s to say.
pub fn reveal_secured(model: &Model, resp: &mut GetResp) {
    for res in resp
        .req_path_results
        .iter_mut()
        .flat_map(|r| r.resolved_path_results.iter_mut())
    {
        let obj = res.resolved_path.as_str();
        for (name, value) in res.result_params.iter_mut() {
            if model.is_secured(obj, name) {
                if let Some(raw) = model.raw_value(obj, name) {
                    *value = raw;
                }
            }
        }
    }
}

/// Leaves out of a GetResp what the Controller may not read: parameters
/// without Param r, instances without InstantiatedObj r. A parameter path
/// that leaves nothing readable is answered as a path not in the Supported
/// DM (7026), as if it did not exist (R-GET.1).
pub fn filter_get(who: &ControllerRights, resp: &mut GetResp) {
    if who.reads_everything(Kind::Param) && who.reads_everything(Kind::InstantiatedObj) {
        return;
    }
    for req in &mut resp.req_path_results {
        if req.err_code != 0 {
            continue;
        }
        let had_params = req
            .resolved_path_results
            .iter()
            .any(|r| !r.result_params.is_empty());
        req.resolved_path_results.retain(|r| {
            !is_instance(&r.resolved_path)
                || who.rights(Kind::InstantiatedObj, &r.resolved_path).read
        });
        for r in &mut req.resolved_path_results {
            let obj = r.resolved_path.clone();
            r.result_params
                .retain(|name, _| who.rights(Kind::Param, &format!("{obj}{name}")).read);
        }
        let param_path = !req.requested_path.ends_with('.');
        let is_search = req.requested_path.contains('*') || req.requested_path.contains('[');
        let left = req
            .resolved_path_results
            .iter()
            .any(|r| !r.result_params.is_empty());
        if param_path && !is_search && had_params && !left {
            req.resolved_path_results.clear();
            req.err_code = errors::INVALID_PATH;
            req.err_msg = format!(
                "Invalid path: \"{}\" is not in the supported data model",
                req.requested_path
            );
        } else if param_path {
            // A search for a parameter drops the instances it may not read.
            req.resolved_path_results
                .retain(|r| !r.result_params.is_empty());
        }
    }
}

/// Leaves out of a GetInstancesResp the instances without InstantiatedObj r (R-GIN.0).
pub fn filter_get_instances(who: &ControllerRights, resp: &mut GetInstancesResp) {
    for req in &mut resp.req_path_results {
        req.curr_insts.retain(|i| {
            who.rights(Kind::InstantiatedObj, &i.instantiated_obj_path)
                .read
        });
        for inst in &mut req.curr_insts {
            let obj = inst.instantiated_obj_path.clone();
            inst.unique_keys
                .retain(|k, _| who.rights(Kind::Param, &format!("{obj}{k}")).read);
        }
    }
}

/// The Supported DM as this Controller may see it: objects without Obj r,
/// parameters without Param r, commands and events without CommandEvent r
/// are absent (R-GSP.0); what it may not write is reported read-only.
pub fn filter_supported_dm(who: &ControllerRights, resp: &mut GetSupportedDmResp) {
    for req in &mut resp.req_obj_results {
        req.supported_objs
            .retain(|o| who.rights(Kind::Obj, &o.supported_obj_path).read);
        for obj in &mut req.supported_objs {
            let path = supported_path(&obj.supported_obj_path);
            let at = |name: &str| format!("{path}{name}");
            if !who.rights(Kind::Obj, &path).write
                && obj.access == ObjAccessType::ObjAddDelete as i32
            {
                obj.access = ObjAccessType::ObjReadOnly as i32;
            }
            obj.supported_params
                .retain(|p| who.rights(Kind::Param, &at(&p.param_name)).read);
            for p in &mut obj.supported_params {
                if !who.rights(Kind::Param, &at(&p.param_name)).write {
                    p.access = ParamAccessType::ParamReadOnly as i32;
                }
            }
            obj.supported_commands
                .retain(|c| who.rights(Kind::CommandEvent, &at(&c.command_name)).read);
            obj.supported_events
                .retain(|e| who.rights(Kind::CommandEvent, &at(&e.event_name)).read);
        }
    }
}

/// Whether a Notify of `notif_type` about `path` may go to `controller`: the
/// `n` right of the column that notification type belongs to.
pub fn may_notify(model: &Model, controller: &str, notif_type: &str, path: &str) -> bool {
    let kind = match notif_type {
        "ValueChange" => Kind::Param,
        "ObjectCreation" => Kind::Obj,
        "ObjectDeletion" => Kind::InstantiatedObj,
        _ => Kind::CommandEvent,
    };
    rights(model, controller, kind, path).notify
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usp::proto::msg::set::{UpdateObject, UpdateParamSetting};
    use crate::usp::proto::msg::{Get, Set};

    const READONLY: &str = "proto::plugfest-readonly";
    const FULL: &str = "proto::plugfest-controller";

    fn set_friendly_name() -> ReqType {
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
        })
    }

    #[test]
    fn read_only_set_is_refused_with_7006() {
        let m = Model::new("proto::agent");
        assert!(refuse(&m, &ControllerRights::of(&m, FULL), &set_friendly_name()).is_none());
        let Some(Refusal::Error(e)) = refuse(
            &m,
            &ControllerRights::of(&m, READONLY),
            &set_friendly_name(),
        ) else {
            panic!("expected an Error");
        };
        assert_eq!(e.err_code, 7006);
        assert_eq!(e.param_errs[0].param_path, "Device.DeviceInfo.FriendlyName");
    }

    #[test]
    fn hidden_parameter_is_absent_from_get() {
        let m = Model::new("proto::agent");
        let req = Get {
            param_paths: vec![
                "Device.DeviceInfo.".into(),
                "Device.DeviceInfo.SerialNumber".into(),
            ],
            max_depth: 0,
        };
        let mut resp = super::super::get::get(&m, &req);
        filter_get(&ControllerRights::of(&m, READONLY), &mut resp);
        let first = &resp.req_path_results[0];
        assert!(first.resolved_path_results[0]
            .result_params
            .contains_key("Manufacturer"));
        assert!(!first.resolved_path_results[0]
            .result_params
            .contains_key("SerialNumber"));
        assert_eq!(resp.req_path_results[1].err_code, 7026);
    }

    #[test]
    fn a_secured_value_shows_only_to_a_secured_role() {
        let mut m = Model::new("proto::agent");
        let ch = "Device.LocalAgent.ControllerTrust.Challenge.1.";
        let value_of = |m: &Model, who: &str| {
            let req = Get {
                param_paths: vec![format!("{ch}Value")],
                max_depth: 0,
            };
            let mut resp = super::super::get::get(m, &req);
            if ControllerRights::of(m, who).holds_secured_role() {
                reveal_secured(m, &mut resp);
            }
            resp.req_path_results[0].resolved_path_results[0].result_params["Value"].clone()
        };
        assert_eq!(value_of(&m, FULL), "");
        let full_role = m
            .value("Device.LocalAgent.Controller.1.", "AssignedRole")
            .unwrap();
        // Listed with or without the trailing dot, the Role reveals it.
        let listed = full_role.trim_end_matches('.').to_string();
        m.put("Device.LocalAgent.ControllerTrust.", "SecuredRoles", listed);
        assert_eq!(value_of(&m, FULL), "cGx1Z2Zlc3Q=");
        // Only to the Controllers holding that Role.
        assert!(!ControllerRights::of(&m, READONLY).holds_secured_role());
    }

    #[test]
    fn hidden_instances_and_items_leave_get_instances_and_gsdm() {
        use crate::usp::proto::msg::{GetInstances, GetSupportedDm};
        let m = Model::new("proto::agent");
        let req = GetInstances {
            obj_paths: vec!["Device.LocalAgent.ControllerTrust.Challenge.".into()],
            first_level_only: true,
        };
        let mut resp = super::super::get::get_instances(&m, &req);
        assert_eq!(resp.req_path_results[0].curr_insts.len(), 1);
        filter_get_instances(&ControllerRights::of(&m, READONLY), &mut resp);
        assert!(resp.req_path_results[0].curr_insts.is_empty());
        let req = GetSupportedDm {
            obj_paths: vec!["Device.DeviceInfo.".into()],
            first_level_only: true,
            return_commands: true,
            return_events: true,
            return_params: true,
            return_unique_key_sets: false,
        };
        let mut resp = super::super::supported::get_supported_dm(&m, &req);
        filter_supported_dm(&ControllerRights::of(&m, READONLY), &mut resp);
        let obj = &resp.req_obj_results[0].supported_objs[0];
        let names: Vec<&str> = obj
            .supported_params
            .iter()
            .map(|p| p.param_name.as_str())
            .collect();
        assert!(names.contains(&"Manufacturer") && !names.contains(&"SerialNumber"));
        assert!(obj
            .supported_params
            .iter()
            .all(|p| p.access == ParamAccessType::ParamReadOnly as i32));
    }

    #[test]
    fn read_only_operate_fails_in_cmd_failure_and_delete_with_7006() {
        use crate::usp::proto::msg::{Delete, Operate};
        let m = Model::new("proto::agent");
        let op = ReqType::Operate(Operate {
            command: "Device.LocalAgent.ControllerTrust.RequestChallenge()".into(),
            command_key: String::new(),
            send_resp: true,
            input_args: Default::default(),
        });
        assert!(refuse(&m, &ControllerRights::of(&m, FULL), &op).is_none());
        let Some(Refusal::Operate(r)) = refuse(&m, &ControllerRights::of(&m, READONLY), &op) else {
            panic!("expected a cmd_failure");
        };
        assert!(matches!(
            &r.operation_results[0].operation_resp,
            Some(OperationResp::CmdFailure(f)) if f.err_code == 7006
        ));
        let del = ReqType::Delete(Delete {
            allow_partial: false,
            obj_paths: vec!["Device.DeviceInfo.FirmwareImage.2.".into()],
        });
        assert!(
            matches!(refuse(&m, &ControllerRights::of(&m, READONLY), &del), Some(Refusal::Error(e)) if e.err_code == 7006)
        );
    }

    #[test]
    fn notify_right_follows_the_role() {
        let m = Model::new("proto::agent");
        assert!(may_notify(
            &m,
            READONLY,
            "ValueChange",
            "Device.DeviceInfo.FriendlyName"
        ));
        assert!(!may_notify(
            &m,
            READONLY,
            "ValueChange",
            "Device.LocalAgent.AdvertisedDeviceSubtypes"
        ));
        assert!(may_notify(
            &m,
            FULL,
            "ValueChange",
            "Device.LocalAgent.AdvertisedDeviceSubtypes"
        ));
    }
}
