//! `expect_mqtt_retries` (sans-I/O): after the interposer refused the
//! Agent's connections, how long the Agent waited before each retry, and
//! whether each wait fell inside the back-off window its own
//! ConnectRetryTime / ConnectRetryIntervalMultiplier / ConnectRetryMaxInterval
//! give (TP-469 11.16; windows from `mtp::backoff`).

use std::time::Duration;

use chrono::DateTime;
use schemars::JsonSchema;
use serde::Deserialize;

use super::mqtt_log::LoggedPacket;
use super::relay::Way;
use crate::mtp::backoff::Backoff;
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

/// Most retries a step may measure.
pub const MAX_RETRIES: u32 = 10;

impl RetrySpec {
    pub fn validate(&self) -> Result<(), String> {
        if self.retries == 0 || self.retries > MAX_RETRIES {
            return Err(format!(
                "expect_mqtt_retries: retries must be 1 to {MAX_RETRIES}"
            ));
        }
        if self.timeout_ms.is_some_and(|t| t > 600_000) {
            return Err("expect_mqtt_retries: timeout_ms above 600000".into());
        }
        Ok(())
    }
}

/// One measured retry: the refusal and the Agent's next CONNECT.
#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    /// 1-based.
    pub n: u32,
    pub refused_at: String,
    pub connect_at: String,
    pub wait: Duration,
}

/// The retries in `log` (the entries since the steer): each refusal CONNACK
/// sent to the Agent, paired with the first CONNECT the Agent sent after it.
pub fn retries(log: &[LoggedPacket]) -> Vec<Retry> {
    let mut out = Vec::new();
    for (i, p) in log.iter().enumerate() {
        let refusal = p.way == Way::ToAgent
            && (p.summary.packet == "CONNACK" || p.summary.packet == CLOSED_PACKET)
            && p.steered
                .as_deref()
                .is_some_and(|s| s.starts_with(REFUSAL_NOTE));
        if !refusal {
            continue;
        }
        let next = log[i + 1..]
            .iter()
            .find(|c| c.way == Way::FromAgent && c.summary.packet == "CONNECT");
        let Some(c) = next else { break };
        let (Some(a), Some(b)) = (instant(&p.at), instant(&c.at)) else {
            continue;
        };
        let wait = (b - a).to_std().unwrap_or(Duration::ZERO);
        out.push(Retry {
            n: out.len() as u32 + 1,
            refused_at: p.at.clone(),
            connect_at: c.at.clone(),
            wait,
        });
    }
    out
}

fn instant(at: &str) -> Option<DateTime<chrono::FixedOffset>> {
    DateTime::parse_from_rfc3339(at).ok()
}

/// Whether retry `r`'s wait is inside its window (± `tolerance`), and the
/// sentence that says so either way.
pub fn judge(r: &Retry, backoff: &Backoff, tolerance: Duration) -> (bool, String) {
    let w = backoff.window(r.n);
    let ok = w.contains(r.wait, tolerance);
    (
        ok,
        format!(
            "retry {}: CONNECT at {}, {} ms after the refusal at {} ({} the window {} ± {} ms)",
            r.n,
            r.connect_at,
            r.wait.as_millis(),
            r.refused_at,
            if ok { "inside" } else { "outside" },
            w,
            tolerance.as_millis()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interpose::mqtt_codec::PacketSummary;

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
    fn waits_are_measured_from_each_refusal_to_the_next_connect() {
        let refused = Some("connection refused by the interposer (1 more to refuse)");
        let log = vec![
            packet(Way::FromAgent, "CONNECT", "2026-01-01T00:00:00.000Z", None),
            packet(Way::ToAgent, "CONNACK", "2026-01-01T00:00:00.010Z", refused),
            packet(Way::FromAgent, "CONNECT", "2026-01-01T00:00:01.210Z", None),
            packet(Way::ToAgent, "CONNACK", "2026-01-01T00:00:01.220Z", refused),
            packet(Way::FromAgent, "CONNECT", "2026-01-01T00:00:03.020Z", None),
            packet(Way::ToAgent, "CONNACK", "2026-01-01T00:00:03.030Z", None),
        ];
        let r = retries(&log);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].wait, Duration::from_millis(1200));
        assert_eq!(r[1].wait, Duration::from_millis(1800));
        // 1 s ×1.5: windows 1-1.5 s and 1.5-2.25 s; both waits fit.
        let b = Backoff::mqtt("1", "1500", "30720").unwrap();
        let tol = Duration::from_millis(100);
        assert!(judge(&r[0], &b, tol).0);
        assert!(judge(&r[1], &b, tol).0);
        // ×2.0: the second window is 2-4 s, and 1.8 s is too early even
        // with the tolerance.
        let doubling = Backoff::mqtt("1", "2000", "30720").unwrap();
        assert!(!judge(&r[1], &doubling, tol).0);
        // ConnectRetryTime 2: the first retry at 1.2 s is too early.
        let late = Backoff::mqtt("2", "2000", "30720").unwrap();
        let (ok, why) = judge(&r[0], &late, tol);
        assert!(!ok);
        assert!(
            why.contains("outside the window 2000 to 4000 ms ± 100 ms"),
            "{why}"
        );
        assert!(why.contains("1200 ms"), "{why}");
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

    #[test]
    fn a_refusal_without_a_later_connect_is_not_a_retry() {
        let log = vec![packet(
            Way::ToAgent,
            "CONNACK",
            "2026-01-01T00:00:00.010Z",
            Some(REFUSAL_NOTE),
        )];
        assert!(retries(&log).is_empty());
    }
}
