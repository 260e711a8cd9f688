//! The STOMP 1.2 frame codec, sans I/O: `Frame` values, an encoder, and a
//! streaming `Decoder` that is fed bytes as they arrive and yields whole
//! frames or a typed `FrameError`. No sockets here, so every framing rule
//! is unit- and property-tested on plain byte slices.

use thiserror::Error;

/// The default limit on one frame (command, headers and body). USP Records
/// are small; 16 MiB leaves room for large GetSupportedDM answers while a
/// peer that never sends the NUL cannot make us buffer without bound.
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

/// One STOMP frame. Headers keep their order and repetitions; `get` returns
/// the first occurrence, as STOMP 1.2 says only the first one counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub command: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FrameError {
    #[error("STOMP frame without a command line")]
    EmptyCommand,
    #[error("STOMP frame header line without a colon: {0:?}")]
    HeaderWithoutColon(String),
    #[error(
        "STOMP frame header {0:?} holds an invalid escape sequence (only \\r \\n \\c \\\\ exist)"
    )]
    InvalidEscape(String),
    #[error("STOMP frame has a bad content-length header: {0:?}")]
    BadContentLength(String),
    #[error("STOMP frame body of content-length {length} is not followed by a NUL octet")]
    MissingNul { length: usize },
    #[error("STOMP frame is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("STOMP frame command or header is not UTF-8")]
    NotUtf8,
}

impl Frame {
    pub fn new(command: &str) -> Self {
        Frame {
            command: command.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header (builder style).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body and a matching `content-length`, which lets the body
    /// carry NUL octets (a binary USP Record).
    pub fn body_with_length(mut self, body: &[u8]) -> Self {
        self.headers.retain(|(n, _)| n != "content-length");
        self.headers
            .push(("content-length".into(), body.len().to_string()));
        self.body = body.to_vec();
        self
    }

    /// The first value of header `name` (STOMP 1.2: repeated headers, first wins).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// CONNECT and CONNECTED do not escape header octets, to stay readable
    /// by STOMP 1.0 peers (STOMP 1.2, "Value Encoding"). The STOMP command
    /// is escaped like every other frame, which R-STOMP.4 relies on for the
    /// `:` in an Endpoint ID.
    fn escapes_headers(&self) -> bool {
        !matches!(self.command.as_str(), "CONNECT" | "CONNECTED")
    }

    /// The frame on the wire: command, headers, blank line, body, NUL.
    /// Headers go out exactly as given; a non-empty body without a
    /// `content-length` header gets one, so a NUL inside it cannot end the
    /// frame early. In CONNECT/CONNECTED frames values are written raw, so
    /// they must not contain CR or LF.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.body.len());
        out.extend_from_slice(self.command.as_bytes());
        out.push(b'\n');
        let escape = self.escapes_headers();
        let mut push_header = |name: &str, value: &str| {
            if escape {
                escape_into(name, &mut out);
                out.push(b':');
                escape_into(value, &mut out);
            } else {
                out.extend_from_slice(name.as_bytes());
                out.push(b':');
                out.extend_from_slice(value.as_bytes());
            }
            out.push(b'\n');
        };
        for (name, value) in &self.headers {
            push_header(name, value);
        }
        if !self.body.is_empty() && self.get("content-length").is_none() {
            push_header("content-length", &self.body.len().to_string());
        }
        out.push(b'\n');
        out.extend_from_slice(&self.body);
        out.push(0);
        out
    }
}

fn escape_into(text: &str, out: &mut Vec<u8>) {
    for b in text.bytes() {
        match b {
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b':' => out.extend_from_slice(b"\\c"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            _ => out.push(b),
        }
    }
}

/// Undoes header escaping; any other `\x` is a fatal error (STOMP 1.2:
/// "Undefined escape sequences ... MUST be treated as fatal protocol errors").
fn unescape(raw: &str) -> Result<String, FrameError> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some('c') => out.push(':'),
            Some('\\') => out.push('\\'),
            _ => return Err(FrameError::InvalidEscape(raw.to_string())),
        }
    }
    Ok(out)
}

/// The bytes that one heart-beat is: an EOL, `\n` or `\r\n`.
pub const HEARTBEAT: &[u8] = b"\n";

/// A streaming decoder: `push` arriving bytes, then call `next_frame` until
/// it returns `Ok(None)` (more bytes needed). After an error the stream is
/// unusable and the connection should be closed.
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    max_frame: usize,
    /// Heart-beat EOLs seen since the last call to `take_heartbeats`.
    heartbeats: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME)
    }
}

impl Decoder {
    pub fn new(max_frame: usize) -> Self {
        Decoder {
            buf: Vec::new(),
            max_frame,
            heartbeats: 0,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// How many bytes wait for the rest of their frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Heart-beats (bare EOLs between frames) seen since the last call: any
    /// incoming octet counts as liveness, but callers may want to log them.
    pub fn take_heartbeats(&mut self) -> usize {
        std::mem::take(&mut self.heartbeats)
    }

    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        self.skip_heartbeats();
        match parse(&self.buf, self.max_frame)? {
            None => Ok(None),
            Some((frame, used)) => {
                self.buf.drain(..used);
                self.skip_heartbeats();
                Ok(Some(frame))
            }
        }
    }

    /// Frames may be separated by any number of EOLs (STOMP 1.2 heart-beats
    /// and the optional EOLs after the NUL); they carry nothing.
    fn skip_heartbeats(&mut self) {
        let mut pos = 0;
        loop {
            match &self.buf[pos..] {
                [b'\n', ..] => pos += 1,
                [b'\r', b'\n', ..] => pos += 2,
                _ => break,
            }
            self.heartbeats += 1;
        }
        self.buf.drain(..pos);
    }
}

/// One line starting at `start`, without its `\n` or `\r\n`, and where the
/// next line starts; `None` when the line is not complete yet.
fn line(buf: &[u8], start: usize) -> Option<(&[u8], usize)> {
    let nl = buf[start..].iter().position(|&b| b == b'\n')? + start;
    let mut end = nl;
    if end > start && buf[end - 1] == b'\r' {
        end -= 1;
    }
    Some((&buf[start..end], nl + 1))
}

fn text(bytes: &[u8]) -> Result<&str, FrameError> {
    std::str::from_utf8(bytes).map_err(|_| FrameError::NotUtf8)
}

/// Parses one frame at the start of `buf`: the frame and how many bytes it
/// used, or `None` when more bytes are needed.
fn parse(buf: &[u8], max: usize) -> Result<Option<(Frame, usize)>, FrameError> {
    let too_large = || FrameError::TooLarge { limit: max };
    let incomplete = || {
        if buf.len() > max {
            Err(too_large())
        } else {
            Ok(None)
        }
    };
    let Some((command, mut pos)) = line(buf, 0) else {
        return incomplete();
    };
    let command = text(command)?;
    if command.is_empty() {
        return Err(FrameError::EmptyCommand);
    }
    let raw_headers = !matches!(command, "CONNECT" | "CONNECTED");
    let mut frame = Frame::new(command);
    loop {
        let Some((header, next)) = line(buf, pos) else {
            return incomplete();
        };
        pos = next;
        if header.is_empty() {
            break;
        }
        let header = text(header)?;
        // Escaped names and values cannot contain a raw colon, so the
        // first one separates them; CONNECT/CONNECTED values may hold more.
        let Some((name, value)) = header.split_once(':') else {
            return Err(FrameError::HeaderWithoutColon(header.to_string()));
        };
        if raw_headers {
            frame.headers.push((unescape(name)?, unescape(value)?));
        } else {
            frame.headers.push((name.to_string(), value.to_string()));
        }
    }
    let body_start = pos;
    match frame.get("content-length") {
        Some(len) => {
            if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
                return Err(FrameError::BadContentLength(len.to_string()));
            }
            let length: usize = len
                .parse()
                .map_err(|_| FrameError::BadContentLength(len.to_string()))?;
            // The whole frame (headers, body, NUL) must fit the limit.
            if length >= max.saturating_sub(body_start) {
                return Err(too_large());
            }
            let nul = body_start + length;
            if buf.len() <= nul {
                return Ok(None);
            }
            if buf[nul] != 0 {
                return Err(FrameError::MissingNul { length });
            }
            frame.body = buf[body_start..nul].to_vec();
            Ok(Some((frame, nul + 1)))
        }
        // Without content-length the body ends at the first NUL.
        None => match buf[body_start..].iter().position(|&b| b == 0) {
            Some(n) => {
                frame.body = buf[body_start..body_start + n].to_vec();
                Ok(Some((frame, body_start + n + 1)))
            }
            None => incomplete(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(bytes: &[u8]) -> Result<Vec<Frame>, FrameError> {
        let mut d = Decoder::default();
        d.push(bytes);
        let mut out = Vec::new();
        while let Some(f) = d.next_frame()? {
            out.push(f);
        }
        Ok(out)
    }

    fn one(bytes: &[u8]) -> Frame {
        let mut frames = decode_all(bytes).unwrap();
        assert_eq!(frames.len(), 1, "{frames:?}");
        frames.remove(0)
    }

    #[test]
    fn a_plain_frame_decodes() {
        let f = one(b"MESSAGE\ndestination:/queue/a\nmessage-id:7\n\nhello\0");
        assert_eq!(f.command, "MESSAGE");
        assert_eq!(f.get("destination"), Some("/queue/a"));
        assert_eq!(f.get("message-id"), Some("7"));
        assert_eq!(f.body, b"hello");
    }

    #[test]
    fn header_values_are_unescaped_and_escaped() {
        let f = one(b"SEND\nendpoint-id:proto\\c\\cagent\nx:a\\nb\\rc\\\\d\n\n\0");
        assert_eq!(f.get("endpoint-id"), Some("proto::agent"));
        assert_eq!(f.get("x"), Some("a\nb\rc\\d"));
        let wire = Frame::new("STOMP")
            .header("endpoint-id", "proto::agent")
            .encode();
        let text = String::from_utf8_lossy(&wire);
        assert!(text.contains("\nendpoint-id:proto\\c\\cagent\n"), "{text}");
    }

    #[test]
    fn connect_and_connected_are_not_escaped() {
        let f = one(b"CONNECTED\nversion:1.2\nserver:RabbitMQ/3\\x\nsession:a:b\n\n\0");
        assert_eq!(f.get("server"), Some("RabbitMQ/3\\x"));
        assert_eq!(f.get("session"), Some("a:b"));
        let wire = Frame::new("CONNECT").header("login", "a:b\\c").encode();
        assert_eq!(wire, b"CONNECT\nlogin:a:b\\c\n\n\0");
    }

    #[test]
    fn an_undefined_escape_is_fatal() {
        let err = decode_all(b"MESSAGE\nx:a\\tb\n\n\0").unwrap_err();
        assert!(matches!(err, FrameError::InvalidEscape(_)), "{err:?}");
        let err = decode_all(b"MESSAGE\nx:trailing\\\n\n\0").unwrap_err();
        assert!(matches!(err, FrameError::InvalidEscape(_)), "{err:?}");
    }

    #[test]
    fn content_length_bodies_may_hold_nul() {
        let body = b"\x0a\x03\x00\x00\x01rest\x00";
        let wire = Frame::new("SEND").body_with_length(body).encode();
        let f = one(&wire);
        assert_eq!(f.body, body);
        assert_eq!(f.get("content-length"), Some("10"));
    }

    #[test]
    fn without_content_length_the_body_ends_at_the_first_nul() {
        let mut d = Decoder::default();
        d.push(b"MESSAGE\n\nab\0cd\0");
        assert_eq!(d.next_frame().unwrap().unwrap().body, b"ab");
        // "cd\0" has no complete command line yet: it waits for more bytes.
        assert_eq!(d.next_frame().unwrap(), None);
        assert_eq!(d.buffered(), 3);
    }

    #[test]
    fn a_bad_content_length_is_an_error() {
        for bad in ["-1", "abc", "", "1 ", "99999999999999999999999"] {
            let wire = format!("SEND\ncontent-length:{bad}\n\nx\0");
            let err = decode_all(wire.as_bytes()).unwrap_err();
            assert!(
                matches!(
                    err,
                    FrameError::BadContentLength(_) | FrameError::TooLarge { .. }
                ),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn a_missing_nul_after_the_counted_body_is_an_error() {
        let err = decode_all(b"SEND\ncontent-length:2\n\nabc\0").unwrap_err();
        assert_eq!(err, FrameError::MissingNul { length: 2 });
    }

    #[test]
    fn heart_beats_between_frames_are_skipped() {
        let frames = decode_all(b"\n\r\n\nMESSAGE\n\na\0\n\n\r\nMESSAGE\n\nb\0\n").unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1].body, b"b");
        let mut d = Decoder::default();
        d.push(b"\n\n\n");
        assert_eq!(d.next_frame().unwrap(), None);
        assert_eq!(d.take_heartbeats(), 3);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn crlf_line_endings_are_accepted() {
        let f = one(b"MESSAGE\r\ndestination:/queue/a\r\nx:1\r\n\r\nbody\0");
        assert_eq!(f.command, "MESSAGE");
        assert_eq!(f.get("destination"), Some("/queue/a"));
        assert_eq!(f.get("x"), Some("1"));
        assert_eq!(f.body, b"body");
    }

    #[test]
    fn the_first_of_repeated_headers_wins() {
        let f = one(b"MESSAGE\nfoo:World\nfoo:Hello\n\n\0");
        assert_eq!(f.get("foo"), Some("World"));
        assert_eq!(f.headers.len(), 2);
        // Also for content-length: the first one frames the body.
        let f = one(b"SEND\ncontent-length:1\ncontent-length:5\n\n\0\0");
        assert_eq!(f.body, b"\0");
    }

    #[test]
    fn oversize_frames_are_refused() {
        let mut d = Decoder::new(32);
        d.push(b"SEND\ncontent-length:1000\n\n");
        assert_eq!(d.next_frame(), Err(FrameError::TooLarge { limit: 32 }));
        let mut d = Decoder::new(32);
        d.push(&[b'A'; 40]);
        assert_eq!(d.next_frame(), Err(FrameError::TooLarge { limit: 32 }));
        let mut d = Decoder::new(32);
        d.push(b"SEND\n\n");
        d.push(&[b'x'; 40]);
        assert_eq!(d.next_frame(), Err(FrameError::TooLarge { limit: 32 }));
    }

    #[test]
    fn incomplete_frames_wait_for_more_bytes() {
        let wire = Frame::new("SEND").body_with_length(b"\0\0\0").encode();
        let mut d = Decoder::default();
        for b in &wire[..wire.len() - 1] {
            d.push(&[*b]);
            assert_eq!(d.next_frame().unwrap(), None);
        }
        d.push(&wire[wire.len() - 1..]);
        assert_eq!(d.next_frame().unwrap().unwrap().body, b"\0\0\0");
    }

    #[test]
    fn structural_errors_are_typed() {
        assert_eq!(
            decode_all(b"MESSAGE\nno colon here\n\n\0").unwrap_err(),
            FrameError::HeaderWithoutColon("no colon here".into())
        );
        assert_eq!(
            decode_all(b"MESSAGE\nx:\xff\n\n\0").unwrap_err(),
            FrameError::NotUtf8
        );
    }

    #[test]
    fn the_encoder_adds_content_length_to_a_body() {
        let wire = Frame::new("SEND").header("destination", "/q").encode();
        assert_eq!(wire, b"SEND\ndestination:/q\n\n\0");
        let mut f = Frame::new("SEND");
        f.body = b"a\0b".to_vec();
        let back = one(&f.encode());
        assert_eq!(back.body, b"a\0b");
        assert_eq!(back.get("content-length"), Some("3"));
    }

    fn header_text() -> impl Strategy<Value = String> {
        // Mostly the characters that need escaping, plus some ordinary ones
        // and non-ASCII.
        proptest::collection::vec(
            prop_oneof![
                Just(':'),
                Just('\n'),
                Just('\r'),
                Just('\\'),
                Just('c'),
                Just('é'),
                proptest::char::range(' ', '~'),
            ],
            0..12,
        )
        .prop_map(|cs| cs.into_iter().collect())
    }

    fn frame() -> impl Strategy<Value = Frame> {
        (
            prop_oneof![Just("SEND"), Just("MESSAGE"), Just("STOMP"), Just("ERROR")],
            proptest::collection::vec(
                (
                    header_text().prop_filter("non-empty, not content-length", |n| {
                        !n.is_empty() && n != "content-length"
                    }),
                    header_text(),
                ),
                0..5,
            ),
            proptest::collection::vec(any::<u8>(), 0..200),
        )
            .prop_map(|(command, headers, body)| {
                let mut f = Frame::new(command);
                f.headers = headers;
                f.body_with_length(&body)
            })
    }

    proptest! {
        #[test]
        fn frames_survive_the_wire_split_anywhere(
            frames in proptest::collection::vec(frame(), 1..4),
            heartbeats in proptest::collection::vec(0usize..3, 4),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let mut wire = Vec::new();
            for (i, f) in frames.iter().enumerate() {
                wire.extend(std::iter::repeat_n(b'\n', heartbeats[i]));
                wire.extend(f.encode());
            }
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(wire.len() + 1)).collect();
            points.push(0);
            points.push(wire.len());
            points.sort_unstable();
            let mut d = Decoder::default();
            let mut got = Vec::new();
            for pair in points.windows(2) {
                d.push(&wire[pair[0]..pair[1]]);
                while let Some(f) = d.next_frame().unwrap() {
                    got.push(f);
                }
            }
            prop_assert_eq!(got, frames);
            prop_assert_eq!(d.buffered(), 0);
        }
    }
}
