//! `Device.LocalAgent.Request.{i}.`: one row per running async operation (R-OPR, released
//! TR-181 2.12), created when the Operate is accepted and deleted when it ends.

use super::model::Model;

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

#[cfg(test)]
mod tests {
    use super::*;

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
