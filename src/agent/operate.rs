//! Operate: the synchronous `Device.Reboot()` (which restarts nothing here).
//! Every failure is a CommandFailure inside the OperateResp, never an Error Msg (R-OPR.1).

use super::model::Model;
use super::path::Leaf;
use super::resolve::resolve;
use crate::usp::errors;
use crate::usp::proto::msg::operate_resp::{operation_result, OperationResult};
use crate::usp::proto::msg::{Operate, OperateResp};

/// The OperateResp, or None when `send_resp` is false and nothing failed.
pub fn operate(model: &Model, req: &Operate) -> Option<OperateResp> {
    let results = run(model, req);
    let failed = results.iter().any(|r| {
        matches!(
            r.operation_resp,
            Some(operation_result::OperationResp::CmdFailure(_))
        )
    });
    if !req.send_resp && !failed {
        return None;
    }
    Some(OperateResp {
        operation_results: results,
    })
}

fn failure(command: &str, code: u32, msg: String) -> OperationResult {
    OperationResult {
        executed_command: command.to_string(),
        operation_resp: Some(operation_result::OperationResp::CmdFailure(
            operation_result::CommandFailure {
                err_code: code,
                err_msg: msg,
            },
        )),
    }
}

fn run(model: &Model, req: &Operate) -> Vec<OperationResult> {
    let r = match resolve(model, &req.command) {
        Ok(r) => r,
        Err(e) => return vec![failure(&req.command, e.code(), e.message())],
    };
    let Leaf::Command(name) = &r.leaf else {
        return vec![failure(
            &req.command,
            errors::INVALID_PATH,
            format!("{} is not a command path", req.command),
        )];
    };
    if r.objects.is_empty() && !r.is_search {
        return vec![failure(
            &req.command,
            errors::OBJECT_DOES_NOT_EXIST,
            format!("{} does not exist", req.command),
        )];
    }
    r.objects
        .iter()
        .map(|obj| {
            let executed = format!("{obj}{name}");
            if executed == "Device.Reboot()" {
                // Synchronous, no output arguments (TP-469 1.61); the runtime decides whether
                // to simulate a restart.
                OperationResult {
                    executed_command: executed,
                    operation_resp: Some(operation_result::OperationResp::ReqOutputArgs(
                        Default::default(),
                    )),
                }
            } else {
                failure(
                    &executed,
                    errors::COMMAND_FAILURE,
                    format!("{executed} is not implemented"),
                )
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(command: &str, send_resp: bool) -> Option<OperateResp> {
        let m = Model::new("proto::a");
        operate(
            &m,
            &Operate {
                command: command.into(),
                command_key: "k".into(),
                send_resp,
                input_args: Default::default(),
            },
        )
    }

    #[test]
    fn reboot_has_empty_output_args() {
        let resp = op("Device.Reboot()", true).unwrap();
        let r = &resp.operation_results[0];
        assert_eq!(r.executed_command, "Device.Reboot()");
        assert!(
            matches!(&r.operation_resp, Some(operation_result::OperationResp::ReqOutputArgs(o)) if o.output_args.is_empty())
        );
        assert!(op("Device.Reboot()", false).is_none());
    }

    #[test]
    fn unknown_command_is_a_command_failure() {
        let resp = op("Device.SelfDestruct()", false).unwrap();
        assert!(matches!(&resp.operation_results[0].operation_resp,
            Some(operation_result::OperationResp::CmdFailure(f)) if f.err_code == 7026));
    }
}
