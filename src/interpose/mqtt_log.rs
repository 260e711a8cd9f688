//! The interposer's record of every MQTT packet it relayed, time-stamped,
//! and the matching behind `expect_mqtt` (sans-I/O).

use std::collections::BTreeMap;

use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::mqtt_codec::PacketSummary;
use super::relay::{self, Logged, Pattern, Way};
use crate::trace::{MtpPacket, TraceEntry};

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
    /// A packet not yet numbered (the log numbers it).
    pub fn new(way: Way, connection: u32, summary: PacketSummary, bytes: usize) -> Self {
        LoggedPacket {
            seq: 0,
            at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            way,
            connection,
            summary,
            bytes,
            steered: None,
        }
    }
}

impl Logged for LoggedPacket {
    fn set_seq(&mut self, seq: usize) {
        self.seq = seq;
    }

    fn one_line(&self) -> String {
        self.summary.one_line()
    }

    fn connection(&self) -> u32 {
        self.connection
    }

    fn trace_entry(&self) -> TraceEntry {
        let packet = MtpPacket {
            mtp: "MQTT".into(),
            packet: self.summary.packet.clone(),
            flags: self.summary.flags,
            connection: self.connection,
            fields: self.summary.fields.clone(),
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
    /// Wait for the nth matching packet (default 1), e.g. a second PINGREQ.
    pub nth: Option<usize>,
}

impl Pattern for PacketPattern {
    type Entry = LoggedPacket;

    fn what(&self) -> String {
        format!("MQTT {}", self.packet.to_uppercase())
    }

    fn way(&self) -> Way {
        self.direction.unwrap_or(Way::FromAgent)
    }

    fn same_kind(&self, p: &LoggedPacket) -> bool {
        p.summary.packet.eq_ignore_ascii_case(&self.packet) && p.way == self.way()
    }

    fn mismatch(&self, p: &LoggedPacket) -> Option<String> {
        if !self.same_kind(p) {
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

    fn describe(&self) -> String {
        let mut s = format!("{} {:?}", self.packet.to_uppercase(), self.way());
        if let Some(n) = self.nth.filter(|n| *n > 1) {
            s.push_str(&format!(" (match number {n})"));
        }
        for (k, v) in &self.fields {
            s.push_str(&format!(" {k}={v}"));
        }
        s
    }

    fn timeout_ms(&self) -> Option<u64> {
        self.timeout_ms
    }

    fn wanted_values(&mut self) -> impl Iterator<Item = &mut String> {
        self.fields.values_mut()
    }

    fn nth(&self) -> usize {
        self.nth.unwrap_or(1)
    }
}
