//! The embedded default: the reference Agent started in-process and reached
//! over a real transport on loopback, one function per MTP. Each returns
//! the harness's connector, the Agent's task and, for a broker MTP, the
//! broker, which the caller keeps until the run ends (dropping it stops it).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::agent::faults::{Fault, FaultSet};
use crate::agent::runtime::{AgentHost, BackoffSource};
use crate::broker::rabbitmq::{BrokerTls, RabbitMq};
use crate::broker::{Mosquitto, MosquittoTls};
use crate::cli::{MtpArg, Role};
use crate::interpose::{MqttInterposer, StompInterposer};
use crate::mtp::coap::{CoapConfig, CoapControl, CoapEndpoint, CoapQuirks};
use crate::mtp::mqtt::{MqttConfig, MqttEndpoint, MqttTls, MqttVersion};
use crate::mtp::stomp::{ModelFaults, SendFaults, StompClient, StompConfig, MODEL_MTP};
use crate::mtp::tls::pki::TestCa;
use crate::mtp::tls::{ClientAuth, ClientTls, ServerTls, ServerTrust};
use crate::mtp::uds::{UdsDialer, UdsListener};
use crate::mtp::websocket::control::SecondSession;
use crate::mtp::websocket::{WsControl, WsDialer, WsServer};
use crate::mtp::MtpConnector;
use crate::target::{
    agent_topic, controller_topic, ControllerEntry, DEFAULT_AGENT_ID, DEFAULT_CONTROLLER_ID,
    READONLY_CONTROLLER_ID, READONLY_CONTROLLER_NAME,
};

/// How soon a dropped in-process Agent dials again.
const RECONNECT: Duration = Duration::from_millis(100);

pub struct Started {
    pub connector: Box<dyn MtpConnector>,
    pub agent_task: JoinHandle<()>,
    /// The broker started for this run; dropping it stops it (which may
    /// block, so drop it off the async threads).
    pub broker: Option<Box<dyn Send>>,
    /// `--interpose`: the MQTT interposer between the Agent and the broker.
    pub mqtt_interposer: Option<crate::interpose::InterposerHandle>,
    /// The read-only Controller the built-in Agent knows, and how the
    /// harness reaches the Agent as it (an Err says why it cannot).
    pub controllers: Vec<ExtraController>,
    /// `--mtp stomp --interpose`: the STOMP interposer likewise.
    pub stomp_interposer: Option<crate::interpose::StompInterposerHandle>,
    /// The WebSocket test controls, when the harness is the WebSocket
    /// server the Agent dials.
    pub ws_control: Option<WsControl>,
    /// As the client of the Agent's WebSocket server: a second session's dialer.
    pub ws_second_session: Option<SecondSession>,
    /// `--mtp coap`: the harness's CoAP endpoint's test controls.
    pub coap_control: Option<CoapControl>,
}

/// One more Controller identity and the harness's way to the Agent as it.
pub struct ExtraController {
    pub entry: ControllerEntry,
    pub connector: Result<Box<dyn MtpConnector>, String>,
}

/// The loopback's read-only Controller (the Agent's Role 2).
fn readonly_entry() -> ControllerEntry {
    ControllerEntry {
        name: READONLY_CONTROLLER_NAME.to_string(),
        endpoint_id: READONLY_CONTROLLER_ID.to_string(),
        role: Some("Read Only (Device.LocalAgent.ControllerTrust.Role.2)".to_string()),
        listen: None,
        topic: None,
        destination: None,
        socket: None,
    }
}

/// The read-only Controller on an MTP where the harness cannot act as it:
/// CoAP (legacy, no second Controller built) and a shared `bench` broker.
fn readonly_unreachable() -> Vec<ExtraController> {
    vec![ExtraController {
        entry: readonly_entry(),
        connector: Err(
            "the built-in Agent's second Controller is reachable over WebSocket, MQTT, STOMP and UDS (--mtp ws|mqtt|stomp|uds), not over CoAP nor on a broker shared by `plugfest bench`"
                .into(),
        ),
    }]
}

/// The harness waits on `harness`; the Agent dials it with `agent_side`
/// and dials again whenever the connection drops.
fn agent_dials(
    harness: impl MtpConnector + 'static,
    agent_side: impl MtpConnector + 'static,
    host: AgentHost,
) -> Started {
    let agent_task = tokio::spawn(host.run_dialer(
        agent_side,
        Some(DEFAULT_CONTROLLER_ID.to_string()),
        RECONNECT,
    ));
    Started {
        connector: Box::new(harness),
        agent_task,
        broker: None,
        mqtt_interposer: None,
        stomp_interposer: None,
        controllers: readonly_unreachable(),
        ws_control: None,
        ws_second_session: None,
        coap_control: None,
    }
}

/// How soon the Agent dials again: at once with the `retries-too-early`
/// fault (R-WS.19-21 ask for a wait of at least the minimum interval).
fn ws_retry(host: &AgentHost) -> Duration {
    if host.faults().contains(Fault::RetriesTooEarly) {
        Duration::ZERO
    } else {
        RECONNECT
    }
}

/// Like `agent_dials` (with the Agent's own retry interval), and the Agent also dials the read-only
/// Controller's `readonly` server with `readonly_agent_side` (its
/// Controller.2.MTP.1), as it would a second Controller in the field.
fn two_dialers(
    harness: impl MtpConnector + 'static,
    agent_side: impl MtpConnector + 'static,
    readonly: impl MtpConnector + 'static,
    readonly_agent_side: impl MtpConnector + 'static,
    host: AgentHost,
    retry: Duration,
) -> Started {
    let second = host.clone();
    // One task for both, so aborting it ends both dialers.
    let agent_task = tokio::spawn(async move {
        tokio::join!(
            host.run_dialer(agent_side, Some(DEFAULT_CONTROLLER_ID.to_string()), retry),
            second.run_dialer(
                readonly_agent_side,
                Some(READONLY_CONTROLLER_ID.to_string()),
                retry
            ),
        );
    });
    Started {
        connector: Box::new(harness),
        agent_task,
        broker: None,
        mqtt_interposer: None,
        stomp_interposer: None,
        controllers: vec![ExtraController {
            entry: readonly_entry(),
            connector: Ok(Box::new(readonly)),
        }],
        ws_control: None,
        ws_second_session: None,
        coap_control: None,
    }
}

/// The Agent waits on `agent_side`; the harness dials it with `harness`.
fn agent_listens(
    agent_side: impl MtpConnector + 'static,
    harness: impl MtpConnector + 'static,
    host: AgentHost,
) -> Started {
    Started {
        connector: Box::new(harness),
        agent_task: tokio::spawn(host.run_listener(agent_side)),
        broker: None,
        mqtt_interposer: None,
        controllers: readonly_unreachable(),
        stomp_interposer: None,
        ws_control: None,
        ws_second_session: None,
        coap_control: None,
    }
}

/// What to start for the run's MTP.
#[derive(Debug, Clone)]
pub struct LoopbackOptions {
    pub mtp: MtpArg,
    pub role: Role,
    pub mqtt_version: MqttVersion,
    /// A running STOMP broker to use instead of starting one.
    pub stomp_broker: Option<String>,
    /// `--tls`: throw-away certificates for this run (WebSocket, MQTT, STOMP).
    pub tls: Option<LoopbackTls>,
    /// `--interpose`: the Agent reaches the broker through the MQTT
    /// interposer (src/interpose/), which logs and steers its packets.
    pub interpose: bool,
}

/// One run's place on a mosquitto shared by many (`plugfest bench`): the
/// broker's address, and a number that makes this pair's MQTT client IDs
/// and topics its own (the Endpoint IDs stay the defaults).
#[derive(Debug, Clone)]
pub struct SharedMqtt {
    pub address: String,
    pub slot: usize,
}

/// The Endpoint ID the `cert-eid-mismatch` fault puts in the Agent's certificate.
pub const IMPOSTOR_ID: &str = "proto::plugfest-impostor";

/// The Endpoint ID in the certificate of the private mosquitto started for
/// `--mtp mqtt --tls`: the broker is no USP Endpoint, but a certificate made
/// by `TestCa` names one, and the harness must not mistake it for the Agent's.
pub const BROKER_CERTIFICATE_ID: &str = "proto::plugfest-mosquitto";

/// The Endpoint ID in the certificate of the interposer's TLS listener
/// (`--interpose --tls`): like the broker's, no USP Endpoint's.
pub const INTERPOSER_CERTIFICATE_ID: &str = "proto::plugfest-interposer";

/// `--tls` with the built-in Agent.
#[derive(Debug, Clone)]
pub struct LoopbackTls {
    /// The harness accepts any server certificate (`--insecure`).
    pub insecure: bool,
    /// The Endpoint ID in the Agent's certificate (normally the Agent's own).
    pub agent_certificate_id: String,
}

/// The Content Type / content-type the `wrong-content-type` fault sends.
pub const WRONG_CONTENT_TYPE: &str = "text/plain";

/// Refuses a binding fault on an MTP whose binding has no such rule to
/// break: saying so beats a run that passes because the fault never happened.
pub fn check_faults_apply(
    faults: &FaultSet,
    mtp: MtpArg,
    mqtt_version: MqttVersion,
) -> Result<(), String> {
    let mqtt5 = mtp == MtpArg::Mqtt && mqtt_version == MqttVersion::V5;
    for fault in faults.iter() {
        let (applies, where_it_does) = match fault {
            Fault::TextFrames => (mtp == MtpArg::Ws, "--mtp ws"),
            Fault::NoResponseTopic => (mtp == MtpArg::Mqtt, "--mtp mqtt (5 or 3.1.1)"),
            Fault::WrongContentType => (
                mtp == MtpArg::Stomp || mqtt5,
                "--mtp stomp or --mtp mqtt with MQTT 5 (MQTT 3.1.1 has no Content Type)",
            ),
            Fault::NoReplyToDest => (mtp == MtpArg::Stomp, "--mtp stomp"),
            Fault::WrongCloseCode
            | Fault::RetriesTooEarly
            | Fault::KeepsBothSessions
            | Fault::WsCloseUnanswered => (mtp == MtpArg::Ws, "--mtp ws"),
            // Over WebSocket the binding's own answer is Close 1003
            // (wrong-close-code breaks that); CoAP answers 4.00.
            Fault::DropsSessionOnBadRecord => (
                matches!(mtp, MtpArg::Mqtt | MtpArg::Stomp | MtpArg::Uds),
                "--mtp mqtt, --mtp stomp or --mtp uds",
            ),
            _ => continue,
        };
        if !applies {
            return Err(format!(
                "the {fault} fault cannot happen over {}: it applies with {where_it_does} only",
                label(mtp, mqtt_version)
            ));
        }
    }
    Ok(())
}

/// `--interpose` runs on MQTT or STOMP (with `--tls` the Agent reaches
/// the interposer over TLS), and the faults only the interposer can see
/// are refused without it: a run that passes because the fault was never
/// observable would mislead.
fn check_interposer_faults(faults: &FaultSet, options: &LoopbackOptions) -> Result<(), String> {
    let brokered = matches!(options.mtp, MtpArg::Mqtt | MtpArg::Stomp);
    if options.interpose && !brokered {
        return Err("--interpose works with --mtp mqtt or --mtp stomp only".into());
    }
    // A plaintext Agent is seen by a TLS listener that tells it from a
    // ClientHello: the harness's WebSocket server, or an interposer.
    // Elsewhere the broker (or the harness's TLS client) would only refuse
    // it, and every case would fail for one fault.
    if faults.contains(Fault::MtpTlsIgnored) {
        let seen = options.tls.is_some()
            && match options.mtp {
                MtpArg::Ws => options.role == Role::Server,
                MtpArg::Mqtt | MtpArg::Stomp => options.interpose,
                MtpArg::Uds | MtpArg::Coap => false,
            };
        if !seen {
            return Err("the mtp-tls-ignored fault applies with --tls and either --mtp ws --role server, or --mtp mqtt/stomp --interpose (a listener that expects TLS must see the Agent's plaintext)".into());
        }
    }
    for fault in [
        Fault::WrongHeartBeatHeader,
        Fault::IgnoresSubscribeDest,
        Fault::StompRetriesTooEarly,
        Fault::StompIgnoresModelDestination,
        Fault::StompNoDisconnectWithoutDestination,
        Fault::StompNoUnsubscribeOnDestinationChange,
        Fault::StompWrongHeartBeat,
        Fault::StompSubscribesBeforeUnsubscribe,
    ] {
        if faults.contains(fault) && !(options.interpose && options.mtp == MtpArg::Stomp) {
            return Err(format!(
                "the {fault} fault can only be seen through the STOMP interposer: it applies with --mtp stomp --interpose only"
            ));
        }
    }
    for fault in [
        Fault::IgnoresSubscribeTopic,
        Fault::NoRequestResponseInformation,
        Fault::RetriesOutsideWindow,
        Fault::NewClientIdOnReconnect,
        Fault::IgnoresAssignedClientIdentifier,
        Fault::IgnoresKeepAliveTime,
        Fault::IgnoresServerKeepAlive,
        Fault::MqttFixedRetryWhenBrokerDown,
        Fault::MqttStaysWithoutSubscribeTopic,
        Fault::MqttIgnoresNewSubscription,
        Fault::MqttWrongQos,
    ] {
        if faults.contains(fault) && !(options.interpose && options.mqtt_version == MqttVersion::V5)
        {
            return Err(format!(
                "the {fault} fault can only be seen through the MQTT interposer: it applies with --mtp mqtt --interpose (MQTT 5) only"
            ));
        }
    }
    Ok(())
}

/// The permission faults are seen only by the read-only Controller, which
/// the harness cannot be over CoAP: there they are refused, as a run that
/// passes because nobody could see them would mislead.
fn check_trust_faults(faults: &FaultSet, mtp: MtpArg) -> Result<(), String> {
    for fault in [
        Fault::IgnoresPermissions,
        Fault::HiddenParamsReadable,
        Fault::NotifyWithoutPermission,
        Fault::UntrustedGetsFullAccess,
        Fault::AddedRoleIgnored,
        Fault::AddedPermissionIgnored,
    ] {
        if faults.contains(fault) && mtp == MtpArg::Coap {
            return Err(format!(
                "the {fault} fault can only be seen by a second Controller, which the harness cannot act as over CoAP: it applies with --mtp ws, mqtt, stomp or uds"
            ));
        }
    }
    Ok(())
}

pub async fn start(options: &LoopbackOptions, host: AgentHost) -> Result<Started, String> {
    start_with(options, host, None).await
}

/// `start`; with `shared_mqtt` (`plugfest bench --mtp mqtt`), an MQTT run
/// uses that mosquitto, shared by many runs, instead of starting its own.
pub async fn start_with(
    options: &LoopbackOptions,
    host: AgentHost,
    shared_mqtt: Option<SharedMqtt>,
) -> Result<Started, String> {
    // Only an Agent that is the WebSocket server can be offered a second session.
    if host.faults().contains(Fault::KeepsBothSessions)
        && !(options.mtp == MtpArg::Ws && options.role == Role::Client)
    {
        return Err("the keeps-both-sessions fault applies with --mtp ws --role client only (the Agent must be the WebSocket server)".into());
    }
    // Only the harness as the server the Agent dials can send it a Close.
    if host.faults().contains(Fault::WsCloseUnanswered)
        && !(options.mtp == MtpArg::Ws && options.role == Role::Server)
    {
        return Err("the ws-close-unanswered fault applies with --mtp ws --role server only (the harness must be the WebSocket server the Agent dials, to send it a Close)".into());
    }
    check_faults_apply(host.faults(), options.mtp, options.mqtt_version)?;
    check_trust_faults(host.faults(), options.mtp)?;
    check_interposer_faults(host.faults(), options)?;
    check_coap_faults(host.faults(), options)?;
    if options.tls.is_some() && !matches!(options.mtp, MtpArg::Ws | MtpArg::Mqtt | MtpArg::Stomp) {
        return Err(
            "--tls works with --mtp ws, mqtt and stomp; UDS is local to the device and CoAP's DTLS is not implemented"
                .into(),
        );
    }
    match options.mtp {
        MtpArg::Ws => match &options.tls {
            None => websocket(options.role, host).await,
            Some(tls) => secure_websocket(options.role, host, tls).await,
        },
        // On the broker MTPs both ends are broker clients: no role applies.
        MtpArg::Mqtt => {
            let interpose = options.interpose;
            match &shared_mqtt {
                Some(shared) if options.tls.is_none() && !interpose => {
                    Ok(mqtt_shared(options.mqtt_version, host, shared).await?)
                }
                Some(_) => {
                    Err("a shared mosquitto is used without --tls and --interpose only".into())
                }
                None => mqtt(options.mqtt_version, host, options.tls.as_ref(), interpose).await,
            }
        }
        MtpArg::Stomp => {
            let broker = options.stomp_broker.clone();
            stomp(host, broker, options.tls.as_ref(), options.interpose).await
        }
        MtpArg::Uds => uds(options.role, host),
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
        MtpArg::Stomp => "STOMP",
        MtpArg::Coap => crate::mtp::coap::MTP,
    }
}

/// A private mosquitto, the harness subscribed to its topic before the
/// Agent starts (so the Agent's MQTTConnectRecord is not published to a
/// topic nobody listens on yet), and the Agent dialing the same broker.
///
/// With `--tls` both clients reach the broker over TLS only: a throw-away CA
/// issues the broker's certificate and each client's, and the broker
/// requires client certificates. Nothing but the broker's own copy of its
/// PEMs (in its private directory) is written to disk.
async fn mqtt(
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
    // The binding faults (R-MQTT.23/24, R-MQTT.27) are knobs of the Agent's transport.
    agent_config.omit_reply_to = host.faults().contains(Fault::NoResponseTopic);
    agent_config.content_type = host
        .faults()
        .contains(Fault::WrongContentType)
        .then(|| WRONG_CONTENT_TYPE.to_string());
    agent_config.ignore_subscribe_topic = host.faults().contains(Fault::IgnoresSubscribeTopic);
    agent_config.omit_request_response_information =
        host.faults().contains(Fault::NoRequestResponseInformation);
    // ClientID and KeepAliveTime come from Device.MQTT.Client.1. at every
    // connect, the retry waits from its ConnectRetry* parameters.
    agent_config.follow_model = true;
    agent_config.new_client_id_on_reconnect = host.faults().contains(Fault::NewClientIdOnReconnect);
    agent_config.ignore_assigned_client_identifier = host
        .faults()
        .contains(Fault::IgnoresAssignedClientIdentifier);
    agent_config.ignore_keep_alive_time = host.faults().contains(Fault::IgnoresKeepAliveTime);
    agent_config.ignore_server_keep_alive = host.faults().contains(Fault::IgnoresServerKeepAlive);
    agent_config.stay_without_subscribe_topic = host
        .faults()
        .contains(Fault::MqttStaysWithoutSubscribeTopic);
    agent_config.ignore_new_subscription =
        host.faults().contains(Fault::MqttIgnoresNewSubscription);
    agent_config.subscribe_at_qos_0 = host.faults().contains(Fault::MqttWrongQos);
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
async fn mqtt_shared(
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

/// The TLS listener of an interposer: a certificate from the run's CA,
/// which the Agent trusts as it would its broker's; the Agent's own
/// certificate is asked for and verified when it sends one, so the check
/// can report it.
fn interposer_tls(ca: &TestCa) -> Result<ServerTls, String> {
    let e = |e: crate::mtp::tls::TlsError| e.to_string();
    let identity = ca.issue(INTERPOSER_CERTIFICATE_ID).map_err(e)?.identity();
    ServerTls::new(identity, ClientAuth::Optional(vec![ca.cert()])).map_err(e)
}

/// The reference Agent's heart-beat offer `(outgoing, incoming)` in ms:
/// frequent enough to be seen within a case, lenient about the broker's.
pub const AGENT_HEARTBEAT: (u64, u64) = (2_000, 10_000);

/// Both ends are clients of one broker. The destinations carry the process
/// id so that runs sharing a broker never read each other's Records (queues
/// outlive their subscribers).
async fn stomp(
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
    // The handshake faults, seen only through the interposer.
    agent.ignore_subscribe_dest = host.faults().contains(Fault::IgnoresSubscribeDest);
    agent.misspell_heart_beat = host.faults().contains(Fault::WrongHeartBeatHeader);
    // Destination and heart-beats come from the model at every connect (the
    // values above are where it starts), and a changed destination is
    // followed on the live connection; the model starts with this run's queue.
    agent.follow_model = true;
    agent.model_faults = ModelFaults {
        ignore_destination: host.faults().contains(Fault::StompIgnoresModelDestination),
        ignore_heart_beat: host.faults().contains(Fault::StompWrongHeartBeat),
        stay_without_destination: host
            .faults()
            .contains(Fault::StompNoDisconnectWithoutDestination),
        no_unsubscribe: host
            .faults()
            .contains(Fault::StompNoUnsubscribeOnDestinationChange),
        subscribe_first: host
            .faults()
            .contains(Fault::StompSubscribesBeforeUnsubscribe),
    };
    host.put_param(MODEL_MTP, "Destination", &agent_dest).await;
    host.put_param(CONTROLLER_STOMP_MTP, "Destination", &controller_dest)
        .await;
    // The binding faults (R-STOMP.20/21) are knobs of the Agent's SEND frames.
    let send_faults = SendFaults {
        omit_reply_to_dest: host.faults().contains(Fault::NoReplyToDest),
        content_type: host
            .faults()
            .contains(Fault::WrongContentType)
            .then(|| WRONG_CONTENT_TYPE.to_string()),
    };
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

async fn websocket(role: Role, host: AgentHost) -> Result<Started, String> {
    const PATH: &str = "/usp";
    // The `text-frames` fault (R-WS.14) is a knob of the Agent's connections.
    let text_frames = host.faults().contains(Fault::TextFrames);
    let close_unanswered = host.faults().contains(Fault::WsCloseUnanswered);
    match role {
        Role::Server => {
            let control = WsControl::new();
            let server = WsServer::bind("127.0.0.1:0", Some(PATH.into()), DEFAULT_CONTROLLER_ID)
                .await
                .map_err(|e| e.to_string())?
                .with_control(control.clone());
            let agent_side = WsDialer::new(
                &format!("ws://{}{PATH}", server.local_addr()),
                DEFAULT_AGENT_ID,
            )
            .with_text_frames(text_frames)
            .with_close_unanswered(close_unanswered);
            // The read-only Controller listens on its own port, and the Agent
            // dials it too (its Controller.2.MTP.1), as it would a second
            // Controller in the field.
            let readonly = WsServer::bind("127.0.0.1:0", Some(PATH.into()), READONLY_CONTROLLER_ID)
                .await
                .map_err(|e| e.to_string())?;
            let readonly_agent_side = WsDialer::new(
                &format!("ws://{}{PATH}", readonly.local_addr()),
                DEFAULT_AGENT_ID,
            )
            .with_text_frames(text_frames);
            let retry = ws_retry(&host);
            // After a refused handshake the waits come from the dialed
            // Controller's MTP.{i}.WebSocket.SessionRetry* (R-WS.19-21).
            let host = host.with_backoff(BackoffSource::WebSocket);
            Ok(Started {
                ws_control: Some(control),
                ..two_dialers(
                    server,
                    agent_side,
                    readonly,
                    readonly_agent_side,
                    host,
                    retry,
                )
            })
        }
        Role::Client => {
            let agent_side = WsServer::bind("127.0.0.1:0", None, DEFAULT_AGENT_ID)
                .await
                .map_err(|e| e.to_string())?
                .with_text_frames(text_frames);
            let url = format!("ws://{}/", agent_side.local_addr());
            let harness = WsDialer::new(&url, DEFAULT_CONTROLLER_ID);
            // The read-only Controller dials the same Agent with its own eid.
            let readonly = WsDialer::new(&url, READONLY_CONTROLLER_ID);
            Ok(Started {
                controllers: vec![ExtraController {
                    entry: readonly_entry(),
                    connector: Ok(Box::new(readonly)),
                }],
                ws_second_session: Some(SecondSession(harness.clone())),
                ..agent_listens(agent_side, harness, host)
            })
        }
    }
}

/// wss with a throw-away PKI made for this run: a CA, a Controller
/// certificate and an Agent certificate, each naming its Endpoint ID in
/// the subjectAltName (R-SEC.0a). Nothing is written to disk.
async fn secure_websocket(
    role: Role,
    host: AgentHost,
    tls: &LoopbackTls,
) -> Result<Started, String> {
    const PATH: &str = "/usp";
    let e = |e: crate::mtp::tls::TlsError| e.to_string();
    let ca = TestCa::new("usp-plugfest throw-away CA").map_err(e)?;
    let controller = ca.issue(DEFAULT_CONTROLLER_ID).map_err(e)?.identity();
    let agent = ca.issue(&tls.agent_certificate_id).map_err(e)?.identity();
    let text_frames = host.faults().contains(Fault::TextFrames);
    let close_unanswered = host.faults().contains(Fault::WsCloseUnanswered);
    match role {
        Role::Server => {
            // The harness asks for the Agent's certificate to learn and
            // check its identity.
            let server_tls =
                ServerTls::new(controller, ClientAuth::Optional(vec![ca.cert()])).map_err(e)?;
            let control = WsControl::new();
            let server = WsServer::bind("127.0.0.1:0", Some(PATH.into()), DEFAULT_CONTROLLER_ID)
                .await
                .map_err(|e| e.to_string())?
                .with_tls(server_tls)
                .with_control(control.clone());
            // `mtp-tls-ignored`: the Agent dials ws:// although its
            // Controller's MTP says TLS; the harness's server sees a
            // plaintext first byte and says so.
            let tls_ignored = host.faults().contains(Fault::MtpTlsIgnored);
            let dial = |address: String, identity| -> Result<WsDialer, String> {
                Ok(match tls_ignored {
                    true => WsDialer::new(&format!("ws://{address}{PATH}"), DEFAULT_AGENT_ID),
                    false => WsDialer::new(&format!("wss://{address}{PATH}"), DEFAULT_AGENT_ID)
                        .with_tls(
                            ClientTls::new(ServerTrust::Roots(vec![ca.cert()]), Some(identity))
                                .map_err(e)?,
                        ),
                })
            };
            let agent_side = dial(server.local_addr(), agent)?
                .with_text_frames(text_frames)
                .with_close_unanswered(close_unanswered);
            // The read-only Controller: its own certificate, port and dialer.
            let readonly_identity = ca.issue(READONLY_CONTROLLER_ID).map_err(e)?.identity();
            let readonly_tls =
                ServerTls::new(readonly_identity, ClientAuth::Optional(vec![ca.cert()]))
                    .map_err(e)?;
            let readonly = WsServer::bind("127.0.0.1:0", Some(PATH.into()), READONLY_CONTROLLER_ID)
                .await
                .map_err(|e| e.to_string())?
                .with_tls(readonly_tls);
            let agent_again = ca.issue(&tls.agent_certificate_id).map_err(e)?.identity();
            let readonly_agent_side =
                dial(readonly.local_addr(), agent_again)?.with_text_frames(text_frames);
            let retry = ws_retry(&host);
            // After a refused handshake the waits come from the dialed
            // Controller's MTP.{i}.WebSocket.SessionRetry* (R-WS.19-21).
            let host = host.with_backoff(BackoffSource::WebSocket);
            Ok(Started {
                ws_control: Some(control),
                ..two_dialers(
                    server,
                    agent_side,
                    readonly,
                    readonly_agent_side,
                    host,
                    retry,
                )
            })
        }
        Role::Client => {
            // R-MTP.1: the Agent requires the Controller's certificate.
            let agent_tls =
                ServerTls::new(agent, ClientAuth::Required(vec![ca.cert()])).map_err(e)?;
            let agent_side = WsServer::bind("127.0.0.1:0", None, DEFAULT_AGENT_ID)
                .await
                .map_err(|e| e.to_string())?
                .with_tls(agent_tls)
                .with_text_frames(text_frames);
            let url = format!("wss://{}/", agent_side.local_addr());
            let trust = if tls.insecure {
                ServerTrust::Insecure
            } else {
                ServerTrust::Roots(vec![ca.cert()])
            };
            let readonly_identity = ca.issue(READONLY_CONTROLLER_ID).map_err(e)?.identity();
            let readonly_trust = if tls.insecure {
                ServerTrust::Insecure
            } else {
                ServerTrust::Roots(vec![ca.cert()])
            };
            let readonly_tls =
                ClientTls::new(readonly_trust, Some(readonly_identity)).map_err(e)?;
            let harness_tls = ClientTls::new(trust, Some(controller)).map_err(e)?;
            let harness = WsDialer::new(&url, DEFAULT_CONTROLLER_ID).with_tls(harness_tls);
            let readonly = WsDialer::new(&url, READONLY_CONTROLLER_ID).with_tls(readonly_tls);
            Ok(Started {
                controllers: vec![ExtraController {
                    entry: readonly_entry(),
                    connector: Ok(Box::new(readonly)),
                }],
                ws_second_session: Some(SecondSession(harness.clone())),
                ..agent_listens(agent_side, harness, host)
            })
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

/// UDS as WebSocket: each Controller has its own socket the Agent dials,
/// or the Agent's socket accepts every Controller (the UDS Handshake TLV
/// names which), so the read-only Controller is one more socket or one
/// more dialer.
fn uds(role: Role, host: AgentHost) -> Result<Started, String> {
    let path = fresh_socket_path();
    match role {
        Role::Server => {
            let server =
                UdsListener::bind(&path, DEFAULT_CONTROLLER_ID).map_err(|e| e.to_string())?;
            let agent_side = UdsDialer::new(&path, DEFAULT_AGENT_ID);
            let readonly_path = fresh_socket_path();
            let readonly = UdsListener::bind(&readonly_path, READONLY_CONTROLLER_ID)
                .map_err(|e| e.to_string())?;
            let readonly_agent_side = UdsDialer::new(&readonly_path, DEFAULT_AGENT_ID);
            Ok(two_dialers(
                server,
                agent_side,
                readonly,
                readonly_agent_side,
                host,
                RECONNECT,
            ))
        }
        Role::Client => {
            let agent_side =
                UdsListener::bind(&path, DEFAULT_AGENT_ID).map_err(|e| e.to_string())?;
            let harness = UdsDialer::new(&path, DEFAULT_CONTROLLER_ID);
            let readonly = UdsDialer::new(&path, READONLY_CONTROLLER_ID);
            Ok(Started {
                controllers: vec![ExtraController {
                    entry: readonly_entry(),
                    connector: Ok(Box::new(readonly)),
                }],
                ..agent_listens(agent_side, harness, host)
            })
        }
    }
}

/// Loopback never loses a datagram; a short ACK timeout keeps a run with a
/// silent peer short (RFC 7252's 2 s default is for real networks).
const LOOPBACK_ACK_TIMEOUT: Duration = Duration::from_millis(300);

/// Two CoAP resources on free 127.0.0.1 ports, each configured with the
/// other's URI (the Agent's LocalAgent.Controller.{i}.MTP.{i}.CoAP config).
/// The harness's keeps the test controls (TP-469 section 5).
async fn coap(host: AgentHost) -> Result<Started, String> {
    const PATH: &str = "/usp";
    let config = |peer: Option<String>| {
        CoapConfig::new("127.0.0.1:0", PATH, peer).with_ack_timeout(LOOPBACK_ACK_TIMEOUT)
    };
    let mut agent_side = CoapEndpoint::bind(with_coap_faults(config(None), host.faults()))
        .await
        .map_err(|e| e.to_string())?;
    let control = CoapControl::new();
    let harness = CoapEndpoint::bind(
        config(Some(agent_side.uri().to_string())).with_control(control.clone()),
    )
    .await
    .map_err(|e| e.to_string())?;
    agent_side
        .set_peer(harness.uri())
        .map_err(|e| e.to_string())?;
    Ok(Started {
        coap_control: Some(control),
        ..agent_dials(harness, agent_side, host)
    })
}

/// The CoAP faults happen on CoAP only: a run on another MTP that passes
/// because the fault never showed would mislead.
fn check_coap_faults(faults: &FaultSet, options: &LoopbackOptions) -> Result<(), String> {
    for fault in [
        Fault::CoapWrongContentFormat,
        Fault::CoapNoBlockWise,
        Fault::CoapCreatedNotChanged,
        Fault::CoapNoRetransmit,
        Fault::CoapLenientInbox,
    ] {
        if faults.contains(fault) && options.mtp != MtpArg::Coap {
            return Err(format!(
                "the {fault} fault happens on CoAP only: it applies with --mtp coap"
            ));
        }
    }
    Ok(())
}

/// The reference Agent's CoAP endpoint with its CoAP faults applied.
pub fn with_coap_faults(config: CoapConfig, faults: &FaultSet) -> CoapConfig {
    let quirks = CoapQuirks {
        content_format: faults.contains(Fault::CoapWrongContentFormat).then_some(0),
        no_block_wise: faults.contains(Fault::CoapNoBlockWise),
        created_not_changed: faults.contains(Fault::CoapCreatedNotChanged),
        lenient: faults.contains(Fault::CoapLenientInbox),
    };
    let config = config.with_quirks(quirks);
    match faults.contains(Fault::CoapNoRetransmit) {
        true => config.with_max_retransmit(0),
        false => config,
    }
}
