//! Command-line arguments, and nothing else.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "plugfest",
    version,
    about = "A scripted USP (TR-369) Controller that tests USP Agents"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run test cases against an Agent (with no --target: the built-in reference Agent over loopback).
    // Boxed for the same reason as Agent: RunArgs has grown large.
    Run(Box<RunArgs>),
    /// Whole-run figures: N concurrent reference Agents and sessions, and the full suite's wait share (BENCHMARKS.md).
    Bench(crate::commands::bench::BenchArgs),
    /// Browse DNS-SD (mDNS, loopback interface only) for USP Agents (or Controllers, --controllers), validate each advertisement and print a table.
    Discover(DiscoverArgs),
    /// Check test-case files without running them.
    Validate {
        /// A YAML file or a directory of them.
        #[arg(default_value = "test-cases")]
        path: PathBuf,
    },
    /// Print the JSON Schema of test-case files (shipped as schemas/test-case.schema.json).
    Schema,
    /// Regenerate junit.xml and report.html from a results.json, or every report (results.json too) from the journal results.jsonl when results.json is missing or shorter (a killed run).
    Report {
        /// A results.json written by `plugfest run`, its results.jsonl, or the directory holding them.
        results: PathBuf,
        /// Directory for the reports (default: the results file's directory).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Directory whose report.html, report.css or report.js replace the built-in report templates.
        #[arg(long)]
        templates: Option<PathBuf>,
    },
    /// Merge results.json files (one per Agent and MTP) into matrix.html, matrix.md and matrix.csv.
    Matrix {
        /// results.json files written by `plugfest run`.
        #[arg(required = true)]
        results: Vec<PathBuf>,
        /// Directory for the matrix files.
        #[arg(long, default_value = "reports")]
        out: PathBuf,
        /// Directory whose matrix.html or report.css replace the built-in ones.
        #[arg(long)]
        templates: Option<PathBuf>,
    },
    /// Show a USP Record (or a bare Msg) in readable form.
    Decode {
        /// The Record's bytes as hex or base64.
        #[arg(required_unless_present = "file", conflicts_with = "file")]
        bytes: Option<String>,
        /// A file holding the bytes (raw, or as hex or base64 text).
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Run the built-in reference Agent on its own.
    // Boxed: its many MTP options would make every Command as large.
    Agent(Box<AgentArgs>),
    /// Data-model profiles: `profiles import FILE.xml` writes profile YAML from BBF data-model XML.
    Profiles {
        #[command(subcommand)]
        command: ProfilesCommand,
    },
    /// List the test cases per profile (id, TP-469 id, title) with a total per profile.
    List(ListArgs),
}

#[derive(Debug, Subcommand)]
pub enum ProfilesCommand {
    /// Turn a BBF cwmp-datamodel XML (a *-full.xml model) into one profile YAML per <profile>.
    Import {
        /// The data-model XML, e.g. tr-181-2-12-usp-full.xml.
        file: PathBuf,
        /// Directory to write the YAML files into (created if missing).
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Only profiles whose name starts with this (repeatable), e.g. DRAFT.
        #[arg(long)]
        only: Vec<String>,
        /// Overwrite files that already exist.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Test-case file or directory.
    #[arg(long, default_value = "test-cases")]
    pub cases: PathBuf,
    /// Only cases for this profile (repeatable); a released name (DeviceInfo:1) or a union (USPAgent:1, DRAFT:1) selects its DRAFT profiles.
    #[arg(long = "profile")]
    pub profiles: Vec<String>,
    /// Directory of profile YAML files instead of the built-in ones.
    #[arg(long)]
    pub profiles_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MtpArg {
    /// WebSocket on 127.0.0.1.
    Ws,
    /// MQTT through a private mosquitto the harness starts on loopback.
    Mqtt,
    /// UNIX Domain Socket (USP 1.3+) in the temp directory.
    Uds,
    /// STOMP 1.2 through a private RabbitMQ started on loopback for the run.
    Stomp,
    /// CoAP over UDP on 127.0.0.1: legacy, obsoleted in USP 1.3 (for older Agents).
    Coap,
}

/// MQTT protocol version (`--mqtt-version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MqttVersionArg {
    #[value(name = "5")]
    V5,
    #[value(name = "3.1.1")]
    V3_1_1,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// The harness listens (or, on a broker MTP, is reached) and the Agent connects (the usual deployment).
    Server,
    /// The harness connects to the Agent.
    Client,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Target file describing the Agent under test; without it the built-in reference Agent runs in-process.
    #[arg(long, conflicts_with = "targets")]
    pub target: Option<PathBuf>,
    /// Interop run: a file listing several targets (target files or built-in Agents with faults), run concurrently, each into OUT/<name>/, then OUT/matrix.{html,md,csv}.
    #[arg(long)]
    pub targets: Option<PathBuf>,
    /// With --targets: how many targets run at once.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallel: u16,
    /// The entry's name when run from a --targets file (leads the results' target name).
    #[arg(skip)]
    pub target_label: Option<String>,
    /// Test-case file or directory.
    #[arg(long, default_value = "test-cases")]
    pub cases: PathBuf,
    /// Only cases for this profile (repeatable), e.g. DRAFT-DeviceInfo:1.
    #[arg(long = "profile")]
    pub profiles: Vec<String>,
    /// Only the case with this id (repeatable).
    #[arg(long = "case")]
    pub case_ids: Vec<String>,
    /// Message Transfer Protocol for the built-in Agent.
    #[arg(long, value_enum, default_value_t = MtpArg::Ws)]
    pub mtp: MtpArg,
    /// The harness's role towards the built-in Agent on a connection-oriented MTP (WebSocket, UDS); on STOMP both are broker clients.
    #[arg(long, alias = "ws-role", value_enum, default_value_t = Role::Server)]
    pub role: Role,
    /// MQTT version for `--mtp mqtt` with the built-in Agent.
    #[arg(long, value_enum, default_value_t = MqttVersionArg::V5)]
    pub mqtt_version: MqttVersionArg,
    /// With `--mtp stomp`: use this running broker (HOST:PORT, guest login)
    /// instead of starting a RabbitMQ; lets tests share one broker.
    #[arg(long, hide = true)]
    pub stomp_broker: Option<String>,
    /// Run the built-in Agent over TLS (wss, or STOMP over TLS with --mtp stomp) with throw-away certificates made in memory for this run.
    #[arg(long)]
    pub tls: bool,
    /// Accept any server certificate over TLS (no verification); the run header and results say so.
    #[arg(long)]
    pub insecure: bool,
    /// With `--mtp mqtt` or `--mtp stomp`: the built-in Agent reaches the broker through the MQTT (or STOMP) interposer, which records every packet (frame) in the case traces and lets `mqtt_steer` / `expect_mqtt` (`stomp_steer` / `expect_stomp`) steps run (without it they are skipped); with `--tls` the Agent reaches the interposer over TLS, which `expect_mtp_tls` judges.
    #[arg(long)]
    pub interpose: bool,
    /// With a --target whose WebSocket role is server: advertise the harness as a Controller over DNS-SD (_usp-ctr-ws._tcp, instance name = its Endpoint ID, TXT path; mDNS on the loopback interface only), for Agents that look their Controller up.
    #[arg(long, requires = "target")]
    pub advertise_controller: bool,
    /// Let `discover` steps (test-cases/discovery.yaml) browse mDNS on the loopback interface only (needs multicast on lo, e.g. in a network namespace), for a --target whose Agent advertises itself over DNS-SD; without --target (needs --mtp ws --role client) the built-in Agent advertises its WebSocket server. Without it they are skipped.
    #[arg(long)]
    pub discovery: bool,
    /// Serve DHCPv4 on this interface (needs root: UDP port 67), and DHCPv6 too (port 547) when the interface has an IPv6 address beside its link-local one, for `dhcp_offer` / `expect_dhcp` steps (test-cases/dhcp.yaml, TP-469 8.1-8.3): option 125 (DHCPv6: 17) points the Agent at the harness's WebSocket server. Needs a --target whose websocket role is server. Without it those steps are skipped.
    #[arg(long, value_name = "IFACE", requires = "target")]
    pub dhcp: Option<String>,
    /// Directory for junit.xml, results.json and report.html.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Directory whose report.html, report.css or report.js replace the built-in report templates.
    #[arg(long)]
    pub templates: Option<PathBuf>,
    /// Inject a fault into the built-in Agent (repeatable); see `plugfest agent --list-faults`.
    #[arg(long = "agent-fault")]
    pub agent_faults: Vec<String>,
    /// Per-request timeout in milliseconds (overrides the target's).
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Wrap every request in an E2E session context (SessionContextRecord) and
    /// reassemble the Agent's answers, checking sequence ids and SAR states.
    #[arg(long)]
    pub e2e: bool,
    /// With --e2e: payload bytes per SessionContextRecord (segments larger
    /// payloads, SAR; 0 = never). The built-in Agent answers at the same size.
    #[arg(long, value_name = "N", requires = "e2e")]
    pub segment_size: Option<usize>,
    /// Boot the built-in Agent without absolute time (TP-469 2.6's setup): it ignores the validity dates of certificates (R-MTP.2/3), and the run defines `agent_without_absolute_time`, which runs 2.6's case and skips 2.8's. For a --target, declare it with `vars: { agent_without_absolute_time: ... }`.
    #[arg(long, conflicts_with = "target")]
    pub agent_without_absolute_time: bool,
    /// A variable for test cases, NAME=VALUE (repeatable); overrides the target's `vars:`.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// How long an `expect_no_notify` step without timeout_ms listens (overrides the target's timeouts.silence_ms; default 500).
    #[arg(long)]
    pub silence_ms: Option<u64>,
    /// Run the timing cases with TP-469's own waits: the steps that set the
    /// Agent's timers short are left out and the plan's long watches run
    /// (steps marked `timings: plan`); minutes longer.
    #[arg(long)]
    pub plan_timings: bool,
    /// Directory of extra profile YAML files (the shipped profiles are built in).
    #[arg(long)]
    pub profiles_dir: Option<PathBuf>,
    /// Print only the final summary.
    #[arg(long, short, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Also print every Record sent and received, decoded, as the run goes.
    #[arg(long, short)]
    pub verbose: bool,
}

#[derive(Debug, clap::Args)]
pub struct DiscoverArgs {
    /// How long to browse, in seconds.
    #[arg(long, default_value_t = 3.0)]
    pub timeout: f64,
    /// Write a target file (for `plugfest run --target`) for the first valid WebSocket Agent found.
    #[arg(long)]
    pub target_out: Option<PathBuf>,
    /// Browse the Controller services (`_usp-ctr-*`) instead of the Agent ones, and hold each advertisement to the Controller rules (instance name = Endpoint ID, TXT `path`, `encrypt` vs the port's TLS).
    #[arg(long, conflicts_with = "target_out")]
    pub controllers: bool,
}

#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// With --listen: advertise the Agent over DNS-SD (mDNS on the loopback interface only) as _usp-agt-ws._tcp.
    #[arg(long, requires = "listen")]
    pub advertise: bool,
    /// With --advertise: the TXT `name` (R-DIS.10: DeviceInfo.FriendlyName, which is "Plugfest reference Agent" in the reference Agent; another name fails the discovery suite's R-DIS.10 check).
    #[arg(long, default_value = crate::discovery::REFERENCE_AGENT_NAME)]
    pub advertise_name: String,
    /// Listen for Controllers on this address, e.g. 127.0.0.1:5683.
    #[arg(long, group = "meet")]
    pub listen: Option<String>,
    /// Connect to a Controller's WebSocket server, e.g. ws://127.0.0.1:8080/usp.
    #[arg(long, group = "meet")]
    pub connect: Option<String>,
    /// Look the Controller (--controller-id) up over DNS-SD as _usp-ctr-ws._tcp (mDNS on the loopback interface only) and connect to where it advertises.
    #[arg(long, group = "meet")]
    pub find_controller: bool,
    /// At every boot, ask for a DHCPv4 lease on this interface (needs root: UDP port 68), naming USP in option 124 (R-DIS.1), and dial the ws:// or wss:// Controller URL of option 125, keeping its ProvisioningCode and notify retry parameters in the Controller's row; with --connect, that URL is dialed when a lease names none. The interface keeps the address it has; the leased one is only reported.
    #[arg(long, value_name = "IFACE", conflicts_with_all = ["listen", "find_controller", "mqtt_broker", "stomp_broker", "uds_listen", "uds_connect", "coap_listen"])]
    pub dhcp: Option<String>,
    /// With --dhcp: ask over DHCPv6 instead (RFC 8415: SOLICIT and REQUEST from the interface's link-local address, needs root: UDP port 546), naming USP in option 16 and following option 17 of the REPLY (R-DIS.1, TP-469 8.1 "over DHCPv4 or DHCPv6").
    #[arg(long, requires = "dhcp")]
    pub dhcpv6: bool,
    /// With --find-controller: how long to look, in seconds.
    #[arg(long, default_value_t = 10.0, requires = "find_controller")]
    pub find_timeout: f64,
    /// Reach the Controller through this MQTT broker, e.g. 127.0.0.1:1883.
    #[arg(long, group = "meet")]
    pub mqtt_broker: Option<String>,
    /// Reach the Controller through this STOMP broker, e.g. 127.0.0.1:61613 (STOMP over TLS with --tls-ca).
    #[arg(long, group = "meet")]
    pub stomp_broker: Option<String>,
    /// Be a UDS server on this socket path, e.g. /var/run/usp/broker_agent_path.
    #[arg(long, group = "meet")]
    pub uds_listen: Option<PathBuf>,
    /// Connect to a Controller's UDS server at this socket path, e.g. /var/run/usp/broker_controller_path.
    #[arg(long, group = "meet")]
    pub uds_connect: Option<PathBuf>,
    /// Legacy CoAP MTP (obsoleted in USP 1.3): the Agent's resource is coap://ADDR/usp, e.g. 127.0.0.1:5683.
    #[arg(long, group = "meet")]
    pub coap_listen: Option<String>,
    /// With --coap-listen: the Controller's CoAP resource, e.g. coap://127.0.0.1:5690/usp (else learnt from the first reply-to).
    #[arg(long, requires = "coap_listen")]
    pub coap_controller: Option<String>,
    /// MQTT version towards the broker.
    #[arg(long, value_enum, default_value_t = MqttVersionArg::V5)]
    pub mqtt_version: MqttVersionArg,
    /// The Agent's own MQTT topic (default usp/agents/<endpoint id>).
    #[arg(long)]
    pub agent_topic: Option<String>,
    /// The Controller's MQTT topic (default usp/controllers/<controller id>).
    #[arg(long)]
    pub controller_topic: Option<String>,
    /// The Agent's own STOMP destination (default /queue/usp.agent.<endpoint id>).
    #[arg(long, requires = "stomp_broker")]
    pub agent_destination: Option<String>,
    /// The Controller's STOMP destination (default /queue/usp.controller.<controller id>).
    #[arg(long, requires = "stomp_broker")]
    pub controller_destination: Option<String>,
    /// STOMP login (R-STOMP.3; default guest).
    #[arg(long, requires = "stomp_broker")]
    pub stomp_login: Option<String>,
    /// STOMP passcode (R-STOMP.3; default guest).
    #[arg(long, requires = "stomp_broker")]
    pub stomp_passcode: Option<String>,
    /// MQTT ClientId (default: the Endpoint ID).
    #[arg(long)]
    pub mqtt_client_id: Option<String>,
    /// The Agent's Endpoint ID.
    #[arg(long, default_value = crate::target::DEFAULT_AGENT_ID)]
    pub endpoint_id: String,
    /// The Controller's Endpoint ID (for --connect, --mqtt-broker, --stomp-broker and --uds-connect).
    #[arg(long, default_value = crate::target::DEFAULT_CONTROLLER_ID)]
    pub controller_id: String,
    /// TLS: the CA (PEM) whose certificates the Agent trusts; required with --tls-cert when listening (R-MTP.1), for a wss:// --connect; with --mqtt-broker it turns on TLS to the broker (R-MQTT.48), whose certificate it verifies.
    #[arg(long)]
    pub tls_ca: Option<PathBuf>,
    /// TLS: the Agent's certificate chain (PEM), its subjectAltName carrying urn:bbf:usp:id:<endpoint id>; with --listen this serves wss.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS: the private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Boot without absolute time (TP-469 2.6's setup): the validity dates of certificates are not judged (R-MTP.2/3).
    #[arg(long)]
    pub without_absolute_time: bool,
    /// Inject a fault (repeatable).
    #[arg(long = "fault")]
    pub faults: Vec<String>,
    /// Print the fault names, one a line, and exit.
    #[arg(long)]
    pub list_faults: bool,
}
