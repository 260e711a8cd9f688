//! Reads test-case files into `Suite`s. Every problem becomes a `LoadError`
//! with file:line:column, the source line highlighted and a hint; a bad file
//! never stops the others from loading.

use super::model::{Action, Case, ConnectRecordSpec, Expect, Location, RequestSpec, Step, Suite};
use super::model::{
    AddSpec, DeleteSpec, GetInstancesSpec, GetSpec, GetSupportedDmSpec, GetSupportedProtocolSpec,
    NoNotifySpec, OperateSpec, RebootSpec, ServeFileSpec, SetSpec, WaitSpec, REBOOT_CAPTURES,
    SERVE_FILE_CAPTURES,
};
use crate::datamodel::Profiles;
use miette::{NamedSource, SourceSpan};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// A problem in a test-case file, rendered by miette with a snippet.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
#[error("{location}: {message}")]
pub struct LoadError {
    pub location: Location,
    pub message: String,
    #[help]
    pub help: Option<String>,
    #[source_code]
    src: NamedSource<String>,
    #[label("{label}")]
    span: SourceSpan,
    label: String,
    /// Further places involved (the first definition of a duplicate id).
    #[related]
    related: Vec<LoadError>,
}

impl LoadError {
    fn at(
        file: &Path,
        text: &str,
        line: usize,
        column: usize,
        message: impl Into<String>,
        help: Option<String>,
    ) -> LoadError {
        let (offset, len) = token_span(text, line, column);
        LoadError {
            location: Location {
                file: file.to_path_buf(),
                line,
                column,
            },
            label: "here".into(),
            message: message.into(),
            help,
            src: NamedSource::new(file.display().to_string(), text.to_string()),
            span: (offset, len).into(),
            related: Vec::new(),
        }
    }
}

/// The actions a step can hold, for messages.
const ACTIONS: &str =
    "get, set, add, delete, get_instances, get_supported_dm, get_supported_protocol, operate, wait_notify, connect_record, endpoint_ids, expect_no_notify, serve_file, reboot, mqtt_steer, expect_mqtt, expect_mqtt_retries, stomp_steer, expect_stomp, expect_stomp_retries, ws_control, expect_close, expect_ws_retries, coap_control, expect_coap, expect_mtp_tls, discover, expect_mdns_query, expect_mdns_announcement, dhcp_offer, expect_dhcp, expect_dns, e2e_send, e2e_tls, e2e_tls_renegotiate, e2e_tls_answer, expect_e2e_tls_retries, bad_record";

/// A test-case file: one suite of cases (format in test-cases/README.md).
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "usp-plugfest test-case file")]
struct RawSuite {
    suite: String,
    #[serde(default)]
    description: Option<String>,
    #[schemars(with = "Vec<RawCase>")]
    cases: Vec<Spanned<RawCase>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Case")]
struct RawCase {
    #[schemars(with = "String")]
    id: Spanned<String>,
    title: String,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    profile: Option<Spanned<String>>,
    #[serde(default)]
    tp469: Option<String>,
    #[serde(default)]
    requirement: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    purpose: Option<String>,
    #[serde(default)]
    condition: Option<String>,
    #[serde(default)]
    needs_vars: Vec<String>,
    #[serde(default)]
    unless_vars: Vec<String>,
    /// The Controller (a name under the target's `controllers:`) that sends
    /// every step of the case unless a step says otherwise; the target's
    /// own Controller when absent.
    #[serde(default, rename = "as")]
    sender: Option<String>,
    #[serde(default)]
    #[schemars(with = "Vec<RawStep>")]
    setup: Vec<Spanned<RawStep>>,
    #[schemars(with = "Vec<RawStep>")]
    steps: Vec<Spanned<RawStep>>,
    #[serde(default)]
    #[schemars(with = "Vec<RawStep>")]
    teardown: Vec<Spanned<RawStep>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Step")]
struct RawStep {
    #[serde(default)]
    name: Option<String>,
    /// The Controller (a name under the target's `controllers:`, or
    /// `default`) this step acts as: it sends the request, or waits for the
    /// Notify, on that Controller's own session with the Agent.
    #[serde(default, rename = "as")]
    sender: Option<String>,
    #[serde(default)]
    get: Option<GetSpec>,
    #[serde(default)]
    set: Option<SetSpec>,
    #[serde(default)]
    add: Option<AddSpec>,
    #[serde(default)]
    delete: Option<DeleteSpec>,
    #[serde(default)]
    get_instances: Option<GetInstancesSpec>,
    #[serde(default)]
    get_supported_dm: Option<GetSupportedDmSpec>,
    #[serde(default)]
    get_supported_protocol: Option<GetSupportedProtocolSpec>,
    #[serde(default)]
    operate: Option<OperateSpec>,
    #[serde(default)]
    wait_notify: Option<WaitSpec>,
    #[serde(default)]
    connect_record: Option<ConnectRecordSpec>,
    endpoint_ids: Option<ConnectRecordSpec>,
    #[serde(default)]
    expect_no_notify: Option<NoNotifySpec>,
    #[serde(default)]
    serve_file: Option<ServeFileSpec>,
    #[serde(default)]
    reboot: Option<RebootSpec>,
    #[serde(default)]
    // The interposer's own types: the schema accepts any mapping here and
    // `plugfest validate` checks the keys.
    #[schemars(with = "Option<serde_json::Value>")]
    mqtt_steer: Option<crate::interpose::mqtt_steer::Steering>,
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    expect_mqtt: Option<crate::interpose::mqtt_log::PacketPattern>,
    // mqtt11: the MQTT back-off check (TP-469 11.16).
    #[serde(default)]
    expect_mqtt_retries: Option<crate::interpose::mqtt_retries::RetrySpec>,
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    stomp_steer: Option<crate::interpose::stomp_steer::Steering>,
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    expect_stomp: Option<crate::interpose::stomp_log::FramePattern>,
    // The STOMP back-off check (TP-469 6.3).
    #[serde(default)]
    expect_stomp_retries: Option<crate::interpose::stomp_retries::StompRetrySpec>,
    #[serde(default)]
    ws_control: Option<crate::suite::ws_steps::WsControlSpec>,
    #[serde(default)]
    expect_close: Option<crate::suite::ws_steps::ExpectCloseSpec>,
    // The WebSocket back-off check (TP-469 7.8).
    #[serde(default)]
    expect_ws_retries: Option<crate::suite::ws_steps::WsRetrySpec>,
    // The CoAP controls (TP-469 section 5, legacy).
    #[serde(default)]
    coap_control: Option<crate::suite::coap_steps::CoapControlSpec>,
    #[serde(default)]
    expect_coap: Option<crate::suite::coap_steps::ExpectCoapSpec>,
    // Whether the Agent's MTP channel is TLS (TP-469 4.1, 7.9, 11.3, 6.11).
    #[serde(default)]
    expect_mtp_tls: Option<crate::suite::tls_steps::MtpTlsSpec>,
    #[serde(default)]
    discover: Option<crate::suite::discovery_steps::DiscoverSpec>,
    #[serde(default)]
    expect_mdns_query: Option<crate::suite::discovery_steps::ExpectMdnsQuerySpec>,
    // DHCP discovery (TP-469 8.1-8.3).
    #[serde(default)]
    dhcp_offer: Option<crate::suite::dhcp_steps::DhcpOfferSpec>,
    #[serde(default)]
    expect_mdns_announcement: Option<crate::suite::discovery_steps::ExpectMdnsAnnouncementSpec>,
    #[serde(default)]
    expect_dhcp: Option<crate::suite::dhcp_steps::ExpectDhcpSpec>,
    #[serde(default)]
    expect_dns: Option<crate::suite::dhcp_steps::ExpectDnsSpec>,
    e2e_send: Option<crate::suite::e2e_steps::E2eSendSpec>,
    #[serde(default)]
    e2e_tls: Option<crate::suite::e2e_steps::E2eTlsSpec>,
    #[serde(default)]
    e2e_tls_renegotiate: Option<crate::suite::e2e_steps::E2eRenegotiateSpec>,
    #[serde(default)]
    e2e_tls_answer: Option<crate::suite::e2e_origin_steps::E2eTlsAnswerSpec>,
    #[serde(default)]
    expect_e2e_tls_retries: Option<crate::suite::e2e_origin_steps::E2eTlsRetrySpec>,
    #[serde(default)]
    bad_record: Option<crate::suite::bad_record_steps::BadRecordSpec>,
    #[serde(default)]
    #[schemars(with = "Option<Expect>")]
    expect: Option<Spanned<Expect>>,
    #[serde(default)]
    capture: BTreeMap<String, String>,
    /// The step establishes the case's `condition`: when its `capture`
    /// finds nothing (e.g. the Agent has no such instance), the case does
    /// not apply to this Agent and is skipped with the reason, not failed.
    #[serde(default)]
    precondition: bool,
    /// `short`: only on a default run (e.g. setting the Agent's timers
    /// short); `plan`: only with `--plan-timings` (TP-469's own waits).
    #[serde(default)]
    timings: Option<crate::suite::model::Timings>,
}

/// The JSON Schema of a test-case file, generated from the types the
/// loader reads (shipped as schemas/test-case.schema.json for editors).
pub fn schema() -> schemars::Schema {
    schemars::schema_for!(RawSuite)
}

/// Loads a file or a directory (recursively `*.yaml`/`*.yml`, sorted),
/// checking profile names against the built-in profiles. Fails if any file
/// has an error; use `load_path_partial` to keep the good files.
pub fn load_path(path: &Path) -> Result<Vec<Suite>, Vec<LoadError>> {
    let (suites, errors) = load_path_partial(path, &Profiles::builtin());
    if errors.is_empty() {
        Ok(suites)
    } else {
        Err(errors)
    }
}

/// Loads what it can: the suites of files without errors, and every error.
pub fn load_path_partial(path: &Path, profiles: &Profiles) -> (Vec<Suite>, Vec<LoadError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    if path.is_dir() {
        collect_files(path, &mut files, &mut errors);
        files.sort();
    } else {
        files.push(path.to_path_buf());
    }
    let mut suites = Vec::new();
    // Case id → (location, source text) of its first definition.
    let mut seen: HashMap<String, (Location, String)> = HashMap::new();
    for file in files {
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                errors.push(LoadError::at(
                    &file,
                    "",
                    1,
                    1,
                    format!("cannot read the file: {e}"),
                    None,
                ));
                continue;
            }
        };
        match load_str(&file, &text, profiles) {
            Ok(suite) => {
                let mut dup = Vec::new();
                for case in &suite.cases {
                    if let Some((first, first_text)) = seen.get(&case.id) {
                        let mut e = LoadError::at(
                            &file,
                            &text,
                            case.location.line,
                            case.location.column,
                            format!("duplicate case id `{}` (first defined at {first})", case.id),
                            Some("case ids must be unique across all loaded files".into()),
                        );
                        let mut f = LoadError::at(
                            &first.file,
                            first_text,
                            first.line,
                            first.column,
                            format!("`{}` first defined here", case.id),
                            None,
                        );
                        f.label = "first definition".into();
                        e.related.push(f);
                        dup.push(e);
                    } else {
                        seen.insert(case.id.clone(), (case.location.clone(), text.clone()));
                    }
                }
                if dup.is_empty() {
                    suites.push(suite);
                } else {
                    errors.extend(dup);
                }
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    (suites, errors)
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<LoadError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(LoadError::at(
                dir,
                "",
                1,
                1,
                format!("cannot read the directory: {e}"),
                None,
            ));
            return;
        }
    };
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            collect_files(&p, files, errors);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            files.push(p);
        }
    }
}

/// Parses one file's text. All errors of the file are returned together.
pub fn load_str(file: &Path, text: &str, profiles: &Profiles) -> Result<Suite, Vec<LoadError>> {
    if text.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with('#')
    }) {
        let end = text.lines().count().max(1);
        return Err(vec![LoadError::at(
            file,
            text,
            end,
            1,
            "the file is empty (only comments or blank lines)",
            Some("a suite needs `suite: NAME` and `cases: [...]`; see test-cases/README.md".into()),
        )]);
    }
    let options = serde_saphyr::options! { with_snippet: false };
    let raw: RawSuite = serde_saphyr::from_str_with_options(text, options)
        .map_err(|e| vec![yaml_error(file, text, &e)])?;
    let mut errors = Vec::new();
    let mut cases = Vec::new();
    let mut ids: HashMap<String, Location> = HashMap::new();
    for rc in raw.cases {
        let loc = location(file, &rc.referenced);
        let rc = rc.value;
        let id_loc = location(file, &rc.id.referenced);
        if let Some(first) = ids.get(&rc.id.value) {
            errors.push(LoadError::at(
                file,
                text,
                id_loc.line,
                id_loc.column,
                format!(
                    "duplicate case id `{}` (first defined at {first})",
                    rc.id.value
                ),
                Some("case ids must be unique across all loaded files".into()),
            ));
        }
        ids.entry(rc.id.value.clone()).or_insert(id_loc);
        if let Some(p) = &rc.profile {
            check_profile(file, text, p, profiles, &mut errors);
        }
        let rule = rc
            .requirement
            .clone()
            .or_else(|| rc.tp469.as_ref().map(|t| format!("TP-469 {t}")));
        let steps = |raw: Vec<Spanned<RawStep>>, errors: &mut Vec<LoadError>| -> Vec<Step> {
            raw.into_iter()
                .filter_map(|s| match step(file, text, s, rule.as_deref(), profiles) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        errors.push(*e);
                        None
                    }
                })
                .collect()
        };
        let setup = steps(rc.setup, &mut errors);
        let body = steps(rc.steps, &mut errors);
        let teardown = steps(rc.teardown, &mut errors);
        cases.push(Case {
            id: rc.id.value,
            title: rc.title,
            profile: rc.profile.map(|p| p.value),
            tp469: rc.tp469,
            requirement: rc.requirement,
            tags: rc.tags,
            purpose: rc.purpose,
            condition: rc.condition,
            needs_vars: rc.needs_vars,
            unless_vars: rc.unless_vars,
            sender: rc.sender,
            setup,
            steps: body,
            teardown,
            location: loc,
        });
    }
    if errors.is_empty() {
        for p in super::var_check::check(&cases, &super::var_check::uses(text)) {
            let e = LoadError::at(file, text, p.line, p.column, p.message, Some(p.help));
            errors.push(e);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Suite {
        file: file.to_path_buf(),
        name: raw.suite,
        description: raw.description,
        cases,
    })
}

fn step(
    file: &Path,
    text: &str,
    raw: Spanned<RawStep>,
    case_rule: Option<&str>,
    profiles: &Profiles,
) -> Result<Step, Box<LoadError>> {
    let loc = location(file, &raw.referenced);
    let r = raw.value;
    let mut actions: Vec<Action> = Vec::new();
    let req = |spec| Action::Request(spec);
    actions.extend(r.get.map(RequestSpec::Get).map(req));
    actions.extend(r.set.map(RequestSpec::Set).map(req));
    actions.extend(r.add.map(RequestSpec::Add).map(req));
    actions.extend(r.delete.map(RequestSpec::Delete).map(req));
    actions.extend(r.get_instances.map(RequestSpec::GetInstances).map(req));
    actions.extend(r.get_supported_dm.map(RequestSpec::GetSupportedDm).map(req));
    actions.extend(
        r.get_supported_protocol
            .map(RequestSpec::GetSupportedProtocol)
            .map(req),
    );
    actions.extend(r.operate.map(RequestSpec::Operate).map(req));
    actions.extend(r.wait_notify.map(Action::WaitNotify));
    actions.extend(r.connect_record.map(Action::ConnectRecord));
    actions.extend(r.endpoint_ids.map(Action::EndpointIds));
    actions.extend(r.expect_no_notify.map(Action::ExpectNoNotify));
    actions.extend(r.serve_file.map(Action::ServeFile));
    actions.extend(r.reboot.map(Action::Reboot));
    actions.extend(r.mqtt_steer.map(Action::MqttSteer));
    actions.extend(r.expect_mqtt.map(Action::ExpectMqtt));
    actions.extend(r.expect_mqtt_retries.map(Action::ExpectMqttRetries));
    actions.extend(r.stomp_steer.map(Action::StompSteer));
    actions.extend(r.expect_stomp.map(Action::ExpectStomp));
    actions.extend(r.expect_stomp_retries.map(Action::ExpectStompRetries));
    actions.extend(r.ws_control.map(Action::WsControl));
    actions.extend(r.expect_close.map(Action::ExpectClose));
    actions.extend(r.expect_ws_retries.map(Action::ExpectWsRetries));
    actions.extend(r.coap_control.map(Action::CoapControl));
    actions.extend(r.expect_coap.map(Action::ExpectCoap));
    actions.extend(r.expect_mtp_tls.map(Action::ExpectMtpTls));
    actions.extend(r.discover.map(Action::Discover));
    actions.extend(r.expect_mdns_query.map(Action::ExpectMdnsQuery));
    actions.extend(
        r.expect_mdns_announcement
            .map(Action::ExpectMdnsAnnouncement),
    );
    actions.extend(r.dhcp_offer.map(Action::DhcpOffer));
    actions.extend(r.expect_dhcp.map(Action::ExpectDhcp));
    actions.extend(r.expect_dns.map(Action::ExpectDns));
    actions.extend(r.e2e_send.map(Action::E2eSend));
    actions.extend(r.e2e_tls.map(Action::E2eTls));
    actions.extend(r.e2e_tls_renegotiate.map(Action::E2eTlsRenegotiate));
    actions.extend(r.e2e_tls_answer.map(Action::E2eTlsAnswer));
    actions.extend(r.expect_e2e_tls_retries.map(Action::ExpectE2eTlsRetries));
    actions.extend(r.bad_record.map(Action::BadRecord));
    if actions.len() != 1 {
        let found: Vec<&str> = actions.iter().map(Action::keyword).collect();
        let message = if found.is_empty() {
            "step has no action".to_string()
        } else {
            format!(
                "step has {} actions ({}); a step sends one request",
                found.len(),
                found.join(", ")
            )
        };
        return Err(Box::new(LoadError::at(
            file,
            text,
            loc.line,
            loc.column,
            message,
            Some(format!("give each step exactly one of: {ACTIONS}")),
        )));
    }
    let action = actions.remove(0);
    let mut expect =
        match (&action, r.expect) {
            (Action::WaitNotify(_), Some(e)) => return Err(expect_not_allowed(
                file,
                text,
                &e,
                "wait_notify",
                "put the notification matchers (path, value, name, args, ...) inside wait_notify",
            )),
            (Action::ConnectRecord(_), Some(e)) => {
                return Err(expect_not_allowed(
                    file,
                    text,
                    &e,
                    "connect_record",
                    "connect_record checks one thing: that the Connect Record arrived first",
                ))
            }
            (Action::EndpointIds(_), Some(e)) => {
                return Err(expect_not_allowed(
                    file,
                    text,
                    &e,
                    "endpoint_ids",
                    "endpoint_ids checks one thing: that every Endpoint ID the Agent presented is well-formed",
                ))
            }
            (Action::ExpectNoNotify(_), Some(e)) => return Err(expect_not_allowed(
                file,
                text,
                &e,
                "expect_no_notify",
                "put the notification matchers inside expect_no_notify",
            )),
            (Action::ServeFile(_), Some(e)) => return Err(expect_not_allowed(
                file,
                text,
                &e,
                "serve_file",
                "serve_file only publishes a file; capture its url, sha256, size, ...",
            )),
            (Action::Reboot(_), Some(e)) => return Err(expect_not_allowed(
                file,
                text,
                &e,
                "reboot",
                "reboot checks the OperateResp, the drop and the reconnection itself; use disconnect_within_ms / reconnect_within_ms",
            )),
            (Action::ServeFile(f), None) => {
                if f.username.is_some() != f.password.is_some() {
                    return Err(Box::new(LoadError::at(
                        file,
                        text,
                        loc.line,
                        loc.column,
                        "serve_file: `username` and `password` go together",
                        Some("give both for Basic auth, or neither".into()),
                    )));
                }
                if f.name.is_empty() || f.name.contains(['/', '?', '#', ' ']) {
                    return Err(Box::new(LoadError::at(
                        file,
                        text,
                        loc.line,
                        loc.column,
                        format!("serve_file: name {:?} is not one URL path segment", f.name),
                        Some("use a plain file name such as fw.bin".into()),
                    )));
                }
                None
            }
            (
                a @ (Action::MqttSteer(_)
                | Action::ExpectMqtt(_)
                | Action::ExpectMqttRetries(_)
                | Action::StompSteer(_)
                | Action::ExpectStomp(_)
                | Action::ExpectStompRetries(_)
                | Action::WsControl(_)
                | Action::ExpectClose(_)
                | Action::ExpectWsRetries(_)
                | Action::ExpectMtpTls(_)
                | Action::CoapControl(_)
                | Action::ExpectCoap(_)
                | Action::Discover(_)
                | Action::ExpectMdnsQuery(_)
                | Action::ExpectMdnsAnnouncement(_)
                | Action::DhcpOffer(_)
                | Action::ExpectDhcp(_)
                | Action::ExpectDns(_)
                | Action::E2eTls(_)
                | Action::E2eTlsRenegotiate(_)
                | Action::E2eTlsAnswer(_)
                | Action::ExpectE2eTlsRetries(_)
                | Action::BadRecord(_)),
                e,
            ) => own_checks(file, text, &loc, a, e)?,
            (Action::E2eSend(spec), e) => e2e_send_expect(file, text, &loc, spec, e)?,
            (Action::WaitNotify(_), None)
            | (Action::ConnectRecord(_), None)
            | (Action::EndpointIds(_), None)
            | (Action::ExpectNoNotify(_), None)
            | (Action::Reboot(_), None) => None,
            (Action::Request(_), Some(e)) => {
                if let Some(p) = &e.value.profile {
                    let mut errs = Vec::new();
                    check_profile(file, text, p, profiles, &mut errs);
                    if let Some(err) = errs.pop() {
                        return Err(Box::new(err));
                    }
                }
                Some(e.value)
            }
            (Action::Request(_), None) => Some(Expect::default()),
        };
    let capture_sources: Option<(&str, &[&str])> = match &action {
        Action::ServeFile(_) => Some(("serve_file", SERVE_FILE_CAPTURES)),
        Action::Reboot(_) => Some(("reboot", REBOOT_CAPTURES)),
        Action::ExpectNoNotify(_) => Some(("expect_no_notify", &[])),
        Action::Discover(_) => Some(("discover", &[])),
        Action::ExpectMdnsQuery(_) => Some(("expect_mdns_query", &[])),
        Action::ExpectMdnsAnnouncement(_) => Some(("expect_mdns_announcement", &[])),
        Action::DhcpOffer(_) => Some(("dhcp_offer", &[])),
        Action::ExpectDhcp(_) => Some(("expect_dhcp", &[])),
        Action::ExpectDns(_) => Some(("expect_dns", &[])),
        // mqtt11: a field of the matched packet, e.g. client_id.
        Action::ExpectMqtt(_) => Some(("expect_mqtt", crate::suite::mqtt_steps::FIELDS)),
        Action::ExpectMqttRetries(_) => Some(("expect_mqtt_retries", &[])),
        Action::ExpectStompRetries(_) => Some(("expect_stomp_retries", &[])),
        Action::ExpectWsRetries(_) => Some(("expect_ws_retries", &[])),
        Action::ExpectE2eTlsRetries(_) => Some(("expect_e2e_tls_retries", &[])),
        Action::ExpectMtpTls(_) => Some(("expect_mtp_tls", &[])),
        _ => None,
    };
    if let Some((keyword, known)) = capture_sources {
        if let Some((var, what)) = r.capture.iter().find(|(_, w)| !known.contains(&w.as_str())) {
            return Err(Box::new(LoadError::at(
                file,
                text,
                loc.line,
                loc.column,
                format!("{keyword} cannot capture `{what}` (into `{var}`)"),
                Some(if known.is_empty() {
                    format!("{keyword} captures nothing")
                } else {
                    format!("{keyword} captures: {}", known.join(", "))
                }),
            )));
        }
    }
    if r.precondition && (r.capture.is_empty() || !matches!(action, Action::Request(_))) {
        return Err(Box::new(LoadError::at(
            file,
            text,
            loc.line,
            loc.column,
            "`precondition` needs a request step with a `capture`",
            Some("precondition: true skips the case when the step's capture finds nothing".into()),
        )));
    }
    if let (Action::Request(spec), Some(e)) = (&action, expect.as_mut()) {
        // The automatic first check: the response the request calls for.
        e.msg_type.get_or_insert(spec.response_type());
        if e.rule.is_none() {
            e.rule = case_rule.map(str::to_string);
        }
    }
    if let (Action::E2eSend(send), Some(e)) = (&action, expect.as_mut()) {
        if let Ok(Some(spec)) = send.request() {
            e.msg_type.get_or_insert(spec.response_type());
        }
        if e.rule.is_none() {
            e.rule = case_rule.map(str::to_string);
        }
    }
    Ok(Step {
        name: r.name,
        sender: r.sender,
        action,
        expect,
        capture: r.capture,
        precondition: r.precondition,
        timings: r.timings,
        location: loc,
    })
}

/// `e2e_send`: its fields checked; `expect` only for an `answered`
/// outcome (it applies to the answer of the step's payload), else none.
fn e2e_send_expect(
    file: &Path,
    text: &str,
    loc: &Location,
    spec: &crate::suite::e2e_steps::E2eSendSpec,
    expect: Option<Spanned<Expect>>,
) -> Result<Option<Expect>, Box<LoadError>> {
    use crate::suite::e2e_steps::{E2eOutcome, HELP};
    if let Err(why) = spec.validate() {
        return Err(Box::new(LoadError::at(
            file,
            text,
            loc.line,
            loc.column,
            why,
            Some(HELP.into()),
        )));
    }
    match (spec.outcome == E2eOutcome::Answered, expect) {
        (true, Some(e)) => Ok(Some(e.value)),
        (true, None) => Ok(Some(Expect::default())),
        (false, Some(e)) => Err(expect_not_allowed(
            file,
            text,
            &e,
            "an e2e_send whose outcome is not `answered`",
            "only an answered payload has a response to check; the outcome itself is the check",
        )),
        (false, None) => Ok(None),
    }
}

fn check_profile(
    file: &Path,
    text: &str,
    p: &Spanned<String>,
    profiles: &Profiles,
    errors: &mut Vec<LoadError>,
) {
    if profiles.get(&p.value).is_none() {
        let l = location(file, &p.referenced);
        errors.push(LoadError::at(
            file,
            text,
            l.line,
            l.column,
            format!("unknown profile `{}`", p.value),
            Some(format!("known profiles: {}", profiles.names().join(", "))),
        ));
    }
}

/// The steps that check what they do themselves (the interposer steps,
/// WebSocket control): their own check of their fields, the help shown
/// when it fails, and why they take no `expect:` block.
fn self_checking(action: &Action) -> Option<(Result<(), String>, &'static str, &'static str)> {
    use crate::suite::{
        bad_record_steps, coap_steps, discovery_steps, mqtt_steps, stomp_steps, tls_steps, ws_steps,
    };
    Some(match action {
        Action::MqttSteer(_) | Action::ExpectMqtt(_) | Action::ExpectMqttRetries(_) => (
            mqtt_steps::validate(action),
            mqtt_steps::HELP,
            "mqtt_steer only steers; expect_mqtt holds its packet fields itself",
        ),
        Action::StompSteer(_) | Action::ExpectStomp(_) | Action::ExpectStompRetries(_) => (
            stomp_steps::validate(action),
            stomp_steps::HELP,
            "stomp_steer only steers; expect_stomp holds its frame headers itself",
        ),
        Action::WsControl(c) => (c.validate(), ws_steps::HELP, WS_NO_EXPECT),
        Action::ExpectClose(c) => (c.validate(), ws_steps::HELP, WS_NO_EXPECT),
        Action::ExpectWsRetries(r) => (r.validate(), ws_steps::HELP, WS_NO_EXPECT),
        Action::CoapControl(c) => (c.validate(), coap_steps::HELP, COAP_NO_EXPECT),
        Action::ExpectCoap(c) => (c.validate(), coap_steps::HELP, COAP_NO_EXPECT),
        Action::ExpectMtpTls(t) => (
            t.validate(),
            tls_steps::HELP,
            "expect_mtp_tls holds its version itself",
        ),
        // The discovery step (TP-469 section 8).
        Action::Discover(d) => (
            d.validate(),
            discovery_steps::HELP,
            "discover holds the discovery rules itself; choose the service, every_mtp or answered_only",
        ),
        Action::ExpectMdnsQuery(q) => (
            q.validate(),
            discovery_steps::HELP,
            "expect_mdns_query holds its check itself: the name asked about",
        ),
        Action::ExpectMdnsAnnouncement(a) => (
            a.validate(),
            discovery_steps::HELP,
            "expect_mdns_announcement holds its checks itself: the announcement, its instance name and its records",
        ),
        Action::DhcpOffer(o) => (
            o.validate(),
            crate::suite::dhcp_steps::HELP,
            "dhcp_offer only sets what the DHCP server offers",
        ),
        Action::ExpectDhcp(e) => (
            e.validate(),
            crate::suite::dhcp_steps::HELP,
            "expect_dhcp holds the DHCP rules itself (R-DIS.1)",
        ),
        Action::ExpectDns(e) => (
            e.validate(),
            crate::suite::dhcp_steps::HELP,
            "expect_dns holds its check itself: the name asked for",
        ),
        Action::E2eTls(t) => (
            t.validate(),
            crate::suite::e2e_steps::TLS_HELP,
            "e2e_tls checks the handshake itself; the request steps after it have their own expect",
        ),
        Action::E2eTlsAnswer(a) => (
            a.validate(),
            crate::suite::e2e_origin_steps::HELP,
            "e2e_tls_answer only arms the harness; expect_e2e_tls_retries holds the checks",
        ),
        Action::ExpectE2eTlsRetries(r) => (
            r.validate(),
            crate::suite::e2e_origin_steps::HELP,
            "expect_e2e_tls_retries holds its checks itself: the back-off windows and the handshake after them",
        ),
        Action::E2eTlsRenegotiate(_) => (
            Ok(()),
            crate::suite::e2e_steps::TLS_HELP,
            "e2e_tls_renegotiate only sends the request; the next request step's E2E check judges what the Agent answers",
        ),
        Action::BadRecord(b) => (
            b.validate(),
            bad_record_steps::HELP,
            "bad_record checks what the Agent does after the Record itself: silence or a Record Error, its session kept, a Get answered",
        ),
        _ => return None,
    })
}

const COAP_NO_EXPECT: &str =
    "coap_control holds its expect_code itself; expect_coap holds its checks itself";

const WS_NO_EXPECT: &str = "ws_control checks its own action; expect_close holds its code itself";

/// Runs a self-checking step's own check, and refuses an `expect:` block
/// given to it. Such a step has no expectation of its own.
fn own_checks(
    file: &Path,
    text: &str,
    loc: &Location,
    action: &Action,
    expect: Option<Spanned<Expect>>,
) -> Result<Option<Expect>, Box<LoadError>> {
    let Some((checked, help, no_expect)) = self_checking(action) else {
        return Ok(None);
    };
    if let Some(e) = expect {
        return Err(expect_not_allowed(
            file,
            text,
            &e,
            action.keyword(),
            no_expect,
        ));
    }
    checked.map(|()| None).map_err(|why| {
        Box::new(LoadError::at(
            file,
            text,
            loc.line,
            loc.column,
            why,
            Some(help.into()),
        ))
    })
}

/// `expect` given to an action that does not take one.
fn expect_not_allowed(
    file: &Path,
    text: &str,
    expect: &Spanned<Expect>,
    action: &str,
    help: &str,
) -> Box<LoadError> {
    let l = location(file, &expect.referenced);
    Box::new(LoadError::at(
        file,
        text,
        l.line,
        l.column,
        format!("`expect` does not apply to {action}"),
        Some(help.to_string()),
    ))
}

fn location(file: &Path, l: &serde_saphyr::Location) -> Location {
    Location {
        file: file.to_path_buf(),
        line: l.line() as usize,
        column: l.column() as usize,
    }
}

fn yaml_error(file: &Path, text: &str, e: &serde_saphyr::Error) -> LoadError {
    let (line, column) = e
        .location()
        .map(|l| (l.line() as usize, l.column() as usize))
        .unwrap_or((1, 1));
    let message = e.render_with_formatter(&serde_saphyr::UserMessageFormatter);
    let message = plain_type_words(&strip_location(&message));
    let help = if message.contains("unknown field") {
        Some("check the spelling; test-cases/README.md lists every key".to_string())
    } else if message.contains("invalid regex") {
        Some("the `regex` matcher takes a Rust regular expression".to_string())
    } else {
        None
    };
    LoadError::at(file, text, line.max(1), column.max(1), message, help)
}

/// serde's "invalid u32" says what Rust wanted; say what the file needs.
pub(crate) fn plain_type_words(message: &str) -> String {
    let word = match message {
        "invalid u8" | "invalid u16" | "invalid u32" | "invalid u64" | "invalid usize" => {
            "a whole number, 0 or more and not too large"
        }
        "invalid i32" | "invalid i64" => "a whole number, not too large",
        "invalid boolean" => "true or false",
        _ => return message.to_string(),
    };
    format!("{message}: expected {word}")
}

/// Drops the location serde-saphyr appends or prepends (we show our own).
pub(crate) fn strip_location(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message);
    let re =
        regex::Regex::new(r"(?i)^(error: )?(line \d+ column \d+: )?|( at line \d+,? column \d+)$");
    match re {
        Ok(re) => re.replace_all(first, "").trim().to_string(),
        Err(_) => first.to_string(),
    }
}

/// Byte offset and length of the token at 1-based line/column (column in
/// characters), for the snippet highlight.
fn token_span(text: &str, line: usize, column: usize) -> (usize, usize) {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let col = l
                .char_indices()
                .nth(column.saturating_sub(1))
                .map(|(b, _)| b)
                .unwrap_or(l.trim_end_matches('\n').len());
            let rest = &l[col..];
            let len = rest
                .find(|c: char| c.is_whitespace() || ":,{}[]#".contains(c))
                .unwrap_or(rest.len());
            return (offset + col, len.max(1).min(rest.len()));
        }
        offset += l.len();
    }
    (text.len(), 0)
}
