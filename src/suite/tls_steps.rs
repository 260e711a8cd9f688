//! `expect_mtp_tls`: the step that asks whether the Agent's MTP channel is
//! TLS (TP-469 4.1, 7.9, 11.3, 6.11). Its YAML form and load-time check;
//! the runner (`runner/tls_steps.rs`) reads what the transport or the
//! interposer learnt of each connection's TLS session.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::mtp::tls::channel::TlsVersion;

pub const HELP: &str = "see test-cases/README.md, \"expect_mtp_tls\"";

/// Which of the Agent's connections the step judges (on the broker MTPs,
/// through the interposer; over WebSocket it is always the connection the
/// case runs on).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TlsScope {
    /// The connection(s) the Agent is on now.
    #[default]
    Current,
    /// Every connection the Agent opened since the case began (after a
    /// reboot or reconnect: "all communication after step 1"); at least one.
    SinceCaseStart,
}

/// An MTP a case is about, by the name its connections report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TlsMtp {
    Websocket,
    Mqtt,
    Stomp,
}

impl TlsMtp {
    /// The name `PeerInfo::mtp` gives.
    pub fn name(self) -> &'static str {
        match self {
            TlsMtp::Websocket => crate::mtp::websocket::MTP,
            TlsMtp::Mqtt => "MQTT",
            TlsMtp::Stomp => "STOMP",
        }
    }
}

/// `expect_mtp_tls: { min_version: "1.2" }`: the Agent's MTP channel runs
/// over TLS of at least that version. Skipped, with the reason, on a run
/// that has no TLS to the Agent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MtpTlsSpec {
    /// The lowest TLS version that passes: "1.2" (R-MTP.0, the default) or "1.3".
    #[serde(default = "tls_1_2")]
    pub min_version: String,
    #[serde(default)]
    pub connections: TlsScope,
    /// The MTP the case is about (TP-469 7.9: WebSocket); on a run over
    /// another MTP the step, and so the case, is skipped.
    #[serde(default)]
    pub mtp: Option<TlsMtp>,
}

fn tls_1_2() -> String {
    "1.2".into()
}

impl MtpTlsSpec {
    pub fn min(&self) -> Option<TlsVersion> {
        TlsVersion::parse(&self.min_version)
    }

    pub fn validate(&self) -> Result<(), String> {
        match self.min() {
            Some(_) => Ok(()),
            None => Err(format!(
                "expect_mtp_tls: min_version {:?} is not \"1.2\" or \"1.3\"",
                self.min_version
            )),
        }
    }
}
