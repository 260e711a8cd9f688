//! What the reference Agent's STOMP client reads from its data model
//! before each connection and while one is live (sans-I/O): its own
//! destination (`LocalAgent.MTP.1.STOMP.Destination`, R-STOMP.15) and the
//! heart-beats it offers (`STOMP.Connection.{i}.EnableHeartbeats`,
//! `OutgoingHeartbeat`, `IncomingHeartbeat`, R-STOMP.8-10).

/// The Agent's MTP row whose `STOMP.` object names its connection and destination.
pub const MODEL_MTP: &str = "Device.LocalAgent.MTP.1.STOMP.";
/// The STOMP connection used when `STOMP.Reference` names none.
pub const MODEL_CONNECTION: &str = "Device.STOMP.Connection.1.";

/// The `Device.STOMP.Connection.{i}.` object the Agent's STOMP MTP uses:
/// the one its `LocalAgent.MTP.1.STOMP.Reference` names, or the first.
pub fn model_connection(param: &dyn Fn(&str) -> Option<String>) -> String {
    param(&format!("{MODEL_MTP}Reference"))
        .map(|r| r.trim().trim_end_matches('.').to_string())
        .filter(|r| r.starts_with("Device.STOMP.Connection."))
        .map_or_else(|| MODEL_CONNECTION.to_string(), |r| format!("{r}."))
}

/// The configured destination: `None` when the parameter is empty or
/// absent (then only a broker-assigned `subscribe-dest` will do, R-STOMP.16).
pub fn model_destination(param: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    param(&format!("{MODEL_MTP}Destination"))
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty())
}

/// The heart-beats to offer, `(OutgoingHeartbeat, IncomingHeartbeat)` in
/// ms; `None` (no header, R-STOMP.10) when EnableHeartbeats is false or
/// the values are unreadable.
pub fn model_heartbeat(param: &dyn Fn(&str) -> Option<String>) -> Option<(u64, u64)> {
    let c = model_connection(param);
    let get = |name: &str| param(&format!("{c}{name}"));
    let enabled = get("EnableHeartbeats").is_some_and(|e| matches!(e.trim(), "true" | "1"));
    if !enabled {
        return None;
    }
    let ms = |name: &str| get(name)?.trim().parse::<u64>().ok();
    Some((ms("OutgoingHeartbeat")?, ms("IncomingHeartbeat")?))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn model(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn destination_and_heart_beats_come_from_the_referenced_connection() {
        let m = model(&[
            (
                "Device.LocalAgent.MTP.1.STOMP.Reference",
                "Device.STOMP.Connection.2",
            ),
            ("Device.LocalAgent.MTP.1.STOMP.Destination", " /queue/a "),
            ("Device.STOMP.Connection.2.EnableHeartbeats", "true"),
            ("Device.STOMP.Connection.2.OutgoingHeartbeat", "15000"),
            ("Device.STOMP.Connection.2.IncomingHeartbeat", "10000"),
        ]);
        let p = |k: &str| m.get(k).cloned();
        assert_eq!(model_connection(&p), "Device.STOMP.Connection.2.");
        assert_eq!(model_destination(&p).as_deref(), Some("/queue/a"));
        assert_eq!(model_heartbeat(&p), Some((15000, 10000)));
    }

    #[test]
    fn empty_destination_and_disabled_heart_beats_are_none() {
        let m = model(&[
            ("Device.LocalAgent.MTP.1.STOMP.Destination", ""),
            ("Device.STOMP.Connection.1.EnableHeartbeats", "false"),
            ("Device.STOMP.Connection.1.OutgoingHeartbeat", "1"),
            ("Device.STOMP.Connection.1.IncomingHeartbeat", "1"),
        ]);
        let p = |k: &str| m.get(k).cloned();
        assert_eq!(model_connection(&p), MODEL_CONNECTION);
        assert_eq!(model_destination(&p), None);
        assert_eq!(model_heartbeat(&p), None);
    }
}
