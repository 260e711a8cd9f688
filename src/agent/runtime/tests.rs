//! The runtime against the harness's own Session over loopback WebSocket.

use super::{AgentHost, FOLLOW_MODEL};
use crate::agent::faults::FaultSet;
use crate::agent::{Agent, AgentConfig};
use crate::cli::Role;
use crate::commands::loopback;
use crate::target::DEFAULT_AGENT_ID;
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
    // The harness serves; the Agent dials and follows its model.
    let (mut session, agent_task) = loopback::test_session(host.clone(), Role::Server).await;
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
    agent_task.abort();
}
