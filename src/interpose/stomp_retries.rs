//! `expect_stomp_retries`: the YAML form of the STOMP back-off check
//! (TP-469 6.3) and what a refusal and a retry are in the STOMP
//! interposer's log. The pairing and the windows are shared
//! (`mtp::retry_log`, `mtp::backoff`).

use schemars::JsonSchema;
use serde::Deserialize;

use super::mqtt_retries::REFUSAL_NOTE;
use super::relay::Way;
use super::stomp_log::LoggedFrame;
use crate::mtp::retry_log::{self, AttemptLog};
use crate::suite::model::ScalarString;

/// `expect_stomp_retries: {...}`: follows a `stomp_steer` with
/// `refuse_connections`; the values are numbers or `${vars}` captured
/// from a Get of the Agent's `Device.STOMP.Connection.{i}.` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StompRetrySpec {
    /// How many refused attempts to measure the retry after (1-based
    /// retry numbers 1..=retries).
    pub retries: u32,
    /// ServerRetryInitialInterval, seconds.
    pub server_retry_initial_interval: ScalarString,
    /// ServerRetryIntervalMultiplier, thousandths.
    pub server_retry_interval_multiplier: ScalarString,
    /// ServerRetryMaxInterval, seconds (default 30720).
    pub server_retry_max_interval: Option<ScalarString>,
    /// How far outside a window a wait may be and still pass, ms; the case
    /// states it.
    pub tolerance_ms: u64,
    /// How long to wait for the retries, ms (default: the windows' ends
    /// plus 5 s).
    pub timeout_ms: Option<u64>,
}

impl StompRetrySpec {
    pub fn validate(&self) -> Result<(), String> {
        retry_log::validate("expect_stomp_retries", self.retries, self.timeout_ms)
    }
}

/// A refusal is the ERROR frame the interposer refused a STOMP frame with;
/// an attempt is the Agent's STOMP (or CONNECT) frame.
impl AttemptLog for LoggedFrame {
    fn at(&self) -> &str {
        &self.at
    }

    fn is_refusal(&self) -> bool {
        self.way == Way::ToAgent
            && self.command == "ERROR"
            && self
                .steered
                .as_deref()
                .is_some_and(|s| s.starts_with(REFUSAL_NOTE))
    }

    fn is_attempt(&self) -> bool {
        self.way == Way::FromAgent && matches!(self.command.as_str(), "STOMP" | "CONNECT")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::interpose::stomp_steer;
    use crate::mtp::retry_log::retries;
    use crate::mtp::stomp::frame::Frame;

    fn frame(way: Way, f: Frame, at: &str, note: Option<&str>) -> LoggedFrame {
        let mut e = LoggedFrame::of_frame(way, 1, &f, 10);
        e.at = at.into();
        e.steered = note.map(str::to_string);
        e
    }

    #[test]
    fn refusing_errors_and_stomp_frames_make_the_retries() {
        let note = Some("connection refused by the interposer (1 more to refuse)");
        let log = vec![
            frame(
                Way::FromAgent,
                Frame::new("STOMP"),
                "2026-01-01T00:00:00.000Z",
                None,
            ),
            frame(
                Way::ToAgent,
                stomp_steer::refusal(1),
                "2026-01-01T00:00:00.010Z",
                note,
            ),
            // An ERROR the broker sent is no refusal of the interposer's.
            frame(
                Way::ToAgent,
                Frame::new("ERROR"),
                "2026-01-01T00:00:00.020Z",
                None,
            ),
            frame(
                Way::FromAgent,
                Frame::new("CONNECT"),
                "2026-01-01T00:00:01.510Z",
                None,
            ),
        ];
        let r = retries(&log);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].wait, Duration::from_millis(1500));
        let spec = StompRetrySpec {
            retries: 0,
            server_retry_initial_interval: ScalarString("1".into()),
            server_retry_interval_multiplier: ScalarString("2000".into()),
            server_retry_max_interval: None,
            tolerance_ms: 1,
            timeout_ms: None,
        };
        assert!(spec
            .validate()
            .unwrap_err()
            .contains("expect_stomp_retries"));
    }
}
