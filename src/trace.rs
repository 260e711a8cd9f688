//! The record of every Record sent and received, with timestamps, decoded
//! for people. Sessions append; reports print.

use chrono::{SecondsFormat, Utc};
use serde::Serialize;

use crate::usp::proto::msg::Msg;
use crate::usp::proto::record::Record;
use crate::usp::record::record_kind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Sent,
    Received,
}

#[derive(Debug, Clone, Serialize)]
pub struct TraceEntry {
    /// RFC 3339 UTC time with milliseconds.
    pub at: String,
    pub direction: Direction,
    /// `NoSessionContextRecord v1.4 proto::a -> proto::b`, or what the bytes were.
    pub record: String,
    /// The decoded Msg, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
    /// Why a received Record was set aside, or other remarks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub bytes: usize,
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
        }
    }

    pub fn with_msg(mut self, msg: &Msg) -> Self {
        self.msg = Some(describe_msg(msg));
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
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

/// A Msg in readable form: prost's Debug output names enum values
/// (`msg_type: GetResp`), which is what a person comparing against the
/// spec wants.
pub fn describe_msg(msg: &Msg) -> String {
    format!("{msg:#?}")
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
