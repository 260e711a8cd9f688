//! Test controls of the harness's CoAP endpoint (TP-469 section 5, legacy):
//! a handle a test case scripts through and the time-stamped log of the
//! CoAP messages behind each Record, which the Record trace does not show
//! (method, Content-Format, Block1, who answered what). The endpoint's
//! receive loop and sender write the log; an endpoint without a handle never
//! looks at any of this.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;
use chrono::{SecondsFormat, Utc};
use coap_lite::{CoapOption, MessageClass, MessageType, Packet};

use super::message::{self, Block, CoapUri, REPLY_TO};
use crate::mtp::MtpError;
use crate::trace::{Direction, MtpPacket, TraceEntry, Way};

/// Most events one run keeps.
const MAX_EVENTS: usize = 100_000;

/// What one log entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A request (POST, or whatever method came).
    Request,
    /// The answer to a request (piggy-backed, separate, or a Reset).
    Answer,
}

/// One CoAP message seen or sent by the harness's endpoint.
#[derive(Debug, Clone)]
pub struct CoapEvent {
    /// RFC 3339 UTC with milliseconds (sorts with the Records' trace).
    pub at: String,
    pub way: Way,
    pub kind: Kind,
    pub message_id: u16,
    /// `CON`, `NON`, `ACK`, `RST`.
    pub message_type: &'static str,
    /// `0.02 POST`, `2.04 Changed`, `4.05 Method Not Allowed`, ...
    pub code: String,
    pub content_format: Option<u32>,
    pub block1: Option<Block>,
    pub payload_len: usize,
    /// A request from the Agent whose message id it already used: a
    /// retransmission (RFC 7252 §4.2).
    pub repeated: bool,
    /// A request the harness left unanswered on purpose (`withhold_answers`).
    pub withheld: bool,
    /// An error answer's diagnostic payload (RFC 7252 §5.5.2).
    pub diagnostic: Option<String>,
}

impl CoapEvent {
    fn of(way: Way, kind: Kind, p: &Packet) -> Self {
        CoapEvent {
            at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            way,
            kind,
            message_id: p.header.message_id,
            message_type: type_name(p.header.get_type()),
            code: code_text(p.header.code),
            content_format: message::content_format(p),
            block1: message::block1(p).ok().flatten(),
            payload_len: p.payload.len(),
            repeated: false,
            withheld: false,
            diagnostic: match p.header.code {
                MessageClass::Response(r) if r.is_error() && !p.payload.is_empty() => {
                    Some(String::from_utf8_lossy(&p.payload).into_owned())
                }
                _ => None,
            },
        }
    }

    /// `2.04` of `2.04 Changed`: what cases compare.
    pub fn code_number(&self) -> &str {
        self.code.split(' ').next().unwrap_or_default()
    }

    pub fn fields(&self) -> Vec<(String, String)> {
        let mut f = vec![
            ("type".to_string(), self.message_type.to_string()),
            ("message id".to_string(), self.message_id.to_string()),
            ("code".to_string(), self.code.clone()),
        ];
        if let Some(cf) = self.content_format {
            f.push(("Content-Format".into(), cf.to_string()));
        }
        if let Some(b) = self.block1 {
            f.push((
                "Block1".into(),
                format!("{}/{}/{}", b.num, u8::from(b.more), b.size()),
            ));
        }
        f.push(("payload bytes".into(), self.payload_len.to_string()));
        if self.repeated {
            f.push(("retransmission".into(), "true".into()));
        }
        if self.withheld {
            f.push(("withheld".into(), "left unanswered by the harness".into()));
        }
        if let Some(d) = &self.diagnostic {
            f.push(("diagnostic".into(), d.clone()));
        }
        f
    }

    /// `REQUEST (type = CON, ...)`, for step results.
    pub fn one_line(&self) -> String {
        let fields: Vec<String> = self
            .fields()
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        format!(
            "{} {} ({})",
            self.kind_name(),
            self.way.whence(),
            fields.join(", ")
        )
    }

    fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Request => "REQUEST",
            Kind::Answer => "ANSWER",
        }
    }

    /// The entry in a case's trace: the harness "receives" what the Agent
    /// sends and "sends" what reaches the Agent.
    pub fn trace_entry(&self) -> TraceEntry {
        let (direction, arrow) = match self.way {
            Way::FromAgent => (Direction::Received, "Agent -> harness"),
            Way::ToAgent => (Direction::Sent, "harness -> Agent"),
        };
        let mut e = TraceEntry::new(
            direction,
            format!("CoAP {} {} ({arrow})", self.kind_name(), self.code),
            self.payload_len,
        );
        e.at = self.at.clone();
        e.mtp_packet = Some(MtpPacket {
            mtp: super::MTP.into(),
            packet: self.kind_name().into(),
            flags: 0,
            connection: 1,
            fields: self.fields(),
        });
        e
    }
}

fn type_name(t: MessageType) -> &'static str {
    match t {
        MessageType::Confirmable => "CON",
        MessageType::NonConfirmable => "NON",
        MessageType::Acknowledgement => "ACK",
        MessageType::Reset => "RST",
    }
}

/// `c.dd Name`: coap-lite displays the code as class.detail (RFC 7252
/// §5.2); the name is for people reading the trace.
pub fn code_text(code: MessageClass) -> String {
    let name = match code {
        MessageClass::Empty => "Empty".to_string(),
        MessageClass::Request(r) => format!("{r:?}").to_uppercase(),
        MessageClass::Response(r) => format!("{r:?}"),
        MessageClass::Reserved(_) => "(reserved)".to_string(),
    };
    format!("{code} {name}")
}

/// What the endpoint lends the control to send a request of a case's
/// making: its socket, with the usual retransmission and answer matching.
#[async_trait]
pub(super) trait Exchanger: Send + Sync {
    async fn exchange(&self, to: SocketAddr, request: Packet) -> Result<Packet, MtpError>;
    fn next_mid(&self) -> u16;
    /// The endpoint's own resource, for `reply-to`.
    fn own_uri(&self) -> String;
}

/// A request a case has the harness send, built to break one rule.
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// The code byte (RFC 7252 §12.1.1): 0x02 POST, 0x06 PATCH, ...
    pub method: u8,
    pub content_format: Option<u32>,
    pub payload: Vec<u8>,
}

#[derive(Default)]
struct State {
    events: Vec<CoapEvent>,
    /// Requests from the Agent still to leave unanswered.
    withhold: u32,
    /// The Agent's resource, once known.
    peer: Option<CoapUri>,
    endpoint: Option<Weak<dyn Exchanger>>,
}

/// The handle shared by the endpoint and the runner.
#[derive(Clone, Default)]
pub struct CoapControl {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for CoapControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CoapControl({} events)", self.log_len())
    }
}

impl CoapControl {
    pub fn new() -> Self {
        CoapControl::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> Option<T> {
        self.state.lock().ok().map(|mut s| f(&mut s))
    }

    fn push(s: &mut State, e: CoapEvent) {
        if s.events.len() < MAX_EVENTS {
            s.events.push(e);
        }
    }

    /// Leave the Agent's next `n` requests unanswered: no ACK, no response,
    /// not processed, so that it sends them again (RFC 7252 §4.2).
    pub fn withhold_answers(&self, n: u32) {
        self.with(|s| s.withhold = n);
    }

    pub(super) fn attach(&self, endpoint: Weak<dyn Exchanger>) {
        self.with(|s| s.endpoint = Some(endpoint));
    }

    /// The Agent's resource the harness posts to (configured or learnt).
    pub(super) fn set_peer(&self, peer: &CoapUri) {
        self.with(|s| s.peer = Some(peer.clone()));
    }

    /// Sends `raw` as a Confirmable request to the Agent's resource and
    /// returns its answer (logged both ways like every other message).
    pub async fn send_raw(&self, raw: &RawRequest) -> Result<Packet, String> {
        let (endpoint, peer) = self
            .with(|s| (s.endpoint.as_ref().and_then(Weak::upgrade), s.peer.clone()))
            .unwrap_or_default();
        let endpoint = endpoint.ok_or("the harness's CoAP endpoint is gone")?;
        let peer =
            peer.ok_or("the Agent's CoAP resource is not known yet (no reply-to received)")?;
        let to = tokio::net::lookup_host(peer.authority())
            .await
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| format!("{peer}: the host does not resolve"))?;
        let mut p = Packet::new();
        p.header.set_type(MessageType::Confirmable);
        p.header.code = MessageClass::from(raw.method);
        p.header.message_id = endpoint.next_mid();
        p.set_token(endpoint.next_mid().to_be_bytes().to_vec());
        for seg in &peer.path {
            p.add_option(CoapOption::UriPath, seg.as_bytes().to_vec());
        }
        if let Some(cf) = raw.content_format {
            p.add_option(CoapOption::ContentFormat, message::uint_bytes(cf));
        }
        p.add_option(
            CoapOption::UriQuery,
            format!("{REPLY_TO}{}", endpoint.own_uri()).into_bytes(),
        );
        p.payload = raw.payload.clone();
        endpoint.exchange(to, p).await.map_err(|e| e.to_string())
    }

    /// Forgets a plan a previous case left unused.
    pub fn reset(&self) {
        self.withhold_answers(0);
    }

    /// Called by the receive loop for each request from the peer, before
    /// it is handled: logs it, and says whether to leave it unanswered.
    pub(super) fn request_received(&self, p: &Packet) -> bool {
        self.with(|s| {
            let mut e = CoapEvent::of(Way::FromAgent, Kind::Request, p);
            e.repeated = s.events.iter().any(|x| {
                x.way == Way::FromAgent && x.kind == Kind::Request && x.message_id == e.message_id
            });
            e.withheld = s.withhold > 0;
            s.withhold = s.withhold.saturating_sub(1);
            let withheld = e.withheld;
            Self::push(s, e);
            withheld
        })
        .unwrap_or(false)
    }

    /// Logs a message the harness's endpoint sent (a request of its own,
    /// or its answer to the Agent's) or an answer the Agent gave it.
    pub(super) fn log(&self, way: Way, kind: Kind, p: &Packet) {
        self.with(|s| Self::push(s, CoapEvent::of(way, kind, p)));
    }

    pub fn log_len(&self) -> usize {
        self.with(|s| s.events.len()).unwrap_or(0)
    }

    pub fn events_since(&self, from: usize) -> Vec<CoapEvent> {
        self.with(|s| s.events.get(from..).map(<[_]>::to_vec).unwrap_or_default())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coap_lite::{RequestType, ResponseType};

    fn post(mid: u16) -> Packet {
        let mut p = Packet::new();
        p.header.set_type(MessageType::Confirmable);
        p.header.code = MessageClass::Request(RequestType::Post);
        p.header.message_id = mid;
        p
    }

    #[test]
    fn withheld_requests_are_counted_down_and_a_reused_message_id_is_a_retransmission() {
        let c = CoapControl::new();
        c.withhold_answers(1);
        assert!(c.request_received(&post(7)));
        assert!(!c.request_received(&post(7)));
        assert!(!c.request_received(&post(8)));
        let e = c.events_since(0);
        assert_eq!(
            e.iter()
                .map(|e| (e.withheld, e.repeated))
                .collect::<Vec<_>>(),
            [(true, false), (false, true), (false, false)]
        );
        assert_eq!(e[0].code, "0.02 POST");
        assert_eq!(e[0].code_number(), "0.02");
    }

    #[test]
    fn codes_read_as_class_dot_detail() {
        assert_eq!(
            code_text(MessageClass::Response(ResponseType::Changed)),
            "2.04 Changed"
        );
        assert_eq!(
            code_text(MessageClass::Response(
                ResponseType::UnsupportedContentFormat
            )),
            "4.15 UnsupportedContentFormat"
        );
        assert_eq!(
            code_text(MessageClass::Request(RequestType::Patch)),
            "0.06 PATCH"
        );
    }
}
