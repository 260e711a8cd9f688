//! `plugfest agent`: the reference Agent on its own, as a WebSocket or UDS
//! server or client, as an MQTT or STOMP broker client, or on a legacy CoAP
//! resource, with optional faults.

use std::process::ExitCode;
use std::time::Duration;

use super::loopback::check_faults_apply;
use super::{exit, mqtt_version, parse_faults, EXIT_BAD_INPUT, EXIT_PASSED};
use crate::agent::faults::Fault;
use crate::agent::runtime::{AgentHost, BackoffSource};
use crate::agent::{Agent, AgentConfig};
use crate::cli::{AgentArgs, MtpArg};
use crate::mtp::coap::{CoapConfig, CoapEndpoint};
use crate::mtp::mqtt::{MqttConfig, MqttEndpoint, MqttTls};
use crate::mtp::stomp::{StompClient, StompConfig, MODEL_MTP};
use crate::mtp::tls::{load_certs, load_identity, ClientAuth, ClientTls, ServerTls, ServerTrust};
use crate::mtp::uds::{UdsDialer, UdsListener};
use crate::mtp::websocket::{WsDialer, WsServer};
use crate::mtp::MtpConnector;
use crate::target::{agent_destination, agent_topic, controller_destination, controller_topic};

pub async fn agent(args: AgentArgs) -> ExitCode {
    if args.list_faults {
        for f in Fault::ALL {
            crate::say!("{}", f.name());
        }
        return exit(EXIT_PASSED);
    }
    let faults = match parse_faults(&args.faults) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return exit(EXIT_BAD_INPUT);
        }
    };
    // The binding faults only make sense on the MTP whose rule they break.
    let mtp = if args.mqtt_broker.is_some() {
        MtpArg::Mqtt
    } else if args.uds_listen.is_some() || args.uds_connect.is_some() {
        MtpArg::Uds
    } else if args.coap_listen.is_some() {
        MtpArg::Coap
    } else {
        MtpArg::Ws
    };
    if let Err(e) = check_faults_apply(&faults, mtp, mqtt_version(args.mqtt_version)) {
        return bad_input(e);
    }
    // Without multicast on loopback nothing can be announced there; and
    // mdns-sd is never started then (it would join the mDNS group on the
    // machine's other interfaces before being told to use loopback only).
    if args.advertise && !matches!(crate::discovery::mdns::loopback_multicast(), Ok(true)) {
        return bad_input("--advertise: the loopback interface has no MULTICAST flag (`ip link show lo`); run the Agent in a network namespace with `ip link set lo multicast on`");
    }
    // The advert faults change the DNS-SD advertisement: without one they
    // could not show, and a run that passes because of that would mislead.
    for f in [
        Fault::AdvertisementWithoutName,
        Fault::AdvertWrongInstance,
        Fault::NoAnnouncementAfterReboot,
    ] {
        if faults.contains(f) && !args.advertise {
            return bad_input(format!(
                "the {} fault applies with --listen ADDR --advertise only",
                f.name()
            ));
        }
    }
    if faults.contains(Fault::LocalNameWithoutMdns)
        && !args
            .connect
            .as_deref()
            .and_then(crate::discovery::dhcp::url_host)
            .is_some_and(|h| h.trim_end_matches('.').ends_with(".local"))
    {
        return bad_input("the local-name-without-mdns fault applies with --connect ws://NAME.local:PORT/PATH only");
    }
    for f in [
        Fault::DhcpNoVendorClass,
        Fault::DhcpIgnoresProvisioningCode,
        Fault::DhcpIgnoresControllerUrl,
    ] {
        if faults.contains(f) && args.dhcp.is_none() {
            return bad_input(format!(
                "the {} fault applies with --dhcp IFACE only",
                f.name()
            ));
        }
    }
    let mut args = args;
    if args.find_controller {
        match find_controller_url(
            &args.controller_id,
            Duration::from_secs_f64(args.find_timeout),
        )
        .await
        {
            Ok(url) => args.connect = Some(url),
            Err(e) => return bad_input(e),
        }
    }
    let text_frames = faults.contains(Fault::TextFrames);
    let faults_close_unanswered = faults.contains(Fault::WsCloseUnanswered);
    // malformed-endpoint-id: the id is malformed everywhere the Agent
    // presents it (handshake, Connect Record, Records).
    let eid = if faults.contains(Fault::MalformedEndpointId) {
        crate::agent::faults::malformed_endpoint_id(&args.endpoint_id)
    } else {
        args.endpoint_id.clone()
    };
    let mut agent = Agent::new(AgentConfig {
        endpoint_id: eid.clone(),
        faults: faults.clone(),
    });
    let own_topic = args
        .agent_topic
        .clone()
        .unwrap_or_else(|| agent_topic(&eid));
    // The Agent knows its Controller's topic from configuration
    // (LocalAgent.Controller.{i}.MTP.{i}.MQTT.Topic) and sends its
    // MQTTConnectRecord there (R-MTP.6).
    let peer_topic = args
        .controller_topic
        .clone()
        .unwrap_or_else(|| controller_topic(&args.controller_id));
    if args.mqtt_broker.is_some() {
        agent.set_mqtt_topics(args.mqtt_client_id.as_deref(), &own_topic, &peer_topic);
    }
    if faults.contains(Fault::E2eNoClockChecksCertificateDates) && !args.without_absolute_time {
        return bad_input(format!(
            "the {} fault needs --without-absolute-time: it is how an Agent booted without absolute time misjudges certificates",
            Fault::E2eNoClockChecksCertificateDates
        ));
    }
    let mut host = AgentHost::new(agent, faults).with_log(true);
    if args.without_absolute_time {
        host = host.without_absolute_time();
    }
    // R-WS.19-21: the default SessionRetryMinimumWaitInterval is 5 s; the
    // `retries-too-early` fault dials again at once.
    let retry = if host.faults().contains(Fault::RetriesTooEarly) {
        Duration::ZERO
    } else {
        Duration::from_secs(5)
    };
    let controller = Some(args.controller_id.clone());
    let wants_tls = args.tls_ca.is_some() || args.tls_cert.is_some();
    if wants_tls
        && args.listen.is_none()
        && args.connect.is_none()
        && args.mqtt_broker.is_none()
        && args.stomp_broker.is_none()
    {
        eprintln!("--tls-ca/--tls-cert/--tls-key apply to the WebSocket MTP (--listen, --connect wss://), --mqtt-broker and --stomp-broker only");
        return exit(EXIT_BAD_INPUT);
    }
    if let Some(broker) = args.stomp_broker.clone() {
        let mut config = StompConfig::new(&broker, &eid);
        config.own_destination = Some(
            args.agent_destination
                .clone()
                .unwrap_or_else(|| agent_destination(&eid)),
        );
        // The Agent knows its Controller's destination from configuration
        // (Controller.{i}.MTP.{i}.STOMP.Destination) and sends its
        // STOMPConnectRecord there (R-MTP.6).
        config.peer_destination = Some(
            args.controller_destination
                .clone()
                .unwrap_or_else(|| controller_destination(&args.controller_id)),
        );
        if let Some(login) = &args.stomp_login {
            config.username = Some(login.clone());
        }
        if let Some(passcode) = &args.stomp_passcode {
            config.password = Some(passcode.clone());
        }
        if wants_tls {
            // STOMP over TLS (R-STOMP.36): the broker's certificate is
            // verified against --tls-ca.
            match client_tls(&args) {
                Ok(tls) => config.tls = Some(tls),
                Err(e) => return bad_input(e),
            }
        }
        // The model holds the destination given here, and the client then
        // follows the model (a Set of it moves the subscription, R-STOMP.29).
        if let Some(d) = &config.own_destination {
            host.put_param(MODEL_MTP, "Destination", d).await;
        }
        config.follow_model = true;
        let send_faults =
            crate::commands::loopback::stomp::agent_client_faults(&mut config, host.faults());
        let client = StompClient::new(config).with_send_faults(send_faults);
        eprintln!("reference Agent {eid} via {}", client.describe());
        let host = host.with_backoff(BackoffSource::Stomp);
        serve_until_interrupted(host.run_dialer(client, controller, retry)).await;
    } else if let Some(broker) = args.mqtt_broker.clone() {
        let mut config =
            MqttConfig::new(&broker, mqtt_version(args.mqtt_version), &eid, &own_topic)
                .with_peer_topic(Some(peer_topic));
        config.client_id = args.mqtt_client_id.clone();
        // Like the loopback Agent: ClientID, KeepAliveTime and the
        // Subscription table come from Device.MQTT.Client.1. at every
        // connect, the retry waits from its ConnectRetry* parameters.
        config.follow_model = true;
        host = host.with_backoff(crate::agent::runtime::BackoffSource::Mqtt);
        if wants_tls {
            match broker_tls(&args) {
                Ok(tls) => config = config.with_tls(Some(tls)),
                Err(e) => return bad_input(e),
            }
        }
        // The client's faults, as in the loopback (R-MQTT.23/24, R-MQTT.27,
        // and those seen only through an interposer).
        crate::commands::loopback::mqtt::agent_client_faults(&mut config, host.faults());
        let endpoint = MqttEndpoint::new(config);
        eprintln!("reference Agent {eid} via {}", endpoint.describe());
        serve_until_interrupted(host.run_dialer(endpoint, controller, retry)).await;
    } else if let Some(addr) = args.listen.clone() {
        let mut server = match WsServer::bind(&addr, None, &eid).await {
            Ok(s) => s.with_text_frames(text_frames),
            Err(e) => return bad_input(e),
        };
        if wants_tls {
            match server_tls(&args) {
                Ok(tls) => server = server.with_tls(tls),
                Err(e) => return bad_input(e),
            }
        }
        eprintln!(
            "reference Agent {eid} listening on {}://{}/",
            if wants_tls { "wss" } else { "ws" },
            server.local_addr()
        );
        // DNS-SD: instance name = Endpoint ID (R-DIS.8), TXT path/name
        // (R-DIS.9/10), `encrypt` when the port speaks TLS (R-DIS.11a).
        let _advertiser = if args.advertise {
            let path = "/";
            // advert-wrong-instance: the friendly name where the Endpoint
            // ID belongs (a DNS-SD habit from other services).
            let instance = if host.faults().contains(Fault::AdvertWrongInstance) {
                args.advertise_name.clone()
            } else {
                eid.clone()
            };
            let advert = crate::discovery::mdns::ServiceAdvert {
                service_type: crate::discovery::WS_AGENT_SERVICE,
                endpoint_id: &instance,
                port: server.local_port(),
                path: Some(path),
                name: (!host.faults().contains(Fault::AdvertisementWithoutName))
                    .then_some(args.advertise_name.as_str()),
                encrypt: wants_tls,
            };
            match crate::discovery::mdns::advertise(&advert) {
                Ok(a) => {
                    eprintln!(
                        "advertised {instance} as {} on loopback",
                        advert.service_type
                    );
                    // Announced again after each reboot (TP-469 8.5).
                    Some(
                        if host.faults().contains(Fault::NoAnnouncementAfterReboot) {
                            std::sync::Arc::new(a)
                        } else {
                            crate::discovery::mdns::follow_reboots(a, host.up_state())
                        },
                    )
                }
                Err(e) => return bad_input(e),
            }
        } else {
            None
        };
        serve_until_interrupted(host.run_listener(server)).await;
    } else if let Some(url) = args.connect.clone().or_else(|| {
        // --dhcp alone: only a lease names the Controller; until one does,
        // a URL nobody answers (the dialer keeps retrying).
        args.dhcp.as_ref().map(|_| NOWHERE.to_string())
    }) {
        if let Some(interface) = &args.dhcp {
            let mac = match crate::discovery::dhcp::interface_mac(interface) {
                Ok(m) => m,
                Err(e) => return bad_input(format!("--dhcp: {e}")),
            };
            use crate::discovery::dhcp::client::{BootDhcp, DhcpVersion, VendorClass};
            let version = if args.dhcpv6 {
                DhcpVersion::V6
            } else {
                DhcpVersion::V4
            };
            let over = if args.dhcpv6 { "DHCPv6" } else { "DHCPv4" };
            eprintln!("reference Agent {eid} asking for a {over} lease on {interface}");
            host = host.with_boot_dhcp(BootDhcp {
                interface: interface.clone(),
                mac,
                class: VendorClass::Usp,
                version,
                patience: Duration::from_secs(10),
            });
        }
        if url != NOWHERE {
            eprintln!("reference Agent {eid} connecting to {url}");
        }
        // A .local. Controller host is resolved with mDNS at every boot
        // (TP-469 8.4), on loopback only.
        let local = crate::discovery::dhcp::url_host(&url)
            .is_some_and(|h| h.trim_end_matches('.').ends_with(".local"));
        if local && args.dhcp.is_none() {
            if !host.faults().contains(Fault::LocalNameWithoutMdns)
                && !matches!(crate::discovery::mdns::loopback_multicast(), Ok(true))
            {
                return bad_input(format!("--connect {url}: a .local. host is resolved with mDNS, on the loopback interface only, which has no MULTICAST flag (`ip link show lo`); run the Agent in a network namespace with `ip link set lo multicast on`"));
            }
            host = host.with_boot_local_url(&url);
        }
        let mut dialer = WsDialer::new(&url, &eid)
            .with_text_frames(text_frames)
            .with_close_unanswered(faults_close_unanswered);
        if wants_tls {
            match client_tls(&args) {
                Ok(tls) => dialer = dialer.with_tls(tls),
                Err(e) => return bad_input(e),
            }
        }
        // After a refused handshake: the SessionRetry* of the Controller's
        // MTP.{i}.WebSocket. (R-WS.19-21); after a dropped session, `retry`.
        let host = host.with_backoff(BackoffSource::WebSocket);
        serve_until_interrupted(host.run_dialer(dialer, controller, retry)).await;
    } else if let Some(path) = args.uds_listen {
        let server = match UdsListener::bind(&path, &eid) {
            Ok(s) => s,
            Err(e) => return bad_input(e),
        };
        eprintln!("reference Agent {eid} listening on UDS {}", path.display());
        serve_until_interrupted(host.run_listener(server)).await;
    } else if let Some(path) = args.uds_connect {
        eprintln!("reference Agent {eid} connecting to UDS {}", path.display());
        let dialer = UdsDialer::new(&path, &eid);
        serve_until_interrupted(host.run_dialer(dialer, controller, retry)).await;
    } else if let Some(addr) = args.coap_listen.clone() {
        let config = super::loopback::with_coap_faults(
            CoapConfig::new(&addr, "/usp", args.coap_controller.clone()),
            host.faults(),
        );
        let endpoint = match CoapEndpoint::bind(config).await {
            Ok(e) => e,
            Err(e) => return bad_input(e),
        };
        eprintln!(
            "reference Agent {eid} on legacy CoAP (obsoleted in USP 1.3): {}",
            endpoint.describe()
        );
        // UDP has no connection to accept: the one "connection" serves the
        // Controller configured or learnt from the first reply-to.
        serve_until_interrupted(host.run_dialer(endpoint, controller, retry)).await;
    } else {
        eprintln!(
            "say where to meet the Controller: --listen ADDR, --connect ws://HOST:PORT/PATH, --mqtt-broker HOST:PORT, --stomp-broker HOST:PORT, --uds-listen PATH, --uds-connect PATH or --coap-listen ADDR"
        );
        return exit(EXIT_BAD_INPUT);
    }
    exit(EXIT_PASSED)
}

/// As a wss server the Agent must require the Controller's certificate
/// (R-MTP.1), so a CA to verify it against is mandatory.
fn server_tls(args: &AgentArgs) -> Result<ServerTls, String> {
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        return Err("a wss server needs --tls-cert and --tls-key".into());
    };
    let Some(ca) = &args.tls_ca else {
        return Err("a wss server needs --tls-ca: R-MTP.1 requires the Agent to verify the Controller's certificate".into());
    };
    let identity = load_identity(cert, key).map_err(|e| e.to_string())?;
    let roots = load_certs(ca).map_err(|e| e.to_string())?;
    ServerTls::new(identity, ClientAuth::Required(roots)).map_err(|e| e.to_string())
}

/// As a wss client: the CA that signed the Controller's certificate, and
/// the Agent's own certificate when given. As a STOMP client: the CA that
/// signed the broker's certificate.
fn client_tls(args: &AgentArgs) -> Result<ClientTls, String> {
    let Some(ca) = &args.tls_ca else {
        return Err(
            "a wss:// --connect needs --tls-ca to verify the Controller's certificate, STOMP over TLS to verify the broker's"
                .into(),
        );
    };
    let roots = load_certs(ca).map_err(|e| e.to_string())?;
    let identity = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(load_identity(cert, key).map_err(|e| e.to_string())?),
        _ => None,
    };
    ClientTls::new(ServerTrust::Roots(roots), identity).map_err(|e| e.to_string())
}

/// As a TLS client of the MQTT broker (R-MQTT.48): the CA that signed the
/// broker's certificate, and the Agent's own certificate when given.
fn broker_tls(args: &AgentArgs) -> Result<MqttTls, String> {
    let Some(ca) = &args.tls_ca else {
        return Err("MQTT over TLS needs --tls-ca to verify the broker's certificate".into());
    };
    let roots = load_certs(ca).map_err(|e| e.to_string())?;
    let identity = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(load_identity(cert, key).map_err(|e| e.to_string())?),
        _ => None,
    };
    let client = ClientTls::new(ServerTrust::Roots(roots), identity).map_err(|e| e.to_string())?;
    Ok(MqttTls { client })
}

/// Where `--dhcp` without `--connect` dials until a lease names the
/// Controller: port 9 (discard) of no address, which refuses at once.
const NOWHERE: &str = "ws://0.0.0.0:9/";

fn bad_input(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("{e}");
    exit(EXIT_BAD_INPUT)
}

async fn serve_until_interrupted(serving: impl std::future::Future<Output = ()>) {
    tokio::select! {
        _ = serving => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// `--find-controller`: the WebSocket URL of the Controller named
/// `controller_id`, from its DNS-SD advertisement on loopback (R-DIS.7).
async fn find_controller_url(controller_id: &str, wait: Duration) -> Result<String, String> {
    use crate::discovery::{controller_url, mdns, WS_CONTROLLER_SERVICE};
    if !matches!(mdns::loopback_multicast(), Ok(true)) {
        return Err("--find-controller: the loopback interface has no MULTICAST flag (`ip link show lo`); run the Agent in a network namespace with `ip link set lo multicast on`".into());
    }
    let id = controller_id.to_string();
    let found = tokio::task::spawn_blocking(move || mdns::find_controller(&id, wait))
        .await
        .map_err(|e| format!("--find-controller: {e}"))?
        .map_err(|e| e.to_string())?;
    let ad = found.ok_or_else(|| {
        format!(
            "--find-controller: no {WS_CONTROLLER_SERVICE} advertisement named {controller_id} within {:.1} s",
            wait.as_secs_f64()
        )
    })?;
    let url = controller_url(&ad).map_err(|p| format!("--find-controller: {p}"))?;
    eprintln!("found Controller {controller_id} at {url} (DNS-SD)");
    Ok(url)
}
