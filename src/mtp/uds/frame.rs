//! Sans-I/O framing for the UNIX Domain Socket MTP: the frame header
//! (sync bytes `_USP` + 4-byte big-endian length) and its TLVs, an encoder
//! and a streaming decoder that is fed bytes as they arrive. No I/O here.

use thiserror::Error;

/// The four sync bytes that open every frame ("_USP").
pub const SYNC: [u8; 4] = *b"_USP";
/// Header: sync bytes + length of the rest of the frame.
pub const HEADER_LEN: usize = 8;
/// TLV header: 1-byte type + 4-byte big-endian length.
const TLV_HEADER_LEN: usize = 5;
/// Largest frame body we accept. The length field allows 4 GiB; without a
/// bound a peer (or garbage that happens to start with `_USP`) could make
/// us buffer gigabytes before noticing anything. 16 MiB is far above any
/// USP Record a test exchange produces, even a big GetSupportedDM answer.
pub const MAX_FRAME_LEN: u32 = 16 * 1024 * 1024;

pub const TYPE_HANDSHAKE: u8 = 1;
pub const TYPE_ERROR: u8 = 2;
pub const TYPE_RECORD: u8 = 3;

/// One Type-Length-Value inside a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tlv {
    /// The sender's Endpoint ID.
    Handshake(String),
    /// Why the sender is closing.
    Error(String),
    /// One encoded USP Record.
    Record(Vec<u8>),
    /// A type this binding does not define; kept only so the caller can
    /// trace it, never acted upon (R-UDS.15).
    Unknown { tlv_type: u8, len: usize },
}

/// One whole frame: one or more TLVs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub tlvs: Vec<Tlv>,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FrameError {
    #[error("the frame does not start with the sync bytes _USP (got {0:02x?})")]
    BadSync(Vec<u8>),
    #[error("the frame claims {0} bytes, more than the {MAX_FRAME_LEN} this harness accepts")]
    TooLong(u32),
    #[error("the frame carries no TLV (a frame holds one or more)")]
    Empty,
    #[error("a TLV of type {tlv_type} claims {claimed} bytes but only {left} remain in the frame")]
    TlvOverrun {
        tlv_type: u8,
        claimed: u32,
        left: usize,
    },
    #[error("{0} stray bytes at the end of the frame, too few for a TLV header")]
    TrailingBytes(usize),
    #[error("the Handshake TLV is not a UTF-8 Endpoint ID")]
    HandshakeNotUtf8,
    #[error("the stream ended inside a frame ({0} bytes of it received)")]
    Truncated(usize),
}

/// Encodes one frame holding `tlvs` (Unknown TLVs are written empty).
pub fn encode(tlvs: &[Tlv]) -> Vec<u8> {
    let mut body = Vec::new();
    for tlv in tlvs {
        let (tlv_type, value): (u8, &[u8]) = match tlv {
            Tlv::Handshake(eid) => (TYPE_HANDSHAKE, eid.as_bytes()),
            Tlv::Error(text) => (TYPE_ERROR, text.as_bytes()),
            Tlv::Record(bytes) => (TYPE_RECORD, bytes),
            Tlv::Unknown { tlv_type, .. } => (*tlv_type, &[]),
        };
        body.push(tlv_type);
        body.extend_from_slice(&(value.len() as u32).to_be_bytes());
        body.extend_from_slice(value);
    }
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&SYNC);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// A frame with a single TLV.
pub fn encode_one(tlv: Tlv) -> Vec<u8> {
    encode(&[tlv])
}

/// Streaming decoder: `push` bytes in whatever pieces the socket gives,
/// then take whole frames with `next_frame` until it says `None`.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    pub fn new() -> Self {
        Decoder::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame, `Ok(None)` if more bytes are needed. After an
    /// error the stream cannot be resynchronised: the caller closes.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        // Check the sync bytes as soon as they arrive, so garbage is
        // reported at once instead of waiting for 8 bytes that may never come.
        let seen = self.buf.len().min(SYNC.len());
        if self.buf[..seen] != SYNC[..seen] {
            return Err(FrameError::BadSync(self.buf[..seen].to_vec()));
        }
        if self.buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]);
        if len > MAX_FRAME_LEN {
            return Err(FrameError::TooLong(len));
        }
        let total = HEADER_LEN + len as usize;
        if self.buf.len() < total {
            return Ok(None);
        }
        let frame = parse_body(&self.buf[HEADER_LEN..total]);
        self.buf.drain(..total);
        frame.map(Some)
    }

    /// Called at end of stream: an error if a frame was left half received.
    pub fn finish(&self) -> Result<(), FrameError> {
        match self.buf.len() {
            0 => Ok(()),
            n => Err(FrameError::Truncated(n)),
        }
    }
}

fn parse_body(mut body: &[u8]) -> Result<Frame, FrameError> {
    let mut tlvs = Vec::new();
    while !body.is_empty() {
        if body.len() < TLV_HEADER_LEN {
            return Err(FrameError::TrailingBytes(body.len()));
        }
        let tlv_type = body[0];
        let claimed = u32::from_be_bytes([body[1], body[2], body[3], body[4]]);
        let rest = &body[TLV_HEADER_LEN..];
        if claimed as usize > rest.len() {
            return Err(FrameError::TlvOverrun {
                tlv_type,
                claimed,
                left: rest.len(),
            });
        }
        let (value, next) = rest.split_at(claimed as usize);
        tlvs.push(match tlv_type {
            TYPE_HANDSHAKE => Tlv::Handshake(
                String::from_utf8(value.to_vec()).map_err(|_| FrameError::HandshakeNotUtf8)?,
            ),
            // The text is only shown to people; a bad byte is no reason to fail.
            TYPE_ERROR => Tlv::Error(String::from_utf8_lossy(value).into_owned()),
            TYPE_RECORD => Tlv::Record(value.to_vec()),
            other => Tlv::Unknown {
                tlv_type: other,
                len: value.len(),
            },
        });
        body = next;
    }
    if tlvs.is_empty() {
        return Err(FrameError::Empty);
    }
    Ok(Frame { tlvs })
}

#[cfg(test)]
mod tests;
