//! The test-case language as plain data: suites, cases, steps, the USP
//! request each step sends and what it expects back. The loader fills it
//! from YAML (format in `test-cases/README.md`); nothing here does I/O.

use super::matchers::{CodeMatcher, CountMatcher, Matcher};
use crate::usp::proto::msg::header::MsgType;
use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Suite {
    pub file: PathBuf,
    pub name: String,
    pub description: Option<String>,
    pub cases: Vec<Case>,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub title: String,
    pub profile: Option<String>,
    pub tp469: Option<String>,
    pub requirement: Option<String>,
    pub tags: Vec<String>,
    pub purpose: Option<String>,
    /// For TP-469 Conditional cases: what the Agent must support for the
    /// case to apply (reported with a *skipped* result otherwise).
    pub condition: Option<String>,
    /// Variables the run must define (target `vars:` or `--var`); a case
    /// whose variable is missing is reported SKIPPED with the reason.
    pub needs_vars: Vec<String>,
    /// Variables that rule the case out: a run defining any of them
    /// declares an Agent the case does not apply to (e.g. one without
    /// absolute time, which may take an expired certificate: R-MTP.2/3);
    /// reported SKIPPED with the reason.
    pub unless_vars: Vec<String>,
    /// `as:` — the Controller (from the target's `controllers:`) that
    /// sends the case's steps; None = the target's own Controller.
    pub sender: Option<String>,
    pub setup: Vec<Step>,
    pub steps: Vec<Step>,
    pub teardown: Vec<Step>,
    pub location: Location,
}

impl Case {
    /// The Controller a step acts as: its own `as:`, else the case's; None
    /// (or `default`) is the target's own Controller.
    pub fn sender_of<'a>(&'a self, step: &'a Step) -> Option<&'a str> {
        step.sender
            .as_deref()
            .or(self.sender.as_deref())
            .filter(|s| *s != DEFAULT_SENDER)
    }

    /// Every Controller other than the target's own that the case acts as.
    pub fn senders(&self) -> Vec<&str> {
        let mut all: Vec<&str> = [&self.setup, &self.steps, &self.teardown]
            .into_iter()
            .flatten()
            .filter_map(|s| self.sender_of(s))
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }
    /// The rule a check from this case cites when it has none of its own.
    pub fn rule(&self) -> Option<String> {
        self.requirement
            .clone()
            .or_else(|| self.tp469.as_ref().map(|t| format!("TP-469 {t}")))
    }
}

/// The `as:` name of the target's own Controller.
pub const DEFAULT_SENDER: &str = "default";

/// Where something was written: `file:line:column`, 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    pub name: Option<String>,
    /// `as:` — the Controller this step acts as; None = the case's.
    pub sender: Option<String>,
    pub action: Action,
    /// Always `Some` for request steps after loading: the loader adds the
    /// expected response type when the file does not say.
    pub expect: Option<Expect>,
    /// Variable name → what to capture (see `capture.rs`).
    pub capture: BTreeMap<String, String>,
    /// A capture that finds nothing means the case does not apply: skipped.
    pub precondition: bool,
    /// Runs only with these timings (None: always).
    pub timings: Option<Timings>,
    pub location: Location,
}

/// Which timings a step belongs to: `short` steps (the Agent's timers set
/// short so that the default run stays fast, and their restoring) run by
/// default, `plan` steps (waits as long as TP-469's procedure) only with
/// `run --plan-timings`, which leaves the `short` ones out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Timings {
    Short,
    Plan,
}

// Steps are built once per file and never copied in bulk, so the size gap
// between the variants costs nothing worth a Box in the runner's matches.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Action {
    Request(RequestSpec),
    WaitNotify(WaitSpec),
    /// Checks that the Agent sent its MTP's Connect Record when the current
    /// connection opened (R-MTP.6).
    ConnectRecord(ConnectRecordSpec),
    /// Checks every Endpoint ID the Agent presented so far against the
    /// Endpoint ID syntax (R-ARC.2a/5/6).
    EndpointIds(ConnectRecordSpec),
    /// Passes when no matching Notify arrives within a short window.
    ExpectNoNotify(NoNotifySpec),
    /// Puts a file on the harness's HTTP server for the Agent to fetch.
    ServeFile(ServeFileSpec),
    /// Operate a reboot command and follow the Agent down and back up.
    Reboot(RebootSpec),
    /// Steer the MQTT interposer for the Agent's next connection.
    MqttSteer(crate::interpose::mqtt_steer::Steering),
    /// Passes when the interposer logged a matching MQTT packet.
    ExpectMqtt(crate::interpose::mqtt_log::PacketPattern),
    /// Passes when the Agent's retries after refused MQTT connections fall
    /// inside its back-off windows (TP-469 11.16).
    ExpectMqttRetries(crate::interpose::mqtt_retries::RetrySpec),
    /// Steer the STOMP interposer for the Agent's next connection.
    StompSteer(crate::interpose::stomp_steer::Steering),
    /// Passes when the STOMP interposer logged a matching frame.
    ExpectStomp(crate::interpose::stomp_log::FramePattern),
    /// Passes when the Agent's retries after refused STOMP connections fall
    /// inside its back-off windows (TP-469 6.3).
    ExpectStompRetries(crate::interpose::stomp_retries::StompRetrySpec),
    /// One action on the WebSocket (handshakes, control frames, raw frames).
    WsControl(super::ws_steps::WsControlSpec),
    /// Passes when the Agent closes the WebSocket with the given code.
    ExpectClose(super::ws_steps::ExpectCloseSpec),
    /// Passes when the Agent's retries after refused WebSocket handshakes
    /// fall inside its back-off windows (R-WS.19-21, TP-469 7.8).
    ExpectWsRetries(super::ws_steps::WsRetrySpec),
    /// One action on the harness's CoAP endpoint (TP-469 section 5, legacy).
    CoapControl(super::coap_steps::CoapControlSpec),
    /// Passes when the CoAP messages since the case began show what it asks.
    ExpectCoap(super::coap_steps::ExpectCoapSpec),
    /// Passes when the Agent's MTP channel is TLS of at least a version
    /// (TP-469 4.1, 7.9, 11.3, 6.11).
    ExpectMtpTls(super::tls_steps::MtpTlsSpec),
    /// Browse DNS-SD on loopback for the Agent's advertisement (TP-469 8.5-8.7).
    Discover(super::discovery_steps::DiscoverSpec),
    /// Passes when the Agent asked mDNS about a `.local.` name (TP-469 8.4).
    ExpectMdnsQuery(super::discovery_steps::ExpectMdnsQuerySpec),
    /// The Agent announced its service unasked after a reboot (TP-469 8.5).
    ExpectMdnsAnnouncement(super::discovery_steps::ExpectMdnsAnnouncementSpec),
    /// What the harness's DHCP server offers from now on (TP-469 8.2).
    DhcpOffer(super::dhcp_steps::DhcpOfferSpec),
    /// Passes when the Agent asked for a lease naming USP (TP-469 8.1).
    ExpectDhcp(super::dhcp_steps::ExpectDhcpSpec),
    /// Passes when the Agent asked the harness's DNS for a name (TP-469 8.3).
    ExpectDns(super::dhcp_steps::ExpectDnsSpec),
    /// One SessionContextRecord built field by field, and what the Agent
    /// must do with it (TP-469 section 3; `e2e_steps.rs`).
    E2eSend(super::e2e_steps::E2eSendSpec),
    /// A new session context with TLS payload security (TP-469 3.4, 3.7).
    E2eTls(super::e2e_steps::E2eTlsSpec),
    /// A TLS renegotiation request in the context's TLS 1.2 session
    /// (TP-469 3.6).
    E2eTlsRenegotiate(super::e2e_steps::E2eRenegotiateSpec),
    /// Arms the harness for the TLS12 contexts the Agent opens itself
    /// (TP-469 3.5).
    E2eTlsAnswer(super::e2e_origin_steps::E2eTlsAnswerSpec),
    /// The Agent's retries after refused handshakes of its own TLS12
    /// contexts, against its SessionRetry back-off (TP-469 3.5).
    ExpectE2eTlsRetries(super::e2e_origin_steps::E2eTlsRetrySpec),
    /// A malformed Record on the current MTP, and what the Agent does
    /// after it (TP-469 3.1, 6.9; `bad_record_steps.rs`).
    BadRecord(super::bad_record_steps::BadRecordSpec),
}

impl Action {
    pub fn keyword(&self) -> &'static str {
        match self {
            Action::Request(r) => r.keyword(),
            Action::WaitNotify(_) => "wait_notify",
            Action::ConnectRecord(_) => "connect_record",
            Action::EndpointIds(_) => "endpoint_ids",
            Action::ExpectNoNotify(_) => "expect_no_notify",
            Action::ServeFile(_) => "serve_file",
            Action::Reboot(_) => "reboot",
            Action::MqttSteer(_) => "mqtt_steer",
            Action::ExpectMqtt(_) => "expect_mqtt",
            Action::ExpectMqttRetries(_) => "expect_mqtt_retries",
            Action::StompSteer(_) => "stomp_steer",
            Action::ExpectStomp(_) => "expect_stomp",
            Action::ExpectStompRetries(_) => "expect_stomp_retries",
            Action::WsControl(_) => "ws_control",
            Action::ExpectClose(_) => "expect_close",
            Action::ExpectWsRetries(_) => "expect_ws_retries",
            Action::CoapControl(_) => "coap_control",
            Action::ExpectCoap(_) => "expect_coap",
            Action::ExpectMtpTls(_) => "expect_mtp_tls",
            Action::Discover(_) => "discover",
            Action::ExpectMdnsQuery(_) => "expect_mdns_query",
            Action::ExpectMdnsAnnouncement(_) => "expect_mdns_announcement",
            Action::DhcpOffer(_) => "dhcp_offer",
            Action::ExpectDhcp(_) => "expect_dhcp",
            Action::ExpectDns(_) => "expect_dns",
            Action::E2eSend(_) => "e2e_send",
            Action::E2eTls(_) => "e2e_tls",
            Action::E2eTlsRenegotiate(_) => "e2e_tls_renegotiate",
            Action::E2eTlsAnswer(_) => "e2e_tls_answer",
            Action::ExpectE2eTlsRetries(_) => "expect_e2e_tls_retries",
            Action::BadRecord(_) => "bad_record",
        }
    }
}

/// `connect_record: {}`: nothing to configure yet; a mapping so that
/// options can be added without changing the form.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectRecordSpec {}

#[derive(Debug, Clone)]
pub enum RequestSpec {
    Get(GetSpec),
    Set(SetSpec),
    Add(AddSpec),
    Delete(DeleteSpec),
    GetInstances(GetInstancesSpec),
    GetSupportedDm(GetSupportedDmSpec),
    GetSupportedProtocol(GetSupportedProtocolSpec),
    Operate(OperateSpec),
}

impl RequestSpec {
    pub fn keyword(&self) -> &'static str {
        match self {
            RequestSpec::Get(_) => "get",
            RequestSpec::Set(_) => "set",
            RequestSpec::Add(_) => "add",
            RequestSpec::Delete(_) => "delete",
            RequestSpec::GetInstances(_) => "get_instances",
            RequestSpec::GetSupportedDm(_) => "get_supported_dm",
            RequestSpec::GetSupportedProtocol(_) => "get_supported_protocol",
            RequestSpec::Operate(_) => "operate",
        }
    }

    /// The response a well-behaved Agent sends back.
    pub fn response_type(&self) -> ResponseType {
        match self {
            RequestSpec::Get(_) => ResponseType::GetResp,
            RequestSpec::Set(_) => ResponseType::SetResp,
            RequestSpec::Add(_) => ResponseType::AddResp,
            RequestSpec::Delete(_) => ResponseType::DeleteResp,
            RequestSpec::GetInstances(_) => ResponseType::GetInstancesResp,
            RequestSpec::GetSupportedDm(_) => ResponseType::GetSupportedDmResp,
            RequestSpec::GetSupportedProtocol(_) => ResponseType::GetSupportedProtocolResp,
            RequestSpec::Operate(_) => ResponseType::OperateResp,
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetSpec {
    pub paths: Vec<String>,
    #[serde(default)]
    pub max_depth: u32,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSpec {
    #[serde(default)]
    pub allow_partial: bool,
    pub objects: Vec<ObjectParams>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddSpec {
    #[serde(default)]
    pub allow_partial: bool,
    pub objects: Vec<ObjectParams>,
}

/// One object of a Set (UpdateObject) or Add (CreateObject).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectParams {
    pub path: String,
    #[serde(default)]
    pub params: BTreeMap<String, ParamSetting>,
}

/// `Name: value` (required) or `Name: { value: v, required: false }`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSetting {
    pub value: String,
    pub required: bool,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteSpec {
    #[serde(default)]
    pub allow_partial: bool,
    pub paths: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetInstancesSpec {
    pub paths: Vec<String>,
    #[serde(default)]
    pub first_level_only: bool,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetSupportedDmSpec {
    pub paths: Vec<String>,
    #[serde(default)]
    pub first_level_only: bool,
    #[serde(default)]
    pub return_params: bool,
    #[serde(default)]
    pub return_commands: bool,
    #[serde(default)]
    pub return_events: bool,
    #[serde(default)]
    pub return_unique_key_sets: bool,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetSupportedProtocolSpec {
    /// Comma-separated "major.minor" list; quote it in YAML.
    pub versions: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OperateSpec {
    pub command: String,
    #[serde(default)]
    pub command_key: String,
    #[serde(default = "yes")]
    pub send_resp: bool,
    #[serde(default)]
    pub args: BTreeMap<String, ScalarString>,
    /// Why the Agent may refuse this command (e.g. TP-469 9.7 metric 3):
    /// an OperateResp whose every result is a cmd_failure then ends the
    /// case, passed, with that reason; the rest of the steps (and this
    /// step's `expect`) are for an Agent that accepted.
    #[serde(default)]
    pub refusal_allowed: Option<String>,
}

fn yes() -> bool {
    true
}

fn ten_seconds() -> u64 {
    // R-NOT.0a: a notification should follow a state change within ~10 s.
    10_000
}

/// Waits for a Notify of one kind and checks its fields.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitSpec {
    #[serde(rename = "type")]
    pub kind: NotifKind,
    #[serde(default = "ten_seconds")]
    pub timeout_ms: u64,
    /// Matched against the notification's path (param_path for ValueChange,
    /// obj_path otherwise).
    #[serde(default)]
    pub path: Option<Matcher>,
    /// ValueChange: the new value.
    #[serde(default)]
    pub value: Option<Matcher>,
    /// Event: event_name; OperationComplete: command_name.
    #[serde(default)]
    pub name: Option<Matcher>,
    #[serde(default)]
    pub command_key: Option<Matcher>,
    #[serde(default)]
    pub subscription_id: Option<Matcher>,
    /// Event params / OperationComplete output args / ObjectCreation keys.
    #[serde(default)]
    pub args: BTreeMap<String, Matcher>,
    /// OperationComplete: `success` (req_output_args) or `failure` (cmd_failure).
    #[serde(default)]
    pub outcome: Option<OperOutcome>,
    /// OperationComplete cmd_failure: its err_code.
    #[serde(default)]
    pub err_code: Option<CodeMatcher>,
    /// OperationComplete cmd_failure: its err_msg.
    #[serde(default)]
    pub err_msg: Option<Matcher>,
}

/// `expect_no_notify`: the matchers of `wait_notify`; the step passes when
/// no Notify satisfying all of them is queued or arrives within the window.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoNotifySpec {
    #[serde(rename = "type")]
    pub kind: NotifKind,
    /// The window; the run's silence window (`timeouts.silence_ms`,
    /// `--silence-ms`, 500 ms) when absent.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub path: Option<Matcher>,
    #[serde(default)]
    pub value: Option<Matcher>,
    #[serde(default)]
    pub name: Option<Matcher>,
    #[serde(default)]
    pub command_key: Option<Matcher>,
    #[serde(default)]
    pub subscription_id: Option<Matcher>,
    #[serde(default)]
    pub args: BTreeMap<String, Matcher>,
}

impl NoNotifySpec {
    /// The same matchers as a `wait_notify`, for judging each Notify.
    pub fn as_wait(&self, window_ms: u64) -> WaitSpec {
        WaitSpec {
            kind: self.kind,
            timeout_ms: window_ms,
            path: self.path.clone(),
            value: self.value.clone(),
            name: self.name.clone(),
            command_key: self.command_key.clone(),
            subscription_id: self.subscription_id.clone(),
            args: self.args.clone(),
            outcome: None,
            err_code: None,
            err_msg: None,
        }
    }
}

/// `serve_file`: a file the harness's HTTP server hands out at
/// `http://<host:port>/<name>` for the rest of the run.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServeFileSpec {
    /// The last path segment of the URL, e.g. `fw.bin`.
    pub name: String,
    #[serde(default)]
    pub content: String,
    /// Pad the content with zero bytes up to this size.
    #[serde(default)]
    pub size: Option<u64>,
    /// With `password`: requests without these Basic credentials get 401.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// Answer a download only after this many ms (keeps an async
    /// Download() running, e.g. for Request.{i}.Cancel()).
    #[serde(default)]
    pub delay_ms: Option<u64>,
}

/// What a `serve_file` step can capture.
pub const SERVE_FILE_CAPTURES: &[&str] = &[
    "url", "name", "size", "sha1", "sha256", "sha384", "sha512", "username", "password",
];

/// What a `reboot` step can capture.
pub const REBOOT_CAPTURES: &[&str] = &["disconnect_ms", "reconnect_ms"];

fn thirty_seconds() -> u64 {
    30_000
}

/// `reboot`: Operate the command, then follow the Agent through the drop
/// of its MTP connection and back.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RebootSpec {
    #[serde(default = "default_reboot_command")]
    pub command: String,
    #[serde(default)]
    pub command_key: String,
    #[serde(default)]
    pub args: BTreeMap<String, ScalarString>,
    /// Whether to send the Operate at all; false only follows a reboot
    /// that an earlier step (e.g. `Activate()`) started.
    #[serde(default = "yes")]
    pub operate: bool,
    /// The Operate's send_resp. False (TP-469 1.62): no OperateResp may
    /// come, before the drop or after the return.
    #[serde(default = "yes")]
    pub send_resp: bool,
    /// Whole budget: drop plus reconnection.
    #[serde(default = "thirty_seconds")]
    pub timeout_ms: u64,
    /// The connection must drop within this many ms of the OperateResp.
    #[serde(default)]
    pub disconnect_within_ms: Option<u64>,
    /// The Agent must be back (Connect Record received) within this many
    /// ms of the drop.
    #[serde(default)]
    pub reconnect_within_ms: Option<u64>,
}

fn default_reboot_command() -> String {
    "Device.Reboot()".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotifKind {
    ValueChange,
    ObjectCreation,
    ObjectDeletion,
    Event,
    OperationComplete,
    OnBoardRequest,
}

/// The Msg kinds a step can expect back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResponseType {
    GetResp,
    SetResp,
    AddResp,
    DeleteResp,
    GetInstancesResp,
    #[serde(rename = "get_supported_dm_resp")]
    GetSupportedDmResp,
    GetSupportedProtocolResp,
    OperateResp,
    Error,
}

impl ResponseType {
    pub fn msg_type(self) -> MsgType {
        match self {
            ResponseType::GetResp => MsgType::GetResp,
            ResponseType::SetResp => MsgType::SetResp,
            ResponseType::AddResp => MsgType::AddResp,
            ResponseType::DeleteResp => MsgType::DeleteResp,
            ResponseType::GetInstancesResp => MsgType::GetInstancesResp,
            ResponseType::GetSupportedDmResp => MsgType::GetSupportedDmResp,
            ResponseType::GetSupportedProtocolResp => MsgType::GetSupportedProtoResp,
            ResponseType::OperateResp => MsgType::OperateResp,
            ResponseType::Error => MsgType::Error,
        }
    }
}

/// Outcome of every object in a Set/Add/Delete response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OperOutcome {
    Success,
    Failure,
}

/// What a response must look like; every present key is checked (AND).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(rename = "type", default)]
    pub msg_type: Option<ResponseType>,
    /// Error Msg: the outer err_code.
    #[serde(default)]
    pub err_code: Option<CodeMatcher>,
    #[serde(default)]
    pub err_msg: Option<Matcher>,
    /// Error Msg: these ParamErrors must be present.
    #[serde(default)]
    pub param_errs: Vec<ParamErrExpect>,
    /// Per requested path results (Get, GetInstances, GetSupportedDM, and
    /// requested_path of Set/Add/Delete results).
    #[serde(default)]
    pub path_results: Vec<PathResultExpect>,
    /// Flattened response facts → matcher (see `facts.rs`).
    #[serde(default)]
    pub values: BTreeMap<String, Matcher>,
    #[serde(default)]
    pub count: Option<CountExpect>,
    #[serde(default)]
    pub oper: Option<OperOutcome>,
    /// Set/Add/Delete: err_code of every oper_failure.
    #[serde(default)]
    pub oper_err_code: Option<CodeMatcher>,
    /// A profile the GetResp / GetSupportedDMResp must satisfy.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub profile: Option<Spanned<String>>,
    /// Items of `profile` a missing or wrong answer for does not fail,
    /// as its supported-DM path (`Device.MQTT.Client.{i}.MessageRetryTime`):
    /// what the test plan lets this Agent lack. The case's purpose says why.
    #[serde(default)]
    pub profile_waives: Vec<String>,
    /// The requirement the explicit checks cite; defaults to the case's.
    #[serde(default)]
    pub rule: Option<String>,
    /// An Error Msg in place of the usual response is accepted too, where
    /// the test plan allows it (TP-469 2.18's NOTE: a USP 1.3 or earlier
    /// Agent MAY answer a refused Operate with an Error).
    #[serde(default)]
    pub error_allowed: Option<ErrorAllowed>,
}

/// An Error instead of the expected response: its code, and the allowance.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorAllowed {
    /// The outer err_code the Error must carry.
    pub err_code: CodeMatcher,
    /// Where the test plan or spec allows the Error (cited in the check).
    pub because: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParamErrExpect {
    pub path: String,
    #[serde(default)]
    pub err_code: Option<CodeMatcher>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PathResultExpect {
    pub path: String,
    /// Absent: the path must have succeeded (err_code 0).
    #[serde(default)]
    pub err_code: Option<CodeMatcher>,
    /// Number of resolved results / instances / supported objects.
    #[serde(default)]
    pub resolved: Option<CountMatcher>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CountExpect {
    /// Requested-path (or object) results in the response.
    #[serde(default)]
    pub path_results: Option<CountMatcher>,
    /// Resolved path results / current instances / supported objects, summed.
    #[serde(default)]
    pub resolved: Option<CountMatcher>,
    /// Parameters in all resolved results of a GetResp.
    #[serde(default)]
    pub params: Option<CountMatcher>,
}

/// A scalar written in YAML as a string, number or boolean, kept as text.
/// (Floats are re-printed, so quote values like "1.10".)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalarString(pub String);

pub(crate) struct ScalarVisitor;

impl Visitor<'_> for ScalarVisitor {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, number or boolean")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

impl<'de> Deserialize<'de> for ScalarString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor).map(ScalarString)
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ParamSettingMap {
    value: ScalarString,
    #[serde(default = "yes")]
    required: bool,
}

impl<'de> Deserialize<'de> for ParamSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ParamSetting;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value, or a mapping with `value` and `required`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ParamSetting, E> {
                Ok(required(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ParamSetting, E> {
                Ok(required(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ParamSetting, E> {
                Ok(required(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ParamSetting, E> {
                Ok(required(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ParamSetting, E> {
                Ok(required(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ParamSetting, A::Error> {
                let m = ParamSettingMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(ParamSetting {
                    value: m.value.0,
                    required: m.required,
                })
            }
        }
        fn required(value: String) -> ParamSetting {
            ParamSetting {
                value,
                required: true,
            }
        }
        d.deserialize_any(V)
    }
}
