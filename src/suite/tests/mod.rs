//! Tests across the suite modules: the loader on good and bad files,
//! expectations and captures against hand-built Msgs, and the shipped cases
//! against a conforming Agent's answers and their faulty twins.

mod expect;
mod loader;
mod shipped;
mod usecase_steps;

use super::*;
use crate::usp::msg;
use crate::usp::proto::msg::{get_resp, response::RespType, GetResp, Msg};

/// (resolved path, [(param, value)]).
pub(super) type Resolved<'a> = (&'a str, &'a [(&'a str, &'a str)]);

/// A GetResp from (requested path, err_code, resolved results).
pub(super) fn get_resp(results: &[(&str, u32, &[Resolved])]) -> Msg {
    let req_path_results = results
        .iter()
        .map(|(path, code, resolved)| get_resp::RequestedPathResult {
            requested_path: path.to_string(),
            err_code: *code,
            err_msg: String::new(),
            resolved_path_results: resolved
                .iter()
                .map(|(rp, params)| get_resp::ResolvedPathResult {
                    resolved_path: rp.to_string(),
                    result_params: params
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                })
                .collect(),
        })
        .collect();
    msg::response("1", RespType::GetResp(GetResp { req_path_results }))
}

pub(super) const DEVICE_INFO: &[(&str, &str)] = &[
    ("Manufacturer", "Acme"),
    ("ManufacturerOUI", "00256D"),
    ("ProductClass", "Gateway"),
    ("SerialNumber", "SN1"),
    ("ModelName", "M1"),
    ("HardwareVersion", "1.0"),
    ("FriendlyName", "box"),
    ("UpTime", "42"),
];

pub(super) fn expect(yaml: &str) -> Expect {
    serde_saphyr::from_str(yaml).expect("expect parses")
}

pub(super) fn failed(checks: &[Check]) -> Vec<&Check> {
    checks.iter().filter(|c| !c.passed).collect()
}
