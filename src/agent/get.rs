//! Get and GetInstances: read-only views of the instantiated DM, with per-path
//! errors (never an Error Msg for a bad path, R-GET.0; TP-469 1.41/1.42).

use super::model::Model;
use super::path::Leaf;
use super::resolve::resolve;
use crate::usp::errors;
use crate::usp::proto::msg::{
    get_instances_resp, get_resp, Get, GetInstances, GetInstancesResp, GetResp,
};

pub fn get(model: &Model, req: &Get) -> GetResp {
    GetResp {
        req_path_results: req
            .param_paths
            .iter()
            .map(|p| get_path(model, p, req.max_depth))
            .collect(),
    }
}

fn get_path(model: &Model, requested: &str, max_depth: u32) -> get_resp::RequestedPathResult {
    let mut out = get_resp::RequestedPathResult {
        requested_path: requested.to_string(),
        ..Default::default()
    };
    let r = match resolve(model, requested) {
        Ok(r) => r,
        Err(e) => {
            out.err_code = e.code();
            out.err_msg = e.message();
            return out;
        }
    };
    // R-GET.0: a non-search path that names no existing instance is an invalid path;
    // a search that matches nothing is an empty success (R-GET.1a).
    if r.objects.is_empty() && !r.is_search {
        out.err_code = errors::INVALID_PATH;
        out.err_msg = format!("Invalid path: {requested} does not exist");
        return out;
    }
    match &r.leaf {
        // R-GET.2: resolved_path is the parent object, result_params only that parameter.
        Leaf::Param(name) => {
            for obj in &r.objects {
                if let Some(v) = model.value(obj, name) {
                    out.resolved_path_results
                        .push(get_resp::ResolvedPathResult {
                            resolved_path: obj.clone(),
                            result_params: [(name.clone(), v)].into(),
                        });
                }
            }
        }
        // One ResolvedPathResult per (sub-)object with relative names, limited by max_depth
        // (0 = whole subtree, 1 = the object's own params, 2 = plus its children; TP-469 1.89).
        Leaf::Object => {
            for base in &r.objects {
                for (obj, _) in model
                    .objects()
                    .range(base.clone()..)
                    .take_while(|(k, _)| k.starts_with(base.as_str()))
                {
                    if max_depth != 0 && depth_below(base, obj) >= max_depth {
                        continue;
                    }
                    let params = model.params(obj);
                    if !params.is_empty() {
                        out.resolved_path_results
                            .push(get_resp::ResolvedPathResult {
                                resolved_path: obj.clone(),
                                result_params: params,
                            });
                    }
                }
            }
        }
        Leaf::Command(_) | Leaf::Event(_) => {
            out.err_code = errors::INVALID_PATH;
            out.err_msg = format!("Invalid path: {requested} is not an object or parameter path");
        }
    }
    out
}

/// Object levels between `base` and `obj`; an instance number is part of its table's level.
fn depth_below(base: &str, obj: &str) -> u32 {
    obj[base.len()..]
        .split('.')
        .filter(|s| !s.is_empty() && !s.chars().all(|c| c.is_ascii_digit()))
        .count() as u32
}

pub fn get_instances(model: &Model, req: &GetInstances) -> GetInstancesResp {
    GetInstancesResp {
        req_path_results: req
            .obj_paths
            .iter()
            .map(|p| instances_of(model, p, req.first_level_only))
            .collect(),
    }
}

fn instances_of(
    model: &Model,
    requested: &str,
    first_level_only: bool,
) -> get_instances_resp::RequestedPathResult {
    let mut out = get_instances_resp::RequestedPathResult {
        requested_path: requested.to_string(),
        ..Default::default()
    };
    let fail = |out: &mut get_instances_resp::RequestedPathResult, code: u32, msg: String| {
        out.err_code = code;
        out.err_msg = msg;
    };
    let r = match resolve(model, requested) {
        Ok(r) => r,
        Err(e) => {
            fail(&mut out, e.code(), e.message());
            return out;
        }
    };
    if r.leaf != Leaf::Object {
        fail(
            &mut out,
            errors::INVALID_PATH,
            format!("Invalid path: {requested} is not an object path"),
        );
        return out;
    }
    if !r.sdm_path.ends_with(".{i}.") {
        fail(
            &mut out,
            errors::NOT_A_TABLE,
            format!("{requested} is not a table"),
        );
        return out;
    }
    if r.objects.is_empty() && !r.is_search && !r.ends_at_table {
        fail(
            &mut out,
            errors::INVALID_PATH,
            format!("Invalid path: {requested} does not exist"),
        );
        return out;
    }
    for base in &r.objects {
        let insts: Vec<String> = if first_level_only {
            if r.ends_at_table {
                model.instances(base)
            } else {
                vec![base.clone()]
            }
        } else {
            model
                .objects()
                .range(base.clone()..)
                .take_while(|(k, _)| k.starts_with(base.as_str()))
                .map(|(k, _)| k.clone())
                .filter(|k| is_instance_path(k))
                .collect()
        };
        for inst in insts {
            out.curr_insts.push(get_instances_resp::CurrInstance {
                unique_keys: model.unique_keys(&inst),
                instantiated_obj_path: inst,
            });
        }
    }
    out
}

fn is_instance_path(p: &str) -> bool {
    p.trim_end_matches('.')
        .rsplit('.')
        .next()
        .is_some_and(|s| s.parse::<u32>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get1(m: &Model, path: &str, depth: u32) -> get_resp::RequestedPathResult {
        let req = Get {
            param_paths: vec![path.into()],
            max_depth: depth,
        };
        get(m, &req).req_path_results.remove(0)
    }

    #[test]
    fn parameter_path_resolves_to_parent_object() {
        let m = Model::new("proto::a");
        let r = get1(&m, "Device.DeviceInfo.ManufacturerOUI", 0);
        assert_eq!(r.err_code, 0);
        assert_eq!(r.resolved_path_results.len(), 1);
        assert_eq!(
            r.resolved_path_results[0].resolved_path,
            "Device.DeviceInfo."
        );
        assert_eq!(r.resolved_path_results[0].result_params.len(), 1);
        assert_eq!(
            r.resolved_path_results[0].result_params["ManufacturerOUI"],
            "00256D"
        );
    }

    #[test]
    fn object_path_gives_one_result_per_instance_and_honours_max_depth() {
        let m = Model::new("proto::a");
        let all = get1(&m, "Device.LocalAgent.", 0);
        let paths: Vec<_> = all
            .resolved_path_results
            .iter()
            .map(|r| r.resolved_path.as_str())
            .collect();
        assert!(paths.contains(&"Device.LocalAgent.MTP.1.CoAP."));
        assert!(paths.contains(&"Device.LocalAgent.Controller.1.MTP.1."));
        assert_eq!(
            all.resolved_path_results[0].result_params["EndpointID"],
            "proto::a"
        );
        let one = get1(&m, "Device.LocalAgent.", 1);
        assert_eq!(one.resolved_path_results.len(), 1);
        let two = get1(&m, "Device.LocalAgent.", 2);
        let paths: Vec<_> = two
            .resolved_path_results
            .iter()
            .map(|r| r.resolved_path.as_str())
            .collect();
        assert!(paths.contains(&"Device.LocalAgent.MTP.1."));
        assert!(!paths.contains(&"Device.LocalAgent.MTP.1.CoAP."));
    }

    #[test]
    fn invalid_paths_are_per_path_errors_and_empty_search_is_success() {
        let m = Model::new("proto::a");
        let req = Get {
            param_paths: vec![
                "Device.DeviceInfo.Nope".into(),
                "Device.DeviceInfo.Manufacturer".into(),
            ],
            max_depth: 0,
        };
        let resp = get(&m, &req);
        assert_eq!(resp.req_path_results[0].err_code, 7026);
        assert_eq!(resp.req_path_results[1].err_code, 0);
        assert_eq!(get1(&m, "Device.LocalAgent.MTP.7.", 0).err_code, 7026);
        assert_eq!(
            get1(&m, "Device.LocalAgent.MTP.[Alias==\"x\"", 0).err_code,
            7008
        );
        let none = get1(&m, "Device.LocalAgent.MTP.[Alias==\"none\"].", 0);
        assert_eq!(none.err_code, 0);
        assert!(none.resolved_path_results.is_empty());
        let keyed = get1(&m, "Device.LocalAgent.MTP.[Alias==\"cpe-1\"].Protocol", 0);
        assert_eq!(
            keyed.resolved_path_results[0].result_params["Protocol"],
            "WebSocket"
        );
    }

    #[test]
    fn get_instances_lists_unique_keys_and_rejects_non_tables() {
        let m = Model::new("proto::a");
        let req = GetInstances {
            obj_paths: vec![
                "Device.DeviceInfo.FirmwareImage.".into(),
                "Device.DeviceInfo.".into(),
                "Device.Bad.".into(),
            ],
            first_level_only: true,
        };
        let resp = get_instances(&m, &req);
        let mtp = &resp.req_path_results[0];
        assert_eq!(mtp.curr_insts.len(), 2);
        assert_eq!(mtp.curr_insts[0].unique_keys["Alias"], "cpe-1");
        assert_eq!(resp.req_path_results[1].err_code, 7018);
        assert_eq!(resp.req_path_results[2].err_code, 7026);
        let deep = get_instances(
            &m,
            &GetInstances {
                obj_paths: vec!["Device.LocalAgent.Controller.".into()],
                first_level_only: false,
            },
        );
        let paths: Vec<_> = deep.req_path_results[0]
            .curr_insts
            .iter()
            .map(|c| c.instantiated_obj_path.as_str())
            .collect();
        assert_eq!(
            paths,
            [
                "Device.LocalAgent.Controller.1.",
                "Device.LocalAgent.Controller.1.MTP.1.",
                "Device.LocalAgent.Controller.2.",
                "Device.LocalAgent.Controller.2.MTP.1."
            ]
        );
    }
}
