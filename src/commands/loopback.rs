//! The embedded default: the reference Agent started in-process and reached
//! over a real transport on loopback, one function per MTP. Each returns
//! the harness's connector, the Agent's task and, for a broker MTP, the
//! broker, which the caller keeps until the run ends.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::agent::runtime::AgentHost;
use crate::broker::rabbitmq::RabbitMq;
use crate::cli::{MtpArg, Role};
use crate::mtp::stomp::{StompClient, StompConfig};
use crate::mtp::websocket::{WsDialer, WsServer};
use crate::mtp::MtpConnector;
use crate::target::{DEFAULT_AGENT_ID, DEFAULT_CONTROLLER_ID};

/// How soon a dropped in-process Agent dials again.
const RECONNECT: Duration = Duration::from_millis(100);

pub struct Started {
    pub connector: Box<dyn MtpConnector>,
    pub agent_task: JoinHandle<()>,
    /// The broker started for this run; dropping it stops it.
    pub broker: Option<RabbitMq>,
}

impl Started {
    fn direct(connector: Box<dyn MtpConnector>, agent_task: JoinHandle<()>) -> Self {
        Started {
            connector,
            agent_task,
            broker: None,
        }
    }
}

/// `stomp_broker`: a running STOMP broker to use instead of starting one.
pub async fn start(
    mtp: MtpArg,
    role: Role,
    host: AgentHost,
    stomp_broker: Option<String>,
) -> Result<Started, String> {
    match mtp {
        MtpArg::Ws => websocket(role, host).await,
        MtpArg::Stomp => stomp(host, stomp_broker).await,
    }
}

/// Both ends are clients of one broker, so `--role` does not apply. The
/// destinations carry the process id so that runs sharing a broker never
/// read each other's Records (queues outlive their subscribers).
async fn stomp(host: AgentHost, broker_address: Option<String>) -> Result<Started, String> {
    let (broker, address) = match broker_address {
        Some(a) => (None, a),
        None => {
            let b = tokio::task::spawn_blocking(RabbitMq::start)
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            let a = b.stomp_address();
            (Some(b), a)
        }
    };
    let tag = std::process::id();
    let controller_dest = format!("/queue/usp.controller.{tag}");
    let agent_dest = format!("/queue/usp.agent.{tag}");
    let mut harness = StompConfig::new(&address, DEFAULT_CONTROLLER_ID);
    harness.own_destination = Some(controller_dest.clone());
    harness.peer_destination = Some(agent_dest.clone());
    // The Agent knows its Controller's destination from its data model
    // (Controller.{i}.MTP.{i}.STOMP.Destination).
    let mut agent = StompConfig::new(&address, DEFAULT_AGENT_ID);
    agent.own_destination = Some(agent_dest);
    agent.peer_destination = Some(controller_dest);
    let agent_task = tokio::spawn(host.run_dialer(
        StompClient::new(agent),
        Some(DEFAULT_CONTROLLER_ID.to_string()),
        RECONNECT,
    ));
    Ok(Started {
        connector: Box::new(StompClient::new(harness)),
        agent_task,
        broker,
    })
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
            Ok(Started::direct(Box::new(server), task))
        }
        Role::Client => {
            let agent_side = WsServer::bind("127.0.0.1:0", None, DEFAULT_AGENT_ID)
                .await
                .map_err(|e| e.to_string())?;
            let url = format!("ws://{}/", agent_side.local_addr());
            let task = tokio::spawn(host.run_listener(agent_side));
            Ok(Started::direct(
                Box::new(WsDialer::new(&url, DEFAULT_CONTROLLER_ID)),
                task,
            ))
        }
    }
}
