//! CoAP messages of the USP CoAP binding, built and read with coap-lite and
//! no I/O: the Record POST (Uri-Path, Uri-Query `reply-to=`, Content-Format
//! 42, Block1), the piggy-backed answers, the Block option and `coap://` URIs.

use std::fmt;

use coap_lite::{CoapOption, MessageClass, MessageType, Packet, RequestType, ResponseType};

/// application/octet-stream: the only Content-Format a USP Record travels
/// in on CoAP (USP CoAP binding, obsoleted in 1.3).
pub const CONTENT_FORMAT_OCTET_STREAM: u32 = 42;
/// The Uri-Query item naming the sender's own resource (USP CoAP binding).
pub const REPLY_TO: &str = "reply-to=";
/// RFC 7252 §6.1: the default port of the `coap` scheme.
pub const DEFAULT_PORT: u16 = 5683;

/// A `coap://host:port/path` URI. `coaps` (DTLS) is not supported here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoapUri {
    pub host: String,
    pub port: u16,
    /// Uri-Path segments, without slashes.
    pub path: Vec<String>,
}

impl CoapUri {
    pub fn parse(text: &str) -> Result<CoapUri, String> {
        let rest = if let Some(r) = text.strip_prefix("coap://") {
            r
        } else if text.starts_with("coaps://") {
            return Err(format!(
                "{text}: coaps (CoAP over DTLS) is not supported; use coap://"
            ));
        } else {
            return Err(format!("{text}: not a coap:// URI"));
        };
        // A query in the configured URI is not ours to keep: the binding's
        // only query item is reply-to, which we add ourselves.
        let rest = rest.split(['?', '#']).next().unwrap_or_default();
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("{text}: unclosed '[' in the host"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(format!("{text}: no host"));
        }
        let port = match port {
            None | Some("") => DEFAULT_PORT,
            Some(p) => p
                .parse()
                .map_err(|_| format!("{text}: '{p}' is not a port number"))?,
        };
        Ok(CoapUri {
            host: host.to_string(),
            port,
            path: split_path(path),
        })
    }

    /// `host:port` as a socket address string.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for CoapUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "coap://{}/{}", self.authority(), self.path.join("/"))
    }
}

/// `/usp/x` → `["usp", "x"]`.
pub fn split_path(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The value of a Block1/Block2 option (RFC 7959 §2.2): block number,
/// more flag and size exponent, in 0 to 3 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub num: u32,
    pub more: bool,
    /// Block size is 2^(szx+4); 7 is reserved.
    pub szx: u8,
}

impl Block {
    pub fn size(&self) -> usize {
        1 << (self.szx + 4)
    }

    pub fn encode(&self) -> Vec<u8> {
        let v = (self.num << 4) | (u32::from(self.more) << 3) | u32::from(self.szx & 7);
        // RFC 7252 §3.2: uint options use the fewest bytes (0 for zero).
        let bytes = v.to_be_bytes();
        let first = bytes.iter().position(|b| *b != 0).unwrap_or(4);
        bytes[first..].to_vec()
    }

    /// None for a value longer than 3 bytes or with the reserved SZX 7
    /// (RFC 7959 §2.2).
    pub fn decode(raw: &[u8]) -> Option<Block> {
        if raw.len() > 3 {
            return None;
        }
        let v = raw.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
        let szx = (v & 7) as u8;
        (szx != 7).then_some(Block {
            num: v >> 4,
            more: v & 8 != 0,
            szx,
        })
    }
}

/// The SZX for a block size: a power of two from 16 to 1024.
pub fn szx_for(size: usize) -> Option<u8> {
    (0u8..7).find(|szx| 1usize << (szx + 4) == size)
}

/// An unsigned option value (RFC 7252 §3.2), None when over 4 bytes.
pub fn read_uint(raw: &[u8]) -> Option<u32> {
    (raw.len() <= 4).then(|| raw.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
}

pub fn uint_bytes(v: u32) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(4);
    bytes[first..].to_vec()
}

/// One Confirmable POST carrying a Record or one block of it.
pub struct Post<'a> {
    pub message_id: u16,
    pub token: &'a [u8],
    pub path: &'a [String],
    /// The sender's own resource, where the answer Record goes.
    pub reply_to: &'a str,
    pub block1: Option<Block>,
    /// Size1 (RFC 7959 §4): the whole body's size, sent with the first block.
    pub size1: Option<usize>,
    /// CONTENT_FORMAT_OCTET_STREAM but for a misbehaving sender.
    pub content_format: u32,
    pub payload: &'a [u8],
}

impl Post<'_> {
    pub fn packet(&self) -> Packet {
        let mut p = Packet::new();
        p.header.set_type(MessageType::Confirmable);
        p.header.code = MessageClass::Request(RequestType::Post);
        p.header.message_id = self.message_id;
        p.set_token(self.token.to_vec());
        for seg in self.path {
            p.add_option(CoapOption::UriPath, seg.as_bytes().to_vec());
        }
        p.add_option(CoapOption::ContentFormat, uint_bytes(self.content_format));
        p.add_option(
            CoapOption::UriQuery,
            format!("{REPLY_TO}{}", self.reply_to).into_bytes(),
        );
        if let Some(b) = self.block1 {
            p.add_option(CoapOption::Block1, b.encode());
        }
        if let Some(s) = self.size1 {
            p.add_option(CoapOption::Size1, uint_bytes(s as u32));
        }
        p.payload = self.payload.to_vec();
        p
    }
}

/// The answer to `request`: piggy-backed in the ACK of a Confirmable
/// request (RFC 7252 §5.2.1), a Non-confirmable one with `non_mid` for a
/// Non-confirmable request (§5.2.3); same token either way. `diagnostic`
/// goes in the payload of an error (§5.5.2).
pub fn answer(
    request: &Packet,
    code: ResponseType,
    block1: Option<Block>,
    diagnostic: &str,
    non_mid: u16,
) -> Packet {
    let mut p = Packet::new();
    if request.header.get_type() == MessageType::Confirmable {
        p.header.set_type(MessageType::Acknowledgement);
        p.header.message_id = request.header.message_id;
    } else {
        p.header.set_type(MessageType::NonConfirmable);
        p.header.message_id = non_mid;
    }
    p.header.code = MessageClass::Response(code);
    p.set_token(request.get_token().to_vec());
    if let Some(b) = block1 {
        p.add_option(CoapOption::Block1, b.encode());
    }
    if code.is_error() && !diagnostic.is_empty() {
        p.payload = diagnostic.as_bytes().to_vec();
    }
    p
}

/// An empty message (ACK or RST) for `mid` (RFC 7252 §4.2, §4.3).
pub fn empty(kind: MessageType, mid: u16) -> Packet {
    let mut p = Packet::new();
    p.header.set_type(kind);
    p.header.code = MessageClass::Empty;
    p.header.message_id = mid;
    p
}

/// The reply-to URI of a request: the Uri-Query item `reply-to=...`,
/// percent-decoded in case the sender encoded it.
pub fn reply_to(p: &Packet) -> Option<String> {
    p.get_option(CoapOption::UriQuery)?.iter().find_map(|q| {
        let q = std::str::from_utf8(q).ok()?;
        let v = q.strip_prefix(REPLY_TO)?;
        Some(
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned(),
        )
    })
}

pub fn uri_path(p: &Packet) -> Vec<String> {
    p.get_option(CoapOption::UriPath)
        .map(|l| {
            l.iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

pub fn content_format(p: &Packet) -> Option<u32> {
    p.get_first_option(CoapOption::ContentFormat)
        .and_then(|v| read_uint(v))
}

/// The Block1 option: Ok(None) when absent, Err when malformed (over 3
/// bytes or the reserved SZX 7, RFC 7959 §2.2).
pub fn block1(p: &Packet) -> Result<Option<Block>, String> {
    match p.get_first_option(CoapOption::Block1) {
        None => Ok(None),
        Some(raw) => Block::decode(raw)
            .map(Some)
            .ok_or_else(|| format!("malformed Block1 option {raw:02x?}")),
    }
}
