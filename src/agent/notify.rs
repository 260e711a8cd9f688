//! Notify requests for events (`Device.Boot!`, `Device.LocalAgent.Periodic!`), sent only to
//! Controllers with an enabled Event Subscription whose ReferenceList covers the event.

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
    let mut out = Vec::new();
    for sub in model.instances("Device.LocalAgent.Subscription.") {
        let value = |name: &str| model.value(&sub, name).unwrap_or_default();
        let enabled = matches!(value("Enable").as_str(), "true" | "1");
        let covers = value("ReferenceList")
            .split(',')
            .map(str::trim)
            .any(|r| r == event_path || (r.ends_with('.') && event_path.starts_with(r)));
        if !enabled || value("NotifType") != "Event" || !covers {
            continue;
        }
        let Some(eid) = model.value(&format!("{}.", value("Recipient")), "EndpointID") else {
            continue;
        };
        *next_id += 1;
        let notify = Notify {
            subscription_id: value("ID"),
            send_resp: false,
            notification: Some(notify::Notification::Event(notify::Event {
                obj_path: obj_path.clone(),
                event_name: event_name.clone(),
                params: args.clone(),
            })),
        };
        out.push((
            eid,
            msg::request(format!("notify-{next_id}"), ReqType::Notify(notify)),
        ));
    }
    out
}
