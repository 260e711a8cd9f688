//! The `discover` step (TP-469 8.5-8.7): browse DNS-SD on the loopback
//! interface only (`discovery::mdns` disables every interface and enables
//! loopback before anything is sent) for the Agent under test, and hold its
//! advertisement to the discovery rules. The judging is pure
//! (`service_checks`); the browse and the TLS probe are the I/O.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{explain_session_error, Runner};
use crate::discovery::dhcp::dns;
use crate::discovery::{self, mdns, mdns_heard, Advertisement};
use crate::results::{CheckResult, StepResult, Verdict};
use crate::suite::discovery_steps::{DiscoverSpec, ExpectMdnsQuerySpec, DEFAULT_TIMEOUT_MS};
use crate::suite::model::{GetSpec, RequestSpec};
use crate::suite::request::build_request;
use crate::suite::vars::Vars;
use crate::trace::{describe_msg, MsgText};
use crate::usp::msg;
use crate::usp::proto::msg::{response::RespType, Msg};

/// Why `discover` steps are skipped on a run without `--discovery`.
const NOT_ASKED: &str = "this run does not browse mDNS: pass --discovery when the target's Agent advertises itself over DNS-SD (mDNS runs on the loopback interface only, e.g. in a network namespace with `ip link set lo multicast on`)";

/// Why they are skipped on the built-in Agent's run (the default `cargo run`).
pub const BUILTIN_DOES_NOT_ADVERTISE: &str = "the built-in reference Agent advertises over DNS-SD only with `plugfest run --discovery --role client` (or run `plugfest agent --listen ADDR --advertise` and `plugfest run --discovery --target ...`), in a network namespace whose lo has multicast on (tests/discovery.rs does)";

/// What the TXT `name` must be when the Agent implements it (R-DIS.10).
const FRIENDLY_NAME: &str = "Device.DeviceInfo.FriendlyName";

/// The table whose rows are the Agent's MTPs (TP-469 8.6, metric 1).
const MTP_TABLE: &str = "Device.LocalAgent.MTP.";

/// Whether `discover` steps may browse on this run.
#[derive(Debug, Clone)]
pub enum DiscoveryRun {
    /// No: the reason the steps are skipped with.
    Off(String),
    /// Yes; the SRV port the Agent's WebSocket advertisement must name, when
    /// the run knows where the Agent listens.
    On { agent_port: Option<u16> },
}

impl Default for DiscoveryRun {
    fn default() -> Self {
        DiscoveryRun::Off(NOT_ASKED.into())
    }
}

/// The port of a `ws://` / `wss://` URL (80 / 443 when it names none).
pub fn port_of_ws_url(url: &str) -> Option<u16> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let port = match authority.rfind(']') {
        Some(end) => authority[end + 1..].strip_prefix(':'),
        None => authority.rsplit_once(':').map(|(_, p)| p),
    };
    match port {
        Some(p) => p.parse().ok(),
        None => match scheme {
            "ws" => Some(80),
            "wss" => Some(443),
            _ => None,
        },
    }
}

/// One row of `Device.LocalAgent.MTP.{i}.`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtpRow {
    pub path: String,
    pub protocol: String,
    /// `Enable`; a row that does not say counts as enabled.
    pub enabled: bool,
    /// `EnableMDNS`, when the Agent has it.
    pub mdns: Option<bool>,
}

fn truthy(v: &str) -> bool {
    matches!(v, "true" | "1")
}

/// The MTP rows a GetResp for `Device.LocalAgent.MTP.` carries.
pub fn mtp_rows(response: &Msg) -> Vec<MtpRow> {
    let Some(RespType::GetResp(r)) = msg::response_body(response) else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    for res in r
        .req_path_results
        .iter()
        .flat_map(|p| p.resolved_path_results.iter())
    {
        // Device.LocalAgent.MTP.<n>. itself, not its sub-objects.
        let Some(rest) = res.resolved_path.strip_prefix(MTP_TABLE) else {
            continue;
        };
        let is_row = rest
            .strip_suffix('.')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if !is_row {
            continue;
        }
        let Some(protocol) = res.result_params.get("Protocol") else {
            continue;
        };
        rows.push(MtpRow {
            path: res.resolved_path.clone(),
            protocol: protocol.clone(),
            enabled: res.result_params.get("Enable").is_none_or(|v| truthy(v)),
            mdns: res.result_params.get("EnableMDNS").map(|v| truthy(v)),
        });
    }
    rows
}

/// The Agent service types the rows call for (enabled rows whose MTP has a
/// DNS-SD service and whose `EnableMDNS` is not false), and a note on each
/// row left out.
pub fn services_of_rows(rows: &[MtpRow]) -> (Vec<&'static str>, Vec<String>) {
    let mut types = Vec::new();
    let mut notes = Vec::new();
    for row in rows {
        if !row.enabled {
            notes.push(format!("{} ({}) is disabled", row.path, row.protocol));
            continue;
        }
        if row.mdns == Some(false) {
            notes.push(format!(
                "{} ({}) has EnableMDNS false",
                row.path, row.protocol
            ));
            continue;
        }
        match discovery::agent_service_of_protocol(&row.protocol) {
            Some(t) if !types.contains(&t) => types.push(t),
            Some(_) => {}
            None => notes.push(format!(
                "{} ({}) has no DNS-SD service",
                row.path, row.protocol
            )),
        }
    }
    (types, notes)
}

/// Why `expect_mdns_query` is skipped on a run where the harness does not
/// advertise itself as a Controller.
pub(super) const NO_MDNS_LISTENER: &str = "not applicable: the harness listens for the Agent's mDNS questions only as an advertised Controller: pass --advertise-controller with a target whose websocket role is server, and configure the Agent with ws://plugfest-controller.local:PORT/PATH (loopback multicast, e.g. in a network namespace)";

/// Whether a question is about `name` (lowercase, no trailing dot): an A
/// or AAAA question, the ways to resolve a host. ANY questions are left
/// out: they are the probes of whoever claims the name (RFC 6762 8.1), the
/// harness's own mdns-sd among them, and loopback does not tell whose.
fn asked_about(heard: &[mdns_heard::Heard], name: &str) -> bool {
    heard.iter().any(|h| {
        h.question.name == name && matches!(h.question.qtype, dns::qtype::A | dns::qtype::AAAA)
    })
}

fn describe_questions(heard: &[mdns_heard::Heard]) -> String {
    let first = heard[0].at;
    heard
        .iter()
        .map(|h| {
            format!(
                "+{} ms from {}: {}",
                h.at.saturating_duration_since(first).as_millis(),
                h.from,
                h.question.describe()
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The check of `expect_mdns_query` on what was heard.
pub fn mdns_query_check(heard: &[mdns_heard::Heard], name: &str, waited: Duration) -> CheckResult {
    let asked = asked_about(heard, name);
    check(
        format!("the Agent resolved {name} with mDNS"),
        asked,
        format!(
            "an mDNS A or AAAA question for {name}. on loopback since the case began (waited up to {} ms; ANY questions are name probes and do not count)",
            waited.as_millis()
        ),
        if heard.is_empty() {
            "no mDNS question on loopback since the case began".to_string()
        } else if asked {
            describe_questions(heard)
        } else {
            format!("only: {}", describe_questions(heard))
        },
        Some("TP-469 8.4".into()),
    )
}

fn check(
    description: impl Into<String>,
    passed: bool,
    expected: impl Into<String>,
    actual: impl Into<String>,
    rule: Option<String>,
) -> CheckResult {
    CheckResult {
        description: description.into(),
        passed,
        expected: expected.into(),
        actual: actual.into(),
        rule,
    }
}

/// One advertisement in words: instance, SRV port, TXT.
fn describe(ad: &Advertisement) -> String {
    let txt: Vec<String> = ad
        .txt
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
        .collect();
    format!(
        "{:?} (SRV {}:{}, TXT [{}])",
        ad.instance,
        ad.host,
        ad.port,
        txt.join(", ")
    )
}

/// What the Agent's own data model says of its advertisement.
#[derive(Debug, Clone, Default)]
pub struct Expected {
    /// The SRV port of the WebSocket advertisement (where the harness dials).
    pub ws_port: Option<u16>,
    /// `Device.DeviceInfo.FriendlyName`, when the Agent implements it: the
    /// TXT `name` must be it (R-DIS.10).
    pub friendly_name: Option<String>,
}

/// The checks for one awaited service type, given what the browse found:
/// the Agent answered (an advertisement named by its Endpoint ID, R-DIS.8),
/// and unless `answered_only` its TXT keys (R-DIS.9/10, `name` = the
/// FriendlyName when known), `encrypt` against the port's TLS (R-DIS.11a),
/// an address for the SRV target, and the SRV port the one the Agent
/// listens on when known.
pub fn service_checks(
    service_type: &str,
    agent_id: &str,
    found: &[Advertisement],
    expected: &Expected,
    answered_only: bool,
    waited: Duration,
    case_rule: Option<String>,
) -> Vec<CheckResult> {
    let expected_port = expected.ws_port;
    let of_type: Vec<&Advertisement> = found
        .iter()
        .filter(|a| a.service_type == service_type)
        .collect();
    let mine = of_type.iter().find(|a| a.instance == agent_id);
    let answer = format!(
        "an advertisement named {agent_id} (the instance name is the Endpoint ID) resolved to SRV and TXT within {} ms",
        waited.as_millis()
    );
    let Some(ad) = mine else {
        let (actual, rule) = if of_type.is_empty() {
            (
                format!("no {service_type} advertisement answered on loopback"),
                case_rule,
            )
        } else {
            (
                format!(
                    "only {}; none is named by the Agent's Endpoint ID",
                    of_type
                        .iter()
                        .map(|a| describe(a))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                Some("R-DIS.8".into()),
            )
        };
        return vec![check(
            format!("the Agent answered an mDNS query for {service_type}"),
            false,
            answer,
            actual,
            rule,
        )];
    };
    let mut checks = vec![check(
        format!("the Agent answered an mDNS query for {service_type}"),
        true,
        answer,
        describe(ad),
        Some("R-DIS.8".into()),
    )];
    if answered_only {
        return checks;
    }
    let problems = discovery::validate(ad);
    let problem = |rule: &str| {
        problems
            .iter()
            .filter(|p| p.rule == rule)
            .map(|p| p.detail.clone())
            .collect::<Vec<_>>()
    };
    let txt = |key: &str| match ad.txt.get(key) {
        Some(Some(v)) => format!("`{key}={v}`"),
        Some(None) => format!("`{key}` without a value"),
        None => format!("no `{key}`"),
    };
    for (key, rule, what) in [
        (
            "path",
            "R-DIS.9",
            "a `path` key with a value (the MTP's resource path, destination, topic or uri-path)",
        ),
        (
            "name",
            "R-DIS.10",
            "a `name` key with a value (DeviceInfo.FriendlyName if implemented)",
        ),
    ] {
        let wrong = problem(rule);
        checks.push(check(
            format!("the TXT record of {service_type} carries `{key}`"),
            wrong.is_empty(),
            what,
            if wrong.is_empty() {
                txt(key)
            } else {
                wrong.join("; ")
            },
            Some(rule.into()),
        ));
    }
    // R-DIS.10: `name` is DeviceInfo.FriendlyName when the Agent has one.
    if let (Some(friendly), Some(Some(name))) = (&expected.friendly_name, ad.txt.get("name")) {
        checks.push(check(
            format!("the TXT `name` of {service_type} is the Agent's FriendlyName"),
            name == friendly,
            format!("`name={friendly}` (Device.DeviceInfo.FriendlyName)"),
            format!("`name={name}`"),
            Some("R-DIS.10".into()),
        ));
    }
    let wrong = problem("R-DIS.11a");
    let tls = match ad.tls_observed {
        Some(true) => "the port completed a TLS handshake",
        Some(false) => "the port did not complete a TLS handshake",
        None => "the port's TLS could not be probed",
    };
    checks.push(check(
        format!("`encrypt` in the TXT record of {service_type} agrees with the port"),
        wrong.is_empty(),
        "`encrypt` (a key without a value) exactly when the port speaks TLS",
        if wrong.is_empty() {
            format!(
                "{}, {tls}",
                if ad.txt.contains_key("encrypt") {
                    "`encrypt`"
                } else {
                    "no `encrypt`"
                }
            )
        } else {
            wrong.join("; ")
        },
        Some("R-DIS.11a".into()),
    ));
    checks.push(check(
        format!("the SRV target of {service_type} resolves to an address"),
        !ad.addresses.is_empty() && ad.port != 0,
        "an A or AAAA record for the SRV target and a port other than 0",
        format!(
            "{} at [{}], port {}",
            ad.host,
            ad.addresses
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            ad.port
        ),
        Some("RFC 6763".into()),
    ));
    if let (Some(port), discovery::WS_AGENT_SERVICE) = (expected_port, service_type) {
        checks.push(check(
            format!("the SRV record of {service_type} names the port the Agent listens on"),
            ad.port == port,
            format!("port {port} (where the harness reaches the Agent)"),
            format!("port {}", ad.port),
            Some("RFC 6763 (SRV), TP-469 8.5".into()),
        ));
    }
    checks
}

impl Runner<'_> {
    pub(super) async fn discover(&mut self, spec: &DiscoverSpec, result: &mut StepResult) {
        let skip = |result: &mut StepResult, why: String| {
            result.verdict = Verdict::Skipped;
            result.error = Some(format!("not applicable: {why}"));
        };
        let agent_port = match &self.context.discovery {
            DiscoveryRun::Off(why) => return skip(result, why.clone()),
            DiscoveryRun::On { agent_port } => *agent_port,
        };
        // mdns-sd is never started without multicast on loopback: it would
        // only reach the machine's other interfaces, which it must not use.
        match mdns::loopback_multicast() {
            Ok(true) => {}
            Ok(false) => return skip(result, "the loopback interface has no MULTICAST flag (`ip link show lo`), and mDNS runs on loopback only; in a network namespace: `ip link set lo multicast on`".into()),
            Err(e) => return skip(result, format!("cannot tell whether loopback carries multicast: {e}")),
        }
        if let Err(e) = self.session.ensure_connected().await {
            self.note_unreachable(&e);
            result.error = Some(explain_session_error(&e));
            return;
        }
        let Some(agent_id) = self.session.agent_id().map(str::to_string) else {
            result.error = Some("the Agent's Endpoint ID is not known, so its advertisement cannot be told from others (set agent_endpoint_id in the target)".into());
            return;
        };
        let types: Vec<&'static str> = match &spec.service {
            Some(s) => match discovery::full_service_type(s) {
                Some(t) => vec![t],
                None => {
                    result.error = Some(format!("{s} is not a USP Agent service"));
                    return;
                }
            },
            None => match self.advertised_mtps(result).await {
                Some(t) => t,
                None => return,
            },
        };
        let waited = Duration::from_millis(spec.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS));
        let query = format!(
            "mDNS PTR queries for {} on loopback (up to {} ms)",
            types.join(", "),
            waited.as_millis()
        );
        result.sent = Some(MsgText::from(match result.sent.take() {
            Some(get) => format!("{get}; then {query}"),
            None => query,
        }));
        let wanted = types.clone();
        let id = agent_id.clone();
        let browsed = tokio::task::spawn_blocking(move || {
            let mut seen = BTreeSet::new();
            mdns::browse_types(&wanted, waited, |ad| {
                if ad.instance == id {
                    seen.insert(ad.service_type.clone());
                }
                seen.len() == wanted.len()
            })
        })
        .await;
        let mut found = match browsed {
            Ok(Ok(f)) => f,
            Ok(Err(e)) => {
                result.error = Some(e.to_string());
                return;
            }
            Err(e) => {
                result.error = Some(format!("the mDNS browse stopped: {e}"));
                return;
            }
        };
        // R-DIS.11a: hold `encrypt` against the port (TCP MTPs; CoAP is UDP).
        for ad in found
            .iter_mut()
            .filter(|a| a.instance == agent_id && a.service_type.ends_with("._tcp.local."))
        {
            if let Some(ip) = ad
                .addresses
                .iter()
                .find(|a| a.is_ipv4())
                .or(ad.addresses.first())
            {
                let addr = SocketAddr::new(*ip, ad.port);
                ad.tls_observed =
                    discovery::tls_probe::speaks_tls(addr, Duration::from_secs(2)).await;
            }
        }
        let heard = if found.is_empty() {
            "no advertisement".to_string()
        } else {
            found.iter().map(describe).collect::<Vec<_>>().join("; ")
        };
        result.received = Some(MsgText::from(match result.received.take() {
            Some(get) => format!("{get}; then {heard}"),
            None => heard,
        }));
        let expected = Expected {
            ws_port: agent_port,
            friendly_name: if spec.answered_only {
                None
            } else {
                self.friendly_name(result).await
            },
        };
        for t in types {
            result.checks.extend(service_checks(
                t,
                &agent_id,
                &found,
                &expected,
                spec.answered_only,
                waited,
                self.case_rule.clone(),
            ));
        }
    }

    /// `expect_mdns_query` (TP-469 8.4): since the case began, an mDNS
    /// question on loopback about the Controller's `.local.` host.
    pub(super) async fn expect_mdns_query(
        &mut self,
        spec: &ExpectMdnsQuerySpec,
        result: &mut StepResult,
    ) {
        let Some(log) = self.context.mdns_questions.clone() else {
            result.verdict = Verdict::Skipped;
            result.error = Some(NO_MDNS_LISTENER.into());
            return;
        };
        let name = spec
            .name
            .as_deref()
            .unwrap_or(mdns::CONTROLLER_HOST)
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let waited = Duration::from_millis(spec.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS));
        let started = Instant::now();
        let heard = log
            .wait_since(self.mdns_case_start, started + waited, |h| {
                asked_about(h, &name)
            })
            .await;
        result.received = Some(MsgText::from(if heard.is_empty() {
            "no mDNS question on loopback since the case began".to_string()
        } else {
            describe_questions(&heard)
        }));
        result.checks.push(mdns_query_check(&heard, &name, waited));
    }

    /// `Device.DeviceInfo.FriendlyName` by a Get; None when the Agent does
    /// not implement it (or the Get fails: the browse's checks still stand).
    async fn friendly_name(&mut self, result: &mut StepResult) -> Option<String> {
        let get = RequestSpec::Get(GetSpec {
            paths: vec![FRIENDLY_NAME.into()],
            max_depth: 0,
        });
        let req = build_request(&get, &Vars::default()).ok()?;
        let exchange = self.session.request(req).await.ok()?;
        let add = |slot: &mut Option<MsgText>, what: String| {
            *slot = Some(MsgText::from(match slot.take() {
                Some(before) => format!("{before}; then {what}"),
                None => what,
            }));
        };
        add(&mut result.sent, describe_msg(&exchange.sent));
        add(&mut result.received, describe_msg(&exchange.response));
        let Some(RespType::GetResp(r)) = msg::response_body(&exchange.response) else {
            return None;
        };
        r.req_path_results
            .iter()
            .filter(|p| p.err_code == 0)
            .flat_map(|p| p.resolved_path_results.iter())
            .find_map(|res| res.result_params.get("FriendlyName").cloned())
    }

    /// `every_mtp`: the Agent's MTP rows by a Get, and the service types
    /// they call for; None when the step ended here (error or skipped).
    async fn advertised_mtps(&mut self, result: &mut StepResult) -> Option<Vec<&'static str>> {
        let get = RequestSpec::Get(GetSpec {
            paths: vec![MTP_TABLE.into()],
            max_depth: 0,
        });
        let req = match build_request(&get, &Vars::default()) {
            Ok(r) => r,
            Err(e) => {
                result.error = Some(format!("the Get of {MTP_TABLE} could not be built: {e}"));
                return None;
            }
        };
        let exchange = match self.session.request(req).await {
            Ok(x) => x,
            Err((sent, e)) => {
                result.sent = Some(MsgText::of(&sent));
                self.note_unreachable(&e);
                result.error = Some(explain_session_error(&e));
                return None;
            }
        };
        result.sent = Some(MsgText::of(&exchange.sent));
        result.received = Some(MsgText::of(&exchange.response));
        let rows = mtp_rows(&exchange.response);
        let (types, notes) = services_of_rows(&rows);
        let listed = rows
            .iter()
            .map(|r| format!("{} {}", r.path, r.protocol))
            .collect::<Vec<_>>()
            .join(", ");
        if rows.is_empty() {
            result.checks.push(check(
                format!("the Agent lists its MTPs in {MTP_TABLE}{{i}}."),
                false,
                "at least one row with a Protocol",
                "no row in the GetResp",
                Some("TP-469 8.6".into()),
            ));
            return None;
        }
        if types.is_empty() {
            result.verdict = Verdict::Skipped;
            result.error = Some(format!(
                "not applicable: none of the Agent's MTPs ({listed}) is one DNS-SD can advertise: {}",
                notes.join("; ")
            ));
            return None;
        }
        result.checks.push(check(
            format!("the Agent's MTPs in {MTP_TABLE}{{i}}. that DNS-SD can advertise"),
            true,
            "one advertisement each (TP-469 8.6, metric 1)",
            format!(
                "{listed} -> {}{}",
                types.join(", "),
                if notes.is_empty() {
                    String::new()
                } else {
                    format!(" (left out: {})", notes.join("; "))
                }
            ),
            Some("TP-469 8.6".into()),
        ));
        Some(types)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "proto::plugfest-reference-agent";

    fn ad(instance: &str, port: u16, txt: &[(&str, Option<&str>)]) -> Advertisement {
        Advertisement {
            service_type: discovery::WS_AGENT_SERVICE.into(),
            instance: instance.into(),
            host: "agent.local.".into(),
            port,
            addresses: vec!["127.0.0.1".parse().unwrap()],
            txt: txt
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
                .collect(),
            tls_observed: Some(false),
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
    fn a_complete_advertisement_passes_every_check() {
        let found = [ad(ID, 8080, &[("path", Some("/")), ("name", Some("A"))])];
        let expected = Expected {
            ws_port: Some(8080),
            friendly_name: Some("A".into()),
        };
        let checks = service_checks(
            discovery::WS_AGENT_SERVICE,
            ID,
            &found,
            &expected,
            false,
            Duration::from_secs(3),
            None,
        );
        assert_eq!(checks.len(), 7, "{checks:?}");
        assert!(failed(&checks).is_empty(), "{checks:?}");
    }

    #[test]
    fn a_wrong_instance_fails_with_r_dis_8_naming_what_was_found() {
        let found = [ad(
            "plugfest reference Agent",
            8080,
            &[("path", Some("/")), ("name", Some("A"))],
        )];
        let checks = service_checks(
            discovery::WS_AGENT_SERVICE,
            ID,
            &found,
            &Expected::default(),
            false,
            Duration::from_secs(3),
            Some("TP-469 8.5".into()),
        );
        let bad = failed(&checks);
        assert_eq!(bad.len(), 1);
        assert!(bad[0].0.contains("\"plugfest reference Agent\""), "{bad:?}");
        assert_eq!(bad[0].1.as_deref(), Some("R-DIS.8"));
        // Nothing at all: the case's rule.
        let none = service_checks(
            discovery::WS_AGENT_SERVICE,
            ID,
            &[],
            &Expected::default(),
            true,
            Duration::from_secs(3),
            Some("TP-469 8.7".into()),
        );
        assert_eq!(failed(&none)[0].1.as_deref(), Some("TP-469 8.7"));
    }

    #[test]
    fn missing_name_wrong_port_and_unprobed_encrypt_are_named() {
        let mut a = ad(ID, 9, &[("path", Some("/")), ("encrypt", None)]);
        a.tls_observed = Some(false);
        let checks = service_checks(
            discovery::WS_AGENT_SERVICE,
            ID,
            &[a],
            &Expected {
                ws_port: Some(8080),
                friendly_name: None,
            },
            false,
            Duration::from_secs(3),
            None,
        );
        let rules: Vec<_> = failed(&checks).into_iter().filter_map(|f| f.1).collect();
        assert_eq!(
            rules,
            ["R-DIS.10", "R-DIS.11a", "RFC 6763 (SRV), TP-469 8.5"]
        );
    }

    #[test]
    fn the_txt_name_must_be_the_friendly_name() {
        let found = [ad(ID, 1, &[("path", Some("/")), ("name", Some("box"))])];
        let expected = Expected {
            ws_port: None,
            friendly_name: Some("Lab box".into()),
        };
        let checks = service_checks(
            discovery::WS_AGENT_SERVICE,
            ID,
            &found,
            &expected,
            false,
            Duration::from_secs(3),
            None,
        );
        let bad = failed(&checks);
        assert_eq!(bad, [("`name=box`".to_string(), Some("R-DIS.10".into()))]);
    }

    #[test]
    fn ws_url_ports() {
        assert_eq!(port_of_ws_url("ws://127.0.0.1:8080/usp"), Some(8080));
        assert_eq!(port_of_ws_url("wss://[::1]:9/"), Some(9));
        assert_eq!(port_of_ws_url("ws://host/"), Some(80));
        assert_eq!(port_of_ws_url("wss://host"), Some(443));
        assert_eq!(port_of_ws_url("nonsense"), None);
    }

    #[test]
    fn rows_map_to_services_and_notes() {
        let row = |p: &str, en: bool, mdns: Option<bool>| MtpRow {
            path: format!("Device.LocalAgent.MTP.{p}."),
            protocol: p.into(),
            enabled: en,
            mdns,
        };
        let rows = [
            row("WebSocket", true, None),
            row("UDS", true, None),
            row("MQTT", false, None),
            row("STOMP", true, Some(false)),
            row("CoAP", true, Some(true)),
        ];
        let (types, notes) = services_of_rows(&rows);
        assert_eq!(
            types,
            ["_usp-agt-ws._tcp.local.", "_usp-agt-coap._udp.local."]
        );
        assert_eq!(notes.len(), 3, "{notes:?}");
    }
}
