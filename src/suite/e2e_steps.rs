//! The record-level E2E step (`e2e_send`, TP-469 section 3) as plain data,
//! and its load-time checks: one SessionContextRecord built field by field
//! (new or current session_id, next / repeated / skipped / given
//! sequence_id, expected_id, retransmit_id, payload_security, an optional
//! request as payload) and what the Agent must do with it. The runner's
//! side is `runner/e2e_steps.rs`; the wire side `session/e2e.rs`.

use schemars::JsonSchema;
use serde::Deserialize;

use super::model::{
    AddSpec, DeleteSpec, GetInstancesSpec, GetSpec, GetSupportedDmSpec, RequestSpec, ScalarString,
    SetSpec,
};
use crate::session::{RetransmitChoice, SequenceChoice};

pub const HELP: &str = "see test-cases/README.md, \"E2E record step: e2e_send\"";

/// Longest wait an `e2e_send` step may ask for.
const MAX_TIMEOUT_MS: u64 = 120_000;
/// Most sequence_ids one `skip:N` may leave out.
const MAX_SKIP: u64 = 16;

/// `session_id:` of an `e2e_send`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionChoice {
    /// The context's session_id.
    #[default]
    Current,
    /// A session_id never used with this Agent: restarts the context at
    /// sequence_id 1 (R-E2E.6).
    New,
}

/// `payload_security:` of an `e2e_send` (`Record.payload_security`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecurityChoice {
    #[default]
    Plaintext,
    /// Labels the Record TLS12 (the payload is still plain: the harness
    /// builds no TLS session; enough to see an Agent reject a Record whose
    /// payload_security differs from its context's, R-E2E.18/19).
    Tls12,
}

impl SecurityChoice {
    pub fn wire(self) -> i32 {
        match self {
            SecurityChoice::Plaintext => 0,
            SecurityChoice::Tls12 => 1,
        }
    }
}

/// `mac_signature:` of an `e2e_send`: non-payload field integrity
/// (R-E2E.29/30; TP-469 3.2, 3.3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignatureChoice {
    /// No mac_signature, no sender_cert.
    #[default]
    None,
    /// ECDSA P-256 over the non-payload fields, with sender_cert: a
    /// self-signed certificate naming the Controller's Endpoint ID.
    Valid,
    /// As `valid`, then one byte of the signature changed.
    Invalid,
    /// A valid signature by a certificate naming another Endpoint ID
    /// (R-SEC.0a).
    ForeignCertificate,
}

impl SignatureChoice {
    pub fn wire(self) -> crate::session::Integrity {
        use crate::session::Integrity;
        match self {
            SignatureChoice::None => Integrity::Unsigned,
            SignatureChoice::Valid => Integrity::Signed,
            SignatureChoice::Invalid => Integrity::BadSignature,
            SignatureChoice::ForeignCertificate => Integrity::ForeignCertificate,
        }
    }
}

/// What the Agent must do with the Record.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum E2eOutcome {
    /// Every request of the case's record-level steps that the Agent can
    /// process now is answered, in sequence_id order, in the context, and
    /// the Agent's last Record acknowledges every Record sent (expected_id);
    /// the step's `expect` applies to this step's answer.
    Answered,
    /// Nothing answers this Record's request within the window: the Agent
    /// holds it until the sequence_ids before it arrive (asking for them
    /// with retransmit_id is allowed).
    Held,
    /// Nothing answers this Record's request within the window (a
    /// duplicate is ignored).
    Ignored,
    /// The request is not carried out: no answer, an Error, or a
    /// DisconnectRecord ending the context all pass; a normal response fails.
    Rejected,
    /// The Agent resends its Record with this sequence_id (`last`: the
    /// highest it has sent in the context), unchanged.
    Retransmits(ScalarString),
    /// The Agent answers with a DisconnectRecord with this reason_code
    /// (7100-7106, R-MTP.5).
    Disconnect(u32),
}

impl E2eOutcome {
    pub fn name(&self) -> &'static str {
        match self {
            E2eOutcome::Answered => "answered",
            E2eOutcome::Held => "held",
            E2eOutcome::Ignored => "ignored",
            E2eOutcome::Rejected => "rejected",
            E2eOutcome::Retransmits(_) => "retransmits",
            E2eOutcome::Disconnect(_) => "disconnect",
        }
    }
}

/// The request an `e2e_send` carries: one of the request keys, as in a
/// request step.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct E2ePayload {
    #[serde(default)]
    pub get: Option<GetSpec>,
    #[serde(default)]
    pub set: Option<SetSpec>,
    #[serde(default)]
    pub add: Option<AddSpec>,
    #[serde(default)]
    pub delete: Option<DeleteSpec>,
    #[serde(default)]
    pub get_instances: Option<GetInstancesSpec>,
    #[serde(default)]
    pub get_supported_dm: Option<GetSupportedDmSpec>,
}

impl E2ePayload {
    /// The one request given.
    pub fn request(&self) -> Result<RequestSpec, String> {
        let mut all: Vec<RequestSpec> = Vec::new();
        all.extend(self.get.clone().map(RequestSpec::Get));
        all.extend(self.set.clone().map(RequestSpec::Set));
        all.extend(self.add.clone().map(RequestSpec::Add));
        all.extend(self.delete.clone().map(RequestSpec::Delete));
        all.extend(self.get_instances.clone().map(RequestSpec::GetInstances));
        all.extend(
            self.get_supported_dm
                .clone()
                .map(RequestSpec::GetSupportedDm),
        );
        if all.len() != 1 {
            return Err(format!(
                "e2e_send: payload holds {} requests; give exactly one of get, set, add, delete, get_instances, get_supported_dm",
                all.len()
            ));
        }
        Ok(all.remove(0))
    }
}

/// `e2e_send`: one SessionContextRecord built field by field, and what the
/// Agent must do with it (`outcome`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct E2eSendSpec {
    #[serde(default)]
    pub session_id: SessionChoice,
    /// `next` (default; a sequence_id a `skip` left out comes first),
    /// `repeat` (the previous e2e_send's Record again, unchanged: a
    /// duplicate), `skip:N` (leave N sequence_ids out), or a number.
    #[serde(default)]
    pub sequence_id: Option<ScalarString>,
    /// Default: the next sequence_id expected from the Agent (with a
    /// retransmit_id: that id, so the Record asked for stays unacknowledged).
    #[serde(default)]
    pub expected_id: Option<u64>,
    /// A sequence_id of the Agent's to resend, or `last`.
    #[serde(default)]
    pub retransmit_id: Option<ScalarString>,
    #[serde(default)]
    pub payload_security: SecurityChoice,
    /// `valid`, `invalid` or `foreign_certificate`: the Record carries a
    /// mac_signature and sender_cert (default `none`).
    #[serde(default)]
    pub mac_signature: SignatureChoice,
    /// The request the Record carries; without it the Record is empty.
    #[serde(default)]
    pub payload: Option<E2ePayload>,
    pub outcome: E2eOutcome,
    /// Wait this long before sending (e.g. past the Agent's
    /// SessionExpiration).
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// How long to listen: for the answers, the retransmission or the
    /// DisconnectRecord (default: the run's request timeout); for `held`,
    /// `ignored` and `rejected` (silence passes) the run's silence window.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// `last` or a sequence_id (1 or more).
fn last_or_id(v: &str, what: &str) -> Result<RetransmitChoice, String> {
    let v = v.trim();
    if v == "last" {
        return Ok(RetransmitChoice::Last);
    }
    match v.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(RetransmitChoice::Id(n)),
        _ => Err(format!(
            "e2e_send: {what} `{v}` is neither `last` nor a sequence_id (1 or more)"
        )),
    }
}

impl E2eSendSpec {
    pub fn sequence(&self) -> Result<SequenceChoice, String> {
        let Some(v) = self.sequence_id.as_ref().map(|v| v.0.trim()) else {
            return Ok(SequenceChoice::Next);
        };
        let bad = || {
            format!("e2e_send: sequence_id `{v}` is not next, repeat, skip:N (N 1-{MAX_SKIP}) or a number (1 or more)")
        };
        match v {
            "next" => Ok(SequenceChoice::Next),
            "repeat" => Ok(SequenceChoice::Repeat),
            _ => {
                if let Some(n) = v.strip_prefix("skip:") {
                    match n.trim().parse::<u64>() {
                        Ok(n) if (1..=MAX_SKIP).contains(&n) => Ok(SequenceChoice::Skip(n)),
                        _ => Err(bad()),
                    }
                } else {
                    match v.parse::<u64>() {
                        Ok(n) if n >= 1 => Ok(SequenceChoice::Exactly(n)),
                        _ => Err(bad()),
                    }
                }
            }
        }
    }

    pub fn retransmit(&self) -> Result<Option<RetransmitChoice>, String> {
        self.retransmit_id
            .as_ref()
            .map(|v| last_or_id(&v.0, "retransmit_id"))
            .transpose()
    }

    /// The Agent's Record a `retransmits` outcome waits for.
    pub fn resent(&self) -> Result<Option<RetransmitChoice>, String> {
        match &self.outcome {
            E2eOutcome::Retransmits(v) => last_or_id(&v.0, "outcome retransmits").map(Some),
            _ => Ok(None),
        }
    }

    /// The request carried, if any.
    pub fn request(&self) -> Result<Option<RequestSpec>, String> {
        self.payload.as_ref().map(E2ePayload::request).transpose()
    }

    /// Load-time checks: every field parses and the combination makes sense.
    pub fn validate(&self) -> Result<(), String> {
        let seq = self.sequence()?;
        let retransmit = self.retransmit()?;
        let request = self.request()?;
        self.resent()?;
        if seq == SequenceChoice::Repeat
            && (request.is_some()
                || retransmit.is_some()
                || self.expected_id.is_some()
                || self.session_id == SessionChoice::New
                || self.payload_security != SecurityChoice::Plaintext
                || self.mac_signature != SignatureChoice::None)
        {
            return Err("e2e_send: sequence_id `repeat` sends the previous Record again unchanged; it takes no payload, retransmit_id, expected_id, payload_security, mac_signature or new session_id".into());
        }
        match &self.outcome {
            E2eOutcome::Answered if request.is_none() => Err(
                "e2e_send: outcome `answered` needs a payload (the request to be answered)".into(),
            ),
            E2eOutcome::Held | E2eOutcome::Rejected if request.is_none() => Err(format!(
                "e2e_send: outcome `{}` is about the payload's request; give a payload",
                self.outcome.name()
            )),
            E2eOutcome::Ignored if request.is_none() && seq != SequenceChoice::Repeat => Err(
                "e2e_send: outcome `ignored` needs a payload, or sequence_id `repeat` (a duplicate of a Record with one)".into(),
            ),
            E2eOutcome::Retransmits(_) if retransmit.is_none() => Err(
                "e2e_send: outcome `retransmits` needs a retransmit_id (the Record to ask for)".into(),
            ),
            E2eOutcome::Disconnect(code) if !(7100..=7106).contains(code) => Err(format!(
                "e2e_send: disconnect reason_code {code} is not one of the Record error codes 7100-7106 (R-MTP.5)"
            )),
            _ => Ok(()),
        }?;
        if self.delay_ms.is_some_and(|t| t > MAX_TIMEOUT_MS) {
            return Err(format!(
                "e2e_send: delay_ms must be at most {MAX_TIMEOUT_MS}"
            ));
        }
        if self
            .timeout_ms
            .is_some_and(|t| t == 0 || t > MAX_TIMEOUT_MS)
        {
            return Err(format!("e2e_send: timeout_ms must be 1-{MAX_TIMEOUT_MS}"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> E2eSendSpec {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn fields_parse_and_bad_combinations_are_refused() {
        let s =
            spec("sequence_id: 'skip:2'\npayload: { get: { paths: [Device.] } }\noutcome: held\n");
        assert_eq!(s.sequence(), Ok(SequenceChoice::Skip(2)));
        assert!(s.validate().is_ok());
        let s = spec("retransmit_id: last\noutcome: { retransmits: last }\n");
        assert_eq!(s.retransmit(), Ok(Some(RetransmitChoice::Last)));
        assert!(s.validate().is_ok());
        let s = spec("sequence_id: repeat\noutcome: ignored\n");
        assert!(s.validate().is_ok());
        for (bad, needle) in [
            ("sequence_id: 'skip:0'\noutcome: ignored\n", "skip:N"),
            (
                "sequence_id: repeat\npayload: { get: { paths: [Device.] } }\noutcome: ignored\n",
                "unchanged",
            ),
            ("outcome: answered\n", "needs a payload"),
            ("outcome: { retransmits: 3 }\n", "needs a retransmit_id"),
            (
                "payload: { get: { paths: [Device.] } }\noutcome: { disconnect: 7000 }\n",
                "7100-7106",
            ),
            ("payload: {}\noutcome: answered\n", "exactly one"),
            (
                "retransmit_id: first\noutcome: { retransmits: last }\n",
                "neither",
            ),
        ] {
            let e = spec(bad).validate().unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }

    fn load(yaml: &str) -> Result<crate::suite::Suite, Vec<crate::suite::LoadError>> {
        crate::suite::load_str(
            std::path::Path::new("e2e.yaml"),
            yaml,
            &crate::datamodel::Profiles::builtin(),
        )
    }

    const HEAD: &str = "suite: s\ncases:\n  - id: a\n    title: t\n    steps:\n";

    #[test]
    fn the_loader_takes_e2e_send_and_points_at_bad_ones() {
        let good = format!(
            "{HEAD}      - e2e_send:\n          payload: {{ get: {{ paths: [Device.DeviceInfo.ModelName] }} }}\n          outcome: answered\n        expect:\n          values:\n            Device.DeviceInfo.ModelName: {{ exists: true }}\n"
        );
        let s = load(&good).expect("loads");
        let step = &s.cases[0].steps[0];
        assert_eq!(step.action.keyword(), "e2e_send");
        // The answer's type is checked first, as for a request step.
        assert_eq!(
            step.expect.as_ref().and_then(|e| e.msg_type),
            Some(crate::suite::ResponseType::GetResp)
        );
        // A bad field value: file:line:column of the step, the problem, help.
        let bad =
            format!("{HEAD}      - e2e_send: {{ sequence_id: 'skip:99', outcome: ignored }}\n");
        let e = load(&bad).unwrap_err().remove(0);
        assert_eq!(
            e.to_string().split(": ").next(),
            Some("e2e.yaml:6:9"),
            "{e}"
        );
        assert!(e.message.contains("skip:N"), "{e}");
        assert!(e.help.as_deref().unwrap_or_default().contains("e2e_send"));
        // `expect` only for an answered outcome.
        let bad = format!(
            "{HEAD}      - e2e_send: {{ sequence_id: repeat, outcome: ignored }}\n        expect: {{ type: get_resp }}\n"
        );
        let e = load(&bad).unwrap_err().remove(0);
        assert!(e.message.contains("`expect` does not apply"), "{e}");
        assert_eq!(e.location.line, 7);
        // An unknown outcome is a YAML error at the value.
        let bad = format!("{HEAD}      - e2e_send: {{ outcome: vanished }}\n");
        let e = load(&bad).unwrap_err().remove(0);
        assert_eq!(e.location.line, 6, "{e}");
    }
}

/// `certificate:` of an `e2e_tls`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TlsCertificateChoice {
    /// A certificate naming the Controller's Endpoint ID.
    #[default]
    Own,
    /// A certificate naming another Endpoint ID than the Records' from_id
    /// (TP-469 3.7; the handshake Records are still signed by the
    /// Controller's own certificate).
    NamesAnother,
    /// A certificate naming the Controller whose validity period ended in
    /// 2020 (TP-469 2.8).
    Expired,
}

/// `tls_version:` of an `e2e_tls`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TlsVersionChoice {
    /// TLS 1.3 preferred, 1.2 accepted (the spec's "TLS 1.2 or later").
    #[default]
    Any,
    Tls12,
    Tls13,
}

/// What the Agent must do with the TLS handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TlsOutcome {
    /// The handshake completes; the Agent's certificate names its Endpoint
    /// ID and it asked for the Controller's (TP-469 3.7 metrics 1, 2). The
    /// rest of the case runs in this TLS context.
    Established,
    /// The Agent refuses: an alert, a DisconnectRecord or silence, and a
    /// Get sent through the harness's side of the session is not answered
    /// (TP-469 3.7 metric 3).
    Refused,
}

/// `e2e_tls`: a new session context with payload_security TLS12, the
/// harness as the TLS client (R-E2E.41; TP-469 3.4, 3.7).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct E2eTlsSpec {
    #[serde(default)]
    pub certificate: TlsCertificateChoice,
    #[serde(default)]
    pub tls_version: TlsVersionChoice,
    pub outcome: TlsOutcome,
    /// How long the handshake (and a `refused` Get) may take; default the
    /// request timeout.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// `e2e_tls_renegotiate`: a ClientHello encrypted in the context's
/// established TLS 1.2 session, sent in place of a Msg (TP-469 3.6). The
/// step passes once it is sent; what the Agent answers (nothing, or the
/// alert no_renegotiation) is judged by the next request step's E2E check.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct E2eRenegotiateSpec {}

pub const TLS_HELP: &str = "see test-cases/README.md, \"E2E TLS step: e2e_tls\"";

impl E2eTlsSpec {
    pub fn validate(&self) -> Result<(), String> {
        match self.timeout_ms {
            Some(0) => Err("e2e_tls: timeout_ms must be above 0".into()),
            Some(ms) if ms > MAX_TIMEOUT_MS => Err(format!(
                "e2e_tls: timeout_ms {ms} is above the most a step may wait ({MAX_TIMEOUT_MS})"
            )),
            _ => Ok(()),
        }
    }

    pub fn versions(&self) -> crate::usp::e2e::tls::Versions {
        use crate::usp::e2e::tls::Versions;
        match self.tls_version {
            TlsVersionChoice::Any => Versions::Any,
            TlsVersionChoice::Tls12 => Versions::Tls12Only,
            TlsVersionChoice::Tls13 => Versions::Tls13Only,
        }
    }
}
