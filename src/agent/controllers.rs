//! `Device.LocalAgent.Controller.{i}.` rows (DRAFT-Controllers:1): a Controller with an
//! Endpoint ID the Agent does not know gets a row on first contact, with
//! `ControllerTrust.UntrustedRole` as its AssignedRole (TP-469 2.9).

use super::faults::{Fault, FaultSet};
use super::model::Model;

const TABLE: &str = "Device.LocalAgent.Controller.";
const TRUST: &str = "Device.LocalAgent.ControllerTrust.";
const ROLES: &str = "Device.LocalAgent.ControllerTrust.Role.";

/// A new row's `E2ESession.` settings, as start_values.yaml gives the
/// configured Controllers (0 = the context never expires).
const E2E_SESSION_START: &[(&str, &str)] = &[
    ("SessionMode", "Allow"),
    ("PayloadSecurity", "TLS"),
    ("CurrentRetryCount", "0"),
    ("SessionExpiration", "0"),
    ("MaxRetransmitTries", "3"),
    ("SessionRetryMinimumWaitInterval", "5"),
    ("SessionRetryIntervalMultiplier", "2000"),
];

/// Adds a row for `eid` unless one exists; returns the new instance path.
pub fn ensure(model: &mut Model, eid: &str, protocol: &str, faults: &FaultSet) -> Option<String> {
    if eid.is_empty() || model.controller_path(eid).is_some() {
        return None;
    }
    let row = model.create_instance(TABLE);
    let number = row
        .trim_end_matches('.')
        .rsplit('.')
        .next()
        .unwrap_or("0")
        .to_string();
    model.put(&row, "Alias", format!("cpe-{number}"));
    model.put(&row, "Enable", "true");
    model.put(&row, "EndpointID", eid);
    // An unknown Controller is not trusted: it gets the UntrustedRole
    // (empty when the Agent has none configured, see trust.rs).
    let role = if faults.contains(Fault::UntrustedGetsFullAccess) {
        model
            .instances(ROLES)
            .first()
            .map(|r| r.trim_end_matches('.').to_string())
            .unwrap_or_default()
    } else {
        model.value(TRUST, "UntrustedRole").unwrap_or_default()
    };
    model.put(&row, "AssignedRole", role);
    model.put(&row, "PeriodicNotifInterval", "86400");
    let mtp = model.create_instance(&format!("{row}MTP."));
    model.put(&mtp, "Alias", "cpe-1");
    model.put(&mtp, "Enable", "true");
    model.put(&mtp, "Protocol", protocol);
    let e2e = format!("{row}E2ESession.");
    for (name, value) in E2E_SESSION_START {
        model.put(&e2e, name, *value);
    }
    Some(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_controller_gets_a_row_once() {
        let mut m = Model::new("proto::a");
        let none = FaultSet::default();
        assert_eq!(
            ensure(&mut m, "proto::plugfest-controller", "WebSocket", &none),
            None
        );
        let row = ensure(&mut m, "proto::other", "MQTT", &none).unwrap();
        assert_eq!(row, "Device.LocalAgent.Controller.3.");
        assert_eq!(m.value(&row, "MTPNumberOfEntries").as_deref(), Some("1"));
        assert_eq!(
            m.value(&format!("{row}MTP.1."), "Protocol").as_deref(),
            Some("MQTT")
        );
        assert_eq!(ensure(&mut m, "proto::other", "MQTT", &none), None);
        assert_eq!(
            m.value("Device.LocalAgent.", "ControllerNumberOfEntries")
                .as_deref(),
            Some("3")
        );
    }

    #[test]
    fn a_new_controller_gets_the_untrusted_role() {
        let mut m = Model::new("proto::a");
        let ro = "Device.LocalAgent.ControllerTrust.Role.2";
        m.put(TRUST, "UntrustedRole", ro);
        let row = ensure(&mut m, "proto::new", "WebSocket", &FaultSet::default()).unwrap();
        assert_eq!(m.value(&row, "AssignedRole").as_deref(), Some(ro));
        let faulty: FaultSet = [Fault::UntrustedGetsFullAccess].into_iter().collect();
        let row = ensure(&mut m, "proto::newer", "WebSocket", &faulty).unwrap();
        assert_eq!(
            m.value(&row, "AssignedRole").as_deref(),
            Some("Device.LocalAgent.ControllerTrust.Role.1")
        );
    }
}
