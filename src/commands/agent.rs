//! `plugfest agent`: the reference Agent on its own, as a WebSocket or UDS
//! server or client, as an MQTT broker client, or on a legacy CoAP
//! resource, with optional faults.

use std::process::ExitCode;
use std::time::Duration;

use super::{exit, mqtt_version, parse_faults, EXIT_BAD_INPUT, EXIT_PASSED};
use crate::agent::faults::Fault;
use crate::agent::runtime::AgentHost;
use crate::agent::{Agent, AgentConfig};
use crate::cli::AgentArgs;
use crate::mtp::coap::{CoapConfig, CoapEndpoint};
use crate::mtp::mqtt::{MqttConfig, MqttEndpoint};
use crate::mtp::uds::{UdsDialer, UdsListener};
use crate::mtp::websocket::{WsDialer, WsServer};
use crate::mtp::MtpConnector;
use crate::target::{agent_topic, controller_topic};

pub async fn agent(args: AgentArgs) -> ExitCode {
    if args.list_faults {
        for f in Fault::ALL {
            println!("{}", f.name());
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
    let agent = Agent::new(AgentConfig {
        endpoint_id: args.endpoint_id.clone(),
        faults: faults.clone(),
    });
    let host = AgentHost::new(agent, faults).with_log(true);
    let retry = Duration::from_secs(5);
    let controller = Some(args.controller_id.clone());
    let eid = args.endpoint_id.clone();
    if let Some(broker) = args.mqtt_broker.clone() {
        let own = args
            .agent_topic
            .clone()
            .unwrap_or_else(|| agent_topic(&eid));
        // The Agent knows its Controller's topic from configuration
        // (LocalAgent.Controller.{i}.MTP.{i}.MQTT.Topic) and sends its
        // MQTTConnectRecord there (R-MTP.6).
        let peer = args
            .controller_topic
            .clone()
            .unwrap_or_else(|| controller_topic(&args.controller_id));
        let mut config = MqttConfig::new(&broker, mqtt_version(args.mqtt_version), &eid, &own)
            .with_peer_topic(Some(peer));
        config.client_id = args.mqtt_client_id.clone();
        let endpoint = MqttEndpoint::new(config);
        eprintln!("reference Agent {eid} via {}", endpoint.describe());
        serve_until_interrupted(host.run_dialer(endpoint, controller, retry)).await;
    } else if let Some(addr) = args.listen {
        let server = match WsServer::bind(&addr, None, &eid).await {
            Ok(s) => s,
            Err(e) => return bad_input(e),
        };
        eprintln!(
            "reference Agent {eid} listening on ws://{}/",
            server.local_addr()
        );
        serve_until_interrupted(host.run_listener(server)).await;
    } else if let Some(url) = args.connect {
        eprintln!("reference Agent {eid} connecting to {url}");
        let dialer = WsDialer::new(&url, &eid);
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
        let config = CoapConfig::new(&addr, "/usp", args.coap_controller.clone());
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
            "say where to meet the Controller: --listen ADDR, --connect ws://HOST:PORT/PATH, --mqtt-broker HOST:PORT, --uds-listen PATH, --uds-connect PATH or --coap-listen ADDR"
        );
        return exit(EXIT_BAD_INPUT);
    }
    exit(EXIT_PASSED)
}

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
