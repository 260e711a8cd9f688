//! The reference Agent over STOMP through RabbitMQ (or a given broker),
//! TLS, the interposer, and the read-only Controller's clients.

use super::{interposer_tls, two_dialers, LoopbackTls, Started, RECONNECT, WRONG_CONTENT_TYPE};
use crate::agent::faults::{Fault, FaultSet};
use crate::agent::runtime::{AgentHost, BackoffSource};
use crate::broker::rabbitmq::{BrokerTls, RabbitMq};
use crate::interpose::StompInterposer;
use crate::mtp::stomp::{ModelFaults, SendFaults, StompClient, StompConfig, MODEL_MTP};
use crate::mtp::tls::pki::TestCa;
use crate::mtp::tls::{ClientTls, ServerTrust};
use crate::target::{DEFAULT_AGENT_ID, DEFAULT_CONTROLLER_ID, READONLY_CONTROLLER_ID};

/// Both ends are clients of one broker. The destinations carry the process
/// id so that runs sharing a broker never read each other's Records (queues
/// outlive their subscribers).
pub(super) async fn stomp(
    host: AgentHost,
    broker_address: Option<String>,
    tls: Option<&LoopbackTls>,
    interpose: bool,
) -> Result<Started, String> {
    if tls.is_some() && broker_address.is_some() {
        return Err("--tls with --mtp stomp starts its own RabbitMQ (its certificate comes from this run's throw-away CA); leave out --stomp-broker".into());
    }
    // STOMP over TLS (R-STOMP.36): a throw-away CA issues the broker's
    // certificate, and both clients verify it against that CA.
    let ca = match tls {
        Some(_) => Some(TestCa::new("usp-plugfest throw-away CA").map_err(|e| e.to_string())?),
        None => None,
    };
    // `address` is where the clients go (the TLS listener with --tls),
    // `plain_address` where an interposer relays to.
    let (broker, address, plain_address): (Option<Box<dyn Send>>, String, String) =
        match broker_address {
            Some(a) => (None, a.clone(), a),
            None => {
                let broker_tls = ca
                    .as_ref()
                    .map(BrokerTls::issued_by)
                    .transpose()
                    .map_err(|e| e.to_string())?;
                let b = tokio::task::spawn_blocking(move || match &broker_tls {
                    Some(t) => RabbitMq::start_with_tls(t),
                    None => RabbitMq::start(),
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
                let plain = b.stomp_address();
                let a = b.stomp_tls_address().unwrap_or_else(|| plain.clone());
                (Some(Box::new(b)), a, plain)
            }
        };
    let client_tls = |insecure: bool| -> Result<Option<ClientTls>, String> {
        let Some(ca) = &ca else { return Ok(None) };
        let trust = if insecure {
            ServerTrust::Insecure
        } else {
            ServerTrust::Roots(vec![ca.cert()])
        };
        ClientTls::new(trust, None)
            .map(Some)
            .map_err(|e| e.to_string())
    };
    let tag = std::process::id();
    let controller_dest = format!("/queue/usp.controller.{tag}");
    let agent_dest = format!("/queue/usp.agent.{tag}");
    let mut harness = StompConfig::new(&address, DEFAULT_CONTROLLER_ID);
    harness.own_destination = Some(controller_dest.clone());
    harness.peer_destination = Some(agent_dest.clone());
    harness.tls = client_tls(tls.is_some_and(|t| t.insecure))?;
    // The Agent knows its Controller's destination from its data model
    // (Controller.{i}.MTP.{i}.STOMP.Destination).
    // With --interpose the Agent dials the interposer, which dials the
    // broker's plain listener (with --tls the Agent's hop to the
    // interposer is the TLS one).
    let interposer = match interpose {
        true => Some(
            crate::interpose::stomp::start(
                "127.0.0.1:0",
                &plain_address,
                ca.as_ref().map(interposer_tls).transpose()?,
            )
            .await
            .map_err(|e| format!("cannot start the STOMP interposer: {e}"))?,
        ),
        false => None,
    };
    let agent_broker = interposer.as_ref().map_or(address.clone(), |i| i.address());
    let mut agent = StompConfig::new(&agent_broker, DEFAULT_AGENT_ID);
    agent.own_destination = Some(agent_dest.clone());
    agent.peer_destination = Some(controller_dest.clone());
    // `mtp-tls-ignored`: the Agent's client dials in plaintext although
    // its configuration says TLS.
    agent.tls = match host.faults().contains(Fault::MtpTlsIgnored) {
        true => None,
        false => client_tls(false)?,
    };
    // The Agent's STOMP.Connection.{i}.OutgoingHeartbeat / IncomingHeartbeat
    // (R-STOMP.8): heart-beats enabled, so TP-469 6.8 can observe them.
    agent.heartbeat = Some(AGENT_HEARTBEAT);
    // Destination and heart-beats come from the model at every connect (the
    // values above are where it starts), and a changed destination is
    // followed on the live connection; the model starts with this run's queue.
    agent.follow_model = true;
    let send_faults = agent_client_faults(&mut agent, host.faults());
    host.put_param(MODEL_MTP, "Destination", &agent_dest).await;
    host.put_param(CONTROLLER_STOMP_MTP, "Destination", &controller_dest)
        .await;
    let agent = StompClient::new(agent).with_send_faults(send_faults.clone());
    // The read-only Controller: the harness's second client of the broker
    // and the Agent's client for it, each on a destination of its own.
    let readonly_dest = format!("/queue/usp.controller.readonly.{tag}");
    let agent_readonly_dest = format!("/queue/usp.agent.controller-2.{tag}");
    host.put_param(READONLY_STOMP_MTP, "Destination", &readonly_dest)
        .await;
    let mut readonly = StompConfig::new(&address, READONLY_CONTROLLER_ID);
    readonly.own_destination = Some(readonly_dest.clone());
    readonly.peer_destination = Some(agent_readonly_dest.clone());
    readonly.tls = client_tls(tls.is_some_and(|t| t.insecure))?;
    // As over MQTT (`mqtt_readonly`): the Agent's runtime binds one
    // connection to one Controller, so its second Controller gets a second
    // client, straight to the broker (not through `--interpose`) and not
    // following LocalAgent.MTP.1.STOMP (the main client's destination).
    let mut agent_readonly = StompConfig::new(&address, DEFAULT_AGENT_ID);
    agent_readonly.own_destination = Some(agent_readonly_dest);
    agent_readonly.peer_destination = Some(readonly_dest);
    agent_readonly.tls = client_tls(false)?;
    // After a refused connection the waits come from its
    // STOMP.Connection.{i}.ServerRetry* parameters (TP-469 6.3).
    let host = host.with_backoff(BackoffSource::Stomp);
    let stomp_interposer = interposer.as_ref().map(StompInterposer::handle);
    Ok(Started {
        // The interposer lives (and relays) as long as the broker.
        broker: Some(Box::new((broker, interposer))),
        stomp_interposer,
        ..two_dialers(
            StompClient::new(harness),
            agent,
            StompClient::new(readonly),
            // The binding faults of the Agent's SEND frames apply to both its clients.
            StompClient::new(agent_readonly).with_send_faults(send_faults),
            host,
            RECONNECT,
        )
    })
}

/// Where the built-in Agent's model names its read-only Controller's STOMP
/// destination (TR-181 Controller.{i}.MTP.{i}.STOMP.Destination).
const READONLY_STOMP_MTP: &str = "Device.LocalAgent.Controller.2.MTP.1.STOMP.";
/// The same for the run's own Controller.
const CONTROLLER_STOMP_MTP: &str = "Device.LocalAgent.Controller.1.MTP.1.STOMP.";

/// The reference Agent's heart-beat offer `(outgoing, incoming)` in ms:
/// frequent enough to be seen within a case, lenient about the broker's.
const AGENT_HEARTBEAT: (u64, u64) = (2_000, 10_000);

/// The STOMP client faults: the handshake's (seen only through the
/// interposer), the model-following ones, and the binding's (R-STOMP.20/21,
/// knobs of the Agent's SEND frames, returned). Shared with `plugfest agent
/// --stomp-broker`.
pub(crate) fn agent_client_faults(config: &mut StompConfig, faults: &FaultSet) -> SendFaults {
    config.ignore_subscribe_dest = faults.contains(Fault::IgnoresSubscribeDest);
    config.misspell_heart_beat = faults.contains(Fault::WrongHeartBeatHeader);
    config.model_faults = ModelFaults {
        ignore_destination: faults.contains(Fault::StompIgnoresModelDestination),
        ignore_heart_beat: faults.contains(Fault::StompWrongHeartBeat),
        stay_without_destination: faults.contains(Fault::StompNoDisconnectWithoutDestination),
        no_unsubscribe: faults.contains(Fault::StompNoUnsubscribeOnDestinationChange),
        subscribe_first: faults.contains(Fault::StompSubscribesBeforeUnsubscribe),
    };
    SendFaults {
        omit_reply_to_dest: faults.contains(Fault::NoReplyToDest),
        content_type: faults
            .contains(Fault::WrongContentType)
            .then(|| WRONG_CONTENT_TYPE.to_string()),
    }
}
