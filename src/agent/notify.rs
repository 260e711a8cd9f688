//! Notify requests, sent only to Controllers with an enabled Subscription of
//! the right NotifType whose ReferenceList covers what happened: events
//! (`Device.Boot!`, `Device.LocalAgent.Periodic!`) and value changes.

use super::model::Model;
use crate::usp::msg;
use crate::usp::proto::msg::{notify, request::ReqType, Msg, Notify};
use std::collections::BTreeMap;

/// (Controller Endpoint ID, Notify Msg) for each matching Subscription.
pub fn event_notifications(
    model: &Model,
    next_id: &mut u64,
    event_path: &str,
    args: &BTreeMap<String, String>,
) -> Vec<(String, Msg)> {
    let Some((obj_path, event_name)) = event_path
        .rsplit_once('.')
        .map(|(o, e)| (format!("{o}."), e.to_string()))
    else {
        return Vec::new();
    };
    notifications(model, next_id, "Event", event_path, || {
        notify::Notification::Event(notify::Event {
            obj_path: obj_path.clone(),
            event_name: event_name.clone(),
            params: args.clone(),
        })
    })
}

/// ValueChange notifications for a parameter that now has `value`.
pub fn value_change_notifications(
    model: &Model,
    next_id: &mut u64,
    param_path: &str,
    value: &str,
) -> Vec<(String, Msg)> {
    notifications(model, next_id, "ValueChange", param_path, || {
        notify::Notification::ValueChange(notify::ValueChange {
            param_path: param_path.to_string(),
            param_value: value.to_string(),
        })
    })
}

fn notifications(
    model: &Model,
    next_id: &mut u64,
    notif_type: &str,
    path: &str,
    notification: impl Fn() -> notify::Notification,
) -> Vec<(String, Msg)> {
    let mut out = Vec::new();
    for sub in model.instances("Device.LocalAgent.Subscription.") {
        let value = |name: &str| model.value(&sub, name).unwrap_or_default();
        let enabled = matches!(value("Enable").as_str(), "true" | "1");
        let covers = value("ReferenceList")
            .split(',')
            .map(str::trim)
            .any(|r| references(r, path));
        if !enabled || value("NotifType") != notif_type || !covers {
            continue;
        }
        let Some(eid) = model.value(&format!("{}.", value("Recipient")), "EndpointID") else {
            continue;
        };
        *next_id += 1;
        let notify = Notify {
            subscription_id: value("ID"),
            send_resp: false,
            notification: Some(notification()),
        };
        out.push((
            eid,
            msg::request(format!("notify-{next_id}"), ReqType::Notify(notify)),
        ));
    }
    out
}

/// Whether a ReferenceList entry names `path`: the path itself, an object
/// above it (ending in `.`), with `*` standing for any instance number.
fn references(reference: &str, path: &str) -> bool {
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
