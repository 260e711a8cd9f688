//! The STOMP interposer's record of every frame it relayed (command,
//! headers, body length), time-stamped, and the matching behind
//! `expect_stomp` (sans-I/O).

use std::collections::BTreeMap;

use chrono::{SecondsFormat, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::relay::{self, Logged, Pattern, Way};
use crate::mtp::stomp::frame::Frame;
use crate::trace::{MtpPacket, TraceEntry};

/// The pseudo-command logged for heart-beat EOLs between frames.
pub const HEARTBEAT: &str = "HEARTBEAT";

/// Header values never written to a trace.
const SECRET_HEADERS: &[&str] = &["passcode"];

#[derive(Debug, Clone, Serialize)]
pub struct LoggedFrame {
    /// Position in the log, from 0.
    pub seq: usize,
    pub at: String,
    pub way: Way,
    /// Which Agent connection (1 = first accepted).
    pub connection: u32,
    /// `STOMP`, `CONNECTED`, `SEND`, ..., or `HEARTBEAT`.
    pub command: String,
    /// In order, repetitions kept, escapes decoded; secrets masked.
    pub headers: Vec<(String, String)>,
    pub body_bytes: usize,
    /// Bytes on the wire (for heart-beats: how many EOLs).
    pub bytes: usize,
    /// What the interposer changed or made up.
    pub steered: Option<String>,
}

impl LoggedFrame {
    pub fn of_frame(way: Way, connection: u32, frame: &Frame, bytes: usize) -> Self {
        let headers = frame
            .headers
            .iter()
            .map(|(n, v)| {
                let v = if SECRET_HEADERS.contains(&n.as_str()) {
                    "***".to_string()
                } else {
                    v.clone()
                };
                (n.clone(), v)
            })
            .collect();
        LoggedFrame {
            seq: 0,
            at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            way,
            connection,
            command: frame.command.clone(),
            headers,
            body_bytes: frame.body.len(),
            bytes,
            steered: None,
        }
    }

    /// `count` heart-beat EOLs that arrived together.
    pub fn heartbeats(way: Way, connection: u32, count: usize) -> Self {
        let mut f = Self::of_frame(way, connection, &Frame::new(HEARTBEAT), count);
        f.headers.push(("count".into(), count.to_string()));
        f
    }

    /// An undecodable stream: what the codec said.
    pub fn undecodable(way: Way, connection: u32, why: &str) -> Self {
        let mut f = Self::of_frame(way, connection, &Frame::new("UNDECODABLE"), 0);
        f.headers.push(("error".into(), why.to_string()));
        f
    }

    /// The first value of header `name` (STOMP 1.2: the first one counts).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Logged for LoggedFrame {
    fn set_seq(&mut self, seq: usize) {
        self.seq = seq;
    }

    /// `SEND destination=/queue/a content-type=... (body 120 bytes)`.
    fn one_line(&self) -> String {
        let mut s = self.command.clone();
        for (k, v) in &self.headers {
            s.push_str(&format!(" {k}={v}"));
        }
        if self.body_bytes > 0 {
            s.push_str(&format!(" (body {} bytes)", self.body_bytes));
        }
        s
    }

    fn connection(&self) -> u32 {
        self.connection
    }

    fn trace_entry(&self) -> TraceEntry {
        let mut fields = self.headers.clone();
        fields.push(("body_bytes".into(), self.body_bytes.to_string()));
        let packet = MtpPacket {
            mtp: "STOMP".into(),
            packet: self.command.clone(),
            flags: 0,
            connection: self.connection,
            fields,
        };
        relay::trace_entry(
            packet,
            self.way,
            &self.at,
            self.bytes,
            self.steered.as_ref(),
        )
    }
}

/// `expect_stomp: {...}`: a frame the log must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FramePattern {
    /// STOMP, CONNECT, CONNECTED, SUBSCRIBE, SEND, MESSAGE, ERROR, ...,
    /// or HEARTBEAT.
    pub command: String,
    /// `from_agent` (default) or `to_agent`.
    pub direction: Option<Way>,
    /// Header name → wanted value of its first occurrence; `"*"` means
    /// present with any value, `"!"` absent, `"~<regex>"` a value matching
    /// the regular expression.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// How long to wait for it, ms (default 5000).
    pub timeout_ms: Option<u64>,
    /// Only a frame after the one the case's previous `expect_stomp`
    /// matched counts (TP-469 6.10: SUBSCRIBE after the UNSUBSCRIBE).
    #[serde(default)]
    pub after_previous: bool,
}

/// Why a wanted header value is unusable (a bad `~` regex).
pub fn check_value(want: &str) -> Result<(), String> {
    match want.strip_prefix('~') {
        Some(re) => Regex::new(re).map(|_| ()).map_err(|e| e.to_string()),
        None => Ok(()),
    }
}

impl Pattern for FramePattern {
    type Entry = LoggedFrame;

    fn after_previous(&self) -> bool {
        self.after_previous
    }

    fn what(&self) -> String {
        format!("STOMP {} frame", self.command.to_uppercase())
    }

    fn way(&self) -> Way {
        self.direction.unwrap_or(Way::FromAgent)
    }

    fn same_kind(&self, f: &LoggedFrame) -> bool {
        f.command.eq_ignore_ascii_case(&self.command) && f.way == self.way()
    }

    fn mismatch(&self, f: &LoggedFrame) -> Option<String> {
        if !self.same_kind(f) {
            return Some("other frame".into());
        }
        for (name, want) in &self.headers {
            let got = f.get(name);
            let ok = match (want.as_str(), got) {
                ("*", g) => g.is_some(),
                ("!", g) => g.is_none(),
                (_, None) => false,
                (w, Some(g)) => match w.strip_prefix('~') {
                    // Checked at load time; a bad one matches nothing.
                    Some(re) => Regex::new(re).is_ok_and(|re| re.is_match(g)),
                    None => g == w,
                },
            };
            if !ok {
                return Some(match got {
                    None => format!("{name} absent, expected '{want}'"),
                    Some(g) if want == "!" => format!("{name} = {g}, expected it absent"),
                    Some(g) => format!("{name} = {g}, expected '{want}'"),
                });
            }
        }
        None
    }

    fn describe(&self) -> String {
        let mut s = format!("{} {:?}", self.command.to_uppercase(), self.way());
        for (k, v) in &self.headers {
            s.push_str(&format!(" {k}={v}"));
        }
        s
    }

    fn timeout_ms(&self) -> Option<u64> {
        self.timeout_ms
    }

    fn wanted_values(&mut self) -> impl Iterator<Item = &mut String> {
        self.headers.values_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stomp_frame() -> LoggedFrame {
        let f = Frame::new("STOMP")
            .header("accept-version", "1.2")
            .header("host", "/")
            .header("heart-beat", "2000,10000")
            .header("endpoint-id", "proto::a")
            .header("passcode", "guest");
        LoggedFrame::of_frame(Way::FromAgent, 1, &f, 90)
    }

    fn pattern(headers: &[(&str, &str)]) -> FramePattern {
        FramePattern {
            command: "stomp".into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..FramePattern::default()
        }
    }

    #[test]
    fn headers_match_exactly_present_absent_or_by_regex() {
        let f = stomp_frame();
        assert_eq!(
            pattern(&[
                ("accept-version", "1.2"),
                ("host", "*"),
                ("receipt", "!"),
                ("heart-beat", "~^[0-9]+,[0-9]+$"),
            ])
            .mismatch(&f),
            None
        );
        assert_eq!(
            pattern(&[("endpoint-id", "proto::b")]).mismatch(&f),
            Some("endpoint-id = proto::a, expected 'proto::b'".into())
        );
        assert_eq!(
            pattern(&[("login", "*")]).mismatch(&f),
            Some("login absent, expected '*'".into())
        );
        assert!(pattern(&[("heart-beat", "~^0,")]).mismatch(&f).is_some());
    }

    #[test]
    fn direction_and_command_select_and_near_misses_say_why() {
        let log = vec![stomp_frame()];
        let mut p = pattern(&[("host", "/x")]);
        assert!(relay::find(&log, 0, &p).is_none());
        let misses = relay::near_misses(&log, 0, &p);
        assert_eq!(misses.len(), 1);
        assert!(misses[0].contains("host = /, expected '/x'"), "{misses:?}");
        p.direction = Some(Way::ToAgent);
        assert!(relay::near_misses(&log, 0, &p).is_empty());
        assert!(relay::find(&log, 1, &pattern(&[])).is_none());
    }

    #[test]
    fn secrets_are_masked_and_the_trace_entry_carries_headers() {
        let f = stomp_frame();
        assert_eq!(f.get("passcode"), Some("***"));
        let e = f.trace_entry();
        let p = e.mtp_packet.unwrap();
        assert_eq!(p.mtp, "STOMP");
        assert!(p
            .fields
            .contains(&("endpoint-id".into(), "proto::a".into())));
        assert!(check_value("~(").is_err());
        assert!(check_value("~a+").is_ok());
    }
}
