//! `expect_mdns_announcement` (TP-469 8.5): after a reboot the Agent
//! multicasts, unasked, an mDNS response with the SRV and TXT records of its
//! service instance (RFC 6762 8.3 announcing). What was multicast on
//! loopback since the case began is in the run's mDNS logs
//! (`discovery::mdns_heard`); a response counts as unasked when no PTR,
//! SRV or TXT question about the service or the instance was heard in the
//! second before it (ANY questions are name probes, which precede an
//! announcement by design). Goodbyes (TTL 0) are no announcement.

use std::time::{Duration, Instant};

use super::Runner;
use crate::discovery::dhcp::dns::{qtype, RData, ResourceRecord};
use crate::discovery::mdns_heard::{Heard, HeardResponse};
use crate::results::{CheckResult, StepResult, Verdict};
use crate::suite::discovery_steps::{ExpectMdnsAnnouncementSpec, DEFAULT_TIMEOUT_MS};
use crate::trace::MsgText;

/// Why the step is skipped on a run that does not listen to mDNS.
pub(super) const NO_ANNOUNCEMENT_LISTENER: &str = "not applicable: the harness hears the Agent's mDNS announcements only on a run with --discovery (loopback multicast, e.g. in a network namespace)";

/// How long before a response a question makes it an answer.
const ASKED_WITHIN: Duration = Duration::from_secs(1);

/// One heard response that announces an instance of the service.
struct Announcement<'a> {
    response: &'a HeardResponse,
    /// Instance names (owner names of SRV records under the service).
    instances: Vec<&'a str>,
    asked: bool,
}

fn lower(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The live (TTL above 0) records of `r` owned by an instance of `service`
/// (names compare case-insensitively).
fn live_under<'a>(r: &'a HeardResponse, service: &str, rtype: u16) -> Vec<&'a ResourceRecord> {
    let suffix = format!(".{service}");
    r.records
        .iter()
        .filter(|rr| {
            rr.rtype == rtype && rr.ttl > 0 && rr.name.to_ascii_lowercase().ends_with(&suffix)
        })
        .collect()
}

/// The instance label of an owner name under `service`, `\DDD` escapes
/// undone, quoted: how the failure names what was announced.
fn instance_label(owner: &str, service: &str) -> String {
    let label = &owner[..owner.len().saturating_sub(service.len() + 1)];
    let (mut out, mut rest) = (Vec::new(), label.as_bytes());
    while let Some((&c, tail)) = rest.split_first() {
        let code = tail
            .get(..3)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| d.parse::<u8>().ok());
        match (c, code) {
            (b'\\', Some(code)) => {
                out.push(code);
                rest = &tail[3..];
            }
            _ => {
                out.push(c);
                rest = tail;
            }
        }
    }
    format!("\"{}\"", String::from_utf8_lossy(&out))
}

fn named(instances: &[&str], instance: &str) -> bool {
    instances.iter().any(|i| i.eq_ignore_ascii_case(instance))
}

fn announcements<'a>(
    responses: &'a [HeardResponse],
    questions: &[Heard],
    service: &str,
) -> Vec<Announcement<'a>> {
    responses
        .iter()
        .filter_map(|response| {
            let instances: Vec<&str> = live_under(response, service, qtype::SRV)
                .iter()
                .map(|rr| rr.name.as_str())
                .collect();
            if instances.is_empty() {
                return None;
            }
            let asked = questions.iter().any(|q| {
                q.at <= response.at
                    && response.at.duration_since(q.at) <= ASKED_WITHIN
                    && matches!(q.question.qtype, qtype::PTR | qtype::SRV | qtype::TXT)
                    && (q.question.name == service || named(&instances, &q.question.name))
            });
            Some(Announcement {
                response,
                instances,
                asked,
            })
        })
        .collect()
}

fn describe(a: &Announcement, service: &str, since: Instant) -> String {
    let srv: Vec<String> = live_under(a.response, service, qtype::SRV)
        .iter()
        .map(|rr| match &rr.data {
            RData::Srv { port, target } => format!("SRV {} -> {target}:{port}", rr.name),
            _ => format!("SRV {}", rr.name),
        })
        .collect();
    let txt: Vec<String> = live_under(a.response, service, qtype::TXT)
        .iter()
        .map(|rr| match &rr.data {
            RData::Txt(strings) => format!(
                "TXT {} [{}]",
                rr.name,
                strings
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => format!("TXT {}", rr.name),
        })
        .collect();
    format!(
        "+{} ms from {}{}: {}",
        a.response.at.saturating_duration_since(since).as_millis(),
        a.response.from,
        if a.asked {
            " (answering a question asked just before)"
        } else {
            " (unasked)"
        },
        srv.into_iter().chain(txt).collect::<Vec<_>>().join("; ")
    )
}

/// The step's checks on what was heard: an unasked announcement, its
/// instance named by the Endpoint ID, and its TXT record with `path`.
fn announcement_checks(
    found: &[Announcement],
    service: &str,
    agent: &str,
    waited: Duration,
    since: Instant,
) -> Vec<CheckResult> {
    let instance = format!("{agent}.{service}");
    let instance = instance.as_str();
    let unasked: Vec<&Announcement> = found.iter().filter(|a| !a.asked).collect();
    let heard = if found.is_empty() {
        "no mDNS response with SRV records of the service since the reboot step (or, without one, the case) began".to_string()
    } else {
        found
            .iter()
            .map(|a| describe(a, service, since))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let mut checks = vec![CheckResult {
        description: format!("the Agent announces {service}. unasked (TP-469 8.5)"),
        passed: !unasked.is_empty(),
        expected: format!(
            "an unsolicited multicast mDNS response with SRV and TXT records of a {service}. instance since the reboot step (or, without one, the case) began (waited up to {} ms)",
            waited.as_millis()
        ),
        actual: heard.clone(),
        rule: Some("TP-469 8.5; RFC 6762 8.3 (announcing)".into()),
    }];
    let Some(mine) = unasked
        .iter()
        .find(|a| named(&a.instances, instance))
        .copied()
    else {
        if !unasked.is_empty() {
            let mut labels: Vec<String> = unasked
                .iter()
                .flat_map(|a| a.instances.iter())
                .map(|i| instance_label(i, service))
                .collect();
            labels.dedup();
            checks.push(CheckResult {
                description: "the announced instance is named by the Agent's Endpoint ID".into(),
                passed: false,
                expected: format!(
                    "an announcement named {agent} (the instance name is the Endpoint ID): SRV and TXT records owned by {instance}."
                ),
                actual: format!(
                    "only {} announced; none is named by the Agent's Endpoint ID",
                    labels.join(", ")
                ),
                rule: Some("R-DIS.8".into()),
            });
        }
        return checks;
    };
    checks.push(CheckResult {
        description: "the announced instance is named by the Agent's Endpoint ID".into(),
        passed: true,
        expected: format!("SRV and TXT records owned by {instance}."),
        actual: describe(mine, service, since),
        rule: Some("R-DIS.8".into()),
    });
    let txt: Vec<&ResourceRecord> = live_under(mine.response, service, qtype::TXT)
        .into_iter()
        .filter(|rr| rr.name.eq_ignore_ascii_case(instance))
        .collect();
    let has_path = txt.iter().any(|rr| match &rr.data {
        RData::Txt(strings) => strings.iter().any(|s| s.starts_with(b"path=")),
        _ => false,
    });
    checks.push(CheckResult {
        description: "the announcement carries the instance's TXT record with `path`".into(),
        passed: has_path,
        expected: format!("a TXT record of {instance}. with a path= key, in the same response"),
        actual: if txt.is_empty() {
            "no TXT record of the instance in the announcement".into()
        } else {
            describe(mine, service, since)
        },
        rule: Some("R-DIS.9; TP-469 8.5 (SRV and TXT records)".into()),
    });
    checks
}

impl Runner<'_> {
    pub(super) async fn expect_mdns_announcement(
        &mut self,
        spec: &ExpectMdnsAnnouncementSpec,
        result: &mut StepResult,
    ) {
        let Some(logs) = self.context.mdns_heard.clone() else {
            result.verdict = Verdict::Skipped;
            result.error = Some(NO_ANNOUNCEMENT_LISTENER.into());
            return;
        };
        let service = lower(spec.service_type());
        let agent = self.session.agent_id().unwrap_or_default().to_string();
        let instance = format!("{agent}.{service}");
        let waited = Duration::from_millis(spec.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS));
        let started = Instant::now();
        let (from_questions, from_responses) = self.mdns_heard_case_start;
        let questions = logs.questions.clone();
        let responses = logs
            .responses
            .wait_since(from_responses, started + waited, |heard| {
                let asked = questions.since(from_questions);
                announcements(heard, &asked, &service)
                    .iter()
                    .any(|a| !a.asked && named(&a.instances, &instance))
            })
            .await;
        let asked = logs.questions.since(from_questions);
        let found = announcements(&responses, &asked, &service);
        let since = responses.first().map_or(started, |r| r.at);
        result.sent = Some(MsgText::from(format!(
            "listening on loopback for an unasked mDNS announcement of {instance}."
        )));
        result.received = Some(MsgText::from(format!(
            "{} mDNS responses since the reboot step (or, without one, the case) began; {} with SRV records of {service}.",
            responses.len(),
            found.len()
        )));
        result
            .checks
            .extend(announcement_checks(&found, &service, &agent, waited, since));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::dhcp::dns::Question;

    const SERVICE: &str = "_usp-agt-ws._tcp.local";
    const AGENT: &str = "proto::Agent";
    const INSTANCE: &str = "proto::Agent._usp-agt-ws._tcp.local";

    fn response(at: Instant, owner: &str, ttl: u32, txt: &[&str]) -> HeardResponse {
        HeardResponse {
            at,
            from: "127.0.0.1:5353".parse().unwrap(),
            records: vec![
                ResourceRecord {
                    name: owner.into(),
                    rtype: qtype::SRV,
                    ttl,
                    data: RData::Srv {
                        port: 8080,
                        target: "agent.local".into(),
                    },
                },
                ResourceRecord {
                    name: owner.into(),
                    rtype: qtype::TXT,
                    ttl,
                    data: RData::Txt(txt.iter().map(|s| s.as_bytes().to_vec()).collect()),
                },
            ],
        }
    }

    fn question(at: Instant, name: &str, qtype: u16) -> Heard {
        Heard {
            at,
            from: "127.0.0.1:5353".parse().unwrap(),
            question: Question {
                name: name.into(),
                qtype,
                qclass: 1,
            },
        }
    }

    fn verdicts(responses: &[HeardResponse], questions: &[Heard]) -> Vec<bool> {
        let t0 = responses.first().map_or(Instant::now(), |r| r.at);
        announcement_checks(
            &announcements(responses, questions, SERVICE),
            SERVICE,
            AGENT,
            Duration::from_secs(3),
            t0,
        )
        .iter()
        .map(|c| c.passed)
        .collect()
    }

    #[test]
    fn an_unasked_announcement_named_by_the_endpoint_id_passes() {
        let t = Instant::now();
        let probe = question(t, INSTANCE, 255);
        let r = response(
            t + Duration::from_millis(300),
            INSTANCE,
            120,
            &["path=/", "name=A"],
        );
        assert_eq!(verdicts(&[r], &[probe]), [true, true, true]);
    }

    #[test]
    fn an_answer_a_goodbye_a_wrong_name_or_no_path_fail() {
        let t = Instant::now();
        let browse = question(t, SERVICE, qtype::PTR);
        let answer = response(t + Duration::from_millis(50), INSTANCE, 120, &["path=/"]);
        assert_eq!(verdicts(&[answer], &[browse]), [false]);
        let goodbye = response(t, INSTANCE, 0, &["path=/"]);
        assert_eq!(verdicts(&[goodbye], &[]), [false]);
        let other = response(t, "My\\032Agent._usp-agt-ws._tcp.local", 120, &["path=/"]);
        assert_eq!(verdicts(&[other.clone()], &[]), [true, false]);
        let checks = announcement_checks(
            &announcements(&[other], &[], SERVICE),
            SERVICE,
            AGENT,
            Duration::from_secs(3),
            t,
        );
        assert!(
            checks[1].actual.contains("only \"My Agent\" announced"),
            "{checks:?}"
        );
        let no_path = response(t, INSTANCE, 120, &["name=A"]);
        assert_eq!(verdicts(&[no_path], &[]), [true, true, false]);
    }
}
