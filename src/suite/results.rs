//! What a response says per requested path or per object: err_codes,
//! resolved counts and Set/Add/Delete operation status, in one shape for
//! every Msg kind so expectations can judge them alike.

use crate::usp::msg;
use crate::usp::proto::msg::{add_resp, delete_resp, response::RespType, set_resp, Msg};

/// One per requested path: its err_code and how many results it resolved.
pub struct PathResult {
    pub path: String,
    pub err_code: u32,
    pub err_msg: String,
    pub resolved: usize,
}

pub fn path_results(response: &Msg) -> Vec<PathResult> {
    let pr = |path: &str, err_code, err_msg: &str, resolved| PathResult {
        path: path.to_string(),
        err_code,
        err_msg: err_msg.to_string(),
        resolved,
    };
    match msg::response_body(response) {
        Some(RespType::GetResp(r)) => r
            .req_path_results
            .iter()
            .map(|p| {
                pr(
                    &p.requested_path,
                    p.err_code,
                    &p.err_msg,
                    p.resolved_path_results.len(),
                )
            })
            .collect(),
        Some(RespType::GetInstancesResp(r)) => r
            .req_path_results
            .iter()
            .map(|p| {
                pr(
                    &p.requested_path,
                    p.err_code,
                    &p.err_msg,
                    p.curr_insts.len(),
                )
            })
            .collect(),
        Some(RespType::GetSupportedDmResp(r)) => r
            .req_obj_results
            .iter()
            .map(|p| {
                pr(
                    &p.req_obj_path,
                    p.err_code,
                    &p.err_msg,
                    p.supported_objs.len(),
                )
            })
            .collect(),
        _ => oper_results(response)
            .into_iter()
            .map(|o| pr(&o.path, o.err_code.unwrap_or(0), &o.err_msg, o.affected))
            .collect(),
    }
}

/// Per-object outcome of a Set/Add/Delete response.
pub struct OperResult {
    pub path: String,
    /// `None` on success.
    pub err_code: Option<u32>,
    pub err_msg: String,
    pub affected: usize,
}

pub fn oper_results(response: &Msg) -> Vec<OperResult> {
    let mut out = Vec::new();
    let mut push = |path: &str, err: Option<(u32, &str)>, affected| {
        out.push(OperResult {
            path: path.to_string(),
            err_code: err.map(|e| e.0),
            err_msg: err.map(|e| e.1.to_string()).unwrap_or_default(),
            affected,
        })
    };
    match msg::response_body(response) {
        Some(RespType::SetResp(r)) => {
            use set_resp::updated_object_result::operation_status::OperStatus as S;
            for u in &r.updated_obj_results {
                match u.oper_status.as_ref().and_then(|o| o.oper_status.as_ref()) {
                    Some(S::OperSuccess(s)) => {
                        push(&u.requested_path, None, s.updated_inst_results.len())
                    }
                    Some(S::OperFailure(f)) => {
                        push(&u.requested_path, Some((f.err_code, &f.err_msg)), 0)
                    }
                    None => push(&u.requested_path, Some((0, "no oper_status")), 0),
                }
            }
        }
        Some(RespType::AddResp(r)) => {
            use add_resp::created_object_result::operation_status::OperStatus as S;
            for c in &r.created_obj_results {
                match c.oper_status.as_ref().and_then(|o| o.oper_status.as_ref()) {
                    Some(S::OperSuccess(_)) => push(&c.requested_path, None, 1),
                    Some(S::OperFailure(f)) => {
                        push(&c.requested_path, Some((f.err_code, &f.err_msg)), 0)
                    }
                    None => push(&c.requested_path, Some((0, "no oper_status")), 0),
                }
            }
        }
        Some(RespType::DeleteResp(r)) => {
            use delete_resp::deleted_object_result::operation_status::OperStatus as S;
            for d in &r.deleted_obj_results {
                match d.oper_status.as_ref().and_then(|o| o.oper_status.as_ref()) {
                    Some(S::OperSuccess(s)) => {
                        push(&d.requested_path, None, s.affected_paths.len())
                    }
                    Some(S::OperFailure(f)) => {
                        push(&d.requested_path, Some((f.err_code, &f.err_msg)), 0)
                    }
                    None => push(&d.requested_path, Some((0, "no oper_status")), 0),
                }
            }
        }
        _ => {}
    }
    out
}
