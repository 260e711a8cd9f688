//! Add and Delete of table instances: validation first, then all-or-nothing per
//! requested path; Agent-assigned unique keys (R-ADD.5) and TP-469 1.25 semantics.

use super::failure::{error_for, ParamFailure, PathFailure};
use super::model::{Access, Model};
use super::path::Leaf;
use super::resolve::resolve;
use super::types::check_value;
use crate::usp::errors;
use crate::usp::proto::msg::{
    add::CreateObject,
    add_resp::{self, created_object_result::operation_status as add_status},
    delete_resp::{self, deleted_object_result::operation_status as del_status},
    Add, AddResp, Delete, DeleteResp, Error,
};
use std::collections::BTreeMap;

/// One instance to create in `table` with the explicitly given values.
struct PlannedAdd {
    table: String,
    values: BTreeMap<String, String>,
    errs: Vec<ParamFailure>,
}

pub fn add(model: &mut Model, controller_id: &str, req: &Add) -> Result<AddResp, Error> {
    let outcomes: Vec<_> = req
        .create_objs
        .iter()
        .map(|c| plan_add(model, controller_id, c))
        .collect();
    if !req.allow_partial {
        let failed: Vec<(&str, &PathFailure)> = req
            .create_objs
            .iter()
            .zip(&outcomes)
            .filter_map(|(c, o)| o.as_ref().err().map(|f| (c.obj_path.as_str(), f)))
            .collect();
        if !failed.is_empty() {
            return Err(error_for(&failed));
        }
    }
    let mut resp = AddResp::default();
    for (c, outcome) in req.create_objs.iter().zip(outcomes) {
        let statuses = match outcome {
            // A search that matched no table is a success with nothing created (R-MSG.4a).
            Ok(planned) if planned.is_empty() => {
                vec![add_status::OperStatus::OperSuccess(Default::default())]
            }
            Ok(planned) => planned
                .into_iter()
                .map(|p| add_status::OperStatus::OperSuccess(create(model, controller_id, p)))
                .collect(),
            Err(f) => vec![add_status::OperStatus::OperFailure(
                add_status::OperationFailure {
                    err_code: f.code,
                    err_msg: f.msg,
                },
            )],
        };
        for s in statuses {
            resp.created_obj_results
                .push(add_resp::CreatedObjectResult {
                    requested_path: c.obj_path.clone(),
                    oper_status: Some(add_resp::created_object_result::OperationStatus {
                        oper_status: Some(s),
                    }),
                });
        }
    }
    Ok(resp)
}

fn create(model: &mut Model, controller_id: &str, p: PlannedAdd) -> add_status::OperationSuccess {
    let inst = model.create_instance(&p.table);
    let number = inst
        .trim_end_matches('.')
        .rsplit('.')
        .next()
        .unwrap_or("0")
        .to_string();
    let autos: Vec<(String, String)> = model
        .dm
        .object_of(&inst)
        .map(|d| {
            d.params
                .iter()
                .filter_map(|pd| Some((pd.name.clone(), pd.auto.clone()?)))
                .collect()
        })
        .unwrap_or_default();
    let recipient = model.controller_path(controller_id).unwrap_or_default();
    let mut values = p.values;
    for (name, auto) in autos {
        if values.get(&name).is_some_and(|v| !v.is_empty()) {
            continue;
        }
        // R-ADD.5: the Agent assigns every unique key the Controller did not supply;
        // Agent-assigned Aliases carry the `cpe-` prefix.
        let v = match auto.as_str() {
            "alias" => format!("cpe-{number}"),
            "id" => format!("cpe-id-{number}"),
            "recipient" => recipient.clone(),
            "now" => chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            _ => continue,
        };
        values.insert(name, v);
    }
    if let Some(obj) = model.objects.get_mut(&inst) {
        obj.extend(values);
    }
    add_status::OperationSuccess {
        param_errs: p
            .errs
            .iter()
            .map(|e| add_resp::ParameterError {
                param: e.param.clone(),
                err_code: e.code,
                err_msg: e.msg.clone(),
            })
            .collect(),
        unique_keys: model.unique_keys(&inst),
        instantiated_path: inst,
    }
}

fn plan_add(
    model: &Model,
    controller_id: &str,
    c: &CreateObject,
) -> Result<Vec<PlannedAdd>, PathFailure> {
    let r = resolve(model, &c.obj_path).map_err(|e| PathFailure::new(e.code(), e.message()))?;
    if r.leaf != Leaf::Object || !r.ends_at_table {
        return Err(PathFailure::new(
            errors::NOT_A_TABLE,
            format!("{} is not a table", c.obj_path),
        ));
    }
    let def = model
        .dm
        .object(&r.sdm_path)
        .ok_or_else(|| PathFailure::new(errors::INVALID_PATH, "no definition"))?;
    if def.access != Access::AddDelete {
        return Err(PathFailure::new(
            errors::OBJECT_NOT_CREATABLE,
            format!("{} is not creatable by a Controller", c.obj_path),
        ));
    }
    let mut planned = Vec::new();
    for table in &r.objects {
        let mut p = PlannedAdd {
            table: table.clone(),
            values: BTreeMap::new(),
            errs: Vec::new(),
        };
        for s in &c.param_settings {
            // Unique keys are always treated as required (TR-369 Add).
            let required = s.required || def.is_unique_key(&s.param);
            let fail = |code: u32, msg: String| ParamFailure {
                param: s.param.clone(),
                code,
                msg,
                required,
            };
            let check = match def.param(&s.param) {
                None => Err(fail(
                    errors::UNSUPPORTED_PARAMETER,
                    format!("{} is not a parameter of {}", s.param, def.path),
                )),
                Some(pd) if pd.access != Access::ReadWrite => Err(fail(
                    errors::PARAM_READ_ONLY,
                    format!("{} is read-only", s.param),
                )),
                Some(pd) => check_value(pd, &s.value).map_err(|(code, msg)| fail(code, msg)),
            };
            match check {
                Ok(()) => {
                    p.values.insert(s.param.clone(), s.value.clone());
                }
                Err(e) => p.errs.push(e),
            }
        }
        // Agent-filled keys (Recipient) take part in the {Recipient, ID} uniqueness check.
        let mut keyed = p.values.clone();
        for pd in def
            .params
            .iter()
            .filter(|pd| pd.auto.as_deref() == Some("recipient"))
        {
            keyed.insert(
                pd.name.clone(),
                model.controller_path(controller_id).unwrap_or_default(),
            );
        }
        if let Some(keys) = model.duplicate_key(table, None, &keyed) {
            let param = keys
                .split('+')
                .find(|k| p.values.contains_key(*k))
                .unwrap_or("")
                .to_string();
            p.values.remove(&param);
            p.errs.push(ParamFailure {
                param,
                code: errors::VALUE_CONFLICT,
                msg: format!("an instance with this {keys} already exists"),
                required: true,
            });
        }
        planned.push(p);
    }
    let per_obj: Vec<(String, Vec<ParamFailure>)> = planned
        .iter()
        .map(|p| (c.obj_path.clone(), p.errs.clone()))
        .collect();
    match PathFailure::from_params(per_obj) {
        Some(f) => Err(f),
        None => Ok(planned),
    }
}

pub fn delete(model: &mut Model, req: &Delete) -> Result<DeleteResp, Error> {
    let outcomes: Vec<_> = req
        .obj_paths
        .iter()
        .map(|p| plan_delete(model, p))
        .collect();
    if !req.allow_partial {
        let failed: Vec<(&str, &PathFailure)> = req
            .obj_paths
            .iter()
            .zip(&outcomes)
            .filter_map(|(p, o)| o.as_ref().err().map(|f| (p.as_str(), f)))
            .collect();
        if !failed.is_empty() {
            return Err(error_for(&failed));
        }
    }
    let mut resp = DeleteResp::default();
    for (path, outcome) in req.obj_paths.iter().zip(outcomes) {
        let status = match outcome {
            Ok(insts) => del_status::OperStatus::OperSuccess(del_status::OperationSuccess {
                affected_paths: insts.iter().flat_map(|i| model.delete(i)).collect(),
                unaffected_path_errs: Vec::new(),
            }),
            Err(f) => del_status::OperStatus::OperFailure(del_status::OperationFailure {
                err_code: f.code,
                err_msg: f.msg,
            }),
        };
        resp.deleted_obj_results
            .push(delete_resp::DeletedObjectResult {
                requested_path: path.clone(),
                oper_status: Some(delete_resp::deleted_object_result::OperationStatus {
                    oper_status: Some(status),
                }),
            });
    }
    Ok(resp)
}

/// The instances a Delete path removes. A well-formed path to an instance that does not
/// exist deletes nothing and succeeds (R-DEL.2a; TP-469 1.25/1.29).
fn plan_delete(model: &Model, path: &str) -> Result<Vec<String>, PathFailure> {
    let r = resolve(model, path).map_err(|e| PathFailure::new(e.code(), e.message()))?;
    if r.leaf != Leaf::Object || r.ends_at_table || !r.sdm_path.ends_with(".{i}.") {
        return Err(PathFailure::new(
            errors::OPERATION_ERROR,
            format!("{path} is not an object instance path"),
        ));
    }
    let deletable = model
        .dm
        .object(&r.sdm_path)
        .is_some_and(|d| d.access == Access::AddDelete);
    if !deletable {
        return Err(PathFailure::new(
            errors::DELETE_FAILURE,
            format!(
                "instances of {} cannot be deleted by a Controller",
                r.sdm_path
            ),
        ));
    }
    Ok(r.objects)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usp::proto::msg::add::CreateParamSetting;

    const CTRL: &str = "proto::plugfest-controller";

    fn create_obj(path: &str, settings: &[(&str, &str, bool)]) -> CreateObject {
        CreateObject {
            obj_path: path.into(),
            param_settings: settings
                .iter()
                .map(|(p, v, r)| CreateParamSetting {
                    param: (*p).into(),
                    value: (*v).into(),
                    required: *r,
                })
                .collect(),
        }
    }

    fn add_one(m: &mut Model, partial: bool, c: CreateObject) -> Result<AddResp, Error> {
        add(
            m,
            CTRL,
            &Add {
                allow_partial: partial,
                create_objs: vec![c],
            },
        )
    }

    fn status(resp: &AddResp) -> &add_status::OperStatus {
        resp.created_obj_results[0]
            .oper_status
            .as_ref()
            .and_then(|s| s.oper_status.as_ref())
            .expect("an oper_status")
    }

    #[test]
    fn add_subscription_returns_all_unique_keys() {
        let mut m = Model::new("proto::a");
        let resp = add_one(
            &mut m,
            false,
            create_obj(
                "Device.LocalAgent.Subscription.",
                &[
                    ("NotifType", "ValueChange", true),
                    ("Enable", "true", false),
                ],
            ),
        )
        .unwrap();
        let add_status::OperStatus::OperSuccess(ok) = status(&resp) else {
            panic!("expected success: {resp:?}");
        };
        assert_eq!(ok.instantiated_path, "Device.LocalAgent.Subscription.1.");
        assert_eq!(ok.unique_keys["Alias"], "cpe-1");
        assert_eq!(
            ok.unique_keys["Recipient"],
            "Device.LocalAgent.Controller.1"
        );
        assert!(!ok.unique_keys["ID"].is_empty());
        assert_eq!(
            m.value("Device.LocalAgent.", "SubscriptionNumberOfEntries")
                .as_deref(),
            Some("1")
        );
        assert!(m
            .value("Device.LocalAgent.Subscription.1.", "CreationDate")
            .is_some_and(|d| d.ends_with('Z')));
    }

    #[test]
    fn add_failures_follow_allow_partial() {
        let mut m = Model::new("proto::a");
        let bad = || {
            create_obj(
                "Device.LocalAgent.Subscription.",
                &[("NotifType", "Nope", true)],
            )
        };
        let err = add_one(&mut m, false, bad()).unwrap_err();
        assert_eq!(
            err.param_errs[0].param_path,
            "Device.LocalAgent.Subscription.NotifType"
        );
        assert_eq!(err.param_errs[0].err_code, 7012);
        let resp = add_one(&mut m, true, bad()).unwrap();
        assert!(
            matches!(status(&resp), add_status::OperStatus::OperFailure(f) if f.err_code == 7012)
        );
        let resp = add_one(
            &mut m,
            false,
            create_obj(
                "Device.LocalAgent.Subscription.",
                &[("NotifType", "Nope", false)],
            ),
        )
        .unwrap();
        assert!(
            matches!(status(&resp), add_status::OperStatus::OperSuccess(ok) if ok.param_errs[0].err_code == 7012)
        );
        for (path, code) in [
            ("Device.DeviceInfo.", 7018),
            ("Device.LocalAgent.MTP.", 7019),
            ("Device.LocalAgent.Nope.", 7026),
        ] {
            let err = add_one(&mut m, false, create_obj(path, &[])).unwrap_err();
            assert_eq!(err.param_errs[0].err_code, code, "{path}");
        }
        let resp = add_one(&mut m, true, create_obj("Device.LocalAgent.MTP.", &[])).unwrap();
        assert!(
            matches!(status(&resp), add_status::OperStatus::OperFailure(f) if f.err_code == 7019)
        );
    }

    #[test]
    fn add_with_duplicate_keys_fails() {
        let mut m = Model::new("proto::a");
        let sub = || {
            create_obj(
                "Device.LocalAgent.Subscription.",
                &[("ID", "s1", true), ("Alias", "mine", false)],
            )
        };
        add_one(&mut m, false, sub()).unwrap();
        let err = add_one(&mut m, false, sub()).unwrap_err();
        assert_eq!(err.param_errs[0].err_code, 7014);
        assert_eq!(m.instances("Device.LocalAgent.Subscription.").len(), 1);
    }

    #[test]
    fn add_boot_parameter_via_search_path() {
        let mut m = Model::new("proto::a");
        let path = "Device.LocalAgent.Controller.[EndpointID==\"proto::plugfest-controller\"].BootParameter.";
        let resp = add_one(
            &mut m,
            false,
            create_obj(path, &[("ParameterName", "Device.DeviceInfo.", true)]),
        )
        .unwrap();
        assert!(matches!(status(&resp),
            add_status::OperStatus::OperSuccess(ok) if ok.instantiated_path == "Device.LocalAgent.Controller.1.BootParameter.1."));
    }

    #[test]
    fn delete_semantics() {
        let mut m = Model::new("proto::a");
        add_one(
            &mut m,
            false,
            create_obj("Device.LocalAgent.Subscription.", &[]),
        )
        .unwrap();
        let del = |m: &mut Model, partial: bool, p: &str| {
            delete(
                m,
                &Delete {
                    allow_partial: partial,
                    obj_paths: vec![p.into()],
                },
            )
        };
        let resp = del(&mut m, false, "Device.LocalAgent.Subscription.1.").unwrap();
        let ok = |resp: &DeleteResp| match resp.deleted_obj_results[0]
            .oper_status
            .as_ref()
            .and_then(|s| s.oper_status.clone())
        {
            Some(del_status::OperStatus::OperSuccess(ok)) => ok.affected_paths,
            other => panic!("expected success, got {other:?}"),
        };
        assert_eq!(ok(&resp), ["Device.LocalAgent.Subscription.1."]);
        // TP-469 1.25: a non-existent instance of a valid table is an empty success.
        assert!(ok(&del(&mut m, false, "Device.LocalAgent.Subscription.1.").unwrap()).is_empty());
        assert_eq!(
            del(&mut m, false, "Device.LocalAgent.Nope.1.")
                .unwrap_err()
                .param_errs[0]
                .err_code,
            7026
        );
        let resp = del(&mut m, true, "Device.LocalAgent.Nope.1.").unwrap();
        assert!(matches!(
            resp.deleted_obj_results[0].oper_status.as_ref().and_then(|s| s.oper_status.as_ref()),
            Some(del_status::OperStatus::OperFailure(f)) if f.err_code == 7026
        ));
        assert_eq!(
            del(&mut m, false, "Device.DeviceInfo.FirmwareImage.1.")
                .unwrap_err()
                .param_errs[0]
                .err_code,
            7024
        );
        assert_eq!(m.instances("Device.DeviceInfo.FirmwareImage.").len(), 2);
    }
}
