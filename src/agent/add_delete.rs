//! Add and Delete of table instances: validation first, then all-or-nothing per
//! requested path; Agent-assigned unique keys (R-ADD.5) and TP-469 1.25 semantics.
//! Add also applies the sending Controller's Role per object (ControllerTrust:1):
//! a table it may not create in is refused with 7006 on its own (TP-469 2.23/2.24),
//! a parameter it may not write is a parameter failure when included and left
//! at its default when omitted (TP-469 2.25/2.26).

use super::add_trust::AddTrust;
use super::add_trust::{permission_error, table_refused, whole_add_refused};
use super::failure::{error_for, ParamFailure, PathFailure};
use super::model::{Access, Model};
use super::path::Leaf;
use super::resolve::resolve;
use super::trust::{rights, Kind};
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

const ROLE_INSTANCE: &str = "Device.LocalAgent.ControllerTrust.Role.{i}.";
const PERMISSION_INSTANCE: &str = "Device.LocalAgent.ControllerTrust.Role.{i}.Permission.{i}.";

/// The outcome of one CreateObject: a failure of the whole requested path,
/// or one outcome per table it resolved to (a table the Role may not create
/// in fails on its own).
type Planned = Result<Vec<Result<PlannedAdd, PathFailure>>, PathFailure>;

pub fn add(
    model: &mut Model,
    controller_id: &str,
    req: &Add,
    trust: AddTrust,
) -> Result<AddResp, Error> {
    let outcomes: Vec<Planned> = req
        .create_objs
        .iter()
        .map(|c| plan_add(model, controller_id, c, trust))
        .collect();
    if trust.all_or_nothing
        && outcomes
            .iter()
            .flat_map(failures)
            .any(|f| f.code == errors::PERMISSION_DENIED)
    {
        return Err(whole_add_refused(req));
    }
    if !req.allow_partial {
        let failed: Vec<(&str, &PathFailure)> = req
            .create_objs
            .iter()
            .zip(&outcomes)
            .flat_map(|(c, o)| failures(o).into_iter().map(|f| (c.obj_path.as_str(), f)))
            .collect();
        if !failed.is_empty() {
            return Err(permission_error(error_for(&failed)));
        }
    }
    let mut resp = AddResp::default();
    for (c, outcome) in req.create_objs.iter().zip(outcomes) {
        let failure = |f: PathFailure| {
            add_status::OperStatus::OperFailure(add_status::OperationFailure {
                err_code: f.code,
                err_msg: f.msg,
            })
        };
        let statuses = match outcome {
            // A search that matched no table is a success with nothing created (R-MSG.4a).
            Ok(planned) if planned.is_empty() => {
                vec![add_status::OperStatus::OperSuccess(Default::default())]
            }
            Ok(planned) => planned
                .into_iter()
                .map(|p| match p {
                    Ok(p) => {
                        let ok = create(model, controller_id, p);
                        let created = super::model::supported_path(&ok.instantiated_path);
                        if (trust.added_roles_disabled && created == ROLE_INSTANCE)
                            || (trust.added_permissions_disabled && created == PERMISSION_INSTANCE)
                        {
                            model.put(&ok.instantiated_path, "Enable", "false");
                        }
                        add_status::OperStatus::OperSuccess(ok)
                    }
                    Err(f) => failure(f),
                })
                .collect(),
            Err(f) => vec![failure(f)],
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
    if let Some(obj) = model.objects_mut().get_mut(&inst) {
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

/// Every failure in one CreateObject's outcome: of the path, or of its tables.
fn failures(o: &Planned) -> Vec<&PathFailure> {
    match o {
        Err(f) => vec![f],
        Ok(tables) => tables.iter().filter_map(|t| t.as_ref().err()).collect(),
    }
}

fn plan_add(model: &Model, controller_id: &str, c: &CreateObject, trust: AddTrust) -> Planned {
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
    let mut outcomes: Vec<Option<PathFailure>> = Vec::new();
    for table in &r.objects {
        if trust.enforce && !rights(model, controller_id, Kind::Obj, table).write {
            outcomes.push(Some(table_refused(table)));
            continue;
        }
        outcomes.push(None);
        // Param w is asked of the instance to be (`...Subscription.{i}.Enable`).
        let may_write = |param: &str| {
            !trust.enforce
                || rights(
                    model,
                    controller_id,
                    Kind::Param,
                    &format!("{table}{{i}}.{param}"),
                )
                .write
        };
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
                // Included but not writable for this Role: a parameter failure
                // under the usual required/allow_partial rules (TP-469 2.26).
                Some(pd) if pd.access == Access::ReadWrite && !may_write(&s.param) => Err(fail(
                    errors::PERMISSION_DENIED,
                    format!(
                        "Permission denied: this Controller's Role has no write permission (Param w) on {}",
                        s.param
                    ),
                )),
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
        // Omitted parameters the Role may not write simply keep their
        // defaults (TP-469 2.25); the fault refuses them instead.
        if trust.strict_omitted {
            for pd in def.params.iter().filter(|pd| {
                pd.access == Access::ReadWrite
                    && pd.auto.is_none()
                    && !c.param_settings.iter().any(|s| s.param == pd.name)
                    && !may_write(&pd.name)
            }) {
                p.errs.push(ParamFailure {
                    param: pd.name.clone(),
                    code: errors::PERMISSION_DENIED,
                    msg: format!(
                        "Permission denied: this Controller's Role has no write permission (Param w) on {}",
                        pd.name
                    ),
                    required: true,
                });
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
    if let Some(f) = PathFailure::from_params(per_obj) {
        return Err(f);
    }
    let mut planned = planned.into_iter();
    Ok(outcomes
        .into_iter()
        .filter_map(|refused| match refused {
            Some(f) => Some(Err(f)),
            None => planned.next().map(Ok),
        })
        .collect())
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
            AddTrust::ENFORCE,
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

    /// Role 1 (CTRL's) gets a Permission: `cols` = (Param, Obj) on `target`.
    fn permit(m: &mut Model, order: &str, target: &str, param: &str, obj: &str) {
        let p = m.create_instance("Device.LocalAgent.ControllerTrust.Role.1.Permission.");
        for (k, v) in [
            ("Enable", "true"),
            ("Order", order),
            ("Targets", target),
            ("Param", param),
            ("Obj", obj),
            ("InstantiatedObj", "rw--"),
        ] {
            m.put(&p, k, v);
        }
    }

    #[test]
    fn a_table_the_role_may_not_create_in_fails_alone() {
        let mut m = Model::new("proto::a");
        permit(
            &mut m,
            "5",
            "Device.LocalAgent.Controller.2.BootParameter.",
            "r---",
            "r---",
        );
        let search = || create_obj("Device.LocalAgent.Controller.*.BootParameter.", &[]);
        // allow_partial true: Controller.1 gets its row, Controller.2 a 7006 (TP-469 2.23).
        let resp = add_one(&mut m, true, search()).unwrap();
        assert_eq!(resp.created_obj_results.len(), 2);
        let outcome = |i: usize| {
            resp.created_obj_results[i]
                .oper_status
                .as_ref()
                .and_then(|s| s.oper_status.clone())
        };
        assert!(matches!(outcome(0),
            Some(add_status::OperStatus::OperSuccess(ok)) if ok.instantiated_path == "Device.LocalAgent.Controller.1.BootParameter.1."));
        assert!(matches!(outcome(1),
            Some(add_status::OperStatus::OperFailure(f)) if f.err_code == 7006));
        // allow_partial false: an Error 7006 naming the refused table, nothing created (2.24).
        let err = add_one(&mut m, false, search()).unwrap_err();
        assert_eq!(err.err_code, 7006);
        assert_eq!(err.param_errs.len(), 1);
        assert_eq!(
            err.param_errs[0].param_path,
            "Device.LocalAgent.Controller.2.BootParameter."
        );
        assert_eq!(
            m.instances("Device.LocalAgent.Controller.1.BootParameter.")
                .len(),
            1
        );
    }

    #[test]
    fn a_parameter_the_role_may_not_write_is_defaulted_or_fails() {
        let mut m = Model::new("proto::a");
        permit(
            &mut m,
            "5",
            "Device.LocalAgent.Subscription.*.Enable",
            "r---",
            "r---",
        );
        let sub = |enable: bool| {
            let mut p = vec![("ID", "s", true), ("NotifType", "ValueChange", true)];
            if enable {
                p.push(("Enable", "true", true));
            }
            create_obj("Device.LocalAgent.Subscription.", &p)
        };
        // Omitted: created, Enable at its default (TP-469 2.25).
        let resp = add_one(&mut m, false, sub(false)).unwrap();
        let add_status::OperStatus::OperSuccess(ok) = status(&resp) else {
            panic!("expected success: {resp:?}");
        };
        assert_eq!(
            m.value(&ok.instantiated_path, "Enable").as_deref(),
            Some("false")
        );
        // Included and required: the object fails with 7006 (TP-469 2.26).
        let resp = add_one(&mut m, true, sub(true)).unwrap();
        assert!(
            matches!(status(&resp), add_status::OperStatus::OperFailure(f) if f.err_code == 7006)
        );
        assert_eq!(m.instances("Device.LocalAgent.Subscription.").len(), 1);
        // The fault refuses the omitted one too.
        let strict = AddTrust {
            strict_omitted: true,
            ..AddTrust::ENFORCE
        };
        let req = Add {
            allow_partial: false,
            create_objs: vec![create_obj(
                "Device.LocalAgent.Subscription.",
                &[("ID", "t", true)],
            )],
        };
        assert_eq!(add(&mut m, CTRL, &req, strict).unwrap_err().err_code, 7006);
    }
}
