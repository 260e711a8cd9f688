//! Operate: the sync `Device.Reboot()`, `Request.{i}.Cancel()` and ControllerTrust challenge commands, the async
//! `FirmwareImage.{i}.Download()` / `Activate()` (a Request row, R-OPR). Every failure is a
//! CommandFailure inside the OperateResp, never an Error Msg (R-OPR.1). What must happen
//! outside the core (reboot, HTTP fetch) is queued as an Effect.

use std::collections::BTreeMap;

use super::effects::{DownloadJob, Effect};
use super::faults::Fault;
use super::firmware;
use super::model::supported_path;
use super::path::Leaf;
use super::request_table;
use super::resolve::resolve;
use super::Agent;
use crate::usp::errors;
use crate::usp::proto::msg::operate_resp::{operation_result, OperationResult};
use crate::usp::proto::msg::{Operate, OperateResp};

type Outcome = Result<operation_result::OperationResp, (u32, String)>;

impl Agent {
    /// The OperateResp, or None when `send_resp` is false and nothing failed.
    pub(super) fn operate(&mut self, controller: &str, req: &Operate) -> Option<OperateResp> {
        let results = self.run_operate(controller, req);
        let failed = results.iter().any(|r| {
            matches!(
                r.operation_resp,
                Some(operation_result::OperationResp::CmdFailure(_))
            )
        });
        if !req.send_resp && !failed && !self.faults.contains(Fault::AnswersSendRespFalse) {
            return None;
        }
        Some(OperateResp {
            operation_results: results,
        })
    }

    fn run_operate(&mut self, controller: &str, req: &Operate) -> Vec<OperationResult> {
        let r = match resolve(&self.model, &req.command) {
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
                let outcome = self.run_one(controller, obj, name, req);
                OperationResult {
                    operation_resp: Some(outcome.unwrap_or_else(|(code, msg)| {
                        operation_result::OperationResp::CmdFailure(
                            operation_result::CommandFailure {
                                err_code: code,
                                err_msg: msg,
                            },
                        )
                    })),
                    executed_command: executed,
                }
            })
            .collect()
    }

    fn run_one(&mut self, controller: &str, obj: &str, name: &str, req: &Operate) -> Outcome {
        let args = &req.input_args;
        let key = req.command_key.as_str();
        let now = self.clock.mono;
        match (supported_path(obj).as_str(), name) {
            ("Device.", "Reboot()") => {
                // Synchronous, no output arguments (TP-469 1.61); the runtime restarts us.
                self.effects.push(Effect::Reboot {
                    cause: "RemoteReboot".into(),
                    command_key: key.into(),
                });
                Ok(output(BTreeMap::new()))
            }
            ("Device.DeviceInfo.FirmwareImage.{i}.", "Download()") => {
                let mut job = firmware::start(&mut self.model, obj, args, &self.clock)?;
                job.request =
                    request_table::open(&mut self.model, controller, &format!("{obj}{name}"), key);
                job.controller = controller.to_string();
                job.command_key = key.to_string();
                self.next_job += 1;
                self.effects.push(Effect::Download(DownloadJob {
                    id: self.next_job,
                    url: job.url.clone(),
                    username: job.username.clone(),
                    password: job.password.clone(),
                }));
                let request = job.request.clone();
                self.downloads.insert(self.next_job, job);
                Ok(operation_result::OperationResp::ReqObjPath(request))
            }
            ("Device.DeviceInfo.FirmwareImage.{i}.", "Activate()") => {
                firmware::check_activate(&self.model, obj)?;
                // The Request row does not survive the reboot, so no OperationComplete.
                let request =
                    request_table::open(&mut self.model, controller, &format!("{obj}{name}"), key);
                self.activation = Some(obj.to_string());
                self.effects.push(Effect::Reboot {
                    cause: "FirmwareActivation".into(),
                    command_key: key.into(),
                });
                Ok(operation_result::OperationResp::ReqObjPath(request))
            }
            ("Device.LocalAgent.Request.{i}.", "Cancel()") => {
                self.cancel_request(obj).map(|()| output(BTreeMap::new()))
            }
            ("Device.LocalAgent.ControllerTrust.", "RequestChallenge()") => {
                self.challenges.request(&self.model, args, now).map(output)
            }
            ("Device.LocalAgent.ControllerTrust.", "ChallengeResponse()") => {
                let anything = self.faults.contains(Fault::ChallengeAcceptsAnything);
                self.challenges
                    .respond(&self.model, args, now, anything)
                    .map(output)
            }
            _ => Err((
                errors::COMMAND_FAILURE,
                format!("{obj}{name} is not implemented"),
            )),
        }
    }
}

fn output(args: BTreeMap<String, String>) -> operation_result::OperationResp {
    operation_result::OperationResp::ReqOutputArgs(operation_result::OutputArgs {
        output_args: args,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn op(command: &str, send_resp: bool) -> Option<OperateResp> {
        let mut a = Agent::new(crate::agent::AgentConfig {
            endpoint_id: "proto::a".into(),
            faults: Default::default(),
        });
        a.operate(
            "proto::c",
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
    fn answers_send_resp_false_fault_answers_anyway() {
        let mut a = Agent::new(crate::agent::AgentConfig {
            endpoint_id: "proto::a".into(),
            faults: [Fault::AnswersSendRespFalse].into_iter().collect(),
        });
        let resp = a.operate(
            "proto::c",
            &Operate {
                command: "Device.Reboot()".into(),
                send_resp: false,
                ..Default::default()
            },
        );
        assert!(resp.is_some());
    }

    #[test]
    fn unknown_command_is_a_command_failure() {
        let resp = op("Device.SelfDestruct()", false).unwrap();
        assert!(matches!(&resp.operation_results[0].operation_resp,
            Some(operation_result::OperationResp::CmdFailure(f)) if f.err_code == 7026));
    }
}
