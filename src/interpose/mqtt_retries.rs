//! `expect_mqtt_retries`: the YAML form of the MQTT back-off check (TP-469
//! 11.16) and what a refusal and a retry are in the MQTT interposer's log.
//! The pairing and the windows are shared (`mtp::retry_log`, `mtp::backoff`).

use schemars::JsonSchema;
use serde::Deserialize;

use super::mqtt_log::LoggedPacket;
use super::relay::Way;
use crate::mtp::retry_log::{self, AttemptLog};
use crate::suite::model::ScalarString;

/// The note the interposer puts on a CONNACK it refused a connection with
/// (and on the close of a connection it refused without CONNACK).
pub const REFUSAL_NOTE: &str = "connection refused by the interposer";
/// The log's name for a connection the interposer closed without CONNACK
/// (`refuse_reason: Closed`): no MQTT packet, the TCP close.
pub const CLOSED_PACKET: &str = "CLOSE";

/// `expect_mqtt_retries: {...}`: follows an `mqtt_steer` with
/// `refuse_connections`; the values are numbers or `${vars}` captured
/// from a Get of the Agent's `Device.MQTT.Client.{i}.` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    /// How many refused attempts to measure the retry after (1-based
    /// retry numbers 1..=retries).
    pub retries: u32,
    /// ConnectRetryTime, seconds.
    pub connect_retry_time: ScalarString,
    /// ConnectRetryIntervalMultiplier, thousandths.
    pub connect_retry_interval_multiplier: ScalarString,
    /// ConnectRetryMaxInterval, seconds (default 30720).
    pub connect_retry_max_interval: Option<ScalarString>,
    /// How far outside a window a wait may be and still pass, ms (the
    /// loopback round trip and timer slack); the case states it.
    pub tolerance_ms: u64,
    /// How long to wait for the retries, ms (default: the windows' ends
    /// plus 5 s).
    pub timeout_ms: Option<u64>,
}

impl RetrySpec {
    pub fn validate(&self) -> Result<(), String> {
        retry_log::validate("expect_mqtt_retries", self.retries, self.timeout_ms)
    }
}

/// A refusal is the CONNACK the interposer refused with, or its close of a
/// connection it refused without one; an attempt is the Agent's CONNECT.
impl AttemptLog for LoggedPacket {
    fn at(&self) -> &str {
        &self.at
    }

    fn is_refusal(&self) -> bool {
        self.way == Way::ToAgent
            && (self.summary.packet == "CONNACK" || self.summary.packet == CLOSED_PACKET)
            && self
                .steered
                .as_deref()
                .is_some_and(|s| s.starts_with(REFUSAL_NOTE))
    }

    fn is_attempt(&self) -> bool {
        self.way == Way::FromAgent && self.summary.packet == "CONNECT"
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::interpose::mqtt_codec::PacketSummary;
    use crate::mtp::backoff::Backoff;
    use crate::mtp::retry_log::{judge, retries};

    fn packet(way: Way, kind: &str, at: &str, note: Option<&str>) -> LoggedPacket {
        let mut p = LoggedPacket::new(
            way,
            1,
            PacketSummary {
                packet: kind.into(),
                flags: 0,
                fields: vec![],
            },
            2,
        );
        p.at = at.into();
        p.steered = note.map(str::to_string);
        p
    }

    #[test]
    fn refusing_connacks_and_connects_make_the_retries() {
        let refused = Some("connection refused by the interposer (1 more to refuse)");
        let log = vec![
            packet(Way::FromAgent, "CONNECT", "2026-01-01T00:00:00.000Z", None),
            packet(Way::ToAgent, "CONNACK", "2026-01-01T00:00:00.010Z", refused),
            // Not the Agent's attempt: a PUBLISH, and a CONNACK not refused.
            packet(Way::FromAgent, "PUBLISH", "2026-01-01T00:00:00.500Z", None),
            packet(Way::FromAgent, "CONNECT", "2026-01-01T00:00:01.210Z", None),
            packet(Way::ToAgent, "CONNACK", "2026-01-01T00:00:01.220Z", refused),
            packet(Way::FromAgent, "CONNECT", "2026-01-01T00:00:03.020Z", None),
            packet(Way::ToAgent, "CONNACK", "2026-01-01T00:00:03.030Z", None),
        ];
        let r = retries(&log);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].wait, Duration::from_millis(1200));
        assert_eq!(r[1].wait, Duration::from_millis(1800));
        let doubling = Backoff::mqtt("1", "2000", "30720").unwrap();
        let tol = Duration::from_millis(100);
        let (ok, why) = judge(&r[1], &doubling, tol, "CONNECT", "refusing CONNACK");
        assert!(!ok);
        assert!(why.contains("1800 ms after the refusing CONNACK"), "{why}");
    }

    #[test]
    fn a_connection_closed_without_connack_counts_as_a_refusal() {
        // refuse_reason: Closed (TP-469 11.6): the broker seems down.
        let closed = Some("connection refused by the interposer: closed without CONNACK");
        let log = vec![
            packet(Way::FromAgent, "CONNECT", "2026-01-01T00:00:00.000Z", None),
            packet(
                Way::ToAgent,
                CLOSED_PACKET,
                "2026-01-01T00:00:00.005Z",
                closed,
            ),
            packet(Way::FromAgent, "CONNECT", "2026-01-01T00:00:01.105Z", None),
        ];
        let r = retries(&log);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].wait, Duration::from_millis(1100));
        // A close the interposer did not make is no refusal.
        let log = vec![
            packet(
                Way::ToAgent,
                CLOSED_PACKET,
                "2026-01-01T00:00:00.005Z",
                None,
            ),
            packet(Way::FromAgent, "CONNECT", "2026-01-01T00:00:01.105Z", None),
        ];
        assert!(retries(&log).is_empty());
    }
}
