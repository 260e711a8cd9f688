//! The interposer's record of every MQTT packet it relayed, time-stamped,
//! and the matching behind `expect_mqtt` (sans-I/O).

use std::collections::BTreeMap;

use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::mqtt_codec::PacketSummary;
use crate::trace::{Direction, MtpPacket, TraceEntry};

/// Which way a packet went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Way {
    /// From the Agent towards the broker.
    FromAgent,
    /// From the broker (or the interposer itself) to the Agent.
    ToAgent,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoggedPacket {
    /// Position in the log, from 0.
    pub seq: usize,
    pub at: String,
    pub way: Way,
    /// Which Agent connection (1 = first accepted).
    pub connection: u32,
    pub summary: PacketSummary,
    pub bytes: usize,
    /// What the interposer changed or made up.
    pub steered: Option<String>,
}

impl LoggedPacket {
    pub fn new(
        seq: usize,
        way: Way,
        connection: u32,
        summary: PacketSummary,
        bytes: usize,
    ) -> Self {
        LoggedPacket {
            seq,
            at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            way,
            connection,
            summary,
            bytes,
            steered: None,
        }
    }

    /// The entry in a case's trace: the harness "receives" what the Agent
    /// sends and "sends" what the Agent receives.
    pub fn trace_entry(&self) -> TraceEntry {
        let (direction, arrow) = match self.way {
            Way::FromAgent => (Direction::Received, "Agent -> broker"),
            Way::ToAgent => (Direction::Sent, "broker -> Agent"),
        };
        let mut e = TraceEntry::new(
            direction,
            format!(
                "MQTT {} ({arrow}, connection {})",
                self.summary.packet, self.connection
            ),
            self.bytes,
        );
        e.at = self.at.clone();
        e.mtp_packet = Some(MtpPacket {
            mtp: "MQTT".into(),
            packet: self.summary.packet.clone(),
            flags: self.summary.flags,
            connection: self.connection,
            fields: self.summary.fields.clone(),
        });
        if let Some(s) = &self.steered {
            e = e.with_note(s.clone());
        }
        e
    }
}

/// `expect_mqtt: {...}`: a packet the log must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PacketPattern {
    /// CONNECT, CONNACK, PUBLISH, SUBSCRIBE, ...
    pub packet: String,
    /// `from_agent` (default) or `to_agent`.
    pub direction: Option<Way>,
    /// Field name → wanted value; `"*"` means present with any value, `"!"`
    /// means absent. A field that repeats (topic_filter) passes when any
    /// occurrence equals the value.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// How long to wait for it, ms (default 5000).
    pub timeout_ms: Option<u64>,
}

impl PacketPattern {
    pub fn way(&self) -> Way {
        self.direction.unwrap_or(Way::FromAgent)
    }

    /// Why `p` does not match, or `None` when it does.
    pub fn mismatch(&self, p: &LoggedPacket) -> Option<String> {
        if !p.summary.packet.eq_ignore_ascii_case(&self.packet) || p.way != self.way() {
            return Some("other packet".into());
        }
        for (name, want) in &self.fields {
            let mut values = p.summary.values(name);
            let ok = match want.as_str() {
                "*" => values.next().is_some(),
                "!" => values.next().is_none(),
                w => values.any(|v| v == w),
            };
            if !ok {
                let got: Vec<&str> = p.summary.values(name).collect();
                return Some(if got.is_empty() {
                    format!("{name} absent, expected '{want}'")
                } else {
                    format!("{name} = {}, expected '{want}'", got.join(" | "))
                });
            }
        }
        None
    }

    pub fn describe(&self) -> String {
        let mut s = format!("{} {:?}", self.packet.to_uppercase(), self.way());
        for (k, v) in &self.fields {
            s.push_str(&format!(" {k}={v}"));
        }
        s
    }
}

/// The first packet of `log` (from `from` on) matching `pattern`.
pub fn find<'a>(
    log: &'a [LoggedPacket],
    from: usize,
    pattern: &PacketPattern,
) -> Option<&'a LoggedPacket> {
    log.iter()
        .skip(from)
        .find(|p| pattern.mismatch(p).is_none())
}

/// For a failed expectation: each packet of the wanted type and way since
/// `from`, and why it did not match.
pub fn near_misses(log: &[LoggedPacket], from: usize, pattern: &PacketPattern) -> Vec<String> {
    log.iter()
        .skip(from)
        .filter(|p| {
            p.summary.packet.eq_ignore_ascii_case(&pattern.packet) && p.way == pattern.way()
        })
        .filter_map(|p| {
            pattern
                .mismatch(p)
                .map(|why| format!("{} ({why})", p.summary.one_line()))
        })
        .collect()
}
