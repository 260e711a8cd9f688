//! Set: validates every UpdateObject against the Supported DM before writing
//! anything, then applies each obj_path atomically (R-SET.2a).

use super::failure::{error_for, ParamFailure, PathFailure};
use super::model::{supported_path, Access, Model};
use super::path::Leaf;
use super::resolve::resolve;
use super::types::check_value;
use crate::usp::errors;
use crate::usp::proto::msg::{
    set::UpdateObject,
    set_resp::{self, updated_object_result::operation_status as status},
    Error, Set, SetResp,
};
use std::collections::BTreeMap;

/// The writes one object instance will receive, and its non-fatal parameter errors.
struct Planned {
    obj: String,
    updates: BTreeMap<String, String>,
    errs: Vec<ParamFailure>,
}

pub fn set(model: &mut Model, req: &Set) -> Result<SetResp, Error> {
    let outcomes: Vec<Result<Vec<Planned>, PathFailure>> =
        req.update_objs.iter().map(|u| plan(model, u)).collect();
    if !req.allow_partial {
        let failed: Vec<(&str, &PathFailure)> = req
            .update_objs
            .iter()
            .zip(&outcomes)
            .filter_map(|(u, o)| o.as_ref().err().map(|f| (u.obj_path.as_str(), f)))
            .collect();
        if !failed.is_empty() {
            return Err(error_for(&failed));
        }
    }
    let mut resp = SetResp::default();
    for (u, outcome) in req.update_objs.iter().zip(outcomes) {
        let oper_status = match outcome {
            Ok(planned) => {
                let mut ok = status::OperationSuccess::default();
                for p in planned {
                    if let Some(obj) = model.objects_mut().get_mut(&p.obj) {
                        obj.extend(p.updates.clone());
                    }
                    ok.updated_inst_results
                        .push(set_resp::UpdatedInstanceResult {
                            affected_path: p.obj,
                            param_errs: p.errs.iter().map(param_error).collect(),
                            updated_params: p.updates,
                        });
                }
                status::OperStatus::OperSuccess(ok)
            }
            Err(f) => status::OperStatus::OperFailure(status::OperationFailure {
                err_code: f.code,
                err_msg: f.msg,
                updated_inst_failures: f
                    .objects
                    .into_iter()
                    .map(|(obj, errs)| set_resp::UpdatedInstanceFailure {
                        affected_path: obj,
                        param_errs: errs.iter().map(param_error).collect(),
                    })
                    .collect(),
            }),
        };
        resp.updated_obj_results
            .push(set_resp::UpdatedObjectResult {
                requested_path: u.obj_path.clone(),
                oper_status: Some(set_resp::updated_object_result::OperationStatus {
                    oper_status: Some(oper_status),
                }),
            });
    }
    Ok(resp)
}

fn param_error(e: &ParamFailure) -> set_resp::ParameterError {
    set_resp::ParameterError {
        param: e.param.clone(),
        err_code: e.code,
        err_msg: e.msg.clone(),
    }
}

fn plan(model: &Model, upd: &UpdateObject) -> Result<Vec<Planned>, PathFailure> {
    let r = resolve(model, &upd.obj_path).map_err(|e| PathFailure::new(e.code(), e.message()))?;
    if r.leaf != Leaf::Object {
        return Err(PathFailure::new(
            errors::INVALID_PATH,
            format!("{} is not an object path", upd.obj_path),
        ));
    }
    if r.ends_at_table {
        return Err(PathFailure::new(
            errors::OBJECT_NOT_UPDATED,
            format!("{} is a table, not an object instance", upd.obj_path),
        ));
    }
    if r.objects.is_empty() && !r.is_search {
        return Err(PathFailure::new(
            errors::OBJECT_DOES_NOT_EXIST,
            format!("{} does not exist", upd.obj_path),
        ));
    }
    let mut planned = Vec::new();
    for obj in &r.objects {
        let mut p = Planned {
            obj: obj.clone(),
            updates: BTreeMap::new(),
            errs: Vec::new(),
        };
        let def = model.dm.object_of(obj);
        for s in &upd.param_settings {
            let fail = |code: u32, msg: String| ParamFailure {
                param: s.param.clone(),
                code,
                msg,
                required: s.required,
            };
            let check = match def.and_then(|d| d.param(&s.param)) {
                None => Err(fail(
                    errors::UNSUPPORTED_PARAMETER,
                    format!("{obj}{} is not supported", s.param),
                )),
                Some(pd) if pd.access != Access::ReadWrite => Err(fail(
                    errors::PARAM_READ_ONLY,
                    format!("{obj}{} is read-only", s.param),
                )),
                Some(pd) => check_value(pd, &s.value).map_err(|(code, msg)| fail(code, msg)),
            };
            match check {
                Ok(()) => {
                    p.updates.insert(s.param.clone(), s.value.clone());
                }
                Err(e) => p.errs.push(e),
            }
        }
        // A unique key may not take a value another instance already has: 7014 (Value
        // conflict), as 7025 is outside the codes the spec allows for Set.
        let table = obj
            .trim_end_matches('.')
            .rsplit_once('.')
            .map(|(t, _)| format!("{t}."));
        if let (Some(table), true) = (table, supported_path(obj).ends_with(".{i}.")) {
            if let Some(keys) = model.duplicate_key(&table, Some(obj), &p.updates) {
                let clashing: Vec<String> = keys
                    .split('+')
                    .filter(|k| p.updates.contains_key(*k))
                    .map(str::to_string)
                    .collect();
                for k in clashing {
                    p.updates.remove(&k);
                    p.errs.push(ParamFailure {
                        param: k.clone(),
                        code: errors::VALUE_CONFLICT,
                        msg: format!("another instance already has this {keys}"),
                        required: upd
                            .param_settings
                            .iter()
                            .any(|s| s.param == k && s.required),
                    });
                }
            }
        }
        planned.push(p);
    }
    let objects: Vec<(String, Vec<ParamFailure>)> = planned
        .iter()
        .map(|p| (p.obj.clone(), p.errs.clone()))
        .collect();
    match PathFailure::from_params(objects) {
        Some(f) => Err(f),
        None => Ok(planned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usp::proto::msg::set::UpdateParamSetting;

    fn upd(path: &str, settings: &[(&str, &str, bool)]) -> UpdateObject {
        UpdateObject {
            obj_path: path.into(),
            param_settings: settings
                .iter()
                .map(|(p, v, r)| UpdateParamSetting {
                    param: (*p).into(),
                    value: (*v).into(),
                    required: *r,
                })
                .collect(),
        }
    }

    fn success(resp: &SetResp, i: usize) -> &status::OperationSuccess {
        match resp.updated_obj_results[i]
            .oper_status
            .as_ref()
            .and_then(|s| s.oper_status.as_ref())
        {
            Some(status::OperStatus::OperSuccess(ok)) => ok,
            other => panic!("expected oper_success, got {other:?}"),
        }
    }

    #[test]
    fn set_writes_and_reports_updated_params() {
        let mut m = Model::new("proto::a");
        let req = Set {
            allow_partial: false,
            update_objs: vec![upd(
                "Device.DeviceInfo.",
                &[("FriendlyName", "lab box", true)],
            )],
        };
        let resp = set(&mut m, &req).unwrap();
        assert_eq!(
            success(&resp, 0).updated_inst_results[0].updated_params["FriendlyName"],
            "lab box"
        );
        assert_eq!(
            m.value("Device.DeviceInfo.", "FriendlyName").as_deref(),
            Some("lab box")
        );
    }

    #[test]
    fn allow_partial_false_failure_is_an_error_with_full_param_path_and_nothing_written() {
        let mut m = Model::new("proto::a");
        let req = Set {
            allow_partial: false,
            update_objs: vec![
                upd("Device.DeviceInfo.", &[("FriendlyName", "changed", true)]),
                upd("Device.DeviceInfo.", &[("Manufacturer", "x", true)]),
            ],
        };
        let err = set(&mut m, &req).unwrap_err();
        assert_eq!(
            err.param_errs[0].param_path,
            "Device.DeviceInfo.Manufacturer"
        );
        assert_eq!(err.param_errs[0].err_code, 7013);
        assert_ne!(
            m.value("Device.DeviceInfo.", "FriendlyName").as_deref(),
            Some("changed")
        );
        for (param, value, code) in [
            ("Nope", "x", 7010),
            ("FriendlyName", &"x".repeat(33)[..], 7012),
        ] {
            let req = Set {
                allow_partial: false,
                update_objs: vec![upd("Device.DeviceInfo.", &[(param, value, true)])],
            };
            assert_eq!(set(&mut m, &req).unwrap_err().param_errs[0].err_code, code);
        }
        let req = Set {
            allow_partial: false,
            update_objs: vec![upd(
                "Device.LocalAgent.MTP.1.",
                &[("Enable", "maybe", true)],
            )],
        };
        assert_eq!(set(&mut m, &req).unwrap_err().param_errs[0].err_code, 7011);
    }

    #[test]
    fn allow_partial_true_gives_oper_failure_or_param_errs() {
        let mut m = Model::new("proto::a");
        let req = Set {
            allow_partial: true,
            update_objs: vec![
                upd("Device.DeviceInfo.", &[("Manufacturer", "x", true)]),
                upd(
                    "Device.DeviceInfo.",
                    &[("FriendlyName", "ok", true), ("SerialNumber", "x", false)],
                ),
                upd(
                    "Device.LocalAgent.MTP.[Alias==\"none\"].",
                    &[("Enable", "true", true)],
                ),
            ],
        };
        let resp = set(&mut m, &req).unwrap();
        match resp.updated_obj_results[0]
            .oper_status
            .as_ref()
            .and_then(|s| s.oper_status.as_ref())
        {
            Some(status::OperStatus::OperFailure(f)) => {
                assert_eq!(f.err_code, 7013);
                assert_eq!(
                    f.updated_inst_failures[0].param_errs[0].param,
                    "Manufacturer"
                );
            }
            other => panic!("expected oper_failure, got {other:?}"),
        }
        let ok = &success(&resp, 1).updated_inst_results[0];
        assert_eq!(ok.updated_params["FriendlyName"], "ok");
        assert_eq!(ok.param_errs[0].param, "SerialNumber");
        assert!(success(&resp, 2).updated_inst_results.is_empty());
    }

    #[test]
    fn missing_instance_and_duplicate_alias_fail() {
        let mut m = Model::new("proto::a");
        let req = Set {
            allow_partial: false,
            update_objs: vec![upd("Device.LocalAgent.MTP.9.", &[("Enable", "true", true)])],
        };
        assert_eq!(set(&mut m, &req).unwrap_err().param_errs[0].err_code, 7016);
        let req = Set {
            allow_partial: false,
            update_objs: vec![upd(
                "Device.DeviceInfo.FirmwareImage.2.",
                &[("Alias", "cpe-1", true)],
            )],
        };
        assert_eq!(set(&mut m, &req).unwrap_err().param_errs[0].err_code, 7014);
    }
}
