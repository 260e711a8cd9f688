//! The CoAP control steps (`coap_control`, `expect_coap`; TP-469 section 5,
//! legacy) as plain data, and their load-time checks. The runner's side is
//! `runner/coap_steps.rs`; the wire side `mtp/coap/control.rs`.

use schemars::JsonSchema;
use serde::Deserialize;

pub const HELP: &str = "see test-cases/README.md, \"CoAP control steps\"";

/// Most requests a step may leave unanswered in a row (RFC 7252's
/// MAX_RETRANSMIT is 4: more would only wait out the Agent's give-up).
const MAX_WITHHELD: u32 = 4;
/// Longest wait a CoAP step may ask for.
const MAX_TIMEOUT_MS: u64 = 120_000;

/// What the body of a request a case sends is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawPayload {
    /// A well-formed Record carrying a Get, from the harness to the Agent:
    /// whatever the Agent answers is about the method or Content-Format.
    Record,
    /// Bytes that are not a USP Record.
    NotARecord,
}

/// `coap_control: { send: ... }`: the request to send.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRequestSpec {
    /// The method code as `class.detail`, e.g. `"0.02"` (POST) or `"0.06"`
    /// (PATCH, TP-469 5.5).
    pub method: String,
    /// The Content-Format option (42 = application/octet-stream, the
    /// binding's); left out when not given.
    #[serde(default)]
    pub content_format: Option<u32>,
    pub payload: RawPayload,
}

/// `coap_control`: one action on the harness's CoAP endpoint. Exactly one
/// of `withhold_answers` and `send` is given.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CoapControlSpec {
    /// Leave the Agent's next N requests unanswered (no ACK, no response,
    /// not processed), as if lost: it must send them again (RFC 7252 §4.2,
    /// TP-469 5.4). The step passes at once; the next steps see the rest.
    #[serde(default)]
    pub withhold_answers: Option<u32>,
    /// Send a request of the case's making to the Agent's resource.
    #[serde(default)]
    pub send: Option<RawRequestSpec>,
    /// With `send`: the response code the Agent must answer with, e.g.
    /// `"4.05"`.
    #[serde(default)]
    pub expect_code: Option<String>,
    /// With `send`: how long to wait for the answer (default: the run's
    /// request timeout).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// The rule a wrong answer breaks; defaults to the case's.
    #[serde(default)]
    pub rule: Option<String>,
}

/// `expect_coap`: what the CoAP messages since the case began must show.
/// At least one key is given; each is one check.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectCoapSpec {
    /// Every request the Agent sent carries this Content-Format.
    #[serde(default)]
    pub content_format: Option<u32>,
    /// The Agent sent at least this many requests carrying a Block1 option
    /// (RFC 7959), the last of them with the M bit clear.
    #[serde(default)]
    pub blocks_at_least: Option<u32>,
    /// The Agent sent a request again, same message id, after the harness
    /// left it unanswered (`withhold_answers`).
    #[serde(default)]
    pub retransmitted: Option<bool>,
    /// Every answer the Agent gave to the harness's requests has this code,
    /// e.g. `"2.04"`.
    #[serde(default)]
    pub answers: Option<String>,
    /// The rule a check breaks; defaults to the case's.
    #[serde(default)]
    pub rule: Option<String>,
}

/// `"4.05"` -> the code byte (class << 5 | detail), RFC 7252 §3.
pub fn parse_code(text: &str) -> Result<u8, String> {
    let bad = || format!("{text:?} is not a CoAP code written class.detail, e.g. \"4.05\"");
    let (class, detail) = text.split_once('.').ok_or_else(bad)?;
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(class, 1) || !digits(detail, 2) {
        return Err(bad());
    }
    let (class, detail): (u8, u8) = (
        class.parse().map_err(|_| bad())?,
        detail.parse().map_err(|_| bad())?,
    );
    if class > 7 || detail > 31 {
        return Err(bad());
    }
    Ok(class << 5 | detail)
}

impl CoapControlSpec {
    pub fn validate(&self) -> Result<(), String> {
        match (self.withhold_answers, &self.send) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(
                    "coap_control takes exactly one action: withhold_answers or send".into(),
                )
            }
            (Some(n), None) => {
                if n == 0 || n > MAX_WITHHELD {
                    return Err(format!(
                        "coap_control: withhold_answers must be 1..={MAX_WITHHELD}"
                    ));
                }
                if self.expect_code.is_some() || self.timeout_ms.is_some() {
                    return Err("coap_control: expect_code and timeout_ms go with send".into());
                }
            }
            (None, Some(send)) => {
                let method = parse_code(&send.method)?;
                if method >> 5 != 0 || method == 0 {
                    return Err(format!(
                        "coap_control: send.method {:?} is not a request code (0.01-0.31)",
                        send.method
                    ));
                }
                let Some(code) = &self.expect_code else {
                    return Err("coap_control: send needs expect_code, the answer due".into());
                };
                if parse_code(code)? >> 5 < 2 {
                    return Err(format!(
                        "coap_control: expect_code {code:?} is not a response code (2.00-5.31)"
                    ));
                }
            }
        }
        if self
            .timeout_ms
            .is_some_and(|t| t == 0 || t > MAX_TIMEOUT_MS)
        {
            return Err(format!(
                "coap_control: timeout_ms must be 1..={MAX_TIMEOUT_MS}"
            ));
        }
        Ok(())
    }
}

impl ExpectCoapSpec {
    pub fn validate(&self) -> Result<(), String> {
        if self.content_format.is_none()
            && self.blocks_at_least.is_none()
            && self.retransmitted.is_none()
            && self.answers.is_none()
        {
            return Err("expect_coap needs at least one of content_format, blocks_at_least, retransmitted, answers".into());
        }
        if self.blocks_at_least == Some(0) {
            return Err("expect_coap: blocks_at_least must be at least 1".into());
        }
        if self.retransmitted == Some(false) {
            return Err("expect_coap: retransmitted: false checks nothing; leave it out".into());
        }
        if let Some(code) = &self.answers {
            if parse_code(code)? >> 5 < 2 {
                return Err(format!(
                    "expect_coap: answers {code:?} is not a response code (2.00-5.31)"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_as_class_dot_two_digit_detail() {
        assert_eq!(parse_code("0.02"), Ok(0x02));
        assert_eq!(parse_code("0.06"), Ok(0x06));
        assert_eq!(parse_code("4.05"), Ok(0x85));
        assert_eq!(parse_code("4.15"), Ok(0x8f));
        for bad in ["4.5", "405", "8.00", "4.32", "a.bc", ""] {
            assert!(parse_code(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_control_step_takes_one_action_and_send_needs_a_response_code() {
        let send = |method: &str, code: Option<&str>| CoapControlSpec {
            send: Some(RawRequestSpec {
                method: method.into(),
                content_format: Some(42),
                payload: RawPayload::Record,
            }),
            expect_code: code.map(Into::into),
            ..Default::default()
        };
        assert!(send("0.06", Some("4.05")).validate().is_ok());
        assert!(send("0.06", None).validate().is_err());
        assert!(send("2.04", Some("4.05")).validate().is_err());
        assert!(send("0.02", Some("0.01")).validate().is_err());
        assert!(CoapControlSpec::default().validate().is_err());
        let both = CoapControlSpec {
            withhold_answers: Some(1),
            ..send("0.06", Some("4.05"))
        };
        assert!(both.validate().is_err());
        let withhold = CoapControlSpec {
            withhold_answers: Some(1),
            ..Default::default()
        };
        assert!(withhold.validate().is_ok());
    }

    #[test]
    fn an_expectation_checks_something() {
        assert!(ExpectCoapSpec::default().validate().is_err());
        let cf = ExpectCoapSpec {
            content_format: Some(42),
            ..Default::default()
        };
        assert!(cf.validate().is_ok());
    }
}
