//! The embedded default: the reference Agent started in-process and reached
//! over a real transport on loopback, one function per MTP. Each returns
//! the harness's connector and the Agent's task; a broker the MTP needs
//! lives inside that task, so ending the task stops the broker.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::agent::runtime::AgentHost;
use crate::broker::Mosquitto;
use crate::cli::{MtpArg, Role};
use crate::mtp::coap::{CoapConfig, CoapEndpoint};
use crate::mtp::mqtt::{MqttConfig, MqttEndpoint, MqttVersion};
use crate::mtp::uds::{UdsDialer, UdsListener};
use crate::mtp::websocket::{WsDialer, WsServer};
use crate::mtp::MtpConnector;
use crate::target::{agent_topic, controller_topic, DEFAULT_AGENT_ID, DEFAULT_CONTROLLER_ID};

/// How soon a dropped in-process Agent dials again.
const RECONNECT: Duration = Duration::from_millis(100);

pub type Started = (Box<dyn MtpConnector>, JoinHandle<()>);

pub async fn start(
    mtp: MtpArg,
    role: Role,
    mqtt_version: MqttVersion,
    host: AgentHost,
) -> Result<Started, String> {
    match mtp {
        MtpArg::Ws => websocket(role, host).await,
        // Both ends are broker clients, so the role does not apply.
        MtpArg::Mqtt => mqtt(mqtt_version, host).await,
        MtpArg::Uds => uds(role, host),
        // Both ends are CoAP servers and clients alike: the role does not apply.
        MtpArg::Coap => coap(host).await,
    }
}

/// The label results carry for the chosen MTP.
pub fn label(mtp: MtpArg, mqtt_version: MqttVersion) -> &'static str {
    match mtp {
        MtpArg::Ws => crate::mtp::websocket::MTP,
        MtpArg::Mqtt => mqtt_version.label(),
        MtpArg::Uds => crate::mtp::uds::MTP,
        MtpArg::Coap => crate::mtp::coap::MTP,
    }
}

/// A private mosquitto, the harness subscribed to its topic before the
/// Agent starts (so the Agent's MQTTConnectRecord is not published to a
/// topic nobody listens on yet), and the Agent dialing the same broker.
async fn mqtt(version: MqttVersion, host: AgentHost) -> Result<Started, String> {
    let broker = tokio::task::spawn_blocking(Mosquitto::start)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let controller_topic = controller_topic(DEFAULT_CONTROLLER_ID);
    let agent_topic = agent_topic(DEFAULT_AGENT_ID);
    let harness = MqttConfig::new(
        &broker.address(),
        version,
        DEFAULT_CONTROLLER_ID,
        &controller_topic,
    )
    .with_peer_topic(Some(agent_topic.clone()));
    let mut harness = MqttEndpoint::new(harness);
    harness.connect_early().await.map_err(|e| e.to_string())?;
    // The Agent knows the Controller's topic from its configuration
    // (LocalAgent.Controller.{i}.MTP.{i}.MQTT.Topic).
    let agent_side = MqttEndpoint::new(
        MqttConfig::new(&broker.address(), version, DEFAULT_AGENT_ID, &agent_topic)
            .with_peer_topic(Some(controller_topic)),
    );
    let task = tokio::spawn(async move {
        // Dropped with the task: the broker stops when the run ends.
        let _broker = broker;
        host.run_dialer(
            agent_side,
            Some(DEFAULT_CONTROLLER_ID.to_string()),
            RECONNECT,
        )
        .await
    });
    Ok((Box::new(harness), task))
}

async fn websocket(role: Role, host: AgentHost) -> Result<Started, String> {
    const PATH: &str = "/usp";
    match role {
        Role::Server => {
            let server = WsServer::bind("127.0.0.1:0", Some(PATH.into()), DEFAULT_CONTROLLER_ID)
                .await
                .map_err(|e| e.to_string())?;
            let agent_side = WsDialer::new(
                &format!("ws://{}{PATH}", server.local_addr()),
                DEFAULT_AGENT_ID,
            );
            let task = tokio::spawn(host.run_dialer(
                agent_side,
                Some(DEFAULT_CONTROLLER_ID.to_string()),
                RECONNECT,
            ));
            Ok((Box::new(server), task))
        }
        Role::Client => {
            let agent_side = WsServer::bind("127.0.0.1:0", None, DEFAULT_AGENT_ID)
                .await
                .map_err(|e| e.to_string())?;
            let url = format!("ws://{}/", agent_side.local_addr());
            let task = tokio::spawn(host.run_listener(agent_side));
            Ok((Box::new(WsDialer::new(&url, DEFAULT_CONTROLLER_ID)), task))
        }
    }
}

/// A socket path nobody else uses: process id plus a counter, in the temp
/// directory (short, as socket paths are limited to about 100 bytes). The
/// listener that binds it removes the file when dropped.
fn fresh_socket_path() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("plugfest-{}-{n}.sock", std::process::id()))
}

fn uds(role: Role, host: AgentHost) -> Result<Started, String> {
    let path = fresh_socket_path();
    match role {
        Role::Server => {
            let server =
                UdsListener::bind(&path, DEFAULT_CONTROLLER_ID).map_err(|e| e.to_string())?;
            let agent_side = UdsDialer::new(&path, DEFAULT_AGENT_ID);
            let task = tokio::spawn(host.run_dialer(
                agent_side,
                Some(DEFAULT_CONTROLLER_ID.to_string()),
                RECONNECT,
            ));
            Ok((Box::new(server), task))
        }
        Role::Client => {
            let agent_side =
                UdsListener::bind(&path, DEFAULT_AGENT_ID).map_err(|e| e.to_string())?;
            let task = tokio::spawn(host.run_listener(agent_side));
            Ok((Box::new(UdsDialer::new(&path, DEFAULT_CONTROLLER_ID)), task))
        }
    }
}

/// Loopback never loses a datagram; a short ACK timeout keeps a run with a
/// silent peer short (RFC 7252's 2 s default is for real networks).
const LOOPBACK_ACK_TIMEOUT: Duration = Duration::from_millis(300);

/// Two CoAP resources on free 127.0.0.1 ports, each configured with the
/// other's URI (the Agent's LocalAgent.Controller.{i}.MTP.{i}.CoAP config).
async fn coap(host: AgentHost) -> Result<Started, String> {
    const PATH: &str = "/usp";
    let config = |peer: Option<String>| {
        CoapConfig::new("127.0.0.1:0", PATH, peer).with_ack_timeout(LOOPBACK_ACK_TIMEOUT)
    };
    let mut agent_side = CoapEndpoint::bind(config(None))
        .await
        .map_err(|e| e.to_string())?;
    let harness = CoapEndpoint::bind(config(Some(agent_side.uri().to_string())))
        .await
        .map_err(|e| e.to_string())?;
    agent_side
        .set_peer(harness.uri())
        .map_err(|e| e.to_string())?;
    let task = tokio::spawn(host.run_dialer(
        agent_side,
        Some(DEFAULT_CONTROLLER_ID.to_string()),
        RECONNECT,
    ));
    Ok((Box::new(harness), task))
}
