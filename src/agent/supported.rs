//! GetSupportedDM (Supported DM paths with `{i}`, instantiated paths accepted)
//! and GetSupportedProtocol.

use super::model::{Access, Model, ObjectDef, ParamDef};
use super::path::{self, Leaf, Segment};
use crate::usp::errors;
use crate::usp::proto::msg::get_supported_dm_resp::{
    CmdType, ObjAccessType, ParamAccessType, ParamValueType, RequestedObjectResult,
    SupportedCommandResult, SupportedEventResult, SupportedObjectResult, SupportedParamResult,
    SupportedUniqueKeySet, ValueChangeType,
};
use crate::usp::proto::msg::{GetSupportedDm, GetSupportedDmResp};

pub const DATA_MODEL_INST_URI: &str = "urn:broadband-forum-org:tr-181-2-16-0-usp";
pub const SUPPORTED_PROTOCOL_VERSIONS: &str = "1.0,1.1,1.2,1.3,1.4";

pub fn get_supported_dm(model: &Model, req: &GetSupportedDm) -> GetSupportedDmResp {
    GetSupportedDmResp {
        req_obj_results: req
            .obj_paths
            .iter()
            .map(|p| one_path(model, req, p))
            .collect(),
    }
}

fn one_path(model: &Model, req: &GetSupportedDm, requested: &str) -> RequestedObjectResult {
    let mut out = RequestedObjectResult {
        req_obj_path: requested.to_string(),
        data_model_inst_uri: DATA_MODEL_INST_URI.to_string(),
        ..Default::default()
    };
    let parsed = match path::parse(requested, true) {
        Ok(p) => p,
        Err(e) => {
            out.err_code = errors::INVALID_PATH_SYNTAX;
            out.err_msg = format!("Invalid path syntax: {e}");
            return out;
        }
    };
    // Instance numbers, `*` and search expressions all stand for `{i}` here.
    let mut sdm = String::new();
    for seg in &parsed.segments {
        match seg {
            Segment::Name(n) => sdm.push_str(n),
            _ => sdm.push_str("{i}"),
        }
        sdm.push('.');
    }
    // The trailing `{i}.` of a table may be omitted.
    let def = model.dm.object(&sdm).or_else(|| match parsed.leaf {
        Leaf::Object => model.dm.object(&format!("{sdm}{{i}}.")),
        _ => None,
    });
    let Some(def) = def else {
        out.err_code = errors::INVALID_PATH;
        out.err_msg = format!("Invalid path: {requested} is not in the supported data model");
        return out;
    };
    let mut obj = describe(def, false, false, false, false);
    // For a parameter, command or event path only that element is returned; flags are ignored.
    let found = match &parsed.leaf {
        Leaf::Object => {
            out.supported_objs = objects_for(model, def, req);
            return out;
        }
        Leaf::Param(p) => def
            .param(p)
            .map(|pd| obj.supported_params.push(param(pd)))
            .is_some(),
        Leaf::Command(c) => def
            .commands
            .iter()
            .find(|d| &d.name == c)
            .map(|cd| obj.supported_commands.push(command(cd)))
            .is_some(),
        Leaf::Event(e) => def
            .events
            .iter()
            .find(|d| &d.name == e)
            .map(|ed| obj.supported_events.push(event(ed)))
            .is_some(),
    };
    if found {
        out.supported_objs.push(obj);
    } else {
        out.err_code = errors::INVALID_PATH;
        out.err_msg = format!("Invalid path: {requested} is not in the supported data model");
    }
    out
}

/// The object and its descendants; with first_level_only just the immediate child objects,
/// listed without their parameters, commands and events.
fn objects_for(model: &Model, def: &ObjectDef, req: &GetSupportedDm) -> Vec<SupportedObjectResult> {
    let mut out = vec![describe(
        def,
        req.return_params,
        req.return_commands,
        req.return_events,
        req.return_unique_key_sets,
    )];
    for d in &model.dm.objects {
        let Some(rest) = d.path.strip_prefix(def.path.as_str()) else {
            continue;
        };
        if rest.is_empty() {
            continue;
        }
        let immediate = rest
            .strip_suffix("{i}.")
            .unwrap_or(rest)
            .matches('.')
            .count()
            == 1;
        if req.first_level_only {
            if immediate {
                out.push(describe(d, false, false, false, false));
            }
        } else {
            out.push(describe(
                d,
                req.return_params,
                req.return_commands,
                req.return_events,
                req.return_unique_key_sets,
            ));
        }
    }
    out
}

fn describe(
    def: &ObjectDef,
    params: bool,
    commands: bool,
    events: bool,
    keys: bool,
) -> SupportedObjectResult {
    let access = if def.access == Access::AddDelete {
        ObjAccessType::ObjAddDelete
    } else {
        ObjAccessType::ObjReadOnly
    };
    SupportedObjectResult {
        supported_obj_path: def.path.clone(),
        access: access as i32,
        is_multi_instance: def.is_table(),
        supported_commands: if commands {
            def.commands.iter().map(command).collect()
        } else {
            Vec::new()
        },
        supported_events: if events {
            def.events.iter().map(event).collect()
        } else {
            Vec::new()
        },
        supported_params: if params {
            def.params.iter().map(param).collect()
        } else {
            Vec::new()
        },
        divergent_paths: Vec::new(),
        unique_key_sets: if keys {
            def.unique_keys
                .iter()
                .map(|k| SupportedUniqueKeySet {
                    key_names: k.clone(),
                })
                .collect()
        } else {
            Vec::new()
        },
    }
}

fn param(p: &ParamDef) -> SupportedParamResult {
    let value_type = match p.value_type.as_str() {
        "boolean" => ParamValueType::ParamBoolean,
        "unsignedInt" => ParamValueType::ParamUnsignedInt,
        "unsignedLong" => ParamValueType::ParamUnsignedLong,
        "int" => ParamValueType::ParamInt,
        "long" => ParamValueType::ParamLong,
        "dateTime" => ParamValueType::ParamDateTime,
        "base64" => ParamValueType::ParamBase64,
        "hexBinary" => ParamValueType::ParamHexBinary,
        "decimal" => ParamValueType::ParamDecimal,
        "string" => ParamValueType::ParamString,
        _ => ParamValueType::ParamUnknown,
    };
    let access = match p.access {
        Access::ReadWrite => ParamAccessType::ParamReadWrite,
        _ => ParamAccessType::ParamReadOnly,
    };
    let value_change = if p.value_change.as_deref() == Some("ignore") {
        ValueChangeType::ValueChangeWillIgnore
    } else {
        ValueChangeType::ValueChangeAllowed
    };
    SupportedParamResult {
        param_name: p.name.clone(),
        access: access as i32,
        value_type: value_type as i32,
        value_change: value_change as i32,
    }
}

fn command(c: &super::model::CommandDef) -> SupportedCommandResult {
    let command_type = if c.command_type == "async" {
        CmdType::CmdAsync
    } else {
        CmdType::CmdSync
    };
    SupportedCommandResult {
        command_name: c.name.clone(),
        input_arg_names: c.input.clone(),
        output_arg_names: c.output.clone(),
        command_type: command_type as i32,
    }
}

fn event(e: &super::model::EventDef) -> SupportedEventResult {
    SupportedEventResult {
        event_name: e.name.clone(),
        arg_names: e.args.clone(),
    }
}

/// The `wrong-command-args` fault: Download() lists its URL input argument
/// as `Url` and Boot! its Cause argument as `Reason` (argument names are
/// case-sensitive), so a GetSupportedDM check of argument names against the
/// profile (TP-469 1.97 / 1.98) must catch it.
pub fn misname_arguments(resp: &mut GetSupportedDmResp) {
    for obj in resp
        .req_obj_results
        .iter_mut()
        .flat_map(|r| r.supported_objs.iter_mut())
    {
        let commands = obj
            .supported_commands
            .iter_mut()
            .filter(|c| c.command_name == "Download()");
        for a in commands.flat_map(|c| c.input_arg_names.iter_mut()) {
            if a == "URL" {
                *a = "Url".into();
            }
        }
        let events = obj
            .supported_events
            .iter_mut()
            .filter(|e| e.event_name == "Boot!");
        for a in events.flat_map(|e| e.arg_names.iter_mut()) {
            if a == "Cause" {
                *a = "Reason".into();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gsdm(path: &str, first_level_only: bool, all_flags: bool) -> RequestedObjectResult {
        let m = Model::new("proto::a");
        let req = GetSupportedDm {
            obj_paths: vec![path.into()],
            first_level_only,
            return_commands: all_flags,
            return_events: all_flags,
            return_params: all_flags,
            return_unique_key_sets: all_flags,
        };
        get_supported_dm(&m, &req).req_obj_results.remove(0)
    }

    #[test]
    fn wrong_command_args_misnames_download_url_and_boot_cause() {
        let m = Model::new("proto::a");
        let req = GetSupportedDm {
            obj_paths: vec!["Device.".into()],
            return_commands: true,
            return_events: true,
            ..Default::default()
        };
        let mut resp = get_supported_dm(&m, &req);
        misname_arguments(&mut resp);
        let cmds: Vec<&SupportedCommandResult> = resp.req_obj_results[0]
            .supported_objs
            .iter()
            .flat_map(|o| o.supported_commands.iter())
            .collect();
        let download = cmds
            .iter()
            .find(|c| c.command_name == "Download()")
            .unwrap();
        assert!(download.input_arg_names.contains(&"Url".to_string()));
        assert!(!download.input_arg_names.contains(&"URL".to_string()));
        let others = cmds.iter().filter(|c| c.command_name != "Download()");
        assert!(others
            .flat_map(|c| c.input_arg_names.iter())
            .all(|a| a != "Url"));
        let boot = resp.req_obj_results[0]
            .supported_objs
            .iter()
            .flat_map(|o| o.supported_events.iter())
            .find(|e| e.event_name == "Boot!")
            .unwrap();
        assert!(boot.arg_names.contains(&"Reason".to_string()));
        assert!(!boot.arg_names.contains(&"Cause".to_string()));
    }

    #[test]
    fn draft_commands_have_their_types_and_arg_names() {
        let r = gsdm("Device.", false, true);
        let cmd = |obj: &str, name: &str| {
            r.supported_objs
                .iter()
                .find(|o| o.supported_obj_path == obj)
                .and_then(|o| o.supported_commands.iter().find(|c| c.command_name == name))
                .cloned()
                .unwrap_or_else(|| panic!("{obj}{name} listed"))
        };
        let fw = "Device.DeviceInfo.FirmwareImage.{i}.";
        let download = cmd(fw, "Download()");
        assert_eq!(download.command_type, CmdType::CmdAsync as i32);
        assert!(download.input_arg_names.contains(&"URL".to_string()));
        assert!(download
            .input_arg_names
            .contains(&"CheckSumAlgorithm".to_string()));
        assert_eq!(cmd(fw, "Activate()").command_type, CmdType::CmdAsync as i32);
        let trust = "Device.LocalAgent.ControllerTrust.";
        let request = cmd(trust, "RequestChallenge()");
        assert_eq!(request.command_type, CmdType::CmdSync as i32);
        assert_eq!(
            request.input_arg_names,
            ["ChallengeRef", "RequestExpiration"]
        );
        assert_eq!(
            request.output_arg_names,
            ["Instruction", "InstructionType", "ValueType", "ChallengeID"]
        );
        let response = cmd(trust, "ChallengeResponse()");
        assert_eq!(response.command_type, CmdType::CmdSync as i32);
        assert_eq!(response.output_arg_names, ["Status"]);
        let la = r
            .supported_objs
            .iter()
            .find(|o| o.supported_obj_path == "Device.LocalAgent.")
            .unwrap();
        let tc = la
            .supported_events
            .iter()
            .find(|e| e.event_name == "TransferComplete!")
            .expect("TransferComplete! listed");
        assert!(tc.arg_names.contains(&"FaultCode".to_string()));
        let fw_obj = r
            .supported_objs
            .iter()
            .find(|o| o.supported_obj_path == fw)
            .unwrap();
        assert_eq!(fw_obj.access, ObjAccessType::ObjReadOnly as i32);
        assert!(r
            .supported_objs
            .iter()
            .any(|o| o.supported_obj_path == "Device.LocalAgent.ControllerTrust.Challenge.{i}."));
    }

    #[test]
    fn full_tree_with_flags() {
        let r = gsdm("Device.", false, true);
        assert_eq!(r.err_code, 0);
        assert_eq!(r.data_model_inst_uri, DATA_MODEL_INST_URI);
        let dev = &r.supported_objs[0];
        assert_eq!(dev.supported_commands[0].command_name, "Reboot()");
        assert_eq!(
            dev.supported_commands[0].command_type,
            CmdType::CmdSync as i32
        );
        assert_eq!(dev.supported_events[0].arg_names.len(), 4);
        let sub = r
            .supported_objs
            .iter()
            .find(|o| o.supported_obj_path == "Device.LocalAgent.Subscription.{i}.")
            .expect("subscription table listed");
        assert!(sub.is_multi_instance);
        assert_eq!(sub.access, ObjAccessType::ObjAddDelete as i32);
        assert_eq!(sub.unique_key_sets[1].key_names, ["Recipient", "ID"]);
        let enable = sub
            .supported_params
            .iter()
            .find(|p| p.param_name == "Enable")
            .unwrap();
        assert_eq!(enable.value_type, ParamValueType::ParamBoolean as i32);
        assert_eq!(enable.access, ParamAccessType::ParamReadWrite as i32);
        let mtp = r
            .supported_objs
            .iter()
            .find(|o| o.supported_obj_path == "Device.LocalAgent.MTP.{i}.")
            .unwrap();
        assert_eq!(mtp.access, ObjAccessType::ObjReadOnly as i32);
    }

    #[test]
    fn flags_off_and_first_level_only() {
        let r = gsdm("Device.LocalAgent.", true, false);
        assert!(r
            .supported_objs
            .iter()
            .all(|o| o.supported_params.is_empty() && o.supported_events.is_empty()));
        let paths: Vec<_> = r
            .supported_objs
            .iter()
            .map(|o| o.supported_obj_path.as_str())
            .collect();
        assert_eq!(
            paths,
            [
                "Device.LocalAgent.",
                "Device.LocalAgent.MTP.{i}.",
                "Device.LocalAgent.Controller.{i}.",
                "Device.LocalAgent.Subscription.{i}.",
                "Device.LocalAgent.Request.{i}.",
                "Device.LocalAgent.ControllerTrust."
            ]
        );
        let r = gsdm("Device.LocalAgent.", true, true);
        assert_eq!(
            r.supported_objs[0].supported_events[0].event_name,
            "Periodic!"
        );
        assert!(r.supported_objs[1].supported_params.is_empty());
    }

    #[test]
    fn instantiated_and_element_paths_and_errors() {
        assert_eq!(
            gsdm("Device.LocalAgent.MTP.1.", true, false).supported_objs[0].supported_obj_path,
            "Device.LocalAgent.MTP.{i}."
        );
        assert_eq!(
            gsdm("Device.LocalAgent.MTP.", true, false).supported_objs[0].supported_obj_path,
            "Device.LocalAgent.MTP.{i}."
        );
        let r = gsdm("Device.DeviceInfo.UpTime", false, false);
        assert_eq!(r.supported_objs[0].supported_params.len(), 1);
        assert_eq!(
            r.supported_objs[0].supported_params[0].value_change,
            ValueChangeType::ValueChangeWillIgnore as i32
        );
        assert_eq!(gsdm("Device.Nope.", false, true).err_code, 7026);
        assert_eq!(gsdm("Device.DeviceInfo.Nope", false, true).err_code, 7026);
        assert_eq!(gsdm("Device..", false, true).err_code, 7008);
    }
}
