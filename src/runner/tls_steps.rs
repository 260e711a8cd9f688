//! Running `expect_mtp_tls`: whether the Agent's MTP channel is TLS of at
//! least a version (TP-469 4.1, 7.9, 11.3, 6.11). Over WebSocket the
//! connection the case runs on says what its handshake negotiated; on the
//! broker MTPs the interposer in front of the broker says it for each of
//! the Agent's connections. A run that gives no TLS to the Agent, or no way
//! to see it, skips the step with the reason.

use super::interposer_steps::skip;
use super::Runner;
use crate::interpose::relay::AgentChannel;
use crate::mtp::tls::channel::{ChannelSecurity, TlsVersion};
use crate::results::{CheckResult, StepResult};
use crate::suite::tls_steps::{MtpTlsSpec, TlsScope};
use crate::trace::MsgText;

/// Every reason to skip says this, so that a reader (and a test) can tell
/// a case skipped for want of TLS from one skipped for another reason.
pub const NEEDS_TLS: &str = "not applicable: this step needs TLS to the Agent";

const NO_TLS_RUN: &str = "not applicable: this step needs TLS to the Agent, which this run reaches without TLS (run the built-in Agent with --tls, or give the target a tls: section)";

const NO_TLS_MTP: &str = "not applicable: this step needs TLS to the Agent, which this MTP does not have here (UDS is local to the device; CoAP's DTLS is not implemented)";

const NO_INTERPOSER: &str = "not applicable: this step needs TLS to the Agent as the interposer sees it: on a broker MTP the Agent's TLS is its own connection to the broker (run the built-in Agent with --interpose --tls)";

/// One connection of the Agent, as the harness saw its channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Observed {
    /// "the Agent's connection 3 to the MQTT broker", for verdicts.
    pub what: String,
    pub security: ChannelSecurity,
}

impl Runner<'_> {
    pub(super) async fn expect_mtp_tls(&mut self, spec: &MtpTlsSpec, result: &mut StepResult) {
        let Some(min) = spec.min() else {
            result.error = Some(format!(
                "expect_mtp_tls: bad min_version {:?}",
                spec.min_version
            ));
            return;
        };
        if let Some(wanted) = spec.mtp {
            if let Err(e) = self.session.ensure_connected().await {
                self.note_unreachable(&e);
                result.error = Some(e.to_string());
                return;
            }
            let used = self.session.mtp_name().unwrap_or("an unknown MTP");
            if used != wanted.name() {
                let why = format!("{NEEDS_TLS} over {}; this run uses {used}", wanted.name());
                return skip(result, &why);
            }
        }
        let interposed = match (
            &self.context.mqtt_interposer,
            &self.context.stomp_interposer,
        ) {
            (Some(m), _) => Some((
                "MQTT",
                m.listens_with_tls(),
                channels(m, spec.connections, self.mqtt_log.case_start()),
            )),
            (None, Some(s)) => Some((
                "STOMP",
                s.listens_with_tls(),
                channels(s, spec.connections, self.stomp_log.case_start()),
            )),
            (None, None) => None,
        };
        let observed = match interposed {
            Some((_, false, _)) => return skip(result, NO_TLS_RUN),
            Some((mtp, true, seen)) => seen
                .into_iter()
                .map(|c| Observed {
                    what: format!(
                        "the Agent's connection {} to the {mtp} broker (to the interposer, from {})",
                        c.connection, c.peer
                    ),
                    security: c.security,
                })
                .collect(),
            None => {
                if let Err(e) = self.session.ensure_connected().await {
                    self.note_unreachable(&e);
                    result.error = Some(e.to_string());
                    return;
                }
                let Some(conn) = self.session.connection_mut() else {
                    result.error = Some("no connection to the Agent".into());
                    return;
                };
                let peer = conn.peer().clone();
                match (peer.mtp, peer.channel) {
                    (crate::mtp::uds::MTP | crate::mtp::coap::MTP, _) => {
                        return skip(result, NO_TLS_MTP)
                    }
                    (_, None) => return skip(result, NO_INTERPOSER),
                    (_, Some(_)) if !self.context.mtp_tls => return skip(result, NO_TLS_RUN),
                    (mtp, Some(security)) => vec![Observed {
                        what: format!("the Agent's {mtp} connection ({})", peer.address),
                        security,
                    }],
                }
            }
        };
        result.received = Some(MsgText::from(
            observed
                .iter()
                .map(|o| format!("{}: {}", o.what, o.security))
                .collect::<Vec<_>>()
                .join("; "),
        ));
        result.checks.extend(judge(
            &observed,
            min,
            spec.connections,
            self.case_rule.clone(),
        ));
    }
}

/// The interposer's channels the scope asks for.
fn channels<E, S, K>(
    relay: &crate::interpose::relay::Relay<E, S, K>,
    scope: TlsScope,
    case_start: usize,
) -> Vec<AgentChannel>
where
    E: crate::interpose::relay::Logged,
    S: Clone + Default,
{
    match scope {
        TlsScope::Current => relay.current_channels(),
        TlsScope::SinceCaseStart => relay.channels_since(case_start),
    }
}

/// One check per connection: TLS of at least `min`; none at all fails.
pub(super) fn judge(
    observed: &[Observed],
    min: TlsVersion,
    scope: TlsScope,
    rule: Option<String>,
) -> Vec<CheckResult> {
    let expected = format!("TLS {min} or later (R-MTP.0)");
    if observed.is_empty() {
        let when = match scope {
            TlsScope::Current => "now",
            TlsScope::SinceCaseStart => "since the case began",
        };
        return vec![CheckResult {
            description: "the Agent's MTP channel is TLS".into(),
            passed: false,
            expected,
            actual: format!("no connection of the Agent {when} to judge"),
            rule,
        }];
    }
    observed
        .iter()
        .map(|o| {
            let passed = matches!(&o.security, ChannelSecurity::Tls(s) if s.at_least(min));
            CheckResult {
                description: format!("{} is TLS", o.what),
                passed,
                expected: expected.clone(),
                actual: match &o.security {
                    ChannelSecurity::Plaintext { .. } => {
                        format!("plaintext connection: {} was {}", o.what, o.security)
                    }
                    other => other.to_string(),
                },
                rule: rule.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mtp::tls::channel::TlsSession;

    fn tls(wire_version: (u8, u8)) -> Observed {
        Observed {
            what: "the Agent's connection 1".into(),
            security: ChannelSecurity::Tls(TlsSession {
                version: format!("{wire_version:?}"),
                wire_version,
                cipher_suite: "TLS13_AES_128_GCM_SHA256".into(),
                peer_certificate: None,
            }),
        }
    }

    #[test]
    fn tls_at_or_above_the_minimum_passes() {
        let checks = judge(
            &[tls((3, 3)), tls((3, 4))],
            TlsVersion::V1_2,
            TlsScope::Current,
            None,
        );
        assert!(checks.iter().all(|c| c.passed), "{checks:?}");
        let checks = judge(&[tls((3, 3))], TlsVersion::V1_3, TlsScope::Current, None);
        assert!(!checks[0].passed);
    }

    #[test]
    fn a_plaintext_connection_fails_and_is_named() {
        let plain = Observed {
            what: "the Agent's connection 3 to the MQTT broker".into(),
            security: ChannelSecurity::Plaintext {
                first_byte: Some(0x10),
            },
        };
        let checks = judge(
            &[tls((3, 4)), plain],
            TlsVersion::V1_2,
            TlsScope::SinceCaseStart,
            None,
        );
        assert!(checks[0].passed);
        assert!(!checks[1].passed);
        assert!(
            checks[1].actual.contains("connection 3"),
            "{}",
            checks[1].actual
        );
        assert!(
            checks[1].actual.contains("plaintext"),
            "{}",
            checks[1].actual
        );
    }

    #[test]
    fn a_failed_handshake_or_no_connection_fails() {
        let mut failed = tls((3, 4));
        failed.security =
            ChannelSecurity::TlsFailed("TLS handshake failed: bad certificate".into());
        assert!(!judge(&[failed], TlsVersion::V1_2, TlsScope::Current, None)[0].passed);
        let none = judge(&[], TlsVersion::V1_2, TlsScope::SinceCaseStart, None);
        assert!(!none[0].passed);
        assert!(none[0].actual.contains("since the case began"));
    }
}
