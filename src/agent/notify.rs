//! Notify requests, sent only to the Recipient Controller of each enabled Subscription
//! of the right NotifType whose ReferenceList covers what happened (DRAFT-Subscriptions:1):
//! events, value changes, object creation/deletion and OperationComplete.

use super::faults::{Fault, FaultSet};
use super::model::Model;
use crate::usp::msg;
use crate::usp::proto::msg::{notify, request::ReqType, Msg, Notify};
use std::collections::BTreeMap;

/// What a notification is about, and who may hear it.
pub struct Occurrence<'a> {
    /// Subscription.{i}.NotifType it is for.
    pub notif_type: &'a str,
    /// The path a ReferenceList entry must cover.
    pub path: &'a str,
    /// Only this Controller's Subscriptions (Periodic!, Boot!); None = every Recipient.
    pub only: Option<&'a str>,
}

/// Numbers the Notify Msgs of one Agent.
#[derive(Default)]
pub struct Notifier {
    next_id: u64,
}

impl Notifier {
    /// (Controller Endpoint ID, Notify Msg) for each matching Subscription; `make` builds
    /// the notification for a Controller (None = nothing for it).
    pub fn notify(
        &mut self,
        model: &Model,
        faults: &FaultSet,
        what: &Occurrence,
        make: impl Fn(&str) -> Option<notify::Notification>,
    ) -> Vec<(String, Msg)> {
        let mut out = Vec::new();
        for sub in model.instances("Device.LocalAgent.Subscription.") {
            let value = |name: &str| model.value(&sub, name).unwrap_or_default();
            // Only while Enable is true, unless the notify-when-disabled fault is on.
            let enabled = matches!(value("Enable").as_str(), "true" | "1")
                || faults.contains(Fault::NotifyWhenDisabled);
            let covers = value("ReferenceList")
                .split(',')
                .map(str::trim)
                .any(|r| references(r, what.path));
            if !enabled || value("NotifType") != what.notif_type || !covers {
                continue;
            }
            let Some(eid) = model.value(&format!("{}.", value("Recipient")), "EndpointID") else {
                continue;
            };
            if what.only.is_some_and(|only| only != eid) {
                continue;
            }
            // ControllerTrust: only a Controller whose Role grants `n` hears it.
            if !faults.contains(Fault::NotifyWithoutPermission)
                && !super::trust_enforce::may_notify(model, &eid, what.notif_type, what.path)
            {
                continue;
            }
            let Some(notification) = make(&eid) else {
                continue;
            };
            self.next_id += 1;
            let notify = Notify {
                subscription_id: value("ID"),
                // Events ask for a NotifyResp (contract); the others do not.
                send_resp: what.notif_type == "Event",
                notification: Some(notification),
            };
            out.push((
                eid,
                msg::request(format!("notify-{}", self.next_id), ReqType::Notify(notify)),
            ));
        }
        out
    }

    /// An Event (`Device.Boot!`, `Device.LocalAgent.Periodic!`, ...) with the same args for all.
    pub fn event(
        &mut self,
        model: &Model,
        faults: &FaultSet,
        event_path: &str,
        only: Option<&str>,
        args: impl Fn(&str) -> BTreeMap<String, String>,
    ) -> Vec<(String, Msg)> {
        let Some((obj, name)) = event_path.rsplit_once('.') else {
            return Vec::new();
        };
        let what = Occurrence {
            notif_type: "Event",
            path: event_path,
            only,
        };
        self.notify(model, faults, &what, |eid| {
            Some(notify::Notification::Event(notify::Event {
                obj_path: format!("{obj}."),
                event_name: name.to_string(),
                params: args(eid),
            }))
        })
    }

    /// ValueChange for a parameter that now has `value`.
    pub fn value_change(
        &mut self,
        model: &Model,
        faults: &FaultSet,
        param_path: &str,
        value: &str,
    ) -> Vec<(String, Msg)> {
        let what = Occurrence {
            notif_type: "ValueChange",
            path: param_path,
            only: None,
        };
        self.notify(model, faults, &what, |_| {
            Some(notify::Notification::ValueChange(notify::ValueChange {
                param_path: param_path.to_string(),
                param_value: value.to_string(),
            }))
        })
    }

    /// ObjectCreation for a new instance `inst` ("...{n}.") with its unique keys.
    pub fn object_creation(
        &mut self,
        model: &Model,
        faults: &FaultSet,
        inst: &str,
    ) -> Vec<(String, Msg)> {
        if faults.contains(Fault::NoObjectCreation) {
            return Vec::new();
        }
        let keys = model.unique_keys(inst);
        let what = Occurrence {
            notif_type: "ObjectCreation",
            path: inst,
            only: None,
        };
        self.notify(model, faults, &what, |_| {
            Some(notify::Notification::ObjCreation(notify::ObjectCreation {
                obj_path: inst.to_string(),
                unique_keys: keys.clone(),
            }))
        })
    }

    /// ObjectDeletion for an instance that is gone.
    pub fn object_deletion(
        &mut self,
        model: &Model,
        faults: &FaultSet,
        inst: &str,
    ) -> Vec<(String, Msg)> {
        let what = Occurrence {
            notif_type: "ObjectDeletion",
            path: inst,
            only: None,
        };
        self.notify(model, faults, &what, |_| {
            Some(notify::Notification::ObjDeletion(notify::ObjectDeletion {
                obj_path: inst.to_string(),
            }))
        })
    }

    /// OperationComplete of `obj_path` + `command_name`: empty output args, or a failure.
    pub fn operation_complete(
        &mut self,
        model: &Model,
        faults: &FaultSet,
        obj_path: &str,
        command_name: &str,
        command_key: &str,
        failure: Option<(u32, String)>,
    ) -> Vec<(String, Msg)> {
        use notify::operation_complete::{CommandFailure, OperationResp, OutputArgs};
        let path = format!("{obj_path}{command_name}");
        let what = Occurrence {
            notif_type: "OperationComplete",
            path: &path,
            only: None,
        };
        self.notify(model, faults, &what, |_| {
            let resp = match &failure {
                None => OperationResp::ReqOutputArgs(OutputArgs::default()),
                Some((code, text)) => OperationResp::CmdFailure(CommandFailure {
                    err_code: *code,
                    err_msg: text.clone(),
                }),
            };
            Some(notify::Notification::OperComplete(
                notify::OperationComplete {
                    obj_path: obj_path.to_string(),
                    command_name: command_name.to_string(),
                    command_key: command_key.to_string(),
                    operation_resp: Some(resp),
                },
            ))
        })
    }
}

/// Whether a ReferenceList entry names `path`: the path itself, an object
/// above it (ending in `.`), with `*` standing for any instance number.
pub(super) fn references(reference: &str, path: &str) -> bool {
    if reference.is_empty() {
        return false;
    }
    let ref_parts: Vec<&str> = reference.trim_end_matches('.').split('.').collect();
    let path_parts: Vec<&str> = path.trim_end_matches('.').split('.').collect();
    let is_object = reference.ends_with('.');
    if ref_parts.len() > path_parts.len() || (!is_object && ref_parts.len() != path_parts.len()) {
        return false;
    }
    ref_parts
        .iter()
        .zip(&path_parts)
        .all(|(r, p)| r == p || (*r == "*" && p.parse::<u32>().is_ok()))
}

#[cfg(test)]
mod tests {
    use super::references;

    #[test]
    fn reference_list_entries_cover_paths() {
        assert!(references(
            "Device.DeviceInfo.FriendlyName",
            "Device.DeviceInfo.FriendlyName"
        ));
        assert!(references(
            "Device.DeviceInfo.",
            "Device.DeviceInfo.FriendlyName"
        ));
        assert!(references(
            "Device.LocalAgent.Controller.*.Alias",
            "Device.LocalAgent.Controller.1.Alias"
        ));
        assert!(!references(
            "Device.DeviceInfo.Friendly",
            "Device.DeviceInfo.FriendlyName"
        ));
        assert!(!references(
            "Device.DeviceInfo.FriendlyName",
            "Device.DeviceInfo."
        ));
        assert!(!references("", "Device.DeviceInfo.FriendlyName"));
    }
}
