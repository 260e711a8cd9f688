//! Applies the Msg-level faults of a FaultSet to an answer `Agent::handle` built
//! correctly, so each fault is one observable deviation from the spec.

use super::faults::{Fault, FaultSet};
use super::model::Model;
use crate::usp::errors;
use crate::usp::msg;
use crate::usp::proto::msg::{
    add_resp::created_object_result::operation_status::OperStatus as AddStatus, body::MsgBody,
    delete_resp::deleted_object_result::operation_status::OperStatus as DelStatus,
    operate_resp::operation_result::OperationResp, request::ReqType, response::RespType,
    set_resp::updated_object_result::operation_status::OperStatus as SetStatus, GetInstancesResp,
    GetResp, Msg,
};

/// `wrong-msg-type`: a Get gets a GetInstancesResp, anything else a GetResp (both empty).
pub fn wrong_type_answer(msg_id: &str, req: &ReqType) -> Msg {
    match req {
        ReqType::Get(_) => msg::response(
            msg_id,
            RespType::GetInstancesResp(GetInstancesResp::default()),
        ),
        _ => msg::response(msg_id, RespType::GetResp(GetResp::default())),
    }
}

pub fn apply(faults: &FaultSet, model: &Model, answer: &mut Msg) {
    if faults.contains(Fault::WrongMsgId) {
        if let Some(h) = answer.header.as_mut() {
            h.msg_id.push_str("-x");
        }
    }
    let Some(body) = answer.body.as_mut().and_then(|b| b.msg_body.as_mut()) else {
        return;
    };
    if faults.contains(Fault::MissingParameter) {
        drop_manufacturer(body);
    }
    if faults.contains(Fault::MqttProfileIncomplete) {
        drop_supported_object(body, "Device.MQTT.Client.{i}.Subscription.{i}.");
    }
    if faults.contains(Fault::StompProfileIncomplete) {
        drop_supported_object(body, "Device.LocalAgent.Controller.{i}.MTP.{i}.STOMP.");
    }
    if faults.contains(Fault::WrongValueType) {
        mistype_values(model, body);
    }
    if faults.contains(Fault::WrongCommandArgs) {
        if let MsgBody::Response(r) = &mut *body {
            if let Some(RespType::GetSupportedDmResp(g)) = r.resp_type.as_mut() {
                super::supported::misname_arguments(g);
            }
        }
    }
    if faults.contains(Fault::WrongErrorCode) {
        each_error_code(body, &mut |c| {
            if *c != 0 {
                *c = errors::INTERNAL_ERROR;
            }
        });
    }
}

const DEVICE_INFO: &str = "Device.DeviceInfo.";

fn drop_manufacturer(body: &mut MsgBody) {
    let MsgBody::Response(r) = body else { return };
    match r.resp_type.as_mut() {
        Some(RespType::GetResp(g)) => {
            for res in g
                .req_path_results
                .iter_mut()
                .flat_map(|p| p.resolved_path_results.iter_mut())
            {
                if res.resolved_path == DEVICE_INFO {
                    res.result_params.remove("Manufacturer");
                }
            }
        }
        Some(RespType::GetSupportedDmResp(g)) => {
            for obj in g
                .req_obj_results
                .iter_mut()
                .flat_map(|r| r.supported_objs.iter_mut())
            {
                if obj.supported_obj_path == DEVICE_INFO {
                    obj.supported_params
                        .retain(|p| p.param_name != "Manufacturer");
                }
            }
        }
        _ => {}
    }
}

/// `mqtt-profile-incomplete`: the MQTT client's Subscription table is
/// missing from GetSupportedDMResp.
/// A GetSupportedDMResp that leaves out one object a profile requires.
fn drop_supported_object(body: &mut MsgBody, path: &str) {
    let MsgBody::Response(r) = body else { return };
    if let Some(RespType::GetSupportedDmResp(g)) = r.resp_type.as_mut() {
        for res in g.req_obj_results.iter_mut() {
            res.supported_objs.retain(|o| o.supported_obj_path != path);
        }
    }
}

fn mistype_values(model: &Model, body: &mut MsgBody) {
    let MsgBody::Response(r) = body else { return };
    let Some(RespType::GetResp(g)) = r.resp_type.as_mut() else {
        return;
    };
    for res in g
        .req_path_results
        .iter_mut()
        .flat_map(|p| p.resolved_path_results.iter_mut())
    {
        let Some(def) = model.dm.object_of(&res.resolved_path) else {
            continue;
        };
        for (name, value) in res.result_params.iter_mut() {
            match def.param(name).map(|p| p.value_type.as_str()) {
                Some("boolean") => *value = "yes".into(),
                Some("unsignedInt" | "int" | "unsignedLong" | "long") => {
                    *value = "not-a-number".into()
                }
                _ => {}
            }
        }
    }
}

/// Visits every error code an answer can carry.
fn each_error_code(body: &mut MsgBody, f: &mut dyn FnMut(&mut u32)) {
    let resp = match body {
        MsgBody::Error(e) => {
            f(&mut e.err_code);
            e.param_errs.iter_mut().for_each(|p| f(&mut p.err_code));
            return;
        }
        MsgBody::Response(r) => r.resp_type.as_mut(),
        MsgBody::Request(_) => None,
    };
    match resp {
        Some(RespType::GetResp(g)) => g
            .req_path_results
            .iter_mut()
            .for_each(|r| f(&mut r.err_code)),
        Some(RespType::GetInstancesResp(g)) => g
            .req_path_results
            .iter_mut()
            .for_each(|r| f(&mut r.err_code)),
        Some(RespType::GetSupportedDmResp(g)) => g
            .req_obj_results
            .iter_mut()
            .for_each(|r| f(&mut r.err_code)),
        Some(RespType::SetResp(s)) => {
            for st in s
                .updated_obj_results
                .iter_mut()
                .filter_map(|r| r.oper_status.as_mut()?.oper_status.as_mut())
            {
                match st {
                    SetStatus::OperFailure(fail) => {
                        f(&mut fail.err_code);
                        for i in &mut fail.updated_inst_failures {
                            i.param_errs.iter_mut().for_each(|p| f(&mut p.err_code));
                        }
                    }
                    SetStatus::OperSuccess(ok) => {
                        for i in &mut ok.updated_inst_results {
                            i.param_errs.iter_mut().for_each(|p| f(&mut p.err_code));
                        }
                    }
                }
            }
        }
        Some(RespType::AddResp(a)) => {
            for st in a
                .created_obj_results
                .iter_mut()
                .filter_map(|r| r.oper_status.as_mut()?.oper_status.as_mut())
            {
                match st {
                    AddStatus::OperFailure(fail) => f(&mut fail.err_code),
                    AddStatus::OperSuccess(ok) => {
                        ok.param_errs.iter_mut().for_each(|p| f(&mut p.err_code))
                    }
                }
            }
        }
        Some(RespType::DeleteResp(d)) => {
            for st in d
                .deleted_obj_results
                .iter_mut()
                .filter_map(|r| r.oper_status.as_mut()?.oper_status.as_mut())
            {
                match st {
                    DelStatus::OperFailure(fail) => f(&mut fail.err_code),
                    DelStatus::OperSuccess(ok) => ok
                        .unaffected_path_errs
                        .iter_mut()
                        .for_each(|p| f(&mut p.err_code)),
                }
            }
        }
        Some(RespType::OperateResp(o)) => {
            for r in &mut o.operation_results {
                if let Some(OperationResp::CmdFailure(c)) = r.operation_resp.as_mut() {
                    f(&mut c.err_code);
                }
            }
        }
        _ => {}
    }
}
