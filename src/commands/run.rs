//! `plugfest run`: load the cases, reach the Agent (a target's, or the
//! built-in one started in-process over loopback), run, and report.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};

use super::loopback;
use super::validate::print_load_errors;
use super::{
    exit, mqtt_version, parse_faults, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_PASSED,
};
use crate::agent::faults::Fault;
use crate::agent::runtime::AgentHost;
use crate::agent::{Agent, AgentConfig};
use crate::cli::{MtpArg, RunArgs};
use crate::datamodel::Profiles;
use crate::mtp::coap::{CoapConfig, CoapEndpoint};
use crate::mtp::mqtt::{MqttConfig, MqttEndpoint, MqttTls};
use crate::mtp::stomp::{StompClient, StompConfig};
use crate::mtp::tls::{load_certs, load_identity, ClientAuth, ClientTls, ServerTls, ServerTrust};
use crate::mtp::uds::{UdsDialer, UdsListener};
use crate::mtp::websocket::{WsDialer, WsServer};
use crate::mtp::MtpConnector;
use crate::results::{Counts, InputProblem, RunResult};
use crate::runner::{RunContext, Runner, Selection};
use crate::session::{Session, SessionConfig};
use crate::suite::loader;
use crate::suite::Vars;
use crate::target::{
    controller_destination, controller_topic, ControllerEntry, FileServerTarget, MqttTarget,
    MtpKind, StompTarget, Target, Timeouts, TlsTarget, UdsTarget, WebSocketTarget,
    DEFAULT_AGENT_ID, DEFAULT_CONTROLLER_ID,
};
use crate::terminal::{summary_table, Detail, Progress, Style};
use indicatif::MultiProgress;

/// Where the run's Agent is and who talks to it.
pub(crate) struct Setup {
    pub(crate) connector: Box<dyn MtpConnector>,
    /// The MTP's name for reports: `WebSocket`, `MQTT 5`, `MQTT 3.1.1`.
    pub(crate) mtp_label: String,
    pub(crate) target_name: String,
    pub(crate) session: SessionConfig,
    /// The in-process Agent's task, ended when the run ends.
    pub(crate) agent_task: Option<tokio::task::JoinHandle<()>>,
    /// The loopback broker, stopped when the run ends (also on drop).
    pub(crate) broker: Option<Box<dyn Send>>,
    /// How TLS is set up, for the header and results; None without TLS.
    pub(crate) tls: Option<String>,
    /// Variables, the silence window and the file server's place.
    pub(crate) context: RunContext,
    /// `--e2e` / `e2e:`: the segment size of the session context.
    pub(crate) e2e: Option<usize>,
    /// `--advertise-controller`: the DNS-SD record, withdrawn when the run ends.
    pub(crate) _advertiser: Option<std::sync::Arc<crate::discovery::mdns::Advertiser>>,
    /// `--advertise-controller`: the mDNS question listener, stopped when
    /// the run ends.
    pub(crate) _mdns_questions: Option<crate::discovery::mdns_heard::Listener>,
    /// `--dhcp IFACE`: the harness's DHCP server, stopped when the run ends.
    pub(crate) _dhcp: Option<crate::discovery::dhcp::DhcpServer>,
    /// The other Controllers the harness can act as (`controllers:`).
    pub(crate) controllers: Vec<loopback::ExtraController>,
    /// The run's silence windows may end at a barrier request's answer
    /// (`Session::with_silence_barrier`): the in-process Agent over an MTP
    /// that keeps order, and no interposer in between.
    pub(crate) silence_barrier: bool,
}

/// What results say when server certificates are not verified.
const INSECURE: &str = "INSECURE: server certificates are not verified (--insecure / tls.insecure)";

pub async fn run(args: RunArgs) -> ExitCode {
    if let Some(file) = &args.targets {
        return super::targets::run_targets(file, &args).await;
    }
    let outcome = execute(&args, None).await;
    if let Some(result) = &outcome.result {
        print_summary(result, outcome.interrupted, &args.out, Style::detect());
    }
    if let Some(why) = &outcome.why {
        eprintln!("{why}");
    }
    exit(outcome.code)
}

/// What one target's run came to: its exit code, its results when it got
/// as far as writing them, and a note for stderr after the summary.
pub(crate) struct Outcome {
    pub code: u8,
    pub result: Option<RunResult>,
    pub interrupted: bool,
    pub why: Option<String>,
}

impl Outcome {
    fn setup_error() -> Outcome {
        Outcome {
            code: EXIT_BAD_INPUT,
            result: None,
            interrupted: false,
            why: None,
        }
    }
}

/// The table per profile and the closing line.
pub(crate) fn print_summary(result: &RunResult, interrupted: bool, out: &Path, style: Style) {
    let c = &result.counts;
    crate::say!("{}", summary_table(result, style).trim_end());
    crate::say!(
        "{}{} passed, {} failed, {} errors, {} skipped ({} cases); reports in {}",
        if interrupted { "interrupted: " } else { "" },
        c.passed,
        c.failed,
        c.error,
        c.skipped,
        c.total(),
        out.display()
    );
}

/// Runs one target into `args.out`; prints progress (into `group`, a bar
/// among several, when running many targets) but not the summary.
pub(crate) async fn execute(args: &RunArgs, group: Option<&MultiProgress>) -> Outcome {
    let profiles = match &args.profiles_dir {
        None => Profiles::builtin(),
        Some(dir) => match Profiles::load_dir(dir) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("cannot load profiles from {}: {e}", dir.display());
                return Outcome::setup_error();
            }
        },
    };
    // Bad templates are a setup error before anything runs, not a run
    // whose reports cannot be written.
    let report_options = crate::report::ReportOptions {
        templates: args.templates.clone(),
    };
    if let Err(e) = crate::report::TemplateSet::load(args.templates.as_deref())
        .and_then(|t| t.environment().map(drop))
    {
        eprintln!("{e}");
        return Outcome::setup_error();
    }
    // A bad file is reported and the good ones still run (each loads alone).
    let (suites, load_errors) = loader::load_path_partial(&args.cases, &profiles);
    if !load_errors.is_empty() {
        print_load_errors(&load_errors);
    }
    let mut setup = match prepare(args).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Outcome::setup_error();
        }
    };
    let selection = Selection {
        case_ids: args.case_ids.clone(),
        // Released names and unions select their DRAFT profiles' cases.
        profiles: profiles.expand_selection(&args.profiles),
    };
    let mut result = RunResult {
        plan_timings: args.plan_timings,
        tool: format!("usp-plugfest {}", env!("CARGO_PKG_VERSION")),
        started_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        // In a targets file the entry's name leads, so matrix rows read well.
        target: match &args.target_label {
            Some(label) => format!("{label} ({})", setup.target_name),
            None => setup.target_name.clone(),
        },
        mtp: setup.mtp_label.clone(),
        connection: setup.connector.describe(),
        controller_endpoint_id: setup.session.controller_id.clone(),
        agent_endpoint_id: setup.session.agent_id.clone(),
        tls: setup.tls.clone(),
        complete: false,
        counts: Counts::default(),
        cases: Vec::new(),
        journaled: 0,
        input_problems: load_errors
            .iter()
            .map(|e| InputProblem {
                location: e.location.to_string(),
                message: e.message.clone(),
            })
            .collect(),
    };
    if result
        .tls
        .as_deref()
        .is_some_and(|t| t.starts_with("INSECURE"))
    {
        // Loud even with --quiet: a verdict obtained this way proves less.
        eprintln!(
            "WARNING: TLS server certificate verification is OFF; anyone could have answered"
        );
    }
    let mut session = Session::new(setup.connector, setup.session.clone())
        .with_silence_barrier(setup.silence_barrier);
    if let Some(size) = setup.e2e {
        session = session.with_e2e(size);
    }
    let style = Style::detect();
    let total = suites
        .iter()
        .flat_map(|s| s.cases.iter())
        .filter(|c| selection.admits(c))
        .count();
    let progress = Progress::for_target(
        detail(args),
        style,
        args.target_label.as_deref(),
        total,
        group,
    );
    // Through the progress display: above its bar, prefixed in an interop run.
    progress.note(&format!(
        "usp-plugfest: {} via {}",
        result.target, result.connection
    ));
    if let Some(tls) = &result.tls {
        progress.note(&format!("TLS: {tls}"));
    }
    let (sessions, unavailable) = controller_sessions(
        std::mem::take(&mut setup.controllers),
        &setup.session,
        setup.e2e,
    );
    let mut runner = Runner::new(session, &profiles, args.out.clone(), progress)
        .with_context(setup.context.clone())
        .with_controllers(sessions, unavailable);
    runner.set_report_options(report_options);
    let interrupted = tokio::select! {
        _ = runner.run(&suites, &selection, &mut result) => false,
        _ = tokio::signal::ctrl_c() => true,
    };
    if interrupted {
        if let Some(case) = runner.interrupted_case("SIGINT (Ctrl-C)") {
            if !args.quiet {
                crate::say!("INTERRUPTED {} {}", case.id, case.title);
            }
            result.push(case);
        }
    }
    runner.progress_finish();
    runner.session.close().await;
    runner.close_controllers().await;
    if let Some(task) = setup.agent_task.take() {
        task.abort();
        let _ = task.await;
    }
    if let Some(broker) = setup.broker.take() {
        // Stopping a broker can block (rabbitmqctl stop takes a second or two).
        let _ = tokio::task::spawn_blocking(move || drop(broker)).await;
    }
    result.complete = !interrupted;
    // The journal gets the interrupted case and its end line; the whole
    // reports are written once more from `result`, off the workers.
    let (result, written) = runner.finish_reports(result).await;
    if let Err(e) = written {
        eprintln!("cannot write reports to {}: {e}", args.out.display());
        return Outcome::setup_error();
    }
    let c = result.counts.clone();
    let mut outcome = Outcome {
        code: EXIT_PASSED,
        result: Some(result),
        interrupted,
        why: None,
    };
    outcome.code = if interrupted {
        // 128 + SIGINT, as a shell reports a program that Ctrl-C stopped.
        EXIT_INTERRUPTED
    } else if !load_errors.is_empty() || c.total() == 0 {
        // With a bad file the one message is the file's problem.
        if c.total() == 0 && load_errors.is_empty() {
            outcome.why = Some("no test case matched the selection".into());
        }
        EXIT_BAD_INPUT
    } else if c.all_passed() {
        EXIT_PASSED
    } else {
        EXIT_FAILED
    };
    outcome
}

/// One session per other Controller the run can act as, and the reasons
/// for those it cannot (name → why).
pub(crate) fn controller_sessions(
    controllers: Vec<loopback::ExtraController>,
    base: &SessionConfig,
    e2e: Option<usize>,
) -> (
    std::collections::BTreeMap<String, Session>,
    std::collections::BTreeMap<String, String>,
) {
    let mut sessions = std::collections::BTreeMap::new();
    let mut unavailable = std::collections::BTreeMap::new();
    for c in controllers {
        match c.connector {
            Ok(connector) => {
                let config = SessionConfig {
                    controller_id: c.entry.endpoint_id.clone(),
                    ..base.clone()
                };
                let mut session = Session::new(connector, config);
                // Every Controller talks in a session context when the run does.
                if let Some(size) = e2e {
                    session = session.with_e2e(size);
                }
                sessions.insert(c.entry.name.clone(), session);
            }
            Err(why) => {
                unavailable.insert(c.entry.name.clone(), why);
            }
        }
    }
    (sessions, unavailable)
}

/// `controller_id_NAME` for each listed Controller, so cases can name it
/// (e.g. in a search path for its `Controller.{i}.` row).
fn controller_vars(context: &mut RunContext, controllers: &[loopback::ExtraController]) {
    for c in controllers {
        context.vars.set(
            &format!("{}{}", crate::runner::CONTROLLER_ID_VAR, c.entry.name),
            &c.entry.endpoint_id,
        );
    }
}

/// How the harness reaches the Agent as each of the target's other
/// Controllers: over WebSocket or UDS, dialing the Agent again with the
/// Controller's Endpoint ID (role client) or listening on the Controller's
/// own `listen` address or `socket` (role server); over MQTT or STOMP, one
/// more client of the target's broker on its own topic or destination.
/// CoAP is not built.
async fn target_controllers(
    target: &Target,
    tls: Option<&TlsTarget>,
) -> Result<Vec<loopback::ExtraController>, String> {
    let mut out = Vec::new();
    for entry in &target.controllers {
        let connector: Result<Box<dyn MtpConnector>, String> = match (&target.mtp, &target.websocket) {
            (MtpKind::Websocket, Some(WebSocketTarget::Client { url })) => {
                let mut dialer = WsDialer::new(url, &entry.endpoint_id);
                if let Some(t) = tls {
                    let (client_tls, _) = harness_client_tls(t, "wss client", "the Agent's")?;
                    dialer = dialer.with_tls(client_tls);
                }
                Ok(Box::new(dialer))
            }
            (MtpKind::Websocket, Some(WebSocketTarget::Server { path, .. })) => match &entry.listen {
                Some(listen) => {
                    let mut server = WsServer::bind(listen, path.clone(), &entry.endpoint_id)
                        .await
                        .map_err(|e| format!("controllers: {}: {e}", entry.name))?;
                    if let Some(t) = tls {
                        let (server_tls, _) = harness_server_tls(t)?;
                        server = server.with_tls(server_tls);
                    }
                    // The Agent dials every Controller at start; its first
                    // case may come much later (src/mtp/websocket/ahead.rs).
                    Ok(Box::new(server.accepting_ahead()))
                }
                None => Err(format!(
                    "with websocket role server the harness needs an address to listen on as `{}`: set `listen:` on its `controllers:` entry (and point the Agent's Controller.{{i}}.MTP.{{i}} for {} at it)",
                    entry.name, entry.endpoint_id
                )),
            },
            (MtpKind::Mqtt, _) => match &target.mqtt {
                Some(m) => mqtt_controller(m, entry, tls).await,
                None => Err("no mqtt section".into()),
            },
            (MtpKind::Stomp, _) => match &target.stomp {
                Some(s) => stomp_controller(s, entry, tls).await,
                None => Err("no stomp section".into()),
            },
            (MtpKind::Uds, _) => match (&target.uds, &entry.socket) {
                (Some(UdsTarget::Client { path }), _) => {
                    Ok(Box::new(UdsDialer::new(path, &entry.endpoint_id)))
                }
                (Some(UdsTarget::Server { .. }), Some(socket)) => UdsListener::bind(socket, &entry.endpoint_id)
                    .map(|l| Box::new(l) as Box<dyn MtpConnector>)
                    .map_err(|e| format!("controllers: {}: {e}", entry.name)),
                (Some(UdsTarget::Server { .. }), None) => Err(format!(
                    "with uds role server the harness needs a socket to bind as `{}`: set `socket:` on its `controllers:` entry (and have the Agent connect to it for {})",
                    entry.name, entry.endpoint_id
                )),
                (None, _) => Err("no uds section".into()),
            },
            _ => Err("acting as another Controller is built for WebSocket, MQTT, STOMP and UDS targets (not for CoAP ones)".into()),
        };
        out.push(loopback::ExtraController {
            entry: entry.clone(),
            connector,
        });
    }
    Ok(out)
}

/// How much `--quiet` / `--verbose` ask to see while cases run.
pub(crate) fn detail(args: &RunArgs) -> Detail {
    if args.quiet {
        Detail::Quiet
    } else if args.verbose {
        Detail::Records
    } else {
        Detail::Cases
    }
}

pub(crate) async fn prepare(args: &RunArgs) -> Result<Setup, String> {
    prepare_with(args, None).await
}

/// `prepare`, the built-in Agent's MQTT run on a mosquitto shared by many
/// runs when `shared_mqtt` is given (`plugfest bench --mtp mqtt`).
pub(crate) async fn prepare_with(
    args: &RunArgs,
    shared_mqtt: Option<loopback::SharedMqtt>,
) -> Result<Setup, String> {
    match &args.target {
        Some(path) => from_target(path, args).await,
        None => with_builtin_agent(args, shared_mqtt).await,
    }
}

fn session_config(
    controller_id: &str,
    agent_id: Option<String>,
    t: &Timeouts,
    args: &RunArgs,
) -> SessionConfig {
    SessionConfig {
        controller_id: controller_id.to_string(),
        agent_id,
        request_timeout: args
            .timeout_ms
            .map(Duration::from_millis)
            .unwrap_or(t.request()),
        connect_timeout: t.connect(),
        connect_record_timeout: t.connect_record(),
    }
}

async fn from_target(path: &Path, args: &RunArgs) -> Result<Setup, String> {
    if !args.agent_faults.is_empty() {
        return Err("--agent-fault applies to the built-in Agent only, not to a --target".into());
    }
    let target = Target::load(path).map_err(|e| e.to_string())?;
    let mut tls = target
        .tls
        .as_ref()
        .map(|t| t.relative_to(path.parent().unwrap_or(Path::new("."))));
    if args.insecure {
        match tls.as_mut() {
            Some(t) => t.insecure = true,
            None => return Err("--insecure applies to a target with a `tls:` section".into()),
        }
    }
    let mut tls_summary = None;
    let mut advertiser = None;
    // As the WebSocket server the Agent dials, the harness can steer the
    // wire for `ws_control` / `expect_close` steps.
    let mut ws_control = None;
    let mut ws_second_session = None;
    let mut coap_control = None;
    // `interpose:` in the target's mqtt or stomp section.
    let mut mqtt_interposer = None;
    let mut stomp_interposer = None;
    let mut interposer: Option<Box<dyn Send>> = None;
    let mut interposer_wait = None;
    // `--dhcp IFACE`: the server, and the run's DHCP setting.
    let mut dhcp = (None, crate::runner::dhcp_steps::DhcpRun::default());
    let (connector, mtp_label): (Box<dyn MtpConnector>, String) = match target.mtp {
        MtpKind::Websocket => match target.websocket.clone() {
            Some(WebSocketTarget::Server { listen, path }) => {
                let resource = path.clone().unwrap_or_else(|| "/".into());
                let control = crate::mtp::websocket::WsControl::new();
                ws_control = Some(control.clone());
                let mut server = WsServer::bind(&listen, path, &target.controller_endpoint_id)
                    .await
                    .map_err(|e| e.to_string())?
                    .with_control(control);
                if let Some(t) = &tls {
                    let (server_tls, summary) = harness_server_tls(t)?;
                    server = server.with_tls(server_tls);
                    tls_summary = Some(summary);
                }
                if let Some(interface) = &args.dhcp {
                    dhcp = dhcp_server(
                        interface,
                        &server,
                        &resource,
                        &target.controller_endpoint_id,
                        tls.is_some(),
                    )
                    .await?;
                }
                if args.advertise_controller {
                    advertiser = Some(advertise_controller(
                        &server,
                        &resource,
                        &target.controller_endpoint_id,
                        tls.is_some(),
                    )?);
                }
                (Box::new(server), "WebSocket".into())
            }
            Some(WebSocketTarget::Client { url }) => {
                let mut dialer = WsDialer::new(&url, &target.controller_endpoint_id);
                if let Some(t) = &tls {
                    let (client_tls, summary) = harness_client_tls(t, "wss client", "the Agent's")?;
                    dialer = dialer.with_tls(client_tls);
                    tls_summary = Some(summary);
                }
                ws_second_session = Some(crate::mtp::websocket::control::SecondSession(
                    dialer.clone(),
                ));
                (Box::new(dialer), "WebSocket".into())
            }
            None => return Err(format!("{}: no websocket section", path.display())),
        },
        MtpKind::Mqtt => {
            let Some(m) = target.mqtt.clone() else {
                return Err(format!("{}: no mqtt section", path.display()));
            };
            let label = m.version.label().to_string();
            let mqtt_tls = match &tls {
                Some(t) => {
                    let (client_tls, summary) =
                        harness_client_tls(t, "TLS to the MQTT broker", "the broker's")?;
                    tls_summary = Some(summary);
                    Some(MqttTls { client: client_tls })
                }
                None => None,
            };
            let endpoint = mqtt_endpoint(&m, &target.controller_endpoint_id, mqtt_tls).await?;
            if let Some(i) = &m.interpose {
                let running =
                    target_interposer(
                        tls.is_some(),
                        "MQTT",
                        i,
                        &m.broker,
                        |at, broker| async move {
                            crate::interpose::mqtt::start(&at, &broker, None).await
                        },
                    )
                    .await?;
                mqtt_interposer = Some(running.handle());
                interposer_wait = Some(Duration::from_millis(i.wait_ms));
                interposer = Some(Box::new(running));
            }
            (Box::new(endpoint), label)
        }
        MtpKind::Stomp => {
            let Some(s) = target.stomp.clone() else {
                return Err(format!("{}: no stomp section", path.display()));
            };
            let client_tls = match &tls {
                Some(t) => {
                    let (client_tls, summary) =
                        harness_client_tls(t, "STOMP over TLS", "the broker's")?;
                    tls_summary = Some(summary);
                    Some(client_tls)
                }
                None => None,
            };
            // A broker that is down or refuses us is a setup error (exit 2)
            // naming the broker, not a run of unreachable cases.
            let client = stomp_client(
                &s,
                &target.controller_endpoint_id,
                s.controller_destination.clone(),
                client_tls,
            )
            .await?;
            if let Some(i) = &s.interpose {
                let running =
                    target_interposer(
                        tls.is_some(),
                        "STOMP",
                        i,
                        &s.broker,
                        |at, broker| async move {
                            crate::interpose::stomp::start(&at, &broker, None).await
                        },
                    )
                    .await?;
                stomp_interposer = Some(running.handle());
                interposer_wait = Some(Duration::from_millis(i.wait_ms));
                interposer = Some(Box::new(running));
            }
            (Box::new(client), "STOMP".to_string())
        }
        MtpKind::Uds => match target.uds.clone() {
            Some(UdsTarget::Server { path: socket }) => (
                Box::new(
                    UdsListener::bind(&socket, &target.controller_endpoint_id)
                        .map_err(|e| e.to_string())?,
                ),
                crate::mtp::uds::MTP.to_string(),
            ),
            Some(UdsTarget::Client { path: socket }) => (
                Box::new(UdsDialer::new(&socket, &target.controller_endpoint_id)),
                crate::mtp::uds::MTP.to_string(),
            ),
            None => return Err(format!("{}: no uds section", path.display())),
        },
        MtpKind::Coap => {
            let Some(c) = target.coap.clone() else {
                return Err(format!("{}: no coap section", path.display()));
            };
            let control = crate::mtp::coap::CoapControl::new();
            coap_control = Some(control.clone());
            let config = CoapConfig::new(&c.listen, &c.path, c.agent_uri.clone())
                .with_ack_timeout(Duration::from_millis(c.ack_timeout_ms))
                .with_control(control);
            (
                Box::new(
                    CoapEndpoint::bind(config)
                        .await
                        .map_err(|e| e.to_string())?,
                ),
                crate::mtp::coap::MTP.to_string(),
            )
        }
    };
    if args.dhcp.is_some() && dhcp.0.is_none() {
        return Err("--dhcp needs a target whose websocket role is server: the Controller URL it offers (option 125, sub-option 25) is where the harness listens".into());
    }
    if args.advertise_controller && advertiser.is_none() {
        return Err("--advertise-controller needs a target whose websocket role is server (the harness listens where the Agent connects)".into());
    }
    // As an advertised Controller the harness also hears the Agent's mDNS
    // questions about its host (TP-469 8.4); browsing for Agents, their
    // unasked announcements (8.5).
    let mdns_listener = if args.advertise_controller {
        Some(
            crate::discovery::mdns_heard::Listener::start().map_err(|e| {
                format!("--advertise-controller: cannot listen for mDNS questions on loopback: {e}")
            })?,
        )
    } else if args.discovery {
        // Where loopback carries no multicast the announcement step skips,
        // as the browsing ones do.
        crate::discovery::mdns_heard::Listener::start().ok()
    } else {
        None
    };
    let controllers = target_controllers(&target, tls.as_ref()).await?;
    let mut context = run_context(
        &target.vars,
        &target.timeouts,
        target.file_server.clone(),
        args,
        e2e_setting(args, target.e2e.as_ref().map(|e| e.segment_size)),
    )?;
    controller_vars(&mut context, &controllers);
    context.notify_latency = Duration::from_millis(
        target
            .timeouts
            .notify_ms
            .unwrap_or(crate::target::DEFAULT_TARGET_NOTIFY_MS),
    );
    Ok(Setup {
        connector,
        mtp_label,
        target_name: target.name.clone(),
        session: session_config(
            &target.controller_endpoint_id,
            target.agent_endpoint_id.clone(),
            &target.timeouts,
            args,
        ),
        agent_task: None,
        silence_barrier: false,
        // The interposer relays as long as it lives: the whole run.
        broker: interposer,
        tls: tls_summary,
        context: RunContext {
            ws_control,
            ws_second_session,
            coap_control,
            mqtt_interposer,
            stomp_interposer,
            interposer_wait: interposer_wait.unwrap_or(context.interposer_wait),
            mtp_tls: tls.is_some(),
            discovery: discovery_setting(args, &target),
            dhcp: dhcp.1,
            mdns_questions: mdns_listener
                .as_ref()
                .filter(|_| args.advertise_controller)
                .map(|l| l.questions()),
            mdns_heard: mdns_listener.as_ref().map(|l| l.logs()),
            ..context
        },
        e2e: e2e_setting(args, target.e2e.as_ref().map(|e| e.segment_size)),
        _advertiser: advertiser.map(std::sync::Arc::new),
        _mdns_questions: mdns_listener,
        _dhcp: dhcp.0,
        controllers,
    })
}

/// `interpose:` in a target's mqtt or stomp section: the interposer
/// listens where the target file says (the Agent's MTP client is pointed
/// there) and relays to the target's broker.
async fn target_interposer<I, F, Fut>(
    tls: bool,
    kind: &str,
    interpose: &crate::target::InterposeTarget,
    broker: &str,
    start: F,
) -> Result<I, String>
where
    F: FnOnce(String, String) -> Fut,
    Fut: std::future::Future<Output = std::io::Result<I>>,
{
    if tls {
        return Err(format!(
            "{kind} `interpose:` with a `tls:` section is not built: in front of a target's broker the interposer listens and relays in plain TCP only"
        ));
    }
    start(interpose.listen.clone(), broker.to_string())
        .await
        .map_err(|e| {
            format!(
                "cannot start the {kind} interposer on {}: {e}",
                interpose.listen
            )
        })
}

/// `--discovery`: `discover` steps may browse; the SRV port they expect is
/// the one the harness dials (a WebSocket target whose role is client).
fn discovery_setting(
    args: &RunArgs,
    target: &Target,
) -> crate::runner::discovery_steps::DiscoveryRun {
    use crate::runner::discovery_steps::DiscoveryRun;
    if !args.discovery {
        return DiscoveryRun::default();
    }
    let agent_port = match (&target.mtp, &target.websocket) {
        (MtpKind::Websocket, Some(WebSocketTarget::Client { url })) => {
            crate::runner::discovery_steps::port_of_ws_url(url)
        }
        _ => None,
    };
    DiscoveryRun::On { agent_port }
}

/// `--dhcp IFACE`: a DHCP server on the interface whose option 125 points
/// the Agent at the harness's WebSocket server, reached at the interface's
/// address when the server listens on every address.
async fn dhcp_server(
    interface: &str,
    server: &WsServer,
    resource: &str,
    controller_id: &str,
    tls: bool,
) -> Result<
    (
        Option<crate::discovery::dhcp::DhcpServer>,
        crate::runner::dhcp_steps::DhcpRun,
    ),
    String,
> {
    use crate::discovery::dhcp::DhcpServer;
    use crate::runner::dhcp_steps::DhcpRun;
    let (address, _) = crate::discovery::dhcp::interface_ipv4(interface)
        .map_err(|e| format!("--dhcp {interface}: {e}"))?;
    let listening: std::net::SocketAddr = server
        .local_addr()
        .parse()
        .map_err(|e| format!("--dhcp: the WebSocket server's address: {e}"))?;
    let host = if listening.ip().is_unspecified() {
        std::net::IpAddr::V4(address)
    } else {
        listening.ip()
    };
    let url_at = |host: std::net::IpAddr| {
        format!(
            "{}://{}{}",
            if tls { "wss" } else { "ws" },
            std::net::SocketAddr::new(host, listening.port()),
            resource
        )
    };
    let controller_url = url_at(host);
    // An Agent asking over DHCPv6 may have no IPv4: where the WebSocket
    // server takes IPv6 connections, option 17 names it at the
    // interface's IPv6 address.
    let controller_url_v6 = match (
        listening.ip(),
        crate::discovery::dhcp::interface_ipv6(interface),
    ) {
        (std::net::IpAddr::V6(l), Some(a6)) if l.is_unspecified() => Some(url_at(a6.into())),
        (std::net::IpAddr::V6(l), Some(_)) => Some(url_at(l.into())),
        _ => None,
    };
    let offer = crate::runner::dhcp_steps::offer_of(
        &Default::default(),
        &controller_url,
        controller_url_v6.as_deref(),
        controller_id,
    );
    let running = DhcpServer::start(interface, offer).await?;
    crate::say!("DHCP server on {interface} ({address}): offers {controller_url} in option 125");
    if let Some(address6) = running.handle().address6() {
        crate::say!(
            "DHCPv6 server on {interface} ({address6}): offers {} in option 17",
            controller_url_v6.as_deref().unwrap_or(&controller_url)
        );
    }
    let run = DhcpRun::On {
        server: running.handle(),
        controller_url,
        controller_url_v6,
        controller_id: controller_id.to_string(),
    };
    Ok((Some(running), run))
}

/// `--advertise-controller`: the harness's WebSocket server as a DNS-SD
/// `_usp-ctr-ws._tcp` service: instance name = its Endpoint ID (R-DIS.8),
/// TXT `path` (R-DIS.11), `encrypt` over wss (R-DIS.11a); loopback only.
fn advertise_controller(
    server: &WsServer,
    resource: &str,
    endpoint_id: &str,
    tls: bool,
) -> Result<crate::discovery::mdns::Advertiser, String> {
    use crate::discovery::{mdns, WS_CONTROLLER_SERVICE};
    // Without multicast on loopback mdns-sd would only reach the
    // machine's other interfaces, which it must never use.
    if !matches!(mdns::loopback_multicast(), Ok(true)) {
        return Err("--advertise-controller: the loopback interface has no MULTICAST flag (`ip link show lo`); run in a network namespace with `ip link set lo multicast on`".into());
    }
    mdns::advertise(&mdns::ServiceAdvert {
        service_type: WS_CONTROLLER_SERVICE,
        endpoint_id,
        port: server.local_port(),
        path: Some(resource),
        name: None,
        encrypt: tls,
    })
    .map_err(|e| format!("--advertise-controller: {e}"))
}

/// The target's variables with `--var` on top, and the silence window.
fn run_context(
    vars: &std::collections::BTreeMap<String, String>,
    timeouts: &Timeouts,
    file_server: FileServerTarget,
    args: &RunArgs,
    e2e: Option<usize>,
) -> Result<RunContext, String> {
    let mut all = Vars::default();
    for (k, v) in vars {
        all.set(k.clone(), v.clone());
    }
    // Cases that need a session context list this in `needs_vars`.
    if let Some(size) = e2e {
        all.set(crate::runner::E2E_VAR, size.to_string());
    }
    for given in &args.vars {
        let Some((name, value)) = given.split_once('=') else {
            return Err(format!("--var {given:?}: write it as NAME=VALUE"));
        };
        if name.is_empty() {
            return Err(format!("--var {given:?}: the name is empty"));
        }
        all.set(name, value);
    }
    Ok(RunContext {
        vars: all,
        silence: Duration::from_millis(args.silence_ms.unwrap_or(timeouts.silence_ms)),
        file_server,
        plan_timings: args.plan_timings,
        ..RunContext::default()
    })
}

/// Declares an Agent booted without absolute time: TP-469 2.6 applies to
/// it, 2.8 does not (test-cases/e2e*.yaml, `needs_vars` / `unless_vars`).
const NO_ABSOLUTE_TIME_VAR: &str = "agent_without_absolute_time";

/// What the embedded default target defines for cases: the reference
/// Agent's challenge answer, base64 of "plugfest" (DRAFT-Challenge:1 cases),
/// and its shortest WebSocket retry wait.
fn builtin_vars() -> std::collections::BTreeMap<String, String> {
    [
        ("challenge_value".to_string(), "cGx1Z2Zlc3Q=".to_string()),
        // The built-in Agent waits 100 ms before dialing again (its
        // shortened SessionRetryMinimumWaitInterval); half of it leaves
        // room for scheduling (test-cases/mtp-websocket.yaml, TP-469 7.8).
        ("ws_retry_min_wait_ms".to_string(), "50".to_string()),
    ]
    .into_iter()
    .collect()
}

/// The harness as wss server: its certificate, and the Agents' client
/// certificates requested and verified when a CA is given.
fn harness_server_tls(t: &TlsTarget) -> Result<(ServerTls, String), String> {
    let (Some(cert), Some(key)) = (&t.cert, &t.key) else {
        return Err("as a wss server the harness needs tls.cert and tls.key".into());
    };
    let identity = load_identity(cert, key).map_err(|e| e.to_string())?;
    let (auth, summary) = match &t.ca {
        Some(ca) => (
            ClientAuth::Optional(load_certs(ca).map_err(|e| e.to_string())?),
            format!(
                "wss server; Agent certificates requested and verified against {}",
                ca.display()
            ),
        ),
        None => (
            ClientAuth::None,
            "wss server; no Agent certificate requested (no tls.ca)".to_string(),
        ),
    };
    let tls = ServerTls::new(identity, auth).map_err(|e| e.to_string())?;
    Ok((tls, summary))
}

/// The harness as TLS client (of a wss Agent, or of an MQTT or STOMP broker): whom
/// it trusts and its own certificate. `role` and `whose` word the summary.
fn harness_client_tls(
    t: &TlsTarget,
    role: &str,
    whose: &str,
) -> Result<(ClientTls, String), String> {
    let identity = match (&t.cert, &t.key) {
        (Some(cert), Some(key)) => Some(load_identity(cert, key).map_err(|e| e.to_string())?),
        _ => None,
    };
    let (trust, summary) = if t.insecure {
        (ServerTrust::Insecure, INSECURE.to_string())
    } else {
        let Some(ca) = &t.ca else {
            return Err(format!(
                "tls needs `ca:` to verify {whose} certificate (or `insecure: true`)"
            ));
        };
        (
            ServerTrust::Roots(load_certs(ca).map_err(|e| e.to_string())?),
            format!(
                "{role}; {whose} certificate verified against {}",
                ca.display()
            ),
        )
    };
    let tls = ClientTls::new(trust, identity).map_err(|e| e.to_string())?;
    Ok((tls, summary))
}

/// A STOMP client of the target's broker as `controller_id`, subscribed
/// to `own_destination` (or what the broker assigns), sending to the
/// Agent's destination (when the target names it).
async fn stomp_client(
    s: &StompTarget,
    controller_id: &str,
    own_destination: Option<String>,
    tls: Option<ClientTls>,
) -> Result<StompClient, String> {
    let mut client = StompClient::new(StompConfig {
        broker: s.broker.clone(),
        virtual_host: s.virtual_host.clone(),
        username: s.username.clone(),
        password: s.password.clone(),
        own_endpoint_id: controller_id.to_string(),
        own_destination,
        peer_destination: s.agent_destination.clone(),
        heartbeat: s.heartbeat_ms,
        tls,
        ignore_subscribe_dest: false,
        misspell_heart_beat: false,
        follow_model: false,
        model_faults: Default::default(),
    });
    client
        .connect_early()
        .await
        .map_err(|e| format!("STOMP broker {}: {e}", s.broker))?;
    Ok(client)
}

/// The harness as one of the target's other Controllers over STOMP: one
/// more client of the target's broker on the entry's own destination.
async fn stomp_controller(
    s: &StompTarget,
    entry: &ControllerEntry,
    tls: Option<&TlsTarget>,
) -> Result<Box<dyn MtpConnector>, String> {
    let destination = entry
        .destination
        .clone()
        .unwrap_or_else(|| controller_destination(&entry.endpoint_id));
    let client_tls = match tls {
        Some(t) => Some(harness_client_tls(t, "STOMP over TLS", "the broker's")?.0),
        None => None,
    };
    let client = stomp_client(s, &entry.endpoint_id, Some(destination), client_tls).await?;
    Ok(Box::new(client))
}

/// The harness as a client of the target's broker, subscribed before the
/// first case so that an Agent's Connect Record published meanwhile arrives.
async fn mqtt_endpoint(
    m: &MqttTarget,
    controller_id: &str,
    tls: Option<MqttTls>,
) -> Result<MqttEndpoint, String> {
    let own_topic = m
        .controller_topic
        .clone()
        .unwrap_or_else(|| controller_topic(controller_id));
    mqtt_client(m, controller_id, &own_topic, m.client_id.clone(), tls).await
}

/// The harness as one of the target's other Controllers over MQTT: one
/// more client of the target's broker (ClientId: its Endpoint ID, R-MQTT.9)
/// on the entry's own topic; a broker that refuses it makes its cases skip.
async fn mqtt_controller(
    m: &MqttTarget,
    entry: &ControllerEntry,
    tls: Option<&TlsTarget>,
) -> Result<Box<dyn MtpConnector>, String> {
    let own_topic = entry
        .topic
        .clone()
        .unwrap_or_else(|| controller_topic(&entry.endpoint_id));
    let mqtt_tls = match tls {
        Some(t) => {
            let (client, _) = harness_client_tls(t, "TLS to the MQTT broker", "the broker's")?;
            Some(MqttTls { client })
        }
        None => None,
    };
    let client = mqtt_client(m, &entry.endpoint_id, &own_topic, None, mqtt_tls).await?;
    Ok(Box::new(client))
}

/// An MQTT client of the target's broker as `controller_id` on `own_topic`,
/// sending to the Agent's topic (when the target names it).
async fn mqtt_client(
    m: &MqttTarget,
    controller_id: &str,
    own_topic: &str,
    client_id: Option<String>,
    tls: Option<MqttTls>,
) -> Result<MqttEndpoint, String> {
    let mut config = MqttConfig::new(&m.broker, m.version, controller_id, own_topic)
        .with_peer_topic(m.agent_topic.clone())
        .with_tls(tls);
    config.client_id = client_id;
    config.username = m.username.clone();
    config.password = m.password.clone();
    config.qos = m.qos;
    let mut endpoint = MqttEndpoint::new(config);
    endpoint
        .connect_early()
        .await
        .map_err(|e| format!("MQTT broker {}: {e}", m.broker))?;
    Ok(endpoint)
}

/// The embedded default: the reference Agent in-process over loopback.
async fn with_builtin_agent(
    args: &RunArgs,
    shared_mqtt: Option<loopback::SharedMqtt>,
) -> Result<Setup, String> {
    let faults = parse_faults(&args.agent_faults)?;
    // The built-in Agent does not advertise over DNS-SD: the fault could
    // not happen, and a run that passes because of that would mislead.
    for f in [
        Fault::AdvertisementWithoutName,
        Fault::AdvertWrongInstance,
        Fault::NoAnnouncementAfterReboot,
    ] {
        if faults.contains(f) && !args.discovery {
            return Err(format!("the {} fault applies to `plugfest agent --listen --advertise` or `run --discovery --role client` only (without --discovery the built-in Agent of `run` does not advertise)", f.name()));
        }
    }
    if faults.contains(Fault::LocalNameWithoutMdns) {
        return Err("the local-name-without-mdns fault applies to `plugfest agent --connect ws://NAME.local:PORT/PATH` only: the built-in Agent of `run` resolves no .local. name".into());
    }
    for f in [
        Fault::DhcpNoVendorClass,
        Fault::DhcpIgnoresProvisioningCode,
        Fault::DhcpIgnoresControllerUrl,
    ] {
        if faults.contains(f) {
            return Err(format!("the {} fault applies to `plugfest agent --dhcp IFACE` only: the built-in Agent of `run` asks for no DHCP lease", f.name()));
        }
    }
    if faults.contains(Fault::CertEidMismatch) && !args.tls {
        return Err(
            "the cert-eid-mismatch fault needs --tls (it is about the Agent's TLS certificate)"
                .into(),
        );
    }
    if faults.contains(Fault::CertEidMismatch) && args.mtp == MtpArg::Mqtt {
        return Err(
            "the cert-eid-mismatch fault applies to wss only: over MQTT the TLS peer is the broker, so the Agent's certificate is never checked against its Records (R-SEC.10a)"
                .into(),
        );
    }
    if args.insecure && !args.tls {
        return Err("--insecure applies with --tls or a target with a `tls:` section".into());
    }
    let tls = args.tls.then(|| loopback::LoopbackTls {
        insecure: args.insecure,
        agent_certificate_id: if faults.contains(Fault::CertEidMismatch) {
            loopback::IMPOSTOR_ID.to_string()
        } else {
            DEFAULT_AGENT_ID.to_string()
        },
    });
    let tls_summary = tls.as_ref().map(|t| {
        if t.insecure {
            INSECURE.to_string()
        } else if args.mtp == MtpArg::Mqtt {
            "MQTT over TLS to a private mosquitto, with a throw-away CA made for this run; the broker's and both clients' certificates verified".to_string()
        } else if args.mtp == MtpArg::Stomp {
            "STOMP over TLS with a throw-away CA made for this run; the broker's certificate verified by both clients".to_string()
        } else {
            "wss with a throw-away CA made for this run; both certificates verified".to_string()
        }
    });
    // malformed-endpoint-id: the Agent's Records carry a malformed from_id;
    // the session is told to expect it so only the identity check fails.
    let agent_id = if faults.contains(Fault::MalformedEndpointId) {
        crate::agent::faults::malformed_endpoint_id(DEFAULT_AGENT_ID)
    } else {
        DEFAULT_AGENT_ID.to_string()
    };
    let agent = Agent::new(AgentConfig {
        endpoint_id: agent_id.clone(),
        faults: faults.clone(),
    });
    let e2e_faults = [
        Fault::E2eWrongSequence,
        Fault::E2eBadSar,
        Fault::E2eProcessesDuplicates,
        Fault::E2eIgnoresRetransmit,
        Fault::E2eProcessesOutOfOrder,
        Fault::E2eAcceptsMixedSecurity,
        Fault::E2eIgnoresNewSession,
        Fault::E2eNoSessionContext,
        Fault::E2eNeverExpires,
        Fault::E2eIntegrityUnchecked,
        Fault::E2eBadSignature,
        Fault::E2eTlsBadMac,
        Fault::E2eTlsNoMac,
        Fault::E2eTlsAcceptsAnyCertificate,
        Fault::E2eTlsNoClientCertificate,
        Fault::E2eTlsCertificateNamesAnother,
        Fault::E2eTlsRenegotiationClosesSession,
        Fault::E2eSessionRetryImmediately,
        Fault::E2eTlsAcceptsExpiredCertificate,
        Fault::E2eNoClockChecksCertificateDates,
    ];
    if let Some(f) = e2e_faults
        .iter()
        .find(|f| !args.e2e && faults.contains(**f))
    {
        return Err(format!(
            "the {f} fault cannot run without --e2e: the e2e-* faults need --e2e (they are about the E2E session context)"
        )
        .into());
    }
    // The advert faults are applied here, by the advertisement (--discovery).
    let advert_faults = faults.clone();
    if faults.contains(Fault::E2eNoClockChecksCertificateDates) && !args.agent_without_absolute_time
    {
        return Err(format!(
            "the {} fault needs --agent-without-absolute-time: it is how an Agent booted without absolute time misjudges certificates",
            Fault::E2eNoClockChecksCertificateDates
        )
        .into());
    }
    let mut host = AgentHost::new(agent, faults).with_e2e_segment_size(
        e2e_setting(args, None).unwrap_or(crate::agent::runtime::DEFAULT_SEGMENT_SIZE),
    );
    if args.agent_without_absolute_time {
        host = host.without_absolute_time();
    }
    let agent_up = host.up_state();
    // Loopback answers in microseconds; short waits keep a faulty Agent's
    // run short without risking a false timeout.
    let timeouts = Timeouts {
        request_ms: 2_000,
        connect_ms: 10_000,
        connect_record_ms: 2_000,
        silence_ms: crate::target::default_silence_ms(),
        // The built-in Agent notifies at once: the cases' own waits.
        notify_ms: None,
    };
    let version = mqtt_version(args.mqtt_version);
    let options = loopback::LoopbackOptions {
        mtp: args.mtp,
        role: args.role,
        mqtt_version: version,
        stomp_broker: args.stomp_broker.clone(),
        tls,
        interpose: args.interpose,
    };
    let started = loopback::start_with(&options, host, shared_mqtt).await?;
    let mut vars = builtin_vars();
    if args.agent_without_absolute_time {
        vars.insert(
            NO_ABSOLUTE_TIME_VAR.into(),
            "the built-in Agent runs without absolute time (--agent-without-absolute-time)".into(),
        );
    }
    let mut context = run_context(
        &vars,
        &timeouts,
        FileServerTarget::default(),
        args,
        e2e_setting(args, None),
    )?;
    context.mqtt_interposer = started.mqtt_interposer.clone();
    context.mtp_tls = options.tls.is_some();
    controller_vars(&mut context, &started.controllers);
    context.stomp_interposer = started.stomp_interposer.clone();
    context.ws_control = started.ws_control.clone();
    context.ws_second_session = started.ws_second_session.clone();
    context.coap_control = started.coap_control.clone();
    let (discovery, advertiser) =
        builtin_discovery(args, &started, &agent_id, &advert_faults, agent_up)?;
    context.discovery = discovery;
    // --discovery: the unasked announcements (TP-469 8.5) are heard too.
    // mdns-sd announces a new registration twice, a second apart, after
    // probing the name (RFC 6762 8.3); the cases start once that is over,
    // so that only what the Agent announces after a reboot step is heard
    // there (with `no-announcement-after-reboot`, nothing).
    if advertiser.is_some() {
        tokio::time::sleep(Duration::from_millis(2500)).await;
    }
    let mdns_listener = if advertiser.is_some() {
        Some(
            crate::discovery::mdns_heard::Listener::start()
                .map_err(|e| format!("--discovery: cannot listen for mDNS on loopback: {e}"))?,
        )
    } else {
        None
    };
    context.mdns_heard = mdns_listener.as_ref().map(|l| l.logs());
    let mtp_label = loopback::label(args.mtp, version).to_string();
    Ok(Setup {
        connector: started.connector,
        mtp_label,
        // The faults belong to the name: results (and the matrix's rows)
        // of a faulty run must not pass for the sound Agent's.
        target_name: if args.agent_faults.is_empty() {
            format!("built-in reference Agent {DEFAULT_AGENT_ID}")
        } else {
            format!(
                "built-in reference Agent {DEFAULT_AGENT_ID} with fault {}",
                args.agent_faults.join(", ")
            )
        },
        session: session_config(DEFAULT_CONTROLLER_ID, Some(agent_id), &timeouts, args),
        agent_task: Some(started.agent_task),
        // A --silence-ms someone chose is waited in full.
        silence_barrier: matches!(args.mtp, MtpArg::Ws | MtpArg::Uds)
            && !args.interpose
            && args.silence_ms.is_none(),
        broker: started.broker,
        tls: tls_summary,
        context,
        e2e: e2e_setting(args, None),
        _advertiser: advertiser,
        _mdns_questions: mdns_listener,
        _dhcp: None,
        controllers: started.controllers,
    })
}

/// `--discovery` without a target: the built-in Agent, as the WebSocket
/// server (`--role client`), advertises that server on loopback as
/// `plugfest agent --advertise` does (its faults included), so the
/// discovery cases run against it. Without multicast on loopback nothing is
/// advertised (mdns-sd is never started) and the steps skip with that reason.
fn builtin_discovery(
    args: &RunArgs,
    started: &loopback::Started,
    agent_id: &str,
    faults: &crate::agent::faults::FaultSet,
    agent_up: tokio::sync::watch::Receiver<bool>,
) -> Result<
    (
        crate::runner::discovery_steps::DiscoveryRun,
        Option<std::sync::Arc<crate::discovery::mdns::Advertiser>>,
    ),
    String,
> {
    use crate::discovery::mdns;
    use crate::runner::discovery_steps::{
        port_of_ws_url, DiscoveryRun, BUILTIN_DOES_NOT_ADVERTISE,
    };
    if !args.discovery {
        return Ok((DiscoveryRun::Off(BUILTIN_DOES_NOT_ADVERTISE.into()), None));
    }
    let port = started
        .ws_second_session
        .as_ref()
        .and_then(|s| port_of_ws_url(&s.0.url_with_eid()));
    let (MtpArg::Ws, Some(port)) = (args.mtp, port) else {
        return Err("--discovery with the built-in Agent needs --mtp ws --role client: it advertises the WebSocket server it listens on".into());
    };
    let on = DiscoveryRun::On {
        agent_port: Some(port),
    };
    if !matches!(mdns::loopback_multicast(), Ok(true)) {
        return Ok((on, None));
    }
    let name = crate::discovery::REFERENCE_AGENT_NAME;
    let instance = if faults.contains(Fault::AdvertWrongInstance) {
        name
    } else {
        agent_id
    };
    let advert = mdns::advertise(&mdns::ServiceAdvert {
        service_type: crate::discovery::WS_AGENT_SERVICE,
        endpoint_id: instance,
        port,
        path: Some("/"),
        name: (!faults.contains(Fault::AdvertisementWithoutName)).then_some(name),
        encrypt: args.tls,
    })
    .map_err(|e| format!("--discovery: {e}"))?;
    // A reboot withdraws and announces the records again, unless the
    // Agent is to stay silent after it.
    let advert = if faults.contains(Fault::NoAnnouncementAfterReboot) {
        std::sync::Arc::new(advert)
    } else {
        mdns::follow_reboots(advert, agent_up)
    };
    Ok((on, Some(advert)))
}

/// The run's E2E segment size: `--e2e [--segment-size N]` over the target
/// file's `e2e:`; None when neither asks for a session context.
fn e2e_setting(args: &RunArgs, target: Option<usize>) -> Option<usize> {
    if args.e2e {
        Some(
            args.segment_size
                .or(target)
                .unwrap_or(crate::agent::runtime::DEFAULT_SEGMENT_SIZE),
        )
    } else {
        target
    }
}
