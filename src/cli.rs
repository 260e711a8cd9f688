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
    Run(RunArgs),
    /// Check test-case files without running them.
    Validate {
        /// A YAML file or a directory of them.
        #[arg(default_value = "test-cases")]
        path: PathBuf,
    },
    /// Run the built-in reference Agent on its own.
    Agent(AgentArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MtpArg {
    Ws,
    /// STOMP 1.2 through a private RabbitMQ started on loopback for the run.
    Stomp,
}

impl MtpArg {
    /// The MTP's name in reports.
    pub fn label(self) -> &'static str {
        match self {
            MtpArg::Ws => "WebSocket",
            MtpArg::Stomp => "STOMP",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// The harness listens (or, on a broker MTP, is reached) and the Agent connects (the usual deployment).
    Server,
    /// The harness connects to the Agent.
    Client,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Target file describing the Agent under test; without it the built-in reference Agent runs in-process.
    #[arg(long)]
    pub target: Option<PathBuf>,
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
    /// With `--mtp stomp`: use this running broker (HOST:PORT, guest login)
    /// instead of starting a RabbitMQ; lets tests share one broker.
    #[arg(long, hide = true)]
    pub stomp_broker: Option<String>,
    /// Directory for junit.xml and results.json.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Inject a fault into the built-in Agent (repeatable); see `plugfest agent --list-faults`.
    #[arg(long = "agent-fault")]
    pub agent_faults: Vec<String>,
    /// Per-request timeout in milliseconds (overrides the target's).
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Directory of extra profile YAML files (the shipped profiles are built in).
    #[arg(long)]
    pub profiles_dir: Option<PathBuf>,
    /// Print only the summary.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// Listen for Controllers on this address, e.g. 127.0.0.1:5683.
    #[arg(long, conflicts_with = "connect")]
    pub listen: Option<String>,
    /// Connect to a Controller's WebSocket server, e.g. ws://127.0.0.1:8080/usp.
    #[arg(long)]
    pub connect: Option<String>,
    /// The Agent's Endpoint ID.
    #[arg(long, default_value = crate::target::DEFAULT_AGENT_ID)]
    pub endpoint_id: String,
    /// The Controller's Endpoint ID (for --connect).
    #[arg(long, default_value = crate::target::DEFAULT_CONTROLLER_ID)]
    pub controller_id: String,
    /// Inject a fault (repeatable).
    #[arg(long = "fault")]
    pub faults: Vec<String>,
    /// Print the fault names, one a line, and exit.
    #[arg(long)]
    pub list_faults: bool,
}
