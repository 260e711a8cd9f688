//! The embedded default: the reference Agent started in-process and reached
//! over a real transport on loopback, one function per MTP. Each returns
//! the harness's connector, the Agent's task and, for a broker MTP, the
//! broker, which the caller keeps until the run ends (dropping it stops it).

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::agent::faults::Fault;
use crate::agent::runtime::AgentHost;
use crate::cli::{MtpArg, Role};
use crate::mtp::coap::CoapControl;
use crate::mtp::mqtt::MqttVersion;
use crate::mtp::tls::pki::TestCa;
use crate::mtp::tls::{ClientAuth, ServerTls};
use crate::mtp::websocket::control::SecondSession;
use crate::mtp::websocket::WsControl;
use crate::mtp::MtpConnector;
use crate::target::{
    ControllerEntry, DEFAULT_CONTROLLER_ID, READONLY_CONTROLLER_ID, READONLY_CONTROLLER_NAME,
};

mod coap;
mod fault_checks;
pub(crate) mod mqtt;
pub(crate) mod stomp;
mod uds;
mod websocket;

use coap::coap;
pub use coap::with_coap_faults;
pub use fault_checks::check_faults_apply;
use fault_checks::{check_coap_faults, check_interposer_faults, check_trust_faults};
use mqtt::{mqtt, mqtt_shared};
use stomp::stomp;
use uds::uds;
use websocket::{secure_websocket, websocket};

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

impl LoopbackOptions {
    /// `mtp` with the harness in `role` and nothing more: no TLS, no
    /// interposer, MQTT 5, a STOMP broker started for the run.
    pub fn plain(mtp: MtpArg, role: Role) -> Self {
        LoopbackOptions {
            mtp,
            role,
            mqtt_version: MqttVersion::V5,
            stomp_broker: None,
            tls: None,
            interpose: false,
        }
    }
}

/// A Session with the default Endpoint IDs against `host` over loopback
/// WebSocket, the harness in `role` (requests time out after 2 s), and the
/// Agent's task.
#[cfg(test)]
pub(crate) async fn test_session(
    host: AgentHost,
    role: Role,
) -> (crate::session::Session, JoinHandle<()>) {
    use crate::session::{Session, SessionConfig};
    use crate::target::{DEFAULT_AGENT_ID, DEFAULT_CONTROLLER_ID};
    let started = start(&LoopbackOptions::plain(MtpArg::Ws, role), host)
        .await
        .expect("loopback Agent starts");
    let config = SessionConfig {
        controller_id: DEFAULT_CONTROLLER_ID.into(),
        agent_id: Some(DEFAULT_AGENT_ID.into()),
        request_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(5),
        connect_record_timeout: Duration::from_secs(2),
    };
    (Session::new(started.connector, config), started.agent_task)
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

/// The TLS listener of an interposer: a certificate from the run's CA,
/// which the Agent trusts as it would its broker's; the Agent's own
/// certificate is asked for and verified when it sends one, so the check
/// can report it.
fn interposer_tls(ca: &TestCa) -> Result<ServerTls, String> {
    let e = |e: crate::mtp::tls::TlsError| e.to_string();
    let identity = ca.issue(INTERPOSER_CERTIFICATE_ID).map_err(e)?.identity();
    ServerTls::new(identity, ClientAuth::Optional(vec![ca.cert()])).map_err(e)
}
