//! The WebSocket control steps (`ws_control`, `expect_close`; TP-469
//! section 7) as plain data, and their load-time checks. The runner's side
//! is `runner/ws_steps.rs`; the wire side `mtp/websocket/control.rs`.

use schemars::JsonSchema;
use serde::Deserialize;

use super::model::ScalarString;
use crate::mtp::retry_log;

pub const HELP: &str = "see test-cases/README.md, \"WebSocket control steps\"";

/// Longest wait a WebSocket step may ask for.
const MAX_TIMEOUT_MS: u64 = 120_000;
/// Most frames one Record may be split over.
const MAX_FRAGMENTS: u32 = 64;
/// Most handshakes a step may refuse in a row.
const MAX_REJECTS: u32 = 20;

/// What a handshake answer can leave out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HandshakeItem {
    /// `Sec-WebSocket-Protocol: v1.usp` (the Agent must not complete the
    /// session, R-WS.12).
    Subprotocol,
    /// The `bbf-usp-protocol` extension (its absence is no error, R-WS.11b/11c).
    Extension,
}

/// `ws_control`: one action on the WebSocket between the harness (as the
/// server the Agent connects to) and the Agent. Exactly one of the action
/// keys is given; `status`, `min_retry_interval_ms` and `timeout_ms` qualify it.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WsControlSpec {
    /// Drop the current connection, refuse the Agent's next N handshakes
    /// with HTTP `status`, then accept; passes when the Agent kept retrying
    /// and the N+1st handshake opened a session.
    #[serde(default)]
    pub reject_handshakes: Option<u32>,
    /// HTTP status of each refusal (default 503).
    #[serde(default)]
    pub status: Option<u16>,
    /// With `reject_handshakes`: the shortest wait allowed between two
    /// attempts, in ms (the Agent's SessionRetryMinimumWaitInterval,
    /// R-WS.19-21): a number, or the name of a run variable (target
    /// `vars:`, `--var`) holding it; without that variable the step is
    /// skipped with the reason.
    #[serde(default)]
    pub min_retry_interval_ms: Option<ScalarString>,
    /// Drop the current connection and answer the Agent's next handshake
    /// without this item.
    #[serde(default)]
    pub answer_without: Option<HandshakeItem>,
    /// End the TCP connection without a Close frame; passes when the Agent
    /// opens a new session.
    #[serde(default)]
    pub drop_connection: Option<bool>,
    /// Send a Ping with this payload; passes when the Pong echoes it (R-WS.17).
    #[serde(default)]
    pub ping: Option<String>,
    /// Send an unsolicited Pong with this payload (the session must survive it).
    #[serde(default)]
    pub pong: Option<String>,
    /// Send this text in a text frame (R-WS.14: never a Record).
    #[serde(default)]
    pub send_text: Option<String>,
    /// Send a binary frame whose bytes are not a USP Record.
    #[serde(default)]
    pub send_malformed: Option<bool>,
    /// Split the next Record the harness sends over this many frames
    /// (a binary frame and continuation frames, R-WS.14b).
    #[serde(default)]
    pub fragment_next: Option<u32>,
    /// Send a Close with this status code (e.g. 1000); passes when the
    /// Agent answers with a Close and the connection ends (RFC 6455 5.5.1,
    /// TP-469 7.4).
    #[serde(default)]
    pub close: Option<u16>,
    /// As the client of the Agent's WebSocket server: open a second
    /// session with the same Endpoint ID; passes when exactly one of the
    /// two survives (R-WS.4, TP-469 7.2).
    #[serde(default)]
    pub second_session: Option<bool>,
    /// How long to wait: for the Pong (default 5000 ms), for the new
    /// session after `drop_connection` (default: the run's connect
    /// timeout), for a usable session after `reject_handshakes` /
    /// `answer_without` (default 60000 ms: a real Agent backs off 5-10 s,
    /// then 10-20 s, ...).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// `expect_close`: the Agent closes the WebSocket with this status code.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectCloseSpec {
    /// The Close frame's status code, e.g. 1003 (R-WS.16).
    pub code: u16,
    /// How long to wait for the Close frame (default 5000 ms).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// The rule a wrong code breaks; defaults to the case's.
    #[serde(default)]
    pub rule: Option<String>,
}

/// `expect_ws_retries: {...}`: follows a `ws_control` with
/// `reject_handshakes`; the values are numbers or `${vars}` captured from a
/// Get of the Agent's `Controller.{i}.MTP.{i}.WebSocket.` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WsRetrySpec {
    /// How many refused handshakes to measure the retry after (1-based
    /// retry numbers 1..=retries).
    pub retries: u32,
    /// SessionRetryMinimumWaitInterval, seconds.
    pub session_retry_minimum_wait_interval: ScalarString,
    /// SessionRetryIntervalMultiplier, thousandths.
    pub session_retry_interval_multiplier: ScalarString,
    /// How far outside a window a wait may be and still pass, ms; the case
    /// states it.
    pub tolerance_ms: u64,
    /// How long to wait for the retries, ms (default: the windows' ends
    /// plus 5 s).
    pub timeout_ms: Option<u64>,
}

impl WsRetrySpec {
    pub fn validate(&self) -> Result<(), String> {
        retry_log::validate("expect_ws_retries", self.retries, self.timeout_ms)
    }
}

impl WsControlSpec {
    /// The action keys given, by name.
    fn actions(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        let mut note = |present: bool, name: &'static str| {
            if present {
                given.push(name);
            }
        };
        note(self.reject_handshakes.is_some(), "reject_handshakes");
        note(self.answer_without.is_some(), "answer_without");
        note(self.drop_connection == Some(true), "drop_connection");
        note(self.ping.is_some(), "ping");
        note(self.pong.is_some(), "pong");
        note(self.send_text.is_some(), "send_text");
        note(self.send_malformed == Some(true), "send_malformed");
        note(self.fragment_next.is_some(), "fragment_next");
        note(self.second_session == Some(true), "second_session");
        note(self.close.is_some(), "close");
        given
    }

    pub fn validate(&self) -> Result<(), String> {
        let given = self.actions();
        if given.len() != 1 {
            return Err(format!(
                "ws_control takes exactly one action, found {}: use one of reject_handshakes, answer_without, drop_connection, ping, pong, send_text, send_malformed, fragment_next, second_session, close",
                if given.is_empty() { "none".to_string() } else { given.join(", ") }
            ));
        }
        if let Some(n) = self.reject_handshakes {
            if n == 0 || n > MAX_REJECTS {
                return Err(format!(
                    "ws_control: reject_handshakes must be 1..={MAX_REJECTS}"
                ));
            }
        } else if self.status.is_some() || self.min_retry_interval_ms.is_some() {
            return Err(
                "ws_control: status and min_retry_interval_ms go with reject_handshakes".into(),
            );
        }
        if let Some(s) = self.status {
            if !(400..=599).contains(&s) {
                return Err(format!(
                    "ws_control: status {s} is not an HTTP error status (400..599)"
                ));
            }
        }
        if let Some(f) = self.fragment_next {
            if !(2..=MAX_FRAGMENTS).contains(&f) {
                return Err(format!(
                    "ws_control: fragment_next must be 2..={MAX_FRAGMENTS} frames"
                ));
            }
        }
        for p in [&self.ping, &self.pong].into_iter().flatten() {
            // RFC 6455 5.5: a control frame's payload is at most 125 bytes.
            if p.len() > 125 {
                return Err(
                    "ws_control: a Ping or Pong payload is at most 125 bytes (RFC 6455 5.5)".into(),
                );
            }
        }
        if let Some(code) = self.close {
            if !sendable_close_code(code) {
                return Err(format!(
                    "ws_control: close {code} is not a status code a Close frame can carry (RFC 6455 7.4)"
                ));
            }
        }
        if self.timeout_ms.is_some_and(|t| t > MAX_TIMEOUT_MS) {
            return Err(format!("ws_control: timeout_ms above {MAX_TIMEOUT_MS}"));
        }
        Ok(())
    }
}

impl ExpectCloseSpec {
    pub fn validate(&self) -> Result<(), String> {
        if !sendable_close_code(self.code) {
            return Err(format!(
                "expect_close: {} is not a status code a Close frame can carry (RFC 6455 7.4)",
                self.code
            ));
        }
        if self.timeout_ms.is_some_and(|t| t > MAX_TIMEOUT_MS) {
            return Err(format!("expect_close: timeout_ms above {MAX_TIMEOUT_MS}"));
        }
        Ok(())
    }
}

/// RFC 6455 7.4: codes below 1000 are unused; 1005, 1006 and 1015 are
/// never sent in a Close frame.
fn sendable_close_code(code: u16) -> bool {
    (1000..=4999).contains(&code) && !matches!(code, 1005 | 1006 | 1015)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_action() {
        assert!(WsControlSpec::default().validate().is_err());
        let two = WsControlSpec {
            ping: Some("a".into()),
            pong: Some("b".into()),
            ..Default::default()
        };
        assert!(two.validate().unwrap_err().contains("ping, pong"));
        let one = WsControlSpec {
            reject_handshakes: Some(2),
            status: Some(503),
            ..Default::default()
        };
        assert_eq!(one.validate(), Ok(()));
    }

    #[test]
    fn qualifiers_and_ranges() {
        let stray = WsControlSpec {
            ping: Some("x".into()),
            status: Some(503),
            ..Default::default()
        };
        assert!(stray.validate().is_err());
        let one_frame = WsControlSpec {
            fragment_next: Some(1),
            ..Default::default()
        };
        assert!(one_frame.validate().is_err());
        let close = ExpectCloseSpec {
            code: 1006,
            timeout_ms: None,
            rule: None,
        };
        assert!(close.validate().is_err());
    }
}
