//! Captures: copying values out of a response into case variables.
//!
//! A capture source is one of
//! - `instantiated_path`: the first created object of an AddResp;
//! - `unique_keys.<Key>`: that key of the first created object (AddResp) or
//!   first current instance (GetInstancesResp);
//! - `err_code`: the outer code of an Error Msg;
//! - any fact key (see `facts.rs`), `*` allowed: the first match in
//!   response order, e.g. `Device.DeviceInfo.FriendlyName`,
//!   `agent_supported_protocol_versions`, `subscription_id`.

use super::error::StepError;
use super::facts;
use super::vars::Vars;
use crate::usp::msg;
use crate::usp::proto::msg::{add_resp, response::RespType, Msg};
use std::collections::BTreeMap;

pub fn capture(
    captures: &BTreeMap<String, String>,
    response: &Msg,
    vars: &mut Vars,
) -> Result<(), StepError> {
    let facts = facts::facts(response);
    for (var, what) in captures {
        let value = source(what, response, &facts).map_err(|reason| StepError::Capture {
            var: var.clone(),
            what: what.clone(),
            reason,
        })?;
        vars.set(var.clone(), value);
    }
    Ok(())
}

fn source(what: &str, response: &Msg, facts: &facts::Facts) -> Result<String, String> {
    if what == "err_code" {
        return msg::error_body(response)
            .map(|e| e.err_code.to_string())
            .ok_or_else(|| "the response is not an Error".into());
    }
    if what == "instantiated_path" || what.starts_with("unique_keys.") {
        let (path, keys) = first_instance(response)
            .ok_or("the response has no created object or current instance")?;
        if what == "instantiated_path" {
            return Ok(path);
        }
        let key = &what["unique_keys.".len()..];
        return keys
            .get(key)
            .cloned()
            .ok_or_else(|| format!("{path} has no unique key {key}"));
    }
    facts::lookup(facts, what)
        .first()
        .map(|(_, v)| v.clone())
        .ok_or_else(|| why_absent(what, response))
}

/// Why a value is not in the response, when the Agent said: the first
/// thing a triager needs is "the Agent refused the path" (an Agent without
/// the parameter) rather than "the answer left it out".
fn why_absent(what: &str, response: &Msg) -> String {
    let answered = |code: u32, text: &str| {
        format!(
            "{code} ({}{})",
            crate::usp::errors::error_name(code),
            if text.is_empty() {
                String::new()
            } else {
                format!(": \"{text}\"")
            }
        )
    };
    if let Some(e) = msg::error_body(response) {
        return format!(
            "not in the response: the Agent answered with an Error {}",
            answered(e.err_code, &e.err_msg)
        );
    }
    if let Some(RespType::GetResp(r)) = msg::response_body(response) {
        let covers = |requested: &str| {
            requested == what || (requested.ends_with('.') && what.starts_with(requested))
        };
        let failed: Vec<_> = r
            .req_path_results
            .iter()
            .filter(|p| p.err_code != 0)
            .collect();
        // The path that covers the value; else, when every path failed,
        // the first (a search or wildcard path that resolved nothing).
        let all_failed = failed.len() == r.req_path_results.len();
        let refusal = failed
            .iter()
            .find(|p| covers(&p.requested_path))
            .or_else(|| failed.first().filter(|_| all_failed));
        if let Some(p) = refusal {
            return format!(
                "not in the response: the Agent answered {} for the requested path {}",
                answered(p.err_code, &p.err_msg),
                p.requested_path
            );
        }
    }
    "not in the response".into()
}

fn first_instance(response: &Msg) -> Option<(String, BTreeMap<String, String>)> {
    use add_resp::created_object_result::operation_status::OperStatus;
    match msg::response_body(response)? {
        RespType::AddResp(r) => r.created_obj_results.iter().find_map(|c| {
            match c.oper_status.as_ref()?.oper_status.as_ref()? {
                OperStatus::OperSuccess(s) => Some((
                    s.instantiated_path.clone(),
                    s.unique_keys.clone().into_iter().collect(),
                )),
                OperStatus::OperFailure(_) => None,
            }
        }),
        RespType::GetInstancesResp(r) => r
            .req_path_results
            .iter()
            .flat_map(|p| p.curr_insts.iter())
            .next()
            .map(|i| {
                (
                    i.instantiated_obj_path.clone(),
                    i.unique_keys.clone().into_iter().collect(),
                )
            }),
        _ => None,
    }
}
