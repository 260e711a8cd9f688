//! Message Transfer Protocols. Every MTP offers the same small interface: an
//! established connection that sends and receives whole USP Records as bytes.
//! Binding specifics (subprotocols, topics, Connect Records) stay inside each
//! transport's module; nothing here knows about test cases.

pub mod backoff;
pub mod coap;
pub mod mqtt;
pub mod retry_log;
pub mod stomp;
pub mod tls;
pub mod uds;
pub mod websocket;

use async_trait::async_trait;
use thiserror::Error;

use crate::usp::proto::record::Record;

/// What arrives from the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// One whole USP Record, still encoded.
    Record(Vec<u8>),
    /// Something the binding forbids carrying a Record in (e.g. a WebSocket
    /// text frame, R-WS.14); described for the trace.
    Unusable(String),
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MtpError {
    #[error("could not connect to {address}: {reason}")]
    Connect { address: String, reason: String },
    #[error("the {mtp} handshake failed: {reason}")]
    Handshake { mtp: &'static str, reason: String },
    #[error("the peer closed the connection{}", close_detail(.code, .reason))]
    Closed { code: Option<u16>, reason: String },
    #[error("transport error: {0}")]
    Io(String),
    #[error("no connection was established within {0} ms")]
    Timeout(u64),
}

fn close_detail(code: &Option<u16>, reason: &str) -> String {
    match (code, reason.is_empty()) {
        (Some(c), true) => format!(" (close code {c})"),
        (Some(c), false) => format!(" (close code {c}: {reason})"),
        (None, true) => String::new(),
        (None, false) => format!(" ({reason})"),
    }
}

/// Who is on the other end of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// `WebSocket`, `UDS`, `MQTT`, ...
    pub mtp: &'static str,
    /// Socket address or URL.
    pub address: String,
    /// The Endpoint ID the peer announced in the binding's handshake, if any.
    pub endpoint_id: Option<String>,
    /// The Endpoint ID in the subjectAltName of the certificate the peer
    /// presented over TLS (R-SEC.0a). When set and the TLS peer is the USP
    /// peer itself, Records whose from_id differs MUST NOT be processed
    /// (R-SEC.10a); over a broker MTP it is the broker's certificate
    /// (`MtpConnection::certificate_names_the_peer`).
    pub certificate_endpoint_id: Option<String>,
    /// Whether this connection to the Agent runs over TLS, and what was
    /// negotiated (TP-469 4.1, 7.9). `None` where the connection cannot
    /// tell: on a broker MTP the harness's own hop to the broker is not the
    /// Agent's channel (the interposer sees that one), and UDS and CoAP
    /// have no TLS layer here.
    pub channel: Option<tls::channel::ChannelSecurity>,
}

/// How a binding itself answers a Record it cannot process, where its own
/// rules say so. Elsewhere R-MTP.5 alone applies: the Record is ignored (or
/// answered with a Record Error) and the session kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadRecordAnswer {
    /// WebSocket: a Close frame with status 1003 (R-WS.16, TP-469 7.6).
    WebSocket1003,
    /// UDS: an Error TLV, then the connection ends (UDS binding).
    UdsErrorTlv,
    /// CoAP (obsoleted in 1.3): the POST is answered 4.00 Bad Request.
    Coap400,
}

impl BadRecordAnswer {
    pub fn describe(self) -> &'static str {
        match self {
            BadRecordAnswer::WebSocket1003 => "a Close frame with status code 1003",
            BadRecordAnswer::UdsErrorTlv => "an Error TLV, then the connection ends",
            BadRecordAnswer::Coap400 => "a 4.00 Bad Request answer to the POST",
        }
    }

    pub fn rule(self) -> &'static str {
        match self {
            BadRecordAnswer::WebSocket1003 => "R-WS.16",
            BadRecordAnswer::UdsErrorTlv => "UDS binding: a Record that cannot be extracted gets an Error TLV and the connection is closed",
            BadRecordAnswer::Coap400 => "CoAP binding: 4.00 for a Record that cannot be decoded",
        }
    }

    /// Whether the binding ends the connection (the Agent must then come
    /// back); CoAP only refuses the one POST.
    pub fn closes(self) -> bool {
        !matches!(self, BadRecordAnswer::Coap400)
    }

    /// Whether the way a connection ended, or a send failed, is this
    /// binding's answer.
    pub fn seen_in(self, end: &MtpError) -> bool {
        match (self, end) {
            (BadRecordAnswer::WebSocket1003, MtpError::Closed { code, .. }) => *code == Some(1003),
            (BadRecordAnswer::UdsErrorTlv, MtpError::Closed { code: None, reason }) => {
                reason.starts_with(uds::PEER_ERROR)
            }
            (BadRecordAnswer::Coap400, MtpError::Io(why)) => why.contains(coap::BAD_REQUEST),
            _ => false,
        }
    }
}

/// One established MTP connection between a Controller and an Agent.
#[async_trait]
pub trait MtpConnection: Send {
    /// Sends one encoded USP Record.
    async fn send(&mut self, record: &[u8]) -> Result<(), MtpError>;
    /// Waits for the next Record (or unusable frame) from the peer. Must be
    /// cancel-safe: callers race it against timers.
    async fn recv(&mut self) -> Result<Inbound, MtpError>;
    /// Closes the connection; `code` is binding-specific (a WebSocket close code).
    async fn close(&mut self, code: Option<u16>, reason: &str);
    fn peer(&self) -> &PeerInfo;
    /// Whether `peer().certificate_endpoint_id` is the USP peer's own
    /// certificate, so that R-SEC.10a applies to its Records. A broker MTP
    /// answers false: its TLS peer is the broker.
    fn certificate_names_the_peer(&self) -> bool {
        true
    }
    /// The Connect Record an Agent sends first on this MTP (R-MTP.6), e.g.
    /// a WebSocketConnectRecord; `None` on an MTP the Record schema defines
    /// no Connect Record for (CoAP).
    fn connect_record(&self, agent_id: &str, controller_id: &str) -> Option<Record>;
    /// The WebSocket test controls of this connection (`ws_control`
    /// steps): only a connection accepted by a `WsServer` that has a
    /// `WsControl` offers them.
    fn ws_frames(&mut self) -> Option<&mut dyn websocket::WsFrames> {
        None
    }
    /// How this binding itself answers a Record it cannot process; `None`
    /// where only R-MTP.5 applies (ignore it, keep the session).
    fn bad_record_answer(&self) -> Option<BadRecordAnswer> {
        None
    }
    /// Whether this MTP has a Connect Record at all, so a Controller knows
    /// whether to wait for one.
    fn defines_connect_record(&self) -> bool {
        self.connect_record("", "").is_some()
    }
    /// The table of the Agent's model this connection follows while it
    /// lives (the reference Agent's MQTT client: its Subscription table);
    /// `None` for most.
    fn followed_table(&self) -> Option<&str> {
        None
    }
    /// The rows of `followed_table` as they are now, handed over after
    /// every request the Agent answered (a Controller may have changed them).
    async fn follow_table(&mut self, _rows: &[ModelRow]) {}
}

/// One row of a table of the Agent's model: parameter name to value.
pub type ModelRow = std::collections::BTreeMap<String, String>;

/// The Agent's data model as a connector sees it before each attempt.
pub trait ModelView {
    /// A parameter by its full path.
    fn param(&self, path: &str) -> Option<String>;
    /// The rows of a table (`Device.MQTT.Client.1.Subscription.`), in
    /// instance order.
    fn rows(&self, table: &str) -> Vec<ModelRow>;
}

/// Something that yields connections: a listener waiting for Agents, or a
/// dialer that connects to an Agent. Re-establishing after a drop goes
/// through the same call.
#[async_trait]
pub trait MtpConnector: Send {
    async fn establish(&mut self) -> Result<Box<dyn MtpConnection>, MtpError>;
    /// Human-readable description for logs and reports.
    fn describe(&self) -> String;
    /// The last attempt that was refused (e.g. a handshake without the USP
    /// subprotocol), so a timeout can say what did arrive.
    fn last_problem(&self) -> Option<String> {
        None
    }
    /// Before each attempt, the Agent's data model: a client that follows
    /// its model (the reference Agent's MQTT client:
    /// `Device.MQTT.Client.1.ClientID`, `KeepAliveTime`, its Subscription
    /// table) picks up what a Controller set. Most ignore it.
    fn configure(&mut self, _model: &dyn ModelView) {}
    /// Boot-time discovery (DHCP option 125) named where the Controller is:
    /// dial `url` from now on. Only a dialer that reaches its peer by URL
    /// can follow it.
    fn redirect(&mut self, _url: &str) -> Result<(), String> {
        Err(format!(
            "{} cannot follow a discovered URL",
            self.describe()
        ))
    }
    /// Whether a connection from the Agent is already waiting, so
    /// `establish` would not wait (a server that accepts ahead). A run
    /// that gave up on this Controller tries again when one is.
    fn has_waiting_connection(&mut self) -> bool {
        false
    }
}
