//! The `endpoint_ids` step: every Endpoint ID the Agent presented (MTP
//! handshake `eid`, TLS certificate subjectAltName, Connect Record and other
//! Records' from_id) is checked against the Endpoint ID syntax
//! (R-ARC.2a/5/6). A malformed one is a failed check naming the rule.

use crate::results::CheckResult;
use crate::session::SeenEndpointId;
use crate::usp::endpoint_id;

/// One check per distinct Endpoint ID seen; one failed check when none was.
pub fn endpoint_id_checks(seen: &[SeenEndpointId]) -> Vec<CheckResult> {
    if seen.is_empty() {
        return vec![CheckResult {
            description: "the Agent presented an Endpoint ID".into(),
            passed: false,
            expected: "an Endpoint ID in the MTP handshake, a certificate or a Record".into(),
            actual: "none seen on this connection".into(),
            rule: Some("R-ARC.2a".into()),
        }];
    }
    seen.iter()
        .map(|s| {
            let verdict = endpoint_id::validate(&s.id);
            CheckResult {
                description: format!("the Endpoint ID in {} is well-formed", s.source),
                passed: verdict.is_ok(),
                expected: "authority-scheme \":\" [authority-id] \":\" instance-id, instance-id of ALPHA / DIGIT / - . _ / %HH, at most 50 characters".into(),
                actual: match &verdict {
                    Ok(_) => format!("'{}'", s.id),
                    Err(e) => e.to_string(),
                },
                rule: Some(match &verdict {
                    Ok(_) => "R-ARC.2a, R-ARC.5, R-ARC.6".into(),
                    Err(e) => e.rule().into(),
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(id: &str) -> SeenEndpointId {
        SeenEndpointId {
            source: "a Record's from_id",
            id: id.into(),
        }
    }

    #[test]
    fn well_formed_ids_pass_and_a_malformed_one_names_its_rule() {
        let checks = endpoint_id_checks(&[
            seen("proto::agent"),
            seen(&format!("proto::{}", "a".repeat(51))),
        ]);
        assert_eq!(checks.len(), 2);
        assert!(checks[0].passed);
        assert!(!checks[1].passed);
        assert_eq!(checks[1].rule.as_deref(), Some("R-ARC.6"));
        assert!(checks[1].actual.contains("51 characters"));
    }

    #[test]
    fn nothing_seen_fails() {
        let checks = endpoint_id_checks(&[]);
        assert!(!checks[0].passed);
    }
}
