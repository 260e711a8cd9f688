//! The malformed-Record step (`bad_record`, TP-469 3.1 and 6.9) as plain
//! data, and its load-time checks. The runner's side is
//! `runner/bad_record_steps.rs`; the session's `session/bad_record.rs`.

use schemars::JsonSchema;
use serde::Deserialize;

pub const HELP: &str = "see test-cases/README.md, \"Malformed Record step: bad_record\"";

/// Longest window a `bad_record` step may watch.
const MAX_TIMEOUT_MS: u64 = 120_000;

/// Which bytes go out as the Record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BadRecordKind {
    /// Bytes that are not a protobuf Record at all (no from_id, to_id or
    /// msg_id to read: R-MTP.5 lets the Agent only ignore them).
    #[default]
    NotARecord,
    /// A NoSessionContextRecord from the harness to the Agent whose payload
    /// is not a protobuf Msg.
    UndecodablePayload,
    /// A well-formed Record carrying a Get whose from_id is the Agent's own
    /// Endpoint ID (TP-469 2.1): it must not be answered at all (R-ARC.2).
    FromOwnId,
    /// A well-formed Record carrying a Get addressed to another Endpoint ID
    /// than the Agent's (TP-469 2.2): it must be ignored (R-E2E.1).
    ToAnotherId,
}

impl BadRecordKind {
    /// A Record the Agent must not answer in any way, Record Errors
    /// included (the others may get a Record Error, R-MTP.5).
    pub fn must_go_unanswered(self) -> bool {
        matches!(self, BadRecordKind::FromOwnId | BadRecordKind::ToAnotherId)
    }
}

/// The MTP a `bad_record` step is limited to (`only_on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MtpChoice {
    Websocket,
    Mqtt,
    Stomp,
    Uds,
    Coap,
}

impl MtpChoice {
    /// The name the MTP gives itself (`PeerInfo::mtp`).
    pub fn label(self) -> &'static str {
        match self {
            MtpChoice::Websocket => "WebSocket",
            MtpChoice::Mqtt => "MQTT",
            MtpChoice::Stomp => "STOMP",
            MtpChoice::Uds => "UDS",
            MtpChoice::Coap => "CoAP",
        }
    }
}

/// `bad_record`: one malformed Record on the current MTP, then what the
/// Agent must do: ignore it or answer with a USP Record Error (7100-7106),
/// keep its MTP session (or close it the binding's way: WebSocket Close
/// 1003, UDS Error TLV) and answer a Get afterwards.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BadRecordSpec {
    #[serde(default)]
    pub kind: BadRecordKind,
    /// Run only on this MTP; on another the step is skipped with the reason.
    #[serde(default)]
    pub only_on: Option<MtpChoice>,
    /// How long to watch the Agent after the Record, in ms (default: the
    /// run's silence window, `--silence-ms`).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

impl BadRecordSpec {
    pub fn validate(&self) -> Result<(), String> {
        if self
            .timeout_ms
            .is_some_and(|t| t == 0 || t > MAX_TIMEOUT_MS)
        {
            return Err(format!("bad_record: timeout_ms must be 1-{MAX_TIMEOUT_MS}"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> BadRecordSpec {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn defaults_and_limits() {
        let s = spec("{}");
        assert_eq!(s.kind, BadRecordKind::NotARecord);
        assert_eq!(s.validate(), Ok(()));
        let s = spec("kind: undecodable_payload\nonly_on: stomp\ntimeout_ms: 60000\n");
        assert_eq!(s.kind, BadRecordKind::UndecodablePayload);
        assert_eq!(s.only_on.map(MtpChoice::label), Some("STOMP"));
        assert_eq!(s.validate(), Ok(()));
        assert!(spec("timeout_ms: 0").validate().is_err());
        assert!(spec("timeout_ms: 120001").validate().is_err());
        assert!(serde_saphyr::from_str::<BadRecordSpec>("kind: garbage").is_err());
    }
}
