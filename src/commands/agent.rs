//! `plugfest agent`: the reference Agent on its own, as a WebSocket server
//! or client, or as an MQTT broker client, with optional faults.

use std::process::ExitCode;
use std::time::Duration;

use super::{exit, mqtt_version, parse_faults, EXIT_BAD_INPUT, EXIT_PASSED};
use crate::agent::faults::Fault;
use crate::agent::runtime::AgentHost;
use crate::agent::{Agent, AgentConfig};
use crate::cli::AgentArgs;
use crate::mtp::mqtt::{MqttConfig, MqttEndpoint};
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
    if let Some(broker) = args.mqtt_broker.clone() {
        let own = args
            .agent_topic
            .clone()
            .unwrap_or_else(|| agent_topic(&args.endpoint_id));
        // The Agent knows its Controller's topic from configuration
        // (LocalAgent.Controller.{i}.MTP.{i}.MQTT.Topic) and sends its
        // MQTTConnectRecord there (R-MTP.6).
        let peer = args
            .controller_topic
            .clone()
            .unwrap_or_else(|| controller_topic(&args.controller_id));
        let mut config = MqttConfig::new(
            &broker,
            mqtt_version(args.mqtt_version),
            &args.endpoint_id,
            &own,
        )
        .with_peer_topic(Some(peer));
        config.client_id = args.mqtt_client_id.clone();
        let endpoint = MqttEndpoint::new(config);
        eprintln!(
            "reference Agent {} via {}",
            args.endpoint_id,
            endpoint.describe()
        );
        tokio::select! {
            _ = host.run_dialer(endpoint, Some(args.controller_id), Duration::from_secs(5)) => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        return exit(EXIT_PASSED);
    }
    match (args.listen, args.connect) {
        (Some(addr), _) => {
            let server = match WsServer::bind(&addr, None, &args.endpoint_id).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("{e}");
                    return exit(EXIT_BAD_INPUT);
                }
            };
            eprintln!(
                "reference Agent {} listening on ws://{}/",
                args.endpoint_id,
                server.local_addr()
            );
            tokio::select! {
                _ = host.run_listener(server) => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        (None, Some(url)) => {
            eprintln!("reference Agent {} connecting to {url}", args.endpoint_id);
            tokio::select! {
                _ = host.run_dialer(WsDialer::new(&url, &args.endpoint_id), Some(args.controller_id), Duration::from_secs(5)) => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        (None, None) => {
            eprintln!(
                "say where to meet the Controller: --listen ADDR, --connect ws://HOST:PORT/PATH or --mqtt-broker HOST:PORT"
            );
            return exit(EXIT_BAD_INPUT);
        }
    }
    exit(EXIT_PASSED)
}
