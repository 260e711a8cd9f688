//! The reference Agent over MQTT: its own mosquitto or a shared one, TLS,
//! the interposer, and the read-only Controller's clients.

use super::{
    agent_dials, interposer_tls, two_dialers, LoopbackTls, SharedMqtt, Started,
    BROKER_CERTIFICATE_ID, RECONNECT, WRONG_CONTENT_TYPE,
};
use crate::agent::faults::{Fault, FaultSet};
use crate::agent::runtime::{AgentHost, BackoffSource};
use crate::broker::{Mosquitto, MosquittoTls};
use crate::interpose::MqttInterposer;
use crate::mtp::mqtt::{MqttConfig, MqttEndpoint, MqttTls, MqttVersion};
use crate::mtp::tls::pki::TestCa;
use crate::mtp::tls::{ClientTls, ServerTls, ServerTrust};
use crate::target::{
    agent_topic, controller_topic, DEFAULT_AGENT_ID, DEFAULT_CONTROLLER_ID, READONLY_CONTROLLER_ID,
};

/// A private mosquitto, the harness subscribed to its topic before the
/// Agent starts (so the Agent's MQTTConnectRecord is not published to a
/// topic nobody listens on yet), and the Agent dialing the same broker.
///
/// With `--tls` both clients reach the broker over TLS only: a throw-away CA
/// issues the broker's certificate and each client's, and the broker
/// requires client certificates. Nothing but the broker's own copy of its
/// PEMs (in its private directory) is written to disk.
pub(super) async fn mqtt(
    version: MqttVersion,
    host: AgentHost,
    tls: Option<&LoopbackTls>,
    interpose: bool,
) -> Result<Started, String> {
    let pki = tls.map(mqtt_pki).transpose()?;
    let broker_tls = pki.as_ref().map(|p| p.broker.clone());
    let broker = tokio::task::spawn_blocking(move || match broker_tls {
        Some(t) => Mosquitto::start_tls(&t),
        None => Mosquitto::start(),
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    let address = match &pki {
        Some(_) => broker
            .tls_address()
            .ok_or("mosquitto started without its TLS listener")?,
        None => broker.address(),
    };
    let controller_topic = controller_topic(DEFAULT_CONTROLLER_ID);
    let agent_topic = agent_topic(DEFAULT_AGENT_ID);
    let harness = MqttConfig::new(&address, version, DEFAULT_CONTROLLER_ID, &controller_topic)
        .with_peer_topic(Some(agent_topic.clone()))
        .with_tls(pki.as_ref().map(|p| p.harness.clone()));
    let mut harness = MqttEndpoint::new(harness);
    harness.connect_early().await.map_err(|e| e.to_string())?;
    let (readonly, readonly_agent_side) =
        mqtt_readonly(&address, version, pki.as_ref(), host.faults()).await?;
    // The Agent knows the Controller's topic from its configuration
    // (LocalAgent.Controller.{i}.MTP.{i}.MQTT.Topic).
    // With --interpose the Agent dials the interposer, which dials the
    // broker's plain listener (with --tls the Agent's hop to the
    // interposer is the TLS one, as the broker's would be).
    let interposer = match interpose {
        true => Some(
            crate::interpose::mqtt::start(
                "127.0.0.1:0",
                &broker.address(),
                pki.as_ref().map(|p| p.interposer.clone()),
            )
            .await
            .map_err(|e| format!("cannot start the MQTT interposer: {e}"))?,
        ),
        false => None,
    };
    let agent_broker = interposer.as_ref().map_or(address.clone(), |i| i.address());
    // `mtp-tls-ignored`: the Agent's client dials in plaintext although
    // its configuration says TLS.
    let agent_tls = pki
        .map(|p| p.agent)
        .filter(|_| !host.faults().contains(Fault::MtpTlsIgnored));
    let mut agent_config = MqttConfig::new(&agent_broker, version, DEFAULT_AGENT_ID, &agent_topic)
        .with_peer_topic(Some(controller_topic))
        .with_tls(agent_tls);
    // ClientID and KeepAliveTime come from Device.MQTT.Client.1. at every
    // connect, the retry waits from its ConnectRetry* parameters.
    agent_config.follow_model = true;
    agent_client_faults(&mut agent_config, host.faults());
    let host = host.with_backoff(BackoffSource::Mqtt);
    let agent_side = MqttEndpoint::new(agent_config);
    let mqtt_interposer = interposer.as_ref().map(MqttInterposer::handle);
    Ok(Started {
        // The interposer lives (and relays) as long as the broker.
        broker: Some(Box::new((broker, interposer))),
        mqtt_interposer,
        ..two_dialers(
            harness,
            agent_side,
            readonly,
            readonly_agent_side,
            host,
            RECONNECT,
        )
    })
}

/// The Agent's topic for its second Controller (see `mqtt_readonly`): a
/// sibling of its main topic, not below it, as MQTT 3.1.1 subscribes to
/// `<topic>/#` (R-MQTT.24) and would take it in too.
fn agent_readonly_topic() -> String {
    format!("{}.controller-2", agent_topic(DEFAULT_AGENT_ID))
}

/// The read-only Controller over MQTT: the harness's second client of the
/// run's broker, with that Controller's Endpoint ID and its own topic
/// (`usp/controllers/<eid>`, the Agent's Controller.2.MTP.1.MQTT.Topic),
/// and the Agent's side of it. The reference Agent's runtime binds one
/// connection to one Controller, so it reaches its second Controller with
/// a second MQTT client (own ClientId, own topic): on one shared topic its
/// first connection would take the read-only Controller's Records as the
/// full-access Controller's. That client goes to the broker directly, not
/// through `--interpose` (the interposer watches the Agent's main client),
/// and does not follow Device.MQTT.Client.1 (whose ClientID is the main
/// client's: sharing it would make the broker drop one of the two). The
/// binding faults of the Agent's PUBLISH packets apply to both its clients.
async fn mqtt_readonly(
    address: &str,
    version: MqttVersion,
    pki: Option<&MqttPki>,
    faults: &FaultSet,
) -> Result<(MqttEndpoint, MqttEndpoint), String> {
    let own_topic = controller_topic(READONLY_CONTROLLER_ID);
    let agent_side_topic = agent_readonly_topic();
    let readonly = MqttConfig::new(address, version, READONLY_CONTROLLER_ID, &own_topic)
        .with_peer_topic(Some(agent_side_topic.clone()))
        .with_tls(pki.map(|p| p.readonly.clone()));
    let mut readonly = MqttEndpoint::new(readonly);
    // Subscribed before the Agent starts, like the harness's first client.
    readonly.connect_early().await.map_err(|e| e.to_string())?;
    let mut agent_side = MqttConfig::new(address, version, DEFAULT_AGENT_ID, &agent_side_topic)
        .with_peer_topic(Some(own_topic))
        .with_tls(pki.map(|p| p.agent.clone()));
    agent_side.client_id = Some(format!("{DEFAULT_AGENT_ID}/controller-2"));
    agent_side.omit_reply_to = faults.contains(Fault::NoResponseTopic);
    agent_side.content_type = faults
        .contains(Fault::WrongContentType)
        .then(|| WRONG_CONTENT_TYPE.to_string());
    Ok((readonly, MqttEndpoint::new(agent_side)))
}

/// `mqtt` on a mosquitto that many runs share (`plugfest bench --mtp
/// mqtt`): the harness and the Agent of slot N use client IDs and topics
/// ending in N, so pairs neither take over each other's connection nor
/// read each other's Records.
pub(super) async fn mqtt_shared(
    version: MqttVersion,
    host: AgentHost,
    shared: &SharedMqtt,
) -> Result<Started, String> {
    let slot = shared.slot;
    let controller_topic = format!("{}/{slot}", controller_topic(DEFAULT_CONTROLLER_ID));
    let agent_topic = format!("{}/{slot}", agent_topic(DEFAULT_AGENT_ID));
    let mut harness = MqttConfig::new(
        &shared.address,
        version,
        DEFAULT_CONTROLLER_ID,
        &controller_topic,
    )
    .with_peer_topic(Some(agent_topic.clone()));
    harness.client_id = Some(format!("plugfest-bench-controller-{slot}"));
    let mut harness = MqttEndpoint::new(harness);
    harness.connect_early().await.map_err(|e| e.to_string())?;
    let mut agent_config =
        MqttConfig::new(&shared.address, version, DEFAULT_AGENT_ID, &agent_topic)
            .with_peer_topic(Some(controller_topic));
    agent_config.client_id = Some(format!("plugfest-bench-agent-{slot}"));
    Ok(agent_dials(harness, MqttEndpoint::new(agent_config), host))
}

/// The TLS material of an MQTT run: the broker's listener and each client's side.
struct MqttPki {
    broker: MosquittoTls,
    harness: MqttTls,
    /// The harness as the read-only Controller.
    readonly: MqttTls,
    agent: MqttTls,
    /// The interposer's listener, when there is one (`--interpose`).
    interposer: ServerTls,
}

fn mqtt_pki(tls: &LoopbackTls) -> Result<MqttPki, String> {
    let e = |e: crate::mtp::tls::TlsError| e.to_string();
    let ca = TestCa::new("usp-plugfest throw-away CA").map_err(e)?;
    let broker = ca.issue(BROKER_CERTIFICATE_ID).map_err(e)?;
    let client = |eid: &str, trust: ServerTrust| -> Result<MqttTls, String> {
        let identity = ca.issue(eid).map_err(e)?.identity();
        Ok(MqttTls {
            client: ClientTls::new(trust, Some(identity)).map_err(e)?,
        })
    };
    let harness_trust = || {
        if tls.insecure {
            ServerTrust::Insecure
        } else {
            ServerTrust::Roots(vec![ca.cert()])
        }
    };
    Ok(MqttPki {
        interposer: interposer_tls(&ca)?,
        harness: client(DEFAULT_CONTROLLER_ID, harness_trust())?,
        readonly: client(READONLY_CONTROLLER_ID, harness_trust())?,
        agent: client(DEFAULT_AGENT_ID, ServerTrust::Roots(vec![ca.cert()]))?,
        broker: MosquittoTls {
            ca_pem: ca.cert_pem().to_string(),
            cert_pem: broker.cert_pem,
            key_pem: broker.key_pem,
            require_certificate: true,
        },
    })
}

/// The MQTT client faults, knobs of the Agent's transport: the binding's
/// (R-MQTT.23/24, R-MQTT.27) and those seen only through the interposer.
/// Shared with `plugfest agent --mqtt-broker`.
pub(crate) fn agent_client_faults(config: &mut MqttConfig, faults: &FaultSet) {
    config.omit_reply_to = faults.contains(Fault::NoResponseTopic);
    config.content_type = faults
        .contains(Fault::WrongContentType)
        .then(|| WRONG_CONTENT_TYPE.to_string());
    config.ignore_subscribe_topic = faults.contains(Fault::IgnoresSubscribeTopic);
    config.omit_request_response_information = faults.contains(Fault::NoRequestResponseInformation);
    config.new_client_id_on_reconnect = faults.contains(Fault::NewClientIdOnReconnect);
    config.ignore_assigned_client_identifier =
        faults.contains(Fault::IgnoresAssignedClientIdentifier);
    config.ignore_keep_alive_time = faults.contains(Fault::IgnoresKeepAliveTime);
    config.ignore_server_keep_alive = faults.contains(Fault::IgnoresServerKeepAlive);
    config.stay_without_subscribe_topic = faults.contains(Fault::MqttStaysWithoutSubscribeTopic);
    config.ignore_new_subscription = faults.contains(Fault::MqttIgnoresNewSubscription);
    config.subscribe_at_qos_0 = faults.contains(Fault::MqttWrongQos);
}
