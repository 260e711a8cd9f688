//! DNS-SD discovery (TR-369 discovery section): the service types, what an
//! Agent's or a Controller's advertisement must carry (R-DIS.8-11a), the
//! target file a found WebSocket Agent becomes and the URL a found WebSocket
//! Controller is reached at. Pure; the mDNS I/O is in `mdns`.

pub mod mdns;
pub mod tls_probe;
mod validate;

pub use validate::{controller_url, target_file, validate, Advertisement, Problem};

/// The IANA-registered Agent service types (discovery section); CoAP is the
/// only one over UDP. UDS has no DNS-SD service.
pub const AGENT_SERVICE_TYPES: [&str; 4] = [
    "_usp-agt-ws._tcp.local.",
    "_usp-agt-mqtt._tcp.local.",
    "_usp-agt-stomp._tcp.local.",
    "_usp-agt-coap._udp.local.",
];

/// The service type of the WebSocket MTP, the one the reference Agent
/// advertises and the one a target file can be written for.
pub const WS_AGENT_SERVICE: &str = "_usp-agt-ws._tcp.local.";

/// The WebSocket Controller service: the harness advertises itself under it
/// (`run --advertise-controller`) for Agents that look their Controller up
/// (R-DIS.7); the reference Agent finds it with `agent --find-controller`.
pub const WS_CONTROLLER_SERVICE: &str = "_usp-ctr-ws._tcp.local.";

/// The MTP a service type names, for the table.
pub fn mtp_of(service_type: &str) -> &'static str {
    match service_type {
        "_usp-agt-ws._tcp.local." => "websocket",
        "_usp-agt-mqtt._tcp.local." => "mqtt",
        "_usp-agt-stomp._tcp.local." => "stomp",
        "_usp-agt-coap._udp.local." => "coap",
        _ => "?",
    }
}
