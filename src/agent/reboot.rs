//! DRAFT-Reboot:1 after the runtime has brought the Agent back: what a reboot forgets
//! and the `Device.Boot!` arguments each Controller gets (CommandKey, Cause and the
//! ParameterMap of its enabled BootParameter patterns, a JSON object string).

use std::collections::BTreeMap;

use super::model::Model;
use super::notify::references;

/// A Boot! owed to the Controllers that reconnect after a reboot.
#[derive(Clone, Debug)]
pub struct PendingBoot {
    pub cause: String,
    pub command_key: String,
    /// Controllers already told.
    pub told: Vec<String>,
}

/// Boot! args for `controller`; `with_cause` false is the boot-without-cause fault.
pub fn boot_args(
    model: &Model,
    boot: &PendingBoot,
    controller: &str,
    with_cause: bool,
) -> BTreeMap<String, String> {
    let mut args = BTreeMap::new();
    args.insert("CommandKey".to_string(), boot.command_key.clone());
    if with_cause {
        args.insert("Cause".to_string(), boot.cause.clone());
    }
    args.insert(
        "FirmwareUpdated".to_string(),
        (boot.cause == "FirmwareActivation").to_string(),
    );
    args.insert("ParameterMap".to_string(), parameter_map(model, controller));
    args
}

/// `{"<full param path>": "<value>", ...}` for the params the Controller's enabled
/// `BootParameter.{i}.ParameterName` patterns match (`*` = any instance number,
/// a partial path ending in "." = everything under it).
pub fn parameter_map(model: &Model, controller: &str) -> String {
    let mut map = serde_json::Map::new();
    let Some(row) = model.controller_path(controller) else {
        return "{}".into();
    };
    let patterns: Vec<String> = model
        .instances(&format!("{row}.BootParameter."))
        .iter()
        .filter(|bp| matches!(model.value(bp, "Enable").as_deref(), Some("true" | "1")))
        .filter_map(|bp| model.value(bp, "ParameterName"))
        .filter(|p| !p.is_empty())
        .collect();
    for obj in model.objects().keys() {
        for (name, value) in model.params(obj) {
            let full = format!("{obj}{name}");
            if patterns.iter().any(|p| references(p, &full)) {
                map.insert(full, serde_json::Value::String(value));
            }
        }
    }
    serde_json::Value::Object(map).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_map_follows_enabled_patterns() {
        let mut m = Model::new("proto::a");
        let c = "proto::plugfest-controller";
        let bp = m.create_instance("Device.LocalAgent.Controller.1.BootParameter.");
        m.put(&bp, "Enable", "true");
        m.put(
            &bp,
            "ParameterName",
            "Device.DeviceInfo.FirmwareImage.*.Version",
        );
        let off = m.create_instance("Device.LocalAgent.Controller.1.BootParameter.");
        m.put(&off, "ParameterName", "Device.DeviceInfo.");
        let json: serde_json::Value = serde_json::from_str(&parameter_map(&m, c)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "Device.DeviceInfo.FirmwareImage.1.Version": "1.0",
                "Device.DeviceInfo.FirmwareImage.2.Version": ""
            })
        );
        m.put(&off, "Enable", "true");
        let json: serde_json::Value = serde_json::from_str(&parameter_map(&m, c)).unwrap();
        assert_eq!(json["Device.DeviceInfo.Manufacturer"], "Plugfest Reference");
        let boot = PendingBoot {
            cause: "RemoteReboot".into(),
            command_key: "k".into(),
            told: vec![],
        };
        assert_eq!(boot_args(&m, &boot, c, true)["Cause"], "RemoteReboot");
        assert!(!boot_args(&m, &boot, c, false).contains_key("Cause"));
    }
}
