//! Target files: the Agent under test, how to reach it, and which
//! Controller identity and timeouts to use. YAML, unknown keys rejected.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::mtp::mqtt::MqttVersion;

mod checks;

pub const DEFAULT_CONTROLLER_ID: &str = "proto::plugfest-controller";
/// The built-in reference Agent's Endpoint ID (`proto` scheme: for prototyping only).
pub const DEFAULT_AGENT_ID: &str = "proto::plugfest-reference-agent";

/// The default MQTT topic of a Controller.
pub fn controller_topic(endpoint_id: &str) -> String {
    format!("usp/controllers/{endpoint_id}")
}

/// The default STOMP destination of a Controller (`plugfest agent --stomp-broker`).
pub fn controller_destination(endpoint_id: &str) -> String {
    format!("/queue/usp.controller.{endpoint_id}")
}

/// The default STOMP destination of an Agent.
pub fn agent_destination(endpoint_id: &str) -> String {
    format!("/queue/usp.agent.{endpoint_id}")
}

/// The default MQTT topic of an Agent.
pub fn agent_topic(endpoint_id: &str) -> String {
    format!("usp/agents/{endpoint_id}")
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// A name for reports, e.g. "Acme Gateway 2.1".
    pub name: String,
    /// The Agent's Endpoint ID. Optional: otherwise learnt from the
    /// WebSocket handshake (`?eid=`), the UDS Handshake TLV, or the Agent's
    /// Connect Record.
    #[serde(default)]
    pub agent_endpoint_id: Option<String>,
    #[serde(default = "default_controller_id")]
    pub controller_endpoint_id: String,
    pub mtp: MtpKind,
    #[serde(default)]
    pub websocket: Option<WebSocketTarget>,
    #[serde(default)]
    pub mqtt: Option<MqttTarget>,
    #[serde(default)]
    pub uds: Option<UdsTarget>,
    /// TLS for the WebSocket MTP (`wss://`) or towards the MQTT or STOMP broker.
    #[serde(default)]
    pub tls: Option<TlsTarget>,
    #[serde(default)]
    pub stomp: Option<StompTarget>,
    #[serde(default)]
    pub coap: Option<CoapTarget>,
    #[serde(default)]
    pub timeouts: Timeouts,
    /// Values test cases use as `${name}` (e.g. `challenge_value`); a case
    /// listing a missing one in `needs_vars` is skipped. `--var` overrides.
    #[serde(default)]
    pub vars: std::collections::BTreeMap<String, String>,
    /// The harness's HTTP file server (`serve_file` steps).
    #[serde(default)]
    pub file_server: FileServerTarget,
    /// Run in an E2E session context (like `--e2e`).
    #[serde(default)]
    pub e2e: Option<E2eTarget>,
    /// More Controllers the harness can act as (cases and steps say
    /// `as: NAME`), each with its own Endpoint ID, e.g. one the Agent gives
    /// a read-only Role. A case acting as a Controller not listed here is
    /// skipped.
    #[serde(default)]
    pub controllers: Vec<ControllerEntry>,
}

/// One more Controller identity (`controllers:` in a target file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerEntry {
    /// What cases call it in `as:`, e.g. `readonly`.
    pub name: String,
    pub endpoint_id: String,
    /// A label for reports: the Role the Agent is configured to give it.
    #[serde(default)]
    pub role: Option<String>,
    /// With `websocket: { role: server }`: `host:port` the harness listens
    /// on as this Controller (the Agent's `Controller.{i}.MTP.{i}` for it
    /// must point there). With `role: client` the harness dials the Agent's
    /// url again with this Endpoint ID, and `listen` is not needed.
    #[serde(default)]
    pub listen: Option<String>,
    /// With `mtp: mqtt`: the topic the harness subscribes to as this
    /// Controller, on the target's broker (the Agent's
    /// `Controller.{i}.MTP.{i}.MQTT.Topic` for it); `usp/controllers/<its
    /// Endpoint ID>` when absent.
    #[serde(default)]
    pub topic: Option<String>,
    /// With `mtp: stomp`: the destination the harness subscribes to as this
    /// Controller, on the target's broker (the Agent's
    /// `Controller.{i}.MTP.{i}.STOMP.Destination` for it);
    /// `/queue/usp.controller.<its Endpoint ID>` when absent.
    #[serde(default)]
    pub destination: Option<String>,
    /// With `uds: { role: server }`: the socket path the harness binds as
    /// this Controller (the Agent connects to it as it does to the target's
    /// own Controller). With `role: client` the harness connects to the
    /// Agent's socket again with this Endpoint ID, and `socket` is not needed.
    #[serde(default)]
    pub socket: Option<String>,
}

/// The read-only Controller the built-in Agent knows (its Role 2).
pub const READONLY_CONTROLLER_ID: &str = "proto::plugfest-readonly";
/// Its `as:` name in the shipped cases.
pub const READONLY_CONTROLLER_NAME: &str = "readonly";

/// `e2e:` in a target file: the session context's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct E2eTarget {
    /// Payload bytes per SessionContextRecord (0 = never segment);
    /// default 1024.
    #[serde(default = "default_segment_size")]
    pub segment_size: usize,
}

fn default_segment_size() -> usize {
    crate::agent::runtime::DEFAULT_SEGMENT_SIZE
}

/// Where the harness serves files from; the Agent must be able to reach it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileServerTarget {
    /// `host:port` to bind, e.g. `0.0.0.0:8081` for an Agent on another
    /// host; default `127.0.0.1:0` (any free port, loopback only).
    #[serde(default = "default_file_server_bind")]
    pub bind: String,
    /// `host:port` written into URLs when it differs from `bind` (e.g. the
    /// harness's LAN address when binding 0.0.0.0).
    #[serde(default)]
    pub advertise: Option<String>,
}

pub fn default_file_server_bind() -> String {
    "127.0.0.1:0".into()
}

impl Default for FileServerTarget {
    fn default() -> Self {
        FileServerTarget {
            bind: default_file_server_bind(),
            advertise: None,
        }
    }
}

/// TLS settings; relative paths are relative to the target file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsTarget {
    /// CA certificates (PEM). As client: the Agent's server certificate must
    /// chain to one. As server: Agents' client certificates are requested
    /// and verified against them.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// The harness's certificate chain (PEM): its server certificate, or its
    /// client certificate towards an Agent that requires one (R-MTP.1).
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// The private key (PEM) of `cert`.
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// Accept any server certificate. For trying things out only.
    #[serde(default)]
    pub insecure: bool,
}

fn default_controller_id() -> String {
    DEFAULT_CONTROLLER_ID.to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MtpKind {
    #[serde(alias = "ws")]
    Websocket,
    Mqtt,
    /// UNIX Domain Socket (USP 1.3+).
    Uds,
    Stomp,
    /// CoAP (legacy: obsoleted in USP 1.3).
    Coap,
}

/// The legacy CoAP MTP: the harness's own resource and the Agent's. UDP has
/// no handshake, so the Agent's Endpoint ID must be in the target file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoapTarget {
    /// `host:port` the harness binds, e.g. `127.0.0.1:5683`; its resource
    /// `coap://<listen><path>` goes to the Agent as reply-to.
    pub listen: String,
    /// The harness's resource path (default `/usp`).
    #[serde(default = "default_coap_path")]
    pub path: String,
    /// `coap://host:port/path` of the Agent; otherwise learnt from the
    /// reply-to of the Agent's first POST.
    #[serde(default)]
    pub agent_uri: Option<String>,
    /// RFC 7252 ACK_TIMEOUT in ms (default 2000).
    #[serde(default = "default_coap_ack_timeout_ms")]
    pub ack_timeout_ms: u64,
}

fn default_coap_path() -> String {
    "/usp".to_string()
}

fn default_coap_ack_timeout_ms() -> u64 {
    2_000
}

/// The harness as a client of the broker the Agent uses.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StompTarget {
    /// `host:port` of the broker, e.g. `127.0.0.1:61613`.
    pub broker: String,
    /// The STOMP `host` header (RabbitMQ: the virtual host).
    #[serde(default = "default_virtual_host")]
    pub virtual_host: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// Where the harness subscribes, unless the broker assigns `subscribe-dest`.
    #[serde(default)]
    pub controller_destination: Option<String>,
    /// Where the Agent subscribes; else learnt from the `reply-to-dest` of
    /// its first message (its STOMPConnectRecord).
    #[serde(default)]
    pub agent_destination: Option<String>,
    /// `[outgoing_ms, incoming_ms]` heart-beats to offer (R-STOMP.8..10);
    /// none when absent.
    #[serde(default)]
    pub heartbeat_ms: Option<(u64, u64)>,
    /// The STOMP interposer between the Agent and `broker`: the Agent is
    /// pointed at `listen` instead of the broker.
    #[serde(default)]
    pub interpose: Option<InterposeTarget>,
}

/// Where the harness's interposer listens for the Agent (its MTP client is
/// configured to connect there); the interposer relays to the target's
/// broker, so the wire cases (TP-469 sections 6 and 11) can see and steer
/// what the Agent's client sends and receives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterposeTarget {
    /// `host:port` to listen on, e.g. `127.0.0.1:1884`.
    pub listen: String,
    /// How long a packet or frame expectation waits unless the step says:
    /// after each drop the interposer causes, a real Agent first waits its
    /// retry interval (MQTT ConnectRetryTime 5 s times
    /// ConnectRetryIntervalMultiplier 2000/1000 by default: up to 10 s).
    #[serde(default = "default_interposer_wait_ms")]
    pub wait_ms: u64,
}

fn default_interposer_wait_ms() -> u64 {
    20_000
}

fn default_virtual_host() -> String {
    "/".into()
}

/// Reaching the Agent through an MQTT broker; the harness is one more
/// client of it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttTarget {
    /// Broker `host:port`, e.g. `127.0.0.1:1883`.
    pub broker: String,
    /// 5 (the default) or 3.1.1.
    #[serde(default)]
    pub version: MqttVersion,
    /// ClientId of the harness; its Endpoint ID when absent.
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// The harness's own topic; `usp/controllers/<controller EID>` when absent.
    #[serde(default)]
    pub controller_topic: Option<String>,
    /// The Agent's topic; otherwise learnt from the reply-to of its first
    /// PUBLISH (its Connect Record).
    #[serde(default)]
    pub agent_topic: Option<String>,
    /// 0 or 1 (default 1).
    #[serde(default = "default_qos")]
    pub qos: u8,
    /// The MQTT interposer between the Agent and `broker`: the Agent is
    /// pointed at `listen` instead of the broker.
    #[serde(default)]
    pub interpose: Option<InterposeTarget>,
}

fn default_qos() -> u8 {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "role", rename_all = "lowercase")]
pub enum WebSocketTarget {
    /// The harness listens and the Agent connects (the usual deployment).
    Server {
        /// `host:port` to listen on, e.g. `0.0.0.0:8080`.
        listen: String,
        /// The request path the Agent uses; any path is accepted when absent.
        #[serde(default)]
        path: Option<String>,
    },
    /// The harness connects to the Agent's WebSocket server.
    Client {
        /// `ws://host:port/path` of the Agent.
        url: String,
    },
}

/// A UDS endpoint is either server or client, never both (spec 2.6).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "role", rename_all = "lowercase")]
pub enum UdsTarget {
    /// The harness binds the socket and the Agent connects, e.g.
    /// `/var/run/usp/broker_controller_path`.
    Server { path: String },
    /// The harness connects to the Agent's socket, e.g.
    /// `/var/run/usp/broker_agent_path`.
    Client { path: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    #[serde(default = "default_request_ms")]
    pub request_ms: u64,
    #[serde(default = "default_connect_ms")]
    pub connect_ms: u64,
    #[serde(default = "default_connect_record_ms")]
    pub connect_record_ms: u64,
    /// The window of `expect_no_notify` steps that give none: short, as
    /// every such step waits it out in full.
    #[serde(default = "default_silence_ms")]
    pub silence_ms: u64,
    /// How late the Agent's Notifys may come: a `wait_notify` step waits
    /// at least this long, and an `expect_no_notify` window a case sets
    /// (time passing, e.g. a TimeToLive) lasts at least this long. An
    /// Agent may look for value changes and expiries on a timer (obuspa:
    /// every 15 s); TR-369 sets no bound. Default 30000 for a target.
    #[serde(default)]
    pub notify_ms: Option<u64>,
}

/// `timeouts.notify_ms` when a target file does not say.
pub const DEFAULT_TARGET_NOTIFY_MS: u64 = 30_000;

pub fn default_silence_ms() -> u64 {
    500
}

fn default_request_ms() -> u64 {
    10_000
}
fn default_connect_ms() -> u64 {
    60_000
}
fn default_connect_record_ms() -> u64 {
    5_000
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            request_ms: default_request_ms(),
            connect_ms: default_connect_ms(),
            connect_record_ms: default_connect_record_ms(),
            silence_ms: default_silence_ms(),
            notify_ms: None,
        }
    }
}

impl Timeouts {
    pub fn request(&self) -> Duration {
        Duration::from_millis(self.request_ms)
    }
    pub fn connect(&self) -> Duration {
        Duration::from_millis(self.connect_ms)
    }
    pub fn connect_record(&self) -> Duration {
        Duration::from_millis(self.connect_record_ms)
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum TargetError {
    #[error("cannot read target file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("target file {path}: {message}")]
    Parse { path: String, message: String },
}

impl TargetError {
    fn at(origin: &str, p: checks::Problem) -> TargetError {
        TargetError::Parse {
            path: match p.position {
                Some((line, column)) => format!("{origin}:{line}:{column}"),
                None => origin.to_string(),
            },
            message: p.message,
        }
    }
}

impl Target {
    pub fn load(path: &Path) -> Result<Target, TargetError> {
        let text = std::fs::read_to_string(path).map_err(|source| TargetError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let origin = path.display().to_string();
        let target = Self::parse(&text, &origin)?;
        // Checked here, not in `parse`: only a file has a directory that
        // relative TLS paths resolve against.
        let dir = path.parent().unwrap_or(Path::new("."));
        if let Some(p) = checks::missing_tls_file(&target, &text, dir) {
            return Err(TargetError::at(&origin, p));
        }
        Ok(target)
    }

    pub fn parse(text: &str, origin: &str) -> Result<Target, TargetError> {
        // No snippet: it would echo the lines around the error, and a
        // password may be on one of them. Our message names file:line:column.
        if text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim().starts_with('#'))
        {
            return Err(TargetError::Parse {
                path: origin.to_string(),
                message: "the file is empty; a target needs at least `name:` and `mtp:`".into(),
            });
        }
        let options = serde_saphyr::options! { with_snippet: false };
        let target: Target = serde_saphyr::from_str_with_options(text, options).map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line() as usize, l.column() as usize))
                .unwrap_or((1, 1));
            let message = e.render_with_formatter(&serde_saphyr::UserMessageFormatter);
            TargetError::Parse {
                path: format!("{origin}:{}:{}", line.max(1), column.max(1)),
                message: crate::suite::loader::plain_type_words(
                    &crate::suite::loader::strip_location(&message),
                ),
            }
        })?;
        if let Some(p) = checks::bad_address(&target, text) {
            return Err(TargetError::at(origin, p));
        }
        let missing = match target.mtp {
            MtpKind::Websocket if target.websocket.is_none() => Some(
                "mtp is websocket but there is no `websocket:` section (role: server with listen, or role: client with url)",
            ),
            MtpKind::Uds if target.uds.is_none() => Some(
                "mtp is uds but there is no `uds:` section (role: server or client, with path)",
            ),
            MtpKind::Coap if target.coap.is_none() => Some(
                "mtp is coap but there is no `coap:` section (listen, optional path and agent_uri)",
            ),
            // No CoAP handshake or Connect Record names the Agent, and the
            // harness must address its first Record (R-E2E.1 to_id).
            MtpKind::Coap if target.agent_endpoint_id.is_none() => Some(
                "mtp is coap: set agent_endpoint_id, as CoAP has no handshake or Connect Record that names the Agent",
            ),
            _ => None,
        };
        if let Some(message) = missing {
            return Err(TargetError::Parse {
                path: origin.to_string(),
                message: message.into(),
            });
        }
        if target.mtp == MtpKind::Mqtt && target.mqtt.is_none() {
            return Err(TargetError::Parse {
                path: origin.to_string(),
                message:
                    "mtp is mqtt but there is no `mqtt:` section (at least `broker: HOST:PORT`)"
                        .into(),
            });
        }
        if target.mtp == MtpKind::Stomp && target.stomp.is_none() {
            return Err(TargetError::Parse {
                path: origin.to_string(),
                message: "mtp is stomp but there is no `stomp:` section (broker, controller_destination, ...)".into(),
            });
        }
        if let Some(message) = tls_problem(&target) {
            return Err(TargetError::Parse {
                path: origin.to_string(),
                message,
            });
        }
        if let Some(p) = checks::misplaced_controller_key(&target, text) {
            return Err(TargetError::at(origin, p));
        }
        if let Some(m) = &target.mqtt {
            if m.qos > 1 {
                return Err(TargetError::at(
                    origin,
                    checks::Problem {
                        position: checks::position_of(text, "qos", &m.qos.to_string()),
                        message: format!("mqtt.qos is {}; USP uses QoS 0 or 1 (R-MQTT.20)", m.qos),
                    },
                ));
            }
        }
        Ok(target)
    }
}

/// A `tls:` section that cannot work with the rest of the target.
fn tls_problem(target: &Target) -> Option<String> {
    let wss = matches!(&target.websocket, Some(WebSocketTarget::Client { url }) if url.starts_with("wss://"));
    let Some(tls) = &target.tls else {
        return wss.then(|| "the websocket url is wss:// but there is no `tls:` section (ca: PATH, or insecure: true)".to_string());
    };
    if !matches!(
        target.mtp,
        MtpKind::Websocket | MtpKind::Mqtt | MtpKind::Stomp
    ) {
        return Some(
            "a `tls:` section is supported with mtp: websocket, mqtt and stomp only".into(),
        );
    }
    if tls.cert.is_some() != tls.key.is_some() {
        return Some("tls.cert and tls.key go together".into());
    }
    // MQTT (R-MQTT.48) and STOMP (R-STOMP.36): the TLS peer is the broker;
    // cert/key are our client certificate for a broker that requires one.
    if matches!(target.mtp, MtpKind::Mqtt | MtpKind::Stomp) {
        return (tls.ca.is_none() && !tls.insecure).then(|| {
            "tls needs `ca:` to verify the broker's certificate (or `insecure: true`)".into()
        });
    }
    match &target.websocket {
        Some(WebSocketTarget::Client { url }) if !wss => Some(format!(
            "there is a `tls:` section but the websocket url '{url}' is not wss://"
        )),
        Some(WebSocketTarget::Client { .. }) if tls.ca.is_none() && !tls.insecure => {
            Some("tls needs `ca:` to verify the Agent's certificate (or `insecure: true`)".into())
        }
        Some(WebSocketTarget::Server { .. }) if tls.cert.is_none() => {
            Some("as a wss server the harness needs tls.cert and tls.key".into())
        }
        _ => None,
    }
}

impl TlsTarget {
    /// The paths, resolved against the target file's directory.
    pub fn relative_to(&self, dir: &Path) -> TlsTarget {
        let resolve = |p: &Option<PathBuf>| p.as_ref().map(|p| dir.join(p));
        TlsTarget {
            ca: resolve(&self.ca),
            cert: resolve(&self.cert),
            key: resolve(&self.key),
            insecure: self.insecure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stomp_target() {
        let t = Target::parse(
            "name: Acme\nmtp: stomp\nstomp:\n  broker: 127.0.0.1:61613\n  username: guest\n  password: guest\n  controller_destination: /queue/usp.controller\n  agent_destination: /queue/usp.agent\n  heartbeat_ms: [10000, 5000]\n",
            "t.yaml",
        )
        .unwrap();
        let s = t.stomp.unwrap();
        assert_eq!(s.virtual_host, "/");
        assert_eq!(s.agent_destination.as_deref(), Some("/queue/usp.agent"));
        assert_eq!(s.heartbeat_ms, Some((10000, 5000)));
        assert_eq!(t.mtp, MtpKind::Stomp);
        let err = Target::parse("name: A\nmtp: stomp\n", "t.yaml").unwrap_err();
        assert!(err.to_string().contains("stomp:"), "{err}");
    }

    #[test]
    fn parses_vars_file_server_and_silence() {
        let base =
            "name: A\nmtp: websocket\nwebsocket:\n  role: client\n  url: ws://127.0.0.1:1/usp\n";
        let t = Target::parse(base, "t.yaml").unwrap();
        assert!(t.vars.is_empty());
        assert_eq!(t.file_server.bind, "127.0.0.1:0");
        assert_eq!(t.timeouts.silence_ms, 500);
        let t = Target::parse(
            &format!("{base}vars:\n  challenge_value: abc=\nfile_server:\n  bind: 0.0.0.0:8081\n  advertise: 192.0.2.1:8081\ntimeouts:\n  silence_ms: 200\n"),
            "t.yaml",
        )
        .unwrap();
        assert_eq!(
            t.vars.get("challenge_value").map(String::as_str),
            Some("abc=")
        );
        assert_eq!(t.file_server.advertise.as_deref(), Some("192.0.2.1:8081"));
        assert_eq!(t.timeouts.silence_ms, 200);
        let err = Target::parse(&format!("{base}file_server:\n  port: 1\n"), "t.yaml").unwrap_err();
        assert!(err.to_string().contains("port"), "{err}");
    }

    #[test]
    fn parses_a_server_role_target() {
        let t = Target::parse(
            "name: Acme\nmtp: websocket\nwebsocket:\n  role: server\n  listen: 127.0.0.1:8080\n  path: /usp\ntimeouts:\n  request_ms: 500\n",
            "t.yaml",
        )
        .unwrap();
        assert_eq!(t.controller_endpoint_id, DEFAULT_CONTROLLER_ID);
        assert!(matches!(t.websocket, Some(WebSocketTarget::Server { .. })));
        assert_eq!(t.timeouts.request_ms, 500);
        assert_eq!(t.timeouts.connect_ms, 60_000);
    }

    #[test]
    fn parses_an_mqtt_target() {
        let t = Target::parse(
            "name: Acme\nmtp: mqtt\nmqtt:\n  broker: 127.0.0.1:1883\n  version: 3.1.1\n  agent_topic: usp/agents/a\n  qos: 0\n",
            "t.yaml",
        )
        .unwrap();
        let m = t.mqtt.unwrap();
        assert_eq!(m.version, MqttVersion::V3_1_1);
        assert_eq!(m.qos, 0);
        assert_eq!(m.agent_topic.as_deref(), Some("usp/agents/a"));
        let t = Target::parse(
            "name: A\nmtp: mqtt\nmqtt:\n  broker: h:1\n  version: 5\n",
            "t.yaml",
        )
        .unwrap();
        assert_eq!(t.mqtt.unwrap().version, MqttVersion::V5);
        let err = Target::parse("name: A\nmtp: mqtt\n", "t.yaml").unwrap_err();
        assert!(err.to_string().contains("mqtt:"), "{err}");
        let err = Target::parse(
            "name: A\nmtp: mqtt\nmqtt:\n  broker: h:1\n  version: 4\n",
            "t.yaml",
        )
        .unwrap_err();
        assert!(err.to_string().contains("3.1.1"), "{err}");
        let err = Target::parse(
            "name: A\nmtp: mqtt\nmqtt:\n  broker: h:1\n  qos: 2\n",
            "t.yaml",
        )
        .unwrap_err();
        assert!(err.to_string().contains("R-MQTT.20"), "{err}");
    }

    #[test]
    fn rejects_unknown_keys_and_missing_sections() {
        let err = Target::parse("name: A\nmtp: websocket\nbogus: 1\n", "t.yaml").unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
        let err = Target::parse("name: A\nmtp: websocket\n", "t.yaml").unwrap_err();
        assert!(err.to_string().contains("websocket:"), "{err}");
        let err = Target::parse("name: A\nmtp: uds\n", "t.yaml").unwrap_err();
        assert!(err.to_string().contains("uds:"), "{err}");
    }

    #[test]
    fn parses_tls_sections_and_refuses_inconsistent_ones() {
        let t = Target::parse(
            "name: A\nmtp: websocket\nwebsocket:\n  role: client\n  url: wss://127.0.0.1:1/usp\ntls:\n  ca: ca.pem\n  cert: c.pem\n  key: k.pem\n",
            "t.yaml",
        )
        .unwrap();
        let tls = t.tls.unwrap().relative_to(Path::new("/etc/plugfest"));
        assert_eq!(tls.ca.unwrap(), Path::new("/etc/plugfest/ca.pem"));
        assert!(!tls.insecure);
        for (yaml, needle) in [
            (
                "websocket:\n  role: client\n  url: wss://h:1/\n",
                "no `tls:`",
            ),
            (
                "websocket:\n  role: client\n  url: ws://h:1/\ntls:\n  ca: c\n",
                "not wss://",
            ),
            (
                "websocket:\n  role: client\n  url: wss://h:1/\ntls:\n  cert: c\n",
                "go together",
            ),
            (
                "websocket:\n  role: client\n  url: wss://h:1/\ntls: {}\n",
                "insecure: true",
            ),
            (
                "websocket:\n  role: server\n  listen: h:1\ntls:\n  ca: c\n",
                "tls.cert",
            ),
            (
                "websocket:\n  role: server\n  listen: h:1\ntls:\n  bogus: 1\n",
                "bogus",
            ),
        ] {
            let err = Target::parse(&format!("name: A\nmtp: websocket\n{yaml}"), "t.yaml")
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{yaml}: {err}");
        }
        Target::parse(
            "name: A\nmtp: websocket\nwebsocket:\n  role: client\n  url: wss://h:1/\ntls:\n  insecure: true\n",
            "t.yaml",
        )
        .unwrap();
        let stomp = "name: A\nmtp: stomp\nstomp:\n  broker: 127.0.0.1:61614\n";
        Target::parse(&format!("{stomp}tls:\n  ca: ca.pem\n"), "t.yaml").unwrap();
        let err = Target::parse(&format!("{stomp}tls: {{}}\n"), "t.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("broker's certificate"), "{err}");
        let err = Target::parse(
            "name: A\nmtp: uds\nuds:\n  role: server\n  path: /p\ntls:\n  ca: c\n",
            "t.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("websocket, mqtt and stomp only"), "{err}");
    }

    #[test]
    fn an_mqtt_target_takes_a_tls_section_for_the_broker() {
        let mqtt = "name: A\nmtp: mqtt\nmqtt:\n  broker: 127.0.0.1:8883\n";
        let t = Target::parse(&format!("{mqtt}tls:\n  ca: ca.pem\n"), "t.yaml").unwrap();
        assert!(t.tls.is_some());
        let err = Target::parse(&format!("{mqtt}tls: {{}}\n"), "t.yaml").unwrap_err();
        assert!(err.to_string().contains("broker's certificate"), "{err}");
        let err = Target::parse(&format!("{mqtt}tls:\n  ca: c\n  key: k\n"), "t.yaml").unwrap_err();
        assert!(err.to_string().contains("go together"), "{err}");
    }

    #[test]
    fn parses_a_coap_target() {
        let t = Target::parse(
            "name: Old\nmtp: coap\nagent_endpoint_id: proto::a\ncoap:\n  listen: 127.0.0.1:5683\n  agent_uri: coap://127.0.0.1:5690/usp\n",
            "t.yaml",
        )
        .unwrap();
        let c = t.coap.unwrap();
        assert_eq!(c.path, "/usp");
        assert_eq!(c.ack_timeout_ms, 2_000);
        assert_eq!(c.agent_uri.as_deref(), Some("coap://127.0.0.1:5690/usp"));
        let err =
            Target::parse("name: A\nmtp: coap\nagent_endpoint_id: a\n", "t.yaml").unwrap_err();
        assert!(err.to_string().contains("coap:"), "{err}");
        let err =
            Target::parse("name: A\nmtp: coap\ncoap:\n  listen: h:1\n", "t.yaml").unwrap_err();
        assert!(err.to_string().contains("agent_endpoint_id"), "{err}");
    }

    #[test]
    fn parses_a_uds_target() {
        let t = Target::parse(
            "name: Broker\nmtp: uds\nuds:\n  role: server\n  path: /var/run/usp/broker_controller_path\n",
            "t.yaml",
        )
        .unwrap();
        assert_eq!(t.mtp, MtpKind::Uds);
        assert!(
            matches!(t.uds, Some(UdsTarget::Server { ref path }) if path == "/var/run/usp/broker_controller_path")
        );
        let err = Target::parse(
            "name: B\nmtp: uds\nuds:\n  role: client\n  path: /p\n  url: x\n",
            "t.yaml",
        )
        .unwrap_err();
        assert!(err.to_string().contains("url"), "{err}");
    }
}
