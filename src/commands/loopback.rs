//! The embedded default: the reference Agent started in-process and reached
//! over a real transport on loopback, one function per MTP. Each returns
//! the harness's connector and the Agent's task.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::agent::runtime::AgentHost;
use crate::cli::{MtpArg, Role};
use crate::mtp::websocket::{WsDialer, WsServer};
use crate::mtp::MtpConnector;
use crate::target::{DEFAULT_AGENT_ID, DEFAULT_CONTROLLER_ID};

/// How soon a dropped in-process Agent dials again.
const RECONNECT: Duration = Duration::from_millis(100);

pub type Started = (Box<dyn MtpConnector>, JoinHandle<()>);

pub async fn start(mtp: MtpArg, role: Role, host: AgentHost) -> Result<Started, String> {
    match mtp {
        MtpArg::Ws => websocket(role, host).await,
    }
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
