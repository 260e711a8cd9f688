//! The runtime against the harness's own Session over loopback WebSocket.

use std::time::Duration;

use super::{AgentHost, FOLLOW_MODEL};
use crate::agent::faults::FaultSet;
use crate::agent::{Agent, AgentConfig};
use crate::cli::{MtpArg, Role};
use crate::commands::loopback::{self, LoopbackOptions};
use crate::mtp::mqtt::MqttVersion;
use crate::session::{Session, SessionConfig};
use crate::target::{DEFAULT_AGENT_ID, DEFAULT_CONTROLLER_ID};
use crate::usp::proto::msg::{request::ReqType, Get};

/// A dialing Agent's connection task waits for the model lock while
/// another task holds it, and its model-following tick comes round
/// meanwhile. Once the lock is free the request is answered: the tick must
/// not wait for the lock behind a connection task it has stopped polling
/// (seen once in CI as an Agent silent for the rest of a run, when a
/// Download() finished under load).
#[tokio::test]
async fn a_busy_model_lock_does_not_stall_a_dialing_connection() {
    let agent = Agent::new(AgentConfig {
        endpoint_id: DEFAULT_AGENT_ID.into(),
        faults: FaultSet::default(),
    });
    let host = AgentHost::new(agent, FaultSet::default());
    let options = LoopbackOptions {
        mtp: MtpArg::Ws,
        // The harness serves; the Agent dials and follows its model.
        role: Role::Server,
        mqtt_version: MqttVersion::V5,
        stomp_broker: None,
        tls: None,
        interpose: false,
    };
    let started = loopback::start(&options, host.clone())
        .await
        .expect("loopback Agent starts");
    let config = SessionConfig {
        controller_id: DEFAULT_CONTROLLER_ID.into(),
        agent_id: Some(DEFAULT_AGENT_ID.into()),
        request_timeout: Duration::from_secs(3),
        connect_timeout: Duration::from_secs(5),
        connect_record_timeout: Duration::from_secs(2),
    };
    let mut session = Session::new(started.connector, config);
    let get = || {
        ReqType::Get(Get {
            param_paths: vec!["Device.LocalAgent.EndpointID".into()],
            max_depth: 0,
        })
    };
    session.request(get()).await.expect("answered while idle");

    // Another task (a finished Download(), a reboot) holds the lock while
    // the request arrives and for a few follow ticks.
    let held = host.agent.lock().await;
    let release = async move {
        tokio::time::sleep(FOLLOW_MODEL * 3).await;
        drop(held);
    };
    let (answer, ()) = tokio::join!(session.request(get()), release);
    assert!(answer.is_ok(), "{:?}", answer.err().map(|(_, e)| e));
    started.agent_task.abort();
}
