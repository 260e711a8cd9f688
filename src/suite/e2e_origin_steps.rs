//! Steps for the TLS12 contexts the Agent opens itself (TP-469 3.5):
//! `e2e_tls_answer` arms the harness's side of them, and
//! `expect_e2e_tls_retries` holds the waits between a refused handshake
//! and the Agent's next attempt against its SessionRetry back-off.

use schemars::JsonSchema;
use serde::Deserialize;

use super::model::ScalarString;
use crate::mtp::retry_log::{self, MAX_RETRIES};

pub const HELP: &str =
    "see test-cases/README.md, \"The Agent's own TLS contexts: e2e_tls_answer, expect_e2e_tls_retries\"";

/// `e2e_tls_answer`: from now on until the case ends, a TLS12 context the
/// Agent opens (a new session_id, sequence_id 1) is adopted, and the
/// harness is its TLS server.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct E2eTlsAnswerSpec {
    /// How many of the Agent's next handshakes are answered with the TLS
    /// alert handshake_failure(40); the one after is completed.
    #[serde(default)]
    pub refuse_handshakes: u32,
}

impl E2eTlsAnswerSpec {
    pub fn validate(&self) -> Result<(), String> {
        if self.refuse_handshakes > MAX_RETRIES {
            return Err(format!(
                "e2e_tls_answer: refuse_handshakes must be at most {MAX_RETRIES}"
            ));
        }
        Ok(())
    }
}

/// `expect_e2e_tls_retries`: after each handshake the harness refused, the
/// Agent's next attempt must come inside the window of
/// Controller.{i}.E2ESession.SessionRetryMinimumWaitInterval and
/// SessionRetryIntervalMultiplier; the handshake after the refusals must
/// complete.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct E2eTlsRetrySpec {
    /// How many refused handshakes to measure the retry after.
    pub retries: u32,
    /// SessionRetryMinimumWaitInterval, seconds.
    pub session_retry_minimum_wait_interval: ScalarString,
    /// SessionRetryIntervalMultiplier, thousandths.
    pub session_retry_interval_multiplier: ScalarString,
    /// How far outside a window a wait may be and still pass, ms; the case
    /// states it.
    pub tolerance_ms: u64,
    /// How long to wait, ms (default: the windows' ends plus 5 s).
    pub timeout_ms: Option<u64>,
}

impl E2eTlsRetrySpec {
    pub fn validate(&self) -> Result<(), String> {
        retry_log::validate("expect_e2e_tls_retries", self.retries, self.timeout_ms)
    }
}
