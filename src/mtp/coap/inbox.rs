//! The receiving side of a USP CoAP endpoint, no I/O: every request that
//! arrives is checked against the binding (POST, our Uri-Path, Content-Format
//! 42, reply-to), deduplicated by message id (RFC 7252 §4.5), reassembled
//! when block-wise (RFC 7959) and answered at once (2.04 Changed).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use coap_lite::{MessageClass, Packet, RequestType, ResponseType};

use super::blockwise::{BlockError, Reassembly};
use super::message::{self, CONTENT_FORMAT_OCTET_STREAM};
use super::CoapQuirks;
use crate::usp::record;

/// RFC 7252 §4.8.2 EXCHANGE_LIFETIME: how long a message id is remembered.
const EXCHANGE_LIFETIME: Duration = Duration::from_secs(247);
/// Bound on remembered message ids, so a flood cannot grow memory forever.
const DEDUP_CAPACITY: usize = 1024;

/// A whole POST body handed up, with where the answer Record goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub from: SocketAddr,
    pub reply_to: Option<String>,
    pub body: Vec<u8>,
    /// How many Block1 blocks carried it (1 when not block-wise).
    pub blocks: u32,
    /// Set when the body is not a USP Record and was answered 4.00.
    pub rejected: Option<String>,
}

/// What to do with one request.
#[derive(Debug)]
pub struct Handled {
    pub reply: Option<Packet>,
    pub delivery: Option<Delivery>,
    /// A refusal worth reporting (e.g. `4.05 to a GET from ...`).
    pub problem: Option<String>,
}

pub struct Inbox {
    path: Vec<String>,
    max_body: usize,
    seen: HashMap<(SocketAddr, u16), (Instant, Option<Packet>)>,
    order: VecDeque<(SocketAddr, u16)>,
    assembling: HashMap<SocketAddr, Reassembly>,
    quirks: CoapQuirks,
}

impl Inbox {
    pub fn new(path: Vec<String>, max_body: usize) -> Self {
        Inbox {
            path,
            max_body,
            seen: HashMap::new(),
            order: VecDeque::new(),
            assembling: HashMap::new(),
            quirks: CoapQuirks::default(),
        }
    }

    pub fn with_quirks(mut self, quirks: CoapQuirks) -> Self {
        self.quirks = quirks;
        self
    }

    /// Handles one request message. `non_mid` is the message id to use if
    /// the answer must go as its own Non-confirmable message.
    pub fn handle(
        &mut self,
        from: SocketAddr,
        req: &Packet,
        now: Instant,
        non_mid: u16,
    ) -> Handled {
        let key = (from, req.header.message_id);
        if let Some((_, reply)) = self.seen.get(&key) {
            // RFC 7252 §4.5: a duplicate gets the same answer again and is
            // not processed twice.
            return Handled {
                reply: reply.clone(),
                delivery: None,
                problem: None,
            };
        }
        let handled = self.evaluate(from, req, non_mid);
        self.remember(key, now, handled.reply.clone());
        handled
    }

    fn remember(&mut self, key: (SocketAddr, u16), now: Instant, reply: Option<Packet>) {
        while let Some(oldest) = self.order.front().copied() {
            let expired = self
                .seen
                .get(&oldest)
                .is_none_or(|(t, _)| now.duration_since(*t) > EXCHANGE_LIFETIME);
            if !expired && self.order.len() < DEDUP_CAPACITY {
                break;
            }
            self.order.pop_front();
            self.seen.remove(&oldest);
        }
        self.seen.insert(key, (now, reply));
        self.order.push_back(key);
    }

    fn evaluate(&mut self, from: SocketAddr, req: &Packet, non_mid: u16) -> Handled {
        let refuse = |code: ResponseType, why: String| Handled {
            reply: Some(message::answer(req, code, None, &why, non_mid)),
            delivery: None,
            problem: Some(format!("{} from {from}: {why}", answer_text(code))),
        };
        let lenient = self.quirks.lenient;
        if req.header.code != MessageClass::Request(RequestType::Post) && !lenient {
            // USP CoAP binding: Records come only in POST; RFC 7252 §5.9.2.6.
            return refuse(
                ResponseType::MethodNotAllowed,
                format!("{} is not allowed, USP Records are POSTed", req.header.code),
            );
        }
        let path = message::uri_path(req);
        if path != self.path {
            return refuse(
                ResponseType::NotFound,
                format!("no USP endpoint at /{}", path.join("/")),
            );
        }
        match message::content_format(req) {
            Some(CONTENT_FORMAT_OCTET_STREAM) => {}
            _ if lenient => {}
            other => {
                // USP CoAP binding: application/octet-stream (42) only.
                let got = other.map_or("none".to_string(), |c| c.to_string());
                return refuse(
                    ResponseType::UnsupportedContentFormat,
                    format!("Content-Format {got}; a USP Record is application/octet-stream (42)"),
                );
            }
        }
        let reply_to = message::reply_to(req);
        if reply_to.is_none() {
            return refuse(
                ResponseType::BadRequest,
                "no Uri-Query reply-to=<coap URI> to send the answer to".into(),
            );
        }
        let (body, blocks, echo) = match message::block1(req) {
            Err(why) => return refuse(ResponseType::BadRequest, why),
            Ok(None) => (req.payload.clone(), 1, None),
            Ok(Some(block)) => {
                let state = self.assembling.entry(from).or_default();
                match state.push(block, &req.payload, self.max_body) {
                    Ok(None) => {
                        // RFC 7959 §2.3: 2.31 Continue echoing the block.
                        return Handled {
                            reply: Some(message::answer(
                                req,
                                ResponseType::Continue,
                                Some(block),
                                "",
                                non_mid,
                            )),
                            delivery: None,
                            problem: None,
                        };
                    }
                    Ok(Some((body, n))) => {
                        self.assembling.remove(&from);
                        (body, n, Some(block))
                    }
                    Err(e) => {
                        self.assembling.remove(&from);
                        return match e {
                            BlockError::Incomplete(why) => {
                                refuse(ResponseType::RequestEntityIncomplete, why)
                            }
                            BlockError::TooLarge(max) => refuse(
                                ResponseType::RequestEntityTooLarge,
                                format!("a body over {max} bytes"),
                            ),
                            BlockError::BadSize(why) => refuse(ResponseType::BadRequest, why),
                        };
                    }
                }
            }
        };
        let mut delivery = Delivery {
            from,
            reply_to,
            body,
            blocks,
            rejected: None,
        };
        let code = match record::decode(&delivery.body, None) {
            Ok(_) if self.quirks.created_not_changed => ResponseType::Created,
            Ok(_) => ResponseType::Changed,
            Err(_) if lenient => ResponseType::Changed,
            Err(e) => {
                // USP CoAP binding: 4.00 for a Record that cannot be decoded.
                delivery.rejected = Some(e.to_string());
                ResponseType::BadRequest
            }
        };
        let diag = delivery.rejected.clone().unwrap_or_default();
        Handled {
            reply: Some(message::answer(req, code, echo, &diag, non_mid)),
            delivery: Some(delivery),
            problem: None,
        }
    }
}

fn answer_text(code: ResponseType) -> String {
    MessageClass::Response(code).to_string()
}
