//! `Device.LocalAgent.Request.{i}.`: one row per running async operation (R-OPR, released
//! TR-181 2.12), created when the Operate is accepted and deleted when it ends.

use super::model::Model;
use crate::usp::errors;

pub const TABLE: &str = "Device.LocalAgent.Request.";

/// Adds a row with Status Active; returns its path without the trailing dot
/// (the form OperateResp.req_obj_path carries).
pub fn open(model: &mut Model, originator: &str, command: &str, command_key: &str) -> String {
    let inst = model.create_instance(TABLE);
    model.put(&inst, "Originator", originator);
    model.put(&inst, "Command", command);
    model.put(&inst, "CommandKey", command_key);
    model.put(&inst, "Status", "Active");
    inst.trim_end_matches('.').to_string()
}

/// Removes the row (the operation has ended, R-OPR).
pub fn close(model: &mut Model, request: &str) {
    model.delete(&format!("{request}."));
}

/// Async operations do not survive a reboot.
pub fn clear(model: &mut Model) {
    for row in model.instances(TABLE) {
        model.delete(&row);
    }
}

impl super::Agent {
    /// `Device.LocalAgent.Request.{i}.Cancel()` on `request` (with its
    /// trailing dot): the running operation stops, its Request row's
    /// Status goes Canceling then Canceled, an OperationComplete with
    /// 7023 Command canceled goes to the subscribed Controllers and the
    /// row is removed (the operation has ended, R-OPR). Only Download()
    /// runs long enough to be canceled; anything else is a cmd_failure.
    pub(super) fn cancel_request(&mut self, request: &str) -> Result<(), (u32, String)> {
        let row = request.trim_end_matches('.');
        if self.faults.contains(super::faults::Fault::CancelIgnored) {
            return Ok(());
        }
        let found = self
            .downloads
            .iter()
            .find(|(_, job)| job.request == row)
            .map(|(id, _)| *id);
        let Some(job) = found.and_then(|id| self.downloads.remove(&id)) else {
            return Err((
                errors::COMMAND_FAILURE,
                format!("{row} has no running operation that can be canceled"),
            ));
        };
        // The fetch the runtime still runs finds no job and is dropped.
        self.model.put(request, "Status", "Canceling");
        super::firmware::cancel(&mut self.model, &job);
        self.model.put(request, "Status", "Canceled");
        let n = self.notifier.operation_complete(
            &self.model,
            &self.faults,
            &job.image,
            "Download()",
            &job.command_key,
            Some((
                errors::COMMAND_CANCELED,
                format!("{}Download() canceled by {row}.Cancel()", job.image),
            )),
        );
        self.outbox.extend(n);
        close(&mut self.model, row);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operate(a: &mut super::super::Agent, command: &str, args: &[(&str, &str)]) -> String {
        use crate::usp::proto::msg::operate_resp::operation_result::OperationResp;
        use crate::usp::proto::msg::Operate;
        let resp = a
            .operate(
                "proto::c",
                &Operate {
                    command: command.into(),
                    command_key: "k".into(),
                    send_resp: true,
                    input_args: args
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                },
            )
            .expect("an OperateResp");
        match &resp.operation_results[0].operation_resp {
            Some(OperationResp::ReqObjPath(p)) => p.clone(),
            Some(OperationResp::ReqOutputArgs(_)) => String::new(),
            other => panic!("{command}: {other:?}"),
        }
    }

    #[test]
    fn cancel_ends_a_running_download() {
        let mut a = super::super::Agent::new(crate::agent::AgentConfig {
            endpoint_id: "proto::a".into(),
            faults: Default::default(),
        });
        let image = "Device.DeviceInfo.FirmwareImage.2.";
        let before = a.model.value(image, "Status");
        let req = operate(
            &mut a,
            &format!("{image}Download()"),
            &[("URL", "http://127.0.0.1:9/fw.bin")],
        );
        assert_eq!(
            a.model.value(image, "Status").as_deref(),
            Some("Downloading")
        );
        assert_eq!(operate(&mut a, &format!("{req}.Cancel()"), &[]), "");
        assert!(a.model.instances(TABLE).is_empty(), "the row is removed");
        assert!(a.downloads.is_empty());
        assert_eq!(a.model.value(image, "Status"), before);
        // Nothing left to cancel: a cmd_failure.
        let again = a.operate(
            "proto::c",
            &crate::usp::proto::msg::Operate {
                command: "Device.LocalAgent.Request.*.Cancel()".into(),
                send_resp: true,
                ..Default::default()
            },
        );
        assert!(again.is_some());
    }

    #[test]
    fn rows_live_while_the_operation_runs() {
        let mut m = Model::new("proto::a");
        let r = open(&mut m, "proto::c", "Device.X()", "k");
        assert_eq!(r, "Device.LocalAgent.Request.1");
        assert_eq!(
            m.value("Device.LocalAgent.", "RequestNumberOfEntries")
                .as_deref(),
            Some("1")
        );
        assert_eq!(
            m.value("Device.LocalAgent.Request.1.", "Status").as_deref(),
            Some("Active")
        );
        close(&mut m, &r);
        assert_eq!(
            m.value("Device.LocalAgent.", "RequestNumberOfEntries")
                .as_deref(),
            Some("0")
        );
        open(&mut m, "proto::c", "Device.X()", "k");
        clear(&mut m);
        assert!(m.instances(TABLE).is_empty());
    }
}
