//! Failures shared by Set, Add and Delete, and the Error Msg they become when
//! allow_partial is false (TR-369 allow_partial/required table; TP-469 1.3, 1.14, 1.26).

use crate::usp::errors;
use crate::usp::proto::msg::{error::ParamError, Error};

/// A parameter that could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamFailure {
    pub param: String,
    pub code: u32,
    pub msg: String,
    /// The Controller marked it required (or it is a unique key, which always is).
    pub required: bool,
}

/// Why one requested path (one UpdateObject/CreateObject/obj_path) failed as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathFailure {
    pub code: u32,
    pub msg: String,
    /// (object path, failed parameters) for each object the path resolved to.
    pub objects: Vec<(String, Vec<ParamFailure>)>,
}

impl PathFailure {
    pub fn new(code: u32, msg: impl Into<String>) -> PathFailure {
        PathFailure {
            code,
            msg: msg.into(),
            objects: Vec::new(),
        }
    }

    /// The object-level failure for a required parameter failure: its own code and message.
    pub fn from_params(objects: Vec<(String, Vec<ParamFailure>)>) -> Option<PathFailure> {
        let (obj, first) = objects.iter().find_map(|(o, errs)| {
            errs.iter()
                .find(|e| e.required)
                .map(|e| (o.clone(), e.clone()))
        })?;
        Some(PathFailure {
            code: first.code,
            msg: format!(
                "Required parameter {obj}{} failed: {}",
                first.param, first.msg
            ),
            objects,
        })
    }
}

/// The Error Msg body for a request with allow_partial=false: outer 7004 (as OBUSPA does),
/// one ParamError per failed parameter (full path) or per failed requested path.
pub fn error_for(failures: &[(&str, &PathFailure)]) -> Error {
    let mut param_errs = Vec::new();
    for (requested, f) in failures {
        let params: Vec<ParamError> = f
            .objects
            .iter()
            .flat_map(|(obj, errs)| {
                errs.iter().map(move |e| ParamError {
                    param_path: format!("{obj}{}", e.param),
                    err_code: e.code,
                    err_msg: e.msg.clone(),
                })
            })
            .collect();
        if params.is_empty() {
            param_errs.push(ParamError {
                param_path: requested.to_string(),
                err_code: f.code,
                err_msg: f.msg.clone(),
            });
        } else {
            param_errs.extend(params);
        }
    }
    let first = failures
        .first()
        .map(|(_, f)| f.msg.clone())
        .unwrap_or_default();
    Error {
        err_code: errors::INVALID_ARGUMENTS,
        err_msg: format!("Invalid arguments: {first}"),
        param_errs,
    }
}
