//! DNS-SD discovery (TR-369 discovery section): the service types, what an
//! Agent's or a Controller's advertisement must carry (R-DIS.8-11a), the
//! target file a found WebSocket Agent becomes and the URL a found WebSocket
//! Controller is reached at. Pure; the mDNS I/O is in `mdns`.

pub mod dhcp;
pub mod mdns;
pub mod mdns_heard;
pub mod tls_probe;
mod validate;

pub use validate::{
    controller_url, target_file, validate, validate_any, validate_controller, Advertisement,
    Problem,
};

/// The IANA-registered Agent service types (discovery section); CoAP is the
/// only one over UDP. UDS has no DNS-SD service.
pub const AGENT_SERVICE_TYPES: [&str; 4] = [
    "_usp-agt-ws._tcp.local.",
    "_usp-agt-mqtt._tcp.local.",
    "_usp-agt-stomp._tcp.local.",
    "_usp-agt-coap._udp.local.",
];

/// The IANA-registered Controller service types (discovery section), which
/// `plugfest discover --controllers` browses.
pub const CONTROLLER_SERVICE_TYPES: [&str; 4] = [
    "_usp-ctr-ws._tcp.local.",
    "_usp-ctr-mqtt._tcp.local.",
    "_usp-ctr-stomp._tcp.local.",
    "_usp-ctr-coap._udp.local.",
];

/// The service type of the WebSocket MTP, the one the reference Agent
/// advertises and the one a target file can be written for.
pub const WS_AGENT_SERVICE: &str = "_usp-agt-ws._tcp.local.";

/// The reference Agent's Device.DeviceInfo.FriendlyName, which it
/// advertises as its TXT `name` (R-DIS.10).
pub const REFERENCE_AGENT_NAME: &str = "Plugfest reference Agent";

/// The WebSocket Controller service: the harness advertises itself under it
/// (`run --advertise-controller`) for Agents that look their Controller up
/// (R-DIS.7); the reference Agent finds it with `agent --find-controller`.
pub const WS_CONTROLLER_SERVICE: &str = "_usp-ctr-ws._tcp.local.";

/// The MTP a service type names, for the table.
pub fn mtp_of(service_type: &str) -> &'static str {
    match service_type {
        "_usp-agt-ws._tcp.local." | "_usp-ctr-ws._tcp.local." => "websocket",
        "_usp-agt-mqtt._tcp.local." | "_usp-ctr-mqtt._tcp.local." => "mqtt",
        "_usp-agt-stomp._tcp.local." | "_usp-ctr-stomp._tcp.local." => "stomp",
        "_usp-agt-coap._udp.local." | "_usp-ctr-coap._udp.local." => "coap",
        _ => "?",
    }
}

/// Whether `service_type` is a Controller's (`_usp-ctr-*`) rather than an
/// Agent's: the two carry different TXT keys (R-DIS.9-11).
pub fn is_controller_service(service_type: &str) -> bool {
    service_type.starts_with("_usp-ctr-")
}

/// The full service type (`_usp-agt-ws._tcp.local.`) of a name written
/// with or without the `.local.` domain; None unless it is one of the
/// IANA-registered USP services.
pub fn full_service_type(name: &str) -> Option<&'static str> {
    let trimmed = name.trim_end_matches('.');
    let full = if trimmed.ends_with(".local") {
        format!("{trimmed}.")
    } else {
        format!("{trimmed}.local.")
    };
    AGENT_SERVICE_TYPES
        .iter()
        .chain(CONTROLLER_SERVICE_TYPES.iter())
        .find(|t| **t == full)
        .copied()
}

/// The Agent service type of a `LocalAgent.MTP.{i}.Protocol` value; None
/// for UDS, which has no DNS-SD service, and for unknown values.
pub fn agent_service_of_protocol(protocol: &str) -> Option<&'static str> {
    match protocol {
        "WebSocket" => Some("_usp-agt-ws._tcp.local."),
        "MQTT" => Some("_usp-agt-mqtt._tcp.local."),
        "STOMP" => Some("_usp-agt-stomp._tcp.local."),
        "CoAP" => Some("_usp-agt-coap._udp.local."),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_are_completed_and_checked() {
        assert_eq!(
            full_service_type("_usp-agt-ws._tcp"),
            Some("_usp-agt-ws._tcp.local.")
        );
        assert_eq!(
            full_service_type("_usp-ctr-coap._udp.local."),
            Some("_usp-ctr-coap._udp.local.")
        );
        assert_eq!(full_service_type("_usp-agt-uds._tcp"), None);
        assert_eq!(full_service_type("_http._tcp"), None);
        assert_eq!(agent_service_of_protocol("UDS"), None);
        assert!(is_controller_service("_usp-ctr-ws._tcp.local."));
    }

    #[test]
    fn the_advertised_name_is_the_reference_agents_friendly_name() {
        let start = include_str!("../agent/start_values.yaml");
        assert!(start.contains(&format!("FriendlyName: {REFERENCE_AGENT_NAME}\n")));
    }
}
