//! The record of every Record sent and received, with timestamps, decoded
//! for people. Sessions append; reports print.

use std::sync::OnceLock;

use chrono::{SecondsFormat, Utc};
use prost::Message;
use serde::{Deserialize, Serialize};

use crate::usp::proto::msg::Msg;
use crate::usp::proto::record::Record;
use crate::usp::record::record_kind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Sent,
    Received,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TraceEntry {
    /// RFC 3339 UTC time with milliseconds.
    pub at: String,
    pub direction: Direction,
    /// `NoSessionContextRecord v1.4 proto::a -> proto::b`, or what the bytes were.
    pub record: String,
    /// The decoded Msg, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<MsgText>,
    /// Why a received Record was set aside, or other remarks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub bytes: usize,
    /// An MTP packet seen by an interposer (not a Record), decoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtp_packet: Option<MtpPacket>,
}

/// One MTP packet relayed by an interposer (`src/interpose/`), so that
/// results.json shows MQTT packets beside the USP Records in time order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MtpPacket {
    /// `MQTT`.
    pub mtp: String,
    /// `CONNECT`, `PUBLISH`, ...
    pub packet: String,
    /// The fixed header's low four bits.
    pub flags: u8,
    /// Which Agent connection through the interposer (1 = first).
    pub connection: u32,
    /// Decoded fields as (name, value); names may repeat.
    pub fields: Vec<(String, String)>,
}

impl TraceEntry {
    pub fn new(direction: Direction, record: String, bytes: usize) -> Self {
        TraceEntry {
            at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            direction,
            record,
            msg: None,
            note: None,
            bytes,
            mtp_packet: None,
        }
    }

    pub fn with_msg(mut self, msg: &Msg) -> Self {
        self.msg = Some(MsgText::of(msg));
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

/// A traced Msg in readable form, made when someone first reads it: most
/// traced Msgs are never looked at (a passing exchange in a benchmark, a
/// trace dropped between cases), and `describe_msg` costs far more than the
/// exchange itself (benches/exchange.rs). Holds the Msg's encoding until
/// then, which is also smaller than its text.
#[derive(Clone)]
pub struct MsgText {
    encoded: Vec<u8>,
    text: OnceLock<String>,
}

impl MsgText {
    pub fn of(msg: &Msg) -> Self {
        MsgText {
            encoded: msg.encode_to_vec(),
            text: OnceLock::new(),
        }
    }

    /// From the Msg's protobuf encoding as it went over the wire (a
    /// Record's payload), so that tracing a Msg costs no second encoding.
    pub fn from_encoding(encoded: Vec<u8>) -> Self {
        MsgText {
            encoded,
            text: OnceLock::new(),
        }
    }

    /// The text, rendered now (and not kept) unless it was given as text.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match self.text.get() {
            Some(t) => std::borrow::Cow::Borrowed(t),
            None => std::borrow::Cow::Owned(self.render()),
        }
    }

    /// Renders the text now and keeps it (see `RunResult::keep_texts`).
    pub fn keep(&self) {
        self.text.get_or_init(|| self.render());
    }

    /// Lets a kept text go, when it can be rendered again.
    pub fn forget(&mut self) {
        if !self.encoded.is_empty() {
            self.text = OnceLock::new();
        }
    }

    fn render(&self) -> String {
        match Msg::decode(self.encoded.as_slice()) {
            Ok(m) => describe_msg(&m),
            // Our own encoding of a Msg decodes back; say so if it ever does not.
            Err(e) => format!(
                "(a Msg of {} bytes that no longer decodes: {e})",
                self.encoded.len()
            ),
        }
    }
}

impl std::fmt::Debug for MsgText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.text(), f)
    }
}

impl std::fmt::Display for MsgText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

impl From<String> for MsgText {
    fn from(text: String) -> Self {
        MsgText {
            encoded: Vec::new(),
            text: OnceLock::from(text),
        }
    }
}

impl From<&str> for MsgText {
    fn from(text: &str) -> Self {
        text.to_string().into()
    }
}

impl Serialize for MsgText {
    // Rendered for the writing, not kept: a case is written once (to the
    // journal) and its traces then wait in memory until the run ends, so
    // keeping every Msg's text would cost each session its whole trace
    // twice (BENCHMARKS.md, memory per session).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

impl<'de> Deserialize<'de> for MsgText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(MsgText::from)
    }
}

/// One case's trace with a bound: an Agent flooding Records cannot grow the
/// harness's memory (or a report) without limit. The first `HEAD` entries
/// and the last `TAIL` (up to twice that until the next trim) are kept;
/// what falls between is counted, and `take` puts one note in its place.
/// The harness's own remarks in that stretch (entries of no bytes, such as
/// "Notify queue full") are kept, up to `KEPT_REMARKS`, as they say what
/// happened. Reads as a slice of the entries kept.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    entries: Vec<TraceEntry>,
    /// Entries not kept since the last `take`.
    dropped: usize,
    /// When the first entry not kept was traced.
    gap_at: Option<String>,
    /// Remarks kept from the dropped stretch (they sit right after the head).
    kept_remarks: usize,
}

impl Trace {
    /// Entries kept from the start of a case.
    pub const HEAD: usize = 2_000;
    /// Entries kept (at least) from the end of a case.
    pub const TAIL: usize = 200;
    /// Remarks of the harness kept from the dropped stretch.
    pub const KEPT_REMARKS: usize = 50;

    pub fn push(&mut self, entry: TraceEntry) {
        self.entries.push(entry);
        let start = Self::HEAD + self.kept_remarks;
        // Trim every TAIL pushes, not on each: the cost per push stays flat.
        if self.entries.len() >= start + 2 * Self::TAIL {
            let end = self.entries.len() - Self::TAIL;
            let mut kept = Vec::new();
            for e in self.entries.drain(start..end) {
                let remark = e.bytes == 0 && e.msg.is_none() && e.mtp_packet.is_none();
                if remark && self.kept_remarks + kept.len() < Self::KEPT_REMARKS {
                    kept.push(e);
                } else {
                    if self.gap_at.is_none() {
                        self.gap_at = Some(e.at.clone());
                    }
                    self.dropped += 1;
                }
            }
            self.kept_remarks += kept.len();
            self.entries.splice(start..start, kept);
        }
    }

    /// How many entries were not kept since the last `take`.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// Everything kept since the last call, with one note where entries
    /// were not kept: "N Records not kept (trace limit M)".
    pub fn take(&mut self) -> Vec<TraceEntry> {
        let mut entries = std::mem::take(&mut self.entries);
        if self.dropped > 0 {
            let mut note = TraceEntry::new(Direction::Received, "(trace limit)".into(), 0)
                .with_note(format!(
                    "{} Records not kept (trace limit {}: the first {} and the last {} of a case are kept)",
                    self.dropped,
                    Self::HEAD + Self::TAIL,
                    Self::HEAD,
                    Self::TAIL
                ));
            if let Some(at) = self.gap_at.take() {
                note.at = at;
            }
            entries.insert(Self::HEAD.min(entries.len()), note);
        }
        self.dropped = 0;
        self.gap_at = None;
        self.kept_remarks = 0;
        entries
    }
}

impl std::ops::Deref for Trace {
    type Target = [TraceEntry];
    fn deref(&self) -> &[TraceEntry] {
        &self.entries
    }
}

impl std::ops::DerefMut for Trace {
    fn deref_mut(&mut self) -> &mut [TraceEntry] {
        &mut self.entries
    }
}

pub fn describe_record(record: &Record) -> String {
    let kind = record
        .record_type
        .as_ref()
        .map(record_kind)
        .unwrap_or("Record without record_type");
    format!(
        "{kind} v{} {} -> {}",
        record.version, record.from_id, record.to_id
    )
}

/// A Msg in readable form. prost's Debug output names enum values
/// (`msg_type: GetResp`), which is what a person comparing against the spec
/// wants; `compact_debug` then drops the `Some(...)` and oneof wrappers that
/// only add noise.
pub fn describe_msg(msg: &Msg) -> String {
    name_codes(&compact_debug(&format!("{msg:#?}")), "err_code")
}

/// `err_code: 7026,` (for `field` = `err_code`) becomes
/// `err_code: 7026, // Invalid path`.
pub(crate) fn name_codes(text: &str, field: &str) -> String {
    let prefix = format!("{field}: ");
    text.lines()
        .map(|line| {
            let code = line
                .trim()
                .strip_prefix(prefix.as_str())
                .and_then(|rest| rest.trim_end_matches(',').parse::<u32>().ok());
            match code {
                Some(c) if c != 0 => format!("{line} // {}", crate::usp::errors::error_name(c)),
                _ => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Removes, from pretty Debug output, every `Some(` wrapper and every
/// one-member tuple wrapper around a struct of the same name
/// (`Get(\n    Get {` becomes `Get {`), together with its closing line, and
/// shifts what was inside back by one level.
pub fn compact_debug(debug: &str) -> String {
    let lines: Vec<&str> = debug.lines().collect();
    let mut out = Vec::with_capacity(lines.len());
    // Indents of wrapper lines whose closing line is still to be dropped.
    let mut open: Vec<usize> = Vec::new();
    // The text before a dropped wrapper (`msg_body:`), continued by the
    // next kept line.
    let mut pending: Option<String> = None;
    for (i, line) in lines.iter().enumerate() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        if open.last() == Some(&indent) && (trimmed == ")" || trimmed == "),") {
            open.pop();
            continue;
        }
        let shift = 4 * open.len();
        let shown = line.get(shift.min(indent)..).unwrap_or(line);
        let lead = &shown[..shown.len() - shown.trim_start().len()];
        if let Some(head) = wrapper_head(trimmed, lines.get(i + 1).map(|l| l.trim())) {
            open.push(indent);
            pending.get_or_insert_with(|| format!("{lead}{head}"));
            continue;
        }
        match pending.take() {
            Some(p) if p.trim().is_empty() => out.push(format!("{p}{trimmed}")),
            Some(p) => out.push(format!("{p} {trimmed}")),
            None => out.push(shown.to_string()),
        }
    }
    out.join("\n")
}

/// For `field: Some(` or `field: Get(` followed by `Get {`, the text that
/// stays (`field:`); `None` when the line is no such wrapper.
fn wrapper_head<'a>(line: &'a str, next: Option<&str>) -> Option<&'a str> {
    let open = line.strip_suffix('(')?;
    let (head, name) = match open.rsplit_once(' ') {
        Some((head, name)) => (head, name),
        None => ("", open),
    };
    let wraps_same_struct = next.is_some_and(|n| n.starts_with(&format!("{name} {{")));
    if name == "Some" || wraps_same_struct {
        Some(if head.is_empty() { "" } else { head })
    } else {
        None
    }
}

/// The first bytes of an undecodable frame, in hex, for the trace.
pub fn hex_preview(bytes: &[u8]) -> String {
    const MAX: usize = 48;
    let shown: String = bytes.iter().take(MAX).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > MAX {
        format!("{shown}... ({} bytes)", bytes.len())
    } else {
        format!("{shown} ({} bytes)", bytes.len())
    }
}

/// Which way an MTP packet, frame or event went, seen from the Agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Way {
    /// From the Agent (towards the broker, or to the harness).
    FromAgent,
    /// To the Agent (from the broker, the interposer or the harness).
    ToAgent,
}

impl Way {
    /// "from the Agent" / "to the Agent", for verdicts.
    pub fn whence(self) -> &'static str {
        match self {
            Way::FromAgent => "from the Agent",
            Way::ToAgent => "to the Agent",
        }
    }
}

#[cfg(test)]
mod tests {

    fn record(i: usize) -> TraceEntry {
        TraceEntry::new(Direction::Received, format!("record {i}"), 100)
    }

    /// A flood keeps the head and the tail, counts the rest, and says so
    /// once; a harness remark inside the flood survives the trim.
    #[test]
    fn a_long_trace_keeps_its_head_and_tail_and_says_what_it_dropped() {
        let mut t = Trace::default();
        let n = 20_000;
        for i in 0..n {
            if i == 10_000 {
                t.push(TraceEntry::new(
                    Direction::Received,
                    "(Notify queue full)".into(),
                    0,
                ));
            }
            t.push(record(i));
        }
        assert!(t.len() <= Trace::HEAD + 1 + 2 * Trace::TAIL, "{}", t.len());
        let dropped = t.dropped();
        let kept = t.take();
        assert_eq!(
            kept.len() + dropped,
            n + 2,
            "every entry is kept or counted (+ the note)"
        );
        assert_eq!(
            kept[Trace::HEAD - 1].record,
            format!("record {}", Trace::HEAD - 1)
        );
        let note = kept[Trace::HEAD].note.as_deref().unwrap();
        assert_eq!(note, format!("{dropped} Records not kept (trace limit 2200: the first 2000 and the last 200 of a case are kept)"));
        assert_eq!(kept[Trace::HEAD + 1].record, "(Notify queue full)");
        assert_eq!(kept.last().unwrap().record, format!("record {}", n - 1));
        assert!(
            t.take().is_empty() && t.dropped() == 0,
            "take starts afresh"
        );
    }

    #[test]
    fn a_short_trace_is_kept_whole_without_a_note() {
        let mut t = Trace::default();
        for i in 0..Trace::HEAD + Trace::TAIL {
            t.push(record(i));
        }
        let kept = t.take();
        assert_eq!(kept.len(), Trace::HEAD + Trace::TAIL);
        assert!(kept.iter().all(|e| e.note.is_none()));
    }

    use super::*;
    use crate::usp::msg;
    use crate::usp::proto::msg::{request::ReqType, Get};

    /// The text made on first read is `describe_msg`'s, and results.json
    /// gets the same string as before the text became lazy.
    #[test]
    fn msg_text_reads_and_serializes_as_the_description() {
        let m = msg::request(
            "id-2",
            ReqType::Get(Get {
                param_paths: vec!["Device.DeviceInfo.".into()],
                max_depth: 0,
            }),
        );
        let entry = TraceEntry::new(Direction::Sent, "r".into(), 1).with_msg(&m);
        let text = entry.msg.as_ref().expect("a Msg").text();
        assert_eq!(text, describe_msg(&m));
        // Rendered for the asking, not kept: a traced Msg costs its
        // encoding only (memory per session at plugfest scale).
        assert!(entry.msg.as_ref().unwrap().text.get().is_none());
        let json = serde_json::to_value(&entry).expect("serializes");
        assert_eq!(json["msg"], serde_json::Value::String(describe_msg(&m)));
        let back: TraceEntry = serde_json::from_value(json).expect("reads back");
        assert_eq!(back.msg.map(|t| t.to_string()), Some(describe_msg(&m)));
    }

    #[test]
    fn compact_form_keeps_every_value_and_drops_wrappers() {
        let m = msg::request(
            "id-1",
            ReqType::Get(Get {
                param_paths: vec!["Device.DeviceInfo.".into()],
                max_depth: 2,
            }),
        );
        let text = describe_msg(&m);
        assert!(!text.contains("Some("), "{text}");
        for needle in [
            "msg_id: \"id-1\"",
            "msg_type: Get",
            "\"Device.DeviceInfo.\"",
            "max_depth: 2",
            "Get {",
        ] {
            assert!(text.contains(needle), "{needle} missing from\n{text}");
        }
        let opens = text.matches(['{', '(', '[']).count();
        let closes = text.matches(['}', ')', ']']).count();
        assert_eq!(opens, closes, "unbalanced:\n{text}");
    }
}
