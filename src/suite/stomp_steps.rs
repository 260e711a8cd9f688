//! Load-time checks of the STOMP interposer steps (`stomp_steer`,
//! `expect_stomp`); their YAML forms are `interpose::stomp_steer::Steering`
//! and `interpose::stomp_log::FramePattern`, whose unknown keys serde
//! already refuses with the step's position.

use super::model::Action;
use crate::interpose::stomp_log::{check_value, HEARTBEAT};

pub const HELP: &str = "see test-cases/README.md, \"STOMP interposer steps\"";

/// Commands `expect_stomp` can name: the STOMP 1.2 client and server
/// frames, and the heart-beat EOLs the interposer logs.
const COMMANDS: &[&str] = &[
    "CONNECT",
    "STOMP",
    "CONNECTED",
    "SEND",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "ACK",
    "NACK",
    "BEGIN",
    "COMMIT",
    "ABORT",
    "DISCONNECT",
    "MESSAGE",
    "RECEIPT",
    "ERROR",
    HEARTBEAT,
];

/// Longest wait an `expect_stomp` may ask for.
const MAX_TIMEOUT_MS: u64 = 120_000;

pub fn validate(action: &Action) -> Result<(), String> {
    match action {
        Action::StompSteer(s) => s.validate().map_err(|e| format!("stomp_steer: {e}")),
        Action::ExpectStompRetries(r) => r.validate(),
        Action::ExpectStomp(p) => {
            if !COMMANDS.contains(&p.command.to_uppercase().as_str()) {
                return Err(format!(
                    "expect_stomp: unknown command '{}'; use one of {}",
                    p.command,
                    COMMANDS.join(", ")
                ));
            }
            for (name, want) in &p.headers {
                if name.is_empty() {
                    return Err("expect_stomp: a header name is empty".into());
                }
                check_value(want)
                    .map_err(|e| format!("expect_stomp: header {name}: bad regex: {e}"))?;
            }
            if p.timeout_ms.is_some_and(|t| t > MAX_TIMEOUT_MS) {
                return Err(format!("expect_stomp: timeout_ms above {MAX_TIMEOUT_MS}"));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
