//! Target files: the Agent under test, how to reach it, and which
//! Controller identity and timeouts to use. YAML, unknown keys rejected.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

pub const DEFAULT_CONTROLLER_ID: &str = "proto::plugfest-controller";
/// The built-in reference Agent's Endpoint ID (`proto` scheme: for prototyping only).
pub const DEFAULT_AGENT_ID: &str = "proto::plugfest-reference-agent";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// A name for reports, e.g. "Acme Gateway 2.1".
    pub name: String,
    /// The Agent's Endpoint ID. Optional: otherwise learnt from the
    /// WebSocket handshake (`?eid=`) or the Agent's Connect Record.
    #[serde(default)]
    pub agent_endpoint_id: Option<String>,
    #[serde(default = "default_controller_id")]
    pub controller_endpoint_id: String,
    pub mtp: MtpKind,
    #[serde(default)]
    pub websocket: Option<WebSocketTarget>,
    #[serde(default)]
    pub stomp: Option<StompTarget>,
    #[serde(default)]
    pub timeouts: Timeouts,
}

fn default_controller_id() -> String {
    DEFAULT_CONTROLLER_ID.to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MtpKind {
    #[serde(alias = "ws")]
    Websocket,
    Stomp,
}

impl MtpKind {
    /// The MTP's name in reports.
    pub fn label(self) -> &'static str {
        match self {
            MtpKind::Websocket => "WebSocket",
            MtpKind::Stomp => "STOMP",
        }
    }
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
}

fn default_virtual_host() -> String {
    "/".into()
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    #[serde(default = "default_request_ms")]
    pub request_ms: u64,
    #[serde(default = "default_connect_ms")]
    pub connect_ms: u64,
    #[serde(default = "default_connect_record_ms")]
    pub connect_record_ms: u64,
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

impl Target {
    pub fn load(path: &Path) -> Result<Target, TargetError> {
        let text = std::fs::read_to_string(path).map_err(|source| TargetError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<Target, TargetError> {
        let target: Target = serde_saphyr::from_str(text).map_err(|e| TargetError::Parse {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        if target.mtp == MtpKind::Websocket && target.websocket.is_none() {
            return Err(TargetError::Parse {
                path: origin.to_string(),
                message: "mtp is websocket but there is no `websocket:` section (role: server with listen, or role: client with url)".into(),
            });
        }
        if target.mtp == MtpKind::Stomp && target.stomp.is_none() {
            return Err(TargetError::Parse {
                path: origin.to_string(),
                message: "mtp is stomp but there is no `stomp:` section (broker, controller_destination, ...)".into(),
            });
        }
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(t.mtp.label(), "STOMP");
        let err = Target::parse("name: A\nmtp: stomp\n", "t.yaml").unwrap_err();
        assert!(err.to_string().contains("stomp:"), "{err}");
    }

    #[test]
    fn rejects_unknown_keys_and_missing_sections() {
        let err = Target::parse("name: A\nmtp: websocket\nbogus: 1\n", "t.yaml").unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
        let err = Target::parse("name: A\nmtp: websocket\n", "t.yaml").unwrap_err();
        assert!(err.to_string().contains("websocket:"), "{err}");
    }
}
