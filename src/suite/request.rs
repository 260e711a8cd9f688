//! Turns a step's request spec into the USP request body, substituting
//! variables in every string.

use super::error::StepError;
use super::model::{ObjectParams, RequestSpec};
use super::vars::Vars;
use crate::usp::proto::msg::{
    add, request::ReqType, set, Add, Delete, Get, GetInstances, GetSupportedDm,
    GetSupportedProtocol, Operate, Set,
};

pub fn build_request(spec: &RequestSpec, vars: &Vars) -> Result<ReqType, StepError> {
    let s = |t: &String| vars.substitute(t);
    let all = |v: &[String]| v.iter().map(s).collect::<Result<Vec<_>, _>>();
    Ok(match spec {
        RequestSpec::Get(g) => ReqType::Get(Get {
            param_paths: all(&g.paths)?,
            max_depth: g.max_depth,
        }),
        RequestSpec::Set(g) => ReqType::Set(Set {
            allow_partial: g.allow_partial,
            update_objs: g
                .objects
                .iter()
                .map(|o| {
                    Ok(set::UpdateObject {
                        obj_path: s(&o.path)?,
                        param_settings: settings(o, vars)?
                            .into_iter()
                            .map(|(param, value, required)| set::UpdateParamSetting {
                                param,
                                value,
                                required,
                            })
                            .collect(),
                    })
                })
                .collect::<Result<_, StepError>>()?,
        }),
        RequestSpec::Add(g) => ReqType::Add(Add {
            allow_partial: g.allow_partial,
            create_objs: g
                .objects
                .iter()
                .map(|o| {
                    Ok(add::CreateObject {
                        obj_path: s(&o.path)?,
                        param_settings: settings(o, vars)?
                            .into_iter()
                            .map(|(param, value, required)| add::CreateParamSetting {
                                param,
                                value,
                                required,
                            })
                            .collect(),
                    })
                })
                .collect::<Result<_, StepError>>()?,
        }),
        RequestSpec::Delete(g) => ReqType::Delete(Delete {
            allow_partial: g.allow_partial,
            obj_paths: all(&g.paths)?,
        }),
        RequestSpec::GetInstances(g) => ReqType::GetInstances(GetInstances {
            obj_paths: all(&g.paths)?,
            first_level_only: g.first_level_only,
        }),
        RequestSpec::GetSupportedDm(g) => ReqType::GetSupportedDm(GetSupportedDm {
            obj_paths: all(&g.paths)?,
            first_level_only: g.first_level_only,
            return_commands: g.return_commands,
            return_events: g.return_events,
            return_params: g.return_params,
            return_unique_key_sets: g.return_unique_key_sets,
        }),
        RequestSpec::GetSupportedProtocol(g) => {
            ReqType::GetSupportedProtocol(GetSupportedProtocol {
                controller_supported_protocol_versions: s(&g.versions)?,
            })
        }
        RequestSpec::Operate(g) => ReqType::Operate(Operate {
            command: s(&g.command)?,
            command_key: s(&g.command_key)?,
            send_resp: g.send_resp,
            input_args: g
                .args
                .iter()
                .map(|(k, v)| Ok((k.clone(), s(&v.0)?)))
                .collect::<Result<_, StepError>>()?,
        }),
    })
}

/// (param, value, required) in name order, values substituted.
fn settings(o: &ObjectParams, vars: &Vars) -> Result<Vec<(String, String, bool)>, StepError> {
    o.params
        .iter()
        .map(|(k, p)| Ok((k.clone(), vars.substitute(&p.value)?, p.required)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::model::*;

    fn spec(keyword: &str, yaml: &str) -> RequestSpec {
        let parse = |y: &str| -> RequestSpec {
            match keyword {
                "get" => RequestSpec::Get(serde_saphyr::from_str(y).expect("get")),
                "set" => RequestSpec::Set(serde_saphyr::from_str(y).expect("set")),
                "add" => RequestSpec::Add(serde_saphyr::from_str(y).expect("add")),
                "delete" => RequestSpec::Delete(serde_saphyr::from_str(y).expect("delete")),
                "gi" => RequestSpec::GetInstances(serde_saphyr::from_str(y).expect("gi")),
                "gsdm" => RequestSpec::GetSupportedDm(serde_saphyr::from_str(y).expect("gsdm")),
                "gsp" => RequestSpec::GetSupportedProtocol(serde_saphyr::from_str(y).expect("gsp")),
                _ => RequestSpec::Operate(serde_saphyr::from_str(y).expect("operate")),
            }
        };
        parse(yaml)
    }

    fn vars() -> Vars {
        let mut v = Vars::default();
        v.set("sub", "Device.LocalAgent.Subscription.4.");
        v.set("old", "Living room");
        v
    }

    #[test]
    fn get_with_substitution() {
        let r = build_request(
            &spec("get", "{ paths: [\"${sub}Enable\"], max_depth: 2 }"),
            &vars(),
        );
        assert_eq!(
            r,
            Ok(ReqType::Get(Get {
                param_paths: vec!["Device.LocalAgent.Subscription.4.Enable".into()],
                max_depth: 2
            }))
        );
    }

    #[test]
    fn set_long_and_short_forms() {
        let y = "{ objects: [ { path: Device.DeviceInfo., params: { FriendlyName: \"${old}\", X: { value: 5, required: false } } } ] }";
        let Ok(ReqType::Set(s)) = build_request(&spec("set", y), &vars()) else {
            panic!("not a Set")
        };
        assert!(!s.allow_partial);
        let ps = &s.update_objs[0].param_settings;
        assert_eq!(
            (ps[0].param.as_str(), ps[0].value.as_str(), ps[0].required),
            ("FriendlyName", "Living room", true)
        );
        assert_eq!(
            (ps[1].param.as_str(), ps[1].value.as_str(), ps[1].required),
            ("X", "5", false)
        );
    }

    #[test]
    fn add_delete_and_friends() {
        let y = "{ allow_partial: true, objects: [ { path: Device.LocalAgent.Subscription., params: { Enable: true, NotifType: ValueChange } } ] }";
        let Ok(ReqType::Add(a)) = build_request(&spec("add", y), &vars()) else {
            panic!("not an Add")
        };
        assert!(a.allow_partial);
        assert_eq!(a.create_objs[0].param_settings[0].value, "true");

        let Ok(ReqType::Delete(d)) =
            build_request(&spec("delete", "{ paths: [\"${sub}\"] }"), &vars())
        else {
            panic!("not a Delete")
        };
        assert_eq!(
            d.obj_paths,
            vec!["Device.LocalAgent.Subscription.4.".to_string()]
        );

        let Ok(ReqType::GetInstances(g)) = build_request(
            &spec(
                "gi",
                "{ paths: [Device.LocalAgent.MTP.], first_level_only: true }",
            ),
            &vars(),
        ) else {
            panic!("not a GetInstances")
        };
        assert!(g.first_level_only);

        let y = "{ paths: [Device.DeviceInfo.], return_params: true, return_events: true }";
        let Ok(ReqType::GetSupportedDm(g)) = build_request(&spec("gsdm", y), &vars()) else {
            panic!("not a GSDM")
        };
        assert!(g.return_params && g.return_events && !g.return_commands && !g.first_level_only);

        let Ok(ReqType::GetSupportedProtocol(g)) =
            build_request(&spec("gsp", "{ versions: \"1.0,1.3\" }"), &vars())
        else {
            panic!("not a GSP")
        };
        assert_eq!(g.controller_supported_protocol_versions, "1.0,1.3");

        let y = "{ command: Device.Reboot(), command_key: k1, args: { Delay: 5 } }";
        let Ok(ReqType::Operate(o)) = build_request(&spec("operate", y), &vars()) else {
            panic!("not an Operate")
        };
        assert!(o.send_resp, "send_resp defaults to true");
        assert_eq!(o.input_args.get("Delay").map(String::as_str), Some("5"));
    }

    #[test]
    fn undefined_variable_is_a_step_error() {
        let r = build_request(&spec("delete", "{ paths: [\"${missing}\"] }"), &vars());
        assert_eq!(
            r,
            Err(StepError::UndefinedVariable {
                name: "missing".into()
            })
        );
    }
}
