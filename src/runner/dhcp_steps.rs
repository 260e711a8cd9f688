//! The DHCP discovery steps (TP-469 8.1-8.3): `dhcp_offer` sets what the
//! harness's DHCP server (`run --dhcp IFACE`) offers and starts a fresh
//! log; `expect_dhcp` waits for the Agent's lease and holds every
//! DHCPDISCOVER and DHCPREQUEST it sent to R-DIS.1; `expect_dns` waits for
//! the Agent to ask the harness's DNS responder for the offered name. The
//! judging is pure (`request_checks`, `dns_checks`).

use std::time::{Duration, Instant};

use super::Runner;
use crate::discovery::dhcp::names::Asked;
use crate::discovery::dhcp::server::{Dhcp, Heard, Offer};
use crate::discovery::dhcp::{
    code, decode_vendor_class, v6, DhcpHandle, MessageType, Packet, UspOptions,
};
use crate::results::{CheckResult, StepResult, Verdict};
use crate::suite::dhcp_steps::{DhcpOfferSpec, ExpectDhcpSpec, ExpectDnsSpec, DEFAULT_TIMEOUT_MS};
use crate::trace::MsgText;

/// Why DHCP steps are skipped on a run without `--dhcp`.
macro_rules! not_asked {
    () => {
        "this run serves no DHCP: pass --dhcp IFACE (with a --target whose websocket role is server) when the Agent under test asks for its address on that interface (tests/dhcp.rs runs the reference Agent so, in network namespaces joined by a veth pair)"
    };
}
const NOT_ASKED: &str = not_asked!();
/// The same, for the whole case, before its setup.
pub(super) const NO_DHCP: &str = concat!("not applicable: ", not_asked!());

/// Whether DHCP steps can run.
#[derive(Debug, Clone)]
pub enum DhcpRun {
    /// No: the reason the steps are skipped with.
    Off(String),
    /// Yes: the server, and the defaults of sub-options 25 and 29 (25 at
    /// the interface's IPv6 address for DHCPv6, where the harness's server
    /// takes IPv6 connections).
    On {
        server: DhcpHandle,
        controller_url: String,
        controller_url_v6: Option<String>,
        controller_id: String,
    },
}

impl Default for DhcpRun {
    fn default() -> Self {
        DhcpRun::Off(NOT_ASKED.into())
    }
}

/// The offer a `dhcp_offer` step describes, defaults filled in; DHCPv6
/// gets its own when the default URL has an IPv6 variant and the step
/// names no URL of its own.
pub fn offer_of(
    spec: &DhcpOfferSpec,
    controller_url: &str,
    controller_url_v6: Option<&str>,
    controller_id: &str,
) -> Offer {
    let usp = |default_url: &str| UspOptions {
        controller_url: Some(match (&spec.controller_url, &spec.controller_host) {
            (Some(url), _) => url.clone(),
            (None, Some(host)) => crate::discovery::dhcp::with_host(default_url, host)
                .unwrap_or_else(|| default_url.to_string()),
            (None, None) => default_url.to_string(),
        }),
        provisioning_code: spec.provisioning_code.clone(),
        retry_min_wait: spec.retry_min_wait.map(|v| v.to_string()),
        retry_multiplier: spec.retry_multiplier.map(|v| v.to_string()),
        controller_endpoint_id: Some(
            spec.controller_endpoint_id
                .clone()
                .unwrap_or_else(|| controller_id.to_string()),
        ),
    };
    let v4 = usp(controller_url);
    let v6 = controller_url_v6
        .filter(|_| spec.controller_url.is_none())
        .map(usp)
        .filter(|v6| *v6 != v4);
    Offer {
        usp: v4,
        usp_v6: v6,
        nul_terminated: spec.nul_terminated,
    }
}

/// One heard message and the answer, in a line: `+12 ms DHCPDISCOVER from
/// 02:..:07, option 124: enterprise 3561, items ["usp"] -> DHCPOFFER
/// 10.0.0.2 with option 125 (25=...)`, or `+3 ms DHCPv6 SOLICIT from
/// fe80::..%2 (DUID 0003...), option 16: ... -> ADVERTISE fd00::100 with
/// option 17 (25=...)`.
pub fn describe(h: &Heard, since: Instant) -> String {
    let at = format!("+{} ms", h.at.saturating_duration_since(since).as_millis());
    let asked = match &h.packet {
        Err(e) => return format!("{at} from {}: {e}", h.from),
        Ok(Dhcp::V4(p)) => describe_v4(p),
        Ok(Dhcp::V6(m)) => format!(
            "DHCPv6 {} from {} (DUID {}), {}",
            m.kind_name(),
            h.from.ip(),
            m.client_duid(),
            v6::describe_vendor_classes(m)
        ),
    };
    let reply = match (&h.answer, &h.unanswered) {
        (Some(Dhcp::V4(a)), _) => {
            let kind = a.message_type().map_or("?", MessageType::name);
            match a.option(code::VENDOR_SPECIFIC) {
                Some(v) => format!(
                    "{kind} {} with option 125 ({})",
                    a.yiaddr,
                    UspOptions::decode(&v).map_or_else(|e| e.to_string(), |u| u.describe())
                ),
                None => format!("{kind} {} without option 125", a.yiaddr),
            }
        }
        (Some(Dhcp::V6(a)), _) => {
            let address = match a.ia_na() {
                Some(Ok(ia)) => ia
                    .addresses
                    .iter()
                    .map(|(a, _, _)| format!(" {a}"))
                    .collect::<String>(),
                Some(Err(e)) => format!(" (malformed IA_NA: {e})"),
                None => String::new(),
            };
            match a.usp_options() {
                Some(u) => format!(
                    "{}{address} with option 17 ({})",
                    a.kind_name(),
                    u.map_or_else(|e| e.to_string(), |u| u.describe())
                ),
                None => format!("{}{address} without option 17", a.kind_name()),
            }
        }
        (None, Some(why)) => format!("no answer: {why}"),
        (None, None) => "no answer".into(),
    };
    format!("{at} {asked} -> {reply}")
}

fn describe_v4(p: &Packet) -> String {
    let kind = p
        .message_type()
        .map_or("BOOTP (no option 53)", MessageType::name);
    let class = match p.option(code::VENDOR_CLASS) {
        None => "no option 124".to_string(),
        Some(v) => match decode_vendor_class(&v) {
            Ok(classes) => format!(
                "option 124: {}",
                classes
                    .iter()
                    .map(|c| c.describe())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Err(e) => format!("option 124 malformed: {e}"),
        },
    };
    format!("{kind} from {}, {class}", p.client_hw())
}

/// Whether the client's lease was completed: the wait can end.
pub fn acked(heard: &[Heard]) -> bool {
    heard.iter().any(Heard::completes)
}

/// The checks of `expect_dhcp` on what was heard: the Agent asked for a
/// lease (TP-469 8.1), and each DHCPDISCOVER and DHCPREQUEST named USP in
/// option 124 (R-DIS.1).
pub fn request_checks(heard: &[Heard], waited: Duration, since: Instant) -> Vec<CheckResult> {
    let asks: Vec<&Heard> = heard.iter().filter(|h| h.asks_for_lease()).collect();
    let mut checks = vec![CheckResult {
        description: "the Agent asked for a lease (DHCPDISCOVER or DHCPREQUEST; over DHCPv6 SOLICIT, REQUEST or INFORMATION-REQUEST)".into(),
        passed: !asks.is_empty(),
        expected: format!(
            "a DHCPDISCOVER or DHCPREQUEST (DHCPv6: SOLICIT, REQUEST or INFORMATION-REQUEST) after the dhcp_offer step (waited up to {} ms)",
            waited.as_millis()
        ),
        actual: if asks.is_empty() {
            if heard.is_empty() {
                "no DHCP message on the interface".into()
            } else {
                format!(
                    "only: {}",
                    heard
                        .iter()
                        .map(|h| describe(h, since))
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            }
        } else {
            format!("{} of them", asks.len())
        },
        rule: Some("TP-469 8.1".into()),
    }];
    if asks.is_empty() {
        return checks;
    }
    let wrong: Vec<String> = asks
        .iter()
        .filter(|h| !h.names_usp())
        .map(|h| describe(h, since))
        .collect();
    checks.push(CheckResult {
        description: "every DHCPDISCOVER and DHCPREQUEST names USP in option 124 (DHCPv6: every SOLICIT, REQUEST and INFORMATION-REQUEST in option 16)".into(),
        passed: wrong.is_empty(),
        expected:
            "option 124 (V-I Vendor Class), over DHCPv6 option 16 (Vendor Class), with enterprise 3561 and vendor-class-data \"usp\""
                .into(),
        actual: if wrong.is_empty() {
            asks.iter()
                .map(|h| describe(h, since))
                .collect::<Vec<_>>()
                .join("; ")
        } else {
            wrong.join("; ")
        },
        rule: Some("R-DIS.1".into()),
    });
    checks
}

/// Whether `name`, or a name under it, was asked for, whatever the type:
/// an A or AAAA question for the Controller's name and an SRV, TXT or PTR
/// question under it all use the DNS as TP-469 8.3 asks.
fn asked_for(asked: &[Asked], name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let under = format!(".{name}");
    asked.iter().any(|a| {
        a.question
            .as_ref()
            .is_ok_and(|q| q.name == name || q.name.ends_with(&under))
    })
}

/// The check of `expect_dns`: the Agent asked for `name` (TP-469 8.3).
pub fn dns_checks(
    asked: &[Asked],
    name: &str,
    waited: Duration,
    since: Instant,
) -> Vec<CheckResult> {
    let lines: Vec<String> = asked.iter().map(|a| a.describe(since)).collect();
    vec![CheckResult {
        description: format!("the Agent asked the DNS for {name}"),
        passed: asked_for(asked, name),
        expected: format!(
            "a DNS question for {name}, the host of the Controller URL the DHCP server offered, within {} ms",
            waited.as_millis()
        ),
        actual: if lines.is_empty() {
            "no DNS question reached the harness's responder (named in option 6)".into()
        } else {
            lines.join("; ")
        },
        rule: Some("TP-469 8.3".into()),
    }]
}

impl Runner<'_> {
    pub(super) fn dhcp_offer(&mut self, spec: &DhcpOfferSpec, result: &mut StepResult) {
        let DhcpRun::On {
            server,
            controller_url,
            controller_url_v6,
            controller_id,
        } = &self.context.dhcp
        else {
            return skip(result, &self.context.dhcp);
        };
        let offer = offer_of(
            spec,
            controller_url,
            controller_url_v6.as_deref(),
            controller_id,
        );
        let nul = if offer.nul_terminated {
            ", each value NUL-terminated"
        } else {
            ""
        };
        server.begin(offer.clone());
        let dns = match (server.offered_name(), server.address6()) {
            (Some(name), None) => format!(
                "; its DNS responder (option 6) answers {name} with {}",
                server.address()
            ),
            (Some(name), Some(v6)) => format!(
                "; its DNS responder (option 6, DHCPv6 23) answers {name} with {} (A) and {v6} (AAAA)",
                server.address()
            ),
            (None, _) => String::new(),
        };
        let v6 = match server.address6() {
            Some(a) => format!(
                "; over DHCPv6 ({a}), to a client naming USP in option 16: option 17 ({})",
                offer.usp_v6.as_ref().unwrap_or(&offer.usp).describe()
            ),
            None => String::new(),
        };
        result.sent = Some(MsgText::from(format!(
            "the DHCP server on {} ({}) offers from now on, to a client naming USP in option 124: option 125 ({}){v6}{nul}{dns}",
            server.interface(),
            server.address(),
            offer.usp.describe(),
        )));
    }

    pub(super) async fn expect_dhcp(&mut self, spec: &ExpectDhcpSpec, result: &mut StepResult) {
        let DhcpRun::On { server, .. } = &self.context.dhcp else {
            return skip(result, &self.context.dhcp);
        };
        let waited = Duration::from_millis(spec.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS));
        let started = Instant::now();
        let heard = server.wait_until(started + waited, acked).await;
        // Times count from the first message heard (the offer was set
        // before the steps between).
        let since = heard.first().map_or(started, |h| h.at);
        result.received = Some(MsgText::from(if heard.is_empty() {
            format!(
                "nothing on {} within {} ms",
                server.interface(),
                waited.as_millis()
            )
        } else {
            heard
                .iter()
                .map(|h| describe(h, since))
                .collect::<Vec<_>>()
                .join("\n")
        }));
        result.checks.extend(request_checks(&heard, waited, since));
    }
}

impl Runner<'_> {
    pub(super) async fn expect_dns(&mut self, spec: &ExpectDnsSpec, result: &mut StepResult) {
        let DhcpRun::On { server, .. } = &self.context.dhcp else {
            return skip(result, &self.context.dhcp);
        };
        let Some(name) = spec.name.clone().or_else(|| server.offered_name()) else {
            result.error = Some("expect_dns: no name to wait for: give `name`, or offer one first with `dhcp_offer: { controller_host: NAME }`".into());
            return;
        };
        let waited = Duration::from_millis(spec.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS));
        let started = Instant::now();
        let asked = server
            .wait_asked(started + waited, |a| asked_for(a, &name))
            .await;
        let since = asked.first().map_or(started, |a| a.at);
        result.received = Some(MsgText::from(if asked.is_empty() {
            format!(
                "no DNS question on {}:53 within {} ms",
                server.address(),
                waited.as_millis()
            )
        } else {
            asked
                .iter()
                .map(|a| a.describe(since))
                .collect::<Vec<_>>()
                .join("\n")
        }));
        result
            .checks
            .extend(dns_checks(&asked, &name, waited, since));
    }
}

fn skip(result: &mut StepResult, run: &DhcpRun) {
    if let DhcpRun::Off(why) = run {
        result.verdict = Verdict::Skipped;
        result.error = Some(format!("not applicable: {why}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::dhcp::{
        encode_vendor_class, encode_vendor_class_bare, Packet, BBF_ENTERPRISE,
    };
    use std::net::Ipv4Addr;

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 9];

    fn heard(kind: MessageType, class: Option<Vec<u8>>, at: Instant) -> Heard {
        let mut p = Packet::request(kind, 1, MAC);
        if let Some(c) = class {
            p.set_option(code::VENDOR_CLASS, c);
        }
        let answer = Packet::reply_to(&p, MessageType::Ack, Ipv4Addr::new(10, 0, 0, 2));
        Heard {
            at,
            from: "0.0.0.0:68".parse().unwrap(),
            packet: Ok(Dhcp::V4(p)),
            answer: (kind == MessageType::Request).then_some(Dhcp::V4(answer)),
            unanswered: None,
        }
    }

    fn failed(checks: &[CheckResult]) -> Vec<(String, Option<String>)> {
        checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| (c.actual.clone(), c.rule.clone()))
            .collect()
    }

    #[test]
    fn a_usp_vendor_class_in_either_form_passes_and_the_wait_ends_at_the_ack() {
        let t = Instant::now();
        let usp = encode_vendor_class(BBF_ENTERPRISE, &[b"usp"]);
        let bare = encode_vendor_class_bare(BBF_ENTERPRISE, b"usp");
        let log = [
            heard(MessageType::Discover, Some(usp), t),
            heard(MessageType::Request, Some(bare), t),
        ];
        assert!(acked(&log));
        assert!(!acked(&log[..1]));
        let checks = request_checks(&log, Duration::from_secs(1), t);
        assert_eq!(checks.len(), 2);
        assert!(failed(&checks).is_empty(), "{checks:?}");
        assert!(checks[1].actual.contains("bare"), "{}", checks[1].actual);
    }

    #[test]
    fn a_missing_or_foreign_vendor_class_fails_on_r_dis_1_naming_the_message() {
        let t = Instant::now();
        let other = encode_vendor_class(3562, &[b"usp"]);
        let log = [
            heard(MessageType::Discover, None, t),
            heard(MessageType::Request, Some(other), t),
        ];
        let bad = failed(&request_checks(&log, Duration::from_secs(1), t));
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].1.as_deref(), Some("R-DIS.1"));
        assert!(bad[0]
            .0
            .contains("DHCPDISCOVER from 02:00:00:00:00:09, no option 124"));
        assert!(bad[0].0.contains("enterprise 3562"), "{}", bad[0].0);
    }

    #[test]
    fn silence_or_only_undecodable_datagrams_fail_tp_469_8_1() {
        let t = Instant::now();
        let none = failed(&request_checks(&[], Duration::from_secs(1), t));
        assert_eq!(
            none,
            [(
                "no DHCP message on the interface".to_string(),
                Some("TP-469 8.1".into())
            )]
        );
        let junk = Heard {
            at: t,
            from: "10.0.0.9:68".parse().unwrap(),
            packet: Err("at byte 3: too short (3 bytes)".into()),
            answer: None,
            unanswered: Some("undecodable".into()),
        };
        let bad = failed(&request_checks(&[junk], Duration::from_secs(1), t));
        assert!(
            bad[0]
                .0
                .starts_with("only: +0 ms from 10.0.0.9:68: at byte 3"),
            "{bad:?}"
        );
    }

    #[test]
    fn the_offer_fills_in_the_harness_url_and_id() {
        let o = offer_of(
            &DhcpOfferSpec {
                provisioning_code: Some("c".into()),
                retry_min_wait: Some(5),
                ..Default::default()
            },
            "ws://10.0.0.1:1/u",
            None,
            "proto::ctl",
        );
        assert_eq!(o.usp.controller_url.as_deref(), Some("ws://10.0.0.1:1/u"));
        assert_eq!(o.usp.controller_endpoint_id.as_deref(), Some("proto::ctl"));
        assert_eq!(o.usp.retry_min_wait.as_deref(), Some("5"));
        assert!(!o.nul_terminated);
        assert!(o.usp_v6.is_none());
    }

    #[test]
    fn dhcpv6_gets_the_ipv6_url_unless_the_step_names_one() {
        let v6 = Some("ws://[fd00::1]:1/u");
        let o = offer_of(&DhcpOfferSpec::default(), "ws://10.0.0.1:1/u", v6, "c");
        let u6 = o.usp_v6.expect("an IPv6 variant");
        assert_eq!(u6.controller_url.as_deref(), v6);
        assert_eq!(u6.controller_endpoint_id.as_deref(), Some("c"));
        // A name (TP-469 8.3) reads the same over both.
        let named = DhcpOfferSpec {
            controller_host: Some("c.test".into()),
            ..Default::default()
        };
        let o = offer_of(&named, "ws://10.0.0.1:1/u", v6, "c");
        assert!(o.usp_v6.is_none(), "{o:?}");
        assert_eq!(o.usp.controller_url.as_deref(), Some("ws://c.test:1/u"));
        let given = DhcpOfferSpec {
            controller_url: Some("ws://x/".into()),
            ..Default::default()
        };
        assert!(offer_of(&given, "ws://10.0.0.1:1/u", v6, "c")
            .usp_v6
            .is_none());
    }
    fn heard6(kind: v6::Kind, usp: bool, answered: Option<v6::Kind>, at: Instant) -> Heard {
        use crate::discovery::dhcp::v6::{code as c6, duid_ll, IaNa, Message, VendorClass};
        let mut m = Message::new(kind, [1, 2, 3]);
        m.set_option(c6::CLIENT_ID, duid_ll(MAC));
        if usp {
            m.add_option(
                c6::VENDOR_CLASS,
                VendorClass::encode(BBF_ENTERPRISE, &[b"usp"]),
            );
        }
        let answer = answered.map(|k| {
            let mut a = Message::new(k, [1, 2, 3]);
            a.set_option(
                c6::IA_NA,
                IaNa {
                    iaid: 1,
                    addresses: vec![("fd00::100".parse().unwrap(), 1, 2)],
                    ..Default::default()
                }
                .encode(),
            );
            Dhcp::V6(a)
        });
        Heard {
            at,
            from: "[fe80::1%2]:546".parse().unwrap(),
            packet: Ok(Dhcp::V6(m)),
            answer,
            unanswered: None,
        }
    }

    #[test]
    fn over_dhcpv6_option_16_must_name_usp_and_the_wait_ends_at_the_reply() {
        use v6::Kind::{Advertise, Reply, Request, Solicit};
        let t = Instant::now();
        let good = [
            heard6(Solicit, true, Some(Advertise), t),
            heard6(Request, true, Some(Reply), t),
        ];
        assert!(!acked(&good[..1]));
        assert!(acked(&good));
        let checks = request_checks(&good, Duration::from_secs(1), t);
        assert!(failed(&checks).is_empty(), "{checks:?}");
        assert!(
            checks[1].actual.contains("DHCPv6 SOLICIT from fe80::1")
                && checks[1]
                    .actual
                    .contains("ADVERTISE fd00::100 without option 17"),
            "{}",
            checks[1].actual
        );
        let bad = [heard6(Solicit, false, Some(Advertise), t)];
        let bad = failed(&request_checks(&bad, Duration::from_secs(1), t));
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].1.as_deref(), Some("R-DIS.1"));
        assert!(bad[0].0.contains("no option 16"), "{}", bad[0].0);
    }
}

#[cfg(test)]
mod dns_tests {
    use super::*;
    use crate::discovery::dhcp::dns::{qtype, Question};

    fn asked(name: &str, qtype: u16, at: Instant) -> Asked {
        Asked {
            at,
            from: "10.0.0.2:5000".parse().unwrap(),
            question: Ok(Question {
                name: name.into(),
                qtype,
                qclass: 1,
            }),
            answer: Err("NXDOMAIN"),
        }
    }

    #[test]
    fn a_question_for_the_name_or_under_it_passes_and_others_do_not() {
        let t = Instant::now();
        let wait = Duration::from_secs(1);
        let name = "controller.plugfest.test";
        for ok in [
            asked(name, qtype::A, t),
            asked(name, qtype::AAAA, t),
            asked("_usp-ctr-ws._tcp.controller.plugfest.test", qtype::SRV, t),
        ] {
            assert!(dns_checks(&[ok], "Controller.Plugfest.Test", wait, t)[0].passed);
        }
        let other = dns_checks(
            &[asked("xcontroller.plugfest.test", qtype::A, t)],
            name,
            wait,
            t,
        );
        assert!(!other[0].passed);
        assert!(
            other[0]
                .actual
                .contains("A xcontroller.plugfest.test -> NXDOMAIN"),
            "{}",
            other[0].actual
        );
        let none = dns_checks(&[], name, wait, t);
        assert!(!none[0].passed);
        assert_eq!(none[0].rule.as_deref(), Some("TP-469 8.3"));
        assert!(none[0].actual.starts_with("no DNS question"));
    }
}
